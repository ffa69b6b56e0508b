/* wl_chakra.c - Chakra execution traces (shared/CHAKRA.md 4).
 *
 * Each rank's file is read whole through zlib (gzip or plain), split into
 * varint-framed records, and unpacked with the protobuf-c code generated
 * from chakra.proto. Nodes become operations in a dependency-respecting
 * order (Kahn's algorithm, ties in file order); both data and control
 * dependencies count, as in ASTRA-sim's FeederV3.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "chakra.pb-c.h"
#include "util/str.h"
#include "util/vec.h"
#include "wl/wl_int.h"

#define CHAKRA_MAX_FILE (1u << 30) /* 1 GiB per rank file */

/* Read a whole file, gunzipping it if it is gzipped. */
static int slurp(const char *path, unsigned char **out, size_t *len, diag_list *diag)
{
    gzFile f;
    unsigned char *buf = NULL;
    size_t n = 0, cap = 0;

    *out = NULL;
    *len = 0;
    if (diag_check_input(diag, path) < 0)
        return SP_EINPUT;
    if ((f = gzopen(path, "rb")) == NULL) {
        diag_error(diag, (sp_loc){path, 0}, "cannot read: %s", strerror(errno ? errno : ENOENT));
        return SP_EINPUT;
    }
    for (;;) {
        int got;
        if (vec_reserve((void **)&buf, &cap, n + 65536, 1) < 0) {
            free(buf);
            gzclose(f);
            return SP_ENOMEM;
        }
        got = gzread(f, buf + n, 65536);
        if (got < 0) {
            int zerr;
            diag_error(diag, (sp_loc){path, 0}, "cannot decompress: %s", gzerror(f, &zerr));
            free(buf);
            gzclose(f);
            return SP_EINPUT;
        }
        if (got == 0)
            break;
        n += (size_t)got;
        if (n > CHAKRA_MAX_FILE) {
            diag_error(diag, (sp_loc){path, 0}, "larger than %u bytes", CHAKRA_MAX_FILE);
            free(buf);
            gzclose(f);
            return SP_EINPUT;
        }
    }
    gzclose(f);
    *out = buf; /* there is room for a terminating byte: cap >= n + 65536 */
    *len = n;
    return SP_OK;
}

/* A varint of at most 10 bytes; returns 0 if it runs past the end. */
static int varint(const unsigned char *b, size_t n, size_t *pos, uint64_t *v)
{
    uint64_t x = 0;

    for (int shift = 0; shift < 70 && *pos < n; shift += 7) {
        unsigned c = b[(*pos)++];
        x |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *v = x;
            return 1;
        }
    }
    return 0;
}

/* Any integer variant of an attribute (writers differ; FeederV3 converts). */
static int attr_int(const ChakraProtoMsg__AttributeProto *a, int64_t *v)
{
    switch (a->value_case) {
    case CHAKRA_PROTO_MSG__ATTRIBUTE_PROTO__VALUE_INT32_VAL:
        *v = a->int32_val;
        return 1;
    case CHAKRA_PROTO_MSG__ATTRIBUTE_PROTO__VALUE_INT64_VAL:
        *v = a->int64_val;
        return 1;
    case CHAKRA_PROTO_MSG__ATTRIBUTE_PROTO__VALUE_UINT32_VAL:
        *v = a->uint32_val;
        return 1;
    case CHAKRA_PROTO_MSG__ATTRIBUTE_PROTO__VALUE_UINT64_VAL:
        *v = (int64_t)a->uint64_val;
        return 1;
    case CHAKRA_PROTO_MSG__ATTRIBUTE_PROTO__VALUE_SINT32_VAL:
        *v = a->sint32_val;
        return 1;
    case CHAKRA_PROTO_MSG__ATTRIBUTE_PROTO__VALUE_SINT64_VAL:
        *v = a->sint64_val;
        return 1;
    case CHAKRA_PROTO_MSG__ATTRIBUTE_PROTO__VALUE_FIXED32_VAL:
        *v = a->fixed32_val;
        return 1;
    case CHAKRA_PROTO_MSG__ATTRIBUTE_PROTO__VALUE_FIXED64_VAL:
        *v = (int64_t)a->fixed64_val;
        return 1;
    case CHAKRA_PROTO_MSG__ATTRIBUTE_PROTO__VALUE_SFIXED32_VAL:
        *v = a->sfixed32_val;
        return 1;
    case CHAKRA_PROTO_MSG__ATTRIBUTE_PROTO__VALUE_SFIXED64_VAL:
        *v = a->sfixed64_val;
        return 1;
    default:
        return 0;
    }
}

typedef struct node_attrs {
    int has_type, has_size, has_src, has_dst, has_tag, cpu, has_ops, has_tensor;
    int64_t type, size, src, dst, tag, ops, tensor;
    const char *pg; /* pg_name, or NULL */
} node_attrs;

static node_attrs read_attrs(const ChakraProtoMsg__Node *nd)
{
    node_attrs a = {0};

    for (size_t i = 0; i < nd->n_attr; i++) {
        const ChakraProtoMsg__AttributeProto *at = nd->attr[i];
        const char *name = at->name != NULL ? at->name : "";
        if (!strcmp(name, "is_cpu_op") && at->value_case == CHAKRA_PROTO_MSG__ATTRIBUTE_PROTO__VALUE_BOOL_VAL)
            a.cpu = at->bool_val != 0;
        else if (!strcmp(name, "comm_type"))
            a.has_type = attr_int(at, &a.type);
        else if (!strcmp(name, "comm_size"))
            a.has_size = attr_int(at, &a.size);
        else if (!strcmp(name, "comm_src"))
            a.has_src = attr_int(at, &a.src);
        else if (!strcmp(name, "comm_dst"))
            a.has_dst = attr_int(at, &a.dst);
        else if (!strcmp(name, "comm_tag"))
            a.has_tag = attr_int(at, &a.tag);
        else if (!strcmp(name, "num_ops"))
            a.has_ops = attr_int(at, &a.ops);
        else if (!strcmp(name, "tensor_size"))
            a.has_tensor = attr_int(at, &a.tensor);
        else if (!strcmp(name, "pg_name") &&
                 at->value_case == CHAKRA_PROTO_MSG__ATTRIBUTE_PROTO__VALUE_STRING_VAL)
            a.pg = at->string_val;
    }
    return a;
}

/* --- comm groups: {"name": [rank, ...], ...} (ASTRA-sim's comm-group JSON) --- */

typedef struct comm_groups {
    char **names;
    int **ranks;
    int *n;
    size_t count, cap;
} comm_groups;

static void comm_groups_free(comm_groups *g)
{
    for (size_t i = 0; i < g->count; i++) {
        free(g->names[i]);
        free(g->ranks[i]);
    }
    free(g->names);
    free(g->ranks);
    free(g->n);
}

typedef struct jcur {
    const char *s, *path;
    unsigned line;
    diag_list *diag;
} jcur;

static void jskip(jcur *c)
{
    while (*c->s == ' ' || *c->s == '\t' || *c->s == '\r' || *c->s == '\n') {
        if (*c->s == '\n')
            c->line++;
        c->s++;
    }
}

static int jfail(jcur *c, const char *what)
{
    diag_error(c->diag, (sp_loc){c->path, c->line}, "comm groups: expected %s", what);
    return SP_EINPUT;
}

static int comm_groups_load(comm_groups *g, const char *path, int max_rank, diag_list *diag)
{
    unsigned char *buf, *seen; /* seen: per rank, listed in the group being read */
    size_t len;
    jcur c;
    int err;

    memset(g, 0, sizeof(*g));
    if ((err = slurp(path, &buf, &len, diag)) < 0)
        return err;
    buf[len] = '\0'; /* slurp leaves room */
    if ((seen = calloc((size_t)max_rank + 1, 1)) == NULL) {
        free(buf);
        return SP_ENOMEM;
    }
    c = (jcur){(const char *)buf, path, 1, diag};
    jskip(&c);
    if (*c.s++ != '{') {
        free(buf);
        free(seen);
        return jfail(&c, "'{' at the start");
    }
    for (jskip(&c); *c.s != '}' && err == SP_OK;) {
        const char *k0;
        size_t at = g->count;
        jskip(&c);
        if (*c.s++ != '"') {
            err = jfail(&c, "a group name in double quotes");
            break;
        }
        for (k0 = c.s; *c.s != '"' && *c.s != '\0' && *c.s != '\n'; c.s++)
            ;
        if (*c.s != '"') {
            err = jfail(&c, "the closing '\"' of a group name");
            break;
        }
        if (vec_reserve((void **)&g->names, &g->cap, at + 1, sizeof(char *)) < 0 ||
            (g->ranks = realloc(g->ranks, g->cap * sizeof(int *))) == NULL ||
            (g->n = realloc(g->n, g->cap * sizeof(int))) == NULL ||
            (g->names[at] = malloc((size_t)(c.s - k0) + 1)) == NULL) {
            err = SP_ENOMEM;
            break;
        }
        memcpy(g->names[at], k0, (size_t)(c.s - k0));
        g->names[at][c.s - k0] = '\0';
        g->ranks[at] = NULL;
        g->n[at] = 0;
        g->count++;
        for (size_t i = 0; i < at; i++)
            if (strcmp(g->names[i], g->names[at]) == 0) {
                diag_error(diag, (sp_loc){path, c.line}, "comm groups: group \"%s\" is listed twice",
                           g->names[at]);
                err = SP_EINPUT;
            }
        if (err < 0)
            break;
        c.s++;
        jskip(&c);
        if (*c.s++ != ':' || (jskip(&c), *c.s++ != '[')) {
            err = jfail(&c, "':' and a list of ranks '[...]'");
            break;
        }
        for (size_t rcap = 0;;) {
            char *end;
            long v;
            jskip(&c);
            if (*c.s == ']' && g->n[at] == 0) {
                c.s++;
                break;
            }
            v = strtol(c.s, &end, 10);
            if (end == c.s || v < 0 || v >= max_rank) {
                diag_error(diag, (sp_loc){path, c.line},
                           "comm groups: group \"%s\": expected a rank in 0..%d", g->names[at], max_rank - 1);
                err = SP_EINPUT;
                break;
            }
            if (seen[v]) {
                diag_error(diag, (sp_loc){path, c.line}, "comm groups: group \"%s\" lists rank %ld twice",
                           g->names[at], v);
                err = SP_EINPUT;
                break;
            }
            seen[v] = 1;
            c.s = end;
            if (vec_reserve((void **)&g->ranks[at], &rcap, (size_t)g->n[at] + 1, sizeof(int)) < 0) {
                err = SP_ENOMEM;
                break;
            }
            g->ranks[at][g->n[at]++] = (int)v;
            jskip(&c);
            if (*c.s == ',') {
                c.s++;
                continue;
            }
            if (*c.s++ != ']')
                err = jfail(&c, "',' or ']' in a list of ranks");
            break;
        }
        if (err < 0)
            break;
        for (int i = 0; i < g->n[at]; i++)
            seen[g->ranks[at][i]] = 0;
        jskip(&c);
        if (*c.s == ',')
            c.s++;
        else if (*c.s != '}')
            err = jfail(&c, "',' or '}' after a group");
        jskip(&c);
    }
    if (err == SP_OK) { /* the closing '}', then nothing but blanks (a NUL byte is not the end) */
        c.s++;
        jskip(&c);
        if (c.s != (const char *)buf + len)
            err = jfail(&c, "nothing after the closing '}'");
    }
    free(buf);
    free(seen);
    if (err < 0)
        comm_groups_free(g);
    return err;
}

typedef struct id_index {
    uint64_t id;
    uint32_t at; /* record order */
} id_index;

static int cmp_id(const void *a, const void *b)
{
    const id_index *x = a, *y = b;
    return (x->id > y->id) - (x->id < y->id);
}

/* One rank's file -> its operations. */
static int load_rank(wl_builder *b, int rank, const char *path, int nranks, const comm_groups *cg,
                     size_t *dangling, diag_list *diag)
{
    unsigned char *buf;
    size_t len, pos = 0, nnodes = 0, cap = 0;
    ChakraProtoMsg__Node **nodes = NULL;
    id_index *ids = NULL;
    uint32_t **deps = NULL, *ndeps = NULL, *indeg = NULL, *order = NULL, *newidx = NULL;
    int err;
    uint32_t rec = 0;

    if ((err = slurp(path, &buf, &len, diag)) < 0)
        return err;
    while (pos < len) {
        uint64_t n;
        if (!varint(buf, len, &pos, &n) || n > len - pos) {
            diag_error(diag, (sp_loc){path, 0}, "record %u: truncated (the file ends inside it)", rec);
            err = SP_EINPUT;
            break;
        }
        if (rec == 0) {
            ChakraProtoMsg__GlobalMetadata *m = chakra_proto_msg__global_metadata__unpack(NULL, n, buf + pos);
            if (m == NULL) {
                diag_error(diag, (sp_loc){path, 0}, "record 0: not a Chakra GlobalMetadata (bad protobuf)");
                err = SP_EINPUT;
                break;
            }
            chakra_proto_msg__global_metadata__free_unpacked(m, NULL);
        } else {
            ChakraProtoMsg__Node *nd = chakra_proto_msg__node__unpack(NULL, n, buf + pos);
            if (nd == NULL) {
                diag_error(diag, (sp_loc){path, 0}, "record %u: not a Chakra node (bad protobuf)", rec);
                err = SP_EINPUT;
                break;
            }
            if (vec_reserve((void **)&nodes, &cap, nnodes + 1, sizeof(*nodes)) < 0) {
                chakra_proto_msg__node__free_unpacked(nd, NULL);
                err = SP_ENOMEM;
                break;
            }
            nodes[nnodes++] = nd;
        }
        pos += n;
        rec++;
    }
    free(buf);
    if (err == SP_OK && rec == 0) {
        diag_error(diag, (sp_loc){path, 0}, "empty trace: no GlobalMetadata record");
        err = SP_EINPUT;
    }
    if (err < 0)
        goto done;

    /* Node ids -> record order, for dependencies. */
    ids = malloc((nnodes + 1) * sizeof(*ids));
    deps = calloc(nnodes + 1, sizeof(*deps));
    ndeps = calloc(nnodes + 1, sizeof(*ndeps));
    indeg = calloc(nnodes + 1, sizeof(*indeg));
    order = malloc((nnodes + 1) * sizeof(*order));
    newidx = malloc((nnodes + 1) * sizeof(*newidx));
    if (!ids || !deps || !ndeps || !indeg || !order || !newidx) {
        err = SP_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < nnodes; i++)
        ids[i] = (id_index){nodes[i]->id, (uint32_t)i};
    qsort(ids, nnodes, sizeof(*ids), cmp_id);
    for (size_t i = 1; i < nnodes; i++)
        if (ids[i].id == ids[i - 1].id) {
            diag_error(diag, (sp_loc){path, 0}, "record %u: node id %llu is used twice (first at record %u)",
                       ids[i].at + 1, (unsigned long long)ids[i].id, ids[i - 1].at + 1);
            err = SP_EINPUT;
        }
    /* Data and control dependencies both order nodes (ASTRA-sim's FeederV3).
     * In PyTorch-derived traces control dependencies point to the parent CPU
     * operation and can close cycles with the data dependencies; the order
     * then falls back to data dependencies only (the original Chakra feeder). */
    /* Dependencies on nodes absent from the file: warned about (with the count), ignored. */
    for (size_t i = 0; i < nnodes; i++)
        for (size_t k = 0; k < nodes[i]->n_data_deps + nodes[i]->n_ctrl_deps; k++) {
            uint64_t want = k < nodes[i]->n_data_deps ? nodes[i]->data_deps[k]
                                                      : nodes[i]->ctrl_deps[k - nodes[i]->n_data_deps];
            id_index key = {want, 0};
            if (bsearch(&key, ids, nnodes, sizeof(*ids), cmp_id) == NULL)
                (*dangling)++;
        }
    for (int use_ctrl = 1, cycle_with_ctrl = 0; use_ctrl >= 0; use_ctrl--) {
        if (use_ctrl == 0 && !cycle_with_ctrl)
            break;
        if (use_ctrl == 0) {
            diag_warning(diag, (sp_loc){path, 0},
                         "control dependencies close a cycle with data dependencies; ordering by data "
                         "dependencies only");
            for (size_t i = 0; i < nnodes; i++) {
                free(deps[i]);
                deps[i] = NULL;
                ndeps[i] = indeg[i] = 0;
            }
        }
        for (size_t i = 0; i < nnodes && err == SP_OK; i++) {
            const ChakraProtoMsg__Node *nd = nodes[i];
            size_t total = nd->n_data_deps + (use_ctrl ? nd->n_ctrl_deps : 0);
            if ((deps[i] = malloc((total + 1) * sizeof(uint32_t))) == NULL) {
                err = SP_ENOMEM;
                break;
            }
            for (size_t k = 0; k < total; k++) {
                uint64_t want = k < nd->n_data_deps ? nd->data_deps[k] : nd->ctrl_deps[k - nd->n_data_deps];
                id_index key = {want, 0}, *hit = bsearch(&key, ids, nnodes, sizeof(*ids), cmp_id);
                if (hit == NULL)
                    continue; /* counted once, below */
                if (hit->at == i)
                    continue; /* a self-dependency orders nothing */
                deps[i][ndeps[i]++] = hit->at;
                indeg[i]++;
            }
        }
        if (err < 0)
            goto done;
        /* Kahn's algorithm with a min-heap of ready records: a valid order that
         * keeps file order wherever the dependencies allow. O(E + V log V). */
        {
            size_t tail = 0, nheap = 0;
            uint32_t *heap = malloc((nnodes + 1) * sizeof(uint32_t));
            uint32_t **users = calloc(nnodes + 1, sizeof(*users));
            size_t *nusers = calloc(nnodes + 1, sizeof(size_t)), *ucap = calloc(nnodes + 1, sizeof(size_t));
            if (!heap || !users || !nusers || !ucap)
                err = SP_ENOMEM;
            for (size_t i = 0; i < nnodes && err == SP_OK; i++)
                for (uint32_t k = 0; k < ndeps[i]; k++) {
                    uint32_t d = deps[i][k];
                    if (vec_reserve((void **)&users[d], &ucap[d], nusers[d] + 1, sizeof(uint32_t)) < 0) {
                        err = SP_ENOMEM;
                        break;
                    }
                    users[d][nusers[d]++] = (uint32_t)i;
                }
            for (size_t i = 0; i < nnodes && err == SP_OK; i++)
                if (indeg[i] == 0)
                    heap[nheap++] = (uint32_t)i; /* ascending: already a heap */
            while (err == SP_OK && nheap > 0) {
                uint32_t v = heap[0];
                /* pop */
                heap[0] = heap[--nheap];
                for (size_t at = 0;;) {
                    size_t l = 2 * at + 1, r = l + 1, m = at;
                    if (l < nheap && heap[l] < heap[m])
                        m = l;
                    if (r < nheap && heap[r] < heap[m])
                        m = r;
                    if (m == at)
                        break;
                    uint32_t t = heap[at];
                    heap[at] = heap[m];
                    heap[m] = t;
                    at = m;
                }
                order[tail++] = v;
                for (size_t u = 0; u < nusers[v]; u++)
                    if (--indeg[users[v][u]] == 0) {
                        /* push */
                        size_t at = nheap++;
                        heap[at] = users[v][u];
                        while (at > 0 && heap[(at - 1) / 2] > heap[at]) {
                            uint32_t t = heap[at];
                            heap[at] = heap[(at - 1) / 2];
                            heap[(at - 1) / 2] = t;
                            at = (at - 1) / 2;
                        }
                    }
            }
            int any_ctrl = 0;
        for (size_t i = 0; i < nnodes && !any_ctrl; i++)
            any_ctrl = nodes[i]->n_ctrl_deps > 0;
        if (err == SP_OK && tail < nnodes && use_ctrl && any_ctrl) {
                cycle_with_ctrl = 1; /* retried below with data dependencies only */
            } else if (err == SP_OK && tail < nnodes) {
                for (size_t i = 0; i < nnodes; i++)
                    if (indeg[i] != 0) {
                        diag_error(diag, (sp_loc){path, 0},
                                   "record %zu: node %llu (\"%s\") is on a dependency cycle", i + 1,
                                   (unsigned long long)nodes[i]->id, nodes[i]->name ? nodes[i]->name : "");
                        break;
                    }
                err = SP_EINPUT;
            }
            for (size_t i = 0; users != NULL && i < nnodes; i++)
                free(users[i]);
            free(users);
            free(nusers);
            free(ucap);
            free(heap);
        }
        if (err < 0)
            goto done;
    }
    if (err < 0)
        goto done;

    /* Operations in that order, dependencies renumbered. */
    for (size_t t = 0; t < nnodes && b->err == SP_OK && err == SP_OK; t++) {
        uint32_t i = order[t];
        const ChakraProtoMsg__Node *nd = nodes[i];
        node_attrs a = read_attrs(nd);
        wl_op op = {0};
        uint32_t *d = deps[i];
        op.name = wl__intern(b, nd->name != NULL ? nd->name : "");
        op.node_id = nd->id;
        op.layer = -1;
        op.duration_s = (double)nd->duration_micros * 1e-6;
        op.src = (sp_loc){b->w->path, 0};
        for (uint32_t k = 0; k < ndeps[i]; k++)
            d[k] = newidx[d[k]];
        switch (nd->type) {
        case CHAKRA_PROTO_MSG__NODE_TYPE__COMP_NODE:
        case CHAKRA_PROTO_MSG__NODE_TYPE__MEM_LOAD_NODE:
        case CHAKRA_PROTO_MSG__NODE_TYPE__MEM_STORE_NODE:
            op.kind = WL_COMPUTE;
            op.flops = a.has_ops && a.ops > 0 ? (double)a.ops : 0.0;
            op.mem_bytes = a.has_tensor && a.tensor > 0 ? (double)a.tensor : 0.0;
            op.stream = a.cpu ? WL_STREAM_HOST : WL_STREAM_COMPUTE;
            break;
        case CHAKRA_PROTO_MSG__NODE_TYPE__INVALID_NODE:
        case CHAKRA_PROTO_MSG__NODE_TYPE__METADATA_NODE:
            op.kind = WL_COMPUTE;
            op.stream = WL_STREAM_HOST;
            op.duration_s = 0.0;
            break;
        case CHAKRA_PROTO_MSG__NODE_TYPE__COMM_COLL_NODE: {
            static const int kinds[] = {COLL_ALL_REDUCE, COLL_REDUCE,     COLL_ALL_GATHER,     COLL_GATHER,
                                        COLL_SCATTER,    COLL_BROADCAST,  COLL_ALL_TO_ALL, COLL_REDUCE_SCATTER,
                                        COLL_REDUCE_SCATTER, -1};
            if (a.cpu || !a.has_type || !a.has_size) {
                /* The host side of a collective (PyTorch's c10d:: ops): CPU time only. */
                op.kind = WL_COMPUTE;
                op.stream = WL_STREAM_HOST;
                break;
            }
            if (a.type < 0 || a.type > 9 || kinds[a.type] < 0) {
                diag_error(diag, (sp_loc){path, 0},
                           "record %u: node %llu (\"%s\"): collective type %lld is not supported "
                           "(all-reduce, reduce, all-gather, gather, scatter, broadcast, all-to-all, reduce-scatter)",
                           i + 1, (unsigned long long)nd->id, op.name, (long long)a.type);
                err = SP_EINPUT;
                break;
            }
            if (a.size < 0) {
                diag_error(diag, (sp_loc){path, 0}, "record %u: node %llu: negative comm_size %lld",
                           i + 1, (unsigned long long)nd->id, (long long)a.size);
                err = SP_EINPUT;
                break;
            }
            op.kind = WL_COLL;
            op.coll = (coll_kind)kinds[a.type];
            op.bytes = (uint64_t)a.size;
            op.group = wl__group(b, "all", rank, nranks, 1, 0);
            if (a.pg != NULL && cg->count > 0) {
                size_t g = 0;
                while (g < cg->count && strcmp(cg->names[g], a.pg) != 0)
                    g++;
                if (g == cg->count) {
                    diag_error(diag, (sp_loc){path, 0},
                               "record %u: node %llu: process group \"%s\" is not in the comm-groups file",
                               i + 1, (unsigned long long)nd->id, a.pg);
                    err = SP_EINPUT;
                    break;
                }
                op.group = wl__group_ranks(b, cg->names[g], cg->ranks[g], cg->n[g]);
            }
            op.stream = WL_STREAM_COMM;
            op.duration_s = 0.0;
            if (op.bytes == 0) { /* nothing to move: keep the node for its dependencies */
                op.kind = WL_COMPUTE;
                op.stream = WL_STREAM_HOST;
            }
            break;
        }
        case CHAKRA_PROTO_MSG__NODE_TYPE__COMM_SEND_NODE:
        case CHAKRA_PROTO_MSG__NODE_TYPE__COMM_RECV_NODE: {
            int send = nd->type == CHAKRA_PROTO_MSG__NODE_TYPE__COMM_SEND_NODE;
            if (!(send ? a.has_dst : a.has_src) || !a.has_size) {
                diag_error(diag, (sp_loc){path, 0}, "record %u: node %llu (\"%s\"): a %s needs comm_%s and comm_size",
                           i + 1, (unsigned long long)nd->id, op.name, send ? "send" : "receive",
                           send ? "dst" : "src");
                err = SP_EINPUT;
                break;
            }
            op.kind = send ? WL_SEND : WL_RECV;
            op.peer = (int)(send ? a.dst : a.src);
            op.tag = a.has_tag ? (int)a.tag : 0;
            op.bytes = a.size > 0 ? (uint64_t)a.size : 0;
            op.stream = WL_STREAM_COMM;
            op.duration_s = 0.0;
            break;
        }
        default:
            diag_error(diag, (sp_loc){path, 0}, "record %u: node %llu (\"%s\"): unknown node type %d",
                       i + 1, (unsigned long long)nd->id, op.name, (int)nd->type);
            err = SP_EINPUT;
        }
        if (err < 0)
            break;
        newidx[i] = wl__add_op(b, rank, op, d, ndeps[i]);
    }
    if (b->err < 0)
        err = b->err;
done:
    for (size_t i = 0; i < nnodes; i++) {
        chakra_proto_msg__node__free_unpacked(nodes[i], NULL);
        if (deps != NULL)
            free(deps[i]);
    }
    free(nodes);
    free(ids);
    free(deps);
    free(ndeps);
    free(indeg);
    free(order);
    free(newidx);
    return err;
}

static int file_exists(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return 0;
    fclose(f);
    return 1;
}

int wl_load_chakra(wl **out, const char *prefix, const wl_chakra_opts *o, diag_list *diag)
{
    int max_ranks = o->max_ranks;
    comm_groups cg = {0};
    wl_builder b = {0};
    wl *w;
    int n = 0, err = SP_OK;
    size_t dangling = 0;
    char *path;

    *out = NULL;
    /* Ranks are the files prefix.0.et, prefix.1.et, ... up to the first missing. */
    for (;; n++) {
        if ((path = str_format("%s.%d.et", prefix, n)) == NULL)
            return SP_ENOMEM;
        if (!file_exists(path)) {
            free(path);
            break;
        }
        free(path);
        if (n > 1 << 20)
            break;
    }
    if (n == 0) {
        diag_error(diag, (sp_loc){prefix, 0}, "no trace files: expected %s.0.et, %s.1.et, ...", prefix, prefix);
        return SP_EINPUT;
    }
    /* A gap (rank files after a missing one) is a missing rank, not the end. */
    for (int k = n + 1; k <= n + 8; k++) {
        int there;
        if ((path = str_format("%s.%d.et", prefix, k)) == NULL)
            return SP_ENOMEM;
        there = file_exists(path);
        free(path);
        if (there) {
            diag_error(diag, (sp_loc){prefix, 0}, "missing rank file %s.%d.et (there is a %s.%d.et)", prefix,
                       n, prefix, k);
            return SP_EINPUT;
        }
    }
    if (n > max_ranks) {
        diag_error(diag, (sp_loc){prefix, 0}, "the trace has %d ranks (%s.0.et .. %s.%d.et), the platform %d",
                   n, prefix, prefix, n - 1, max_ranks);
        return SP_EINPUT;
    }
    if ((w = calloc(1, sizeof(*w))) == NULL || (w->ranks = calloc((size_t)n, sizeof(*w->ranks))) == NULL ||
        (b.cap = calloc((size_t)n, sizeof(size_t))) == NULL || (w->path = str_dup(prefix)) == NULL ||
        (w->format = str_dup("chakra")) == NULL) {
        if (w != NULL)
            w->nranks = n;
        wl_free(w);
        wl__builder_done(&b);
        return SP_ENOMEM;
    }
    w->nranks = n;
    b.w = w;
    if (o->comm_groups != NULL && (err = comm_groups_load(&cg, o->comm_groups, n, diag)) < 0) {
        wl_free(w);
        wl__builder_done(&b);
        return err;
    }
    for (int r = 0; r < n && err != SP_ENOMEM; r++) {
        int e;
        if ((path = str_format("%s.%d.et", prefix, r)) == NULL) {
            err = SP_ENOMEM;
            break;
        }
        e = load_rank(&b, r, path, n, &cg, &dangling, diag);
        if (e < 0)
            err = e;
        free(path);
    }
    wl__builder_done(&b);
    comm_groups_free(&cg);
    if (err == SP_OK && dangling > 0)
        diag_warning(diag, (sp_loc){prefix, 0},
                     "%zu dependencies name nodes absent from the trace; they are ignored", dangling);
    if (err < 0) {
        wl_free(w);
        return err;
    }
    *out = w;
    return SP_OK;
}
