/* cli_memory.c - `scalepath memory`: does a training configuration fit, and
 * where does the memory go, per GPU. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_train.h"
#include "coll/coll.h"
#include "model/model.h"
#include "plat/plat.h"
#include "train/train.h"

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: scalepath memory -m MODEL.cfg -p PLATFORM.cfg [-n NODES] [--tp T] [--pp P]\n"
            "                        [--dp D] [--zero 0-3] [--mbs B] [--seq S] [--gbs G | --microbatches M]\n"
            "                        [--recompute none|selective|full] [--no-flash]\n"
            "                        [--finetune full|lora|qlora] [--lora-rank R] [--lora-targets L]\n"
            "                        [--lora-dropout P]\n"
            "                        [--cp C] [--vpp V] [--ep E]\n"
            "                        [--adam fp32|bf16|int8|pure-bf16] [--precision bf16|fp8|fp4]\n"
            "                        [--fp8-params] [--no-weight-cache] [--grad-fp32]\n"
            "                        [--loss fused|unfused] [--moe-imbalance F] [--moe-capacity C [--moe-pad]]\n"
            "\n"
            "Memory per GPU of a training step, by the standard accounting: weights,\n"
            "gradients, optimizer states (mixed-precision Adam, 16 B per trained parameter\n"
            "before ZeRO sharding), activations (Korthikanti et al. 2022), logits. DP\n"
            "defaults to the ranks left after TP x PP. Defaults: tp 1, pp 1, ZeRO 0,\n"
            "micro-batch 1, sequence 4096, FlashAttention, no recompute, full training,\n"
            "bf16 GEMMs. With --precision fp8 each trained linear layer keeps its input for\n"
            "the backward pass in 1 byte per element (Transformer Engine), as train does,\n"
            "and every linear weight its FP8 copy and transpose between micro-batches (2 B);\n"
            "--fp8-params stores those weights in FP8 (1 B) and keeps the transpose alone,\n"
            "--no-weight-cache keeps no copy between micro-batches (see train --help).\n"
            "--gbs G sets the micro-batches as train does, G / (B x DP): with a pipeline they\n"
            "say how many are in flight. --grad-fp32 keeps the gradients in fp32 (4 B per\n"
            "trained parameter, 18 B with Adam's before sharding), as train reduces them.\n"
            "--loss unfused counts the loss as PyTorch's F.cross_entropy on fp32 logits\n"
            "holds it (14 B per logit at its peak, against 6 for Megatron-LM's fused one).\n"
            "For a mixture of experts, --moe-imbalance, --moe-capacity and --moe-pad say\n"
            "how many dispatched tokens the busiest expert-parallel rank holds, as in train.\n"
            "--lora-targets names the layers with adapters (qkv, proj, fc1, fc2, attention,\n"
            "mlp, all: one adapter per Megatron-LM layer; q, k, v, o, gate, up, down,\n"
            "all-linear: one per Hugging Face module; default all); a frozen layer without\n"
            "one keeps no input.\n"
            "--lora-dropout P puts dropout before each adapter: its 1-byte mask is kept\n"
            "and, on the projection after attention, the dropped copy too.\n");
}

int cli_memory(int argc, char **argv, diag_list *diag)
{
    static const struct option longs[] = {
        {"model", required_argument, NULL, 'm'},    {"platform", required_argument, NULL, 'p'},
        {"nodes", required_argument, NULL, 'n'},    {"tp", required_argument, NULL, 'T'},
        {"pp", required_argument, NULL, 'P'},       {"dp", required_argument, NULL, 'D'},
        {"zero", required_argument, NULL, 'Z'},     {"mbs", required_argument, NULL, 'B'},
        {"seq", required_argument, NULL, 'S'},      {"microbatches", required_argument, NULL, 'M'},
        {"gbs", required_argument, NULL, 'G'},      {"grad-fp32", no_argument, NULL, 'g'},
        {"recompute", required_argument, NULL, 'R'}, {"no-flash", no_argument, NULL, 'F'},
        {"finetune", required_argument, NULL, 'U'}, {"lora-rank", required_argument, NULL, 'L'},
        {"lora-targets", required_argument, NULL, 304},
        {"fp8-params", no_argument, NULL, 305},    {"no-weight-cache", no_argument, NULL, 306},
        {"lora-dropout", required_argument, NULL, 307},
        {"ep", required_argument, NULL, 'E'},       {"cp", required_argument, NULL, 'C'},
        {"vpp", required_argument, NULL, 'V'},      {"adam", required_argument, NULL, 'a'},
        {"precision", required_argument, NULL, 'Q'}, {"help", no_argument, NULL, 'h'},
        {"loss", required_argument, NULL, 'x'},     {"moe-imbalance", required_argument, NULL, 'I'},
        {"moe-capacity", required_argument, NULL, 301}, {"moe-pad", no_argument, NULL, 302},
        {NULL, 0, NULL, 0},
    };
    static const char *const recompute[] = {"none", "selective", "full"};
    static const char *const tune[] = {"full", "lora", "qlora"};
    const char *mpath = NULL, *ppath = NULL;
    int nodes = 0, dp = 0, c, err = SP_OK;
    cli_train_args a;
    model_layout l;
    model *m = NULL;
    plat *p = NULL;
    model_memory mem;
    double dropped = 0.0;

    optind = 1;
    opterr = 0;
    cli_train_defaults(&a);
    a.cfg.l.microbatches = 0;
    while ((c = getopt_long(argc, argv, ":m:p:n:h", longs, NULL)) != -1) {
        int r;
        switch (c) {
        case 'm':
            mpath = optarg;
            continue;
        case 'p':
            ppath = optarg;
            continue;
        case 'n':
            if (cli_parse_int(&nodes, "-n", optarg, 1, 1 << 20, diag) < 0)
                err = SP_EINPUT;
            continue;
        case 'D':
            if (cli_parse_int(&dp, "--dp", optarg, 1, 1 << 20, diag) < 0)
                err = SP_EINPUT;
            continue;
        case 'T': case 'P': case 'Z': case 'B': case 'S': case 'M': case 'G': case 'g': case 'L': case 'F': case 'R':
        case 'U':
        case 'E': case 'C': case 'V': case 'a': case 'Q': case 'x': case 'I': case 301: case 302: case 304:
        case 305: case 306: case 307:
            if ((r = cli_train_layout_opt(&a, c, optarg, diag)) != SP_OK)
                err = SP_EINPUT;
            continue;
        case 'h':
            usage(stdout);
            return SP_OK;
        case ':':
            diag_error(diag, (sp_loc){0}, "option %s needs a value", argv[optind - 1]);
            err = SP_EINPUT;
            continue;
        default:
            diag_error(diag, (sp_loc){0}, "memory: unknown option \"%s\"", argv[optind - 1]);
            err = SP_EINPUT;
            continue;
        }
    }
    if (mpath == NULL || ppath == NULL) {
        diag_error(diag, (sp_loc){0}, "memory: a model (-m) and a platform (-p) are required");
        err = SP_EINPUT;
    }
    if (cli_train_lora_check(&a.cfg.l, diag) < 0)
        err = SP_EINPUT;
    if (err < 0) {
        usage(stderr);
        return err;
    }
    if ((err = model_load(&m, mpath, diag)) < 0 || (err = plat_load(&p, ppath, diag)) < 0 ||
        (err = plat_set_nodes(p, nodes, diag)) < 0)
        goto done;
    l = a.cfg.l;
    {
        long long mp = (long long)l.tp * l.pp * (l.cp > 1 ? l.cp : 1);
        l.dp = dp > 0 ? dp : (int)(mp <= p->nranks ? p->nranks / mp : 0);
    }
    if (l.dp < 1 || (long long)l.tp * l.pp * (l.cp > 1 ? l.cp : 1) * l.dp > p->nranks) {
        diag_error(diag, (sp_loc){0}, "memory: tp %d x cp %d x pp %d x dp %d needs more than the platform's %d GPUs",
                   l.tp, l.cp > 1 ? l.cp : 1, l.pp, l.dp < 1 ? 1 : l.dp, p->nranks);
        err = SP_EINPUT;
        goto done;
    }
    if (!(plat_type_of_rank(p, 0)->gpu.peak_flops[a.cfg.prec] > 0.0)) { /* as train_check */
        const plat_gpu *g = &plat_type_of_rank(p, 0)->gpu;
        diag_error(diag, g->src, "GPU %s has no %s peak rate", g->model, plat_prec_name(a.cfg.prec));
        err = SP_EINPUT;
        goto done;
    }
    if ((err = cli_train_microbatches(a.gbs, &l, diag)) < 0) /* as train resolves them */
        goto done;
    if ((l.comm_channels = coll_comm_channels(p)) < 0) {
        err = l.comm_channels;
        goto done;
    }
    l.fp8_inputs = a.cfg.prec == PLAT_FP8; /* as cli_train_simulate */
    {
        train_config tc = a.cfg;
        tc.l = l;
        if ((err = train_check_moe(m, &tc, diag)) < 0 || (err = train_check_fp8(&tc, diag)) < 0 ||
            (err = train_check_cp(m, &tc, diag)) < 0)
            goto done;
        l.moe_load = train_moe_load(m, &tc, &dropped);
    }
    if ((err = model_memory_per_gpu(&mem, m, &l, diag)) < 0)
        goto done;
    {
        const plat_gpu *g = &plat_type_of_rank(p, 0)->gpu;
        double cap = g->mem_bytes, G = 1e9;
        char names[MODEL_LORA_NAME_MAX];
        bool some = l.tune != MODEL_TRAIN_FULL && strcmp(model_lora_targets_name(l.lora_targets, names), "all") != 0;
        printf("# scalepath %s memory: %s (%.2fB parameters) on %s, %s GPU (%.0f GB%s)\n", SP_VERSION,
               m->name, model_params(m) / 1e9, p->name, g->model, cap / G,
               g->unified ? ", unified with the CPU" : "");
        printf("# layout: TP %d x CP %d x PP %d x DP %d, ZeRO-%d, micro-batch %d x %d tokens, %s%s%s, %s%s, %s, %s "
               "GEMMs%s%s%s",
               l.tp, l.cp > 1 ? l.cp : 1, l.pp, l.dp, l.zero, l.micro_batch, l.seq_len, tune[l.tune], some ? " on " : "",
               some ? names : "",
               l.recompute == MODEL_RECOMPUTE_NONE ? "no recompute" : recompute[l.recompute],
               l.recompute == MODEL_RECOMPUTE_NONE ? "" : " recompute",
               l.flash_attention ? "FlashAttention" : "attention scores kept", plat_prec_name(a.cfg.prec),
               l.fp8_params ? ", FP8 parameters" : "", l.no_weight_cache ? ", no weight cache" : "",
               l.grad_fp32 ? ", fp32 gradients" : "");
        if (l.lora_dropout > 0.0)
            printf(", LoRA dropout %g", l.lora_dropout);
        printf("\n");
        if (m->experts > 1) {
            printf("# MoE routing: the busiest expert-parallel rank's experts hold %.3f x the balanced tokens",
                   l.moe_load > 0.0 ? l.moe_load : 1.0);
            if (dropped > 0.0)
                printf(" (%.1f%% of those routed to them dropped)", 100.0 * dropped);
            printf("\n");
        }
        printf("  parameters on this GPU   %10.2f B (%.4g B trained)\n", mem.params / 1e9, mem.trainable / 1e9);
        printf("  weights                  %10.2f GB\n", mem.weights / G);
        printf("  gradients                %10.2f GB\n", mem.gradients / G);
        printf("  optimizer states         %10.2f GB\n", mem.optimizer / G);
        printf("  activations              %10.2f GB\n", mem.activations / G);
        printf("  logits (output layer)    %10.2f GB (%s loss)\n", mem.logits / G, model_loss_name(l.unfused_loss));
        if (l.comm_channels > 0)
            printf("  CUDA context, NCCL       %10.2f GB (NCCL: %d channels per communicator)\n",
                   mem.framework / G, l.comm_channels);
        else
            printf("  CUDA context             %10.2f GB\n", mem.framework / G);
        printf("  total                    %10.2f GB of %.0f GB: %s\n", mem.total / G, cap / G,
               mem.total <= cap ? "fits" : "does NOT fit");
        if (mem.total > cap && g->host_mem_bytes > 0 && mem.total <= cap + g->host_mem_bytes)
            printf("  (fits in GPU plus coherent CPU memory, %.0f GB more at %.0f GB/s)\n",
                   g->host_mem_bytes / G, g->host_mem_bw_Bps / G);
        if (g->unified)
            printf("  (unified memory: the operating system and CPU-side buffers share the %.0f GB)\n", cap / G);
        printf("  (not counted: allocator fragmentation, cuBLAS workspaces, other libraries' kernels, NVLS buffers)\n");
    }
done:
    model_free(m);
    plat_free(p);
    return err;
}
