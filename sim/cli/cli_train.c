/* cli_train.c - `scalepath train`: one training configuration on one
 * platform, without a trace: memory fit, then one simulated optimizer step
 * (train.h's generator replayed on the engine), with tokens/s, model
 * TFLOP/s per GPU, MFU and where the step's time goes. */
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_sim.h"
#include "cli/cli_train.h"
#include "coll/coll.h"
#include "eng/eng.h"
#include "out/out.h"
#include "util/str.h"

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: scalepath train -p PLATFORM.cfg [-n NODES] -m MODEL.cfg [--tp T] [--pp P] [--cp C] [--ep E]\n"
            "                       [--cp-comm-type all_gather|p2p|a2a] [--vpp V] [--zero 0-3] [--mbs B]\n"
            "                       [--seq S] [--gbs G | --microbatches M]\n"
            "                       [--recompute none|selective|full] [--no-flash]\n"
            "                       [--finetune full|lora|qlora] [--lora-rank R] [--lora-targets L]\n"
            "                       [--lora-dropout P] [--lora-a2a]\n"
            "                       [--precision bf16|fp8|fp4] [--fp8-params] [--no-weight-cache]\n"
            "                       [--grad-fp32] [--adam fp32|bf16|int8|pure-bf16] [--fold auto|on|off]\n"
            "                       [--tp-overlap] [--moe-imbalance F] [--moe-capacity C [--moe-pad]]\n"
            "                       [--loss fused|unfused]\n"
            "                       [--sm-contention on|off] [--algo L] [--proto L] [--collnet]\n"
            "                       [-o OUT.h5] [--timeline OUT.json] [--gemms]\n"
            "\n"
            "  --tp, --pp, --cp  tensor (with sequence parallelism), pipeline and context\n"
            "                    parallel sizes; DP is the GPUs left over          default 1\n"
            "  --cp-comm-type K  context parallelism's attention (Megatron-LM's flag): over\n"
            "                    the gathered keys, or p2p, Transformer Engine's ring: a\n"
            "                    kernel per step on its block plus the merges (where the\n"
            "                    GPU's table measures such blocks), each beside a send/recv\n"
            "                    of the keys and values for the next; or a2a, all-to-alls\n"
            "                    into heads / CP of the whole sequence and back\n"
            "                                                            default all_gather\n"
            "  --vpp V           virtual stages per GPU: interleaved 1F1B        default 1\n"
            "  --ep E            expert parallel (MoE models): experts split over E of the\n"
            "                    data-parallel ranks, tokens exchanged all-to-all  default 1\n"
            "  --zero Z          ZeRO stage over the data-parallel ranks (3 = FSDP)  default 0\n"
            "  --mbs B, --seq S  micro-batch (sequences) and sequence length    default 1, 4096\n"
            "  --gbs G           global batch in sequences: micro-batches = G / (B x DP)\n"
            "  --microbatches M  micro-batches per step and pipeline        default PP\n"
            "  --finetune F      full training, or LoRA / QLoRA adapters on a frozen base\n"
            "  --lora-rank R     the adapters' rank                               default 16\n"
            "  --lora-targets L  the layers with adapters, comma-separated: qkv, proj, fc1,\n"
            "                    fc2 (Megatron-LM's fused layers, one adapter each; in\n"
            "                    experts too), attention (qkv,proj), mlp (fc1,fc2), all;\n"
            "                    or Hugging Face's modules apart, one adapter each: q, k,\n"
            "                    v, o, gate, up, down (or q_proj ...), all-linear\n"
            "                                                                   default all\n"
            "  --lora-dropout P  dropout before each adapter (NeMo's adapter_dropout, PEFT's\n"
            "                    lora_dropout): its mask and dropped copy kept  default 0\n"
            "  --lora-a2a        under TP, the adapters after attention and the FFN return\n"
            "                    their output to the sequence shards by an all-to-all\n"
            "                    (NeMo's a2a_experimental), not an all-gather\n"
            "  --precision P     GEMM precision (attention stays bf16)           default bf16\n"
            "  --fp8-params      FP8: the linear layers' weights stored in FP8, 1 B, and\n"
            "                    gathered so by ZeRO (NeMo's fp8_params, Megatron-LM's\n"
            "                    --fp8-param-gather; full training needs ZeRO 1-3);\n"
            "                    else bf16 with an FP8 copy\n"
            "  --no-weight-cache FP8: quantize the weights on every micro-batch, keeping no\n"
            "                    copy between them (Megatron-LM's\n"
            "                    disable_parameter_transpose_cache)\n"
            "  --grad-fp32       accumulate, keep and reduce gradients in fp32 (4 B per\n"
            "                    trained parameter) instead of bf16\n"
            "  --adam S          Adam's moments in fp32 (12 B per parameter with the master\n"
            "                    weight), bf16 (8 B) or 8-bit (6 B); pure-bf16: bf16 moments\n"
            "                    and no master weight (4 B)                      default fp32\n"
            "  --tp-overlap      pipeline tensor-parallel communication with the GEMMs that\n"
            "                    consume or produce it (Transformer Engine's userbuffers)\n"
            "  --sm-contention S on: while a collective runs, compute loses the SMs its\n"
            "                    CTAs hold (one per NCCL channel); off: compute keeps the\n"
            "                    whole GPU, the overlap's best case            default on\n"
            "  --moe-imbalance F MoE: tokens of the busiest expert-parallel rank over the\n"
            "                    mean, 1 to EP; every rank waits for it      default 1\n"
            "  --moe-capacity C  MoE: the experts' capacity factor (Megatron-LM's): each\n"
            "                    rank sends an expert at most ceil(tokens x top_k /\n"
            "                    experts x C) tokens and drops the rest   default dropless\n"
            "  --moe-pad         MoE: pad every expert's input to its capacity\n"
            "  --loss L          fused (Megatron-LM's vocab-parallel cross-entropy) or\n"
            "                    unfused (PyTorch's F.cross_entropy on an fp32 copy of the\n"
            "                    logits, as Hugging Face models)             default fused\n"
            "  --fold F          simulate one data-parallel replica (and one context-parallel\n"
            "                    rank), their DP and CP collectives timed apart with all\n"
            "                    their members; auto = above 1024 GPUs\n"
            "  --whole-platform  give SimGrid every node of the platform, not only those the\n"
            "                    step uses (the same routes and times, slower: a check)\n"
            "  --algo, --proto   restrict NCCL's choice, as in scalepath nccl\n"
            "  --collnet         as NCCL_COLLNET_ENABLE=1: CollNet (SHARP) where the fabric\n"
            "                    reduces in the network\n"
            "  -o FILE           the summary and every operation, as HDF5\n"
            "  --timeline FILE   Perfetto / Chrome-trace JSON: a track per rank and stream\n"
            "  --gemms           list the GEMMs of a layer and the head, with the efficiency\n"
            "                    and time each is given, instead of simulating: the shapes\n"
            "                    to measure for efficiency.gemm_shapes\n"
            "\n"
            "Memory per GPU is checked first (as scalepath memory); the step is simulated\n"
            "either way, and a layout that does not fit is reported so.\n");
}

int cli_train_layout_opt(cli_train_args *a, int c, const char *val, diag_list *diag)
{
    static const char *const recompute[] = {"none", "selective", "full"};
    static const char *const tune[] = {"full", "lora", "qlora"};
    static const char *const fold[] = {"auto", "on", "off"};
    static const char *const onoff[] = {"off", "on"};
    model_layout *l = &a->cfg.l;
    int v = 0;

    switch (c) {
    case 'T':
        return cli_parse_int(&l->tp, "--tp", val, 1, 1 << 16, diag);
    case 'P':
        return cli_parse_int(&l->pp, "--pp", val, 1, 1 << 16, diag);
    case 'C':
        return cli_parse_int(&l->cp, "--cp", val, 1, 1 << 16, diag);
    case 'V':
        return cli_parse_int(&l->vpp, "--vpp", val, 1, 1024, diag);
    case 'E':
        return cli_parse_int(&l->ep, "--ep", val, 1, 1 << 16, diag);
    case 'Z':
        return cli_parse_int(&l->zero, "--zero", val, 0, 3, diag);
    case 'B':
        return cli_parse_int(&l->micro_batch, "--mbs", val, 1, 1 << 20, diag);
    case 'S':
        return cli_parse_int(&l->seq_len, "--seq", val, 1, 1 << 24, diag);
    case 'G':
        return cli_parse_int(&a->gbs, "--gbs", val, 1, 1 << 28, diag);
    case 'M':
        return cli_parse_int(&l->microbatches, "--microbatches", val, 1, 1 << 24, diag);
    case 'L':
        return cli_parse_int(&l->lora_rank, "--lora-rank", val, 1, 1 << 16, diag);
    case 304: {
        const char *why = NULL;
        if (model_lora_targets_parse(val, &l->lora_targets, &why) == SP_OK)
            return SP_OK;
        if (why != NULL) {
            diag_error(diag, (sp_loc){0}, "option --lora-targets \"%s\": %s", val, why);
            return SP_EINPUT;
        }
        break;
    }
    case 'F':
        l->flash_attention = false;
        return SP_OK;
    case 305:
        l->fp8_params = true;
        return SP_OK;
    case 307:
        return cli_parse_double(&l->lora_dropout, "--lora-dropout", val, 0.0, 0.99, diag);
    case 306:
        l->no_weight_cache = true;
        return SP_OK;
    case 'g':
        a->cfg.l.grad_fp32 = true;
        return SP_OK;
    case 'W':
        a->cfg.tp_overlap = true;
        return SP_OK;
    case 308:
        a->cfg.lora_a2a = true;
        return SP_OK;
    case 'I':
        return cli_parse_double(&a->cfg.moe_imbalance, "--moe-imbalance", val, 1.0, 1e6, diag);
    case 301:
        return cli_parse_double(&a->cfg.moe_capacity, "--moe-capacity", val, 1e-9, 1e6, diag);
    case 302:
        a->cfg.moe_pad = true;
        return SP_OK;
    case 'R':
        if (cli_pick(val, recompute, 3, &v) < 0)
            break;
        l->recompute = (model_recompute)v;
        return SP_OK;
    case 'U':
        if (cli_pick(val, tune, 3, &v) < 0)
            break;
        l->tune = (model_tune)v;
        return SP_OK;
    case 'a':
        if (model_adam_parse(val, &l->adam) < 0)
            break;
        return SP_OK;
    case 'O':
        if (cli_pick(val, fold, 3, &v) < 0)
            break;
        a->fold = v;
        return SP_OK;
    case 'x':
        if (model_loss_parse(val, &l->unfused_loss) < 0)
            break;
        return SP_OK;
    case 's':
        if (cli_pick(val, onoff, 2, &v) < 0)
            break;
        a->cfg.sms_free = v == 0;
        return SP_OK;
    case 309:
        if (train_cp_comm_parse(val, &a->cfg.cp_comm) < 0)
            break;
        return SP_OK;
    case 'Q': {
        int k = 0;
        while (k < PLAT_NPREC && strcmp(plat_prec_name((plat_prec)k), val) != 0)
            k++;
        if (k == PLAT_NPREC)
            break;
        a->cfg.prec = (plat_prec)k;
        return SP_OK;
    }
    default:
        return 1; /* not a layout option */
    }
    {
        static const char *const what[] = {"--recompute: expected none, selective or full",
                                           "--finetune: expected full, lora or qlora",
                                           "--fold: expected auto, on or off", "--adam: expected fp32, bf16, int8 or pure-bf16",
                                           "--precision: expected a precision such as bf16, fp8 or fp4",
                                           "--loss: expected fused or unfused",
                                           "--sm-contention: expected on or off",
                                           "--lora-targets: expected a comma-separated list of qkv, proj, fc1, "
                                           "fc2, attention, mlp, all (Megatron-LM's layers) or q, k, v, o, gate, "
                                           "up, down, all-linear (Hugging Face's modules, also as q_proj ...)",
                                           "--cp-comm-type: expected all_gather, p2p or a2a"};
        int w = c == 'R' ? 0 : c == 'U' ? 1 : c == 'O' ? 2 : c == 'a' ? 3 : c == 'x' ? 5 : c == 's' ? 6 : c == 304 ? 7
              : c == 309 ? 8 : 4;
        diag_error(diag, (sp_loc){0}, "option %s, got \"%s\"", what[w], val);
    }
    return SP_EINPUT;
}

int cli_train_lora_check(const model_layout *l, diag_list *diag)
{
    int err = SP_OK;
    if (l->lora_targets != 0 && l->tune == MODEL_TRAIN_FULL) {
        diag_error(diag, (sp_loc){0}, "option --lora-targets applies to --finetune lora or qlora, not to full training");
        err = SP_EINPUT;
    }
    if (l->lora_dropout > 0.0 && l->tune == MODEL_TRAIN_FULL) {
        diag_error(diag, (sp_loc){0}, "option --lora-dropout applies to --finetune lora or qlora, not to full training");
        err = SP_EINPUT;
    }
    return err;
}

void cli_train_defaults(cli_train_args *a)
{
    memset(a, 0, sizeof(*a));
    a->cfg.l = (model_layout){1, 1, 0, 0, 1, 4096, 0, MODEL_RECOMPUTE_NONE, true, MODEL_TRAIN_FULL, 16, 1, 1, 1, MODEL_ADAM_FP32, 0, false, false, 0.0, 0, false, false, 0.0, false};
    a->cfg.prec = PLAT_BF16;
}

int cli_train_microbatches(int gbs, model_layout *l, diag_list *diag)
{
    if (gbs > 0) {
        if (gbs % (l->micro_batch * l->dp) != 0) {
            diag_error(diag, (sp_loc){0}, "global batch %d is not a multiple of micro-batch %d x DP %d", gbs,
                       l->micro_batch, l->dp);
            return SP_EINPUT;
        }
        l->microbatches = gbs / (l->micro_batch * l->dp);
    } else if (l->microbatches == 0) {
        l->microbatches = l->pp;
    }
    return SP_OK;
}

int cli_train_resolve(cli_train_args *a, const plat *p, diag_list *diag)
{
    model_layout *l = &a->cfg.l;
    long long cp = l->cp > 1 ? l->cp : 1, mp = (long long)l->tp * l->pp * cp;

    if (mp > p->nranks || p->nranks % mp != 0) {
        diag_error(diag, (sp_loc){0}, "TP %d x PP %d x CP %lld = %lld does not divide the platform's %d GPUs", l->tp,
                   l->pp, cp, mp, p->nranks);
        return SP_EINPUT;
    }
    l->dp = (int)(p->nranks / mp);
    if (cli_train_microbatches(a->gbs, l, diag) < 0)
        return SP_EINPUT;
    a->cfg.fold = a->fold == 1 || (a->fold == 0 && p->nranks > 1024 && (l->dp > 1 || l->cp > 1));
    return SP_OK;
}

int cli_train_simulate(eng **e, const plat *p, const model *m, const train_config *c, const coll_opts *co,
                       cli_train_result *res, cli_sim *keep, wl **keep_w, diag_list *diag)
{
    wl *w = NULL;
    cli_sim sim = {0};
    uint8_t *nodes = NULL;
    const plat_gpu *gpu = &plat_type_of_rank(p, 0)->gpu;
    int err;

    memset(res, 0, sizeof(*res));
    {
        model_layout l = c->l;
        if ((l.comm_channels = coll_comm_channels(p)) < 0)
            return l.comm_channels;
        l.fp8_inputs = c->prec == PLAT_FP8;
        l.moe_load = train_moe_load(m, c, &res->moe_dropped);
        res->moe_load = l.moe_load;
        if ((err = model_memory_per_gpu(&res->mem, m, &l, diag)) < 0)
            return err;
    }
    res->capacity = gpu->mem_bytes;
    res->fits = res->mem.total <= res->capacity;
    if ((err = train_build(&w, m, p, c, diag)) < 0 || (err = wl_check(w, p->nranks, diag)) < 0 ||
        (err = cli_sim_plan(&sim, p, w, co, diag)) < 0)
        goto done;
    if (*e == NULL) /* SimGrid sees the nodes the step uses */
        err = cli_sim_nodes(&sim, p, &nodes) < 0 ? SP_ENOMEM : eng_new_nodes(e, p, nodes, NULL, diag);
    free(nodes);
    if (err == SP_OK)
        res->simgrid_nodes = eng_node_count(*e);
    if (err < 0 || (err = cli_sim_fold(&sim, *e, w, diag)) < 0 || (err = cli_sim_run(&sim, *e, diag)) < 0)
        goto done;
    res->nops = wl_op_count(w);
    res->step_s = cli_sim_makespan(&sim);
    res->tokens_per_s = train_tokens_per_step(c) / res->step_s;
    res->tflops_per_gpu =
        train_model_flops_per_token(m, c->l.seq_len, c->l.tune, false) * res->tokens_per_s / p->nranks / 1e12;
    res->tflops_per_gpu_causal =
        train_model_flops_per_token(m, c->l.seq_len, c->l.tune, true) * res->tokens_per_s / p->nranks / 1e12;
    res->mfu = res->tflops_per_gpu * 1e12 / gpu->peak_flops[PLAT_BF16];
    /* Per pipeline stage: the first GPU of each stage in the first replica. */
    {
        int stages = c->l.pp < CLI_TRAIN_MAX_STAGES ? c->l.pp : CLI_TRAIN_MAX_STAGES;
        int stride = p->nranks / c->l.pp;
        res->nstages = stages;
        for (int s = 0; s < stages && err == SP_OK; s++) {
            int stage = c->l.pp <= CLI_TRAIN_MAX_STAGES ? s : s * (c->l.pp - 1) / (stages - 1);
            res->stage_rank[s] = stage * stride;
            err = cli_sim_summary(&sim, stage * stride, &res->stage[s]);
            /* A stage that finished before the step ended waited for the others:
             * the pipeline's drain, part of its bubble. */
            res->pp_wait[s] = res->stage[s].exposed_by[CLI_PP] + (res->step_s - res->stage[s].finish);
        }
    }
done:
    if (err == SP_OK && keep != NULL) {
        *keep = sim;
        *keep_w = w;
    } else {
        cli_sim_free(&sim);
        wl_free(w);
    }
    return err;
}

int cli_train_nodes(const plat *p, const model *m, const train_config *c, const coll_opts *co, uint8_t *keep,
                    diag_list *diag)
{
    wl *w = NULL;
    cli_sim sim = {0};
    uint8_t *mine = NULL;
    int err;

    if ((err = train_build(&w, m, p, c, diag)) == SP_OK && (err = wl_check(w, p->nranks, diag)) == SP_OK &&
        (err = cli_sim_plan(&sim, p, w, co, diag)) == SP_OK && (err = cli_sim_nodes(&sim, p, &mine)) == SP_OK)
        for (int k = 0; k < p->nodes; k++)
            keep[k] |= mine[k];
    free(mine);
    cli_sim_free(&sim);
    wl_free(w);
    return err;
}

void cli_train_describe(const cli_train_args *a, char *buf, size_t size)
{
    static const char *const recompute[] = {"no recompute", "selective recompute", "full recompute"};
    static const char *const tune[] = {"full", "LoRA", "QLoRA"};
    const model_layout *l = &a->cfg.l;

    char ep[32] = "", how[96];
    if (l->ep > 1)
        snprintf(ep, sizeof(ep), " (EP %d of it)", l->ep);
    char names[MODEL_LORA_NAME_MAX];
    if (l->tune == MODEL_TRAIN_FULL || l->lora_targets == 0 || l->lora_targets == MODEL_LORA_ALL)
        snprintf(how, sizeof(how), "%s", tune[l->tune]);
    else
        snprintf(how, sizeof(how), "%s on %s", tune[l->tune], model_lora_targets_name(l->lora_targets, names));
    snprintf(buf, size, "TP %d x CP %d x PP %d%s x DP %d%s, ZeRO-%d, micro-batch %d x %d tokens, %d micro-batches, "
             "%s, %s, %s%s%s",
             l->tp, l->cp > 1 ? l->cp : 1, l->pp, l->vpp > 1 ? " (interleaved)" : "", l->dp, ep, l->zero,
             l->micro_batch, l->seq_len, l->microbatches, how, recompute[l->recompute],
             plat_prec_name(a->cfg.prec), l->unfused_loss ? ", unfused loss" : "", a->cfg.fold ? ", folded" : "");
    if (l->fp8_params || l->no_weight_cache) {
        size_t used = strlen(buf);
        if (used < size)
            snprintf(buf + used, size - used, "%s%s", l->fp8_params ? ", FP8 parameters" : "",
                     l->no_weight_cache ? ", no weight cache" : "");
    }
    if (l->lora_dropout > 0.0) {
        size_t used = strlen(buf);
        if (used < size)
            snprintf(buf + used, size - used, ", LoRA dropout %g", l->lora_dropout);
    }
    if (a->cfg.lora_a2a && l->tune != MODEL_TRAIN_FULL && l->tp > 1) {
        size_t used = strlen(buf);
        if (used < size)
            snprintf(buf + used, size - used, ", adapters' output all-to-all");
    }
    if (a->cfg.cp_comm == TRAIN_CP_P2P || a->cfg.cp_comm == TRAIN_CP_A2A) {
        size_t used = strlen(buf);
        if (used < size)
            snprintf(buf + used, size - used, "%s",
                     a->cfg.cp_comm == TRAIN_CP_P2P ? ", CP ring (p2p)" : ", CP all-to-all (a2a)");
    }
    if (l->grad_fp32) {
        size_t used = strlen(buf);
        if (used < size)
            snprintf(buf + used, size - used, ", fp32 gradients");
    }
    if (l->adam != MODEL_ADAM_FP32) {
        static const char *const adam[] = {"fp32", "bf16", "8-bit", "pure bf16 (no master weights)"};
        size_t used = strlen(buf);
        if (used < size)
            snprintf(buf + used, size - used, ", Adam %s", adam[l->adam]);
    }
}

void cli_train_print(const cli_train_result *r, const plat *p)
{
    const double G = 1e9;

    printf("memory per GPU     %8.2f GB of %.0f GB: %s (weights %.2f, gradients %.2f, optimizer %.2f, "
           "activations %.2f, logits %.2f, CUDA context and NCCL buffers %.2f)\n",
           r->mem.total / G, r->capacity / G, r->fits ? "fits" : "does NOT fit", r->mem.weights / G,
           r->mem.gradients / G, r->mem.optimizer / G, r->mem.activations / G, r->mem.logits / G,
           r->mem.framework / G);
    printf("                   (not counted: allocator fragmentation, cuBLAS workspaces, other libraries' kernels, NVLS buffers%s)\n",
           plat_type_of_rank(p, 0)->gpu.unified ? "; unified memory: the OS and CPU-side buffers share it" : "");
    printf("step time          %10.3f ms\n", r->step_s * 1e3);
    printf("tokens/s           %10.0f (%.0f per GPU)\n", r->tokens_per_s, r->tokens_per_s / p->nranks);
    printf("model TFLOP/s/GPU  %10.1f   MFU %.1f%% of the dense bf16 peak (PaLM's count)\n", r->tflops_per_gpu,
           r->mfu * 100.0);
    printf("  causal count     %10.1f   attention's causal half only (Megatron-LM's count)\n",
           r->tflops_per_gpu_causal);
    printf("# where the step goes, per pipeline stage (first GPU of the stage), ms:\n");
    printf("#  stage  rank     compute   exp. tp   exp. cp   exp. ep   exp. dp  pp wait     other\n");
    for (int s = 0; s < r->nstages; s++) {
        const cli_rank_summary *x = &r->stage[s];
        double other = x->finish - x->compute - x->exposed;
        printf("%8d %5d %11.3f %9.3f %9.3f %9.3f %9.3f %9.3f %9.3f\n", s, r->stage_rank[s], x->compute * 1e3,
               x->exposed_by[CLI_TP] * 1e3, x->exposed_by[CLI_CP] * 1e3, x->exposed_by[CLI_EP] * 1e3,
               x->exposed_by[CLI_DP] * 1e3,
               r->pp_wait[s] * 1e3, (other > 0 ? other : 0.0) * 1e3);
    }
}

/* --gemms: the shapes train.h prices, one line each. */
static void print_gemms(const model *m, const plat *p, const cli_train_args *a)
{
    train_gemm g[TRAIN_MAX_GEMMS];
    train_layer_time lt;
    size_t n = train_gemms(m, p, &a->cfg, g, &lt);
    double gemm_fb[2] = {0.0, 0.0};
    const plat_gpu *gpu = &plat_type_of_rank(p, 0)->gpu;
    char layout[320];
    double total = 0.0;

    cli_train_describe(a, layout, sizeof(layout));
    printf("# scalepath %s train --gemms: %s on %s (%s)\n", SP_VERSION, m->name, p->name, gpu->model);
    printf("# layout: %s\n", layout);
    printf("# per layer and micro-batch (head: once per micro-batch); efficiency of the dense peak of the\n"
           "# precision, before wave quantization\n");
    printf("# %-14s %-5s %-4s %8s %8s %8s %6s %10s %10s %10s\n", "gemm", "pass", "prec", "m", "n", "k", "count",
           "efficiency", "TFLOP/s", "time_us");
    for (size_t i = 0; i < n; i++) {
        double flops = 2.0 * g[i].m * g[i].n * g[i].k;
        printf("  %-14s %-5s %-4s %8.0f %8.0f %8.0f %6.0f %10.3f %10.1f %10.2f\n", g[i].name, g[i].pass,
               plat_prec_name(g[i].prec), g[i].m, g[i].n, g[i].k, g[i].count, g[i].eff,
               flops / g[i].seconds / 1e12, g[i].seconds * 1e6);
        total += g[i].count * g[i].seconds;
        if (strcmp(g[i].name, "head") != 0)
            gemm_fb[strcmp(g[i].pass, "fwd") == 0 ? 0 : 1] += g[i].count * g[i].seconds;
    }
    printf("# total %.2f us (a layer's GEMMs, forward and backward, and the head's)\n", total * 1e6);
    if (a->cfg.l.tune != MODEL_TRAIN_FULL)
        printf("# LoRA adapters' backward (\"bwd\") is priced as their forward shapes, twice\n");
    for (int b = 0; b < 2; b++) {
        double all = b ? lt.bwd_s : lt.fwd_s, attn = b ? lt.attention_bwd_s : lt.attention_fwd_s;
        printf("#%s %s %.2f = GEMMs %.2f + attention %.2f + element-wise %.2f",
               b ? "                " : " one layer, us:", b ? "backward" : " forward", all * 1e6, gemm_fb[b] * 1e6,
               attn * 1e6, (all - gemm_fb[b] - attn - lt.dequant_s) * 1e6);
        if (lt.dequant_s > 0.0)
            printf(" + NF4 dequantization %.2f", lt.dequant_s * 1e6);
        printf("\n");
    }
}

int cli_train(int argc, char **argv, diag_list *diag)
{
    static const struct option longs[] = {
        {"platform", required_argument, NULL, 'p'}, {"nodes", required_argument, NULL, 'n'},
        {"model", required_argument, NULL, 'm'},    {"tp", required_argument, NULL, 'T'},
        {"pp", required_argument, NULL, 'P'},       {"cp", required_argument, NULL, 'C'},
        {"vpp", required_argument, NULL, 'V'},      {"zero", required_argument, NULL, 'Z'},
        {"ep", required_argument, NULL, 'E'},       {"adam", required_argument, NULL, 'a'},
        {"mbs", required_argument, NULL, 'B'},      {"seq", required_argument, NULL, 'S'},
        {"gbs", required_argument, NULL, 'G'},      {"microbatches", required_argument, NULL, 'M'},
        {"recompute", required_argument, NULL, 'R'}, {"no-flash", no_argument, NULL, 'F'},
        {"finetune", required_argument, NULL, 'U'}, {"lora-rank", required_argument, NULL, 'L'},
        {"lora-targets", required_argument, NULL, 304},
        {"precision", required_argument, NULL, 'Q'}, {"grad-fp32", no_argument, NULL, 'g'},
        {"fp8-params", no_argument, NULL, 305},    {"no-weight-cache", no_argument, NULL, 306},
        {"lora-dropout", required_argument, NULL, 307}, {"lora-a2a", no_argument, NULL, 308},
        {"cp-comm-type", required_argument, NULL, 309},
        {"fold", required_argument, NULL, 'O'},     {"algo", required_argument, NULL, 'A'},
        {"proto", required_argument, NULL, 'X'},    {"output", required_argument, NULL, 'o'},
        {"collnet", no_argument, NULL, 300},
        {"timeline", required_argument, NULL, 'J'}, {"help", no_argument, NULL, 'h'},
        {"tp-overlap", no_argument, NULL, 'W'},     {"moe-imbalance", required_argument, NULL, 'I'},
        {"gemms", no_argument, NULL, 'K'},          {"loss", required_argument, NULL, 'x'},
        {"sm-contention", required_argument, NULL, 's'},
        {"moe-capacity", required_argument, NULL, 301}, {"moe-pad", no_argument, NULL, 302},
        {"whole-platform", no_argument, NULL, 303},
        {NULL, 0, NULL, 0},
    };
    cli_train_args a;
    coll_opts co = {0, 0, 0};
    const char *ppath = NULL, *mpath = NULL, *output = NULL, *timeline = NULL;
    int nodes = 0, c, err = SP_OK;
    bool gemms = false, whole = false;
    plat *p = NULL;
    model *m = NULL;
    eng *e = NULL;
    cli_sim sim = {0};
    wl *w = NULL;
    cli_train_result res;
    double estimate_s = 0.0;

    cli_train_defaults(&a);
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":p:n:m:o:h", longs, NULL)) != -1) {
        int r;
        switch (c) {
        case 'p':
            ppath = optarg;
            break;
        case 'm':
            mpath = optarg;
            break;
        case 'n':
            if (cli_parse_int(&nodes, "-n", optarg, 1, 1 << 20, diag) < 0)
                err = SP_EINPUT;
            break;
        case 'o':
            output = optarg;
            break;
        case 'J':
            timeline = optarg;
            break;
        case 303:
            whole = true;
            break;
        case 'K':
            gemms = true;
            break;
        case 'A':
        case 'X':
        case 300: /* --collnet */
            if (cli_parse_coll_opt(&co, c == 'A' ? "--algo" : c == 'X' ? "--proto" : "--collnet", optarg, diag) <
                0)
                err = SP_EINPUT;
            break;
        case 'h':
            usage(stdout);
            return SP_OK;
        case ':':
            diag_error(diag, (sp_loc){0}, "option %s needs a value", argv[optind - 1]);
            err = SP_EINPUT;
            break;
        case '?':
            diag_error(diag, (sp_loc){0}, "train: unknown option \"%s\"", argv[optind - 1]);
            err = SP_EINPUT;
            break;
        default:
            if ((r = cli_train_layout_opt(&a, c, optarg, diag)) != SP_OK) {
                if (r > 0)
                    diag_error(diag, (sp_loc){0}, "train: unknown option \"%s\"", argv[optind - 1]);
                err = SP_EINPUT;
            }
        }
    }
    if (optind < argc) {
        diag_error(diag, (sp_loc){0}, "train: unexpected argument \"%s\"", argv[optind]);
        err = SP_EINPUT;
    }
    if (ppath == NULL || mpath == NULL) {
        diag_error(diag, (sp_loc){0}, "train: a platform (-p) and a model (-m) are required");
        err = SP_EINPUT;
    }
    if (cli_train_lora_check(&a.cfg.l, diag) < 0)
        err = SP_EINPUT;
    if (a.cfg.lora_a2a && a.cfg.l.tune == MODEL_TRAIN_FULL) {
        diag_error(diag, (sp_loc){0}, "option --lora-a2a applies to --finetune lora or qlora, not to full training");
        err = SP_EINPUT;
    }
    if (err < 0) {
        usage(stderr);
        return err;
    }
    if ((err = model_load(&m, mpath, diag)) < 0 || (err = plat_load(&p, ppath, diag)) < 0 ||
        (err = plat_set_nodes(p, nodes, diag)) < 0 || (err = cli_train_resolve(&a, p, diag)) < 0 ||
        (err = train_check(m, p, &a.cfg, diag)) < 0)
        goto done;
    if (a.cfg.cp_comm == TRAIN_CP_P2P && !train_attention_blocks_measured(&plat_type_of_rank(p, 0)->gpu))
        diag_warning(diag, (sp_loc){0}, "--cp-comm-type p2p: GPU %s has no measured attention blocks "
                     "(attention_shapes with causal = false): the ring's kernels are priced as all_gather's, "
                     "in even steps",
                     plat_type_of_rank(p, 0)->gpu.model);
    if (gemms) {
        print_gemms(m, p, &a);
        goto done;
    }
    /* The closed form the study's search ranks layouts by, beside the
     * simulated step it stands for; where it has no answer (NCCL's model
     * has no time under an --algo the step's collectives can run), NaN. */
    {
        diag_list *quiet = NULL;
        if (diag_new(&quiet, 0) < 0) {
            err = SP_ENOMEM;
            goto done;
        }
        if ((err = train_estimate(m, p, &a.cfg, &co, &estimate_s, quiet)) == SP_EINPUT)
            estimate_s = NAN;
        diag_free(quiet);
        if (err < 0 && err != SP_EINPUT) {
            diag_error(diag, (sp_loc){0}, "train: the search's estimate failed (%s)",
                       err == SP_ENOMEM ? "out of memory" : "internal error");
            goto done;
        }
        err = SP_OK;
    }
    if ((whole && (err = eng_new(&e, p, NULL, diag)) < 0) ||
        (err = cli_train_simulate(&e, p, m, &a.cfg, &co, &res, &sim, &w, diag)) < 0)
        goto done;
    {
        char what[256], layout[320];
        plat_describe(p, what, sizeof(what));
        cli_train_describe(&a, layout, sizeof(layout));
        printf("# scalepath %s train: %s (%.2fB parameters) on %s: %s\n", SP_VERSION, m->name,
               model_params(m) / 1e9, p->name, what);
        printf("# layout: %s; %.0f tokens per step; %zu operations simulated\n", layout,
               train_tokens_per_step(&a.cfg), res.nops);
        if (eng_node_count(e) < p->nodes)
            printf("# SimGrid's platform: the %d of %d nodes the step uses (the same routes; --whole-platform "
                   "for all)\n", eng_node_count(e), p->nodes);
        if (m->experts > 1) {
            double dropped, load = train_moe_load(m, &a.cfg, &dropped);
            printf("# MoE routing: %s; the busiest expert-parallel rank's experts process %.3f x the balanced "
                   "tokens", a.cfg.moe_capacity > 0.0 ? (a.cfg.moe_pad ? "capacity, padded" : "capacity, dropping")
                                                       : "dropless", load);
            if (a.cfg.moe_capacity > 0.0)
                printf(" (capacity factor %g)", a.cfg.moe_capacity);
            if (dropped > 0.0)
                printf(", dropping %.1f%% of the tokens routed to them", 100.0 * dropped);
            printf("\n");
        }
        cli_train_print(&res, p);
        if (isnan(estimate_s))
            printf("# the study's estimate of this layout: none (NCCL's model times no algorithm allowed)\n");
        else
            printf("# the study's estimate of this layout: %.3f ms (%+.1f%% of the simulated step)\n",
                   estimate_s * 1e3, 100.0 * (estimate_s / res.step_s - 1.0));
    }
    if (timeline != NULL)
        err = cli_sim_write_timeline(&sim, p, timeline, diag);
    if (output != NULL && err == SP_OK) {
        char layout[320];
        out_file *f = NULL;
        cli_train_describe(&a, layout, sizeof(layout));
        {
            const out_attr extra[] = {
                OUT_ATTR_STR("platform_file", p->path),
                OUT_ATTR_STR("platform_name", p->name),
                OUT_ATTR_STR("workload_file", m->path),
                OUT_ATTR_STR("workload_format", "train"),
                OUT_ATTR_STR("model_name", m->name),
                OUT_ATTR_STR("layout", layout),
                OUT_ATTR_F64("estimate", estimate_s, "s"),
            };
            const cli_train_row row = {p->name, p->name, m->name, a.cfg.l.tune == MODEL_TRAIN_FULL ? "full" : "adapters",
                                       p->nodes, p->nranks, &a, &res};
            err = cli_out_open(&f, output, "train", argc, argv, extra, sizeof(extra) / sizeof(extra[0]), diag);
            if (err == SP_OK)
                err = cli_train_write_rows(f, "/train/summary", &row, 1);
            if (err == SP_OK)
                err = cli_sim_write_ops(&sim, f);
            err = cli_out_finish(f, err);
        }
    }
done:
    cli_sim_free(&sim);
    wl_free(w);
    eng_free(e);
    plat_free(p);
    model_free(m);
    return err;
}

int cli_train_write_rows(out_file *f, const char *group, const cli_train_row *rows, size_t n)
{
    enum { NI = 25, NF = 22, NS = 9 };
    static const char *const recompute[] = {"none", "selective", "full"};
    static const char *const tune[] = {"full", "lora", "qlora"};
    int64_t *iv = calloc(NI * (n + 1), sizeof(int64_t));
    double *fv = calloc(NF * (n + 1), sizeof(double));
    const char **sv = calloc(NS * (n + 1), sizeof(char *));
    char(*targets)[MODEL_LORA_NAME_MAX] = calloc(n + 1, sizeof(*targets));
    int err = SP_ENOMEM;

    if (iv != NULL && fv != NULL && sv != NULL && targets != NULL) {
        for (size_t i = 0; i < n; i++) {
            const model_layout *l = &rows[i].a->cfg.l;
            const cli_train_result *r = rows[i].r;
            const cli_rank_summary *s0 = &r->stage[0];
            double other = s0->finish - s0->compute - s0->exposed;
            int64_t ints[NI] = {rows[i].nodes, rows[i].gpus, l->tp, l->cp > 1 ? l->cp : 1, l->pp,
                                l->vpp > 1 ? l->vpp : 1, l->dp, l->zero, l->micro_batch, l->seq_len,
                                l->microbatches, r->fits, rows[i].a->cfg.fold, (int64_t)r->nops,
                                l->ep > 1 ? l->ep : 1, rows[i].a->cfg.tp_overlap, !rows[i].a->cfg.sms_free,
                                rows[i].a->cfg.moe_pad, (int64_t)r->simgrid_nodes,
                                l->tune == MODEL_TRAIN_FULL ? 0 : (l->lora_rank > 0 ? l->lora_rank : 16),
                                l->fp8_params,
                                rows[i].a->cfg.prec == PLAT_FP8 && !l->no_weight_cache && l->tune != MODEL_TRAIN_QLORA,
                                l->tune != MODEL_TRAIN_FULL && rows[i].a->cfg.lora_a2a,
                                rows[i].a->cfg.cp_comm == TRAIN_CP_P2P, rows[i].a->cfg.cp_comm == TRAIN_CP_A2A};
            double flts[NF] = {r->mem.total, r->capacity, r->step_s, r->tokens_per_s, r->tflops_per_gpu * 1e12,
                               r->mfu, s0->compute, s0->exposed_by[CLI_TP], s0->exposed_by[CLI_CP],
                               s0->exposed_by[CLI_DP], r->pp_wait[0], other > 0 ? other : 0.0,
                               r->mem.activations + r->mem.logits,
                               r->mem.weights + r->mem.gradients + r->mem.optimizer, s0->exposed_by[CLI_EP],
                               r->mem.framework,
                               rows[i].a->cfg.moe_imbalance > 1.0 ? rows[i].a->cfg.moe_imbalance : 1.0,
                               r->tflops_per_gpu_causal * 1e12, rows[i].a->cfg.moe_capacity, r->moe_load,
                               r->moe_dropped, l->tune == MODEL_TRAIN_FULL ? 0.0 : l->lora_dropout};
            const char *strs[NS] = {rows[i].label, rows[i].platform, rows[i].model, rows[i].mode,
                                    recompute[l->recompute], plat_prec_name(rows[i].a->cfg.prec),
                                    model_loss_name(l->unfused_loss), model_adam_name(l->adam),
                                    l->tune == MODEL_TRAIN_FULL ? "" : model_lora_targets_name(l->lora_targets, targets[i])};
            (void)tune;
            for (int k = 0; k < NI; k++)
                iv[k * n + i] = ints[k];
            for (int k = 0; k < NF; k++)
                fv[k * n + i] = flts[k];
            for (int k = 0; k < NS; k++)
                sv[k * n + i] = strs[k];
        }
        {
            const out_col cols[] = {
                {"label", OUT_STR, "", "the configuration's name (study rung, or platform)", sv},
                {"platform", OUT_STR, "", "platform id", sv + n},
                {"model", OUT_STR, "", "model name", sv + 2 * n},
                {"mode", OUT_STR, "", "training mode (pretrain, full / LoRA / QLoRA fine-tune)", sv + 3 * n},
                {"recompute", OUT_STR, "", "activation recomputation: none, selective, full", sv + 4 * n},
                {"precision", OUT_STR, "", "GEMM precision", sv + 5 * n},
                {"loss", OUT_STR, "", "cross-entropy: fused (Megatron-LM) or unfused (PyTorch, fp32 logits)",
                 sv + 6 * n},
                {"adam_state", OUT_STR, "", "Adam's state: fp32, bf16, int8 (moments; fp32 master weights) or "
                 "pure-bf16 (bf16 moments, no master)", sv + 7 * n},
                {"lora_targets", OUT_STR, "", "LoRA / QLoRA: the layers with adapters (as --lora-targets); "
                 "empty for full training", sv + 8 * n},
                {"nodes", OUT_I64, "1", "nodes", iv},
                {"gpus", OUT_I64, "1", "GPUs", iv + n},
                {"tp", OUT_I64, "1", "tensor-parallel size (with sequence parallelism)", iv + 2 * n},
                {"cp", OUT_I64, "1", "context-parallel size", iv + 3 * n},
                {"pp", OUT_I64, "1", "pipeline-parallel size", iv + 4 * n},
                {"vpp", OUT_I64, "1", "virtual pipeline stages per GPU (1 = plain 1F1B)", iv + 5 * n},
                {"dp", OUT_I64, "1", "data-parallel size", iv + 6 * n},
                {"zero", OUT_I64, "1", "ZeRO stage", iv + 7 * n},
                {"micro_batch", OUT_I64, "1", "sequences per micro-batch", iv + 8 * n},
                {"seq_len", OUT_I64, "1", "tokens per sequence", iv + 9 * n},
                {"microbatches", OUT_I64, "1", "micro-batches per step and pipeline", iv + 10 * n},
                {"fits", OUT_I64, "1", "1 if the memory per GPU fits its capacity", iv + 11 * n},
                {"folded", OUT_I64, "1", "1 if one data-parallel replica was simulated", iv + 12 * n},
                {"operations", OUT_I64, "1", "operations simulated", iv + 13 * n},
                {"ep", OUT_I64, "1", "expert-parallel size (1 for dense models)", iv + 14 * n},
                {"tp_overlap", OUT_I64, "1", "1 if TP communication was pipelined with its GEMMs", iv + 15 * n},
                {"sm_contention", OUT_I64, "1", "1 if compute lost the SMs of NCCL's CTAs while collectives ran",
                 iv + 16 * n},
                {"moe_pad", OUT_I64, "1", "MoE: 1 if every expert's input was padded to its capacity", iv + 17 * n},
                {"simgrid_nodes", OUT_I64, "1",
                 "nodes SimGrid was given: those the simulation used, where routes stay the same (else all)",
                 iv + 18 * n},
                {"lora_rank", OUT_I64, "1", "LoRA / QLoRA: the adapters' rank; 0 for full training", iv + 19 * n},
                {"fp8_params", OUT_I64, "1", "1 if the linear weights were stored in FP8", iv + 20 * n},
                {"weight_cache", OUT_I64, "1",
                 "1 if FP8 training kept the quantized weights between micro-batches", iv + 21 * n},
                {"lora_a2a", OUT_I64, "1",
                 "LoRA / QLoRA: 1 if --lora-a2a was given (the adapters' TP output back to the sequence shards by "
                 "all-to-all; no effect at TP 1)",
                 iv + 22 * n},
                {"cp_p2p", OUT_I64, "1",
                 "1 if --cp-comm-type p2p was given (context parallelism's attention as Transformer Engine's ring, "
                 "by its steps where the GPU's attention table measures blocks without the mask); 0: all_gather or "
                 "a2a",
                 iv + 23 * n},
                {"cp_a2a", OUT_I64, "1",
                 "1 if --cp-comm-type a2a was given (context parallelism's attention between two all-to-alls, on "
                 "heads / CP of the rank's heads over the whole sequence); 0: all_gather or p2p",
                 iv + 24 * n},
                {"memory_per_gpu", OUT_F64, "B", "memory needed per GPU (busiest stage)", fv},
                {"memory_capacity", OUT_F64, "B", "GPU memory", fv + n},
                {"step_time", OUT_F64, "s", "simulated optimizer step", fv + 2 * n},
                {"tokens_per_s", OUT_F64, "1/s", "tokens trained per second", fv + 3 * n},
                {"model_flops_per_gpu", OUT_F64, "FLOP/s", "model FLOPs per second per GPU (PaLM's MFU convention)",
                 fv + 4 * n},
                {"mfu", OUT_F64, "1", "model FLOPs utilisation of the dense bf16 peak", fv + 5 * n},
                {"compute", OUT_F64, "s", "stage 0, first GPU: compute stream busy", fv + 6 * n},
                {"exposed_tp", OUT_F64, "s", "stage 0: tensor-parallel communication no compute hides", fv + 7 * n},
                {"exposed_cp", OUT_F64, "s", "stage 0: context-parallel communication no compute hides", fv + 8 * n},
                {"exposed_dp", OUT_F64, "s", "stage 0: data-parallel communication no compute hides", fv + 9 * n},
                {"pipeline_wait", OUT_F64, "s", "stage 0: waiting for another stage (the pipeline bubble)",
                 fv + 10 * n},
                {"other", OUT_F64, "s", "stage 0: the rest of the step (idle)", fv + 11 * n},
                {"memory_activations", OUT_F64, "B", "activations and logits per GPU", fv + 12 * n},
                {"memory_states", OUT_F64, "B", "weights, gradients and optimizer states per GPU", fv + 13 * n},
                {"exposed_ep", OUT_F64, "s", "stage 0: expert-parallel all-to-all no compute hides", fv + 14 * n},
                {"memory_framework", OUT_F64, "B", "CUDA context and NCCL buffers per GPU", fv + 15 * n},
                {"moe_imbalance", OUT_F64, "1", "MoE: busiest expert-parallel rank's tokens over the mean", fv + 16 * n},
                {"model_flops_per_gpu_causal", OUT_F64, "FLOP/s",
                 "model FLOPs per second per GPU, attention's causal half only (Megatron-LM's convention)",
                 fv + 17 * n},
                {"moe_capacity_factor", OUT_F64, "1", "MoE: the experts' capacity factor (0 = dropless)", fv + 18 * n},
                {"moe_load", OUT_F64, "1",
                 "MoE: tokens the busiest expert-parallel rank's experts processed over the balanced mean", fv + 19 * n},
                {"moe_dropped", OUT_F64, "1", "MoE: share of the tokens routed to the busiest rank that were dropped",
                 fv + 20 * n},
                {"lora_dropout", OUT_F64, "1", "LoRA / QLoRA: dropout probability before each adapter (0 = none)",
                 fv + 21 * n},
            };
            const out_attr gattrs[] = {OUT_ATTR_STR("contents", "one row per simulated training configuration")};
            err = out_table(f, group, gattrs, 1, cols, sizeof(cols) / sizeof(cols[0]), n);
        }
    }
    free(targets);
    free(iv);
    free(fv);
    free(sv);
    return err;
}
