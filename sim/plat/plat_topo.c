/* plat_topo.c - expand the fabric template into vertices and links, and
 * answer route questions from the template itself (no SimGrid).
 *
 * Vertex and link names are the SimGrid ids (routers with two adjacencies,
 * such as a GPU's own NIC, are folded out of the SimGrid file: plat_xml.c).
 * GPUs come first, so a GPU's
 * vertex index is its rank: "n<k>g<g>". Routers: the node's intra-node hub
 * "n<k>nvsw" (NVSwitch) or "n<k>pcie" (PCIe host bridge), NICs
 * "n<k>nic<j>", switches "sw0", fat-tree leaves "u<u>leaf<j>", spines
 * "spine" (2 tiers) or "u<u>spine" + "core" (3 tiers).
 *
 * Routes are shortest paths (SimGrid's Dijkstra counts links). The
 * templates are built so that every intra-node route and every
 * rail-aligned inter-node route (NIC j to NIC j) has one shortest path,
 * which plat_route() reproduces link by link. On a fat-tree so does every
 * route between different rails: out of the source GPU's own NIC and
 * through the spine (markers weigh the NVLink edges, see plat_set_nodes).
 * Elsewhere (two nodes cabled back to back, a ring, GPUs sharing a NIC) a
 * route between rails may have several shortest paths; plat_route() then
 * reports the one that crosses the source node's intra fabric first (PXN).
 * The collective planner sends rail-aligned traffic only over the network,
 * relaying through the rail's GPU as NCCL's PXN does (coll_pxn_relay; so do
 * emulated sends); replayed sends and receives name no communicator and
 * take these routes.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plat/plat_int.h"
#include "util/str.h"
#include "util/vec.h"

typedef struct builder {
    plat *p;
    size_t vcap, lcap, ecap;
    int err;
} builder;

/* A vertex of node `node` (-1: the fabric's). */
static uint32_t add_vertex(builder *b, int rank, int node, char *name)
{
    plat *p = b->p;

    if (name == NULL)
        b->err = SP_ENOMEM;
    if (b->err < 0) {
        free(name);
        return 0;
    }
    if (vec_reserve((void **)&p->vertices, &b->vcap, p->nvertices + 1, sizeof(*p->vertices)) < 0) {
        free(name);
        b->err = SP_ENOMEM;
        return 0;
    }
    p->vertices[p->nvertices] = (plat_vertex){name, rank, node};
    return (uint32_t)p->nvertices++;
}

static void add_edge(builder *b, uint32_t a, uint32_t c, uint32_t link)
{
    plat *p = b->p;

    if (b->err < 0)
        return;
    if (vec_reserve((void **)&p->edges, &b->ecap, p->nedges + 1, sizeof(*p->edges)) < 0) {
        b->err = SP_ENOMEM;
        return;
    }
    p->edges[p->nedges++] = (plat_edge){a, c, link, PLAT_NONE, 0};
}

/* A link without an edge yet (a shared link gets its edges one by one). */
static uint32_t new_link(builder *b, char *name, double bw, double lat, plat_sharing sharing)
{
    plat *p = b->p;

    if (name == NULL)
        b->err = SP_ENOMEM;
    if (b->err < 0) {
        free(name);
        return PLAT_NONE;
    }
    if (vec_reserve((void **)&p->links, &b->lcap, p->nlinks + 1, sizeof(*p->links)) < 0) {
        free(name);
        b->err = SP_ENOMEM;
        return PLAT_NONE;
    }
    p->links[p->nlinks] = (plat_link){name, bw, lat, sharing, UINT32_MAX, UINT32_MAX};
    return (uint32_t)p->nlinks++;
}

/* A full-duplex link joining two vertices. */
static uint32_t add_link(builder *b, char *name, double bw, double lat, uint32_t a, uint32_t c)
{
    uint32_t l = new_link(b, name, bw, lat, PLAT_SPLITDUPLEX);

    if (l != PLAT_NONE) {
        add_edge(b, a, c, l);
        b->p->links[l].a = a;
        b->p->links[l].b = c;
    }
    return l;
}

void plat__clear_topology(plat *p)
{
    plat_topo *t = p->topo;

    for (size_t i = 0; i < p->nvertices; i++)
        free(p->vertices[i].name);
    for (size_t i = 0; i < p->nlinks; i++)
        free(p->links[i].name);
    free(p->vertices);
    free(p->links);
    free(p->edges);
    free(p->node_type);
    free(p->node_rank0);
    free(p->rank_node);
    if (t != NULL) {
        free(t->gpu_intra);
        free(t->gpu_host);
        free(t->gpu_mark);
        free(t->node_bounce);
        free(t->nic_base);
        free(t->nic_port);
        free(t->ring_fwd);
        free(t->leaf_up);
        free(t->unit_core);
        free(t);
    }
    p->vertices = NULL;
    p->links = NULL;
    p->edges = NULL;
    p->nedges = 0;
    p->node_type = p->node_rank0 = p->rank_node = NULL;
    p->topo = NULL;
    p->nvertices = p->nlinks = 0;
    p->nodes = p->nranks = 0;
}

/* Bandwidth of a NIC's port on the wire, after packet headers. */
static double wire_bw(const plat_nic *n)
{
    return n->line_bw_Bps * n->efficiency;
}

static double min2(double a, double b)
{
    return a < b ? a : b;
}

static void *alloc_n(builder *b, size_t n, size_t size)
{
    void *q = calloc(n ? n : 1, size);
    if (q == NULL)
        b->err = SP_ENOMEM;
    return q;
}

static void fill_none(uint32_t *a, size_t n)
{
    for (size_t i = 0; a != NULL && i < n; i++)
        a[i] = PLAT_NONE;
}

/* Check that the template can hold the node count; report at the fabric. */
static int check_count(const plat *p, int nodes, diag_list *diag)
{
    const plat_fabric *f = &p->fabric;
    sp_loc at = f->src.file != NULL ? f->src : (sp_loc){p->path, 1};

    if (nodes > 1 && f->kind == PLAT_FABRIC_NONE) {
        diag_error(diag, at, "platform \"%s\" has no fabric, so it holds one node only (got %d)",
                   p->name, nodes);
        return SP_EINPUT;
    }
    if (f->kind == PLAT_FABRIC_DIRECT && nodes > 2) {
        diag_error(diag, at, "fabric: the direct template joins at most 2 nodes (got -n %d)",
                   nodes);
        return SP_EINPUT;
    }
    if (f->kind == PLAT_FABRIC_SWITCH) {
        long long ports = (long long)nodes * p->types[0].nic.count;
        if (p->comp_count != NULL) {
            ports = 0;
            for (size_t i = 0; i < p->ncomp; i++)
                ports += (long long)p->comp_count[i] * p->types[p->comp_type[i]].nic.count;
        }
        if (ports > f->switch_ports) {
            diag_error(diag, at, "fabric: %d nodes need %lld switch ports (one per NIC), the switch has %d",
                       nodes, ports, f->switch_ports);
            return SP_EINPUT;
        }
    }
    if (f->kind == PLAT_FABRIC_FAT_TREE) {
        /* Leaves per rail: one per unit. A 2-tier Clos of radix-k switches
         * joins at most k leaves per spine plane; 3 tiers, k * k / 2. */
        long long units = (nodes + f->nodes_per_unit - 1) / f->nodes_per_unit;
        long long rails = 0, leaves;
        for (size_t i = 0; i < p->ntypes; i++)
            if (p->types[i].nic.count > rails)
                rails = p->types[i].nic.count;
        leaves = units * rails;
        long long max = f->tiers == 2 ? f->switch_ports : (long long)f->switch_ports * f->switch_ports / 2;
        if (leaves > max) {
            diag_error(diag, at,
                       "fabric: %d nodes make %lld units of %d, so %lld leaves; a %d-tier fat tree "
                       "of %d-port switches holds at most %lld",
                       nodes, units, f->nodes_per_unit, leaves, f->tiers, f->switch_ports, max);
            return SP_EINPUT;
        }
    }
    return SP_OK;
}

int plat_set_nodes(plat *p, int nodes, diag_list *diag)
{
    builder b = {p, 0, 0, 0, SP_OK};
    plat_topo *t;
    long long nranks = 0;
    uint32_t *nic_v = NULL;
    size_t nnics = 0;
    const plat_fabric *fb = &p->fabric;

    plat__clear_topology(p);
    if (p->fixed_nodes > 0) {
        if (nodes != 0 && nodes != p->fixed_nodes) {
            diag_error(diag, (sp_loc){p->path, 1},
                       "platform \"%s\" has a fixed composition of %d nodes (got -n %d)", p->name,
                       p->fixed_nodes, nodes);
            return SP_EINPUT;
        }
        nodes = p->fixed_nodes;
    } else if (nodes == 0) {
        nodes = 1;
    }
    if (nodes < 1) {
        diag_error(diag, (sp_loc){p->path, 1}, "the node count must be at least 1, got %d", nodes);
        return SP_EINPUT;
    }
    if (check_count(p, nodes, diag) < 0)
        return SP_EINPUT;

    p->node_type = alloc_n(&b, (size_t)nodes, sizeof(int));
    p->node_rank0 = alloc_n(&b, (size_t)nodes + 1, sizeof(int));
    p->topo = t = alloc_n(&b, 1, sizeof(*t));
    if (b.err < 0)
        goto done;
    t->ring_mark = PLAT_NONE;
    for (int k = 0, c = 0, left = 0; k < nodes; k++) {
        if (p->comp_count == NULL)
            p->node_type[k] = 0;
        else {
            while (left == 0)
                left = p->comp_count[c++];
            p->node_type[k] = p->comp_type[c - 1];
            left--;
        }
        p->node_rank0[k] = (int)nranks;
        nranks += p->types[p->node_type[k]].gpus;
    }
    if (nranks > 1048576) {
        diag_error(diag, (sp_loc){p->path, 1}, "%d nodes make %lld ranks, more than 1,048,576",
                   nodes, nranks);
        b.err = SP_EINPUT;
        goto done;
    }
    p->node_rank0[nodes] = (int)nranks;
    p->nodes = nodes;
    p->nranks = (int)nranks;
    p->rank_node = alloc_n(&b, (size_t)nranks, sizeof(int));
    t->gpu_intra = alloc_n(&b, (size_t)nranks, sizeof(uint32_t));
    t->gpu_host = alloc_n(&b, (size_t)nranks, sizeof(uint32_t));
    t->gpu_mark = alloc_n(&b, (size_t)nranks, sizeof(uint32_t));
    t->node_bounce = alloc_n(&b, (size_t)nodes, sizeof(uint32_t));
    t->nic_base = alloc_n(&b, (size_t)nodes + 1, sizeof(size_t));
    if (b.err < 0)
        goto done;
    fill_none(t->gpu_intra, (size_t)nranks);
    fill_none(t->gpu_host, (size_t)nranks);
    fill_none(t->gpu_mark, (size_t)nranks);
    fill_none(t->node_bounce, (size_t)nodes);
    for (int k = 0; k < nodes; k++) {
        t->nic_base[k] = nnics;
        nnics += nodes > 1 ? (size_t)p->types[p->node_type[k]].nic.count : 0;
        for (int r = p->node_rank0[k]; r < p->node_rank0[k + 1]; r++)
            p->rank_node[r] = k;
    }
    t->nic_base[nodes] = nnics;

    /* GPUs first, so vertex index == rank for every GPU. */
    for (int k = 0; k < nodes; k++)
        for (int g = 0; g < plat_node_gpus(p, k); g++)
            add_vertex(&b, p->node_rank0[k] + g, k, str_format("n%dg%d", k, g));

    /* Between nodes of a rail-optimized fat-tree, a route from GPU a to a GPU
     * b on another rail has three shortest paths of equal length: out of a's
     * own NIC and through the spine, or over NVLink on either node to the GPU
     * on the other rail (PXN). A marker on every GPU's NVLink edge makes the
     * first, which uses no NVLink, the one shortest path: what NCCL does when
     * no GPU of the communicator sits on the destination's rail. PXN, when one
     * does, is the collective planner's to lay out (coll_plan.c). Not when a
     * node's GPUs share NICs: GPU - NIC - GPU would then undercut NVLink. */
    t->weigh_intra = fb->kind == PLAT_FABRIC_FAT_TREE && nodes > 1;
    for (int k = 0; k < nodes; k++) {
        const plat_node_type *ty = plat_type_of_node(p, k);
        if (ty->gpus >= 2 && (ty->intra.kind != PLAT_INTRA_NVSWITCH || ty->nic.count < ty->gpus))
            t->weigh_intra = 0;
    }

    /* Intra-node fabric. */
    for (int k = 0; k < nodes && b.err == SP_OK; k++) {
        const plat_node_type *ty = plat_type_of_node(p, k);
        const plat_intra *in = &ty->intra;
        uint32_t hub;
        if (ty->gpus < 2 || in->kind == PLAT_INTRA_NONE)
            continue;
        hub = add_vertex(&b, -1, k, str_format(in->kind == PLAT_INTRA_NVSWITCH ? "n%dnvsw" : "n%dpcie", k));
        if (in->kind == PLAT_INTRA_PCIE && !in->p2p) {
            /* Without P2P every byte is written to host memory by the sender and read
             * from it by the receiver: a shared link crossed twice per route. */
            t->node_bounce[k] = new_link(&b, str_format("n%dhostmem", k), in->bounce_bw_Bps, 0.0,
                                         PLAT_SHARED);
        }
        for (int g = 0; g < ty->gpus; g++) {
            int r = p->node_rank0[k] + g;
            char *name = str_format(in->kind == PLAT_INTRA_NVSWITCH ? "n%dg%d-nvl" : "n%dg%d-pcie", k, g);
            if (in->kind == PLAT_INTRA_PCIE && !in->p2p) {
                uint32_t port = add_vertex(&b, -1, k, str_format("n%dg%dport", k, g));
                t->gpu_intra[r] = add_link(&b, name, in->bw_Bps, in->lat_s / 2, (uint32_t)r, port);
                add_edge(&b, port, hub, t->node_bounce[k]);
            } else {
                t->gpu_intra[r] = add_link(&b, name, in->bw_Bps, in->lat_s / 2, (uint32_t)r, hub);
                if (t->weigh_intra && b.err == SP_OK) {
                    t->gpu_mark[r] = new_link(&b, str_format("n%dg%d-w", k, g), 1e15, 0.0, PLAT_FATPIPE);
                    p->edges[p->nedges - 1].mark = t->gpu_mark[r];
                    p->edges[p->nedges - 1].nmarks = 1;
                }
            }
        }
    }

    /* NICs, when the nodes are joined. */
    if (nodes > 1 && b.err == SP_OK) {
        nic_v = alloc_n(&b, nnics, sizeof(uint32_t));
        t->nic_port = alloc_n(&b, nnics, sizeof(uint32_t));
        fill_none(t->nic_port, nnics);
        for (int k = 0; k < nodes && b.err == SP_OK; k++) {
            const plat_node_type *ty = plat_type_of_node(p, k);
            for (int j = 0; j < ty->nic.count; j++)
                nic_v[t->nic_base[k] + (size_t)j] = add_vertex(&b, -1, k, str_format("n%dnic%d", k, j));
            for (int g = 0; g < ty->gpus; g++) {
                int r = p->node_rank0[k] + g;
                t->gpu_host[r] = add_link(&b, str_format("n%dg%d-nic", k, g), ty->nic.host_bw_Bps,
                                          ty->nic.lat_s, (uint32_t)r,
                                          nic_v[t->nic_base[k] + (size_t)plat_rank_nic(p, r)]);
            }
        }
    }

    /* The fabric. */
    if (nodes > 1 && b.err == SP_OK) {
        double port_bw = fb->port_bw_Bps; /* 0 = the NIC's */
        switch (fb->kind) {
        case PLAT_FABRIC_DIRECT: {
            const plat_node_type *a = plat_type_of_node(p, 0), *c = plat_type_of_node(p, 1);
            int n = a->nic.count < c->nic.count ? a->nic.count : c->nic.count;
            for (int j = 0; j < n; j++) {
                uint32_t l = add_link(&b, str_format("cable%d", j), min2(wire_bw(&a->nic), wire_bw(&c->nic)),
                                      fb->cable_lat_s, nic_v[t->nic_base[0] + (size_t)j],
                                      nic_v[t->nic_base[1] + (size_t)j]);
                t->nic_port[t->nic_base[0] + (size_t)j] = l;
                t->nic_port[t->nic_base[1] + (size_t)j] = l;
            }
            break;
        }
        case PLAT_FABRIC_RING: {
            /* Port 1 of NIC j on node k is cabled to port 0 of NIC j on node k+1. Two
             * nodes in a closed ring are joined by both cables: one link of twice the rate.
             * Shortest paths tie half-way round an even ring; every ring edge is made to
             * count 2 and the closing edge 3 (with a no-cost marker link), so exactly one
             * direction is shorter and plat_route() knows which. */
            int links = fb->closed ? (nodes == 2 ? 1 : nodes) : nodes - 1;
            uint32_t mark = PLAT_NONE;
            if (fb->closed && nodes > 2)
                mark = new_link(&b, str_format("ringweight"), 1e15, 0.0, PLAT_FATPIPE);
            t->ring_mark = mark;
            t->ring_fwd = alloc_n(&b, nnics, sizeof(uint32_t));
            fill_none(t->ring_fwd, nnics);
            for (int k = 0; k < links && b.err == SP_OK; k++) {
                int k1 = (k + 1) % nodes;
                const plat_node_type *a = plat_type_of_node(p, k), *c = plat_type_of_node(p, k1);
                int n = a->nic.count < c->nic.count ? a->nic.count : c->nic.count;
                double bw = min2(wire_bw(&a->nic), wire_bw(&c->nic)) *
                            (fb->closed && nodes == 2 ? 2.0 : 1.0);
                for (int j = 0; j < n; j++) {
                    uint32_t l = add_link(&b, str_format("ring%dnic%d", k, j), bw, fb->cable_lat_s,
                                          nic_v[t->nic_base[k] + (size_t)j],
                                          nic_v[t->nic_base[k1] + (size_t)j]);
                    t->ring_fwd[t->nic_base[k] + (size_t)j] = l;
                    if (b.err == SP_OK && mark != PLAT_NONE) {
                        p->edges[p->nedges - 1].mark = mark;
                        p->edges[p->nedges - 1].nmarks = k1 == 0 ? 2 : 1; /* closing edge: 3 */
                    }
                }
            }
            break;
        }
        case PLAT_FABRIC_SWITCH: {
            uint32_t sw = add_vertex(&b, -1, -1, str_format("sw0"));
            for (int k = 0; k < nodes && b.err == SP_OK; k++) {
                const plat_node_type *ty = plat_type_of_node(p, k);
                double bw = port_bw > 0 ? min2(port_bw, wire_bw(&ty->nic)) : wire_bw(&ty->nic);
                for (int j = 0; j < ty->nic.count; j++)
                    t->nic_port[t->nic_base[k] + (size_t)j] =
                        add_link(&b, str_format("n%dnic%d-port", k, j), bw,
                                 fb->cable_lat_s + fb->switch_lat_s / 2,
                                 nic_v[t->nic_base[k] + (size_t)j], sw);
            }
            break;
        }
        case PLAT_FABRIC_FAT_TREE: {
            int units = (nodes + fb->nodes_per_unit - 1) / fb->nodes_per_unit;
            int rails = 0, up_ports = (int)ceil(fb->nodes_per_unit / fb->oversubscription);
            uint32_t top = 0, *leaf;
            double leaf_port_bw = port_bw;
            for (size_t i = 0; i < p->ntypes; i++)
                if (p->types[i].nic.count > rails)
                    rails = p->types[i].nic.count;
            if (leaf_port_bw <= 0)
                for (size_t i = 0; i < p->ntypes; i++)
                    leaf_port_bw = fmax(leaf_port_bw, p->types[i].nic.line_bw_Bps * p->types[i].nic.efficiency);
            t->rails = rails;
            leaf = alloc_n(&b, (size_t)units * (size_t)rails, sizeof(uint32_t));
            t->leaf_up = alloc_n(&b, (size_t)units * (size_t)rails, sizeof(uint32_t));
            if (fb->tiers == 3)
                t->unit_core = alloc_n(&b, (size_t)units, sizeof(uint32_t));
            if (b.err < 0)
                break;
            if (fb->tiers == 2)
                top = add_vertex(&b, -1, -1, str_format("spine"));
            else
                top = add_vertex(&b, -1, -1, str_format("core"));
            for (int u = 0; u < units && b.err == SP_OK; u++) {
                uint32_t spine = top;
                if (fb->tiers == 3) {
                    spine = add_vertex(&b, -1, -1, str_format("u%dspine", u));
                    /* Non-blocking to the core: every leaf uplink of the unit continues up. */
                    t->unit_core[u] = add_link(&b, str_format("u%dspine-core", u),
                                               (double)rails * up_ports * leaf_port_bw,
                                               fb->cable_lat_s + fb->switch_lat_s, spine, top);
                }
                for (int j = 0; j < rails; j++) {
                    size_t at = (size_t)u * (size_t)rails + (size_t)j;
                    leaf[at] = add_vertex(&b, -1, -1, str_format("u%dleaf%d", u, j));
                    /* The leaf's uplinks, aggregated: SimGrid routes one path, so
                     * spreading over spines (ECMP) becomes one link of their sum. */
                    t->leaf_up[at] = add_link(&b, str_format("u%dleaf%d-up", u, j),
                                              (double)up_ports * leaf_port_bw,
                                              fb->cable_lat_s + fb->switch_lat_s, leaf[at], spine);
                }
            }
            for (int k = 0; k < nodes && b.err == SP_OK; k++) {
                const plat_node_type *ty = plat_type_of_node(p, k);
                int u = k / fb->nodes_per_unit;
                double bw = port_bw > 0 ? min2(port_bw, wire_bw(&ty->nic)) : wire_bw(&ty->nic);
                for (int j = 0; j < ty->nic.count; j++)
                    t->nic_port[t->nic_base[k] + (size_t)j] =
                        add_link(&b, str_format("n%dnic%d-leaf", k, j), bw,
                                 fb->cable_lat_s + fb->switch_lat_s / 2,
                                 nic_v[t->nic_base[k] + (size_t)j], leaf[(size_t)u * (size_t)rails + (size_t)j]);
            }
            free(leaf);
            break;
        }
        default:
            break;
        }
    }
done:
    free(nic_v);
    if (b.err < 0)
        plat__clear_topology(p);
    return b.err;
}

const plat_node_type *plat_type_of_node(const plat *p, int node)
{
    return &p->types[p->node_type != NULL ? p->node_type[node] : 0];
}

const plat_node_type *plat_type_of_rank(const plat *p, int rank)
{
    return plat_type_of_node(p, p->rank_node[rank]);
}

int plat_rank_node(const plat *p, int rank)
{
    return p->rank_node[rank];
}

int plat_rank_local(const plat *p, int rank)
{
    return rank - p->node_rank0[p->rank_node[rank]];
}

int plat_node_gpus(const plat *p, int node)
{
    return plat_type_of_node(p, node)->gpus;
}

bool plat_is_homogeneous(const plat *p)
{
    return p->ntypes == 1;
}

int plat_rank_nic(const plat *p, int rank)
{
    const plat_node_type *ty = plat_type_of_rank(p, rank);

    if (ty->nic.model == NULL || ty->nic.count <= 0)
        return -1;
    return (int)((long long)plat_rank_local(p, rank) * ty->nic.count / ty->gpus);
}

const char *plat_rank_host(const plat *p, int rank)
{
    return p->vertices[rank].name;
}

static plat_path route_links(const plat *p, int a, int b);

static void push(const plat *p, plat_path *r, uint32_t link)
{
    if (link == PLAT_NONE || r->hops >= PLAT_MAX_HOPS)
        return;
    r->links[r->hops++] = link;
    r->lat_s += p->links[link].lat_s;
    r->bw_Bps = r->hops == 1 ? p->links[link].bw_Bps : min2(r->bw_Bps, p->links[link].bw_Bps);
}

/* Inside one node: GPU -> hub -> GPU, through host memory without P2P. */
static void intra_path(const plat *p, plat_path *r, int a, int b)
{
    int k = p->rank_node[a];

    push(p, r, p->topo->gpu_intra[a]);
    push(p, r, p->topo->gpu_mark[a]);
    if (p->topo->node_bounce[k] != PLAT_NONE) {
        push(p, r, p->topo->node_bounce[k]);
        push(p, r, p->topo->node_bounce[k]);
    }
    push(p, r, p->topo->gpu_mark[b]);
    push(p, r, p->topo->gpu_intra[b]);
}

/* From NIC j of node ka to NIC jb of node kb: the same rail (j = jb) except
 * on a switch or a fat-tree, whose spine joins the rails. */
static void fabric_path(const plat *p, plat_path *r, int ka, int kb, int j, int jb)
{
    const plat_topo *t = p->topo;
    const plat_fabric *fb = &p->fabric;
    size_t na = t->nic_base[ka] + (size_t)j, nb = t->nic_base[kb] + (size_t)jb;

    switch (fb->kind) {
    case PLAT_FABRIC_DIRECT:
        push(p, r, t->nic_port[na]);
        break;
    case PLAT_FABRIC_RING: {
        /* Shortest by link count, as SimGrid routes: each ring edge counts 2
         * and the closing edge (N-1 to 0) 3 when marked (see plat_set_nodes). */
        int n = p->nodes, fwd = ((kb - ka) % n + n) % n, back = n - fwd;
        int marked = t->ring_mark != PLAT_NONE;
        int fwd_cost = marked ? 2 * fwd + (ka > kb) : fwd;
        int back_cost = marked ? 2 * back + (kb > ka) : back;
        if (n == 2) {
            push(p, r, t->ring_fwd[t->nic_base[0] + (size_t)j]); /* both cables, one link */
        } else if (!fb->closed ? kb > ka : fwd_cost <= back_cost) {
            for (int k = ka; k != kb; k = (k + 1) % n) {
                push(p, r, t->ring_fwd[t->nic_base[k] + (size_t)j]);
                for (int m = marked ? ((k + 1) % n == 0 ? 2 : 1) : 0; m > 0; m--)
                    push(p, r, t->ring_mark);
            }
        } else {
            for (int k = ka; k != kb; k = (k + n - 1) % n) {
                push(p, r, t->ring_fwd[t->nic_base[(k + n - 1) % n] + (size_t)j]);
                for (int m = marked ? (k == 0 ? 2 : 1) : 0; m > 0; m--)
                    push(p, r, t->ring_mark);
            }
        }
        break;
    }
    case PLAT_FABRIC_SWITCH:
        push(p, r, t->nic_port[na]);
        push(p, r, t->nic_port[nb]);
        break;
    case PLAT_FABRIC_FAT_TREE: {
        int ua = ka / fb->nodes_per_unit, ub = kb / fb->nodes_per_unit;
        push(p, r, t->nic_port[na]);
        if (ua != ub || j != jb) {
            push(p, r, t->leaf_up[(size_t)ua * (size_t)t->rails + (size_t)j]);
            if (fb->tiers == 3 && ua != ub) {
                push(p, r, t->unit_core[ua]);
                push(p, r, t->unit_core[ub]);
            }
            push(p, r, t->leaf_up[(size_t)ub * (size_t)t->rails + (size_t)jb]);
        }
        push(p, r, t->nic_port[nb]);
        break;
    }
    default:
        break;
    }
}

/* Which way each link is crossed: walk from the source vertex. A shared or
 * marker link has no direction (and the walk resumes at the next link's
 * end that is not the one we came from). */
static void set_directions(const plat *p, plat_path *r, uint32_t src)
{
    uint32_t cur = src;

    for (int i = 0; i < r->hops; i++) {
        const plat_link *l = &p->links[r->links[i]];
        r->down[i] = 0;
        if (l->a == PLAT_NONE)
            continue;
        if (cur == l->a) {
            cur = l->b;
        } else if (cur == l->b) {
            r->down[i] = 1;
            cur = l->a;
        } else {
            /* After a shared link: enter this link at the end that leads on. */
            const plat_link *next = i + 1 < r->hops ? &p->links[r->links[i + 1]] : NULL;
            int to_a = next != NULL ? (next->a == l->a || next->b == l->a) : 0;
            r->down[i] = (uint8_t)to_a;
            cur = to_a ? l->a : l->b;
            if (next == NULL)
                r->down[i] = l->a < (uint32_t)p->nranks && (int)l->a != (int)src ? 1 : 0;
        }
    }
}

bool plat_rail_routes_unique(const plat *p)
{
    if (p->topo == NULL || p->fabric.kind == PLAT_FABRIC_SWITCH || p->topo->weigh_intra)
        return true;
    for (int k = 0; k < p->nodes; k++)
        if (plat_node_gpus(p, k) >= 2 && plat_type_of_node(p, k)->intra.kind != PLAT_INTRA_NONE)
            return false;
    return true;
}

bool plat_nodes_prunable(const plat *p)
{
    if (p->topo == NULL || p->nodes < 2 ||
        (p->fabric.kind != PLAT_FABRIC_SWITCH && p->fabric.kind != PLAT_FABRIC_FAT_TREE))
        return false;
    /* Ties, where which path SimGrid takes depends on the order its Dijkstra
     * meets the whole graph's vertices: with shared NICs an intra-node route
     * ties with GPU - NIC - GPU; through host memory (PCIe without P2P, two
     * links a leg) with GPU - NIC - switch - NIC - GPU. */
    for (int k = 0; k < p->nodes; k++) {
        const plat_node_type *ty = plat_type_of_node(p, k);
        if (ty->gpus >= 2 && (ty->nic.count < ty->gpus || (ty->intra.kind == PLAT_INTRA_PCIE && !ty->intra.p2p)))
            return false;
    }
    return plat_rail_routes_unique(p);
}

plat_path plat_route(const plat *p, int a, int b)
{
    plat_path r = route_links(p, a, b);

    set_directions(p, &r, (uint32_t)a);
    return r;
}

static plat_path route_links(const plat *p, int a, int b)
{
    plat_path r = {PLAT_PATH_SELF, 0.0, 0.0, 0, {0}, {0}};
    int ka, kb, ja, jb;

    if (a == b)
        return r;
    ka = p->rank_node[a];
    kb = p->rank_node[b];
    if (ka == kb) {
        r.cls = plat_type_of_node(p, ka)->intra.kind == PLAT_INTRA_PCIE ? PLAT_PATH_PCIE
                                                                          : PLAT_PATH_NVLINK;
        intra_path(p, &r, a, b);
        return r;
    }
    r.cls = PLAT_PATH_NET;
    ja = plat_rank_nic(p, a);
    jb = plat_rank_nic(p, b);
    if (ja != jb && p->fabric.kind != PLAT_FABRIC_SWITCH && !p->topo->weigh_intra) {
        /* PXN: cross to the source node's GPU on the destination's rail first. */
        int relay = p->node_rank0[ka] + (int)((long long)jb * plat_node_gpus(p, ka) /
                                              plat_type_of_node(p, ka)->nic.count);
        intra_path(p, &r, a, relay);
        a = relay;
        ja = jb;
    }
    push(p, &r, p->topo->gpu_host[a]);
    fabric_path(p, &r, ka, kb, ja, jb);
    push(p, &r, p->topo->gpu_host[b]);
    return r;
}

void plat_describe(const plat *p, char *buf, size_t size)
{
    size_t len = 0;

    buf[0] = '\0';
    for (int k = 0; k < p->nodes && len < size;) {
        int j = k;
        const plat_node_type *ty = plat_type_of_node(p, k);
        while (j < p->nodes && plat_type_of_node(p, j) == ty)
            j++;
        len += (size_t)snprintf(buf + len, size - len, "%s%d x %s (%d %s)", k ? " + " : "", j - k,
                                ty->name, ty->gpus, ty->gpu.model);
        k = j;
    }
}

double plat_bisection_Bps(const plat *p)
{
    const plat_fabric *fb = &p->fabric;
    const plat_topo *t = p->topo;
    int half = p->nodes / 2;
    double inject = 0.0, cut = 0.0;

    if (p->nodes < 2)
        return 0.0;
    for (int k = 0; k < half; k++) {
        const plat_node_type *ty = plat_type_of_node(p, k);
        for (int j = 0; j < ty->nic.count; j++) {
            /* A NIC carries its GPUs' flows: host side per GPU, wire per port link. */
            int gpus = ty->gpus / ty->nic.count > 0 ? ty->gpus / ty->nic.count : 1;
            double wire = p->links[t->nic_port != NULL && t->nic_port[t->nic_base[k] + (size_t)j] != PLAT_NONE
                                       ? t->nic_port[t->nic_base[k] + (size_t)j]
                                       : t->ring_fwd[t->nic_base[k] + (size_t)j]]
                              .bw_Bps;
            inject += min2(gpus * ty->nic.host_bw_Bps, wire);
        }
    }
    switch (fb->kind) {
    case PLAT_FABRIC_DIRECT:
    case PLAT_FABRIC_SWITCH:
        cut = inject; /* a cable each, or a non-blocking switch */
        break;
    case PLAT_FABRIC_RING:
        /* Node k sends to k + N/2: half-way ties route forward, so every flow
         * shares the forward links and the pattern gets one link's rate. */
        for (int j = 0; j < plat_type_of_node(p, 0)->nic.count; j++)
            cut += p->links[t->ring_fwd[t->nic_base[0] + (size_t)j]].bw_Bps;
        break;
    case PLAT_FABRIC_FAT_TREE: {
        int units = (p->nodes + fb->nodes_per_unit - 1) / fb->nodes_per_unit;
        if (units < 2) {
            cut = inject; /* within a unit every rail is one non-blocking leaf */
            break;
        }
        for (int u = 0; u < units / 2; u++) {
            double up = 0.0;
            for (int j = 0; j < t->rails; j++)
                up += p->links[t->leaf_up[(size_t)u * (size_t)t->rails + (size_t)j]].bw_Bps;
            if (fb->tiers == 3)
                up = min2(up, p->links[t->unit_core[u]].bw_Bps);
            cut += up;
        }
        break;
    }
    default:
        break;
    }
    return min2(inject, cut);
}
