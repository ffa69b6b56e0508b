/* plat_topo.c - expand the fabric template into vertices and links, and
 * answer route questions from the template itself (no SimGrid).
 *
 * Naming (also the SimGrid ids): GPU hosts "n<node>g<gpu>", the node's
 * NVSwitch router "n<node>nvsw", NIC routers "n<node>nic<j>", the switch
 * "sw0". Links: "n<k>g<g>-nvl" (GPU-NVSwitch), "n<k>g<g>-nic" (GPU-NIC, PCIe
 * side), "cable<j>" (direct template, NIC j of node 0 to NIC j of node 1),
 * "n<k>nic<j>-port" (NIC to switch). Every link is full duplex: its
 * bandwidth holds in each direction independently.
 */
#include "plat/plat.h"

#include <stdlib.h>
#include <string.h>

#include "util/str.h"

typedef struct builder {
    plat *p;
    size_t vcap, lcap;
    int err;
} builder;

static uint32_t add_vertex(builder *b, int rank, char *name)
{
    plat *p = b->p;

    if (name == NULL)
        b->err = SP_ENOMEM;
    if (b->err < 0) {
        free(name);
        return 0;
    }
    if (p->nvertices == b->vcap) {
        size_t cap = b->vcap ? 2 * b->vcap : 64;
        plat_vertex *v = realloc(p->vertices, cap * sizeof(*v));
        if (v == NULL) {
            free(name);
            b->err = SP_ENOMEM;
            return 0;
        }
        p->vertices = v;
        b->vcap = cap;
    }
    p->vertices[p->nvertices] = (plat_vertex){name, rank};
    return (uint32_t)p->nvertices++;
}

static void add_link(builder *b, char *name, double bw, double lat, uint32_t a, uint32_t c)
{
    plat *p = b->p;

    if (name == NULL)
        b->err = SP_ENOMEM;
    if (b->err < 0) {
        free(name);
        return;
    }
    if (p->nlinks == b->lcap) {
        size_t cap = b->lcap ? 2 * b->lcap : 64;
        plat_link *l = realloc(p->links, cap * sizeof(*l));
        if (l == NULL) {
            free(name);
            b->err = SP_ENOMEM;
            return;
        }
        p->links = l;
        b->lcap = cap;
    }
    p->links[p->nlinks++] = (plat_link){name, bw, lat, a, c};
}

static void clear_topology(plat *p)
{
    for (size_t i = 0; i < p->nvertices; i++)
        free(p->vertices[i].name);
    for (size_t i = 0; i < p->nlinks; i++)
        free(p->links[i].name);
    free(p->vertices);
    free(p->links);
    p->vertices = NULL;
    p->links = NULL;
    p->nvertices = p->nlinks = 0;
}

/* Bandwidth of a NIC's port on the wire, after packet headers. */
static double port_bw(const plat *p)
{
    return p->nic.line_bw_Bps * p->nic.efficiency;
}

int plat_set_nodes(plat *p, int nodes, diag_list *diag)
{
    builder b = {p, 0, 0, SP_OK};
    int G = p->gpus_per_node;
    uint32_t sw = 0;
    uint32_t *nic_v = NULL; /* vertex of NIC j of node k, at k * count + j */

    clear_topology(p);
    p->nodes = p->nranks = 0;
    if (nodes < 1) {
        diag_error(diag, (sp_loc){p->path, 0}, "the node count must be at least 1, got %d", nodes);
        return SP_EINPUT;
    }
    if ((long long)nodes * G > 1048576) {
        diag_error(diag, (sp_loc){p->path, 0}, "%d nodes of %d GPUs exceed 1,048,576 ranks", nodes,
                   G);
        return SP_EINPUT;
    }
    if (nodes > 1) {
        if (p->fabric.src.file == NULL) {
            diag_error(diag, (sp_loc){p->path, 1},
                       "platform \"%s\" has no fabric, so it holds one node only (got -n %d)",
                       p->name, nodes);
            return SP_EINPUT;
        }
        if (p->fabric.kind == PLAT_FABRIC_DIRECT && nodes != 2) {
            diag_error(diag, p->fabric.src,
                       "fabric: the direct template joins exactly 2 nodes (got -n %d)", nodes);
            return SP_EINPUT;
        }
        if (p->fabric.kind == PLAT_FABRIC_SWITCH &&
            (long long)nodes * p->nic.count > p->fabric.switch_ports) {
            diag_error(diag, p->fabric.src,
                       "fabric: %d nodes with %d NIC(s) each need %lld switch ports, the switch has %d",
                       nodes, p->nic.count, (long long)nodes * p->nic.count, p->fabric.switch_ports);
            return SP_EINPUT;
        }
    }
    p->nodes = nodes;
    p->nranks = nodes * G;

    /* GPUs first, so vertex index == rank for every GPU. */
    for (int k = 0; k < nodes; k++)
        for (int g = 0; g < G; g++)
            add_vertex(&b, k * G + g, str_format("n%dg%d", k, g));
    if (G > 1) {
        for (int k = 0; k < nodes; k++) {
            uint32_t nv = add_vertex(&b, -1, str_format("n%dnvsw", k));
            for (int g = 0; g < G; g++)
                add_link(&b, str_format("n%dg%d-nvl", k, g), p->intra.bw_Bps, p->intra.lat_s / 2,
                         (uint32_t)(k * G + g), nv);
        }
    }
    if (nodes > 1) {
        int C = p->nic.count;
        nic_v = calloc((size_t)nodes * (size_t)C, sizeof(*nic_v));
        if (nic_v == NULL)
            b.err = SP_ENOMEM;
        for (int k = 0; k < nodes && b.err == SP_OK; k++) {
            for (int j = 0; j < C; j++)
                nic_v[k * C + j] = add_vertex(&b, -1, str_format("n%dnic%d", k, j));
            for (int g = 0; g < G; g++)
                add_link(&b, str_format("n%dg%d-nic", k, g), p->nic.host_bw_Bps, p->nic.lat_s,
                         (uint32_t)(k * G + g), nic_v[k * C + plat_rank_nic(p, k * G + g)]);
        }
        if (b.err == SP_OK && p->fabric.kind == PLAT_FABRIC_DIRECT) {
            for (int j = 0; j < C; j++)
                add_link(&b, str_format("cable%d", j), port_bw(p), p->fabric.cable_lat_s,
                         nic_v[j], nic_v[C + j]);
        } else if (b.err == SP_OK) {
            sw = add_vertex(&b, -1, str_format("sw0"));
            for (int k = 0; k < nodes; k++)
                for (int j = 0; j < C; j++)
                    add_link(&b, str_format("n%dnic%d-port", k, j), port_bw(p),
                             p->fabric.cable_lat_s + p->fabric.switch_lat_s / 2, nic_v[k * C + j],
                             sw);
        }
    }
    free(nic_v);
    if (b.err < 0) {
        clear_topology(p);
        p->nodes = p->nranks = 0;
    }
    return b.err;
}

int plat_rank_node(const plat *p, int rank)
{
    return rank / p->gpus_per_node;
}

int plat_rank_local(const plat *p, int rank)
{
    return rank % p->gpus_per_node;
}

int plat_rank_nic(const plat *p, int rank)
{
    int g = plat_rank_local(p, rank);

    if (p->nic.count <= 0)
        return -1;
    return (int)((long long)g * p->nic.count / p->gpus_per_node);
}

const char *plat_rank_host(const plat *p, int rank)
{
    return p->vertices[rank].name;
}

static double min2(double a, double b)
{
    return a < b ? a : b;
}

plat_path plat_route(const plat *p, int a, int b)
{
    plat_path r = {PLAT_PATH_SELF, 0.0, 0.0, 0};

    if (a == b)
        return r;
    if (plat_rank_node(p, a) == plat_rank_node(p, b)) {
        r.cls = PLAT_PATH_NVLINK;
        r.lat_s = p->intra.lat_s;
        r.bw_Bps = p->intra.bw_Bps;
        r.hops = 2;
        return r;
    }
    r.cls = PLAT_PATH_NET;
    r.lat_s = 2 * p->nic.lat_s;
    r.bw_Bps = min2(p->nic.host_bw_Bps, port_bw(p));
    r.hops = 2;
    if (p->fabric.kind == PLAT_FABRIC_DIRECT) {
        r.lat_s += p->fabric.cable_lat_s;
        r.hops += 1;
        if (plat_rank_nic(p, a) != plat_rank_nic(p, b)) {
            /* One cable per NIC index: the route crosses NVLink on one side. */
            r.lat_s += p->intra.lat_s;
            r.bw_Bps = min2(r.bw_Bps, p->intra.bw_Bps);
            r.hops += 2;
        }
    } else {
        r.lat_s += 2 * p->fabric.cable_lat_s + p->fabric.switch_lat_s;
        r.hops += 2;
    }
    return r;
}
