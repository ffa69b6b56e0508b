/* collectives_check.c - every NCCL operation the emulator provides, on
 * every type and reduction, checked element by element against the
 * answer computed here on the host. Returns the number of failed checks.
 * Built by the tests (tests/e2e/e2e.cmake) and run with `scalepath emulate`
 * on platforms of 8 and 16 GPUs. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime.h>
#include <nccl.h>

#define MAXDEV 64
#define N 1000 /* elements per rank: not a multiple of anything in particular */

static int failures;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            printf("FAILED %s:%d: ", __FILE__, __LINE__);                                          \
            printf(__VA_ARGS__);                                                                   \
            printf("\n");                                                                          \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

#define OK(cmd) CHECK((cmd) == 0, "%s", #cmd)

static int ndev;
static ncclComm_t comms[MAXDEV];
static cudaStream_t streams[MAXDEV];
static char *dsend[MAXDEV], *drecv[MAXDEV];

/* Rank r's element i: small integers, exact in every type, some negative. */
static double value(int r, size_t i)
{
    return (double)((int)((r * 7 + (int)i * 3) % 11) - 3);
}

static void put(char *dst, ncclDataType_t t, size_t i, double v)
{
    switch (t) {
    case ncclInt8: { int8_t x = (int8_t)v; memcpy(dst + i, &x, 1); break; }
    case ncclUint8: { uint8_t x = (uint8_t)(v < 0 ? -v : v); memcpy(dst + i, &x, 1); break; }
    case ncclInt32: { int32_t x = (int32_t)v; memcpy(dst + 4 * i, &x, 4); break; }
    case ncclUint32: { uint32_t x = (uint32_t)(v < 0 ? -v : v); memcpy(dst + 4 * i, &x, 4); break; }
    case ncclInt64: { int64_t x = (int64_t)v; memcpy(dst + 8 * i, &x, 8); break; }
    case ncclUint64: { uint64_t x = (uint64_t)(v < 0 ? -v : v); memcpy(dst + 8 * i, &x, 8); break; }
    case ncclFloat32: { float x = (float)v; memcpy(dst + 4 * i, &x, 4); break; }
    case ncclFloat64: memcpy(dst + 8 * i, &v, 8); break;
    case ncclFloat16: { /* small integers: exact in half */
        float f = (float)v;
        uint16_t h = 0;
        if (f != 0.0f) {
            int e;
            float m = frexpf(fabsf(f), &e); /* f = m 2^e, m in [0.5, 1) */
            h = (uint16_t)(((unsigned)(e - 1 + 15) << 10) | (unsigned)((m * 2.0f - 1.0f) * 1024.0f));
            if (f < 0)
                h |= 0x8000u;
        }
        memcpy(dst + 2 * i, &h, 2);
        break;
    }
    case ncclBfloat16: { float f = (float)v; uint32_t b; memcpy(&b, &f, 4); uint16_t h = (uint16_t)(b >> 16); memcpy(dst + 2 * i, &h, 2); break; }
    default: break;
    }
}

static double get(const char *src, ncclDataType_t t, size_t i)
{
    switch (t) {
    case ncclInt8: { int8_t x; memcpy(&x, src + i, 1); return x; }
    case ncclUint8: { uint8_t x; memcpy(&x, src + i, 1); return x; }
    case ncclInt32: { int32_t x; memcpy(&x, src + 4 * i, 4); return x; }
    case ncclUint32: { uint32_t x; memcpy(&x, src + 4 * i, 4); return x; }
    case ncclInt64: { int64_t x; memcpy(&x, src + 8 * i, 8); return (double)x; }
    case ncclUint64: { uint64_t x; memcpy(&x, src + 8 * i, 8); return (double)x; }
    case ncclFloat32: { float x; memcpy(&x, src + 4 * i, 4); return x; }
    case ncclFloat64: { double x; memcpy(&x, src + 8 * i, 8); return x; }
    case ncclFloat16: {
        uint16_t h;
        memcpy(&h, src + 2 * i, 2);
        if ((h & 0x7fffu) == 0)
            return 0.0;
        double m = 1.0 + (h & 0x3ffu) / 1024.0;
        double v = ldexp(m, (int)((h >> 10) & 0x1fu) - 15);
        return (h & 0x8000u) ? -v : v;
    }
    case ncclBfloat16: { uint16_t h; memcpy(&h, src + 2 * i, 2); uint32_t b = (uint32_t)h << 16; float f; memcpy(&f, &b, 4); return f; }
    default: return NAN;
    }
}

static size_t tsize(ncclDataType_t t)
{
    static const size_t z[] = {1, 1, 4, 4, 8, 8, 2, 4, 8, 2};
    return z[t];
}

static int is_unsigned(ncclDataType_t t)
{
    return t == ncclUint8 || t == ncclUint32 || t == ncclUint64;
}

static double in_value(ncclDataType_t t, int r, size_t i)
{
    double v = value(r, i);
    return is_unsigned(t) && v < 0 ? -v : v;
}

/* An integer result as the type holds it: sums wrap, as on the GPU. */
static double wrap(ncclDataType_t t, double v)
{
    int64_t x = (int64_t)v;
    switch (t) {
    case ncclInt8: return (int8_t)(uint8_t)(uint64_t)x;
    case ncclUint8: return (uint8_t)(uint64_t)x;
    case ncclInt32: return (int32_t)(uint32_t)(uint64_t)x;
    case ncclUint32: return (uint32_t)(uint64_t)x;
    default: return v;
    }
}

static double expect_reduce(ncclDataType_t t, ncclRedOp_t op, size_t i, int n)
{
    double acc = in_value(t, 0, i);
    for (int r = 1; r < n; r++) {
        double x = in_value(t, r, i);
        acc = op == ncclSum || op == ncclAvg ? acc + x : op == ncclProd ? acc * x : op == ncclMax ? (x > acc ? x : acc) : (x < acc ? x : acc);
    }
    if (t <= ncclUint64)
        acc = wrap(t, acc);
    if (op == ncclAvg)
        acc = t <= ncclUint64 ? (double)(long long)(acc / n) : acc / n;
    return acc;
}

/* Products of 8 or 16 values up to 7 overflow the narrow types: skip them there. */
static int representable(ncclDataType_t t, ncclRedOp_t op)
{
    if (op != ncclProd)
        return 1;
    return t == ncclInt64 || t == ncclUint64 || t == ncclFloat64 || t == ncclFloat32;
}

static void fill(ncclDataType_t t, size_t per)
{
    char *h = malloc(per * tsize(t) + 1);
    for (int d = 0; d < ndev; d++) {
        for (size_t i = 0; i < per; i++)
            put(h, t, i, in_value(t, d, i));
        OK(cudaMemcpy(dsend[d], h, per * tsize(t), cudaMemcpyHostToDevice));
    }
    free(h);
}

static void sync_all(void)
{
    for (int d = 0; d < ndev; d++)
        OK(cudaStreamSynchronize(streams[d]));
}

static void check_all_reduce(ncclDataType_t t, ncclRedOp_t op)
{
    char *h = malloc(N * 8);
    fill(t, N);
    OK(ncclGroupStart());
    for (int d = 0; d < ndev; d++)
        OK(ncclAllReduce(dsend[d], drecv[d], N, t, op, comms[d], streams[d]));
    OK(ncclGroupEnd());
    sync_all();
    for (int d = 0; d < ndev; d++) {
        int bad = 0;
        OK(cudaMemcpy(h, drecv[d], N * tsize(t), cudaMemcpyDeviceToHost));
        for (size_t i = 0; i < N; i++)
            bad += get(h, t, i) != expect_reduce(t, op, i, ndev);
        CHECK(bad == 0, "AllReduce type %d op %d on device %d: %d wrong", (int)t, (int)op, d, bad);
    }
    free(h);
}

static void check_others(ncclDataType_t t)
{
    char *h = malloc((size_t)N * MAXDEV * 8);
    int root = (ndev / 2 + 1) % ndev;

    /* Broadcast from a root that is not 0, in place. */
    fill(t, N);
    OK(ncclGroupStart());
    for (int d = 0; d < ndev; d++)
        OK(ncclBroadcast(dsend[d], dsend[d], N, t, root, comms[d], streams[d]));
    OK(ncclGroupEnd());
    sync_all();
    for (int d = 0; d < ndev; d++) {
        int bad = 0;
        OK(cudaMemcpy(h, dsend[d], N * tsize(t), cudaMemcpyDeviceToHost));
        for (size_t i = 0; i < N; i++)
            bad += get(h, t, i) != in_value(t, root, i);
        CHECK(bad == 0, "Broadcast type %d root %d on device %d: %d wrong", (int)t, root, d, bad);
    }
    /* Reduce (max) to that root. */
    fill(t, N);
    OK(ncclGroupStart());
    for (int d = 0; d < ndev; d++)
        OK(ncclReduce(dsend[d], drecv[d], N, t, ncclMax, root, comms[d], streams[d]));
    OK(ncclGroupEnd());
    sync_all();
    OK(cudaMemcpy(h, drecv[root], N * tsize(t), cudaMemcpyDeviceToHost));
    {
        int bad = 0;
        for (size_t i = 0; i < N; i++)
            bad += get(h, t, i) != expect_reduce(t, ncclMax, i, ndev);
        CHECK(bad == 0, "Reduce type %d: %d wrong", (int)t, bad);
    }
    /* AllGather. */
    fill(t, N);
    OK(ncclGroupStart());
    for (int d = 0; d < ndev; d++)
        OK(ncclAllGather(dsend[d], drecv[d], N, t, comms[d], streams[d]));
    OK(ncclGroupEnd());
    sync_all();
    for (int d = 0; d < ndev; d++) {
        int bad = 0;
        OK(cudaMemcpy(h, drecv[d], (size_t)ndev * N * tsize(t), cudaMemcpyDeviceToHost));
        for (int r = 0; r < ndev; r++)
            for (size_t i = 0; i < N; i++)
                bad += get(h, t, (size_t)r * N + i) != in_value(t, r, i);
        CHECK(bad == 0, "AllGather type %d on device %d: %d wrong", (int)t, d, bad);
    }
    /* ReduceScatter (sum): rank d gets segment d of the sum of everyone's ndev x N input. */
    fill(t, (size_t)ndev * N);
    OK(ncclGroupStart());
    for (int d = 0; d < ndev; d++)
        OK(ncclReduceScatter(dsend[d], drecv[d], N, t, ncclSum, comms[d], streams[d]));
    OK(ncclGroupEnd());
    sync_all();
    for (int d = 0; d < ndev; d++) {
        int bad = 0;
        OK(cudaMemcpy(h, drecv[d], N * tsize(t), cudaMemcpyDeviceToHost));
        for (size_t i = 0; i < N; i++)
            bad += get(h, t, i) != expect_reduce(t, ncclSum, (size_t)d * N + i, ndev);
        CHECK(bad == 0, "ReduceScatter type %d on device %d: %d wrong", (int)t, d, bad);
    }
    /* AlltoAll: rank d gets segment d of every rank's ndev x N input, in rank order. */
    fill(t, (size_t)ndev * N);
    OK(ncclGroupStart());
    for (int d = 0; d < ndev; d++)
        OK(ncclAlltoAll(dsend[d], drecv[d], N, t, comms[d], streams[d]));
    OK(ncclGroupEnd());
    sync_all();
    for (int d = 0; d < ndev; d++) {
        int bad = 0;
        OK(cudaMemcpy(h, drecv[d], (size_t)ndev * N * tsize(t), cudaMemcpyDeviceToHost));
        for (int r = 0; r < ndev; r++)
            for (size_t i = 0; i < N; i++)
                bad += get(h, t, (size_t)r * N + i) != in_value(t, r, (size_t)d * N + i);
        CHECK(bad == 0, "AlltoAll type %d on device %d: %d wrong", (int)t, d, bad);
    }
    /* Gather to the root, then scatter the root's ndev x N input back out. */
    fill(t, N);
    OK(ncclGroupStart());
    for (int d = 0; d < ndev; d++)
        OK(ncclGather(dsend[d], drecv[d], N, t, root, comms[d], streams[d]));
    OK(ncclGroupEnd());
    sync_all();
    OK(cudaMemcpy(h, drecv[root], (size_t)ndev * N * tsize(t), cudaMemcpyDeviceToHost));
    {
        int bad = 0;
        for (int r = 0; r < ndev; r++)
            for (size_t i = 0; i < N; i++)
                bad += get(h, t, (size_t)r * N + i) != in_value(t, r, i);
        CHECK(bad == 0, "Gather type %d: %d wrong", (int)t, bad);
    }
    fill(t, (size_t)ndev * N);
    OK(ncclGroupStart());
    for (int d = 0; d < ndev; d++)
        OK(ncclScatter(dsend[d], drecv[d], N, t, root, comms[d], streams[d]));
    OK(ncclGroupEnd());
    sync_all();
    for (int d = 0; d < ndev; d++) {
        int bad = 0;
        OK(cudaMemcpy(h, drecv[d], N * tsize(t), cudaMemcpyDeviceToHost));
        for (size_t i = 0; i < N; i++)
            bad += get(h, t, i) != in_value(t, root, (size_t)d * N + i);
        CHECK(bad == 0, "Scatter type %d on device %d: %d wrong", (int)t, d, bad);
    }
    free(h);
}

/* Each rank sends to the next and receives from the previous, in one group. */
static void check_ring(void)
{
    double *h = malloc(N * sizeof(double));
    fill(ncclFloat64, N);
    OK(ncclGroupStart());
    for (int d = 0; d < ndev; d++) {
        OK(ncclSend(dsend[d], N, ncclFloat64, (d + 1) % ndev, comms[d], streams[d]));
        OK(ncclRecv(drecv[d], N, ncclFloat64, (d + ndev - 1) % ndev, comms[d], streams[d]));
    }
    OK(ncclGroupEnd());
    sync_all();
    for (int d = 0; d < ndev; d++) {
        int bad = 0;
        OK(cudaMemcpy(h, drecv[d], N * sizeof(double), cudaMemcpyDeviceToHost));
        for (size_t i = 0; i < N; i++)
            bad += h[i] != in_value(ncclFloat64, (d + ndev - 1) % ndev, i);
        CHECK(bad == 0, "ring Send/Recv on device %d: %d wrong", d, bad);
    }
    free(h);
}

/* A communicator of the even devices, made with ncclCommInitRank, its
 * all-reduce waiting on another stream's event, then copied with
 * cudaMemcpyAsync behind it. */
static void check_subcomm(void)
{
    ncclUniqueId id;
    ncclComm_t sub[MAXDEV];
    cudaStream_t side[MAXDEV];
    cudaEvent_t ev[MAXDEV];
    int n = (ndev + 1) / 2, count = 0;
    double *h = malloc(N * sizeof(double));

    OK(ncclGetUniqueId(&id));
    OK(ncclGroupStart());
    for (int r = 0; r < n; r++) {
        OK(cudaSetDevice(2 * r));
        OK(ncclCommInitRank(&sub[r], n, id, r));
    }
    OK(ncclGroupEnd());
    OK(ncclCommCount(sub[0], &count));
    CHECK(count == n, "ncclCommCount %d, not %d", count, n);
    fill(ncclFloat64, N);
    for (int r = 0; r < n; r++) {
        int dev = -1, rank = -1;
        OK(ncclCommCuDevice(sub[r], &dev));
        OK(ncclCommUserRank(sub[r], &rank));
        CHECK(dev == 2 * r && rank == r, "rank %d: device %d, user rank %d", r, dev, rank);
        OK(cudaSetDevice(2 * r));
        OK(cudaStreamCreate(&side[r]));
        OK(cudaEventCreate(&ev[r]));
        /* the side stream clears recv, then the main stream waits for it */
        OK(cudaMemsetAsync(drecv[2 * r], 0, N * sizeof(double), side[r]));
        OK(cudaEventRecord(ev[r], side[r]));
        OK(cudaStreamWaitEvent(streams[2 * r], ev[r], 0));
    }
    OK(ncclGroupStart());
    for (int r = 0; r < n; r++)
        OK(ncclAllReduce(dsend[2 * r], drecv[2 * r], N, ncclFloat64, ncclSum, sub[r], streams[2 * r]));
    OK(ncclGroupEnd());
    for (int r = 0; r < n; r++) /* device to device, behind the all-reduce */
        OK(cudaMemcpyAsync(dsend[2 * r], drecv[2 * r], N * sizeof(double), cudaMemcpyDeviceToDevice, streams[2 * r]));
    for (int r = 0; r < n; r++) {
        int bad = 0;
        OK(cudaSetDevice(2 * r));
        OK(cudaDeviceSynchronize());
        OK(cudaMemcpy(h, dsend[2 * r], N * sizeof(double), cudaMemcpyDeviceToHost));
        for (size_t i = 0; i < N; i++) {
            double want = 0.0;
            for (int q = 0; q < n; q++)
                want += in_value(ncclFloat64, 2 * q, i);
            bad += h[i] != want;
        }
        CHECK(bad == 0, "sub-communicator AllReduce on device %d: %d wrong", 2 * r, bad);
        OK(ncclCommDestroy(sub[r]));
        OK(cudaStreamDestroy(side[r]));
        OK(cudaEventDestroy(ev[r]));
    }
    free(h);
}

/* ncclCommSplit by parity, keys reversing the order: each half's ranks run
 * from the highest device down; a device left out (color NOCOLOR) gets no
 * communicator. Each half all-reduces its devices' values. */
static void check_split(void)
{
    ncclComm_t half[MAXDEV];
    double *h = malloc(N * sizeof(double));

    fill(ncclFloat64, N);
    OK(ncclGroupStart());
    for (int d = 0; d < ndev; d++)
        OK(ncclCommSplit(comms[d], d == ndev - 1 && ndev > 2 ? NCCL_SPLIT_NOCOLOR : d % 2, -d, &half[d], NULL));
    OK(ncclGroupEnd());
    for (int d = 0; d < ndev; d++) {
        int count = 0, rank = -1, members = 0;
        if (d == ndev - 1 && ndev > 2) {
            CHECK(half[d] == NULL, "device %d, left out of the split, got a communicator", d);
            continue;
        }
        for (int q = 0; q < ndev; q++)
            members += q % 2 == d % 2 && !(q == ndev - 1 && ndev > 2);
        OK(ncclCommCount(half[d], &count));
        OK(ncclCommUserRank(half[d], &rank));
        {
            int above = 0; /* members with a higher device come first: their keys are lower */
            for (int q = d + 1; q < ndev; q++)
                above += q % 2 == d % 2 && !(q == ndev - 1 && ndev > 2);
            CHECK(count == members && rank == above, "split: device %d is rank %d of %d, expected %d of %d", d, rank,
                  count, above, members);
        }
    }
    OK(ncclGroupStart());
    for (int d = 0; d < ndev; d++)
        if (half[d] != NULL)
            OK(ncclAllReduce(dsend[d], drecv[d], N, ncclFloat64, ncclSum, half[d], streams[d]));
    OK(ncclGroupEnd());
    sync_all();
    for (int d = 0; d < ndev; d++) {
        int bad = 0;
        if (half[d] == NULL)
            continue;
        OK(cudaMemcpy(h, drecv[d], N * sizeof(double), cudaMemcpyDeviceToHost));
        for (size_t i = 0; i < N; i++) {
            double want = 0.0;
            for (int q = 0; q < ndev; q++)
                if (q % 2 == d % 2 && !(q == ndev - 1 && ndev > 2))
                    want += in_value(ncclFloat64, q, i);
            bad += h[i] != want;
        }
        CHECK(bad == 0, "AllReduce on the split communicator of device %d: %d wrong", d, bad);
        OK(ncclCommDestroy(half[d]));
    }
    free(h);
}

int main(void)
{
    static const ncclDataType_t types[] = {ncclInt8, ncclUint8, ncclInt32, ncclUint32, ncclInt64,
                                           ncclUint64, ncclFloat16, ncclFloat32, ncclFloat64, ncclBfloat16};
    static const ncclRedOp_t ops[] = {ncclSum, ncclProd, ncclMax, ncclMin, ncclAvg};
    int version = 0;

    OK(cudaGetDeviceCount(&ndev));
    CHECK(ndev >= 2, "%d devices", ndev);
    if (ndev > MAXDEV) /* the first MAXDEV */
        ndev = MAXDEV;
    OK(ncclGetVersion(&version));
    OK(ncclCommInitAll(comms, ndev, NULL));
    for (int d = 0; d < ndev; d++) {
        OK(cudaSetDevice(d));
        OK(cudaMalloc((void **)&dsend[d], (size_t)N * MAXDEV * 8));
        OK(cudaMalloc((void **)&drecv[d], (size_t)N * MAXDEV * 8));
        OK(cudaStreamCreate(&streams[d]));
    }
    for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
        for (size_t o = 0; o < sizeof(ops) / sizeof(ops[0]); o++)
            if (representable(types[t], ops[o]))
                check_all_reduce(types[t], ops[o]);
        check_others(types[t]);
    }
    check_ring();
    check_subcomm();
    check_split();
    for (int d = 0; d < ndev; d++) {
        OK(ncclCommDestroy(comms[d]));
        OK(cudaFree(dsend[d]));
        OK(cudaFree(drecv[d]));
    }
    printf("%s: %d failed check(s) on %d devices (NCCL %d)\n", failures ? "FAILED" : "PASSED", failures, ndev, version);
    return failures;
}
