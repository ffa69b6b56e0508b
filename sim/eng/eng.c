/* eng.c - SimGrid glue: engine set-up, one actor per rank, completeness.
 *
 * SimGrid 3.32 C API only (shared/SIMGRID.md). Model settings go in between
 * simgrid_init() and simgrid_load_platform(); after loading they abort.
 */
#include <simgrid/engine.h> /* first: later SimGrid headers need <stddef.h> */

#include <simgrid/actor.h>
#include <simgrid/comm.h>
#include <simgrid/host.h>
#include <simgrid/link.h>
#include <xbt/dynar.h>
#include <simgrid/mailbox.h>
#include <simgrid/version.h>
#include <xbt/config.h>
#include <xbt/log.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eng/eng.h"

typedef struct eng_rank {
    const coll_plan *plan;
    int member;
    unsigned long op; /* operation id, part of mailbox names */
    int stage;        /* current stage, for the deadlock report */
    int finished;
    double t_end;
    unsigned long long *messages;
} eng_rank;

struct eng {
    const plat *plat;
    unsigned long ops;
    unsigned long long messages;
};

static int engine_started; /* SimGrid allows one engine per process */

static int write_xml(const plat *p, const char *path, diag_list *diag)
{
    FILE *fp = fopen(path, "w");
    int err;

    if (fp == NULL) {
        diag_error(diag, (sp_loc){path, 0}, "cannot write the SimGrid platform: %s",
                   strerror(errno));
        return SP_EIO;
    }
    err = plat_xml_write(p, fp);
    if (fclose(fp) != 0 || err < 0) {
        diag_error(diag, (sp_loc){path, 0}, "cannot write the SimGrid platform");
        return SP_EIO;
    }
    return SP_OK;
}

int eng_new(eng **out, const plat *p, const char *xml_keep, diag_list *diag)
{
    char tmpl[] = "/tmp/scalepath-XXXXXX.xml";
    int fd, argc = 1, err;
    char arg0[] = "scalepath";
    char *argv[] = {arg0, NULL};
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
    if (xml_keep != NULL) {
        xml = xml_keep;
        err = write_xml(p, xml, diag);
    } else {
        fd = mkstemps(tmpl, 4);
        if (fd < 0) {
            diag_error(diag, (sp_loc){0}, "cannot create a temporary file: %s", strerror(errno));
            free(e);
            return SP_EIO;
        }
        close(fd);
        xml = tmpl;
        err = write_xml(p, xml, diag);
    }
    if (err < 0) {
        if (xml_keep == NULL)
            unlink(tmpl);
        free(e);
        return err;
    }
    engine_started = 1;
    simgrid_init(&argc, argv);
    xbt_log_control_set("root.thres:critical");
    /* Exact alpha-beta flows: no TCP corrections, no reverse cross-traffic, no
     * window bound (shared/SIMGRID.md section 3). */
    sg_cfg_set_string("network/model", "CM02");
    sg_cfg_set_boolean("network/crosstraffic", "no");
    sg_cfg_set_double("network/TCP-gamma", 1e15);
    sg_cfg_set_double("network/loopback-bw", 1e15);
    sg_cfg_set_int("contexts/stack-size", 256); /* KiB; actor bodies are shallow */
    simgrid_load_platform(xml);
    if (xml_keep == NULL)
        unlink(tmpl);
    *out = e;
    return SP_OK;
}

void eng_free(eng *e)
{
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

static void mailbox_name(char *buf, size_t size, unsigned long op, int dst, int src, int ring)
{
    snprintf(buf, size, "c%lu.%d.%d.%d", op, dst, src, ring);
}

static sg_mailbox_t mailbox(unsigned long op, int dst, int src, int ring)
{
    char name[96];

    mailbox_name(name, sizeof(name), op, dst, src, ring);
    return sg_mailbox_by_name(name);
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
 * step. */
static void rank_main(int argc, char *argv[])
{
    eng_rank *r = sg_actor_self_get_data();
    const coll_plan *c = r->plan;
    int n = coll_plan_nstages(c, r->member);
    coll_stage st;
    sg_comm_t sends[COLL_MAX_XFERS], recvs[COLL_MAX_XFERS];
    void *got[COLL_MAX_XFERS];
    size_t nsends = 0;

    (void)argc;
    (void)argv;
    coll_plan_stage(c, r->member, 0, &st);
    for (int i = 0; i < st.nrecv; i++) {
        char name[96];
        mailbox_name(name, sizeof(name), r->op, r->member, st.recv[i].peer, st.recv[i].ring);
        sg_mailbox_set_receiver(name);
    }
    for (int s = 0; s < n; s++) {
        r->stage = s;
        coll_plan_stage(c, r->member, s, &st);
        if (nsends > 0)
            sg_comm_wait_all(sends, nsends);
        nsends = 0;
        if (st.delay_s > 0.0)
            sg_actor_sleep_for(st.delay_s);
        for (int i = 0; i < st.nsend; i++)
            sends[nsends++] = sg_mailbox_put_async(mailbox(r->op, st.send[i].peer, r->member,
                                                           st.send[i].ring),
                                                   r, (long)st.send[i].bytes);
        *r->messages += (unsigned long long)st.nsend;
        for (int i = 0; i < st.nrecv; i++)
            recvs[i] = sg_mailbox_get_async(mailbox(r->op, r->member, st.recv[i].peer,
                                                    st.recv[i].ring),
                                            &got[i]);
        if (st.nrecv > 0)
            sg_comm_wait_all(recvs, (size_t)st.nrecv);
    }
    if (nsends > 0)
        sg_comm_wait_all(sends, nsends);
    r->finished = 1;
    r->t_end = simgrid_get_clock();
}

int eng_run_coll(eng *e, const coll_plan *c, double *time_s, diag_list *diag)
{
    int n = coll_plan_members(c);
    eng_rank *ranks = calloc((size_t)n, sizeof(*ranks));
    double t0 = simgrid_get_clock(), t_end = t0;
    int err = SP_OK;

    *time_s = 0.0;
    if (ranks == NULL)
        return SP_ENOMEM;
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
        ranks[m] = (eng_rank){c, m, e->ops, -1, 0, 0.0, &e->messages};
        snprintf(name, sizeof(name), "rank%d", coll_plan_rank(c, m));
        a = sg_actor_init(name, host);
        sg_actor_set_data(a, &ranks[m]);
        sg_actor_start(a, rank_main, 0, NULL);
    }
    simgrid_run();
    for (int m = 0; m < n; m++) {
        if (!ranks[m].finished) {
            diag_error(diag, (sp_loc){0},
                       "rank %d never finished %s: blocked in stage %d of %d (deadlock)",
                       coll_plan_rank(c, m), coll_plan_algo(c) == COLL_ALGO_RING ? "the ring" : "",
                       ranks[m].stage, coll_plan_nstages(c, m));
            err = SP_EDEADLOCK;
        } else if (ranks[m].t_end > t_end) {
            t_end = ranks[m].t_end;
        }
    }
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

/* SimGrid names the two directions of a SPLITDUPLEX link "X_UP" / "X_DOWN". */
static int same_link(const char *sg, const char *ours)
{
    size_t n = strlen(ours);
    return strncmp(sg, ours, n) == 0 &&
           (sg[n] == '\0' || strcmp(sg + n, "_UP") == 0 || strcmp(sg + n, "_DOWN") == 0);
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
                if (!same_link(sg_link_get_name(xbt_dynar_get_as(links, k, sg_link_t)),
                               j->plat->links[want.links[w]].name)) {
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
                lo += (size_t)snprintf(ours + lo, sizeof(ours) - lo, " %s",
                                       j->plat->links[want.links[k]].name);
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
    sg_actor_t a = sg_actor_init("routes", sg_host_by_name(plat_rank_host(e->plat, 0)));

    sg_actor_set_data(a, &j);
    sg_actor_start(a, route_main, 0, NULL);
    simgrid_run();
    if (!j.done) {
        diag_error(diag, (sp_loc){0}, "internal: the route check did not finish");
        return SP_EINTERNAL;
    }
    return j.mismatches ? SP_EINTERNAL : SP_OK;
}
