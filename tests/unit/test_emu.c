/* test_emu.c - the emulator's runtime without SimGrid: the program's NCCL
 * and CUDA calls queue tasks, which a stand-in runner here takes in order
 * (begin, then end once the peers a task needs have begun); what is
 * checked is the data and the bookkeeping, not time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "emu/emu_int.h"
#include "emu/include/scalepath_emu.h"
#include "train/train.h"

typedef struct fixture {
    diag_list *d;
    plat *p;
    emu *m;
} fixture;

static fixture *F;

static int can_end(const emu_task *t)
{
    if (t->kind == EMU_TASK_COLL) {
        const emu_coll *c = t->impl;
        return c->nbegun == c->cl->nranks;
    }
    if (t->kind == EMU_TASK_P2P) {
        const emu_batch *b = t->impl;
        for (size_t i = 0; i < t->nlegs; i++)
            if (!b->msgs[i]->sent_begun || !b->msgs[i]->recv_begun)
                return 0;
    }
    return 1;
}

/* One pass over the streams; whether anything moved. */
static int step(void)
{
    int moved = 0;
    for (size_t i = 0; i < F->m->nstreams; i++) {
        emu_task *t = emu_stream_next(F->m->streams[i]);
        if (t == NULL)
            continue;
        if (!t->begun && emu_task_ready(t)) {
            emu_task_begin(F->m, t);
            moved = 1;
        }
        if (t->begun && can_end(t)) {
            emu_task_end(F->m, t);
            moved = 1;
        }
    }
    return moved;
}

static int fake_start(void *ctx, emu_stream *s, int device)
{
    (void)ctx;
    (void)s;
    (void)device;
    return SP_OK;
}

static void fake_notify(void *ctx)
{
    (void)ctx;
}

/* Run tasks until ready, or until nothing can move (a hang: the call returns). */
static void fake_wait(void *ctx, int (*ready)(const void *), const void *arg)
{
    (void)ctx;
    while (!ready(arg) && step())
        ;
}

static double fake_now(void *ctx)
{
    (void)ctx;
    return 0.0;
}

/* A runtime on `nodes` nodes of a shipped platform, bound to the stand-in runner. */
static int setup_on(void **state, const char *platform, int nodes)
{
    static fixture f;
    static const emu_services svc = {NULL, fake_start, fake_notify, fake_wait, fake_now, NULL, NULL, NULL, NULL, NULL};

    memset(&f, 0, sizeof(f));
    if (diag_new(&f.d, 0) < 0 || plat_load(&f.p, platform, f.d) < 0 || plat_set_nodes(f.p, nodes, f.d) < 0 ||
        emu_new(&f.m, f.p, NULL) < 0)
        return -1;
    emu_bind(f.m, &svc);
    F = &f;
    *state = &f;
    return 0;
}

static int setup(void **state)
{
    return setup_on(state, PLATFORMS "/dgx-h100.cfg", 1);
}

static int setup128(void **state) /* 16 DGX H100 nodes */
{
    return setup_on(state, PLATFORMS "/superpod-h100.cfg", 16);
}

static int teardown(void **state)
{
    fixture *f = *state;
    emu_bind(NULL, NULL);
    emu_free(f->m);
    plat_free(f->p);
    diag_free(f->d);
    return 0;
}

/* Three ranks all-reduce one element each; the result on rank 0. */
static void all_reduce3(const void *in, size_t size, ncclDataType_t type, ncclRedOp_t op, void *out)
{
    ncclComm_t comms[3];
    void *buf[3];

    assert_int_equal(ncclCommInitAll(comms, 3, NULL), ncclSuccess);
    for (int d = 0; d < 3; d++) {
        assert_int_equal(cudaSetDevice(d), cudaSuccess);
        assert_int_equal(cudaMalloc(&buf[d], size), cudaSuccess);
        assert_int_equal(cudaMemcpy(buf[d], (const char *)in + (size_t)d * size, size, cudaMemcpyHostToDevice),
                         cudaSuccess);
    }
    assert_int_equal(ncclGroupStart(), ncclSuccess);
    for (int d = 0; d < 3; d++)
        assert_int_equal(ncclAllReduce(buf[d], buf[d], 1, type, op, comms[d], NULL), ncclSuccess);
    assert_int_equal(ncclGroupEnd(), ncclSuccess);
    for (int d = 0; d < 3; d++) {
        assert_int_equal(cudaSetDevice(d), cudaSuccess);
        assert_int_equal(cudaDeviceSynchronize(), cudaSuccess);
    }
    assert_int_equal(cudaMemcpy(out, buf[0], size, cudaMemcpyDeviceToHost), cudaSuccess);
    for (int d = 0; d < 3; d++)
        assert_int_equal(cudaFree(buf[d]), cudaSuccess);
}

/* 16-bit floats round after every addition, as a GPU adding two at a time
 * does: 2048 + 1 + 1 in half is 2048 (2049 rounds to even), where one
 * rounding of the exact 2050 would give 2050; bf16 the same at 256. */
static void test_emu__half_rounds_each_step(void **state)
{
    const uint16_t half[3] = {0x6800 /* 2048 */, 0x3c00 /* 1 */, 0x3c00};
    const uint16_t bf16[3] = {0x4380 /* 256 */, 0x3f80 /* 1 */, 0x3f80};
    uint16_t out = 0;

    (void)state;
    all_reduce3(half, 2, ncclFloat16, ncclSum, &out);
    assert_int_equal(out, 0x6800);
    all_reduce3(bf16, 2, ncclBfloat16, ncclSum, &out);
    assert_int_equal(out, 0x4380);
}

static void test_emu__integers_wrap_and_average(void **state)
{
    const int8_t i8[3] = {100, 100, 1};
    const int32_t i32[3] = {7, 8, 10};
    const float f[3] = {1.0f, 2.0f, 4.0f};
    int8_t o8 = 0;
    int32_t o32 = 0;
    float of = 0.0f;

    (void)state;
    all_reduce3(i8, 1, ncclInt8, ncclSum, &o8);
    assert_int_equal(o8, (int8_t)-55); /* 201 wraps */
    all_reduce3(i32, 4, ncclInt32, ncclAvg, &o32);
    assert_int_equal(o32, 8); /* 25 / 3, truncated */
    all_reduce3(f, 4, ncclFloat, ncclAvg, &of);
    assert_true(of == 7.0f / 3.0f);
    all_reduce3(f, 4, ncclFloat, ncclProd, &of);
    assert_true(of == 8.0f);
}

/* A rank that calls another collective than its peers is refused at its
 * call; a rank that never calls leaves the others waiting, and the report
 * names it. */
static void test_emu__mismatch_and_hang(void **state)
{
    fixture *f = *state;
    ncclComm_t comms[2];
    float *buf[2];

    assert_int_equal(ncclCommInitAll(comms, 2, NULL), ncclSuccess);
    for (int d = 0; d < 2; d++) {
        assert_int_equal(cudaSetDevice(d), cudaSuccess);
        assert_int_equal(cudaMalloc((void **)&buf[d], 64), cudaSuccess);
    }
    assert_int_equal(ncclAllReduce(buf[0], buf[0], 16, ncclFloat, ncclSum, comms[0], NULL), ncclSuccess);
    assert_int_equal(ncclAllGather(buf[1], buf[1], 8, ncclFloat, comms[1], NULL), ncclInvalidUsage);
    assert_non_null(strstr(ncclGetLastError(comms[1]), "rank 1 calls ncclAllGather"));
    assert_int_equal(cudaSetDevice(0), cudaSuccess);
    assert_int_equal(cudaDeviceSynchronize(), cudaSuccess); /* returns: the stand-in cannot block */
    assert_int_equal(cudaStreamQuery(NULL), cudaErrorNotReady);
    emu_process_ended(f->m, 0, 0);
    assert_int_equal(emu_report_blocked(f->m, f->d), 1);
    assert_int_equal(diag_count(f->d), 1);
    assert_non_null(strstr(diag_text(f->d, 0), "rank(s) 1 of 2 never reached it (never called it)"));
}

/* Device memory is counted against the GPU's capacity and given back. */
static void test_emu__memory_capacity(void **state)
{
    fixture *f = *state;
    double cap = plat_type_of_rank(f->p, 0)->gpu.mem_bytes;
    void *a = NULL, *b = NULL;

    assert_int_equal(cudaSetDevice(0), cudaSuccess);
    assert_int_equal(cudaMalloc(&a, (size_t)(cap / 2) + 1), cudaSuccess);
    assert_int_equal(cudaMalloc(&b, (size_t)(cap / 2) + 1), cudaErrorMemoryAllocation);
    assert_null(b);
    assert_int_equal(cudaGetLastError(), cudaErrorMemoryAllocation);
    assert_int_equal(cudaSetDevice(1), cudaSuccess); /* another GPU has its own */
    assert_int_equal(cudaMalloc(&b, (size_t)(cap / 2) + 1), cudaSuccess);
    assert_int_equal(cudaFree(b), cudaSuccess);
    assert_int_equal(cudaFree(a), cudaSuccess);
    assert_int_equal(cudaSetDevice(0), cudaSuccess);
    assert_int_equal(cudaMalloc(&a, (size_t)(cap / 2) + 1), cudaSuccess);
    assert_int_equal(cudaFree(a), cudaSuccess);
    assert_int_equal(emu_api_errors(f->m), 1);
    /* Empty buffers, as CUDA 13 gives them: cudaMalloc(0) is NULL, and moving
     * zero bytes to or from it succeeds, leaving no error behind. */
    a = &b;
    assert_int_equal(cudaMalloc(&a, 0), cudaSuccess);
    assert_null(a);
    assert_int_equal(cudaMemcpy(a, &b, 0, cudaMemcpyHostToDevice), cudaSuccess);
    assert_int_equal(cudaMemcpy(&b, a, 0, cudaMemcpyDeviceToHost), cudaSuccess);
    assert_int_equal(cudaMemset(a, 0, 0), cudaSuccess);
    assert_int_equal(cudaMemsetAsync(a, 0, 0, NULL), cudaSuccess);
    assert_int_equal(cudaFree(a), cudaSuccess);
    assert_int_equal(cudaGetLastError(), cudaSuccess);
    assert_int_equal(cudaFree(&b), cudaErrorInvalidValue); /* not cudaMalloc's */
    assert_int_equal(cudaGetLastError(), cudaErrorInvalidValue);
    assert_int_equal(emu_api_errors(f->m), 2);
}

/* Sends and receives match per (source, destination) in call order, and
 * the counts must agree. */
static void test_emu__send_recv_order(void **state)
{
    ncclComm_t comms[2];
    double *buf[2], host[4] = {1, 2, 3, 4}, got[4] = {0};

    (void)state;
    assert_int_equal(ncclCommInitAll(comms, 2, NULL), ncclSuccess);
    for (int d = 0; d < 2; d++) {
        assert_int_equal(cudaSetDevice(d), cudaSuccess);
        assert_int_equal(cudaMalloc((void **)&buf[d], sizeof(host)), cudaSuccess);
    }
    assert_int_equal(cudaMemcpy(buf[0], host, sizeof(host), cudaMemcpyHostToDevice), cudaSuccess);
    assert_int_equal(ncclGroupStart(), ncclSuccess);
    assert_int_equal(ncclSend(buf[0], 2, ncclDouble, 1, comms[0], NULL), ncclSuccess);     /* 1, 2 */
    assert_int_equal(ncclSend(buf[0] + 2, 2, ncclDouble, 1, comms[0], NULL), ncclSuccess); /* 3, 4 */
    assert_int_equal(ncclRecv(buf[1] + 2, 2, ncclDouble, 0, comms[1], NULL), ncclSuccess); /* first: 1, 2 */
    assert_int_equal(ncclRecv(buf[1], 2, ncclDouble, 0, comms[1], NULL), ncclSuccess);     /* second: 3, 4 */
    assert_int_equal(ncclGroupEnd(), ncclSuccess);
    assert_int_equal(cudaSetDevice(1), cudaSuccess);
    assert_int_equal(cudaDeviceSynchronize(), cudaSuccess);
    assert_int_equal(cudaMemcpy(got, buf[1], sizeof(got), cudaMemcpyDeviceToHost), cudaSuccess);
    assert_true(got[0] == 3 && got[1] == 4 && got[2] == 1 && got[3] == 2);
    /* a receive of another count than the matching send is refused */
    assert_int_equal(ncclSend(buf[0], 2, ncclDouble, 1, comms[0], NULL), ncclSuccess);
    assert_int_equal(ncclRecv(buf[1], 3, ncclDouble, 0, comms[1], NULL), ncclInvalidUsage);
}

/* A group's operations run communicator by communicator, collectives
 * before sends and receives, whatever order each device's calls came in
 * (NCCL launches a group so): device 0 sends then all-reduces, device 1
 * all-reduces then receives, and both finish. */
static void test_emu__group_order(void **state)
{
    fixture *f = *state;
    ncclComm_t a[2], b[2];
    float *buf[2], host[2] = {1, 2}, got[2] = {0};

    assert_int_equal(ncclCommInitAll(a, 2, NULL), ncclSuccess);
    assert_int_equal(ncclCommInitAll(b, 2, NULL), ncclSuccess);
    for (int d = 0; d < 2; d++) {
        assert_int_equal(cudaSetDevice(d), cudaSuccess);
        assert_int_equal(cudaMalloc((void **)&buf[d], 2 * sizeof(float)), cudaSuccess);
        assert_int_equal(cudaMemcpy(buf[d], &host[d], sizeof(float), cudaMemcpyHostToDevice), cudaSuccess);
    }
    assert_int_equal(ncclGroupStart(), ncclSuccess);
    assert_int_equal(ncclSend(buf[0], 1, ncclFloat, 1, a[0], NULL), ncclSuccess);
    assert_int_equal(ncclAllReduce(buf[0] + 1, buf[0] + 1, 1, ncclFloat, ncclSum, b[0], NULL), ncclSuccess);
    assert_int_equal(ncclAllReduce(buf[0], buf[0], 1, ncclFloat, ncclSum, a[0], NULL), ncclSuccess);
    assert_int_equal(ncclAllReduce(buf[1] + 1, buf[1] + 1, 1, ncclFloat, ncclSum, b[1], NULL), ncclSuccess);
    assert_int_equal(ncclAllReduce(buf[1], buf[1], 1, ncclFloat, ncclSum, a[1], NULL), ncclSuccess);
    assert_int_equal(ncclRecv(buf[1] + 1, 1, ncclFloat, 0, a[1], NULL), ncclSuccess);
    assert_int_equal(ncclGroupEnd(), ncclSuccess);
    for (int d = 0; d < 2; d++) {
        assert_int_equal(cudaSetDevice(d), cudaSuccess);
        assert_int_equal(cudaDeviceSynchronize(), cudaSuccess);
        assert_int_equal(cudaStreamQuery(NULL), cudaSuccess); /* nothing left: no hang */
    }
    /* On a's streams the all-reduce (1 + 2) ran before the message, which
     * carries device 0's sum into device 1's second element. */
    assert_int_equal(cudaMemcpy(got, buf[1], sizeof(got), cudaMemcpyDeviceToHost), cudaSuccess);
    assert_true(got[0] == 3.0f && got[1] == 3.0f);
    assert_int_equal(emu_api_errors(f->m), 0);
}

/* ncclAvg of integers divides by the rank count in a wide type: 128 ranks
 * of int8 ones sum to 128, which wraps to -128, and -128 / 128 is -1. */
static void test_emu__integer_average_many_ranks(void **state)
{
    fixture *f = *state;
    ncclComm_t comms[128];
    int8_t *buf[128], one = 1, got = 0;

    (void)f;
    assert_int_equal(ncclCommInitAll(comms, 128, NULL), ncclSuccess);
    assert_int_equal(ncclGroupStart(), ncclSuccess);
    for (int d = 0; d < 128; d++) {
        assert_int_equal(cudaSetDevice(d), cudaSuccess);
        assert_int_equal(cudaMalloc((void **)&buf[d], 1), cudaSuccess);
        assert_int_equal(cudaMemcpy(buf[d], &one, 1, cudaMemcpyHostToDevice), cudaSuccess);
        assert_int_equal(ncclAllReduce(buf[d], buf[d], 1, ncclInt8, ncclAvg, comms[d], NULL), ncclSuccess);
    }
    assert_int_equal(ncclGroupEnd(), ncclSuccess);
    assert_int_equal(cudaSetDevice(5), cudaSuccess);
    assert_int_equal(cudaDeviceSynchronize(), cudaSuccess);
    assert_int_equal(cudaMemcpy(&got, buf[5], 1, cudaMemcpyDeviceToHost), cudaSuccess);
    assert_int_equal(got, -1);
}

/* A host-device copy costs the unified memory's bandwidth on a GB10 (read
 * and written); on an H100 its host link: the fixed cost, then the bytes at
 * the page-locked or the pageable rate; nothing on a B200, whose host link
 * the platform does not describe. */
static void test_emu__host_copy_time(void **state)
{
    static const char *const files[3] = {PLATFORMS "/dgx-spark.cfg", PLATFORMS "/dgx-h100.cfg",
                                         PLATFORMS "/dgx-b200.cfg"};
    const double n = 1 << 20;

    (void)state;
    for (int i = 0; i < 3; i++) {
        fixture *f;
        void *d = NULL, *h = NULL, *pageable = malloc(1 << 20);
        emu_task *t;
        const plat_gpu *g;
        assert_non_null(pageable);
        memset(pageable, 0, 1 << 20);
        assert_int_equal(setup_on((void **)&f, files[i], 1), 0);
        g = &plat_type_of_rank(f->p, 0)->gpu;
        assert_int_equal(cudaMalloc(&d, 1 << 20), cudaSuccess);
        assert_int_equal(cudaMallocHost(&h, 1 << 20), cudaSuccess);
        assert_int_equal(cudaMemcpyAsync(d, h, 1 << 20, cudaMemcpyHostToDevice, NULL), cudaSuccess);
        t = f->m->tasks[f->m->ntasks - 1];
        if (g->unified)
            assert_true(t->duration_s == 2.0 * n / (g->mem_bw_Bps * (g->eff_memory > 0 ? g->eff_memory : 1.0)));
        else if (i == 1)
            assert_true(t->duration_s == g->host_link_lat_s + n / g->host_link_Bps && g->host_link_Bps > 0.0);
        else
            assert_true(t->duration_s == 0.0 && g->host_link_Bps == 0.0);
        assert_int_equal(cudaMemcpyAsync(d, pageable, 1 << 20, cudaMemcpyHostToDevice, NULL), cudaSuccess);
        t = f->m->tasks[f->m->ntasks - 1];
        if (i == 1)
            assert_true(t->duration_s == g->host_link_lat_s + n / g->host_link_pageable_Bps &&
                        g->host_link_pageable_Bps < g->host_link_Bps);
        assert_int_equal(cudaDeviceSynchronize(), cudaSuccess);
        teardown((void **)&f);
        free(pageable);
    }
}

/* Copies over one GPU's host link queue behind each other in each
 * direction, whatever their streams; the other direction, and another
 * GPU's link, do not wait. (The stand-in runner's clock stays at 0, so the
 * waiting shows in each begun copy's duration.) */
static void test_emu__host_link_queue(void **state)
{
    fixture *f;
    void *h = NULL, *d[3] = {NULL, NULL, NULL};
    cudaStream_t s[3];
    emu_task *t[4];
    const plat_gpu *g;
    double one;

    (void)state;
    assert_int_equal(setup_on((void **)&f, PLATFORMS "/dgx-h100.cfg", 1), 0);
    g = &plat_type_of_rank(f->p, 0)->gpu;
    one = g->host_link_lat_s + (double)(1 << 20) / g->host_link_Bps;
    assert_int_equal(cudaMallocHost(&h, 1 << 20), cudaSuccess);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(cudaSetDevice(i < 2 ? 0 : 1), cudaSuccess);
        assert_int_equal(cudaMalloc(&d[i], 1 << 20), cudaSuccess);
        assert_int_equal(cudaStreamCreate(&s[i]), cudaSuccess);
    }
    assert_int_equal(cudaMemcpyAsync(d[0], h, 1 << 20, cudaMemcpyHostToDevice, s[0]), cudaSuccess);
    t[0] = f->m->tasks[f->m->ntasks - 1];
    assert_int_equal(cudaMemcpyAsync(d[1], h, 1 << 20, cudaMemcpyHostToDevice, s[1]), cudaSuccess);
    t[1] = f->m->tasks[f->m->ntasks - 1];
    assert_int_equal(cudaMemcpyAsync(d[2], h, 1 << 20, cudaMemcpyHostToDevice, s[2]), cudaSuccess);
    t[2] = f->m->tasks[f->m->ntasks - 1];
    assert_int_equal(cudaMemcpyAsync(h, d[0], 1 << 20, cudaMemcpyDeviceToHost, s[0]), cudaSuccess);
    t[3] = f->m->tasks[f->m->ntasks - 1];
    for (int i = 0; i < 3; i++)
        emu_task_begin(f->m, t[i]);
    assert_true(t[0]->duration_s == one);
    assert_true(t[1]->duration_s == 2.0 * one); /* behind the first, on another stream */
    assert_true(t[2]->duration_s == one);       /* another GPU */
    for (int i = 0; i < 3; i++)
        emu_task_end(f->m, t[i]);
    emu_task_begin(f->m, t[3]);
    assert_true(t[3]->duration_s == one); /* the other way */
    emu_task_end(f->m, t[3]);
    assert_int_equal(cudaDeviceSynchronize(), cudaSuccess);
    teardown((void **)&f);
}

/* spEmuGemm times a GEMM as `scalepath train` does: the GPU's peak for the
 * type times its efficiency; nothing else. */
static void test_emu__gemm_time(void **state)
{
    fixture *f = *state;
    const plat_gpu *g = &plat_type_of_rank(f->p, 0)->gpu;
    emu_task *t;

    assert_int_equal(spEmuGemm(NULL, 8192, 8192, 8192, "bf16"), cudaSuccess);
    t = f->m->tasks[f->m->ntasks - 1];
    assert_true(t->duration_s == train_gemm_time(g, PLAT_BF16, 8192, 8192, 8192));
    assert_true(t->duration_s >= 2.0 * 8192.0 * 8192.0 * 8192.0 / g->peak_flops[PLAT_BF16]);
    assert_int_equal(spEmuGemm(NULL, 8192, 0, 8192, "bf16"), cudaErrorInvalidValue);
    assert_int_equal(spEmuGemm(NULL, 1, 1, 1, "int3"), cudaErrorInvalidValue);
    assert_int_equal(spEmuKernel(NULL, -1.0), cudaErrorInvalidValue);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_emu__half_rounds_each_step, setup, teardown),
        cmocka_unit_test_setup_teardown(test_emu__integers_wrap_and_average, setup, teardown),
        cmocka_unit_test_setup_teardown(test_emu__mismatch_and_hang, setup, teardown),
        cmocka_unit_test_setup_teardown(test_emu__memory_capacity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_emu__send_recv_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_emu__gemm_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_emu__group_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_emu__integer_average_many_ranks, setup128, teardown),
        cmocka_unit_test(test_emu__host_copy_time),
        cmocka_unit_test(test_emu__host_link_queue),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
