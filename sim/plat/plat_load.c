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
    {"node",           CFG_GROUP,  true,  0, 0, false, "the node type"},
    {"fabric",         CFG_GROUP,  false, 0, 0, false, "how nodes are joined; absent = one node only"},
    {"nccl",           CFG_GROUP,  false, 0, 0, false, "NCCL settings for this platform"},
    {NULL, 0, 0, 0, 0, 0, NULL},
};
static const cfg_key gpu_keys[] = {
    {"model",                 CFG_STRING, true,  0, 0, false, "catalogue name"},
    {"arch",                  CFG_STRING, true,  0, 0, false, "volta, ampere, ada, hopper or blackwell"},
    {"sm",                    CFG_INT,    true,  30, 200, false, "compute capability x 10"},
    {"peak_TFLOPs",           CFG_GROUP,  true,  0, 0, false, "dense peak per precision"},
    {"memory_GB",             CFG_NUMBER, true,  0, 1e5, true, "GPU-visible memory, 1e9 bytes"},
    {"memory_bandwidth_GBps", CFG_NUMBER, true,  0, 1e6, true, "memory bandwidth, 1e9 bytes/s"},
    {"unified_memory",        CFG_BOOL,   false, 0, 0, false, "memory shared with the CPU"},
    {"tdp_W",                 CFG_NUMBER, true,  0, 1e5, true, "board power"},
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
    {"name",      CFG_STRING, true,  0, 0, false, "product name"},
    {"gpu",       CFG_STRING, true,  0, 0, false, "a model from the GPU catalogue"},
    {"gpus",      CFG_INT,    true,  1, 1024, false, "GPUs per node"},
    {"price_USD", CFG_NUMBER, true,  0, 1e9, false, "list price of one node"},
    {"power_W",   CFG_NUMBER, true,  0, 1e7, true, "node power, maximum"},
    {"intra",     CFG_GROUP,  false, 0, 0, false, "intra-node GPU fabric; required with several GPUs"},
    {"nic",       CFG_GROUP,  false, 0, 0, false, "scale-out NICs; required with a fabric"},
    {NULL, 0, 0, 0, 0, 0, NULL},
};
static const cfg_key intra_keys[] = {
    {"type",           CFG_STRING, true,  0, 0, false, "nvswitch"},
    {"bandwidth_GBps", CFG_NUMBER, true,  0, 1e5, true, "per GPU, per direction, as specified"},
    {"efficiency",     CFG_NUMBER, false, 0, 1, true, "achievable / specified bandwidth"},
    {"latency_us",     CFG_NUMBER, true,  0, 1e3, false, "GPU to GPU, one way"},
    {"nvswitch_gen",   CFG_INT,    false, 1, 9, false, "NVSwitch generation (3+ has NVLink SHARP)"},
    {NULL, 0, 0, 0, 0, 0, NULL},
};
static const cfg_key nic_keys[] = {
    {"model",               CFG_STRING, true,  0, 0, false, "NIC product"},
    {"count",               CFG_INT,    true,  1, 64, false, "NICs per node"},
    {"ports",               CFG_INT,    true,  1, 8, false, "cable ports per NIC"},
    {"rate_Gbps",           CFG_NUMBER, true,  0, 1e5, true, "line rate per port, 1e9 bits/s"},
    {"efficiency",          CFG_NUMBER, false, 0, 1, true, "wire efficiency (packet headers)"},
    {"host_bandwidth_GBps", CFG_NUMBER, true,  0, 1e5, true, "GPU/host side (PCIe) of one NIC, per direction"},
    {"latency_us",          CFG_NUMBER, true,  0, 1e3, false, "NIC processing, one way, per end"},
    {NULL, 0, 0, 0, 0, 0, NULL},
};
static const cfg_key fabric_keys[] = {
    {"template",          CFG_STRING, true,  0, 0, false, "direct or switch"},
    {"switch_ports",      CFG_INT,    false, 2, 1e6, false, "ports of the switch (switch template)"},
    {"switch_latency_us", CFG_NUMBER, false, 0, 1e3, false, "port to port"},
    {"cable_latency_us",  CFG_NUMBER, false, 0, 1e3, false, "per cable, one way"},
    {NULL, 0, 0, 0, 0, 0, NULL},
};
static const cfg_key nccl_keys[] = {
    {"channels", CFG_INT,    false, 1, 64, false, "runtime collective channels (as NCCL logs them)"},
    {"latency",  CFG_STRING, false, 0, 0, false, "nccl (software latency from NCCL's model) or none"},
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
        {"(top level)", root_keys}, {"gpus[i]", gpu_keys},  {"gpus[i].peak_TFLOPs", peak_keys},
        {"node", node_keys},        {"node.intra", intra_keys}, {"node.nic", nic_keys},
        {"fabric", fabric_keys},    {"nccl", nccl_keys},
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

void plat_free(plat *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->nvertices; i++)
        free(p->vertices[i].name);
    for (size_t i = 0; i < p->nlinks; i++)
        free(p->links[i].name);
    free(p->vertices);
    free(p->links);
    for (size_t i = 0; i < p->nfiles; i++)
        free(p->files[i]);
    free(p->files);
    free(p->path);
    free(p->name);
    free(p->description);
    free(p->node_name);
    free(p->gpu.model);
    free(p->gpu.arch);
    free(p->nic.model);
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
    if (err == SP_OK) {
        const char *arch = cfg_string(g, "arch", "");
        const char *const *a = arch_names;
        while (*a != NULL && strcmp(*a, arch) != 0)
            a++;
        if (*a == NULL) {
            diag_error(f->diag, cfg_loc(f, config_setting_get_member(g, "arch")),
                       "%s: unknown arch \"%s\" (expected volta, ampere, ada, hopper or blackwell)",
                       what, arch);
            err = SP_EINPUT;
        }
        err = first_error(err, cfg_check(f, config_setting_get_member(g, "peak_TFLOPs"), peak_keys,
                                         what));
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
    out->unified = cfg_bool(g, "unified_memory", false);
    out->tdp_W = cfg_number(g, "tdp_W", 0.0);
    out->src = keep(p, cfg_loc(f, g));
    if (dup_into(&out->model, cfg_string(g, "model", "")) < 0 ||
        dup_into(&out->arch, cfg_string(g, "arch", "")) < 0)
        return SP_ENOMEM;
    return SP_OK;
}

/* Check the catalogue, then find the node's GPU in it. */
static int load_gpu(plat *p, const cfg_file *f, const config_setting_t *gpus,
                    const config_setting_t *node)
{
    int n = config_setting_length(gpus);
    int err = SP_OK;
    const config_setting_t *want = config_setting_get_member(node, "gpu");
    const char *model = cfg_string(node, "gpu", NULL);
    const config_setting_t *found = NULL;

    if (n == 0) {
        diag_error(f->diag, cfg_loc(f, gpus), "the GPU catalogue \"gpus\" is empty");
        return SP_EINPUT;
    }
    for (int i = 0; i < n; i++) {
        const config_setting_t *g = config_setting_get_elem(gpus, (unsigned)i);
        const char *gm;
        int e = check_gpu(f, g, (size_t)i);
        err = first_error(err, e);
        if (e < 0) {
            /* An invalid entry of the wanted model is not an unknown GPU. */
            if (model != NULL && config_setting_type(g) == CONFIG_TYPE_GROUP &&
                strcmp(cfg_string(g, "model", ""), model) == 0)
                return err;
            continue;
        }
        gm = cfg_string(g, "model", "");
        for (int j = 0; j < i; j++) {
            const config_setting_t *h = config_setting_get_elem(gpus, (unsigned)j);
            if (config_setting_type(h) == CONFIG_TYPE_GROUP &&
                strcmp(cfg_string(h, "model", ""), gm) == 0) {
                diag_error(f->diag, cfg_loc(f, g), "gpu \"%s\" is defined twice (first at line %u)",
                           gm, cfg_loc(f, h).line);
                err = SP_EINPUT;
            }
        }
        if (model != NULL && strcmp(gm, model) == 0 && found == NULL)
            found = g;
    }
    if (model == NULL)
        return err < 0 ? err : SP_EINPUT; /* already reported by the node check */
    if (found == NULL) {
        char known[512] = "";
        size_t len = 0;
        for (int i = 0; i < n && len + 40 < sizeof(known); i++) {
            const config_setting_t *g = config_setting_get_elem(gpus, (unsigned)i);
            if (config_setting_type(g) == CONFIG_TYPE_GROUP)
                len += (size_t)snprintf(known + len, sizeof(known) - len, "%s%s", len ? ", " : "",
                                        cfg_string(g, "model", "?"));
        }
        diag_error(f->diag, cfg_loc(f, want), "node: unknown GPU \"%s\" (the catalogue has: %s)",
                   model, known);
        return SP_EINPUT;
    }
    if (err < 0)
        return err;
    return read_gpu(p, &p->gpu, f, found);
}

static int load_intra(plat *p, const cfg_file *f, const config_setting_t *g)
{
    const char *type;
    int err = cfg_check(f, g, intra_keys, "node.intra");

    if (err < 0)
        return err;
    type = cfg_string(g, "type", "");
    if (strcmp(type, "nvswitch") != 0) {
        diag_error(f->diag, cfg_loc(f, config_setting_get_member(g, "type")),
                   "node.intra: unknown type \"%s\" (expected nvswitch)", type);
        return SP_EINPUT;
    }
    p->intra.kind = PLAT_INTRA_NVSWITCH;
    p->intra.spec_bw_Bps = cfg_number(g, "bandwidth_GBps", 0.0) * 1e9;
    p->intra.efficiency = cfg_number(g, "efficiency", 1.0);
    p->intra.bw_Bps = p->intra.spec_bw_Bps * p->intra.efficiency;
    p->intra.lat_s = cfg_number(g, "latency_us", 0.0) * 1e-6;
    p->intra.nvswitch_gen = (int)cfg_int(g, "nvswitch_gen", 0);
    p->intra.src = keep(p, cfg_loc(f, g));
    return SP_OK;
}

static int load_nic(plat *p, const cfg_file *f, const config_setting_t *g)
{
    int err = cfg_check(f, g, nic_keys, "node.nic");

    if (err < 0)
        return err;
    p->nic.count = (int)cfg_int(g, "count", 1);
    p->nic.ports = (int)cfg_int(g, "ports", 1);
    p->nic.line_bw_Bps = cfg_number(g, "rate_Gbps", 0.0) * 1e9 / 8.0;
    p->nic.efficiency = cfg_number(g, "efficiency", 1.0);
    p->nic.host_bw_Bps = cfg_number(g, "host_bandwidth_GBps", 0.0) * 1e9;
    p->nic.lat_s = cfg_number(g, "latency_us", 0.0) * 1e-6;
    p->nic.src = keep(p, cfg_loc(f, g));
    return dup_into(&p->nic.model, cfg_string(g, "model", ""));
}

static int load_node(plat *p, const cfg_file *f, const config_setting_t *g)
{
    const config_setting_t *intra = config_setting_get_member(g, "intra");
    const config_setting_t *nic = config_setting_get_member(g, "nic");
    int err = cfg_check(f, g, node_keys, "node");

    /* The sub-groups are checked even when the node has problems, so one run
     * reports everything; a sub-group of the wrong type was reported above. */
    if (intra != NULL && config_setting_type(intra) == CONFIG_TYPE_GROUP)
        err = first_error(err, load_intra(p, f, intra));
    if (nic != NULL && config_setting_type(nic) == CONFIG_TYPE_GROUP)
        err = first_error(err, load_nic(p, f, nic));
    if (err < 0)
        return err;
    p->gpus_per_node = (int)cfg_int(g, "gpus", 1);
    p->price_USD = cfg_number(g, "price_USD", 0.0);
    p->power_W = cfg_number(g, "power_W", 0.0);
    if ((err = dup_into(&p->node_name, cfg_string(g, "name", ""))) < 0)
        return err;
    if (intra == NULL && p->gpus_per_node > 1) {
        diag_error(f->diag, cfg_loc(f, g),
                   "node: %d GPUs per node need an intra-node fabric (node.intra)",
                   p->gpus_per_node);
        err = SP_EINPUT;
    }
    if (nic != NULL && (p->nic.count > p->gpus_per_node ? p->nic.count % p->gpus_per_node
                                                         : p->gpus_per_node % p->nic.count)) {
        diag_error(f->diag, cfg_loc(f, config_setting_get_member(nic, "count")),
                   "node.nic: %d NICs cannot be shared evenly by %d GPUs", p->nic.count,
                   p->gpus_per_node);
        err = SP_EINPUT;
    }
    return err;
}

static int load_fabric(plat *p, const cfg_file *f, const config_setting_t *g, bool has_nic)
{
    const char *t;
    int err = cfg_check(f, g, fabric_keys, "fabric");

    p->fabric.src = keep(p, cfg_loc(f, g));
    if (err < 0)
        return err;
    t = cfg_string(g, "template", "");
    if (strcmp(t, "direct") == 0)
        p->fabric.kind = PLAT_FABRIC_DIRECT;
    else if (strcmp(t, "switch") == 0)
        p->fabric.kind = PLAT_FABRIC_SWITCH;
    else {
        diag_error(f->diag, cfg_loc(f, config_setting_get_member(g, "template")),
                   "fabric: unknown template \"%s\" (expected direct or switch)", t);
        return SP_EINPUT;
    }
    p->fabric.switch_ports = (int)cfg_int(g, "switch_ports", 0);
    p->fabric.switch_lat_s = cfg_number(g, "switch_latency_us", 0.0) * 1e-6;
    p->fabric.cable_lat_s = cfg_number(g, "cable_latency_us", 0.0) * 1e-6;
    if (p->fabric.kind == PLAT_FABRIC_SWITCH && config_setting_get_member(g, "switch_ports") == NULL) {
        diag_error(f->diag, p->fabric.src, "fabric: the switch template needs \"switch_ports\"");
        err = SP_EINPUT;
    }
    if (!has_nic) {
        diag_error(f->diag, p->fabric.src, "fabric: joining nodes needs NICs (node.nic)");
        err = SP_EINPUT;
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
    const config_setting_t *root, *node, *gpus, *fabric;
    plat *p;
    int err;

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
    node = config_setting_get_member(root, "node");
    gpus = config_setting_get_member(root, "gpus");
    fabric = config_setting_get_member(root, "fabric");
    /* Each group is checked even when another failed, so every problem is reported;
     * a group of the wrong type was already reported by the root check. */
    if (node != NULL && config_setting_type(node) == CONFIG_TYPE_GROUP) {
        err = first_error(err, load_node(p, &f, node));
        if (gpus != NULL && config_setting_type(gpus) == CONFIG_TYPE_LIST)
            err = first_error(err, load_gpu(p, &f, gpus, node));
    }
    if (fabric != NULL && config_setting_type(fabric) == CONFIG_TYPE_GROUP)
        err = first_error(err, load_fabric(p, &f, fabric,
                                           node != NULL &&
                                               config_setting_get_member(node, "nic") != NULL));
    {
        const config_setting_t *nc = config_setting_get_member(root, "nccl");
        if (nc == NULL || config_setting_type(nc) == CONFIG_TYPE_GROUP)
            err = first_error(err, load_nccl(p, &f, nc));
    }
    cfg_close(&f); /* everything kept was copied */
    if (err < 0) {
        plat_free(p);
        return err;
    }
    *out = p;
    return SP_OK;
}
