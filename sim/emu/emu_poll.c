/* emu_poll.c - what a query of the program costs (cudaStreamQuery,
 * cudaEventQuery, MPI_Test, MPI_Testall, MPI_Testany, MPI_Iprobe, pthread_mutex_trylock,
 * sem_trywait): host time, as SimGrid's SMPI charges each MPI_Test, or,
 * when nothing can happen before the next change, a jump to it; and the
 * watches that end loops that poll for nothing as hangs
 * (docs/emulation.md, "Polling"). Actors run one at a time, and every
 * wait or sleep here lets the others run. */
#include "emu/emu_int.h"

/* A task that will end without another thread's help: a kernel or copy,
 * an event, a collective every rank has begun, sends and receives whose
 * peers have all begun. */
static int task_moves(const emu_task *t)
{
    if (t->kind == EMU_TASK_COLL) {
        const emu_coll *c = t->impl;
        return c == NULL || c->nbegun == c->cl->nranks;
    }
    if (t->kind == EMU_TASK_P2P) {
        const emu_batch *b = t->impl;
        for (size_t i = 0; b != NULL && i < t->nlegs; i++)
            if (!b->msgs[i]->sent_begun || !b->msgs[i]->recv_begun)
                return 0;
    }
    return 1;
}

static int work_moves(const emu *m)
{
    if (m->mpi_moving > 0) /* MPI data on its way arrives by itself */
        return 1;
    for (size_t i = 0; i < m->nbusy; i++)
        if (task_moves(m->busy[i]))
            return 1;
    return 0;
}

/* Whether no other thread of the program can act before the next change:
 * 1 if each waits in a blocking call; 2 if each waits or polls, having
 * seen nothing new, for GPU work that will bring a change (moves); 0 if
 * one can act. */
static int others_wait(const emu *m, const emu_thread *self, int moves)
{
    int r = 1;
    for (size_t i = 0; i < m->nthreads; i++) {
        const emu_thread *u = m->threads[i];
        if (u == self || !u->running || u->blocked)
            continue;
        if (moves && u->idle_poll && u->poll_moving)
            r = 2;
        else
            return 0;
    }
    return r;
}

/* Whether a stream's work ahead will end by itself. */
int emu_stream_moving(const emu_stream *s)
{
    /* A stream held by a wait (cudaStreamWaitEvent, or the NULL stream's
     * implicit ones) moves when the stream of the task it waits for does. */
    for (int hops = 0; s != NULL && s->head != NULL && hops < 1000000; hops++) {
        const emu_task *h = s->head, *on = h->impl;
        if (h->kind == EMU_TASK_WAIT && !h->begun && on != NULL && !on->done) {
            s = on->stream;
            continue;
        }
        return h->begun && task_moves(h);
    }
    return 0;
}

/* Nothing happened since the thread last looked: no change, and no call
 * into the emulator by another thread. */
static int nothing_new(const emu *m, const emu_thread *t)
{
    return t->poll_seen == m->changes && m->calls - t->calls == t->calls_seen - t->own_seen;
}

typedef struct change_arg {
    const emu *m;
    unsigned long seen;
} change_arg;

static int changed(const void *arg)
{
    const change_arg *a = arg;
    return a->m->changes != a->seen;
}

/* Simulated seconds with no change anywhere and no work running that ends
 * by itself, after which a poll waits for a change (a hang, if none
 * comes); and a thread's fruitless polls in a row of what only it could
 * change (a trylock of a mutex it holds), after which it does the same:
 * emulator limits that end loops that poll for nothing, not model
 * parameters. */
#define EMU_POLL_WATCH_S 1.0
#define EMU_OWN_POLLS 1000000
/* Unfinished queries since the thread last queued work before its polls
 * may jump (a loop that checks a deadline on the clock reads it sooner). */
#define EMU_QUERY_FREE 1000

/* Every query takes cost_s of host time, as SimGrid's SMPI charges each
 * MPI_Test: a loop of them moves time on at the host's pace, and others
 * run meanwhile. One that is quiet (nothing has happened since it last
 * looked: no change, no other thread's call; and its thread has made a
 * thousand unfinished queries, and read no clock, since it last queued
 * work) and finds its work unfinished would see nothing new until the
 * next change if no other thread can act: time jumps there instead.
 * Other threads that poll quietly, only for GPU work that ends by itself
 * since they last saw a change, count as unable to act when this one's
 * polls are such too. */
void emu_query(emu *m, const char *fn, emu_query_found done, int moving, double cost_s)
{
    emu_thread *t = emu_thread_self(m);
    double now = m->svc.now != NULL ? m->svc.now(m->svc.ctx) : 0.0;
    change_arg a = {m, 0};
    int jump = 0, quiet, w;

    if (m->svc.yield == NULL || m->svc.sleep == NULL || m->svc.wait == NULL)
        return;
    /* A query changes nothing: emu_note_call's count of it is taken back. */
    m->calls--;
    t->calls--;
    if (t->poll_seen != m->changes)
        t->poll_moving = 1; /* its polls since a change: all for moving GPU work, so far */
    t->poll_moving = t->poll_moving && (done == EMU_QUERY_DONE || moving);
    if (done != EMU_QUERY_DONE)
        t->polls_since_launch++;
    quiet = nothing_new(m, t) && !t->read_clock && t->polls_since_launch > EMU_QUERY_FREE;
    t->own_polls = done == EMU_QUERY_OWN && t->poll_seen == m->changes ? t->own_polls + 1 : 0;
    if (done != EMU_QUERY_DONE) {
        int moves = work_moves(m);
        if (!moves && (now - m->change_at > EMU_POLL_WATCH_S || t->own_polls > EMU_OWN_POLLS)) {
            jump = 1; /* nothing for so long, and nothing runs: a change, or a hang */
        } else if (done == EMU_QUERY_WAITING && quiet && (w = others_wait(m, t, moves)) != 0 &&
                   (w == 1 || t->poll_moving)) {
            m->svc.yield(m->svc.ctx); /* threads released at this instant run first */
            w = others_wait(m, t, work_moves(m));
            jump = nothing_new(m, t) && (w == 1 || (w == 2 && t->poll_moving));
        }
    }
    t->waiting_what = EMU_WAIT_POLL; /* for a report, were the run to end meanwhile */
    t->waiting = fn;
    t->idle_poll = done != EMU_QUERY_DONE && quiet;
    if (jump) {
        a.seen = m->changes;
        t->blocked = 1;
        m->svc.wait(m->svc.ctx, changed, &a);
        t->blocked = 0;
    } else {
        m->svc.sleep(m->svc.ctx, cost_s);
    }
    t->idle_poll = 0;
    t->waiting = NULL;
    t->waiting_what = EMU_WAIT_NONE;
    if (t->poll_seen != m->changes)
        t->poll_moving = 1;
    t->poll_seen = m->changes;
    t->calls_seen = m->calls;
    t->own_seen = t->calls;
}
