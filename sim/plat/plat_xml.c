/* plat_xml.c - emit SimGrid platform XML (DTD 4.1) from an expanded plat.
 *
 * The only file that knows SimGrid's platform syntax. One flat zone with
 * DijkstraCache routing: routes are shortest paths over the declared
 * adjacencies, computed on demand and cached, so the file stays O(links) and
 * loading stays fast. A router with exactly two adjacencies (a GPU's own
 * NIC between the GPU and its leaf or peer; also a 2-GPU node's NVSwitch, a
 * PCIe port, a spine with two neighbours) is folded into one route between
 * its two neighbours, carrying the same physical links in the same order
 * and direction (a marker may sit elsewhere in its leg): a path keeps its
 * links and its cost (links counted, markers included), and SimGrid's
 * Dijkstra, run once per sending host over the whole zone, visits fewer
 * vertices and edges (on a 2,048-node SuperPOD 19,009 instead of 35,393
 * vertices). The fold would change which of several equally short paths
 * SimGrid takes; on a fat-tree the templates leave no such ties, and
 * elsewhere only routes between rails tie (plat_topo.c,
 * plat_rail_routes_unique).
 *
 * plat_xml_write_nodes writes the file of some nodes only (train, replay
 * and study give SimGrid the nodes their run uses): their vertices, the
 * fabric's switches less the dead ends, the routes between what stays and
 * the links those cross, in the whole file's order. Where
 * plat_nodes_prunable() the routes between the kept GPUs are the whole
 * file's; `platform --nodes LIST --check-routes` compares them.
 *
 * Links are SPLITDUPLEX, so each direction has the full bandwidth, except
 * host-memory links (SHARED: writes and reads share it). Hosts get a
 * nominal speed: GPU compute is not simulated by this layer (the compute
 * model is the workload's business).
 */
#include "plat/plat.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* One leg of a folded route, backwards: edge e's markers, then its link as
 * crossed from vertex `from`. SimGrid's Dijkstra zone lays a route's edges
 * out from source to destination but each edge's own links last to first,
 * so a folded route is written last link first (`platform --check-routes`
 * compares the result with plat_route, link by link). */
static void put_leg_backwards(const plat *p, FILE *fp, const plat_edge *e, uint32_t from)
{
    const plat_link *l = &p->links[e->link];

    for (int m = 0; m < e->nmarks; m++)
        fprintf(fp, "<link_ctn id=\"%s\"/>", p->links[e->mark].name);
    if (l->sharing == PLAT_SPLITDUPLEX)
        fprintf(fp, "<link_ctn id=\"%s\" direction=\"%s\"/>", l->name, e->a == from ? "UP" : "DOWN");
    else
        fprintf(fp, "<link_ctn id=\"%s\"/>", l->name);
}

/* The two vertices a folded router v joins. */
static void fold_ends(const plat *p, const uint32_t *first, const uint32_t *second, uint32_t v, uint32_t *x,
                      uint32_t *y)
{
    const plat_edge *e1 = &p->edges[first[v]], *e2 = &p->edges[second[v]];

    *x = e1->a == v ? e1->b : e1->a;
    *y = e2->a == v ? e2->b : e2->a;
}

/* The route edge i belongs to: its own between its two vertices, or, where
 * it is a leg of a folded router, that router's between its two
 * neighbours. Returns the folded router, or UINT32_MAX. */
static uint32_t edge_route(const plat *p, const uint8_t *fold, const uint32_t *first, const uint32_t *second,
                           size_t i, uint32_t *x, uint32_t *y)
{
    const plat_edge *e = &p->edges[i];
    uint32_t v = fold[e->a] ? e->a : fold[e->b] ? e->b : UINT32_MAX;

    if (v != UINT32_MAX) {
        fold_ends(p, first, second, v, x, y);
    } else {
        *x = e->a;
        *y = e->b;
    }
    return v;
}

static uint64_t pair_key(uint32_t a, uint32_t b)
{
    return a < b ? (uint64_t)a << 32 | b : (uint64_t)b << 32 | a;
}

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return (a > b) - (a < b);
}

/* Which routers to fold: two adjacencies, no loop, and no folded neighbour
 * (so every folded route joins two declared vertices); and no fold whose
 * two vertices another route already joins (SimGrid refuses a second route
 * between a pair; the templates make none, this keeps it so). fold[v] is 1
 * for those; first[v] and second[v] are their two edges. */
static int pick_folds(const plat *p, uint8_t *fold, uint32_t *first, uint32_t *second)
{
    uint32_t *deg = calloc(p->nvertices + 1, sizeof(*deg));
    uint64_t *keys = malloc((p->nedges + 1) * sizeof(*keys));
    size_t nkeys = 0;

    if (deg == NULL || keys == NULL) { /* not the unfolded file: results could differ by a rounding */
        free(deg);
        free(keys);
        return SP_ENOMEM;
    }
    for (size_t i = 0; i < p->nedges; i++) {
        const plat_edge *e = &p->edges[i];
        uint32_t ends[2] = {e->a, e->b};
        for (int k = 0; k < 2; k++) {
            uint32_t v = ends[k];
            if (deg[v] == 0)
                first[v] = (uint32_t)i;
            else if (deg[v] == 1)
                second[v] = (uint32_t)i;
            deg[v]++;
        }
    }
    for (uint32_t v = 0; v < p->nvertices; v++) {
        const plat_edge *e1, *e2;
        uint32_t x, y;
        if (p->vertices[v].rank >= 0 || deg[v] != 2)
            continue;
        e1 = &p->edges[first[v]];
        e2 = &p->edges[second[v]];
        if (e1->a == e1->b || e2->a == e2->b)
            continue;
        x = e1->a == v ? e1->b : e1->a;
        y = e2->a == v ? e2->b : e2->a;
        if (x != y && !fold[x] && !fold[y])
            fold[v] = 1;
    }
    /* Every pair the file will join, once per route; a fold whose pair
     * comes up twice is undone (its router and two routes stay). */
    for (size_t i = 0; i < p->nedges; i++)
        if (!fold[p->edges[i].a] && !fold[p->edges[i].b])
            keys[nkeys++] = pair_key(p->edges[i].a, p->edges[i].b);
    for (uint32_t v = 0; v < p->nvertices; v++)
        if (fold[v]) {
            uint32_t x, y;
            fold_ends(p, first, second, v, &x, &y);
            keys[nkeys++] = pair_key(x, y);
        }
    qsort(keys, nkeys, sizeof(*keys), cmp_u64);
    for (uint32_t v = 0; v < p->nvertices; v++)
        if (fold[v]) {
            uint32_t x, y;
            uint64_t k;
            const uint64_t *at;
            fold_ends(p, first, second, v, &x, &y);
            k = pair_key(x, y);
            at = bsearch(&k, keys, nkeys, sizeof(*keys), cmp_u64);
            if ((at > keys && at[-1] == k) || (at + 1 < keys + nkeys && at[1] == k))
                fold[v] = 0;
        }
    free(deg);
    free(keys);
    return SP_OK;
}

/* Which vertices and routes the file of some nodes holds (keep, per node):
 * the kept nodes' vertices and the fabric's switches, less the dead ends
 * (a switch with one route left can be on no route between two others, so
 * take it out, and again, up the tree); a route when both its ends stay.
 * Folded routers stay out, as in the whole file. */
static void pick_vertices(const plat *p, const uint8_t *keep, const uint8_t *fold, const uint32_t *first,
                          const uint32_t *second, uint8_t *in)
{
    uint32_t *deg = malloc((p->nvertices + 1) * sizeof(*deg));
    int changed = 1;

    for (size_t v = 0; v < p->nvertices; v++)
        in[v] = !fold[v] && (keep == NULL || p->vertices[v].node < 0 || keep[p->vertices[v].node]);
    if (keep == NULL || deg == NULL) { /* no memory: every switch stays (a larger file, the same routes) */
        free(deg);
        return;
    }
    while (changed) {
        changed = 0;
        memset(deg, 0, (p->nvertices + 1) * sizeof(*deg));
        for (size_t i = 0; i < p->nedges; i++) {
            uint32_t x, y, v = edge_route(p, fold, first, second, i, &x, &y);
            if (v != UINT32_MAX && i != first[v])
                continue; /* a folded route counts once */
            if (in[x] && in[y]) {
                deg[x]++;
                deg[y]++;
            }
        }
        for (size_t v = 0; v < p->nvertices; v++)
            if (in[v] && p->vertices[v].rank < 0 && deg[v] <= 1) {
                in[v] = 0;
                changed = 1;
            }
    }
    free(deg);
}

int plat_xml_write(const plat *p, FILE *fp)
{
    return plat_xml_write_nodes(p, NULL, fp);
}

int plat_xml_write_nodes(const plat *p, const uint8_t *keep, FILE *fp)
{
    uint8_t *fold = calloc(p->nvertices + 1, 1), *in = calloc(p->nvertices + 1, 1), *used = NULL;
    uint32_t *first = calloc(p->nvertices + 1, sizeof(*first)), *second = calloc(p->nvertices + 1, sizeof(*second));
    int err, kept_nodes = 0;

    if (keep != NULL)
        used = calloc(p->nlinks + 1, 1);
    if (fold == NULL || in == NULL || first == NULL || second == NULL || (keep != NULL && used == NULL) ||
        pick_folds(p, fold, first, second) < 0) {
        free(fold);
        free(in);
        free(first);
        free(second);
        free(used);
        return SP_ENOMEM;
    }
    pick_vertices(p, keep, fold, first, second, in);
    for (int k = 0; k < p->nodes; k++)
        kept_nodes += keep == NULL || keep[k];
    /* The links the kept routes cross (markers too); the whole file declares every link. */
    for (size_t i = 0; i < p->nedges && used != NULL; i++) {
        const plat_edge *e = &p->edges[i];
        uint32_t x, y;
        edge_route(p, fold, first, second, i, &x, &y);
        if (in[x] && in[y]) {
            used[e->link] = 1;
            if (e->nmarks > 0)
                used[e->mark] = 1;
        }
    }
    fprintf(fp, "<?xml version='1.0'?>\n"
                "<!DOCTYPE platform SYSTEM \"https://simgrid.org/simgrid.dtd\">\n"
                "<!-- generated by scalepath from %s (%s), %d node(s), %d rank(s)",
            p->path, p->name, p->nodes, p->nranks);
    if (keep != NULL)
        fprintf(fp, "; %d node(s) kept, the others' GPUs and NICs left out", kept_nodes);
    fprintf(fp, " -->\n"
                "<platform version=\"4.1\">\n"
                "<zone id=\"world\" routing=\"DijkstraCache\">\n");
    for (size_t i = 0; i < p->nvertices; i++) {
        const plat_vertex *v = &p->vertices[i];
        if (!in[i])
            continue;
        if (v->rank >= 0)
            fprintf(fp, "  <host id=\"%s\" speed=\"%.17gf\"/>\n", v->name,
                    plat_type_of_rank(p, v->rank)->gpu.peak_flops[PLAT_BF16]);
        else
            fprintf(fp, "  <router id=\"%s\"/>\n", v->name);
    }
    for (size_t i = 0; i < p->nlinks; i++) {
        static const char *const policy[] = {"SPLITDUPLEX", "SHARED", "FATPIPE"};
        const plat_link *l = &p->links[i];
        if (used != NULL && !used[i])
            continue;
        fprintf(fp, "  <link id=\"%s\" bandwidth=\"%.17gBps\" latency=\"%.17gs\" sharing_policy=\"%s\"/>\n",
                l->name, l->bw_Bps, l->lat_s, policy[l->sharing]);
    }
    /* Routes in the edges' order (SimGrid numbers its graph's vertices as
     * routes name them, and breaks ties between equal paths by that number):
     * a folded router's route where its first edge was. */
    for (size_t i = 0; i < p->nedges; i++) {
        const plat_edge *e = &p->edges[i];
        const plat_link *l = &p->links[e->link];
        uint32_t x, y, v = edge_route(p, fold, first, second, i, &x, &y);
        if ((v != UINT32_MAX && i != first[v]) || !in[x] || !in[y])
            continue;
        if (v != UINT32_MAX) {
            const plat_edge *e1 = &p->edges[first[v]], *e2 = &p->edges[second[v]];
            fprintf(fp, "  <route src=\"%s\" dst=\"%s\">", p->vertices[x].name, p->vertices[y].name);
            put_leg_backwards(p, fp, e2, v);
            put_leg_backwards(p, fp, e1, x);
            fprintf(fp, "</route>\n");
            continue;
        }
        fprintf(fp, "  <route src=\"%s\" dst=\"%s\"><link_ctn id=\"%s\"%s/>", p->vertices[e->a].name,
                p->vertices[e->b].name, l->name,
                l->sharing == PLAT_SPLITDUPLEX ? " direction=\"UP\"" : "");
        for (int m = 0; m < e->nmarks; m++)
            fprintf(fp, "<link_ctn id=\"%s\"/>", p->links[e->mark].name);
        fprintf(fp, "</route>\n");
    }
    fprintf(fp, "</zone>\n</platform>\n");
    err = ferror(fp) ? SP_EIO : SP_OK;
    free(fold);
    free(in);
    free(first);
    free(second);
    free(used);
    return err;
}
