/* cli_platform.c - `scalepath platforms` (the shipped tiers, one line each)
 * and `scalepath platform` (one platform expanded: summary, SimGrid XML,
 * route self-check, simulated bisection). */
#include <dirent.h>
#include <sys/resource.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "eng/eng.h"
#include "plat/plat.h"
#include "util/str.h"
#include "util/vec.h"

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static const char *platforms_dir(void)
{
    const char *d = getenv("SCALEPATH_PLATFORMS");
    return d != NULL && d[0] != '\0' ? d : SP_PLATFORMS_DIR;
}

int cli_platforms(int argc, char **argv, diag_list *diag)
{
    const char *dir = platforms_dir();
    DIR *d;
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0;
    int err = SP_OK;

    if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        printf("usage: scalepath platforms\n  List the shipped platform files (from %s, or\n"
               "  $SCALEPATH_PLATFORMS) with their headline numbers, per node.\n",
               SP_PLATFORMS_DIR);
        return SP_OK;
    }
    if ((d = opendir(dir)) == NULL) {
        diag_error(diag, (sp_loc){dir, 0}, "cannot list the platforms folder");
        return SP_EINPUT;
    }
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".cfg") != 0)
            continue;
        if (vec_reserve((void **)&names, &cap, n + 1, sizeof(*names)) < 0) {
            err = SP_ENOMEM;
            break;
        }
        if ((names[n] = str_format("%s/%s", dir, e->d_name)) == NULL) {
            err = SP_ENOMEM;
            break;
        }
        n++;
    }
    closedir(d);
    qsort(names, n, sizeof(*names), cmp_str); /* readdir order is not stable */
    printf("%-18s %-32s %5s %-13s %10s %9s %-9s %11s %9s\n", "platform", "node (default count)",
           "GPUs", "GPU", "BF16 TF/s", "mem GB", "fabric", "price USD", "power W");
    for (size_t i = 0; i < n && err != SP_ENOMEM; i++) {
        plat *p = NULL;
        const char *base = strrchr(names[i], '/') + 1;
        if (plat_load(&p, names[i], diag) == SP_OK && plat_set_nodes(p, 0, diag) == SP_OK) {
            /* One line per node type; the first names the platform. */
            for (size_t t = 0; t < p->ntypes; t++) {
                const plat_node_type *ty = &p->types[t];
                char label[64], node[64];
                int count = 0;
                snprintf(label, sizeof(label), "%.*s", (int)(strlen(base) - 4), base);
                for (int k = 0; k < p->nodes; k++)
                    count += plat_type_of_node(p, k) == ty;
                snprintf(node, sizeof(node), "%s (%d)", ty->name, count);
                printf("%-18s %-32s %5d %-13s %10.1f %9.0f %-9s %11.0f %9.0f\n",
                       t == 0 ? label : "", node, ty->gpus, ty->gpu.model,
                       ty->gpu.peak_flops[PLAT_BF16] / 1e12,
                       (ty->gpu.mem_bytes + ty->gpu.host_mem_bytes) / 1e9,
                       t == 0 ? plat_fabric_name(p->fabric.kind) : "", ty->price_USD, ty->power_W);
            }
        } else {
            err = SP_EINPUT;
        }
        plat_free(p);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (err == SP_OK)
        printf("(price and power per node; 0 = not published; mem = GPU memory, plus coherent CPU "
               "memory where the GPU reaches it; peak is dense)\n");
    return err;
}

static void usage(FILE *fp)
{
    fprintf(fp, "usage: scalepath platform -p PLATFORM.cfg [-n NODES] [--xml] [--check-routes]\n"
                "                          [--bisection] [--load] [--nodes LIST]\n"
                "  Expand a platform and print a summary; --xml prints the SimGrid platform,\n"
                "  --check-routes compares SimGrid's routes with scalepath's own,\n"
                "  --bisection simulates half the nodes sending to the other half,\n"
                "  --load loads it into SimGrid and prints the time and memory taken.\n"
                "  --nodes LIST (with --xml, --check-routes, --load): SimGrid given only\n"
                "  these nodes (e.g. 0,5,8-11), as train and replay give it the nodes\n"
                "  they use, where the routes stay the same (switch and fat-tree fabrics)\n");
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double peak_rss_MB(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0; /* Linux: KiB */
}

/* Pairs to check among the nodes ks[0..nk) (all, or those --nodes keeps):
 * every pair inside the first, F; GPU g of F to GPU g of every other and
 * back (the same rail: every collective's network traffic); and where such
 * routes are unique (plat_rail_routes_unique), every GPU of F to every GPU
 * of the second and of the last and back (other rails too: replayed sends,
 * within a scalable unit and across units when the last is in another). */
static int *route_pairs(const plat *p, const int *ks, int nk, size_t *n)
{
    int f = ks[0], f0 = p->node_rank0[f], g0 = plat_node_gpus(p, f), last = nk - 1;
    size_t max = (size_t)g0 * (size_t)g0 + 2 * (size_t)p->nranks, k = 0;
    int *v;

    if (last > 0)
        max += 2 * (size_t)g0 * (size_t)(plat_node_gpus(p, ks[1]) + plat_node_gpus(p, ks[last]));
    if ((v = malloc(max * 2 * sizeof(int))) == NULL)
        return NULL;
#define PAIR(x, y) (v[2 * k] = (x), v[2 * k + 1] = (y), k++)
    for (int a = 0; a < g0; a++)
        for (int b = 0; b < g0; b++)
            if (a != b)
                PAIR(f0 + a, f0 + b);
    for (int i = 1; i < nk; i++) {
        int r0 = p->node_rank0[ks[i]];
        for (int g = 0; g < plat_node_gpus(p, ks[i]) && g < g0; g++) {
            if (plat_rank_nic(p, f0 + g) != plat_rank_nic(p, r0 + g))
                continue;
            PAIR(f0 + g, r0 + g);
            PAIR(r0 + g, f0 + g);
        }
    }
    for (int t = 0; plat_rail_routes_unique(p) && t < (last > 1 ? 2 : last); t++) {
        int node = ks[t == 0 ? 1 : last], r0 = p->node_rank0[node];
        for (int a = 0; a < g0; a++)
            for (int b = 0; b < plat_node_gpus(p, node); b++) {
                if (a == b && plat_rank_nic(p, f0 + a) == plat_rank_nic(p, r0 + b))
                    continue; /* already checked */
                PAIR(f0 + a, r0 + b);
                PAIR(r0 + b, f0 + a);
            }
    }
#undef PAIR
    *n = k;
    return v;
}

/* --nodes LIST: node indices and ranges, "0,5,8-11", each below the
 * platform's node count; keep[k] set for each. */
static int parse_nodes(const char *list, const plat *p, uint8_t *keep, diag_list *diag)
{
    const char *s = list;

    while (*s != '\0') {
        char *end;
        long a, b;
        if (*s < '0' || *s > '9')
            break;
        a = b = strtol(s, &end, 10);
        if (*end == '-') {
            if (end[1] < '0' || end[1] > '9')
                break;
            b = strtol(end + 1, &end, 10);
        }
        if (a > b || b >= p->nodes) {
            char what[48];
            snprintf(what, sizeof(what), a == b ? "%ld" : "%ld-%ld", a, b);
            diag_error(diag, (sp_loc){0}, "platform: --nodes: %s: expected nodes from 0 to %d (a range low-high)",
                       what, p->nodes - 1);
            return SP_EINPUT;
        }
        for (long k = a; k <= b; k++)
            keep[k] = 1;
        s = end;
        if (*s == ',' && s[1] != '\0')
            s++;
        else if (*s != '\0')
            break;
    }
    if (*s != '\0' || *list == '\0') {
        diag_error(diag, (sp_loc){0}, "platform: --nodes: expected node indices and ranges such as 0,5,8-11, got \"%s\"",
                   list);
        return SP_EINPUT;
    }
    return SP_OK;
}

int cli_platform(int argc, char **argv, diag_list *diag)
{
    const char *path = NULL;
    int nodes = 0, xml = 0, routes = 0, bisect = 0, load = 0, err, *ks = NULL, nk = 0;
    double t0 = now_s(), t_expand, t_load;
    const char *only = NULL;
    uint8_t *keep = NULL;
    plat *p = NULL;
    eng *e = NULL;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return SP_OK;
        } else if (strcmp(argv[i], "-p") == 0 && i + 1 < argc) {
            path = argv[++i];
        } else if (strcmp(argv[i], "-n") == 0) {
            if (cli_parse_int(&nodes, "-n", i + 1 < argc ? argv[i + 1] : NULL, 1, 1 << 20, diag) < 0)
                return SP_EINPUT;
            i++;
        } else if (strcmp(argv[i], "--xml") == 0) {
            xml = 1;
        } else if (strcmp(argv[i], "--check-routes") == 0) {
            routes = 1;
        } else if (strcmp(argv[i], "--bisection") == 0) {
            bisect = 1;
        } else if (strcmp(argv[i], "--load") == 0) {
            load = 1;
        } else if (strcmp(argv[i], "--nodes") == 0 && i + 1 < argc) {
            only = argv[++i];
        } else {
            diag_error(diag, (sp_loc){0}, "platform: unknown argument \"%s\"", argv[i]);
            usage(stderr);
            return SP_EINPUT;
        }
    }
    if (path == NULL) {
        diag_error(diag, (sp_loc){0}, "platform: a platform is required (-p platforms/NAME.cfg)");
        return SP_EINPUT;
    }
    if (only != NULL && bisect) {
        diag_error(diag, (sp_loc){0}, "platform: --bisection runs on every node: not with --nodes");
        return SP_EINPUT;
    }
    if ((err = plat_load(&p, path, diag)) < 0 || (err = plat_set_nodes(p, nodes, diag)) < 0)
        goto done;
    t_expand = now_s() - t0;
    keep = calloc((size_t)p->nodes + 1, 1);
    ks = calloc((size_t)p->nodes + 1, sizeof(*ks));
    if (keep == NULL || ks == NULL) {
        err = SP_ENOMEM;
        goto done;
    }
    if (only != NULL && (err = parse_nodes(only, p, keep, diag)) < 0)
        goto done;
    for (int k = 0; k < p->nodes; k++)
        if (only == NULL || keep[k])
            ks[nk++] = k;
    if (xml) { /* the file SimGrid gets: every node where pruning would change routes */
        err = plat_xml_write_nodes(p, only != NULL && plat_nodes_prunable(p) ? keep : NULL, stdout);
        goto done;
    }
    {
        char what[512];
        plat_describe(p, what, sizeof(what));
        printf("%s: %s\n  %s = %d rank(s); fabric %s; %zu vertices, %zu links\n", p->name,
               p->description, what, p->nranks, plat_fabric_name(p->fabric.kind), p->nvertices,
               p->nlinks);
        if (p->nodes > 1)
            printf("  bisection (template): %.1f GB/s\n", plat_bisection_Bps(p) / 1e9);
        if (p->fabric.in_network_reduction)
            printf("  in-network reduction (SHARP): yes, used with --collnet (NCCL_COLLNET_ENABLE=1)\n");
    }
    if (!routes && !bisect && !load)
        goto done;
    t0 = now_s();
    if ((err = eng_new_nodes(&e, p, only != NULL ? keep : NULL, NULL, diag)) < 0)
        goto done;
    t_load = now_s() - t0;
    if (only != NULL)
        printf("  SimGrid's platform: %d of %d nodes%s\n", eng_node_count(e), p->nodes,
               plat_nodes_prunable(p) ? "" : " (routes here may pass through other nodes or tie: all loaded)");
    if (load)
        printf("  load: expanded in %.3f s, XML written and loaded by SimGrid in %.3f s, "
               "peak RSS %.0f MB\n",
               t_expand, t_load, peak_rss_MB());
    if (routes) {
        size_t n = 0;
        int *pairs = route_pairs(p, ks, nk, &n);
        if (pairs == NULL) {
            err = SP_ENOMEM;
            goto done;
        }
        err = eng_check_routes(e, pairs, n, diag);
        printf("  routes: %zu pairs checked against SimGrid: %s\n", n,
               err == SP_OK ? "all agree" : "MISMATCH");
        free(pairs);
        if (err < 0)
            goto done;
    }
    if (bisect && p->nodes > 1) {
        int half = p->nodes / 2;
        const uint64_t bytes = 1ull << 30;
        eng_flow *f = calloc((size_t)p->nranks, sizeof(*f));
        size_t n = 0;
        double t;
        if (f == NULL) {
            err = SP_ENOMEM;
            goto done;
        }
        for (int r = 0; r < p->nranks; r++) {
            int k = plat_rank_node(p, r);
            if (k < half) {
                int dst = -1;
                for (int q = 0; q < p->nranks; q++)
                    if (plat_rank_node(p, q) == k + half && plat_rank_local(p, q) == plat_rank_local(p, r))
                        dst = q;
                if (dst >= 0)
                    f[n++] = (eng_flow){r, dst, bytes};
            }
        }
        err = eng_run_flows(e, f, n, &t, diag);
        if (err == SP_OK)
            printf("  bisection (simulated): %.1f GB/s (%zu flows of 1 GiB in %.6f s)\n",
                   (double)n * (double)bytes / t / 1e9, n, t);
        free(f);
    }
done:
    free(keep);
    free(ks);
    eng_free(e);
    plat_free(p);
    return err;
}
