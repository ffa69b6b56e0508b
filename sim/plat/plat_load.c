/* plat_load.c - platform file -> plat.
 *
 * Each group is checked against its key table (cfg_check) and read only when
 * it is valid; loading keeps going after a bad group so one run reports every
 * problem. Cross-group checks (the node's GPU exists in the catalogue, a node
 * with several GPUs has an intra-node fabric, NICs divide GPUs) run after.
 * The template is expanded for a node count in plat_set_nodes().
 */
#include "plat/plat.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cfg/cfg.h"
#include "plat/plat_int.h"
#include "util/str.h"

#define PLAT_FORMAT_VERSION 1
#define PLAT_MAX_RANKS 1048576

static const char *const prec_names[PLAT_NPREC] = {"fp64", "fp32", "tf32", "fp16",
                                                   "bf16", "fp8",  "fp4"};

const char *plat_prec_name(plat_prec p)
{
    return p < PLAT_NPREC ? prec_names[p] : "?";
}

/* clang-format off */
static const cfg_key root_keys[] = {
    {"format_version", CFG_INT,    true,  1, 1, false, "platform format version, 1"},
    {"name",           CFG_STRING, true,  0, 0, false, "short platform id"},
    {"description",    CFG_STRING, true,  0, 0, false, "one line for listings"},
    {"gpus",           CFG_LIST,   true,  0, 0, false, "GPU catalogue, usually @include \"include/gpus.cfg\""},
    {"node",           CFG_GROUP,  false, 0, 0, false, "the node type (one type; node count from -n)"},
    {"node_types",     CFG_LIST,   false, 0, 0, false, "several node types (heterogeneous; with nodes)"},
    {"nodes",          CFG_LIST,   false, 0, 0, false, "fixed composition: ( { type; count; }, ... )"},
    {"fabric",         CFG_GROUP,  false, 0, 0, false, "how nodes are joined; absent = one node only"},
    {"nccl",           CFG_GROUP,  false, 0, 0, false, "NCCL settings for this platform"},
    {"calibration",    CFG_GROUP,  false, 0, 0, false, "factors fitted to a measured nccl-tests log (scalepath calibrate)"},
    {NULL, 0, 0, 0, 0, 0, NULL},
};
static const cfg_key calib_keys[] = {
    {"latency_us", CFG_NUMBER, true,  0, PLAT_CALIB_LATENCY_US_MAX, false, "added to every collective's time"},
    {"time_scale", CFG_NUMBER, true,  0, PLAT_CALIB_TIME_SCALE_MAX, true, "multiplies every collective's simulated time (transfers and software latency)"},
    {"source",     CFG_STRING, true,  0, 0, false, "the log it was fitted to, and when"},
    {NULL, 0, 0, 0, 0, 0, NULL},
};
static const cfg_key gpu_keys[] = {
    {"model",                      CFG_STRING, true,  0, 0, false, "catalogue name"},
    {"arch",                       CFG_STRING, true,  0, 0, false, "volta, ampere, ada, hopper or blackwell"},
    {"sm",                         CFG_INT,    true,  30, 200, false, "compute capability x 10"},
    {"peak_TFLOPs",                CFG_GROUP,  true,  0, 0, false, "dense peak per precision"},
    {"memory_GB",                  CFG_NUMBER, true,  0, 1e5, true, "GPU memory (or the unified pool), 1e9 bytes"},
    {"memory_bandwidth_GBps",      CFG_NUMBER, true,  0, 1e6, true, "its bandwidth, 1e9 bytes/s"},
    {"host_memory_GB",             CFG_NUMBER, false, 0, 1e6, false, "CPU memory reached coherently (NVLink-C2C)"},
    {"host_memory_bandwidth_GBps", CFG_NUMBER, false, 0, 1e6, false, "its bandwidth as seen from the GPU"},
    {"unified_memory",             CFG_BOOL,   false, 0, 0, false, "one memory shared with the CPU"},
    {"tdp_W",                      CFG_NUMBER, true,  0, 1e5, true, "board power"},
    {"sm_count",                   CFG_INT,    false, 1, 100000, false, "streaming multiprocessors: GEMM tiles run in waves of this many"},
    {"efficiency",                 CFG_GROUP,  false, 0, 0, false, "achieved / peak for training kernels (needed by train and study)"},
    {"host_link",                  CFG_GROUP,  false, 0, 0, false, "the link to the host's memory (PCIe): host-device copies in emulate"},
    {NULL, 0, 0, 0, 0, 0, NULL},
};
static const cfg_key host_link_keys[] = {
    {"type",           CFG_STRING, true,  0, 0, false, "what the link is, e.g. \"PCIe Gen5 x16\""},
    {"bandwidth_GBps", CFG_NUMBER, true,  0, 1e5, true, "per direction, as specified, 1e9 bytes/s"},
    {"efficiency",     CFG_NUMBER, true,  0, 1, true, "achieved / specified by large copies from page-locked memory"},
    {"latency_us",     CFG_NUMBER, false, 0, 1e4, false, "a copy's fixed cost (default 0)"},
    {"pageable_GBps",  CFG_NUMBER, false, 0, 1e5, true, "copies from or to pageable memory, which the CPU stages, 1e9 bytes/s (default: as page-locked)"},
    {NULL, 0, 0, 0, 0, 0, NULL},
};
static const cfg_key eff_keys[] = {
    {"gemm",      CFG_NUMBER, true, 0, 1, true, "large dense GEMM throughput / dense peak"},
    {"gemm_fp8",  CFG_NUMBER, false, 0, 1, true, "the same for FP8 GEMMs / the FP8 peak (default: gemm)"},
    {"attention", CFG_NUMBER, true, 0, 1, true, "fused (flash) attention throughput / dense peak"},
    {"memory",    CFG_NUMBER, true, 0, 1, true, "element-wise kernels' bandwidth / memory bandwidth"},
    {"gemm_shapes", CFG_LIST, false, 0, 0, false, "measured GEMMs, each { m; n; k; precision; TFLOPs }: for a GEMM of that precision, the nearest in log(m, n, k) sets the efficiency instead of gemm / gemm_fp8"},
    {"attention_shapes", CFG_LIST, false, 0, 0, false, "measured causal attention, each { seq; heads; head_dim; fwd_TFLOPs; bwd_TFLOPs }: the nearest in log(seq, heads, head_dim) sets the forward and backward efficiency instead of attention"},
    {NULL, 0, 0, 0, 0, 0, NULL},
};
static const cfg_key attn_keys[] = {
    {"seq",        CFG_INT,    true, 1, 1e9, false, "queries per sequence (with the causal mask also the keys)"},
    {"kv_seq",     CFG_INT,    false, 1, 1e9, false, "keys per sequence (default seq; only without the causal mask may it differ)"},
    {"causal",     CFG_BOOL,   false, 0, 0, false, "causal mask (default true); false: every query over every key, as a ring-attention step's block"},
    {"heads",      CFG_INT,    true, 1, 1e6, false, "query heads x sequences in the call (on one GPU)"},
    {"head_dim",   CFG_INT,    true, 1, 1e5, false, "channels per head"},
    {"fwd_TFLOPs", CFG_NUMBER, true, 0, 1e6, true, "forward, 2 x seq^2 x heads x head_dim (the causal half), or 4 x seq x kv_seq x heads x head_dim without the mask, / time / 1e12; at most the bf16 peak"},
    {"bwd_TFLOPs", CFG_NUMBER, true, 0, 1e6, true, "backward, 2.5 x the forward's FLOPs / time / 1e12; at most the bf16 peak"},
    {NULL, 0, 0, 0, 0, 0, NULL},
};
static const cfg_key shape_keys[] = {
    {"m",         CFG_INT,    true, 1, 1e9, false, "rows of the output (tokens)"},
    {"n",         CFG_INT,    true, 1, 1e9, false, "columns of the output"},
    {"k",         CFG_INT,    true, 1, 1e9, false, "the reduced dimension"},
    {"precision", CFG_STRING, true, 0, 0, false, "fp64 fp32 tf32 fp16 bf16 fp8 fp4: a precision with a peak"},
    {"TFLOPs",    CFG_NUMBER, true, 0, 1e6, true, "measured, 2 m n k / time / 1e12; at most the peak"},
    {NULL, 0, 0, 0, 0, 0, NULL},
};
static const cfg_key peak_keys[] = {
    {"fp64", CFG_NUMBER, false, 0, 1e6, false, "TFLOP/s"},
    {"fp32", CFG_NUMBER, false, 0, 1e6, false, "TFLOP/s"},
    {"tf32", CFG_NUMBER, false, 0, 1e6, false, "TFLOP/s"},
    {"fp16", CFG_NUMBER, false, 0, 1e6, false, "TFLOP/s"},
    {"bf16", CFG_NUMBER, true,  0, 1e6, true,  "TFLOP/s"},
    {"fp8",  CFG_NUMBER, false, 0, 1e6, false, "TFLOP/s"},
    {"fp4",  CFG_NUMBER, false, 0, 1e6, false, "TFLOP/s"},
    {NULL, 0, 0, 0, 0, 0, NULL},
};
static const cfg_key node_keys[] = {
    {"id",                     CFG_STRING, false, 0, 0, false, "short id (required in node_types)"},
    {"name",                   CFG_STRING, true,  0, 0, false, "product name"},
    {"gpu",                    CFG_STRING, true,  0, 0, false, "a model from the GPU catalogue"},
    {"gpus",                   CFG_INT,    true,  1, 1024, false, "GPUs per node"},
    {"price_USD",              CFG_NUMBER, true,  0, 1e9, false, "list price of one node; 0 = not published"},
    {"power_W",                CFG_NUMBER, true,  0, 1e7, false, "node power, maximum; 0 = not published"},
    {"cloud_USD_per_gpu_hour", CFG_NUMBER, false, 0, 1e4, false, "on-demand cloud price, if offered"},
    {"intra",                  CFG_GROUP,  false, 0, 0, false, "intra-node GPU fabric; required with several GPUs"},
    {"nic",                    CFG_GROUP,  false, 0, 0, false, "scale-out NICs; required with a fabric"},
    {NULL, 0, 0, 0, 0, 0, NULL},
};
static const cfg_key intra_keys[] = {
    {"type",                  CFG_STRING, true,  0, 0, false, "nvswitch or pcie"},
    {"bandwidth_GBps",        CFG_NUMBER, true,  0, 1e5, true, "per GPU, per direction, as specified"},
    {"efficiency",            CFG_NUMBER, false, 0, 1, true, "achievable / specified bandwidth"},
    {"latency_us",            CFG_NUMBER, true,  0, 1e3, false, "GPU to GPU, one way"},
    {"nvswitch_gen",          CFG_INT,    false, 1, 9, false, "NVSwitch generation (3+ has NVLink SHARP)"},
    {"p2p",                   CFG_BOOL,   false, 0, 0, false, "pcie: GPU peer-to-peer DMA (default true)"},
    {"bounce_bandwidth_GBps", CFG_NUMBER, false, 0, 1e5, true, "pcie without p2p: host-memory path, shared"},
    {NULL, 0, 0, 0, 0, 0, NULL},
};
static const cfg_key nic_keys[] = {
    {"model",               CFG_STRING, true,  0, 0, false, "NIC product"},
    {"count",               CFG_INT,    true,  1, 1024, false, "NICs per node"},
    {"ports",               CFG_INT,    true,  1, 8, false, "cable ports per NIC"},
    {"rate_Gbps",           CFG_NUMBER, true,  0, 1e5, true, "line rate per port, 1e9 bits/s"},
    {"efficiency",          CFG_NUMBER, false, 0, 1, true, "wire efficiency (packet headers)"},
    {"host_bandwidth_GBps", CFG_NUMBER, true,  0, 1e5, true, "GPU/host side (PCIe) of one NIC, per direction"},
    {"latency_us",          CFG_NUMBER, true,  0, 1e3, false, "NIC processing, one way, per end"},
    {NULL, 0, 0, 0, 0, 0, NULL},
};
static const cfg_key comp_keys[] = {
    {"type",  CFG_STRING, true, 0, 0, false, "an id from node_types"},
    {"count", CFG_INT,    true, 1, 1 << 20, false, "nodes of that type"},
    {NULL, 0, 0, 0, 0, 0, NULL},
};
static const cfg_key fabric_keys[] = {
    {"template",          CFG_STRING, true,  0, 0, false, "direct, ring, switch or fat-tree"},
    {"switch_ports",      CFG_INT,    false, 2, 1e6, false, "switch radix (switch, fat-tree)"},
    {"switch_latency_us", CFG_NUMBER, false, 0, 1e3, false, "port to port, per switch crossed"},
    {"cable_latency_us",  CFG_NUMBER, false, 0, 1e3, false, "per cable, one way"},
    {"port_rate_Gbps",    CFG_NUMBER, false, 0, 1e5, true, "switch port rate (default: the NIC's)"},
    {"closed",            CFG_BOOL,   false, 0, 0, false, "ring: close the ring (default true) or leave a chain"},
    {"tiers",             CFG_INT,    false, 2, 3, false, "fat-tree: 2 (leaf-spine) or 3 (leaf-spine-core)"},
    {"nodes_per_unit",    CFG_INT,    false, 1, 1e5, false, "fat-tree: nodes per scalable unit"},
    {"oversubscription",  CFG_NUMBER, false, 1, 64, false, "fat-tree: leaf down / up bandwidth (default 1)"},
    {"in_network_reduction", CFG_BOOL, false, 0, 0, false,
     "switch, fat-tree: the switches reduce in the network (InfiniBand SHARP), which NCCL's CollNet "
     "uses when enabled (default false)"},
    {NULL, 0, 0, 0, 0, 0, NULL},
};
static const cfg_key nccl_keys[] = {
    {"channels",       CFG_INT,    false, 1, 64, false, "runtime collective channels (as NCCL logs them)"},
    {"graph_channels", CFG_INT,    false, 1, 64, false, "channels of NCCL's ring/tree graph (search result)"},
    {"graph_bw_GBps",  CFG_NUMBER, false, 0, 1e4, true, "per-channel bandwidth of that graph"},
    {"cpu",            CFG_STRING, false, 0, 0, false, "host CPU vendor: intel, amd or arm (default intel); NCCL's model: amd selects the multi-node LL cap row, x86 on Blackwell adds Tree's size correction to NVLS-Tree"},
    {"latency",  CFG_STRING, false, 0, 0, false, "nccl (software latency from NCCL's model) or none"},
    {"launch_us",      CFG_NUMBER, false, 0, 1e4, true, "host time of one kernel launch, measured (NCCL launches one kernel per GPU per collective; `scalepath nccl --gpus-per-thread` needs it)"},
    {NULL, 0, 0, 0, 0, 0, NULL},
};
/* clang-format on */

static const char *type_doc(cfg_type t)
{
    switch (t) {
    case CFG_NUMBER:
        return "number";
    case CFG_INT:
        return "integer";
    case CFG_STRING:
        return "string";
    case CFG_BOOL:
        return "boolean";
    case CFG_GROUP:
        return "group";
    default:
        return "list";
    }
}

void plat_format_doc(FILE *fp)
{
    static const struct {
        const char *group;
        const cfg_key *keys;
    } groups[] = {
        {"(top level)", root_keys},
        {"gpus[i]", gpu_keys},
        {"gpus[i].peak_TFLOPs", peak_keys},
        {"gpus[i].efficiency", eff_keys},
        {"gpus[i].host_link", host_link_keys},
        {"gpus[i].efficiency.gemm_shapes[i]", shape_keys},
        {"gpus[i].efficiency.attention_shapes[i]", attn_keys},
        {"node, node_types[i]", node_keys},
        {"node.intra", intra_keys},
        {"node.nic", nic_keys},
        {"nodes[i]", comp_keys},
        {"fabric", fabric_keys},
        {"nccl", nccl_keys},
        {"calibration", calib_keys},
    };

    for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
        fprintf(fp, "\n#### `%s`\n\n| key | type | required | bounds | meaning |\n"
                    "| --- | --- | --- | --- | --- |\n",
                groups[g].group);
        for (const cfg_key *k = groups[g].keys; k->name != NULL; k++) {
            char bounds[64] = "";
            if ((k->type == CFG_NUMBER || k->type == CFG_INT) && (k->min != 0.0 || k->max != 0.0))
                snprintf(bounds, sizeof(bounds), "%s %g, <= %g", k->min_exclusive ? ">" : ">=",
                         k->min, k->max);
            fprintf(fp, "| `%s` | %s | %s | %s | %s |\n", k->name, type_doc(k->type),
                    k->required ? "yes" : "no", bounds, k->help);
        }
    }
}

static void free_type(plat_node_type *t)
{
    free(t->id);
    free(t->name);
    free(t->gpu.model);
    free(t->gpu.arch);
    free(t->gpu.gemm_shapes);
    free(t->gpu.attn_shapes);
    free(t->nic.model);
}

void plat_free(plat *p)
{
    if (p == NULL)
        return;
    plat__clear_topology(p);
    for (size_t i = 0; i < p->ncatalogue; i++) {
        free(p->catalogue[i].model);
        free(p->catalogue[i].arch);
        free(p->catalogue[i].gemm_shapes);
        free(p->catalogue[i].attn_shapes);
    }
    free(p->catalogue);
    for (size_t i = 0; i < p->ntypes; i++)
        free_type(&p->types[i]);
    free(p->types);
    free(p->comp_type);
    free(p->comp_count);
    for (size_t i = 0; i < p->nfiles; i++)
        free(p->files[i]);
    free(p->files);
    free(p->path);
    free(p->name);
    free(p->description);
    free(p);
}

static int dup_into(char **dst, const char *s)
{
    *dst = str_dup(s);
    return *dst != NULL ? SP_OK : SP_ENOMEM;
}

static int first_error(int a, int b)
{
    if (a == SP_ENOMEM || b == SP_ENOMEM)
        return SP_ENOMEM;
    return a < 0 ? a : b;
}

/* A location that outlives the config_t: the plat keeps its own copy of
 * each file name (there are few: the platform and what it @includes). */
static sp_loc keep(plat *p, sp_loc at)
{
    char **files;

    if (at.file == NULL)
        return at;
    for (size_t i = 0; i < p->nfiles; i++)
        if (strcmp(p->files[i], at.file) == 0)
            return (sp_loc){p->files[i], at.line};
    files = realloc(p->files, (p->nfiles + 1) * sizeof(*files));
    if (files == NULL)
        return (sp_loc){p->path, at.line}; /* degrade: the top file's name */
    p->files = files;
    if ((files[p->nfiles] = str_dup(at.file)) == NULL)
        return (sp_loc){p->path, at.line};
    return (sp_loc){files[p->nfiles++], at.line};
}

static const char *const arch_names[] = {"volta", "ampere", "ada", "hopper", "blackwell", NULL};

static int prec_index(const char *name)
{
    for (int i = 0; i < PLAT_NPREC; i++)
        if (strcmp(prec_names[i], name) == 0)
            return i;
    return -1;
}

/* One entry of a list of measurements (w[i]): a group with these keys. */
static int check_entry(const cfg_file *f, const config_setting_t *e, const cfg_key *keys, const char *w, int i)
{
    if (config_setting_type(e) != CONFIG_TYPE_GROUP) {
        diag_error(f->diag, cfg_loc(f, e), "%s[%d] must be a group { }, got %s", w, i,
                   cfg_type_name(config_setting_type(e)));
        return SP_EINPUT;
    }
    return cfg_check(f, e, keys, w);
}

/* efficiency.gemm_shapes: every entry a group of shape_keys, its precision
 * one the GPU has a peak for, its throughput at most that peak. */
static int check_shapes(const cfg_file *f, const config_setting_t *list, const config_setting_t *peak,
                        const char *what)
{
    char w[128];
    int err = SP_OK, n = list != NULL ? config_setting_length(list) : 0;

    snprintf(w, sizeof(w), "%s: efficiency.gemm_shapes", what);
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(list, (unsigned)i);
        const char *pname;
        int pi, e1;
        if ((e1 = check_entry(f, e, shape_keys, w, i)) < 0) {
            err = e1;
            continue;
        }
        pname = cfg_string(e, "precision", "");
        pi = prec_index(pname);
        if (pi < 0 || !(cfg_number(peak, pname, 0.0) > 0.0)) {
            diag_error(f->diag, cfg_loc(f, config_setting_get_member(e, "precision")),
                       "%s[%d]: precision \"%s\" has no peak_TFLOPs entry", w, i, pname);
            err = SP_EINPUT;
        } else if (cfg_number(e, "TFLOPs", 0.0) > cfg_number(peak, pname, 0.0)) {
            diag_error(f->diag, cfg_loc(f, config_setting_get_member(e, "TFLOPs")),
                       "%s[%d]: %g TFLOP/s measured exceeds the %s peak of %g", w, i,
                       cfg_number(e, "TFLOPs", 0.0), pname, cfg_number(peak, pname, 0.0));
            err = SP_EINPUT;
        }
    }
    return err;
}

/* efficiency.attention_shapes: every entry a group of attn_keys, its
 * throughputs at most the bf16 peak (a required, positive key). */
static int check_attn_shapes(const cfg_file *f, const config_setting_t *list, const config_setting_t *peak,
                             const char *what)
{
    static const char *const rates[] = {"fwd_TFLOPs", "bwd_TFLOPs"};
    char w[128];
    int err = SP_OK, n = list != NULL ? config_setting_length(list) : 0;
    double bf16 = cfg_number(peak, "bf16", 0.0);

    snprintf(w, sizeof(w), "%s: efficiency.attention_shapes", what);
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(list, (unsigned)i);
        int e1;
        if ((e1 = check_entry(f, e, attn_keys, w, i)) < 0) {
            err = e1;
            continue;
        }
        if (cfg_bool(e, "causal", true) && cfg_int(e, "kv_seq", cfg_int(e, "seq", 1)) != cfg_int(e, "seq", 1)) {
            diag_error(f->diag, cfg_loc(f, config_setting_get_member(e, "kv_seq")),
                       "%s[%d]: kv_seq %lld differs from seq %lld in a causal entry (causal self-attention has "
                       "as many keys as queries; set causal = false for a block without the mask)",
                       w, i, cfg_int(e, "kv_seq", 1), cfg_int(e, "seq", 1));
            err = SP_EINPUT;
        }
        for (int r = 0; r < 2; r++) {
            if (cfg_number(e, rates[r], 0.0) > bf16) {
                diag_error(f->diag, cfg_loc(f, config_setting_get_member(e, rates[r])),
                           "%s[%d]: %s %g exceeds the bf16 peak of %g", w, i, rates[r],
                           cfg_number(e, rates[r], 0.0), bf16);
                err = SP_EINPUT;
            }
        }
    }
    return err;
}

/* Read one catalogue entry; it is copied into p->gpu only if the node uses it. */
static int check_gpu(const cfg_file *f, const config_setting_t *g, size_t index)
{
    char what[96];
    const char *model = NULL;
    const config_setting_t *m = config_setting_get_member(g, "model");
    int err;

    if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
        diag_error(f->diag, cfg_loc(f, g), "gpus[%zu] must be a group { }, got %s", index,
                   cfg_type_name(config_setting_type(g)));
        return SP_EINPUT;
    }
    if (m != NULL && config_setting_type(m) == CONFIG_TYPE_STRING)
        model = config_setting_get_string(m);
    if (model != NULL)
        snprintf(what, sizeof(what), "gpu \"%s\"", model);
    else
        snprintf(what, sizeof(what), "gpus[%zu]", index);
    err = cfg_check(f, g, gpu_keys, what);
    /* The groups inside are checked whatever the GPU's own keys say, so that
     * one run reports every problem. */
    {
        const config_setting_t *a = config_setting_get_member(g, "arch");
        const config_setting_t *peak = config_setting_get_member(g, "peak_TFLOPs");
        const config_setting_t *h = config_setting_get_member(g, "host_link");
        const config_setting_t *e = config_setting_get_member(g, "efficiency");
        int peak_ok = peak != NULL && config_setting_type(peak) == CONFIG_TYPE_GROUP;
        if (a != NULL && config_setting_type(a) == CONFIG_TYPE_STRING) {
            const char *arch = config_setting_get_string(a);
            const char *const *n = arch_names;
            while (*n != NULL && strcmp(*n, arch) != 0)
                n++;
            if (*n == NULL) {
                diag_error(f->diag, cfg_loc(f, a),
                           "%s: unknown arch \"%s\" (expected volta, ampere, ada, hopper or blackwell)", what, arch);
                err = first_error(err, SP_EINPUT);
            }
        }
        if (peak_ok) {
            int perr = cfg_check(f, peak, peak_keys, what);
            peak_ok = perr == SP_OK;
            err = first_error(err, perr);
        }
        if (h != NULL && config_setting_type(h) == CONFIG_TYPE_GROUP) {
            char hwhat[112];
            snprintf(hwhat, sizeof(hwhat), "%s.host_link", what);
            if (cfg_check(f, h, host_link_keys, hwhat) != SP_OK) {
                err = first_error(err, SP_EINPUT);
            } else if (cfg_number(h, "pageable_GBps", 0.0) >
                       cfg_number(h, "bandwidth_GBps", 0.0) * cfg_number(h, "efficiency", 0.0)) {
                diag_error(f->diag, cfg_loc(f, config_setting_get_member(h, "pageable_GBps")),
                           "%s: pageable_GBps %g exceeds the page-locked rate, bandwidth_GBps x efficiency = %g: the "
                           "CPU's staging only slows a copy",
                           hwhat, cfg_number(h, "pageable_GBps", 0.0),
                           cfg_number(h, "bandwidth_GBps", 0.0) * cfg_number(h, "efficiency", 0.0));
                err = first_error(err, SP_EINPUT);
            }
            if (cfg_bool(g, "unified_memory", false)) {
                diag_error(f->diag, cfg_loc(f, h),
                           "%s: host_link with unified_memory: the GPU's memory is the host's, so there is no link to "
                           "describe",
                           what);
                err = first_error(err, SP_EINPUT);
            }
        }
        if (e != NULL && config_setting_type(e) == CONFIG_TYPE_GROUP) {
            int eerr = cfg_check(f, e, eff_keys, what);
            err = first_error(err, eerr);
            if (eerr == SP_OK && peak_ok) { /* measured shapes are checked against the peaks */
                err = first_error(err, check_shapes(f, config_setting_get_member(e, "gemm_shapes"), peak, what));
                err = first_error(err, check_attn_shapes(f, config_setting_get_member(e, "attention_shapes"), peak,
                                                         what));
            }
        }
    }
    return err;
}

static int read_gpu(plat *p, plat_gpu *out, const cfg_file *f, const config_setting_t *g)
{
    const config_setting_t *peak = config_setting_get_member(g, "peak_TFLOPs");

    out->sm = (int)cfg_int(g, "sm", 0);
    for (int i = 0; i < PLAT_NPREC; i++)
        out->peak_flops[i] = cfg_number(peak, prec_names[i], 0.0) * 1e12;
    out->mem_bytes = cfg_number(g, "memory_GB", 0.0) * 1e9;
    out->mem_bw_Bps = cfg_number(g, "memory_bandwidth_GBps", 0.0) * 1e9;
    out->host_mem_bytes = cfg_number(g, "host_memory_GB", 0.0) * 1e9;
    out->host_mem_bw_Bps = cfg_number(g, "host_memory_bandwidth_GBps", 0.0) * 1e9;
    out->unified = cfg_bool(g, "unified_memory", false);
    out->tdp_W = cfg_number(g, "tdp_W", 0.0);
    out->sm_count = (int)cfg_int(g, "sm_count", 0);
    {
        const config_setting_t *h = config_setting_get_member(g, "host_link");
        if (h != NULL) {
            out->host_link_Bps = cfg_number(h, "bandwidth_GBps", 0.0) * 1e9 * cfg_number(h, "efficiency", 0.0);
            out->host_link_lat_s = cfg_number(h, "latency_us", 0.0) * 1e-6;
            out->host_link_pageable_Bps = cfg_number(h, "pageable_GBps", out->host_link_Bps / 1e9) * 1e9;
        }
    }
    {
        const config_setting_t *e = config_setting_get_member(g, "efficiency");
        out->eff_gemm = e != NULL ? cfg_number(e, "gemm", 0.0) : 0.0;
        out->eff_gemm_fp8 = e != NULL ? cfg_number(e, "gemm_fp8", out->eff_gemm) : 0.0;
        out->eff_attention = e != NULL ? cfg_number(e, "attention", 0.0) : 0.0;
        out->eff_memory = e != NULL ? cfg_number(e, "memory", 0.0) : 0.0;
        const config_setting_t *list = e != NULL ? config_setting_get_member(e, "gemm_shapes") : NULL;
        int n = list != NULL ? config_setting_length(list) : 0;
        if (n > 0 && (out->gemm_shapes = calloc((size_t)n, sizeof(*out->gemm_shapes))) == NULL)
            return SP_ENOMEM;
        for (int i = 0; i < n; i++) {
            const config_setting_t *x = config_setting_get_elem(list, (unsigned)i);
            int pi = prec_index(cfg_string(x, "precision", ""));
            plat_gemm_shape *sh = &out->gemm_shapes[out->ngemm_shapes];
            if (pi < 0 || !(out->peak_flops[pi] > 0.0)) /* refused by check_shapes already */
                continue;
            sh->prec = (plat_prec)pi;
            sh->m = (double)cfg_int(x, "m", 1);
            sh->n = (double)cfg_int(x, "n", 1);
            sh->k = (double)cfg_int(x, "k", 1);
            sh->eff = cfg_number(x, "TFLOPs", 0.0) * 1e12 / out->peak_flops[pi];
            out->ngemm_shapes++;
        }
        list = e != NULL ? config_setting_get_member(e, "attention_shapes") : NULL;
        n = list != NULL ? config_setting_length(list) : 0;
        if (n > 0 && (out->attn_shapes = calloc((size_t)n, sizeof(*out->attn_shapes))) == NULL)
            return SP_ENOMEM;
        for (int i = 0; i < n; i++) {
            const config_setting_t *x = config_setting_get_elem(list, (unsigned)i);
            plat_attn_shape *sh = &out->attn_shapes[out->nattn_shapes++];
            sh->seq = (double)cfg_int(x, "seq", 1);
            sh->kv_seq = (double)cfg_int(x, "kv_seq", cfg_int(x, "seq", 1));
            sh->causal = cfg_bool(x, "causal", true);
            sh->heads = (double)cfg_int(x, "heads", 1);
            sh->head_dim = (double)cfg_int(x, "head_dim", 1);
            sh->eff_fwd = cfg_number(x, "fwd_TFLOPs", 0.0) * 1e12 / out->peak_flops[PLAT_BF16];
            sh->eff_bwd = cfg_number(x, "bwd_TFLOPs", 0.0) * 1e12 / out->peak_flops[PLAT_BF16];
        }
    }
    out->src = keep(p, cfg_loc(f, g));
    if (dup_into(&out->model, cfg_string(g, "model", "")) < 0 ||
        dup_into(&out->arch, cfg_string(g, "arch", "")) < 0)
        return SP_ENOMEM;
    return SP_OK;
}

/* Check every catalogue entry once; returns the number of problems' code. */
static int check_catalogue(plat *p, const cfg_file *f, const config_setting_t *gpus)
{
    int n = config_setting_length(gpus);
    int err = SP_OK;

    (void)p;
    if (n == 0) {
        diag_error(f->diag, cfg_loc(f, gpus), "the GPU catalogue \"gpus\" is empty");
        return SP_EINPUT;
    }
    for (int i = 0; i < n; i++) {
        const config_setting_t *g = config_setting_get_elem(gpus, (unsigned)i);
        int e = check_gpu(f, g, (size_t)i);
        err = first_error(err, e);
        if (e < 0)
            continue;
        for (int j = 0; j < i; j++) {
            const config_setting_t *h = config_setting_get_elem(gpus, (unsigned)j);
            if (config_setting_type(h) == CONFIG_TYPE_GROUP &&
                strcmp(cfg_string(h, "model", ""), cfg_string(g, "model", "")) == 0) {
                diag_error(f->diag, cfg_loc(f, g), "gpu \"%s\" is defined twice (first at line %u)",
                           cfg_string(g, "model", ""), cfg_loc(f, h).line);
                err = SP_EINPUT;
            }
        }
    }
    return err;
}

/* Find a node type's GPU in the catalogue (already checked) and copy it. */
static int find_gpu(plat *p, plat_gpu *out, const cfg_file *f, const config_setting_t *gpus,
                    const config_setting_t *node, const char *what)
{
    int n = config_setting_length(gpus);
    const char *model = cfg_string(node, "gpu", "");
    char known[512] = "";
    size_t len = 0;

    for (int i = 0; i < n; i++) {
        const config_setting_t *g = config_setting_get_elem(gpus, (unsigned)i);
        if (config_setting_type(g) != CONFIG_TYPE_GROUP)
            continue;
        if (strcmp(cfg_string(g, "model", ""), model) == 0)
            return read_gpu(p, out, f, g);
        if (len + 40 < sizeof(known))
            len += (size_t)snprintf(known + len, sizeof(known) - len, "%s%s", len ? ", " : "",
                                    cfg_string(g, "model", "?"));
    }
    diag_error(f->diag, cfg_loc(f, config_setting_get_member(node, "gpu")),
               "%s: unknown GPU \"%s\" (the catalogue has: %s)", what, model, known);
    return SP_EINPUT;
}

static int load_intra(plat *p, plat_intra *in, const cfg_file *f, const config_setting_t *g,
                      const char *what)
{
    char w[96];
    const char *type;
    int err;

    snprintf(w, sizeof(w), "%s.intra", what);
    if ((err = cfg_check(f, g, intra_keys, w)) < 0)
        return err;
    type = cfg_string(g, "type", "");
    if (strcmp(type, "nvswitch") == 0)
        in->kind = PLAT_INTRA_NVSWITCH;
    else if (strcmp(type, "pcie") == 0)
        in->kind = PLAT_INTRA_PCIE;
    else {
        diag_error(f->diag, cfg_loc(f, config_setting_get_member(g, "type")),
                   "%s: unknown type \"%s\" (expected nvswitch or pcie)", w, type);
        return SP_EINPUT;
    }
    in->spec_bw_Bps = cfg_number(g, "bandwidth_GBps", 0.0) * 1e9;
    in->efficiency = cfg_number(g, "efficiency", 1.0);
    in->bw_Bps = in->spec_bw_Bps * in->efficiency;
    in->lat_s = cfg_number(g, "latency_us", 0.0) * 1e-6;
    in->nvswitch_gen = (int)cfg_int(g, "nvswitch_gen", 0);
    in->p2p = cfg_bool(g, "p2p", true);
    in->bounce_bw_Bps = cfg_number(g, "bounce_bandwidth_GBps", 0.0) * 1e9;
    in->src = keep(p, cfg_loc(f, g));
    if (in->kind == PLAT_INTRA_NVSWITCH && (config_setting_get_member(g, "p2p") != NULL ||
                                            config_setting_get_member(g, "bounce_bandwidth_GBps"))) {
        diag_error(f->diag, in->src, "%s: p2p and bounce_bandwidth_GBps apply to pcie only", w);
        return SP_EINPUT;
    }
    if (in->kind == PLAT_INTRA_PCIE && !in->p2p && in->bounce_bw_Bps <= 0.0) {
        diag_error(f->diag, in->src,
                   "%s: pcie without p2p needs \"bounce_bandwidth_GBps\" (the host-memory path)", w);
        return SP_EINPUT;
    }
    return SP_OK;
}

static int load_nic(plat *p, plat_nic *nic, const cfg_file *f, const config_setting_t *g,
                    const char *what)
{
    char w[96];
    int err;

    snprintf(w, sizeof(w), "%s.nic", what);
    if ((err = cfg_check(f, g, nic_keys, w)) < 0)
        return err;
    nic->count = (int)cfg_int(g, "count", 1);
    nic->ports = (int)cfg_int(g, "ports", 1);
    nic->line_bw_Bps = cfg_number(g, "rate_Gbps", 0.0) * 1e9 / 8.0;
    nic->efficiency = cfg_number(g, "efficiency", 1.0);
    nic->host_bw_Bps = cfg_number(g, "host_bandwidth_GBps", 0.0) * 1e9;
    nic->lat_s = cfg_number(g, "latency_us", 0.0) * 1e-6;
    nic->src = keep(p, cfg_loc(f, g));
    return dup_into(&nic->model, cfg_string(g, "model", ""));
}

/* One node type: from `node`, or an entry of `node_types`. */
static int load_type(plat *p, plat_node_type *t, const cfg_file *f, const config_setting_t *g,
                     const config_setting_t *gpus, const char *what)
{
    const config_setting_t *intra = config_setting_get_member(g, "intra");
    const config_setting_t *nic = config_setting_get_member(g, "nic");
    int err = cfg_check(f, g, node_keys, what);

    t->src = keep(p, cfg_loc(f, g));
    /* The sub-groups are checked even when the node has problems, so one run
     * reports everything; a sub-group of the wrong type was reported above. */
    if (intra != NULL && config_setting_type(intra) == CONFIG_TYPE_GROUP)
        err = first_error(err, load_intra(p, &t->intra, f, intra, what));
    if (nic != NULL && config_setting_type(nic) == CONFIG_TYPE_GROUP)
        err = first_error(err, load_nic(p, &t->nic, f, nic, what));
    if (err == SP_OK && gpus != NULL)
        err = find_gpu(p, &t->gpu, f, gpus, g, what);
    if (err < 0)
        return err;
    t->gpus = (int)cfg_int(g, "gpus", 1);
    t->price_USD = cfg_number(g, "price_USD", 0.0);
    t->power_W = cfg_number(g, "power_W", 0.0);
    t->cloud_USD_per_gpu_hour = cfg_number(g, "cloud_USD_per_gpu_hour", 0.0);
    if (dup_into(&t->name, cfg_string(g, "name", "")) < 0 ||
        dup_into(&t->id, cfg_string(g, "id", cfg_string(g, "name", ""))) < 0)
        return SP_ENOMEM;
    if (intra == NULL && t->gpus > 1) {
        diag_error(f->diag, t->src, "%s: %d GPUs per node need an intra-node fabric (intra)", what,
                   t->gpus);
        err = SP_EINPUT;
    }
    if (nic != NULL &&
        (t->nic.count > t->gpus ? t->nic.count % t->gpus : t->gpus % t->nic.count)) {
        diag_error(f->diag, cfg_loc(f, config_setting_get_member(nic, "count")),
                   "%s.nic: %d NICs cannot be shared evenly by %d GPUs", what, t->nic.count,
                   t->gpus);
        err = SP_EINPUT;
    }
    return err;
}

static int add_type(plat *p, plat_node_type **out)
{
    plat_node_type *t = realloc(p->types, (p->ntypes + 1) * sizeof(*t));

    if (t == NULL)
        return SP_ENOMEM;
    p->types = t;
    memset(&t[p->ntypes], 0, sizeof(*t));
    *out = &t[p->ntypes++];
    return SP_OK;
}

static int load_types(plat *p, const cfg_file *f, const config_setting_t *root,
                      const config_setting_t *gpus)
{
    const config_setting_t *node = config_setting_get_member(root, "node");
    const config_setting_t *types = config_setting_get_member(root, "node_types");
    const config_setting_t *comp = config_setting_get_member(root, "nodes");
    plat_node_type *t;
    int err = SP_OK;

    if (gpus != NULL && config_setting_type(gpus) != CONFIG_TYPE_LIST)
        gpus = NULL; /* reported by the root check */
    if ((node != NULL) == (types != NULL)) {
        diag_error(f->diag, cfg_loc(f, node != NULL ? node : root),
                   "platform: give exactly one of \"node\" (one node type) and \"node_types\" "
                   "(several, with \"nodes\")");
        return SP_EINPUT;
    }
    if (node != NULL) {
        if (config_setting_type(node) != CONFIG_TYPE_GROUP)
            return SP_EINPUT; /* reported by the root check */
        if (comp != NULL) {
            diag_error(f->diag, cfg_loc(f, comp),
                       "platform: \"nodes\" (a fixed composition) goes with \"node_types\"; with "
                       "one \"node\" the count comes from -n");
            err = SP_EINPUT;
        }
        if ((err = first_error(err, add_type(p, &t))) == SP_ENOMEM)
            return err;
        return first_error(err, load_type(p, t, f, node, gpus, "node"));
    }
    if (config_setting_type(types) != CONFIG_TYPE_LIST)
        return SP_EINPUT;
    for (int i = 0; i < config_setting_length(types); i++) {
        const config_setting_t *g = config_setting_get_elem(types, (unsigned)i);
        char what[64];
        snprintf(what, sizeof(what), "node_types[%d]", i);
        if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
            diag_error(f->diag, cfg_loc(f, g), "%s must be a group { }", what);
            err = SP_EINPUT;
            continue;
        }
        if (add_type(p, &t) < 0)
            return SP_ENOMEM;
        if (config_setting_get_member(g, "id") == NULL) {
            diag_error(f->diag, cfg_loc(f, g), "%s: missing key \"id\" (the name \"nodes\" uses)",
                       what);
            err = SP_EINPUT;
        }
        err = first_error(err, load_type(p, t, f, g, gpus, what));
        for (size_t j = 0; err == SP_OK && j + 1 < p->ntypes; j++)
            if (strcmp(p->types[j].id, t->id) == 0) {
                diag_error(f->diag, t->src, "%s: id \"%s\" is used twice", what, t->id);
                err = SP_EINPUT;
            }
    }
    if (p->ntypes == 0 && err == SP_OK) {
        diag_error(f->diag, cfg_loc(f, types), "platform: \"node_types\" is empty");
        err = SP_EINPUT;
    }
    if (comp == NULL) {
        diag_error(f->diag, cfg_loc(f, types),
                   "platform: \"node_types\" needs \"nodes\", the composition: ( { type = \"ID\"; "
                   "count = N; }, ... )");
        return SP_EINPUT;
    }
    if (config_setting_type(comp) != CONFIG_TYPE_LIST || err < 0)
        return first_error(err, SP_EINPUT);
    p->ncomp = (size_t)config_setting_length(comp);
    p->comp_type = calloc(p->ncomp + 1, sizeof(int));
    p->comp_count = calloc(p->ncomp + 1, sizeof(int));
    if (p->comp_type == NULL || p->comp_count == NULL)
        return SP_ENOMEM;
    for (size_t i = 0; i < p->ncomp; i++) {
        const config_setting_t *c = config_setting_get_elem(comp, (unsigned)i);
        char what[64];
        const char *id;
        size_t j;
        snprintf(what, sizeof(what), "nodes[%zu]", i);
        if (config_setting_type(c) != CONFIG_TYPE_GROUP) {
            diag_error(f->diag, cfg_loc(f, c), "%s must be a group { type; count; }", what);
            err = SP_EINPUT;
            continue;
        }
        if (cfg_check(f, c, comp_keys, what) < 0) {
            err = SP_EINPUT;
            continue;
        }
        id = cfg_string(c, "type", "");
        for (j = 0; j < p->ntypes && strcmp(p->types[j].id, id) != 0; j++)
            ;
        if (j == p->ntypes) {
            diag_error(f->diag, cfg_loc(f, config_setting_get_member(c, "type")),
                       "%s: unknown node type \"%s\"", what, id);
            err = SP_EINPUT;
            continue;
        }
        p->comp_type[i] = (int)j;
        p->comp_count[i] = (int)cfg_int(c, "count", 1);
        p->fixed_nodes += p->comp_count[i];
    }
    if (p->ncomp == 0 && err == SP_OK) {
        diag_error(f->diag, cfg_loc(f, comp), "platform: \"nodes\" is empty");
        err = SP_EINPUT;
    }
    return err;
}

const plat_gpu *plat_catalogue_find(const plat *p, const char *model)
{
    for (size_t i = 0; i < p->ncatalogue; i++)
        if (strcmp(p->catalogue[i].model, model) == 0)
            return &p->catalogue[i];
    return NULL;
}

static const char *const fabric_names[] = {"none", "direct", "ring", "switch", "fat-tree"};

const char *plat_fabric_name(plat_fabric_kind k)
{
    return k <= PLAT_FABRIC_FAT_TREE ? fabric_names[k] : "?";
}

/* types_ok: the node types loaded, so their NICs can be checked too. */
static int load_fabric(plat *p, const cfg_file *f, const config_setting_t *g, bool types_ok)
{
    const char *t;
    int err = cfg_check(f, g, fabric_keys, "fabric");
    plat_fabric *fb = &p->fabric;

    fb->src = keep(p, cfg_loc(f, g));
    if (err < 0)
        return err;
    t = cfg_string(g, "template", "");
    for (fb->kind = PLAT_FABRIC_DIRECT; fb->kind <= PLAT_FABRIC_FAT_TREE; fb->kind++)
        if (strcmp(t, fabric_names[fb->kind]) == 0)
            break;
    if (fb->kind > PLAT_FABRIC_FAT_TREE) {
        diag_error(f->diag, cfg_loc(f, config_setting_get_member(g, "template")),
                   "fabric: unknown template \"%s\" (expected direct, ring, switch or fat-tree)", t);
        fb->kind = PLAT_FABRIC_NONE;
        return SP_EINPUT;
    }
    fb->switch_ports = (int)cfg_int(g, "switch_ports", 0);
    fb->switch_lat_s = cfg_number(g, "switch_latency_us", 0.0) * 1e-6;
    fb->cable_lat_s = cfg_number(g, "cable_latency_us", 0.0) * 1e-6;
    fb->port_bw_Bps = cfg_number(g, "port_rate_Gbps", 0.0) * 1e9 / 8.0;
    fb->closed = cfg_bool(g, "closed", true);
    fb->tiers = (int)cfg_int(g, "tiers", 0);
    fb->nodes_per_unit = (int)cfg_int(g, "nodes_per_unit", 0);
    fb->oversubscription = cfg_number(g, "oversubscription", 1.0);
    fb->in_network_reduction = cfg_bool(g, "in_network_reduction", false);
    {
        /* Which keys each template needs, and which it ignores (an error:
         * a key that does nothing is a misunderstanding worth reporting). */
        static const struct {
            const char *key;
            unsigned need, allow; /* bit masks over plat_fabric_kind */
        } rules[] = {
#define B(k) (1u << (k))
            {"switch_ports", B(PLAT_FABRIC_SWITCH) | B(PLAT_FABRIC_FAT_TREE),
             B(PLAT_FABRIC_SWITCH) | B(PLAT_FABRIC_FAT_TREE)},
            {"switch_latency_us", 0, B(PLAT_FABRIC_SWITCH) | B(PLAT_FABRIC_FAT_TREE)},
            {"port_rate_Gbps", 0, B(PLAT_FABRIC_SWITCH) | B(PLAT_FABRIC_FAT_TREE)},
            {"closed", 0, B(PLAT_FABRIC_RING)},
            {"tiers", B(PLAT_FABRIC_FAT_TREE), B(PLAT_FABRIC_FAT_TREE)},
            {"nodes_per_unit", B(PLAT_FABRIC_FAT_TREE), B(PLAT_FABRIC_FAT_TREE)},
            {"oversubscription", 0, B(PLAT_FABRIC_FAT_TREE)},
            {"in_network_reduction", 0, B(PLAT_FABRIC_SWITCH) | B(PLAT_FABRIC_FAT_TREE)},
#undef B
        };
        for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
            const config_setting_t *s = config_setting_get_member(g, rules[i].key);
            if (s == NULL && (rules[i].need >> fb->kind & 1u)) {
                diag_error(f->diag, fb->src, "fabric: the %s template needs \"%s\"", t,
                           rules[i].key);
                err = SP_EINPUT;
            } else if (s != NULL && !(rules[i].allow >> fb->kind & 1u)) {
                diag_error(f->diag, cfg_loc(f, s), "fabric: \"%s\" does not apply to the %s template",
                           rules[i].key, t);
                err = SP_EINPUT;
            }
        }
    }
    for (size_t i = 0; types_ok && i < p->ntypes; i++) {
        const plat_node_type *ty = &p->types[i];
        if (ty->nic.model == NULL) {
            diag_error(f->diag, ty->src, "fabric: joining nodes needs NICs (%s has no nic)",
                       ty->name != NULL ? ty->name : "the node");
            err = SP_EINPUT;
        } else if (fb->kind == PLAT_FABRIC_RING && ty->nic.ports < 2) {
            diag_error(f->diag, ty->nic.src,
                       "fabric: a switchless ring needs 2 ports per NIC, %s has %d",
                       ty->name, ty->nic.ports);
            err = SP_EINPUT;
        }
    }
    if (err == SP_OK && types_ok && fb->kind == PLAT_FABRIC_FAT_TREE) {
        /* Rail-optimized: one leaf per (unit, rail), one down port per node of
         * the unit, and down / oversubscription up ports. */
        int up = (int)ceil(fb->nodes_per_unit / fb->oversubscription);
        if (fb->nodes_per_unit + up > fb->switch_ports) {
            diag_error(f->diag, fb->src,
                       "fabric: a leaf takes one port per node of its unit plus %d uplinks: %d "
                       "nodes per unit need %d ports, the switch has %d",
                       up, fb->nodes_per_unit, fb->nodes_per_unit + up, fb->switch_ports);
            err = SP_EINPUT;
        }
    }
    return err;
}

static int load_nccl(plat *p, const cfg_file *f, const config_setting_t *g)
{
    const char *lat;
    int err;

    p->nccl.latency = PLAT_LAT_NCCL;
    if (g == NULL)
        return SP_OK;
    p->nccl.src = keep(p, cfg_loc(f, g));
    if ((err = cfg_check(f, g, nccl_keys, "nccl")) < 0)
        return err;
    p->nccl.channels = (int)cfg_int(g, "channels", 0);
    p->nccl.graph_channels = (int)cfg_int(g, "graph_channels", 0);
    p->nccl.graph_bw_GBps = cfg_number(g, "graph_bw_GBps", 0.0);
    p->nccl.launch_s = cfg_number(g, "launch_us", 0.0) * 1e-6;
    if ((p->nccl.graph_channels > 0) != (p->nccl.graph_bw_GBps > 0)) {
        diag_error(f->diag, p->nccl.src, "nccl: give both \"graph_channels\" and \"graph_bw_GBps\", or neither");
        return SP_EINPUT;
    }
    {
        const char *cpu = cfg_string(g, "cpu", "intel");
        if (strcmp(cpu, "amd") == 0)
            p->nccl.cpu_amd = true;
        else if (strcmp(cpu, "arm") == 0)
            p->nccl.cpu_arm = true;
        else if (strcmp(cpu, "intel") != 0) {
            diag_error(f->diag, cfg_loc(f, config_setting_get_member(g, "cpu")),
                       "nccl: unknown cpu \"%s\" (expected intel, amd or arm)", cpu);
            return SP_EINPUT;
        }
    }
    lat = cfg_string(g, "latency", "nccl");
    if (strcmp(lat, "none") == 0)
        p->nccl.latency = PLAT_LAT_NONE;
    else if (strcmp(lat, "nccl") != 0) {
        diag_error(f->diag, cfg_loc(f, config_setting_get_member(g, "latency")),
                   "nccl: unknown latency model \"%s\" (expected nccl or none)", lat);
        return SP_EINPUT;
    }
    return SP_OK;
}

int plat_load(plat **out, const char *path, diag_list *diag)
{
    cfg_file f;
    const config_setting_t *root, *gpus, *fabric, *nc;
    plat *p;
    int err, terr;

    *out = NULL;
    if ((err = cfg_open(&f, path, diag)) < 0)
        return err;
    if ((p = calloc(1, sizeof(*p))) == NULL) {
        cfg_close(&f);
        return SP_ENOMEM;
    }
    root = config_root_setting(&f.cfg);
    err = cfg_check(&f, root, root_keys, "platform");
    if (dup_into(&p->path, path) < 0 || dup_into(&p->name, cfg_string(root, "name", "")) < 0 ||
        dup_into(&p->description, cfg_string(root, "description", "")) < 0)
        err = SP_ENOMEM;
    gpus = config_setting_get_member(root, "gpus");
    fabric = config_setting_get_member(root, "fabric");
    nc = config_setting_get_member(root, "nccl");
    /* Each part is checked even when another failed, so every problem is
     * reported; a part of the wrong type was already reported by the root check. */
    terr = SP_OK;
    if (gpus != NULL && config_setting_type(gpus) == CONFIG_TYPE_LIST)
        terr = check_catalogue(p, &f, gpus);
    if (terr == SP_OK && gpus != NULL && config_setting_type(gpus) == CONFIG_TYPE_LIST) {
        /* Keep the whole catalogue: replays rescale recorded compute from one GPU to another. */
        int n = config_setting_length(gpus);
        if ((p->catalogue = calloc((size_t)n + 1, sizeof(*p->catalogue))) == NULL)
            terr = SP_ENOMEM;
        for (int i = 0; i < n && terr == SP_OK; i++, p->ncatalogue++)
            terr = read_gpu(p, &p->catalogue[i], &f, config_setting_get_elem(gpus, (unsigned)i));
    }
    if (terr == SP_OK)
        terr = load_types(p, &f, root, gpus);
    else
        (void)first_error(terr, load_types(p, &f, root, NULL)); /* report node problems too */
    err = first_error(err, terr);
    if (fabric != NULL && config_setting_type(fabric) == CONFIG_TYPE_GROUP)
        err = first_error(err, load_fabric(p, &f, fabric, terr == SP_OK));
    if (nc == NULL || config_setting_type(nc) == CONFIG_TYPE_GROUP)
        err = first_error(err, load_nccl(p, &f, nc));
    p->nccl.calib_scale = 1.0;
    {
        const config_setting_t *cal = config_setting_get_member(root, "calibration");
        if (cal != NULL && config_setting_type(cal) == CONFIG_TYPE_GROUP) {
            int e = cfg_check(&f, cal, calib_keys, "calibration");
            if (e == SP_OK) {
                p->nccl.calib_lat_s = cfg_number(cal, "latency_us", 0.0) * 1e-6;
                p->nccl.calib_scale = cfg_number(cal, "time_scale", 1.0);
            }
            err = first_error(err, e);
        }
    }
    cfg_close(&f); /* everything kept was copied */
    if (err < 0) {
        plat_free(p);
        return err;
    }
    *out = p;
    return SP_OK;
}
