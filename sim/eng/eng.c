/* eng.c - SimGrid glue: engine set-up, one actor per rank, completeness.
 *
 * SimGrid 3.32 C API only (shared/SIMGRID.md). Model settings go in between
 * simgrid_init() and simgrid_load_platform(); after loading they abort.
 */
#define _GNU_SOURCE          /* pthread_setattr_default_np: thread contexts' stacks */
#include <simgrid/engine.h> /* first: later SimGrid headers need <stddef.h> */

#include <simgrid/actor.h>
#include <simgrid/comm.h>
#include <simgrid/exec.h>
#include <simgrid/host.h>
#include <simgrid/link.h>
#include <xbt/dynar.h>
#include <simgrid/mailbox.h>
#include <simgrid/cond.h>
#include <simgrid/mutex.h>
#include <simgrid/version.h>
#include <xbt/config.h>
#include <xbt/log.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eng/eng.h"

/* Room for the comms of one member's stage: kept by whoever outlives the
 * run (an actor killed on deadlock frees nothing), freed by room_free. */
typedef struct xfer_room {
    sg_comm_t *comms;
    void **got;
    size_t cap;
} xfer_room;

static void room_free(xfer_room *r)
{
    free(r->comms);
    free(r->got);
    *r = (xfer_room){NULL, NULL, 0};
}

typedef struct eng_rank {
    const coll_plan *plan;
    int member;
    unsigned long op; /* operation id, part of mailbox names */
    int stage;        /* current stage, for the deadlock report */
    int finished;
    double t_end;
    eng *e;
    xfer_room room;
} eng_rank;

/* Where the members of a collective whose flows start together
 * (coll_plan_starts_together) meet: one per running instance, named by the
 * instance's key, freed when its last member has gone through. */
typedef struct gate {
    char *key;
    int begun, passed; /* members that reached it, and that went through */
    sg_cond_t open;
    struct gate *next; /* in its hash bucket */
} gate;

struct eng {
    const plat *plat;
    unsigned long ops;
    unsigned long long messages;
    gate **gates;      /* hash buckets, a power of two of them */
    size_t ngates, capgates;
    sg_mutex_t gate_mutex;
    int gate_failed;   /* out of memory in an actor: the run fails */
    uint8_t *nodes;    /* per node, whether SimGrid has it (eng_new_nodes); NULL: every node */
};

/* Whether SimGrid knows rank q's host: every rank, unless the engine was
 * started with some nodes only. */
static int has_rank(const eng *e, int q)
{
    return e->nodes == NULL || e->nodes[plat_rank_node(e->plat, q)];
}

/* An operation on a rank whose node was left out of the engine's platform:
 * the caller's bug (eng_new_nodes takes the nodes its runs use). */
static int missing_rank(const eng *e, int q, diag_list *diag)
{
    if (has_rank(e, q))
        return 0;
    diag_error(diag, (sp_loc){0}, "internal: rank %d's node (%d) was left out of the simulated platform", q,
               plat_rank_node(e->plat, q));
    return 1;
}

static int engine_started; /* SimGrid allows one engine per process */
static int stack_kib = 256;  /* actors' stacks: eng_set_stack_kib */

void eng_set_stack_kib(int kib)
{
    stack_kib = kib;
}

static int os_threads; /* actors as system threads: eng_set_os_threads */

void eng_set_os_threads(int on)
{
    os_threads = on != 0;
}

static int write_xml(const plat *p, const uint8_t *nodes, const char *path, diag_list *diag)
{
    FILE *fp = fopen(path, "w");
    int err;

    if (fp == NULL) {
        diag_error(diag, (sp_loc){path, 0}, "cannot write the SimGrid platform: %s",
                   strerror(errno));
        return SP_EIO;
    }
    err = plat_xml_write_nodes(p, nodes, fp);
    if (fclose(fp) != 0 || err < 0) {
        if (err == SP_ENOMEM) { /* not the file's fault */
            diag_error(diag, (sp_loc){path, 0}, "cannot write the SimGrid platform: out of memory");
            return SP_ENOMEM;
        }
        diag_error(diag, (sp_loc){path, 0}, "cannot write the SimGrid platform");
        return SP_EIO;
    }
    return SP_OK;
}

int eng_new(eng **out, const plat *p, const char *xml_keep, diag_list *diag)
{
    return eng_new_nodes(out, p, NULL, xml_keep, diag);
}

int eng_new_nodes(eng **out, const plat *p, const uint8_t *nodes, const char *xml_keep, diag_list *diag)
{
    char tmpl[] = "/tmp/scalepath-XXXXXX.xml";
    int fd, argc = 1, err;
    char arg0[] = "scalepath", quiet[] = "--log=xbt_cfg.thres:critical", thread_cfg[] = "--cfg=contexts/factory:thread";
    char *argv[] = {arg0, NULL, NULL, NULL};
    const char *xml;
    eng *e;

    *out = NULL;
    if (engine_started) {
        diag_error(diag, (sp_loc){0}, "internal: SimGrid started twice in one process");
        return SP_EINTERNAL;
    }
    if ((e = calloc(1, sizeof(*e))) == NULL)
        return SP_ENOMEM;
    e->plat = p;
    if (nodes != NULL && plat_nodes_prunable(p)) {
        if ((e->nodes = malloc((size_t)p->nodes)) == NULL) {
            free(e);
            return SP_ENOMEM;
        }
        memcpy(e->nodes, nodes, (size_t)p->nodes);
    }
    if (xml_keep != NULL) {
        xml = xml_keep;
        err = write_xml(p, e->nodes, xml, diag);
    } else {
        fd = mkstemps(tmpl, 4);
        if (fd < 0) {
            diag_error(diag, (sp_loc){0}, "cannot create a temporary file: %s", strerror(errno));
            free(e->nodes);
            free(e);
            return SP_EIO;
        }
        close(fd);
        xml = tmpl;
        err = write_xml(p, e->nodes, xml, diag);
    }
    if (err < 0) {
        if (xml_keep == NULL)
            unlink(tmpl);
        free(e->nodes);
        free(e);
        return err;
    }
    engine_started = 1;
    if (os_threads) { /* the context factory is chosen as the engine starts, from its arguments */
        /* SimGrid's thread contexts leave their stacks to the C library's
         * default (RLIMIT_STACK's, which may be small or unlimited): make it
         * contexts/stack-size, as the other contexts have. */
        pthread_attr_t attr;
        int bad = pthread_attr_init(&attr) != 0;
        if (!bad) {
            bad = pthread_attr_setstacksize(&attr, (size_t)stack_kib * 1024u) != 0 ||
                  pthread_setattr_default_np(&attr) != 0;
            pthread_attr_destroy(&attr);
        }
        if (bad) {
            diag_error(diag, (sp_loc){0}, "cannot set the stack size of the system threads to %d KiB", stack_kib);
            engine_started = 0;
            if (xml_keep == NULL)
                unlink(tmpl);
            free(e->nodes);
            free(e);
            return SP_EINTERNAL;
        }
        argv[1] = quiet;
        argv[2] = thread_cfg;
        argc = 3;
    }
    simgrid_init(&argc, argv);
    xbt_log_control_set("root.thres:critical");
    /* Exact alpha-beta flows: no TCP corrections, no reverse cross-traffic, no
     * window bound (shared/SIMGRID.md section 3). */
    sg_cfg_set_string("network/model", "CM02");
    sg_cfg_set_boolean("network/crosstraffic", "no");
    sg_cfg_set_double("network/TCP-gamma", 1e15);
    sg_cfg_set_double("network/loopback-bw", 1e15);
    sg_cfg_set_int("contexts/stack-size", stack_kib); /* KiB; our actor bodies are shallow */
    sg_cfg_set_double("network/loopback-lat", 0.0);    /* a GPU's messages to itself (emulation) */
    simgrid_load_platform(xml);
    if (xml_keep == NULL)
        unlink(tmpl);
    *out = e;
    return SP_OK;
}

static void gates_clear(eng *e);

int eng_node_count(const eng *e)
{
    int n = 0;

    for (int k = 0; k < e->plat->nodes; k++)
        n += e->nodes == NULL || e->nodes[k];
    return n;
}

void eng_free(eng *e)
{
    if (e == NULL)
        return;
    gates_clear(e);
    free(e->gates);
    free(e->nodes);
    if (e->gate_mutex != NULL)
        sg_mutex_destroy(e->gate_mutex);
    free(e);
}

const char *eng_simgrid_version(void)
{
#define SP_STR2(x) #x
#define SP_STR(x) SP_STR2(x)
    return SP_STR(SIMGRID_VERSION_MAJOR) "." SP_STR(SIMGRID_VERSION_MINOR) "." SP_STR(
        SIMGRID_VERSION_PATCH);
}

const char *eng_network_model(void)
{
    return "SimGrid CM02 flow model, no cross-traffic, no TCP window bound (exact alpha-beta)";
}

unsigned long long eng_message_count(const eng *e)
{
    return e->messages;
}

/* "KEY.A.B.C" into buf (at least strlen(key) + 36 bytes): a flow's mailbox
 * name. Written by hand, not with snprintf, which took 7% of a large
 * step's simulation time (two names per message). */
static void flow_name(char *buf, const char *key, int a, int b, int c)
{
    const int v[3] = {a, b, c};
    char *p = buf;

    while (*key != '\0')
        *p++ = *key++;
    for (int i = 0; i < 3; i++) {
        char tmp[12];
        int n = 0;
        unsigned u = v[i] < 0 ? 0u - (unsigned)v[i] : (unsigned)v[i];
        *p++ = '.';
        if (v[i] < 0)
            *p++ = '-';
        do
            tmp[n++] = (char)('0' + u % 10);
        while ((u /= 10) != 0);
        while (n > 0)
            *p++ = tmp[--n];
    }
    *p = '\0';
}

static void mailbox_name(char *buf, size_t size, unsigned long op, int dst, int src, int ring)
{
    char key[24];

    (void)size; /* callers give 96 bytes: "c" + 20 digits + 3 x 12 */
    snprintf(key, sizeof(key), "c%lu", op);
    flow_name(buf, key, dst, src, ring);
}

static sg_mailbox_t mailbox(unsigned long op, int dst, int src, int ring)
{
    char name[96];

    mailbox_name(name, sizeof(name), op, dst, src, ring);
    return sg_mailbox_by_name(name);
}

/* --- Gates: members of a collective whose flows start together. ------- */

static size_t gate_hash(const char *key)
{
    size_t h = 2166136261u; /* FNV-1a */
    while (*key != '\0')
        h = (h ^ (unsigned char)*key++) * 16777619u;
    return h;
}

/* The gate named key, made if missing; NULL when out of memory. */
static gate *gate_get(eng *e, const char *key)
{
    size_t b;
    gate *g;

    if (e->capgates == 0 || e->ngates >= e->capgates) { /* grow: at most one gate per bucket on average */
        size_t cap = e->capgates ? 2 * e->capgates : 64;
        gate **t = calloc(cap, sizeof(*t));
        if (t == NULL)
            return NULL;
        for (size_t i = 0; i < e->capgates; i++)
            while (e->gates[i] != NULL) {
                gate *h = e->gates[i];
                e->gates[i] = h->next;
                h->next = t[gate_hash(h->key) & (cap - 1)];
                t[gate_hash(h->key) & (cap - 1)] = h;
            }
        free(e->gates);
        e->gates = t;
        e->capgates = cap;
    }
    b = gate_hash(key) & (e->capgates - 1);
    for (g = e->gates[b]; g != NULL; g = g->next)
        if (strcmp(g->key, key) == 0)
            return g;
    if ((g = calloc(1, sizeof(*g))) == NULL || (g->key = strdup(key)) == NULL) {
        free(g);
        return NULL;
    }
    g->open = sg_cond_init();
    g->next = e->gates[b];
    e->gates[b] = g;
    e->ngates++;
    return g;
}

static void gate_free(gate *g)
{
    sg_cond_destroy(g->open);
    free(g->key);
    free(g);
}

static void gate_remove(eng *e, gate *g)
{
    gate **pp = &e->gates[gate_hash(g->key) & (e->capgates - 1)];

    while (*pp != g)
        pp = &(*pp)->next;
    *pp = g->next;
    e->ngates--;
    gate_free(g);
}

/* Gates left by a run that deadlocked. */
static void gates_clear(eng *e)
{
    for (size_t i = 0; i < e->capgates; i++)
        while (e->gates[i] != NULL) {
            gate *g = e->gates[i];
            e->gates[i] = g->next;
            gate_free(g);
        }
    e->ngates = 0;
}

/* Out of memory in an actor: the run is reported as failed (gates_end).
 * It goes on ungated, every gate open, so that no member waits at one for
 * a member that will never come. Called with the gate mutex held. */
static void gates_fail(eng *e)
{
    e->gate_failed = 1;
    for (size_t i = 0; i < e->capgates; i++)
        for (gate *h = e->gates[i]; h != NULL; h = h->next)
            sg_cond_notify_all(h->open);
}

/* Wait until all n members of the instance key have reached it. */
static void gate_pass(eng *e, const char *key, int n)
{
    gate *g;

    if (e->gate_mutex == NULL)
        e->gate_mutex = sg_mutex_init();
    sg_mutex_lock(e->gate_mutex);
    if ((g = gate_get(e, key)) == NULL) {
        gates_fail(e);
        sg_mutex_unlock(e->gate_mutex);
        return;
    }
    if (++g->begun == n)
        sg_cond_notify_all(g->open);
    while (g->begun < n && !e->gate_failed)
        sg_cond_wait(g->open, e->gate_mutex);
    if (++g->passed == n)
        gate_remove(e, g);
    sg_mutex_unlock(e->gate_mutex);
}

/* After a run that ran out of memory: what it left waiting (ranks,
 * streams, threads) is its consequence, counted in a note rather than
 * reported as hangs. */
static void note_left(diag_list *diag, size_t left, const char *what)
{
    if (left > 0)
        diag_note(diag, (sp_loc){0}, "%zu %s left waiting by the failure (not listed)", left, what);
}

/* After a run: SP_ENOMEM (reported) if a gate could not be made, and no
 * gate left behind. */
static int gates_end(eng *e, diag_list *diag)
{
    int failed = e->gate_failed;

    gates_clear(e);
    e->gate_failed = 0;
    if (failed) {
        diag_error(diag, (sp_loc){0}, "out of memory while simulating");
        return SP_ENOMEM;
    }
    return SP_OK;
}

/* The actor body: run the member's stages in order. Everything it touches
 * was allocated by eng_run_coll() and outlives the run, so an actor killed
 * on deadlock leaks nothing.
 *
 * Receives are eager (the rank is its mailboxes' permanent receiver): a
 * send flows as soon as it is posted, as into NCCL's connection buffers, so
 * a rank waits only for the data it needs. A stage's sends leave after the
 * stage's software delay, once the previous stage's sends have left (one
 * slot per connection); the stage ends when its receives have arrived. The
 * critical path then runs back along the ring and sums each hop's latency,
 * as NCCL's pipelined ring does, instead of paying the slowest hop in every
 * step. A plan whose flows start together (one stage of chunk streams that
 * carry others' data) first waits at its gate for every member. */
static void run_member(eng *e, const coll_plan *c, int member, const char *key, int *stage, void *payload,
                       xfer_room *room)
{
    int n = coll_plan_nstages(c, member);
    coll_stage st;
    sg_comm_t *sends, *recvs;
    void **got;
    size_t nsends = 0, need;
    char name[128];

    coll_plan_stage(c, member, 0, &st);
    /* A member posts as many sends (receives) in every stage. */
    need = (size_t)st.nsend + (size_t)st.nrecv + 1;
    if (need > room->cap) {
        sg_comm_t *m = realloc(room->comms, need * sizeof(*m));
        void **g = m != NULL ? realloc(room->got, need * sizeof(*g)) : NULL;
        if (m != NULL)
            room->comms = m;
        if (g == NULL) { /* out of memory: the run fails, no member left waiting for it */
            if (e->gate_mutex == NULL)
                e->gate_mutex = sg_mutex_init();
            sg_mutex_lock(e->gate_mutex);
            gates_fail(e);
            sg_mutex_unlock(e->gate_mutex);
            return;
        }
        room->got = g;
        room->cap = need;
    }
    sends = room->comms;
    recvs = room->comms + st.nsend;
    got = room->got;
    for (int i = 0; i < st.nrecv; i++) {
        flow_name(name, key, member, st.recv[i].peer, st.recv[i].ring);
        sg_mailbox_set_receiver(name);
    }
    if (coll_plan_starts_together(c)) {
        *stage = 0; /* a member that never comes is reported at the first stage */
        gate_pass(e, key, coll_plan_members(c));
    }
    for (int s = 0; s < n; s++) {
        *stage = s;
        coll_plan_stage(c, member, s, &st);
        if (nsends > 0)
            sg_comm_wait_all(sends, nsends);
        nsends = 0;
        if (st.delay_s > 0.0)
            sg_actor_sleep_for(st.delay_s);
        for (int i = 0; i < st.nsend; i++) {
            flow_name(name, key, st.send[i].peer, member, st.send[i].ring);
            sends[nsends++] = sg_mailbox_put_async(sg_mailbox_by_name(name), payload, (long)st.send[i].bytes);
        }
        e->messages += (unsigned long long)st.nsend;
        for (int i = 0; i < st.nrecv; i++) {
            flow_name(name, key, member, st.recv[i].peer, st.recv[i].ring);
            recvs[i] = sg_mailbox_get_async(sg_mailbox_by_name(name), &got[i]);
        }
        if (st.nrecv > 0)
            sg_comm_wait_all(recvs, (size_t)st.nrecv);
    }
    if (nsends > 0)
        sg_comm_wait_all(sends, nsends);
}

static void rank_main(int argc, char *argv[])
{
    eng_rank *r = sg_actor_self_get_data();
    char key[32];

    (void)argc;
    (void)argv;
    snprintf(key, sizeof(key), "c%lu", r->op);
    run_member(r->e, r->plan, r->member, key, &r->stage, r, &r->room);
    r->finished = 1;
    r->t_end = simgrid_get_clock();
}

int eng_run_coll(eng *e, const coll_plan *c, double *time_s, diag_list *diag)
{
    int n = coll_plan_members(c);
    eng_rank *ranks = calloc((size_t)n, sizeof(*ranks));
    double t0 = simgrid_get_clock(), t_end = t0;
    size_t left = 0; /* ranks out of memory left waiting */
    int err = SP_OK, oom;

    *time_s = 0.0;
    if (ranks == NULL)
        return SP_ENOMEM;
    for (int m = 0; m < n; m++)
        if (missing_rank(e, coll_plan_rank(c, m), diag)) {
            free(ranks);
            return SP_EINTERNAL;
        }
    e->ops++;
    for (int m = 0; m < n; m++) {
        const char *host_name = plat_rank_host(e->plat, coll_plan_rank(c, m));
        sg_host_t host = sg_host_by_name(host_name);
        sg_actor_t a;
        char name[32];
        if (host == NULL) { /* our XML names every rank's host: a bug if missing */
            diag_error(diag, (sp_loc){0}, "internal: no SimGrid host \"%s\"", host_name);
            free(ranks);
            return SP_EINTERNAL;
        }
        ranks[m] = (eng_rank){c, m, e->ops, -1, 0, 0.0, e, {NULL, NULL, 0}};
        snprintf(name, sizeof(name), "rank%d", coll_plan_rank(c, m));
        a = sg_actor_init(name, host);
        sg_actor_set_data(a, &ranks[m]);
        sg_actor_start(a, rank_main, 0, NULL);
    }
    simgrid_run();
    oom = e->gate_failed;
    for (int m = 0; m < n; m++) {
        if (!ranks[m].finished && oom) {
            left++;
        } else if (!ranks[m].finished) {
            diag_error(diag, (sp_loc){0},
                       "rank %d never finished %s: blocked in stage %d of %d (deadlock)",
                       coll_plan_rank(c, m), coll_plan_algo(c) == COLL_ALGO_RING ? "the ring" : "",
                       ranks[m].stage, coll_plan_nstages(c, m));
            err = SP_EDEADLOCK;
        } else if (ranks[m].t_end > t_end) {
            t_end = ranks[m].t_end;
        }
    }
    if (gates_end(e, diag) < 0)
        err = SP_ENOMEM;
    note_left(diag, left, "rank(s) were");
    for (int m = 0; m < n; m++)
        room_free(&ranks[m].room);
    free(ranks);
    *time_s = t_end - t0;
    return err;
}

/* --- Traffic patterns: every rank posts its sends and receives at once. */

typedef struct flow_rank {
    const eng_flow *flows;
    size_t n;
    int rank;
    unsigned long op;
    sg_comm_t *comms; /* room for this rank's sends and receives, owned by eng_run_flows */
    void **got;
    int finished;
    double t_end;
} flow_rank;

static void flow_main(int argc, char *argv[])
{
    flow_rank *r = sg_actor_self_get_data();
    size_t k = 0;

    (void)argc;
    (void)argv;
    for (size_t i = 0; i < r->n; i++) {
        const eng_flow *f = &r->flows[i];
        if (f->dst == r->rank) {
            r->comms[k] = sg_mailbox_get_async(mailbox(r->op, f->dst, f->src, (int)i), &r->got[k]);
            k++;
        }
        if (f->src == r->rank)
            r->comms[k++] = sg_mailbox_put_async(mailbox(r->op, f->dst, f->src, (int)i), r,
                                                 (long)f->bytes);
    }
    if (k > 0)
        sg_comm_wait_all(r->comms, k);
    r->finished = 1;
    r->t_end = simgrid_get_clock();
}

int eng_run_flows(eng *e, const eng_flow *flows, size_t n, double *time_s, diag_list *diag)
{
    int nr = e->plat->nranks, err = SP_OK;
    flow_rank *ranks;
    char *used;
    sg_comm_t *comms;
    void **got;
    size_t off = 0;
    double t0 = simgrid_get_clock(), t_end = t0;

    *time_s = 0.0;
    for (size_t i = 0; i < n; i++)
        if (flows[i].src < 0 || flows[i].src >= nr || flows[i].dst < 0 || flows[i].dst >= nr ||
            flows[i].src == flows[i].dst || flows[i].bytes == 0) {
            diag_error(diag, (sp_loc){0}, "flow %zu: bad ranks %d -> %d or size", i, flows[i].src,
                       flows[i].dst);
            return SP_EINPUT;
        }
    for (size_t i = 0; i < n; i++)
        if (missing_rank(e, flows[i].src, diag) || missing_rank(e, flows[i].dst, diag))
            return SP_EINTERNAL;
    ranks = calloc((size_t)nr, sizeof(*ranks));
    used = calloc((size_t)nr, 1);
    comms = calloc(2 * n + 1, sizeof(*comms));
    got = calloc(2 * n + 1, sizeof(*got));
    if (ranks == NULL || used == NULL || comms == NULL || got == NULL) {
        free(ranks);
        free(used);
        free(comms);
        free(got);
        return SP_ENOMEM;
    }
    e->ops++;
    for (size_t i = 0; i < n; i++) {
        ranks[flows[i].src].n++; /* counts first, offsets below */
        ranks[flows[i].dst].n++;
        used[flows[i].src] = used[flows[i].dst] = 1;
    }
    for (int q = 0; q < nr; q++) {
        sg_actor_t a;
        char name[32];
        size_t mine = ranks[q].n;
        if (!used[q])
            continue;
        ranks[q] = (flow_rank){flows, n, q, e->ops, comms + off, got + off, 0, 0.0};
        off += mine;
        snprintf(name, sizeof(name), "rank%d", q);
        a = sg_actor_init(name, sg_host_by_name(plat_rank_host(e->plat, q)));
        sg_actor_set_data(a, &ranks[q]);
        sg_actor_start(a, flow_main, 0, NULL);
    }
    e->messages += n;
    simgrid_run();
    for (int q = 0; q < nr; q++) {
        if (!used[q])
            continue;
        if (!ranks[q].finished) {
            diag_error(diag, (sp_loc){0}, "rank %d never finished its transfers (deadlock)", q);
            err = SP_EDEADLOCK;
        } else if (ranks[q].t_end > t_end) {
            t_end = ranks[q].t_end;
        }
    }
    free(ranks);
    free(used);
    free(comms);
    free(got);
    *time_s = t_end - t0;
    return err;
}

/* --- Routes: SimGrid computes Dijkstra routes when the platform is sealed,
 * inside simgrid_run(), so they are read from an actor. */

typedef struct route_job {
    const plat *plat;
    const int *pairs;
    size_t n;
    diag_list *diag;
    int mismatches;
    int done;
} route_job;

/* SimGrid names the two directions of a SPLITDUPLEX link "X_UP" (from the
 * link's first vertex to its second) and "X_DOWN": the same link crossed
 * the same way as plat_route() says, or for a link with one capacity for
 * both directions, the same link. */
static int same_link(const char *sg, const plat *p, const plat_path *want, int h)
{
    const plat_link *l = &p->links[want->links[h]];
    size_t n = strlen(l->name);

    if (strncmp(sg, l->name, n) != 0)
        return 0;
    if (l->sharing != PLAT_SPLITDUPLEX)
        return sg[n] == '\0';
    return strcmp(sg + n, want->down[h] ? "_DOWN" : "_UP") == 0;
}

static int is_marker(const plat *p, const char *name)
{
    for (size_t i = 0; i < p->nlinks; i++)
        if (p->links[i].sharing == PLAT_FATPIPE && strcmp(p->links[i].name, name) == 0)
            return 1;
    return 0;
}

static void route_main(int argc, char *argv[])
{
    route_job *j = sg_actor_self_get_data();

    (void)argc;
    (void)argv;
    for (size_t i = 0; i < j->n; i++) {
        int a = j->pairs[2 * i], b = j->pairs[2 * i + 1];
        xbt_dynar_t links = xbt_dynar_new(sizeof(sg_link_t), NULL);
        plat_path want = plat_route(j->plat, a, b);
        unsigned long got;
        int ok;
        sg_host_get_route(sg_host_by_name(plat_rank_host(j->plat, a)),
                          sg_host_by_name(plat_rank_host(j->plat, b)), links);
        /* Compare the physical links in order; marker links (FATPIPE, they only
         * weigh routes) may sit anywhere within their edge, so both sides skip them. */
        got = xbt_dynar_length(links);
        {
            unsigned long k = 0;
            int w = 0;
            ok = 1;
            for (;;) {
                while (k < got && is_marker(j->plat, sg_link_get_name(xbt_dynar_get_as(links, k, sg_link_t))))
                    k++;
                while (w < want.hops && j->plat->links[want.links[w]].sharing == PLAT_FATPIPE)
                    w++;
                if (k == got || w == want.hops) {
                    ok = k == got && w == want.hops;
                    break;
                }
                if (!same_link(sg_link_get_name(xbt_dynar_get_as(links, k, sg_link_t)), j->plat, &want,
                               w)) {
                    ok = 0;
                    break;
                }
                k++;
                w++;
            }
        }
        if (!ok) {
            char sgs[512] = "", ours[512] = "";
            size_t ls = 0, lo = 0;
            for (unsigned long k = 0; k < got && ls < sizeof(sgs) - 64; k++)
                ls += (size_t)snprintf(sgs + ls, sizeof(sgs) - ls, " %s",
                                       sg_link_get_name(xbt_dynar_get_as(links, k, sg_link_t)));
            for (int k = 0; k < want.hops && lo < sizeof(ours) - 64; k++)
                lo += (size_t)snprintf(ours + lo, sizeof(ours) - lo, " %s%s",
                                       j->plat->links[want.links[k]].name,
                                       j->plat->links[want.links[k]].sharing != PLAT_SPLITDUPLEX ? ""
                                       : want.down[k]                                       ? "_DOWN"
                                                                                            : "_UP");
            diag_error(j->diag, (sp_loc){0}, "route %d -> %d: SimGrid uses%s; plat_route says%s", a,
                       b, sgs, ours);
            j->mismatches++;
        }
        xbt_dynar_free(&links);
    }
    j->done = 1;
}

int eng_check_routes(eng *e, const int *pairs, size_t n, diag_list *diag)
{
    route_job j = {e->plat, pairs, n, diag, 0, 0};
    sg_actor_t a;

    for (size_t i = 0; i < 2 * n; i++)
        if (missing_rank(e, pairs[i], diag))
            return SP_EINTERNAL;
    if (n == 0)
        return SP_OK;
    a = sg_actor_init("routes", sg_host_by_name(plat_rank_host(e->plat, pairs[0])));
    sg_actor_set_data(a, &j);
    sg_actor_start(a, route_main, 0, NULL);
    simgrid_run();
    if (!j.done) {
        diag_error(diag, (sp_loc){0}, "internal: the route check did not finish");
        return SP_EINTERNAL;
    }
    return j.mismatches ? SP_EINTERNAL : SP_OK;
}

/* --- Workload replay. */

/* One GPU's SMs, shared by its compute and its collectives' CTAs (sms_main). */
typedef struct sm_share {
    sg_mutex_t mutex; /* borrowed: the lock its users hold to wake the holder */
    sg_cond_t cond;   /* owned: wakes the holder when want or users change */
    double speed;     /* the host's nominal speed, flop/s: compute seconds become work */
    int sms;          /* the GPU's SMs when compute shares them with NCCL's CTAs; 0: it does not */
    int ctas;         /* CTAs of the GPU's collectives running now */
    int computing;    /* compute kernels running now */
    int want;         /* CTAs whose SMs should be held now: while both run */
    int users;        /* streams still running; at 0 the holder ends */
} sm_share;

typedef struct replay_rank {
    const wl *w;
    int rank;
    const coll_plan *const *plans; /* per op */
    eng_op_time *times;            /* per op */
    char *done;                    /* per op */
    int *seq;                      /* per op: instance number of a collective in its group */
    int *member;                   /* per op: the rank's member index in the plan */
    char *crossdep;                /* per op: another stream depends on it */
    sg_mutex_t mutex;
    sg_cond_t cond;
    int waiters; /* streams of this rank blocked on the condition */
    eng *e;
    sm_share sm;   /* its GPU's SMs, shared by compute and NCCL's CTAs */
} replay_rank;

typedef struct replay_stream {
    replay_rank *rank;
    wl_stream stream;
    long current; /* op being run or waited for, -1 when finished */
    int stage;
    int finished;
    xfer_room room; /* run_member's */
} replay_stream;

/* NCCL runs a collective as one CTA per channel, each holding an SM that
 * the compute kernels beside it cannot use (NCCL's CTA policies trade
 * these SMs against collective speed "for better compute and
 * communication overlap"). While the rank's compute and some of its
 * collectives run at once, an execution bounded to their CTAs / SMs of the
 * host's speed stands for the CTAs: the compute, an unbounded execution on
 * the same host, gets the rest. The rank's holder actor owns it (an
 * execution ends with the actor that started it, and streams end before
 * others do), replacing it whenever `want` changes, at the same instant:
 * it exists only while both run, so collectives the compute waits for cost
 * nothing. */
static void sms_main(int argc, char *argv[])
{
    sm_share *r = sg_actor_self_get_data();
    sg_exec_t held = NULL;
    int held_ctas = 0;

    (void)argc;
    (void)argv;
    sg_mutex_lock(r->mutex);
    while (r->users > 0) {
        if (held_ctas == r->want) {
            sg_cond_wait(r->cond, r->mutex);
            continue;
        }
        if (held != NULL)
            sg_exec_cancel(held);
        held = NULL;
        held_ctas = r->want;
        if (held_ctas > 0) {
            held = sg_actor_exec_init(1e30); /* never finishes: cancelled */
            sg_exec_set_bound(held, r->speed * held_ctas / r->sms);
            sg_exec_start(held);
        }
    }
    if (held != NULL)
        sg_exec_cancel(held);
    sg_mutex_unlock(r->mutex);
}

/* Tell the holder what to hold now, if that changed. */
static void hold_sms(sm_share *r)
{
    int want = r->computing > 0 && r->ctas > 0 ? (r->ctas < r->sms ? r->ctas : r->sms) : 0;

    if (want == r->want)
        return;
    r->want = want;
    sg_mutex_lock(r->mutex);
    sg_cond_notify_all(r->cond);
    sg_mutex_unlock(r->mutex);
}

/* A collective of the GPU starts (sign 1) or ends (-1): it holds one SM
 * per channel of its plan (NCCL's CTAs), or what its operation says
 * (wl_coll_sms; op NULL: the plan's). */
static void collective_ctas(sm_share *r, const coll_plan *plan, const wl_op *op, int sign)
{
    int ctas = plan != NULL ? coll_plan_channels(plan) : 0;

    if (op != NULL)
        ctas = wl_coll_sms(op, ctas);

    if (r->sms <= 0 || ctas <= 0)
        return;
    r->ctas += sign * ctas;
    hold_sms(r);
}

/* Compute of `seconds` alone: work at the host's speed, slowed while the
 * GPU's collectives hold some of its SMs. */
static void compute_on_sms(sm_share *r, double seconds)
{
    r->computing++;
    hold_sms(r);
    sg_actor_execute(seconds * r->speed);
    r->computing--;
    hold_sms(r);
}

static void stream_main(int argc, char *argv[])
{
    replay_stream *s = sg_actor_self_get_data();
    replay_rank *r = s->rank;
    const wl_rank *wr = &r->w->ranks[r->rank];

    (void)argc;
    (void)argv;
    /* Receive point-to-point messages eagerly: a send completes once its data
     * has arrived, whether or not the receive was posted yet. */
    for (size_t i = 0; i < wr->nops; i++)
        if (wr->ops[i].stream == s->stream && wr->ops[i].kind == WL_RECV) {
            char name[64];
            snprintf(name, sizeof(name), "p.%d.%d.%d", wr->ops[i].peer, r->rank, wr->ops[i].tag);
            sg_mailbox_set_receiver(name);
        }
    for (size_t i = 0; i < wr->nops; i++) {
        const wl_op *op = &wr->ops[i];
        if (op->stream != s->stream)
            continue;
        s->current = (long)i;
        /* Wait for the operations it depends on that other streams run. Actors
         * run one at a time, so the flags need no lock; the condition is only
         * touched when a stream actually has to wait (most dependencies are on
         * the same stream, hence already done). */
        for (uint32_t d = 0; d < op->ndeps; d++) {
            if (r->done[op->deps[d]])
                continue;
            r->waiters++;
            sg_mutex_lock(r->mutex);
            while (!r->done[op->deps[d]])
                sg_cond_wait(r->cond, r->mutex);
            sg_mutex_unlock(r->mutex);
            r->waiters--;
        }
        r->times[i].start = simgrid_get_clock();
        if (op->kind == WL_COMPUTE) {
            /* Run the following compute operations of this stream in the same
             * sleep while nothing on another stream waits for the ones in
             * between and they need nothing not yet done: the same times, one
             * simulation event instead of many. */
            size_t last = i, j;
            double total = op->duration_s > 0.0 ? op->duration_s : 0.0;
            for (j = i + 1; j < wr->nops && !r->crossdep[last]; j++) {
                const wl_op *nx = &wr->ops[j];
                int ready = 1;
                if (nx->stream != s->stream)
                    continue;
                if (nx->kind != WL_COMPUTE)
                    break;
                for (uint32_t d = 0; d < nx->ndeps && ready; d++)
                    ready = r->done[nx->deps[d]] || (nx->deps[d] >= i && wr->ops[nx->deps[d]].stream == s->stream);
                if (!ready)
                    break;
                total += nx->duration_s > 0.0 ? nx->duration_s : 0.0;
                last = j;
            }
            /* GPU compute shares the SMs with NCCL's CTAs: work at the host's
             * speed, slowed while collectives hold some of it (hold_sms). */
            if (total > 0.0 && r->sm.sms > 0 && s->stream == WL_STREAM_COMPUTE)
                compute_on_sms(&r->sm, total);
            else if (total > 0.0)
                sg_actor_sleep_for(total);
            /* Times of the batch, back to back, stretched alike if it was slowed. */
            {
                double t = r->times[i].start, f = 1.0;
                if (total > 0.0 && r->sm.sms > 0 && s->stream == WL_STREAM_COMPUTE)
                    f = (simgrid_get_clock() - t) / total;
                for (j = i; j <= last; j++) {
                    const wl_op *b = &wr->ops[j];
                    if (b->stream != s->stream)
                        continue;
                    r->times[j].start = t;
                    t += (b->duration_s > 0.0 ? b->duration_s : 0.0) * f;
                    r->times[j].end = t;
                    r->done[j] = 1;
                }
            }
            i = last;
            if (r->waiters > 0) {
                sg_mutex_lock(r->mutex);
                sg_cond_notify_all(r->cond);
                sg_mutex_unlock(r->mutex);
            }
            continue;
        } else if (op->kind == WL_COLL && r->w->groups[op->group].folded) {
            /* Its other members are not simulated: its time was measured apart. */
            if (op->duration_s > 0.0) {
                collective_ctas(&r->sm, r->plans[i], op, 1);
                sg_actor_sleep_for(op->duration_s);
                collective_ctas(&r->sm, r->plans[i], op, -1);
            }
        } else if (op->kind == WL_COLL) {
            char key[48];
            snprintf(key, sizeof(key), "g%d.%d", op->group, r->seq[i]);
            collective_ctas(&r->sm, r->plans[i], op, 1);
            run_member(r->e, r->plans[i], r->member[i], key, &s->stage, r, &s->room);
            collective_ctas(&r->sm, r->plans[i], op, -1);
        } else {
            /* Point to point, matched by (source, destination, tag), in order. */
            char name[64];
            int src = op->kind == WL_SEND ? r->rank : op->peer;
            int dst = op->kind == WL_SEND ? op->peer : r->rank;
            snprintf(name, sizeof(name), "p.%d.%d.%d", src, dst, op->tag);
            if (op->kind == WL_SEND) {
                sg_mailbox_put(sg_mailbox_by_name(name), r, (long)(op->bytes > 0 ? op->bytes : 1));
                r->e->messages++;
            } else {
                sg_mailbox_get(sg_mailbox_by_name(name));
            }
        }
        r->times[i].end = simgrid_get_clock();
        r->done[i] = 1;
        if (r->waiters > 0) {
            sg_mutex_lock(r->mutex);
            sg_cond_notify_all(r->cond);
            sg_mutex_unlock(r->mutex);
        }
    }
    s->current = -1;
    s->finished = 1;
    if (r->sm.sms > 0 && --r->sm.users == 0) { /* the holder's turn to end */
        sg_mutex_lock(r->mutex);
        sg_cond_notify_all(r->sm.cond);
        sg_mutex_unlock(r->mutex);
    }
}

int eng_run_workload(eng *e, const wl *w, const coll_plan *const *const *plans,
                     eng_op_time *const *times, diag_list *diag)
{
    int n = w->nranks, err = SP_OK;
    replay_rank *ranks = calloc((size_t)n, sizeof(*ranks));
    replay_stream *streams = calloc((size_t)n * WL_NSTREAMS, sizeof(*streams));
    int *next_seq = calloc(w->ngroups + 1, sizeof(int) * (size_t)n);

    if (ranks == NULL || streams == NULL || next_seq == NULL) {
        free(ranks);
        free(streams);
        free(next_seq);
        return SP_ENOMEM;
    }
    /* Every rank that runs an operation has its host in SimGrid's platform
     * (so every member of its collectives, each running its own, and every
     * peer of its sends). */
    for (int q = 0; q < n && err == SP_OK; q++)
        if (w->ranks[q].nops > 0 && missing_rank(e, q, diag))
            err = SP_EINTERNAL;
    /* Per-op state, allocated before the run (an actor killed on deadlock frees nothing). */
    for (int q = 0; q < n && err == SP_OK; q++) {
        const wl_rank *wr = &w->ranks[q];
        replay_rank *r = &ranks[q];
        r->w = w;
        r->rank = q;
        r->plans = plans[q];
        r->times = times[q];
        r->e = e;
        r->done = calloc(wr->nops + 1, 1);
        r->seq = calloc(wr->nops + 1, sizeof(int));
        r->member = calloc(wr->nops + 1, sizeof(int));
        r->crossdep = calloc(wr->nops + 1, 1);
        if (r->done == NULL || r->seq == NULL || r->member == NULL || r->crossdep == NULL) {
            err = SP_ENOMEM;
            break;
        }
        for (size_t i = 0; i < wr->nops; i++)
            for (uint32_t d = 0; d < wr->ops[i].ndeps; d++)
                if (wr->ops[wr->ops[i].deps[d]].stream != wr->ops[i].stream)
                    r->crossdep[wr->ops[i].deps[d]] = 1;
        for (size_t i = 0; i < wr->nops; i++) {
            const wl_op *op = &wr->ops[i];
            if (op->kind != WL_COLL || w->groups[op->group].folded)
                continue;
            r->seq[i] = next_seq[(size_t)op->group * (size_t)n + (size_t)q]++;
            for (int m = 0; m < coll_plan_members(plans[q][i]); m++)
                if (coll_plan_rank(plans[q][i], m) == q)
                    r->member[i] = m;
        }
        r->mutex = sg_mutex_init();
        r->cond = sg_cond_init();
        r->sm.mutex = r->mutex;
        r->sm.cond = sg_cond_init();
    }
    for (int q = 0; q < n && err == SP_OK; q++) {
        /* A rank with nothing to run (a folded replica's) may be left out of SimGrid's platform. */
        sg_host_t host = w->ranks[q].nops > 0 ? sg_host_by_name(plat_rank_host(e->plat, q)) : NULL;
        ranks[q].sm.speed = host != NULL ? sg_host_get_speed(host) : 0.0;
        if (w->nominal_compute && ranks[q].sm.speed > 0.0)
            ranks[q].sm.sms = plat_type_of_rank(e->plat, q)->gpu.sm_count;
        for (int s = 0; s < WL_NSTREAMS; s++) {
            replay_stream *rs = &streams[(size_t)q * WL_NSTREAMS + (size_t)s];
            sg_actor_t a;
            char name[48];
            int used = 0;
            for (size_t i = 0; i < w->ranks[q].nops && !used; i++)
                used = w->ranks[q].ops[i].stream == (wl_stream)s;
            *rs = (replay_stream){&ranks[q], (wl_stream)s, -1, -1, !used, {NULL, NULL, 0}};
            if (!used)
                continue;
            snprintf(name, sizeof(name), "rank%d.stream%d", q, s);
            a = sg_actor_init(name, host);
            sg_actor_set_data(a, rs);
            sg_actor_start(a, stream_main, 0, NULL);
            ranks[q].sm.users++;
        }
        if (ranks[q].sm.sms > 0 && ranks[q].sm.users > 0) { /* the SM holder (sms_main) */
            char name[48];
            sg_actor_t a;
            snprintf(name, sizeof(name), "rank%d.sms", q);
            a = sg_actor_init(name, host);
            sg_actor_set_data(a, &ranks[q].sm);
            sg_actor_start(a, sms_main, 0, NULL);
        }
    }
    if (err == SP_OK) {
        double t0 = simgrid_get_clock(); /* earlier runs in this engine advanced the clock */
        size_t left = 0;
        simgrid_run();
        if (gates_end(e, diag) < 0)
            err = SP_ENOMEM;
        for (int q = 0; q < n; q++)
            for (size_t i = 0; i < w->ranks[q].nops; i++) {
                times[q][i].start -= t0;
                times[q][i].end -= t0;
            }
        for (int q = 0; q < n * WL_NSTREAMS; q++) {
            const replay_stream *rs = &streams[q];
            if (rs->finished)
                continue;
            if (err == SP_ENOMEM) {
                left++;
                continue;
            }
            err = SP_EDEADLOCK;
            if (rs->current >= 0) {
                const wl_op *op = &w->ranks[rs->rank->rank].ops[rs->current];
                diag_error(diag, op->src, "rank %d never finished: blocked in operation %ld (%s \"%s\"%s%s)",
                           rs->rank->rank, rs->current, wl_op_kind_name(op->kind), op->name,
                           op->kind == WL_COLL ? " in group " : "",
                           op->kind == WL_COLL ? w->groups[op->group].name : "");
            } else {
                diag_error(diag, (sp_loc){w->path, 0}, "rank %d never started", rs->rank->rank);
            }
        }
        note_left(diag, left, "stream(s) of ranks were");
    }
    for (int q = 0; q < n; q++) {
        free(ranks[q].done);
        free(ranks[q].seq);
        free(ranks[q].member);
        free(ranks[q].crossdep);
        if (ranks[q].mutex != NULL)
            sg_mutex_destroy(ranks[q].mutex);
        if (ranks[q].cond != NULL)
            sg_cond_destroy(ranks[q].cond);
        if (ranks[q].sm.cond != NULL)
            sg_cond_destroy(ranks[q].sm.cond);
    }
    for (size_t q = 0; q < (size_t)n * WL_NSTREAMS; q++)
        room_free(&streams[q].room);
    free(ranks);
    free(streams);
    free(next_seq);
    return err;
}

/* --- Emulation: a real program's NCCL and CUDA calls (emu.h). ----------- */

typedef struct emu_world emu_world;

typedef struct emu_worker { /* one per stream */
    emu_world *w;
    emu_stream *stream;
    int stage;    /* of the collective it runs, for run_member */
    sm_share *sm; /* its GPU's SMs */
    sg_comm_t *comms; /* run_legs' room, kept with the worker (freed with it, even after a hang) */
    void **got;
    struct pxn_hop *hops; /* per leg, for a relay to copy at its start */
    size_t nhops;         /* of them, those that may hold a relay's reference */
    size_t caplegs;
    xfer_room room; /* run_member's */
    struct emu_worker *next;
} emu_worker;

typedef struct emu_process { /* one per process of the program */
    emu_world *w;
    eng_program fn;
    char **argv; /* its own copy, NULL-terminated */
    int status, ended;
} emu_process;

typedef struct emu_thread_actor { /* one per thread a program starts */
    emu_world *w;
    int thread;
    void *(*fn)(void *);
    void *arg;
    struct emu_thread_actor *next;
} emu_thread_actor;

struct emu_world {
    eng *e;
    emu *m;
    int *thread_of_pid; /* per actor pid: the program's thread it runs, or -1 */
    size_t npids;
    emu_thread_actor *threads;
    sg_mutex_t mutex;
    sg_cond_t cond;
    emu_process *procs;
    int nprocs;
    int argc;
    char **argv;
    double t0, t_end;
    emu_worker *workers;
    int nworkers;
    int failed; /* a worker could not be started */
    int sm_contention;
    sm_share *gpus; /* per device; cond NULL until its first stream */
    unsigned long ncopies; /* copies between GPUs so far: their mailboxes' names */
};

static void world_notify(void *ctx)
{
    emu_world *w = ctx;
    sg_mutex_lock(w->mutex);
    sg_cond_notify_all(w->cond);
    sg_mutex_unlock(w->mutex);
}

static void world_wait(void *ctx, int (*ready)(const void *), const void *arg)
{
    emu_world *w = ctx;
    sg_mutex_lock(w->mutex);
    while (!ready(arg))
        sg_cond_wait(w->cond, w->mutex);
    sg_mutex_unlock(w->mutex);
}

/* Lets every other ready actor run, at this instant. */
static void world_yield(void *ctx)
{
    (void)ctx;
    sg_actor_yield();
}

static void world_sleep(void *ctx, double seconds)
{
    (void)ctx;
    sg_actor_sleep_for(seconds);
}

/* Flows of one transfer in flight: each an actor that moves its bytes
 * host to host (sg_host_sendto, over the route and sharing its links);
 * the last to arrive calls done. */
typedef struct world_moves {
    emu_world *w;
    size_t left;
    void (*done)(void *);
    void *arg;
} world_moves;

typedef struct world_flow {
    world_moves *batch;
    sg_host_t from, to;
    double bytes;
} world_flow;

static void world_flow_main(int argc, char *argv[])
{
    world_flow *f = sg_actor_self_get_data();
    world_moves *b = f->batch;

    (void)argc;
    (void)argv;
    sg_host_sendto(f->from, f->to, f->bytes);
    free(f);
    if (--b->left == 0) {
        emu_world *w = b->w;
        b->done(b->arg);
        free(b);
        world_notify(w);
    }
}

static int world_transfer(void *ctx, const emu_flow *flows, size_t n, void (*done)(void *), void *arg)
{
    emu_world *w = ctx;
    world_moves *b = calloc(1, sizeof(*b));
    world_flow **f = calloc(n + 1, sizeof(*f));
    int ok = b != NULL && f != NULL && n > 0;

    for (size_t i = 0; ok && i < n; i++) {
        ok = (f[i] = malloc(sizeof(**f))) != NULL;
        if (ok)
            *f[i] = (world_flow){b, sg_host_by_name(plat_rank_host(w->e->plat, flows[i].src)),
                                 sg_host_by_name(plat_rank_host(w->e->plat, flows[i].dst)), flows[i].bytes};
        ok = ok && f[i]->from != NULL && f[i]->to != NULL;
    }
    if (!ok) { /* nothing started */
        for (size_t i = 0; f != NULL && i < n; i++)
            free(f[i]);
        free(f);
        free(b);
        return -1;
    }
    *b = (world_moves){w, n, done, arg};
    for (size_t i = 0; i < n; i++) {
        sg_actor_t a = sg_actor_init("mpi.flow", f[i]->from);
        sg_actor_set_data(a, f[i]);
        sg_actor_start(a, world_flow_main, 0, NULL);
    }
    free(f);
    return 0;
}

static double world_now(void *ctx)
{
    return simgrid_get_clock() - ((emu_world *)ctx)->t0;
}

/* The program's thread the calling actor runs (process k's main is thread
 * k); -1 for a stream's worker, another helper actor, or maestro. */
static int world_self(void *ctx)
{
    emu_world *w = ctx;
    sg_actor_t a = sg_actor_self();
    size_t pid = a != NULL ? (size_t)sg_actor_get_pid(a) : w->npids;
    return pid < w->npids ? w->thread_of_pid[pid] : -1;
}

/* Records that actor a runs the program's thread; -1 out of memory. */
static int world_map(emu_world *w, sg_actor_t a, int thread)
{
    size_t pid = (size_t)sg_actor_get_pid(a);
    if (pid >= w->npids) {
        size_t n = pid + 64;
        int *v = realloc(w->thread_of_pid, n * sizeof(*v));
        if (v == NULL)
            return -1;
        for (size_t i = w->npids; i < n; i++)
            v[i] = -1;
        w->thread_of_pid = v;
        w->npids = n;
    }
    w->thread_of_pid[pid] = thread;
    return 0;
}

static void thread_main(int argc, char *argv[])
{
    emu_thread_actor *t = sg_actor_self_get_data();
    emu_world *w = t->w;
    void *ret;

    (void)argc;
    (void)argv;
    ret = t->fn(t->arg);
    emu_thread_exit(w->m, t->thread);
    if (simgrid_get_clock() > w->t_end)
        w->t_end = simgrid_get_clock();
    emu_thread_ended(w->m, t->thread, ret);
    world_notify(w);
}

static int world_start_thread(void *ctx, int thread, int device, void *(*fn)(void *), void *arg)
{
    emu_world *w = ctx;
    emu_thread_actor *t = calloc(1, sizeof(*t));
    sg_actor_t a;

    if (t == NULL)
        return -1;
    *t = (emu_thread_actor){w, thread, fn, arg, w->threads};
    w->threads = t;
    a = sg_actor_init("thread", sg_host_by_name(plat_rank_host(w->e->plat, device)));
    if (world_map(w, a, thread) < 0) { /* out of memory: the actor is never started, the run fails */
        w->failed = 1;
        return -1;
    }
    sg_actor_set_data(a, t);
    sg_actor_start(a, thread_main, 0, NULL);
    return 0;
}

typedef struct worker_wait {
    const emu *m;
    emu_stream *s;
} worker_wait;

static int worker_has_work(const void *arg)
{
    const worker_wait *ww = arg;
    return emu_stream_next(ww->s) != NULL || emu_stream_finished(ww->m, ww->s);
}

static int task_is_ready(const void *arg)
{
    return emu_task_ready(arg);
}

static int task_may_end(const void *arg)
{
    return emu_task_may_end(arg);
}

/* A send relayed to another node and rail (PXN): the relay GPU's side.
 * It takes the data from the sender over NVLink while it sends it on to
 * the receiver through its own NIC, both at once, as NCCL's chunks
 * pipeline. The sender's worker joins it: its send is done when the data
 * has arrived, as a direct one's, and a receive never posted leaves the
 * sender's stream hanging, reported as such. */
typedef struct pxn_hop {
    char in[104], out[96];
    uint64_t bytes;
    sg_actor_t actor; /* the relay, referenced by the worker until joined (or freed with it) */
} pxn_hop;

static void pxn_relay_main(int argc, char *argv[])
{
    static char payload; /* SimGrid wants one; the data moved when the task began */
    pxn_hop h = *(const pxn_hop *)sg_actor_self_get_data(); /* its own copy: the worker moves on */
    void *got = NULL;
    sg_comm_t c[2];

    (void)argc;
    (void)argv;
    c[0] = sg_mailbox_get_async(sg_mailbox_by_name(h.in), &got);
    c[1] = sg_mailbox_put_async(sg_mailbox_by_name(h.out), &payload, (long)h.bytes);
    sg_comm_wait_all(c, 2);
}

/* A p2p task: receives are eager (posted first, their mailboxes' permanent
 * receiver), sends leave after NCCL's software latency; a send through a
 * relay (emu_leg.relay) goes to it, and it sends on (pxn_relay_main). */
static void run_legs(emu_worker *k, const emu_task *t)
{
    size_t n = t->nlegs, nc = 0;
    sg_comm_t *comms;
    void **got;
    double delay = 0.0;
    char name[96];

    if (n + 1 > k->caplegs) {
        sg_comm_t *c = realloc(k->comms, (2 * n + 1) * sizeof(*c));
        void **g = c != NULL ? realloc(k->got, (n + 1) * sizeof(*g)) : NULL;
        pxn_hop *h = g != NULL ? realloc(k->hops, (n + 1) * sizeof(*h)) : NULL;
        if (c != NULL)
            k->comms = c;
        if (g != NULL)
            k->got = g;
        if (h == NULL) { /* cannot simulate it: fail the run, not silently */
            k->w->failed = 1;
            return;
        }
        k->hops = h;
        k->caplegs = n + 1;
    }
    comms = k->comms;
    got = k->got;
    for (size_t i = 0; i < n; i++)
        k->hops[i].actor = NULL;
    k->nhops = n;
    for (size_t i = 0; i < n; i++) {
        const emu_leg *g = &t->legs[i];
        snprintf(name, sizeof(name), "m%d.%d.%d.%lu", g->comm, g->src, g->dst, g->seq);
        if (!g->send) {
            sg_mailbox_set_receiver(name);
            comms[nc++] = sg_mailbox_get_async(sg_mailbox_by_name(name), &got[i]);
        } else if (g->delay_s > delay) {
            delay = g->delay_s;
        }
    }
    if (delay > 0.0)
        sg_actor_sleep_for(delay);
    for (size_t i = 0; i < n; i++) {
        const emu_leg *g = &t->legs[i];
        if (!g->send)
            continue;
        /* A message to itself (0 bytes here) still waits for its receive:
         * one byte over the host's loopback, which takes no time. */
        snprintf(name, sizeof(name), "m%d.%d.%d.%lu", g->comm, g->src, g->dst, g->seq);
        if (g->relay >= 0 && g->bytes > 0) {
            pxn_hop *h = &k->hops[i];
            sg_actor_t a = sg_actor_init("pxn-relay", sg_host_by_name(plat_rank_host(k->w->e->plat, g->relay)));
            snprintf(h->in, sizeof(h->in), "x%s", name);
            memcpy(h->out, name, sizeof(h->out));
            h->bytes = g->bytes;
            sg_actor_set_data(a, h);
            sg_actor_ref(a);
            h->actor = a;
            sg_actor_start(a, pxn_relay_main, 0, NULL);
            comms[nc++] = sg_mailbox_put_async(sg_mailbox_by_name(h->in), k, (long)g->bytes);
            k->w->e->messages += 2;
            continue;
        }
        comms[nc++] = sg_mailbox_put_async(sg_mailbox_by_name(name), k, (long)(g->bytes > 0 ? g->bytes : 1));
        k->w->e->messages++;
    }
    if (nc > 0)
        sg_comm_wait_all(comms, nc);
    for (size_t i = 0; i < n; i++)
        if (k->hops[i].actor != NULL) {
            sg_actor_join(k->hops[i].actor, -1.0);
            sg_actor_unref(k->hops[i].actor);
            k->hops[i].actor = NULL;
        }
}

/* The source GPU's side of a copy between two GPUs: one message. */
typedef struct peer_copy {
    char name[32];
    uint64_t bytes;
} peer_copy;

static void peer_send_main(int argc, char *argv[])
{
    static char payload; /* SimGrid wants one; the data moved when the task began */
    peer_copy pc = *(const peer_copy *)sg_actor_self_get_data(); /* its own copy: the worker moves on */

    (void)argc;
    (void)argv;
    sg_mailbox_put(sg_mailbox_by_name(pc.name), &payload, (long)pc.bytes);
}

static void run_peer_copy(emu_worker *k, const emu_task *t)
{
    peer_copy pc;
    sg_actor_t a;
    void *got;

    if (t->copy_device >= 0 && t->copy_device != t->device) {
        /* On a stream of a third device: the bytes still go from the source
         * GPU to the destination GPU. */
        const plat *p = k->w->e->plat;
        sg_host_sendto(sg_host_by_name(plat_rank_host(p, t->peer_device)),
                       sg_host_by_name(plat_rank_host(p, t->copy_device)), (double)t->peer_bytes);
        k->w->e->messages++;
        return;
    }

    snprintf(pc.name, sizeof(pc.name), "x%lu", k->w->ncopies++);
    pc.bytes = t->peer_bytes;
    sg_mailbox_set_receiver(pc.name);
    a = sg_actor_init("peer-copy", sg_host_by_name(plat_rank_host(k->w->e->plat, t->peer_device)));
    sg_actor_set_data(a, &pc);
    sg_actor_start(a, peer_send_main, 0, NULL);
    got = sg_mailbox_get(sg_mailbox_by_name(pc.name));
    (void)got;
    k->w->e->messages++;
}

static void worker_main(int argc, char *argv[])
{
    emu_worker *k = sg_actor_self_get_data();
    emu_world *w = k->w;
    worker_wait ww = {w->m, k->stream};

    (void)argc;
    (void)argv;
    for (;;) {
        emu_task *t = emu_stream_next(k->stream);
        if (t == NULL) {
            if (emu_stream_finished(w->m, k->stream))
                break;
            world_wait(w, worker_has_work, &ww);
            continue;
        }
        if (!emu_task_ready(t)) {
            world_wait(w, task_is_ready, t);
            continue;
        }
        emu_task_begin(w->m, t);
        world_notify(w);
        if (t->kind == EMU_TASK_COLL && t->plan != NULL) {
            collective_ctas(k->sm, t->plan, NULL, 1);
            run_member(w->e, t->plan, t->member, t->key, &k->stage, k, &k->room);
            collective_ctas(k->sm, t->plan, NULL, -1);
            if (!emu_task_may_end(t)) /* its flows are done, its data not yet there */
                world_wait(w, task_may_end, t);
        } else if (t->kind == EMU_TASK_P2P) {
            run_legs(k, t);
        } else if (t->kind == EMU_TASK_SLEEP && t->peer_device >= 0) {
            run_peer_copy(k, t);
        } else if (t->duration_s > 0.0 && t->compute && k->sm->sms > 0) {
            compute_on_sms(k->sm, t->duration_s);
        } else if (t->duration_s > 0.0) {
            sg_actor_sleep_for(t->duration_s);
        }
        emu_task_end(w->m, t);
        if (simgrid_get_clock() > w->t_end)
            w->t_end = simgrid_get_clock();
        world_notify(w);
    }
    if (k->sm->sms > 0 && --k->sm->users == 0) { /* the holder's turn to end */
        sg_mutex_lock(w->mutex);
        sg_cond_notify_all(k->sm->cond);
        sg_mutex_unlock(w->mutex);
    }
}

static int world_start_stream(void *ctx, emu_stream *s, int device)
{
    emu_world *w = ctx;
    emu_worker *k = calloc(1, sizeof(*k));
    sg_host_t host = sg_host_by_name(plat_rank_host(w->e->plat, device));
    sg_actor_t a;
    char name[48];

    if (k == NULL || host == NULL) {
        free(k);
        w->failed = 1;
        return SP_ENOMEM;
    }
    *k = (emu_worker){w, s, -1, &w->gpus[device], NULL, NULL, NULL, 0, 0, {NULL, NULL, 0}, w->workers};
    w->workers = k;
    if (k->sm->cond == NULL) { /* the GPU's first stream: its SMs, and their holder */
        sm_share *g = k->sm;
        g->mutex = w->mutex;
        g->cond = sg_cond_init();
        g->speed = sg_host_get_speed(host);
        if (w->sm_contention && g->speed > 0.0)
            g->sms = plat_type_of_rank(w->e->plat, device)->gpu.sm_count;
        if (g->sms > 0) {
            sg_actor_t h;
            snprintf(name, sizeof(name), "device%d.sms", device);
            h = sg_actor_init(name, host);
            sg_actor_set_data(h, g);
            sg_actor_start(h, sms_main, 0, NULL);
        }
    }
    k->sm->users++;
    snprintf(name, sizeof(name), "device%d.stream%d", device, w->nworkers++);
    a = sg_actor_init(name, host);
    sg_actor_set_data(a, k);
    sg_actor_start(a, worker_main, 0, NULL);
    return SP_OK;
}

extern char **environ;

/* A NULL-terminated deep copy of argv; NULL when out of memory. */
static char **copy_argv(int argc, char **argv)
{
    size_t total = 0;
    char **v, *s;

    for (int i = 0; i < argc; i++)
        total += strlen(argv[i]) + 1;
    if ((v = malloc((size_t)(argc + 1) * sizeof(*v) + total)) == NULL)
        return NULL;
    s = (char *)(v + argc + 1);
    for (int i = 0; i < argc; i++) {
        size_t len = strlen(argv[i]) + 1;
        v[i] = memcpy(s, argv[i], len);
        s += len;
    }
    v[argc] = NULL;
    return v;
}

static void program_main(int argc, char *argv[])
{
    emu_process *p = sg_actor_self_get_data();
    emu_world *w = p->w;

    (void)argc;
    (void)argv;
    if (w->failed) { /* out of memory (world_map, or a gate): the run fails; a process not begun stays out */
        p->status = 1;
        p->ended = 1;
        emu_process_ended(w->m, (int)(p - w->procs), p->status);
        world_notify(w);
        return;
    }
    /* Each process gets its own argv (programs write into theirs, and GNU
     * getopt reorders it) and starts getopt afresh: the C library's state is
     * one for all processes, so set it as a new process would find it. */
    optind = 0;
    opterr = 1;
    p->status = p->fn(w->argc, p->argv, environ);
    fflush(NULL); /* the program's output before the report */
    p->ended = 1;
    if (simgrid_get_clock() > w->t_end)
        w->t_end = simgrid_get_clock();
    emu_process_ended(w->m, (int)(p - w->procs), p->status);
    world_notify(w);
}

int eng_run_emulation(eng *e, emu *m, const eng_program *fns, int argc, char **argv, int sm_contention,
                      int *status, double *time_s, diag_list *diag)
{
    int n = emu_processes(m);
    emu_world w = {e, m, NULL, 0, NULL, sg_mutex_init(), sg_cond_init(), calloc((size_t)n, sizeof(emu_process)), n,
                   argc, argv, 0.0, 0.0, NULL, 0, 0, sm_contention,
                   calloc((size_t)e->plat->nranks + 1, sizeof(sm_share)), 0};
    emu_services svc = {&w, world_start_stream, world_notify, world_wait, world_now, world_self, world_start_thread,
                        world_yield, world_sleep, world_transfer};
    int err = SP_OK;

    *status = 0;
    *time_s = 0.0;
    if (w.gpus == NULL || w.procs == NULL) {
        free(w.gpus);
        free(w.procs);
        sg_cond_destroy(w.cond);
        sg_mutex_destroy(w.mutex);
        return SP_ENOMEM;
    }
    w.t0 = w.t_end = simgrid_get_clock();
    emu_bind(m, &svc);
    for (int i = 0; i < n; i++) { /* each process on the host of the first GPU it sees */
        sg_actor_t a = sg_actor_init(n == 1 ? "program" : "process", sg_host_by_name(plat_rank_host(e->plat, emu_process_device(m, i))));
        char **own = copy_argv(argc, argv);
        w.procs[i] = (emu_process){&w, fns[i], own != NULL ? own : argv, 0, 0}; /* else the shared one */
        if (world_map(&w, a, i) < 0)
            w.failed = 1;
        sg_actor_set_data(a, &w.procs[i]);
        sg_actor_start(a, program_main, 0, NULL);
    }
    simgrid_run();
    emu_bind(NULL, NULL);
    if (gates_end(e, diag) < 0)
        err = SP_ENOMEM;
    if (w.failed) {
        diag_error(diag, (sp_loc){0}, "out of memory while emulating");
        err = SP_ENOMEM;
    } else if (emu_out_of_memory(m)) { /* said when it happened */
        err = SP_ENOMEM;
    }
    if (err == SP_ENOMEM) /* what the failure left waiting is its consequence, not a hang of the program's */
        note_left(diag, emu_nblocked(m), "thread(s) or stream(s) were");
    else if (emu_report_blocked(m, diag) > 0)
        err = SP_EDEADLOCK;
    for (int i = 0; i < n && *status == 0; i++) /* the first process that failed */
        *status = w.procs[i].status;
    for (int i = 0; i < n; i++) /* a hung process's too: its actor never runs again */
        if (w.procs[i].argv != argv)
            free(w.procs[i].argv);
    *time_s = w.t_end - w.t0;
    free(w.procs);
    free(w.thread_of_pid);
    while (w.threads != NULL) {
        emu_thread_actor *next = w.threads->next;
        free(w.threads);
        w.threads = next;
    }
    while (w.workers != NULL) {
        emu_worker *next = w.workers->next;
        free(w.workers->comms);
        for (size_t i = 0; i < w.workers->nhops; i++) /* a relay its hung worker never joined */
            if (w.workers->hops[i].actor != NULL)
                sg_actor_unref(w.workers->hops[i].actor);
        free(w.workers->hops);
        room_free(&w.workers->room);
        free(w.workers->got);
        free(w.workers);
        w.workers = next;
    }
    for (int d = 0; d < e->plat->nranks; d++)
        if (w.gpus[d].cond != NULL)
            sg_cond_destroy(w.gpus[d].cond);
    free(w.gpus);
    sg_cond_destroy(w.cond);
    sg_mutex_destroy(w.mutex);
    return err;
}
