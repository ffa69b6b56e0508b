/* model.c - transformer shapes, parameter counts, memory per GPU. */
#include "model/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cfg/cfg.h"
#include "util/str.h"

/* clang-format off */
static const cfg_key model_keys[] = {
    {"format_version",  CFG_INT,    true,  1, 1, false, "model format version, 1"},
    {"name",            CFG_STRING, true,  0, 0, false, "model name"},
    {"layers",          CFG_INT,    true,  1, 10000, false, "transformer layers"},
    {"hidden_size",     CFG_INT,    true,  1, 1e6, false, "model dimension"},
    {"heads",           CFG_INT,    true,  1, 10000, false, "attention heads"},
    {"kv_heads",        CFG_INT,    false, 1, 10000, false, "key/value heads (GQA); default: heads"},
    {"head_dim",        CFG_INT,    false, 1, 100000, false, "a head's dimension; default: hidden_size / heads"},
    {"ffn_hidden_size", CFG_INT,    true,  1, 1e7, false, "FFN inner dimension"},
    {"gated_ffn",       CFG_BOOL,   false, 0, 0, false, "SwiGLU-style FFN, three matrices (default true)"},
    {"vocab_size",      CFG_INT,    true,  1, 1e8, false, "vocabulary"},
    {"tied_embeddings", CFG_BOOL,   false, 0, 0, false, "output layer shares the embedding (default false)"},
    {"experts",         CFG_INT,    false, 0, 1e6, false, "mixture of experts: experts per layer (default 0: dense)"},
    {"top_k",           CFG_INT,    false, 1, 1e6, false, "MoE: experts per token"},
    {"moe_ffn_hidden_size", CFG_INT, false, 1, 1e7, false, "MoE: an expert's FFN inner dimension (default ffn_hidden_size)"},
    {"position_embedding", CFG_STRING, false, 0, 0, false, "\"rotary\" (default), \"learned\" (a table of max_position_embeddings) or \"none\""},
    {"max_position_embeddings", CFG_INT, false, 1, 1e8, false, "learned positions: the table's rows, the longest sequence"},
    {"hidden_dropout",  CFG_NUMBER, false, 0, 1, false, "dropout probability after attention and FFN (default 0)"},
    {"attention_dropout", CFG_NUMBER, false, 0, 1, false, "dropout probability on attention probabilities (default 0)"},
    {NULL, 0, 0, 0, 0, 0, NULL},
};
/* clang-format on */

void model_free(model *m)
{
    if (m == NULL)
        return;
    free(m->name);
    free(m->path);
    free(m);
}

int model_load(model **out, const char *path, diag_list *diag)
{
    cfg_file f;
    const config_setting_t *root;
    const char *pos;
    model *m;
    int err;

    *out = NULL;
    if ((err = cfg_open(&f, path, diag)) < 0)
        return err;
    root = config_root_setting(&f.cfg);
    if ((m = calloc(1, sizeof(*m))) == NULL) {
        cfg_close(&f);
        return SP_ENOMEM;
    }
    err = cfg_check(&f, root, model_keys, "model");
    m->layers = (int)cfg_int(root, "layers", 1);
    m->hidden = (int)cfg_int(root, "hidden_size", 1);
    m->heads = (int)cfg_int(root, "heads", 1);
    m->kv_heads = (int)cfg_int(root, "kv_heads", m->heads);
    m->head_dim = (int)cfg_int(root, "head_dim", 0);
    m->ffn = (int)cfg_int(root, "ffn_hidden_size", 1);
    m->gated_ffn = cfg_bool(root, "gated_ffn", true);
    m->vocab = (int)cfg_int(root, "vocab_size", 1);
    m->tied_embeddings = cfg_bool(root, "tied_embeddings", false);
    m->experts = (int)cfg_int(root, "experts", 0);
    m->top_k = (int)cfg_int(root, "top_k", m->experts > 1 ? 2 : 1);
    m->moe_ffn = (int)cfg_int(root, "moe_ffn_hidden_size", m->ffn);
    pos = cfg_string(root, "position_embedding", "rotary");
    m->learned_positions = strcmp(pos, "learned") == 0;
    m->no_positions = strcmp(pos, "none") == 0;
    m->max_positions = (int)cfg_int(root, "max_position_embeddings", 0);
    if (!m->learned_positions && !m->no_positions && strcmp(pos, "rotary") != 0) {
        diag_error(diag, cfg_loc(&f, config_setting_get_member(root, "position_embedding")),
                   "model: position_embedding \"%s\" is not \"rotary\", \"learned\" or \"none\"", pos);
        err = SP_EINPUT;
    } else if (m->learned_positions != (m->max_positions > 0)) {
        diag_error(diag, cfg_loc(&f, config_setting_get_member(root, m->learned_positions ? "position_embedding"
                                                                                           : "max_position_embeddings")),
                   "model: max_position_embeddings goes with position_embedding = \"learned\", and only with it");
        err = SP_EINPUT;
    }
    m->hidden_dropout = cfg_number(root, "hidden_dropout", 0.0);
    m->attention_dropout = cfg_number(root, "attention_dropout", 0.0);
    if (m->experts == 1)
        m->experts = 0;
    m->src = (sp_loc){NULL, 1};
    if (err == SP_OK && ((m->head_dim == 0 && m->hidden % m->heads != 0) || m->heads % m->kv_heads != 0)) {
        diag_error(diag, cfg_loc(&f, config_setting_get_member(root, "heads")),
                   "model: hidden_size %d must divide into heads %d (or give head_dim), and heads into "
                   "kv_heads %d",
                   m->hidden, m->heads, m->kv_heads);
        err = SP_EINPUT;
    }
    if (m->head_dim == 0)
        m->head_dim = m->hidden / (m->heads > 0 ? m->heads : 1);
    if (err == SP_OK && m->experts > 1 && m->top_k > m->experts) {
        diag_error(diag, cfg_loc(&f, config_setting_get_member(root, "top_k")),
                   "model: top_k %d exceeds the %d experts", m->top_k, m->experts);
        err = SP_EINPUT;
    }
    for (int i = 0; i < 2; i++) {
        const char *key = i ? "attention_dropout" : "hidden_dropout";
        if ((i ? m->attention_dropout : m->hidden_dropout) == 1.0) { /* above 1: cfg_check */
            diag_error(diag, cfg_loc(&f, config_setting_get_member(root, key)),
                       "model: %s is a probability below 1 (1 would drop everything)", key);
            err = SP_EINPUT;
        }
    }
    if ((m->name = str_dup(cfg_string(root, "name", ""))) == NULL || (m->path = str_dup(path)) == NULL)
        err = SP_ENOMEM;
    cfg_close(&f);
    if (err < 0) {
        model_free(m);
        return err;
    }
    *out = m;
    return SP_OK;
}

double model_q_dim(const model *m)
{
    return (double)m->heads * m->head_dim;
}

double model_kv_dim(const model *m)
{
    return (double)m->kv_heads * m->head_dim;
}

bool model_tp_splits(const model *m, int tp)
{
    return tp > 0 && m->heads % tp == 0 && m->kv_heads % tp == 0;
}

double model_layer_expert_params(const model *m)
{
    return m->experts > 1 ? m->experts * (m->gated_ffn ? 3.0 : 2.0) * m->hidden * (double)m->moe_ffn : 0.0;
}

double model_layer_params(const model *m)
{
    double h = m->hidden, f = m->ffn;
    double attn = 2.0 * h * model_q_dim(m) + 2.0 * h * model_kv_dim(m); /* q, o; k, v */
    double ffn = (m->gated_ffn ? 3.0 : 2.0) * h * f;   /* up (and gate), down */
    if (m->experts > 1)                                /* every expert, and the router */
        ffn = model_layer_expert_params(m) + h * m->experts;
    return attn + ffn + 2.0 * h;                        /* two norms */
}

double model_layer_linear_expert_params(const model *m, const model_layout *l)
{
    return m->experts > 1 ? model_layer_expert_params(m) / (l->ep > 1 ? l->ep : 1) : 0.0;
}

double model_layer_linear_params(const model *m, const model_layout *l)
{
    double h = m->hidden;
    double dense = 2.0 * h * model_q_dim(m) + 2.0 * h * model_kv_dim(m); /* q, o; k, v */
    if (m->experts <= 1)
        dense += (m->gated_ffn ? 3.0 : 2.0) * h * m->ffn;
    return dense / l->tp + model_layer_linear_expert_params(m, l);
}

double model_active_params(const model *m)
{
    double all = model_params(m);
    if (m->experts <= 1)
        return all;
    return all - m->layers * model_layer_expert_params(m) * (1.0 - (double)m->top_k / m->experts);
}

double model_position_params(const model *m)
{
    return m->learned_positions ? (double)m->max_positions * m->hidden : 0.0;
}

double model_params(const model *m)
{
    double embed = (double)m->vocab * m->hidden;
    return m->layers * model_layer_params(m) + embed * (m->tied_embeddings ? 1.0 : 2.0) + model_position_params(m) +
           m->hidden;
}

static const struct {
    const char *name;
    unsigned bits;
} lora_names[] = {
    {"all", MODEL_LORA_ALL},
    {"attention", MODEL_LORA_QKV | MODEL_LORA_PROJ},
    {"mlp", MODEL_LORA_FC1 | MODEL_LORA_FC2},
    {"all-linear", MODEL_LORA_ALL_LINEAR},
    {"qkv", MODEL_LORA_QKV},
    {"proj", MODEL_LORA_PROJ},
    {"fc1", MODEL_LORA_FC1},
    {"fc2", MODEL_LORA_FC2},
    {"q", MODEL_LORA_Q},
    {"k", MODEL_LORA_K},
    {"v", MODEL_LORA_V},
    {"o", MODEL_LORA_PROJ},
    {"gate", MODEL_LORA_GATE},
    {"up", MODEL_LORA_UP},
    {"down", MODEL_LORA_FC2},
    {"q_proj", MODEL_LORA_Q},
    {"k_proj", MODEL_LORA_K},
    {"v_proj", MODEL_LORA_V},
    {"o_proj", MODEL_LORA_PROJ},
    {"gate_proj", MODEL_LORA_GATE},
    {"up_proj", MODEL_LORA_UP},
    {"down_proj", MODEL_LORA_FC2},
};

int model_lora_targets_parse(const char *s, unsigned *out, const char **why)
{
    unsigned t = 0;

    if (why != NULL)
        *why = NULL;
    for (;;) {
        size_t n = strcspn(s, ","), k = 0;
        while (k < sizeof(lora_names) / sizeof(*lora_names) &&
               (strlen(lora_names[k].name) != n || strncmp(lora_names[k].name, s, n) != 0))
            k++;
        if (k == sizeof(lora_names) / sizeof(*lora_names))
            return SP_EINPUT;
        t |= lora_names[k].bits;
        if (s[n] == '\0')
            break;
        s += n + 1;
    }
    if (((t & MODEL_LORA_QKV) && (t & (MODEL_LORA_Q | MODEL_LORA_K | MODEL_LORA_V))) ||
        ((t & MODEL_LORA_FC1) && (t & (MODEL_LORA_GATE | MODEL_LORA_UP)))) {
        if (why != NULL)
            *why = t & MODEL_LORA_QKV && t & (MODEL_LORA_Q | MODEL_LORA_K | MODEL_LORA_V)
                       ? "qkv (one adapter on the fused layer) and q, k or v (adapters apart) adapt the same layer"
                       : "fc1 (one adapter on the fused layer) and gate or up (adapters apart) adapt the same layer";
        return SP_EINPUT;
    }
    *out = t;
    return SP_OK;
}

const char *model_lora_targets_name(unsigned t, char buf[MODEL_LORA_NAME_MAX])
{
    static const struct {
        unsigned bits;
        const char *name;
    } parts[] = {
        {MODEL_LORA_QKV | MODEL_LORA_PROJ, "attention"},
        {MODEL_LORA_QKV, "qkv"},
        {MODEL_LORA_Q, "q"},
        {MODEL_LORA_K, "k"},
        {MODEL_LORA_V, "v"},
        {MODEL_LORA_PROJ, "proj"},
        {MODEL_LORA_FC1 | MODEL_LORA_FC2, "mlp"},
        {MODEL_LORA_FC1, "fc1"},
        {MODEL_LORA_GATE, "gate"},
        {MODEL_LORA_UP, "up"},
        {MODEL_LORA_FC2, "fc2"},
    };
    size_t used = 0;

    if (t == 0 || t == MODEL_LORA_ALL)
        return strcpy(buf, "all");
    if (t == MODEL_LORA_ALL_LINEAR)
        return strcpy(buf, "all-linear");
    buf[0] = '\0';
    for (size_t k = 0; k < sizeof(parts) / sizeof(*parts); k++)
        if ((t & parts[k].bits) == parts[k].bits) {
            used += (size_t)snprintf(buf + used, MODEL_LORA_NAME_MAX - used, "%s%s", used ? "," : "", parts[k].name);
            t &= ~parts[k].bits;
        }
    return buf;
}

int model_lora_qkv_adapters(unsigned t)
{
    t = t ? t : MODEL_LORA_ALL;
    return !!(t & MODEL_LORA_QKV) + !!(t & MODEL_LORA_Q) + !!(t & MODEL_LORA_K) + !!(t & MODEL_LORA_V);
}

int model_lora_fc1_adapters(const model *m, unsigned t)
{
    t = t ? t : MODEL_LORA_ALL;
    return !!(t & MODEL_LORA_FC1) + !!((t & MODEL_LORA_GATE) && m->gated_ffn) + !!(t & MODEL_LORA_UP);
}

int model_lora_gate_missing(const model *m, unsigned t)
{
    return (t & MODEL_LORA_GATE) && !(t & MODEL_LORA_IF_PRESENT) && !m->gated_ffn;
}

/* LoRA adapters of rank r on the targets' weight matrices of a layer: r x (in + out) each. */
double model_lora_layer_params(const model *m, int r, unsigned targets)
{
    double h = m->hidden, f = m->experts > 1 ? m->moe_ffn : m->ffn, kv = model_kv_dim(m), q = model_q_dim(m);
    double copies = m->experts > 1 ? m->experts : 1.0, sum = 0.0;

    if (targets == 0)
        targets = MODEL_LORA_ALL;
    if (targets & MODEL_LORA_QKV) /* one adapter on the fused projection */
        sum += h + q + 2.0 * kv;
    if (targets & MODEL_LORA_Q)
        sum += h + q;
    if (targets & MODEL_LORA_K)
        sum += h + kv;
    if (targets & MODEL_LORA_V)
        sum += h + kv;
    if (targets & MODEL_LORA_PROJ)
        sum += q + h;
    if (targets & MODEL_LORA_FC1) /* one adapter on up (and gate) */
        sum += copies * (h + (m->gated_ffn ? 2.0 : 1.0) * f);
    if ((targets & MODEL_LORA_GATE) && m->gated_ffn)
        sum += copies * (h + f);
    if (targets & MODEL_LORA_UP)
        sum += copies * (h + f);
    if (targets & MODEL_LORA_FC2)
        sum += copies * (f + h);
    return r * sum;
}

double model_lora_layer_expert_params(const model *m, int r, unsigned targets)
{
    unsigned ffn = (targets ? targets : MODEL_LORA_ALL) & (MODEL_LORA_FC1 | MODEL_LORA_FC2 | MODEL_LORA_GATE | MODEL_LORA_UP);
    return m->experts > 1 && ffn != 0 ? model_lora_layer_params(m, r, ffn) : 0.0;
}

double model_lora_layer_trained(const model *m, const model_layout *l, double *on_experts)
{
    int r = l->lora_rank > 0 ? l->lora_rank : 16;
    double in_experts = model_lora_layer_expert_params(m, r, l->lora_targets);
    double experts = in_experts / (l->ep > 1 ? l->ep : 1);

    if (on_experts != NULL)
        *on_experts = experts;
    return (model_lora_layer_params(m, r, l->lora_targets) - in_experts) / l->tp + experts;
}

/* Activation bytes of one layer for one micro-batch on one GPU, bf16:
 * Korthikanti et al.'s terms, for GQA (K and V of kv_dim) and gated FFNs,
 * with their dropout masks (1 B per element) only where the model has
 * dropout (Llama-style training has none); with tensor and sequence
 * parallelism everything divides by t. */
static double layer_activations(const model *m, const model_layout *l, bool keep_scores)
{
    double s = l->seq_len, b = l->micro_batch, h = m->hidden, f = m->ffn, a = m->heads, q = model_q_dim(m);
    /* A linear layer's saved input: bf16 (2 B), or with FP8 GEMMs the
     * quantized copy Transformer Engine keeps instead (1 B). The projection
     * after attention reads the attention output, which FlashAttention keeps
     * for its own backward pass (flash_attn_backward takes `out`); unfused
     * attention's backward needs the probabilities and V, not its output.
     * So the projection's input costs 2 B with FlashAttention (3 B under
     * FP8: its FP8 copy beside), else what the projection itself keeps. */
    double in = l->fp8_inputs ? 1.0 : 2.0, fa_out = l->flash_attention ? 2.0 : 0.0;
    double proj = l->fp8_inputs ? fa_out + 1.0 : 2.0;
    /* A frozen linear layer (LoRA, QLoRA) keeps no input of its own:
     * Transformer Engine saves a layer's input only for its weight gradient
     * (backward_needs_input = is_grad_enabled and weight.requires_grad,
     * transformer_engine/pytorch/module/linear.py, layernorm_linear.py).
     * An adapter on it keeps the bf16 input it reads (2 B): on the QKV and
     * first FFN layers the whole sequence, the layer's input gathered from
     * the sequence-parallel shards (NeMo's ParallelLinearAdapter reads the
     * layer-norm output Transformer Engine returns gathered; TP does not
     * divide it, hence x tp), on the projection after attention and the
     * second FFN layer the TP shard. The projection's adapter reads the
     * attention output (FlashAttention keeps it anyway). An expert's
     * adapters read its dispatched copy. */
    double in_qkv = in, in_fc1 = in, in_fc2 = in, in_router = 2.0, in_expert = in;
    if (l->tune != MODEL_TRAIN_FULL) {
        unsigned t = l->lora_targets ? l->lora_targets : MODEL_LORA_ALL;
        /* Dropout before an adapter (NeMo's ParallelLinearAdapter, "pre",
         * on the input it reads: the gathered sequence on QKV and the first
         * FFN layer): its 1-byte mask, and the dropped copy the adapter
         * keeps instead of its input. Only on
         * the projection after attention is that copy new: its input,
         * the attention output, is kept for FlashAttention anyway (2 + 1).
         * Adapters apart on one input (PEFT's q, k, v; gate, up) share it
         * without dropout (one gathered copy under TP, as if gathered once);
         * with it each keeps its own dropped copy and mask. */
        double mask = l->lora_dropout > 0.0 ? 1.0 : 0.0;
        int nq = model_lora_qkv_adapters(t), nf = model_lora_fc1_adapters(m, t);
        in_qkv = nq == 0 ? 0.0 : mask > 0.0 ? nq * (2.0 + mask) * l->tp : 2.0 * l->tp;
        in_fc1 = nf == 0 ? 0.0 : mask > 0.0 ? nf * (2.0 + mask) * l->tp : 2.0 * l->tp;
        in_expert = nf == 0 ? 0.0 : mask > 0.0 ? nf * (2.0 + mask) : 2.0;
        in_fc2 = t & MODEL_LORA_FC2 ? 2.0 + mask : 0.0;
        in_router = 0.0; /* the router is frozen too, and has no adapter */
        proj = t & MODEL_LORA_PROJ ? (mask > 0.0 ? fa_out + 3.0 : 2.0) : fa_out;
    }
    double attn = in_qkv * s * b * h             /* input of the QKV projection */
                  + 2 * s * b * q                /* Q */
                  + 4 * s * b * model_kv_dim(m)  /* K, V */
                  + proj * s * b * q;            /* attention output, input of the projection */
    double scores = keep_scores ? 4 * a * s * s * b : 0.0; /* QK^T and softmax, bf16 */
    /* Dropout masks: the attention probabilities' where the scores are kept
     * (FlashAttention regenerates its mask from the random seed instead),
     * and the two on the hidden state, after attention and after the FFN. */
    double masks = (keep_scores && m->attention_dropout > 0.0 ? a * s * s * b : 0.0) +
                   (m->hidden_dropout > 0.0 ? 2 * s * b * h : 0.0);
    double mlp = in_fc1 * s * b * h                          /* input of the FFN */
                 + (m->gated_ffn ? 2.0 : 1.0) * 2 * s * b * f /* up (and gate) outputs */
                 + in_fc2 * s * b * f;                       /* activation output */
    if (m->experts > 1) /* the router's input; per top_k expert its dispatched copy, outputs,
                         * as many as the busiest rank's experts hold */
        mlp = in_router * s * b * h +
              m->top_k * (l->moe_load > 0.0 ? l->moe_load : 1.0) *
                  ((m->gated_ffn ? 2.0 : 1.0) * 2 * s * b * m->moe_ffn + in_fc2 * s * b * m->moe_ffn +
                   in_expert * s * b * h);
    double norms = 4 * s * b * h;
    return (attn + scores + masks + mlp + norms) / l->tp;
}

double model_adam_bytes(model_adam a)
{
    return a == MODEL_ADAM_INT8 ? 4.0 + 2.0 : a == MODEL_ADAM_BF16 ? 4.0 + 4.0 : a == MODEL_ADAM_PURE_BF16 ? 4.0 : 4.0 + 8.0;
}

static const char *const adam_names[] = {"fp32", "bf16", "int8", "pure-bf16"};

const char *model_adam_name(model_adam a)
{
    return adam_names[a];
}

int model_adam_parse(const char *s, model_adam *out)
{
    for (size_t k = 0; k < sizeof(adam_names) / sizeof(*adam_names); k++)
        if (strcmp(adam_names[k], s) == 0) {
            *out = (model_adam)k;
            return SP_OK;
        }
    return SP_EINPUT;
}

const char *model_loss_name(bool unfused)
{
    return unfused ? "unfused" : "fused";
}

int model_loss_parse(const char *s, bool *unfused)
{
    if (strcmp(s, "fused") != 0 && strcmp(s, "unfused") != 0)
        return SP_EINPUT;
    *unfused = strcmp(s, "unfused") == 0;
    return SP_OK;
}

double model_adam_step_bytes(model_adam a, bool grad_fp32)
{
    return 2.0 * model_adam_bytes(a) + (grad_fp32 ? 4.0 : 2.0) + (a == MODEL_ADAM_PURE_BF16 ? 4.0 : 2.0);
}

int model_vstage_layers(const model *m, int pp, int vpp, int k)
{
    int v = pp * (vpp > 1 ? vpp : 1), base = m->layers / v, extra = m->layers % v;

    if (v <= 2 || extra == 0)
        return base + (k < extra);
    /* The extra layers go to the middle virtual stages first (1 .. v-2). */
    if (k > 0 && k < v - 1)
        return base + (k - 1 < extra);
    return base + (extra > v - 2 && (k == 0 || extra > v - 1));
}

int model_vstage_first(const model *m, int pp, int vpp, int k)
{
    int first = 0;

    for (int i = 0; i < k; i++)
        first += model_vstage_layers(m, pp, vpp, i);
    return first;
}

double model_framework_bytes(const model_layout *l)
{
    int cp = l->cp > 1 ? l->cp : 1, ep = l->ep > 1 ? l->ep : 1;
    int groups[] = {l->tp, l->pp, l->dp * cp, cp, ep, ep > 1 ? l->dp * cp / ep : 1};
    int comms = 0;

    for (size_t i = 0; i < sizeof(groups) / sizeof(*groups); i++)
        comms += groups[i] > 1;
    return MODEL_CUDA_CONTEXT_BYTES +
           (l->comm_channels > 0 ? comms * l->comm_channels * 2.0 * MODEL_NCCL_CONN_BYTES : 0.0);
}

int model_memory_per_gpu(model_memory *out, const model *m, const model_layout *l, diag_list *diag)
{
    int vpp, cp, ep;
    double emb, layer_p, per_layer, kept, logits, base_bytes;
    bool keep_scores;

    memset(out, 0, sizeof(*out));
    if (l->tp < 1 || l->pp < 1 || l->dp < 1 || l->micro_batch < 1 || l->seq_len < 1 || l->zero < 0 ||
        l->zero > 3) {
        diag_error(diag, (sp_loc){m->path, 0}, "a layout needs tp, pp, dp, micro-batch and sequence >= 1 and ZeRO 0..3");
        return SP_EINPUT;
    }
    if (!model_tp_splits(m, l->tp)) {
        diag_error(diag, (sp_loc){m->path, 0}, "tensor parallelism %d does not divide both the %d heads and the %d KV heads",
                   l->tp, m->heads, m->kv_heads);
        return SP_EINPUT;
    }
    if (l->ep > 1 && (m->experts <= 1 || m->experts % l->ep != 0 || l->dp % l->ep != 0)) {
        diag_error(diag, (sp_loc){m->path, 0}, "expert parallelism %d needs a mixture of experts whose %d experts "
                   "and DP %d it divides", l->ep, m->experts, l->dp);
        return SP_EINPUT;
    }
    if (l->pp * (l->vpp > 1 ? l->vpp : 1) > m->layers + 2) {
        diag_error(diag, (sp_loc){m->path, 0}, "pipeline parallelism %d x %d virtual stages exceeds the %d layers "
                   "plus the embedding and the output layer",
                   l->pp, l->vpp > 1 ? l->vpp : 1, m->layers);
        return SP_EINPUT;
    }
    if (m->learned_positions && l->seq_len > m->max_positions) {
        diag_error(diag, (sp_loc){m->path, 0}, "sequence %d is longer than the model's %d learned positions",
                   l->seq_len, m->max_positions);
        return SP_EINPUT;
    }
    if (l->tune != MODEL_TRAIN_FULL && model_lora_gate_missing(m, l->lora_targets)) {
        diag_error(diag, (sp_loc){m->path, 0}, "LoRA target gate: %s has no gated FFN (its first FFN layer is up "
                   "alone)", m->name);
        return SP_EINPUT;
    }
    vpp = l->vpp > 1 ? l->vpp : 1;
    cp = l->cp > 1 ? l->cp : 1;
    ep = l->ep > 1 ? l->ep : 1;
    emb = (double)m->vocab * m->hidden / l->tp;
    /* Experts are split over the expert-parallel ranks, not over TP (Megatron's
     * expert tensor parallelism of 1); the rest of the layer over TP. */
    layer_p = (model_layer_params(m) - model_layer_expert_params(m)) / l->tp + model_layer_expert_params(m) / ep;
    base_bytes = l->tune == MODEL_TRAIN_QLORA ? 4.127 / 8.0 : 2.0;
    keep_scores = !l->flash_attention && l->recompute == MODEL_RECOMPUTE_NONE;
    per_layer = layer_activations(m, l, keep_scores) / cp;
    kept = 2.0 * l->seq_len * l->micro_batch * m->hidden / l->tp / cp; /* a layer's input */
    logits = (l->unfused_loss ? MODEL_LOSS_BYTES_UNFUSED : MODEL_LOSS_BYTES_FUSED) * l->seq_len * l->micro_batch *
             (double)m->vocab / l->tp / cp;
    /* Every pipeline stage, and the busiest one reported: stages differ in
     * layers (uneven splits), embeddings (first, last), logits (last) and
     * the micro-batches they keep in flight. */
    for (int st = 0; st < l->pp; st++) {
        model_memory x;
        int layers = 0;
        double in_flight, experts, shard, tshard, params, trainable, linear, base, saved_w;
        bool fp8w;
        memset(&x, 0, sizeof(x));
        for (int c = 0; c < vpp; c++)
            layers += model_vstage_layers(m, l->pp, vpp, c * l->pp + st);
        params = layers * layer_p + (st == 0 ? emb + model_position_params(m) + m->hidden : 0.0) +
                 (st == l->pp - 1 && !m->tied_embeddings ? emb : 0.0);
        trainable = params;
        /* Weights, gradients, optimizer: mixed-precision Adam, ZeRO over DP
         * (and CP: Megatron shards the optimizer over the data- and
         * context-parallel ranks); an expert's states only over the ranks that
         * hold the same experts, DP x CP / EP of them. The share of experts
         * is the base's for its weights, the adapters' for theirs. */
        experts = layers * model_layer_expert_params(m) / ep / params;
        shard = (1.0 - experts) / (l->dp * cp) + experts * ep / (l->dp * cp);
        tshard = shard;
        if (l->tune != MODEL_TRAIN_FULL) { /* the experts' adapters go with their experts, over EP */
            double on_experts;
            trainable = layers * model_lora_layer_trained(m, l, &on_experts);
            experts = trainable > 0.0 ? layers * on_experts / trainable : 0.0;
            tshard = (1.0 - experts) / (l->dp * cp) + experts * ep / (l->dp * cp);
        }
        x.params = params;
        x.trainable = trainable;
        /* FP8: the linear weights' quantized copies (model_memory_per_gpu's
         * comment). Transformer Engine keeps them between micro-batches
         * when Megatron-LM passes is_first_microbatch (its default): the
         * FP8 weight and its transpose, which Hopper's FP8 GEMMs need for
         * the input gradient (TE 1.x: set_fp8_weights' weight1_fp8 and
         * weight1_t_fp8, "cache the FP8 values and transposed FP8 values
         * in between microbatches"; TE 2.x: get_weight_workspace with
         * column-wise usage). MXFP8 (Blackwell) keeps row- and column-wise
         * copies alike, 1 B each (their E8M0 scales, 1 B per 32, not
         * counted). With fp8_params the weight is the FP8 copy and only
         * the transpose is kept. ZeRO-3 gathers each weight whole, and its
         * copies are of the gathered weight. */
        linear = layers * model_layer_linear_params(m, l);
        fp8w = l->fp8_inputs && l->tune != MODEL_TRAIN_QLORA;
        base = l->tune == MODEL_TRAIN_FULL ? 2.0 * params : base_bytes * params;
        if (fp8w && l->fp8_params)
            base -= (l->tune == MODEL_TRAIN_FULL ? 2.0 : base_bytes) * linear - linear;
        x.weights = base * (l->zero >= 3 ? shard : 1.0) +
                    (l->tune == MODEL_TRAIN_FULL ? 0.0 : 2.0 * trainable * (l->zero >= 3 ? tshard : 1.0)) +
                    (fp8w && !l->no_weight_cache ? (l->fp8_params ? 1.0 : 2.0) * linear : 0.0);
        x.gradients = (l->grad_fp32 ? 4.0 : 2.0) * trainable * (l->zero >= 2 ? tshard : 1.0);
        x.optimizer = model_adam_bytes(l->adam) * trainable * (l->zero >= 1 ? tshard : 1.0);
        /* Activations, in layers x micro-batches: 1F1B keeps min(pp - stage,
         * micro-batches) in flight; the interleaved schedule its warm-up
         * plus one, (pp - stage - 1) * 2 + (vpp - 1) * pp + 1 virtual
         * micro-batches (Megatron-LM's schedules.py), each of its chunk's
         * layers: virtual micro-batch k runs chunk (k mod pp * vpp) / pp. */
        in_flight = l->microbatches > 0 && l->microbatches < l->pp - st ? l->microbatches : l->pp - st;
        in_flight *= layers;
        if (vpp > 1) {
            int chunks = (l->pp - st - 1) * 2 + (vpp - 1) * l->pp + 1,
                total = (l->microbatches > 0 ? l->microbatches : l->pp) * vpp;
            in_flight = 0.0;
            for (int k = 0; k < (chunks < total ? chunks : total); k++)
                in_flight += model_vstage_layers(m, l->pp, vpp, (k % (l->pp * vpp)) / l->pp * l->pp + st);
        }
        /* Quantized anew each micro-batch (no_weight_cache), a layer's FP8
         * weight transpose is saved for its backward pass (TE 1.x Linear:
         * weight_t_fp8 in save_for_backward), 1 B per weight in every
         * layer of every micro-batch in flight. An FP8 parameter is saved
         * as it is, its transpose made in the backward pass. */
        saved_w = fp8w && l->no_weight_cache && !l->fp8_params ? model_layer_linear_params(m, l) : 0.0;
        if (l->recompute == MODEL_RECOMPUTE_FULL) /* only each layer's input is kept, then one layer recomputed */
            x.activations = in_flight * kept + per_layer + saved_w;
        else
            x.activations = in_flight * (per_layer + saved_w);
        x.logits = st == l->pp - 1 ? logits : 0.0;
        x.framework = model_framework_bytes(l);
        x.total = x.weights + x.gradients + x.optimizer + x.activations + x.logits + x.framework;
        if (st == 0 || x.total > out->total)
            *out = x;
    }
    return SP_OK;
}
