/* cuda_api_cost.cu - what CUDA's calls cost on a real GPU, for the
 * emulator's host-time and fixed-cost parameters (docs/emulation.md):
 *
 *   host   time the calling thread spends in one call (CLOCK_MONOTONIC over
 *          many calls): queries of idle and busy streams and events, event
 *          records, launches, asynchronous copies and memsets, device
 *          selection, synchronizing an idle stream;
 *   wall   a whole round trip as a program sees it: launch or copy, then
 *          wait for it;
 *   gpu    time per operation on the GPU, between two events around many
 *          back-to-back operations on one stream: empty kernels, small
 *          copies within the device, memsets, and two events with nothing
 *          between them.
 *
 *     nvcc -O2 -o cuda_api_cost bench/cuda_api_cost.cu && ./cuda_api_cost
 *
 * Each figure is the median of TRIALS trials; the minimum and maximum are
 * printed beside it. Run by hand on a lent GPU (bench/README.md); nothing
 * in the build or tests needs it. */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <cuda_runtime.h>

#define TRIALS 7

#define CHECK(call)                                                                                \
    do {                                                                                           \
        cudaError_t e_ = (call);                                                                   \
        if (e_ != cudaSuccess) {                                                                   \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_));  \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

__global__ void empty_kernel(void)
{
}

/* Keeps one SM busy for about `cycles` clock cycles. */
__global__ void spin_kernel(long long cycles)
{
    long long t0 = clock64();
    while (clock64() - t0 < cycles) {
    }
}

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void report(const char *kind, const char *what, double *v)
{
    qsort(v, TRIALS, sizeof(v[0]), cmp_double);
    printf("%-5s %-52s %9.3f us  (min %.3f, max %.3f)\n", kind, what, v[TRIALS / 2], v[0], v[TRIALS - 1]);
}

static cudaStream_t s;
static cudaEvent_t e0, e1, done;
static char *dev_a, *dev_b, *pinned, *pageable;
static long long spin_cycles_per_ms;

/* Host time per call of one of the calls below, `n` calls per trial. */
enum call { Q_STREAM_IDLE, Q_LEGACY_IDLE, Q_EVENT_DONE, Q_STREAM_BUSY, Q_EVENT_BUSY, GET_DEVICE, SET_DEVICE,
            EVENT_RECORD, LAUNCH, MEMSET_ASYNC, COPY_ASYNC_D2D, SYNC_IDLE, COPY_ASYNC_H2D, COPY_ASYNC_D2H,
            COPY_PEER_ASYNC, EVENT_SYNC_DONE, DEVICE_SYNC_IDLE, STREAM_WAIT_EVENT, MUTEX_TRYLOCK_BUSY,
            SEM_TRYWAIT_EMPTY };
static pthread_mutex_t held_mutex = PTHREAD_MUTEX_INITIALIZER;
static sem_t empty_sem;

static void busy_for_ms(double ms)
{
    spin_kernel<<<1, 1, 0, s>>>((long long)(ms * spin_cycles_per_ms));
    CHECK(cudaGetLastError());
}

static double host_per_call(enum call c, int n)
{
    int dev = 0;
    double t0, t1;
    int dropped = 0;

    if (c == Q_STREAM_BUSY || c == Q_EVENT_BUSY) {
        busy_for_ms(n * 0.01 + 50.0); /* far longer than n queries take */
        CHECK(cudaEventRecord(done, s));
    }
    t0 = now_us();
    for (int i = 0; i < n; i++) {
        cudaError_t r = cudaSuccess;
        switch (c) {
        case Q_STREAM_IDLE: r = cudaStreamQuery(s); break;
        case Q_LEGACY_IDLE: r = cudaStreamQuery(0); break;
        case Q_EVENT_DONE: r = cudaEventQuery(e0); break;
        case Q_STREAM_BUSY:
            r = cudaStreamQuery(s);
            if (r == cudaErrorNotReady)
                r = cudaSuccess;
            else
                dropped++;
            break;
        case Q_EVENT_BUSY:
            r = cudaEventQuery(done);
            if (r == cudaErrorNotReady)
                r = cudaSuccess;
            else
                dropped++;
            break;
        case GET_DEVICE: r = cudaGetDevice(&dev); break;
        case SET_DEVICE: r = cudaSetDevice(0); break;
        case EVENT_RECORD: r = cudaEventRecord(e0, s); break;
        case LAUNCH:
            empty_kernel<<<1, 1, 0, s>>>();
            r = cudaGetLastError();
            break;
        case MEMSET_ASYNC: r = cudaMemsetAsync(dev_a, 0, 4096, s); break;
        case COPY_ASYNC_D2D: r = cudaMemcpyAsync(dev_b, dev_a, 4096, cudaMemcpyDeviceToDevice, s); break;
        case SYNC_IDLE: r = cudaStreamSynchronize(s); break;
        case COPY_ASYNC_H2D: r = cudaMemcpyAsync(dev_a, pinned, 4096, cudaMemcpyHostToDevice, s); break;
        case COPY_ASYNC_D2H: r = cudaMemcpyAsync(pinned, dev_a, 4096, cudaMemcpyDeviceToHost, s); break;
        case COPY_PEER_ASYNC: r = cudaMemcpyPeerAsync(dev_b, 0, dev_a, 0, 4096, s); break;
        case EVENT_SYNC_DONE: r = cudaEventSynchronize(e0); break;
        case DEVICE_SYNC_IDLE: r = cudaDeviceSynchronize(); break;
        case STREAM_WAIT_EVENT: r = cudaStreamWaitEvent(s, e0, 0); break;
        case MUTEX_TRYLOCK_BUSY:
            if (pthread_mutex_trylock(&held_mutex) != EBUSY)
                r = cudaErrorUnknown;
            break;
        case SEM_TRYWAIT_EMPTY:
            if (sem_trywait(&empty_sem) != -1 || errno != EAGAIN)
                r = cudaErrorUnknown;
            break;
        }
        CHECK(r);
    }
    t1 = now_us();
    if (dropped)
        fprintf(stderr, "warning: %d of %d busy queries found the work done\n", dropped, n);
    CHECK(cudaStreamSynchronize(s));
    return (t1 - t0) / n;
}

/* Wall time of one round trip, `n` per trial. */
enum trip { LAUNCH_SYNC, EVENT_SYNC, D2H_PINNED_4, H2D_PINNED_4, D2H_PAGEABLE_4, H2D_PAGEABLE_4, MEMSET_SYNC_4,
            D2D_SYNC_4K };

static double wall_per_trip(enum trip t, int n)
{
    double t0 = now_us();
    for (int i = 0; i < n; i++) {
        switch (t) {
        case LAUNCH_SYNC:
            empty_kernel<<<1, 1, 0, s>>>();
            CHECK(cudaGetLastError());
            CHECK(cudaStreamSynchronize(s));
            break;
        case EVENT_SYNC:
            CHECK(cudaEventRecord(e0, s));
            CHECK(cudaEventSynchronize(e0));
            break;
        case D2H_PINNED_4: CHECK(cudaMemcpy(pinned, dev_a, 4, cudaMemcpyDeviceToHost)); break;
        case H2D_PINNED_4: CHECK(cudaMemcpy(dev_a, pinned, 4, cudaMemcpyHostToDevice)); break;
        case D2H_PAGEABLE_4: CHECK(cudaMemcpy(pageable, dev_a, 4, cudaMemcpyDeviceToHost)); break;
        case H2D_PAGEABLE_4: CHECK(cudaMemcpy(dev_a, pageable, 4, cudaMemcpyHostToDevice)); break;
        case MEMSET_SYNC_4: CHECK(cudaMemset(dev_a, 0, 4)); break;
        case D2D_SYNC_4K: CHECK(cudaMemcpy(dev_b, dev_a, 4096, cudaMemcpyDeviceToDevice)); break;
        }
    }
    return (now_us() - t0) / n;
}

/* GPU time per operation between two events, `n` back-to-back operations
 * queued behind a 2 ms spin so that the GPU never waits for the host. */
enum gpu_op { G_NOTHING, G_EMPTY_KERNEL, G_MEMSET, G_D2D };

static double gpu_per_op(enum gpu_op op, size_t bytes, int n)
{
    float ms = 0.0f;

    busy_for_ms(2.0 + n * 0.01);
    CHECK(cudaEventRecord(e0, s));
    for (int i = 0; i < n; i++) {
        switch (op) {
        case G_NOTHING: break;
        case G_EMPTY_KERNEL:
            empty_kernel<<<1, 1, 0, s>>>();
            CHECK(cudaGetLastError());
            break;
        case G_MEMSET: CHECK(cudaMemsetAsync(dev_a, 0, bytes, s)); break;
        case G_D2D: CHECK(cudaMemcpyAsync(dev_b, dev_a, bytes, cudaMemcpyDeviceToDevice, s)); break;
        }
    }
    CHECK(cudaEventRecord(e1, s));
    CHECK(cudaEventSynchronize(e1));
    CHECK(cudaEventElapsedTime(&ms, e0, e1));
    return op == G_NOTHING ? ms * 1e3 : ms * 1e3 / n;
}

int main(void)
{
    struct cudaDeviceProp prop;
    int clock_khz = 0;
    double v[TRIALS];

    pthread_mutex_lock(&held_mutex);
    sem_init(&empty_sem, 0, 0);
    CHECK(cudaSetDevice(0));
    CHECK(cudaGetDeviceProperties(&prop, 0));
    CHECK(cudaDeviceGetAttribute(&clock_khz, cudaDevAttrClockRate, 0));
    CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    CHECK(cudaEventCreate(&e0));
    CHECK(cudaEventCreate(&e1));
    CHECK(cudaEventCreate(&done));
    CHECK(cudaMalloc((void **)&dev_a, 1 << 26));
    CHECK(cudaMalloc((void **)&dev_b, 1 << 26));
    CHECK(cudaMallocHost((void **)&pinned, 4096));
    pageable = (char *)malloc(4096);
    if (pageable == NULL)
        return 1;
    /* Calibrate the spin: cycles per ms at the clock the kernel really runs. */
    spin_cycles_per_ms = (long long)clock_khz; /* a first guess, from the nominal clock */
    {
        float ms = 0.0f;
        busy_for_ms(1.0); /* warm up */
        CHECK(cudaEventRecord(e0, s));
        spin_kernel<<<1, 1, 0, s>>>(100 * spin_cycles_per_ms);
        CHECK(cudaEventRecord(e1, s));
        CHECK(cudaEventSynchronize(e1));
        CHECK(cudaEventElapsedTime(&ms, e0, e1));
        spin_cycles_per_ms = (long long)(100.0 * spin_cycles_per_ms / ms);
    }
    printf("# %s, %d SMs, driver and runtime below; spin kernel runs %lld cycles per ms\n", prop.name,
           prop.multiProcessorCount, spin_cycles_per_ms);
    {
        int drv = 0, rt = 0;
        CHECK(cudaDriverGetVersion(&drv));
        CHECK(cudaRuntimeGetVersion(&rt));
        printf("# CUDA driver API %d, runtime %d; median of %d trials (min, max)\n", drv, rt, TRIALS);
    }
    CHECK(cudaEventRecord(e0, s));
    CHECK(cudaStreamSynchronize(s));

    static const struct {
        enum call c;
        int n;
        const char *what;
    } calls[] = {
        {Q_STREAM_IDLE, 200000, "cudaStreamQuery, idle stream"},
        {Q_LEGACY_IDLE, 200000, "cudaStreamQuery, idle legacy stream"},
        {Q_EVENT_DONE, 200000, "cudaEventQuery, completed event"},
        {Q_STREAM_BUSY, 50000, "cudaStreamQuery, busy stream (cudaErrorNotReady)"},
        {Q_EVENT_BUSY, 50000, "cudaEventQuery, pending event (cudaErrorNotReady)"},
        {GET_DEVICE, 200000, "cudaGetDevice"},
        {SET_DEVICE, 200000, "cudaSetDevice, the current device"},
        {EVENT_RECORD, 20000, "cudaEventRecord, idle stream"},
        {LAUNCH, 500, "kernel launch, empty kernel"},
        {MEMSET_ASYNC, 2000, "cudaMemsetAsync, 4 KiB"},
        {COPY_ASYNC_D2D, 2000, "cudaMemcpyAsync, device to device, 4 KiB"},
        {SYNC_IDLE, 200000, "cudaStreamSynchronize, idle stream"},
        {COPY_ASYNC_H2D, 2000, "cudaMemcpyAsync, page-locked host to device, 4 KiB"},
        {COPY_ASYNC_D2H, 2000, "cudaMemcpyAsync, device to page-locked host, 4 KiB"},
        {COPY_PEER_ASYNC, 2000, "cudaMemcpyPeerAsync, device 0 to device 0, 4 KiB"},
        {EVENT_SYNC_DONE, 200000, "cudaEventSynchronize, completed event"},
        {DEVICE_SYNC_IDLE, 200000, "cudaDeviceSynchronize, idle device"},
        {STREAM_WAIT_EVENT, 20000, "cudaStreamWaitEvent, completed event"},
        {MUTEX_TRYLOCK_BUSY, 200000, "pthread_mutex_trylock, held (EBUSY)"},
        {SEM_TRYWAIT_EMPTY, 200000, "sem_trywait, zero (EAGAIN)"},
    };
    for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
        host_per_call(calls[i].c, calls[i].n / 10); /* warm up */
        for (int t = 0; t < TRIALS; t++)
            v[t] = host_per_call(calls[i].c, calls[i].n);
        report("host", calls[i].what, v);
    }

    static const struct {
        enum trip t;
        const char *what;
    } trips[] = {
        {LAUNCH_SYNC, "empty kernel launch + cudaStreamSynchronize"},
        {EVENT_SYNC, "cudaEventRecord + cudaEventSynchronize"},
        {D2H_PINNED_4, "cudaMemcpy 4 B device to page-locked host"},
        {H2D_PINNED_4, "cudaMemcpy 4 B page-locked host to device"},
        {D2H_PAGEABLE_4, "cudaMemcpy 4 B device to pageable host"},
        {H2D_PAGEABLE_4, "cudaMemcpy 4 B pageable host to device"},
        {MEMSET_SYNC_4, "cudaMemset 4 B"},
        {D2D_SYNC_4K, "cudaMemcpy 4 KiB device to device"},
    };
    for (size_t i = 0; i < sizeof(trips) / sizeof(trips[0]); i++) {
        wall_per_trip(trips[i].t, 500);
        for (int t = 0; t < TRIALS; t++)
            v[t] = wall_per_trip(trips[i].t, 5000);
        report("wall", trips[i].what, v);
    }

    for (int t = 0; t < TRIALS; t++)
        v[t] = gpu_per_op(G_NOTHING, 0, 0);
    report("gpu", "two events with nothing between them", v);
    for (int t = 0; t < TRIALS; t++)
        v[t] = gpu_per_op(G_EMPTY_KERNEL, 0, 500);
    report("gpu", "empty kernel, back to back", v);
    static const size_t sizes[] = {4, 4096, 65536, 1 << 20, 1 << 24};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        char what[64];
        for (int t = 0; t < TRIALS; t++)
            v[t] = gpu_per_op(G_MEMSET, sizes[i], 1000);
        snprintf(what, sizeof(what), "cudaMemsetAsync %zu B, back to back", sizes[i]);
        report("gpu", what, v);
        for (int t = 0; t < TRIALS; t++)
            v[t] = gpu_per_op(G_D2D, sizes[i], 1000);
        snprintf(what, sizeof(what), "cudaMemcpyAsync d2d %zu B, back to back", sizes[i]);
        report("gpu", what, v);
    }
    return 0;
}
