/* plat_int.h - internals shared by plat_*.c only. */
#ifndef SP_PLAT_INT_H
#define SP_PLAT_INT_H

#include "plat/plat.h"

#define PLAT_NONE UINT32_MAX

/* Indices of the expanded topology by role, so routes are computed without
 * searching. Arrays are NULL when the template has no such part. */
typedef struct plat_topo {
    uint32_t *gpu_intra;   /* per rank: link GPU - intra hub, PLAT_NONE if none */
    uint32_t *gpu_host;    /* per rank: link GPU - its NIC */
    uint32_t *gpu_mark;    /* per rank: marker weighing its intra edge (fat-tree), PLAT_NONE if none */
    uint32_t *node_bounce; /* per node: shared host-memory link (PCIe without P2P) */
    size_t *nic_base;      /* per node: index of its first NIC in nic_* arrays */
    uint32_t *nic_port;    /* per NIC: link NIC - switch/leaf, or the cable (direct) */
    uint32_t *ring_fwd;    /* ring: per (node k, NIC j) at nic_base[k] + j: link k -> k+1 */
    uint32_t ring_mark;    /* ring: the marker link weighing ring edges, PLAT_NONE if none */
    uint32_t *leaf_up;     /* fat-tree: per (unit u, rail j) at u * rails + j: leaf - spine */
    uint32_t *unit_core;   /* fat-tree, 3 tiers: per unit: unit spine - core */
    int rails;             /* fat-tree: leaves per unit */
    int weigh_intra;       /* fat-tree: gpu_mark set, routes between rails take the spine */
} plat_topo;

void plat__clear_topology(plat *p);

#endif
