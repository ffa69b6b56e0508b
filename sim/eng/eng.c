/* eng.c - SimGrid glue: engine set-up, one actor per rank, completeness.
 *
 * SimGrid 3.32 C API only (shared/SIMGRID.md). Model settings go in between
 * simgrid_init() and simgrid_load_platform(); after loading they abort.
 */
#include <simgrid/engine.h> /* first: later SimGrid headers need <stddef.h> */

#include <simgrid/actor.h>
#include <simgrid/comm.h>
#include <simgrid/host.h>
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
