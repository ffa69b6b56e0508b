/* emu_api.c - the NCCL and CUDA runtime entry points a program calls under
 * `scalepath emulate` (include/nccl.h, include/cuda_runtime.h,
 * include/scalepath_emu.h). Each checks its arguments, reports a bad one
 * on stderr as NCCL_DEBUG=WARN would and returns the error code the real
 * library returns; none crashes on a bad argument it can detect. Work is
 * queued on streams (emu.c); calls that wait block the program's actor
 * through the bound services. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu/emu_int.h"
#include "emu/include/scalepath_emu.h"
#include "train/train.h"

emu *emu_active;

void emu_bind(emu *m, const emu_services *svc)
{
    emu_active = m;
    if (m != NULL) {
        m->svc = *svc;
        m->bound = 1;
    }
}

/* --- Errors --------------------------------------------------------------- */

static void warn(emu *m, struct ncclComm *comm, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void warn(emu *m, struct ncclComm *comm, const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "scalepath emulate: WARN %s\n", msg);
    if (comm != NULL)
        memcpy(comm->last_error, msg, sizeof(msg));
    if (m != NULL)
        m->api_errors++;
}

static cudaError_t cuda_fail(emu *m, cudaError_t err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static cudaError_t cuda_fail(emu *m, cudaError_t err, const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "scalepath emulate: CUDA %s: %s\n", cudaGetErrorName(err), msg);
    if (m != NULL) {
        emu_self(m)->last_cuda = err;
        m->api_errors++;
    }
    return err;
}

/* The bound runtime, or NULL with a message (called outside the emulator). */
static emu *runtime(void)
{
    if (emu_active == NULL || !emu_active->bound)
        fprintf(stderr, "scalepath emulate: WARN an NCCL or CUDA call outside `scalepath emulate`\n");
    return emu_active != NULL && emu_active->bound ? emu_active : NULL;
}

const char *ncclGetErrorString(ncclResult_t r)
{
    switch (r) {
    case ncclSuccess: return "no error";
    case ncclUnhandledCudaError: return "unhandled cuda error (run with NCCL_DEBUG=INFO for details)";
    case ncclSystemError: return "unhandled system error (run with NCCL_DEBUG=INFO for details)";
    case ncclInternalError: return "internal error - please report this issue to the NCCL developers";
    case ncclInvalidArgument: return "invalid argument (run with NCCL_DEBUG=WARN for details)";
    case ncclInvalidUsage: return "invalid usage (run with NCCL_DEBUG=WARN for details)";
    case ncclRemoteError: return "remote process exited or there was a network error";
    case ncclInProgress: return "NCCL operation in progress";
    default: return "unknown result code";
    }
}

const char *ncclGetLastError(ncclComm_t comm)
{
    return comm != NULL ? comm->last_error : "";
}

const char *cudaGetErrorName(cudaError_t e)
{
    switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidDevicePointer: return "cudaErrorInvalidDevicePointer";
    case cudaErrorInvalidMemcpyDirection: return "cudaErrorInvalidMemcpyDirection";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
    case cudaErrorNotReady: return "cudaErrorNotReady";
    default: return "cudaErrorUnknown";
    }
}

const char *cudaGetErrorString(cudaError_t e)
{
    switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidDevicePointer: return "invalid device pointer";
    case cudaErrorInvalidMemcpyDirection: return "invalid copy direction for memcpy";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    case cudaErrorNotReady: return "device not ready";
    default: return "unknown error";
    }
}

cudaError_t cudaGetLastError(void)
{
    emu *m = emu_active;
    cudaError_t e = m != NULL ? emu_self(m)->last_cuda : cudaSuccess;
    if (m != NULL)
        emu_self(m)->last_cuda = cudaSuccess;
    return e;
}

cudaError_t cudaPeekAtLastError(void)
{
    return emu_active != NULL ? emu_self(emu_active)->last_cuda : cudaSuccess;
}

/* --- Waiting ---------------------------------------------------------------- */

typedef struct dev_arg {
    const emu *m;
    int device; /* -1: the devices first .. first + n - 1 */
    int first, n;
    int proc;   /* only the streams of this process (CUDA: its context); -1: everyone's */
} dev_arg;

static int self_index(emu *m)
{
    return (int)(emu_self(m) - m->procs);
}

static int stream_idle(const void *arg)
{
    return ((const emu_stream *)arg)->head == NULL;
}

static int device_idle(const void *arg)
{
    const dev_arg *d = arg;
    for (size_t i = 0; i < d->m->nstreams; i++) {
        const emu_stream *s = d->m->streams[i];
        if ((d->device < 0 ? s->device >= d->first && s->device < d->first + d->n : s->device == d->device) &&
            (d->proc < 0 || s->proc == d->proc) && s->head != NULL)
            return 0;
    }
    return 1;
}

static int task_done(const void *arg)
{
    return ((const emu_task *)arg)->done;
}

/* A device as the calling process numbers it (from 0 on its node with --ppn). */
static int local(emu *m, int device)
{
    return device - emu_self(m)->first;
}

static void wait_for(emu *m, int (*ready)(const void *), const void *arg)
{
    emu_proc *P = emu_self(m);
    if (ready(arg) || m->svc.wait == NULL)
        return;
    P->waiting = arg; /* for the report, should it never return */
    m->svc.wait(m->svc.ctx, ready, arg);
    P->waiting = NULL;
    P->waiting_what = EMU_WAIT_NONE;
}

/* wait_for, saying what for. */
static void wait_what(emu *m, emu_wait what, int (*ready)(const void *), const void *arg)
{
    emu_self(m)->waiting_what = what;
    wait_for(m, ready, arg);
}

static void wake(emu *m)
{
    if (m->svc.notify != NULL)
        m->svc.notify(m->svc.ctx);
}

/* --- Devices, memory ------------------------------------------------------- */

cudaError_t cudaGetDeviceCount(int *count)
{
    emu *m = runtime();
    if (m == NULL)
        return cudaErrorInvalidDevice;
    if (count == NULL)
        return cuda_fail(m, cudaErrorInvalidValue, "cudaGetDeviceCount: count is NULL");
    *count = emu_self(m)->ndev;
    return cudaSuccess;
}

cudaError_t cudaSetDevice(int device)
{
    emu *m = runtime();
    if (m == NULL)
        return cudaErrorInvalidDevice;
    if (device < 0 || device >= emu_self(m)->ndev)
        return cuda_fail(m, cudaErrorInvalidDevice, "cudaSetDevice(%d): this process sees devices 0 to %d", device,
                         emu_self(m)->ndev - 1);
    emu_self(m)->current = emu_self(m)->first + device;
    return cudaSuccess;
}

cudaError_t cudaGetDevice(int *device)
{
    emu *m = runtime();
    if (m == NULL)
        return cudaErrorInvalidDevice;
    if (device == NULL)
        return cuda_fail(m, cudaErrorInvalidValue, "cudaGetDevice: device is NULL");
    *device = emu_self(m)->current - emu_self(m)->first;
    return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(struct cudaDeviceProp *prop, int device)
{
    emu *m = runtime();
    const plat_gpu *g;
    if (m == NULL)
        return cudaErrorInvalidDevice;
    if (prop == NULL)
        return cuda_fail(m, cudaErrorInvalidValue, "cudaGetDeviceProperties: prop is NULL");
    if (device < 0 || device >= emu_self(m)->ndev)
        return cuda_fail(m, cudaErrorInvalidDevice, "cudaGetDeviceProperties(%d): this process sees devices 0 to %d",
                         device, emu_self(m)->ndev - 1);
    g = &plat_type_of_rank(m->plat, emu_self(m)->first + device)->gpu;
    memset(prop, 0, sizeof(*prop));
    snprintf(prop->name, sizeof(prop->name), "%s (simulated)", g->model);
    prop->totalGlobalMem = (size_t)g->mem_bytes;
    prop->multiProcessorCount = g->sm_count;
    prop->major = g->sm / 10;
    prop->minor = g->sm % 10;
    return cudaSuccess;
}

const emu_alloc *emu_alloc_find(const emu *m, const void *p)
{
    const char *c = p;
    for (size_t i = 0; i < m->nallocs; i++) {
        const emu_alloc *a = &m->allocs[i];
        if (!a->dead && a->base != NULL && c >= a->base && c < a->base + (a->size > 0 ? a->size : 1))
            return a;
    }
    return NULL;
}

static cudaError_t alloc(emu *m, void **ptr, size_t size, int device, const char *fn)
{
    emu_alloc *a = NULL;

    if (ptr == NULL)
        return cuda_fail(m, cudaErrorInvalidValue, "%s: the pointer to set is NULL", fn);
    *ptr = NULL;
    if (device >= 0) {
        double cap = plat_type_of_rank(m->plat, device)->gpu.mem_bytes;
        if (m->devices[device].allocated + (double)size > cap)
            return cuda_fail(m, cudaErrorMemoryAllocation,
                             "%s(%zu bytes) on device %d: %.0f of its %.0f bytes are in use", fn, size,
                             local(m, device), m->devices[device].allocated, cap);
    }
    {
        if (emu_vec_grow((void **)&m->allocs, &m->capallocs, m->nallocs, sizeof(*m->allocs)) < 0)
            return cuda_fail(m, cudaErrorMemoryAllocation, "%s: out of host memory", fn);
        a = &m->allocs[m->nallocs++];
    }
    /* Mapped without reserving: a page costs host memory once written, so
     * a GPU's worth of buffers fits if the program touches a part; zeroed,
     * so memory never written reads the same every run. */
    if ((a->base = emu_map(size)) == NULL)
        return cuda_fail(m, cudaErrorMemoryAllocation,
                         "%s(%zu bytes): the emulator keeps device memory in host memory, and the host has not "
                         "that much",
                         fn, size);
    a->size = size;
    a->device = device;
    a->dead = 0;
    if (device >= 0)
        m->devices[device].allocated += (double)size;
    *ptr = a->base;
    return cudaSuccess;
}

static cudaError_t release(emu *m, void *ptr, int host, const char *fn)
{
    if (ptr == NULL)
        return cudaSuccess;
    for (size_t i = 0; i < m->nallocs; i++) {
        emu_alloc *a = &m->allocs[i];
        if (a->base != ptr)
            continue;
        if ((a->device < 0) != host || a->dead)
            break;
        {
            /* cudaFree synchronizes the device; cudaFreeHost every device
             * (its copies may be queued anywhere). */
            dev_arg d = {m, host ? -1 : a->device, emu_self(m)->first, emu_self(m)->ndev, self_index(m)};
            wait_for(m, device_idle, &d);
        }
        if (!host)
            m->devices[a->device].allocated -= (double)a->size;
        /* Unmapped once no stream has work: until then its pages go back to
         * the host but its addresses stay, so that work queued on another
         * device that still reads them (a program's race) reads zeros,
         * never unmapped memory. */
        emu_release(a->base, a->size);
        a->dead = 1;
        {
            dev_arg all = {m, -1, 0, m->ndevices, -1};
            if (device_idle(&all))
                for (size_t j = 0; j < m->nallocs; j++)
                    if (m->allocs[j].dead && m->allocs[j].base != NULL) {
                        emu_unmap(m->allocs[j].base, m->allocs[j].size);
                        m->allocs[j].base = NULL;
                    }
        }
        return cudaSuccess;
    }
    return cuda_fail(m, cudaErrorInvalidDevicePointer, "%s(%p): not the start of memory that %s returned", fn, ptr,
                     host ? "cudaMallocHost" : "cudaMalloc");
}

cudaError_t cudaMalloc(void **devPtr, size_t size)
{
    emu *m = runtime();
    return m == NULL ? cudaErrorMemoryAllocation : alloc(m, devPtr, size, emu_self(m)->current, "cudaMalloc");
}

cudaError_t cudaFree(void *devPtr)
{
    emu *m = runtime();
    return m == NULL ? cudaErrorInvalidDevicePointer : release(m, devPtr, 0, "cudaFree");
}

cudaError_t cudaMallocHost(void **ptr, size_t size)
{
    emu *m = runtime();
    return m == NULL ? cudaErrorMemoryAllocation : alloc(m, ptr, size, -1, "cudaMallocHost");
}

cudaError_t cudaFreeHost(void *ptr)
{
    emu *m = runtime();
    return m == NULL ? cudaErrorInvalidValue : release(m, ptr, 1, "cudaFreeHost");
}

/* Whether [p, p + bytes) lies in one device allocation; its device, or -1. */
static int device_range(const emu *m, const void *p, size_t bytes)
{
    const emu_alloc *a = p != NULL ? emu_alloc_find(m, p) : NULL;
    if (a == NULL || a->device < 0 || (size_t)((const char *)p - a->base) + bytes > a->size)
        return -1;
    return a->device;
}

/* --- Streams ------------------------------------------------------------------ */

/* The calling process's default stream on a device (each process has its
 * own CUDA context, so its own), made on first use. */
static emu_stream *default_stream(emu *m, int device)
{
    emu_proc *P = emu_self(m);
    int i = device - P->first;

    if (i < 0 || i >= P->ndev) /* a device it does not see: its stream anyway */
        i = 0;
    if (P->dflt == NULL && (P->dflt = calloc((size_t)P->ndev, sizeof(*P->dflt))) == NULL)
        return NULL;
    if (P->dflt[i] == NULL)
        P->dflt[i] = emu_stream_add(m, P->first + i);
    return P->dflt[i];
}

/* The stream a call names (NULL: the current device's default), or NULL
 * after a message if it is not a live stream of this runtime. */
static emu_stream *stream_arg(emu *m, cudaStream_t s, int device, const char *fn)
{
    if (s == NULL) {
        emu_stream *d = default_stream(m, device);
        if (d == NULL)
            cuda_fail(m, cudaErrorMemoryAllocation, "%s: out of host memory", fn);
        return d;
    }
    for (size_t i = 0; i < m->nstreams; i++)
        if (m->streams[i] == s && !s->destroyed)
            return s;
    cuda_fail(m, cudaErrorInvalidResourceHandle, "%s: stream %p is not a live stream", fn, (void *)s);
    return NULL;
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t *pStream, unsigned int flags)
{
    emu *m = runtime();
    emu_stream *s;
    if (m == NULL)
        return cudaErrorInvalidValue;
    if (pStream == NULL || flags > cudaStreamNonBlocking)
        return cuda_fail(m, cudaErrorInvalidValue, "cudaStreamCreate: %s", pStream == NULL ? "pStream is NULL" : "unknown flags");
    if ((s = emu_stream_add(m, emu_self(m)->current)) == NULL)
        return cuda_fail(m, cudaErrorMemoryAllocation, "cudaStreamCreate: out of host memory");
    *pStream = s;
    return cudaSuccess;
}

cudaError_t cudaStreamCreate(cudaStream_t *pStream)
{
    return cudaStreamCreateWithFlags(pStream, cudaStreamDefault);
}

cudaError_t cudaStreamDestroy(cudaStream_t stream)
{
    emu *m = runtime();
    emu_stream *s;
    if (m == NULL)
        return cudaErrorInvalidResourceHandle;
    if (stream == NULL)
        return cuda_fail(m, cudaErrorInvalidResourceHandle, "cudaStreamDestroy: the NULL stream cannot be destroyed");
    if ((s = stream_arg(m, stream, emu_self(m)->current, "cudaStreamDestroy")) == NULL)
        return cudaErrorInvalidResourceHandle;
    s->destroyed = 1; /* its queued work still runs, as CUDA's does */
    return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t stream)
{
    emu *m = runtime();
    emu_stream *s;
    if (m == NULL)
        return cudaErrorInvalidResourceHandle;
    if ((s = stream_arg(m, stream, emu_self(m)->current, "cudaStreamSynchronize")) == NULL)
        return cudaErrorInvalidResourceHandle;
    wait_for(m, stream_idle, s);
    return cudaSuccess;
}

cudaError_t cudaStreamQuery(cudaStream_t stream)
{
    emu *m = runtime();
    emu_stream *s;
    if (m == NULL)
        return cudaErrorInvalidResourceHandle;
    if ((s = stream_arg(m, stream, emu_self(m)->current, "cudaStreamQuery")) == NULL)
        return cudaErrorInvalidResourceHandle;
    return s->head == NULL ? cudaSuccess : cudaErrorNotReady;
}

cudaError_t cudaDeviceSynchronize(void)
{
    emu *m = runtime();
    dev_arg d;
    if (m == NULL)
        return cudaErrorInvalidDevice;
    d = (dev_arg){m, emu_self(m)->current, 0, 0, self_index(m)};
    wait_for(m, device_idle, &d);
    return cudaSuccess;
}

/* --- Copies ------------------------------------------------------------------ */

/* Whether p lies in memory cudaMallocHost returned. */
static int pinned(const emu *m, const void *p)
{
    const emu_alloc *a = emu_alloc_find(m, p);
    return a != NULL && a->device < 0;
}

/* A copy within a GPU reads and writes its memory; a memset writes it. */
static double copy_time(const emu *m, int device, size_t bytes, int passes)
{
    const plat_gpu *g = &plat_type_of_rank(m->plat, device)->gpu;
    double bw = g->mem_bw_Bps * (g->eff_memory > 0.0 ? g->eff_memory : 1.0);
    return bw > 0.0 ? (double)passes * (double)bytes / bw : 0.0;
}

/* A copy (src not NULL) or a memset (is_set: src NULL, value) on a stream. */
static cudaError_t copy_task(emu *m, void *dst, const void *src, int is_set, size_t count, int value,
                             cudaMemcpyKind kind, cudaStream_t stream, int sync, const char *fn)
{
    int ddev = device_range(m, dst, count), sdev = src != NULL ? device_range(m, src, count) : -1;
    int dev = ddev >= 0 ? ddev : sdev;
    emu_stream *s;
    emu_task *t;
    emu_copy *k;

    if (dst == NULL || (src == NULL && !is_set))
        return cuda_fail(m, cudaErrorInvalidValue, "%s: a NULL pointer", fn);
    if (is_set && ddev < 0)
        return cuda_fail(m, cudaErrorInvalidValue, "%s(%p, %zu bytes): not within one cudaMalloc allocation", fn, dst, count);
    if ((int)kind < 0 || kind > cudaMemcpyDefault)
        return cuda_fail(m, cudaErrorInvalidMemcpyDirection, "%s: unknown direction %d", fn, (int)kind);
    for (int end = 0; end < 2; end++) { /* inside device memory, it must fit in its allocation */
        const void *q = end == 0 ? (const void *)dst : src;
        const emu_alloc *al = q != NULL ? emu_alloc_find(m, q) : NULL;
        if (al != NULL && al->device >= 0 && (end == 0 ? ddev : sdev) < 0)
            return cuda_fail(m, cudaErrorInvalidValue, "%s(%zu bytes): the %s overruns its cudaMalloc allocation of %zu bytes",
                             fn, count, end == 0 ? "destination" : "source", al->size);
    }
    if (src != NULL && kind != cudaMemcpyDefault) {
        int want_d = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
        int want_s = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
        if ((ddev >= 0) != want_d || (sdev >= 0) != want_s) {
            int dst_wrong = (ddev >= 0) != want_d;
            const void *q = dst_wrong ? dst : src;
            const emu_alloc *a = emu_alloc_find(m, q);
            if (a != NULL && a->device >= 0)
                return cuda_fail(m, cudaErrorInvalidValue, "%s(%zu bytes): the %s overruns its cudaMalloc allocation of %zu bytes",
                                 fn, count, dst_wrong ? "destination" : "source", a->size);
            return cuda_fail(m, cudaErrorInvalidValue, "%s(%zu bytes): the %s is %s, which the direction (%d) contradicts",
                             fn, count, dst_wrong ? "destination" : "source",
                             (dst_wrong ? ddev : sdev) >= 0 ? "device memory" : "not device memory", (int)kind);
        }
    }
    if (dev < 0) { /* host to host */
        if (count > 0)
            memmove(dst, src, count);
        return cudaSuccess;
    }
    if ((s = stream_arg(m, stream, dev, fn)) == NULL)
        return cudaErrorInvalidResourceHandle;
    if (sync) { /* a synchronous copy waits for the earlier work of the devices it touches */
        dev_arg d = {m, dev, 0, 0, self_index(m)};
        wait_for(m, device_idle, &d);
        if (sdev >= 0 && sdev != dev) {
            d.device = sdev;
            wait_for(m, device_idle, &d);
        }
    }
    if ((k = calloc(1, sizeof(*k))) == NULL || (t = emu_task_add(m, s, EMU_TASK_SLEEP)) == NULL) {
        free(k);
        return cuda_fail(m, cudaErrorMemoryAllocation, "%s: out of host memory", fn);
    }
    *k = (emu_copy){dst, src, count, value, NULL};
    t->impl = k;
    /* Between host and device: on a GPU whose memory is the host's (GB10's
     * unified LPDDR5X), a copy within that memory, read and written; on the
     * others no time, as the platforms do not describe the host link.
     * Between two GPUs the bytes flow from one to the other (a P2P task of
     * one message, sent by the engine from the source's host). */
    t->duration_s = src == NULL                   ? copy_time(m, dev, count, 1)
                    : (ddev >= 0 && sdev == ddev) ? copy_time(m, dev, count, 2)
                    : (ddev < 0 || sdev < 0) && plat_type_of_rank(m->plat, dev)->gpu.unified
                        ? copy_time(m, dev, count, 2)
                        : 0.0;
    if (ddev >= 0 && sdev >= 0 && sdev != ddev && count > 0) {
        t->peer_device = sdev;
        t->peer_bytes = count;
    }
    /* Pageable host memory (not cudaMallocHost's): CUDA stages a copy from
     * it before returning, and returns from a copy into it once done. */
    if (!sync && src != NULL && sdev < 0 && !pinned(m, src)) {
        if ((k->owned = malloc(count + 1)) == NULL)
            return cuda_fail(m, cudaErrorMemoryAllocation, "%s: out of host memory", fn);
        memcpy(k->owned, src, count);
        k->src = k->owned;
    }
    wake(m);
    if (sync || (ddev < 0 && !pinned(m, dst)))
        wait_for(m, task_done, t);
    return cudaSuccess;
}

cudaError_t cudaMemcpy(void *dst, const void *src, size_t count, cudaMemcpyKind kind)
{
    emu *m = runtime();
    return m == NULL ? cudaErrorInvalidValue : copy_task(m, dst, src, 0, count, 0, kind, NULL, 1, "cudaMemcpy");
}

cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t count, cudaMemcpyKind kind, cudaStream_t stream)
{
    emu *m = runtime();
    return m == NULL ? cudaErrorInvalidValue : copy_task(m, dst, src, 0, count, 0, kind, stream, 0, "cudaMemcpyAsync");
}

cudaError_t cudaMemset(void *devPtr, int value, size_t count)
{
    emu *m = runtime();
    return m == NULL ? cudaErrorInvalidValue
                     : copy_task(m, devPtr, NULL, 1, count, value, cudaMemcpyDeviceToDevice, NULL, 1, "cudaMemset");
}

cudaError_t cudaMemsetAsync(void *devPtr, int value, size_t count, cudaStream_t stream)
{
    emu *m = runtime();
    return m == NULL ? cudaErrorInvalidValue
                     : copy_task(m, devPtr, NULL, 1, count, value, cudaMemcpyDeviceToDevice, stream, 0, "cudaMemsetAsync");
}

/* --- Events ------------------------------------------------------------------ */

static struct CUevent_st *event_arg(emu *m, cudaEvent_t e, const char *fn)
{
    for (size_t i = 0; e != NULL && i < m->nevents; i++)
        if (m->events[i] == e && !e->destroyed)
            return e;
    cuda_fail(m, cudaErrorInvalidResourceHandle, "%s: %p is not a live event", fn, (void *)e);
    return NULL;
}

cudaError_t cudaEventCreateWithFlags(cudaEvent_t *event, unsigned int flags)
{
    emu *m = runtime();
    struct CUevent_st *e;
    if (m == NULL)
        return cudaErrorInvalidValue;
    (void)flags; /* blocking sync and timing flags change nothing here */
    if (event == NULL)
        return cuda_fail(m, cudaErrorInvalidValue, "cudaEventCreate: event is NULL");
    if (emu_vec_grow((void **)&m->events, &m->capevents, m->nevents, sizeof(*m->events)) < 0 ||
        (e = calloc(1, sizeof(*e))) == NULL)
        return cuda_fail(m, cudaErrorMemoryAllocation, "cudaEventCreate: out of host memory");
    e->device = emu_self(m)->current;
    m->events[m->nevents++] = e;
    *event = e;
    return cudaSuccess;
}

cudaError_t cudaEventCreate(cudaEvent_t *event)
{
    return cudaEventCreateWithFlags(event, cudaEventDefault);
}

cudaError_t cudaEventDestroy(cudaEvent_t event)
{
    emu *m = runtime();
    struct CUevent_st *e;
    if (m == NULL)
        return cudaErrorInvalidResourceHandle;
    if ((e = event_arg(m, event, "cudaEventDestroy")) == NULL)
        return cudaErrorInvalidResourceHandle;
    e->destroyed = 1;
    return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream)
{
    emu *m = runtime();
    struct CUevent_st *e;
    emu_stream *s;
    emu_task *t;
    if (m == NULL)
        return cudaErrorInvalidResourceHandle;
    if ((e = event_arg(m, event, "cudaEventRecord")) == NULL ||
        (s = stream_arg(m, stream, emu_self(m)->current, "cudaEventRecord")) == NULL)
        return cudaErrorInvalidResourceHandle;
    if (s->device != e->device)
        return cuda_fail(m, cudaErrorInvalidResourceHandle,
                         "cudaEventRecord: the event belongs to device %d, the stream to device %d", e->device,
                         s->device);
    if ((t = emu_task_add(m, s, EMU_TASK_RECORD)) == NULL)
        return cuda_fail(m, cudaErrorMemoryAllocation, "cudaEventRecord: out of host memory");
    e->record = t;
    wake(m);
    return cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t event)
{
    emu *m = runtime();
    struct CUevent_st *e;
    if (m == NULL)
        return cudaErrorInvalidResourceHandle;
    if ((e = event_arg(m, event, "cudaEventSynchronize")) == NULL)
        return cudaErrorInvalidResourceHandle;
    if (e->record != NULL)
        wait_for(m, task_done, e->record);
    return cudaSuccess;
}

cudaError_t cudaEventQuery(cudaEvent_t event)
{
    emu *m = runtime();
    struct CUevent_st *e;
    if (m == NULL)
        return cudaErrorInvalidResourceHandle;
    if ((e = event_arg(m, event, "cudaEventQuery")) == NULL)
        return cudaErrorInvalidResourceHandle;
    return e->record == NULL || e->record->done ? cudaSuccess : cudaErrorNotReady;
}

cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t start, cudaEvent_t end)
{
    emu *m = runtime();
    struct CUevent_st *a, *b;
    if (m == NULL)
        return cudaErrorInvalidResourceHandle;
    if (ms == NULL)
        return cuda_fail(m, cudaErrorInvalidValue, "cudaEventElapsedTime: ms is NULL");
    if ((a = event_arg(m, start, "cudaEventElapsedTime")) == NULL || (b = event_arg(m, end, "cudaEventElapsedTime")) == NULL)
        return cudaErrorInvalidResourceHandle;
    if (a->record == NULL || b->record == NULL)
        return cuda_fail(m, cudaErrorInvalidResourceHandle, "cudaEventElapsedTime: an event was never recorded");
    if (!a->record->done || !b->record->done)
        return cudaErrorNotReady; /* not an error worth a message: CUDA returns it while work runs */
    *ms = (float)((b->record->start_s - a->record->start_s) * 1e3);
    return cudaSuccess;
}

cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned int flags)
{
    emu *m = runtime();
    struct CUevent_st *e;
    emu_stream *s;
    emu_task *t;
    if (m == NULL)
        return cudaErrorInvalidResourceHandle;
    (void)flags;
    if ((e = event_arg(m, event, "cudaStreamWaitEvent")) == NULL ||
        (s = stream_arg(m, stream, emu_self(m)->current, "cudaStreamWaitEvent")) == NULL)
        return cudaErrorInvalidResourceHandle;
    if ((t = emu_task_add(m, s, EMU_TASK_WAIT)) == NULL)
        return cuda_fail(m, cudaErrorMemoryAllocation, "cudaStreamWaitEvent: out of host memory");
    t->impl = e->record; /* the record as of now, as CUDA captures it */
    wake(m);
    return cudaSuccess;
}

/* --- scalepath extensions ------------------------------------------------- */

double spEmuNow(void)
{
    emu *m = runtime();
    return m != NULL && m->svc.now != NULL ? m->svc.now(m->svc.ctx) : 0.0;
}

static cudaError_t sleep_task(emu *m, cudaStream_t stream, double seconds, const char *fn)
{
    emu_stream *s;
    emu_task *t;
    if ((s = stream_arg(m, stream, emu_self(m)->current, fn)) == NULL)
        return cudaErrorInvalidResourceHandle;
    if ((t = emu_task_add(m, s, EMU_TASK_SLEEP)) == NULL)
        return cuda_fail(m, cudaErrorMemoryAllocation, "%s: out of host memory", fn);
    t->duration_s = seconds;
    t->compute = 1;
    wake(m);
    return cudaSuccess;
}

cudaError_t spEmuKernel(cudaStream_t stream, double seconds)
{
    emu *m = runtime();
    if (m == NULL)
        return cudaErrorInvalidValue;
    if (!(seconds >= 0.0) || !isfinite(seconds))
        return cuda_fail(m, cudaErrorInvalidValue, "spEmuKernel: %g seconds", seconds);
    return sleep_task(m, stream, seconds, "spEmuKernel");
}

cudaError_t spEmuGemm(cudaStream_t stream, long mm, long n, long k, const char *type)
{
    emu *m = runtime();
    emu_stream *s;
    const plat_gpu *g;
    int prec = -1;
    if (m == NULL)
        return cudaErrorInvalidValue;
    for (int p = 0; p < PLAT_NPREC && type != NULL; p++)
        if (strcmp(type, plat_prec_name((plat_prec)p)) == 0)
            prec = p;
    if (prec < 0 || mm <= 0 || n <= 0 || k <= 0)
        return cuda_fail(m, cudaErrorInvalidValue, "spEmuGemm(%ld, %ld, %ld, \"%s\"): %s", mm, n, k,
                         type != NULL ? type : "(null)", prec < 0 ? "unknown type" : "sizes must be positive");
    if ((s = stream_arg(m, stream, emu_self(m)->current, "spEmuGemm")) == NULL)
        return cudaErrorInvalidResourceHandle;
    g = &plat_type_of_rank(m->plat, s->device)->gpu;
    if (!(g->peak_flops[prec] > 0.0))
        return cuda_fail(m, cudaErrorInvalidValue, "spEmuGemm: the %s has no %s peak in its platform file",
                         g->model, type);
    return sleep_task(m, s, train_gemm_time(g, (plat_prec)prec, (double)mm, (double)n, (double)k), "spEmuGemm");
}

/* --- Communicators ------------------------------------------------------------ */

ncclResult_t ncclGetVersion(int *version)
{
    if (version == NULL)
        return ncclInvalidArgument;
    *version = NCCL_VERSION_CODE;
    return ncclSuccess;
}

ncclResult_t ncclGetUniqueId(ncclUniqueId *uniqueId)
{
    static unsigned long next = 1;
    emu *m = runtime();
    if (m == NULL)
        return ncclInvalidUsage;
    if (uniqueId == NULL) {
        warn(m, NULL, "ncclGetUniqueId: uniqueId is NULL");
        return ncclInvalidArgument;
    }
    memset(uniqueId, 0, sizeof(*uniqueId));
    snprintf(uniqueId->internal, sizeof(uniqueId->internal), "scalepath-emulated-id-%lu", next++);
    return ncclSuccess;
}

static emu_clique *clique_new(emu *m, int nranks, const ncclUniqueId *uid)
{
    emu_clique *cl;
    size_t n = (size_t)nranks;

    if (emu_vec_grow((void **)&m->cliques, &m->capcliques, m->ncliques, sizeof(*m->cliques)) < 0 ||
        (cl = calloc(1, sizeof(*cl))) == NULL)
        return NULL;
    cl->id = (int)m->ncliques;
    cl->nranks = nranks;
    if (uid != NULL)
        cl->uid = *uid;
    cl->devices = calloc(n, sizeof(*cl->devices));
    cl->comms = calloc(n, sizeof(*cl->comms));
    cl->sends = calloc(n * n, sizeof(*cl->sends));
    cl->recvs = calloc(n * n, sizeof(*cl->recvs));
    m->cliques[m->ncliques++] = cl; /* listed first, so emu_free frees it whatever follows */
    if (cl->devices == NULL || cl->comms == NULL || cl->sends == NULL || cl->recvs == NULL)
        return NULL;
    return cl;
}

static int clique_complete(const void *arg)
{
    const emu_clique *cl = arg;
    return cl->joined == cl->nranks;
}

static ncclResult_t join(emu *m, emu_clique *cl, int rank, int device, ncclComm_t *out)
{
    struct ncclComm *c;
    for (int r = 0; r < cl->nranks; r++)
        if (cl->comms[r] != NULL && cl->devices[r] == device) {
            warn(m, NULL, "Duplicate GPU detected: rank %d and rank %d both on device %d", r, rank, local(m, device));
            return ncclInvalidUsage;
        }
    if ((c = calloc(1, sizeof(*c))) == NULL)
        return ncclSystemError;
    c->cl = cl;
    c->rank = rank;
    cl->comms[rank] = c;
    cl->devices[rank] = device;
    if (++cl->joined == cl->nranks)
        wake(m); /* ranks waiting in ncclCommInitRank */
    *out = c;
    return ncclSuccess;
}

ncclResult_t ncclCommInitRank(ncclComm_t *comm, int nranks, ncclUniqueId commId, int rank)
{
    emu *m = runtime();
    emu_clique *cl = NULL;
    if (m == NULL)
        return ncclInvalidUsage;
    if (comm == NULL || nranks < 1 || nranks > m->ndevices || rank < 0 || rank >= nranks) {
        warn(m, NULL, "ncclCommInitRank: %s (nranks %d, rank %d, %d devices)",
             comm == NULL ? "comm is NULL" : "bad rank or rank count", nranks, rank, m->ndevices);
        return ncclInvalidArgument;
    }
    *comm = NULL;
    for (size_t i = 0; i < m->ncliques && cl == NULL; i++)
        if (memcmp(&m->cliques[i]->uid, &commId, sizeof(commId)) == 0 && m->cliques[i]->joined < m->cliques[i]->nranks &&
            m->cliques[i]->comms != NULL)
            cl = m->cliques[i];
    if (cl != NULL && cl->nranks != nranks) {
        warn(m, NULL, "ncclCommInitRank: rank %d says %d ranks, others of this id said %d", rank, nranks, cl->nranks);
        return ncclInvalidUsage;
    }
    if (cl != NULL && cl->comms[rank] != NULL) {
        warn(m, NULL, "ncclCommInitRank: rank %d of this id joined twice", rank);
        return ncclInvalidUsage;
    }
    if (cl == NULL && (cl = clique_new(m, nranks, &commId)) == NULL)
        return ncclSystemError;
    {
        ncclResult_t r = join(m, cl, rank, emu_self(m)->current, comm);
        emu_proc *P = emu_self(m);
        if (r != ncclSuccess)
            return r;
        /* NCCL returns once every rank has joined: at once here, or at the
         * group's end (one thread initializing several devices). */
        if (P->group_depth == 0)
            wait_what(m, EMU_WAIT_INIT, clique_complete, cl);
        else if (emu_vec_grow((void **)&P->inits, &P->capinits, P->ninits, sizeof(*P->inits)) == SP_OK)
            P->inits[P->ninits++] = cl;
        else
            return ncclSystemError;
        return ncclSuccess;
    }
}

ncclResult_t ncclCommInitAll(ncclComm_t *comms, int ndev, const int *devlist)
{
    emu *m = runtime();
    emu_proc *P;
    emu_clique *cl;
    ncclUniqueId id;
    if (m == NULL)
        return ncclInvalidUsage;
    P = emu_self(m);
    if (comms == NULL || ndev < 1 || ndev > P->ndev) {
        warn(m, NULL, "ncclCommInitAll: %s (ndev %d, %d devices)", comms == NULL ? "comms is NULL" : "bad device count",
             ndev, P->ndev);
        return ncclInvalidArgument;
    }
    for (int i = 0; i < ndev; i++) {
        int d = devlist != NULL ? devlist[i] : i;
        comms[i] = NULL;
        if (d < 0 || d >= P->ndev) {
            warn(m, NULL, "ncclCommInitAll: device %d (entry %d) is not one of this process's 0 to %d", d, i,
                 P->ndev - 1);
            return ncclInvalidArgument;
        }
    }
    if (ncclGetUniqueId(&id) != ncclSuccess || (cl = clique_new(m, ndev, &id)) == NULL)
        return ncclSystemError;
    for (int i = 0; i < ndev; i++) {
        ncclResult_t r = join(m, cl, i, P->first + (devlist != NULL ? devlist[i] : i), &comms[i]);
        if (r != ncclSuccess)
            return r;
    }
    return ncclSuccess;
}

/* The communicator, if it is a complete live one; NULL after a message. */
static struct ncclComm *comm_arg(emu *m, ncclComm_t comm, const char *fn)
{
    for (size_t i = 0; comm != NULL && i < m->ncliques; i++) {
        emu_clique *cl = m->cliques[i];
        for (int r = 0; cl->comms != NULL && r < cl->nranks; r++) {
            if (cl->comms[r] != comm)
                continue;
            if (comm->destroyed)
                warn(m, comm, "%s: the communicator was destroyed", fn);
            else if (cl->joined < cl->nranks)
                warn(m, comm, "%s: only %d of the communicator's %d ranks have called ncclCommInitRank", fn,
                     cl->joined, cl->nranks);
            else
                return comm;
            return NULL;
        }
    }
    warn(m, NULL, "%s: %p is not a communicator", fn, (void *)comm);
    return NULL;
}

static ncclResult_t comm_end(ncclComm_t comm, const char *fn, int destroy)
{
    emu *m = runtime();
    if (m == NULL)
        return ncclInvalidUsage;
    if ((comm = comm_arg(m, comm, fn)) == NULL)
        return ncclInvalidArgument;
    if (destroy)
        comm->destroyed = 1; /* its memory stays with the runtime */
    return ncclSuccess;
}

ncclResult_t ncclCommFinalize(ncclComm_t comm)
{
    return comm_end(comm, "ncclCommFinalize", 0);
}

ncclResult_t ncclCommDestroy(ncclComm_t comm)
{
    return comm == NULL ? ncclSuccess : comm_end(comm, "ncclCommDestroy", 1);
}

ncclResult_t ncclCommAbort(ncclComm_t comm)
{
    return comm == NULL ? ncclSuccess : comm_end(comm, "ncclCommAbort", 1);
}

void emu_nccl_missing(const emu *m, emu_wait what, const void *arg, char *buf, size_t size)
{
    const emu_split *s = what == EMU_WAIT_SPLIT ? arg : NULL;
    const emu_clique *cl = s != NULL ? s->parent : arg;
    size_t len, number = 0;

    (void)m;
    for (size_t i = 0; s != NULL && i < cl->nsplits; i++)
        if (cl->splits[i] == s)
            number = i;
    if (s != NULL)
        len = (size_t)snprintf(buf, size, "ncclCommSplit number %zu of communicator %d: rank(s) ", number, cl->id);
    else
        len = (size_t)snprintf(buf, size, "ncclCommInitRank (communicator %d): rank(s) ", cl->id);
    for (int r = 0, first = 1; r < cl->nranks && len + 24 < size; r++) {
        if (s != NULL ? s->out[r] != NULL : cl->comms[r] != NULL)
            continue; /* it has called */
        len += (size_t)snprintf(buf + len, size - len, "%s%d", first ? "" : ", ", r);
        first = 0;
    }
    if (len + 40 < size)
        snprintf(buf + len, size - len, " of %d never called it", cl->nranks);
}

static int split_done(const void *arg)
{
    return ((const emu_split *)arg)->done;
}

typedef struct split_member {
    int key, rank;
} split_member;

static int member_cmp(const void *pa, const void *pb)
{
    const split_member *a = pa, *b = pb;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    return a->rank - b->rank;
}

/* Every rank has called: one communicator per color, its ranks ordered by
 * key, then by their rank in the parent (NCCL's rule). */
static ncclResult_t split_run(emu *m, emu_clique *parent, emu_split *s)
{
    int n = parent->nranks;
    split_member *mem = malloc((size_t)n * sizeof(*mem));
    unsigned char *seen = calloc((size_t)n, 1);
    ncclResult_t res = ncclSuccess;

    if (mem == NULL || seen == NULL) {
        free(mem);
        free(seen);
        return ncclSystemError;
    }
    for (int r = 0; r < n; r++)
        if (s->color[r] == NCCL_SPLIT_NOCOLOR)
            *s->out[r] = NULL;
    for (int r = 0; r < n && res == ncclSuccess; r++) {
        int k = 0;
        emu_clique *cl;
        ncclUniqueId id;
        if (seen[r] || s->color[r] == NCCL_SPLIT_NOCOLOR)
            continue;
        for (int q = r; q < n; q++)
            if (!seen[q] && s->color[q] == s->color[r]) {
                seen[q] = 1;
                mem[k++] = (split_member){s->key[q], q};
            }
        qsort(mem, (size_t)k, sizeof(*mem), member_cmp);
        if (ncclGetUniqueId(&id) != ncclSuccess || (cl = clique_new(m, k, &id)) == NULL) {
            res = ncclSystemError;
            break;
        }
        for (int i = 0; i < k && res == ncclSuccess; i++)
            res = join(m, cl, i, parent->devices[mem[i].rank], s->out[mem[i].rank]);
    }
    free(mem);
    free(seen);
    s->done = 1;
    wake(m);
    return res;
}

ncclResult_t ncclCommSplit(ncclComm_t comm, int color, int key, ncclComm_t *newcomm, ncclConfig_t *config)
{
    emu *m = runtime();
    struct ncclComm *c;
    emu_clique *cl;
    emu_split *s;
    emu_proc *P;

    (void)config; /* NCCL's defaults: blocking, shared nothing */
    if (m == NULL)
        return ncclInvalidUsage;
    if ((c = comm_arg(m, comm, "ncclCommSplit")) == NULL)
        return ncclInvalidArgument;
    if (newcomm == NULL || (color < 0 && color != NCCL_SPLIT_NOCOLOR)) {
        warn(m, c, "ncclCommSplit: %s", newcomm == NULL ? "newcomm is NULL" : "a color must be >= 0 or NCCL_SPLIT_NOCOLOR");
        return ncclInvalidArgument;
    }
    *newcomm = NULL;
    cl = c->cl;
    if (c->nsplit == cl->nsplits) { /* the first rank to make this split */
        if (emu_vec_grow((void **)&cl->splits, &cl->capsplits, cl->nsplits, sizeof(*cl->splits)) < 0 ||
            (s = calloc(1, sizeof(*s))) == NULL)
            return ncclSystemError;
        cl->splits[cl->nsplits++] = s;
        s->color = calloc((size_t)cl->nranks, sizeof(*s->color));
        s->key = calloc((size_t)cl->nranks, sizeof(*s->key));
        s->out = calloc((size_t)cl->nranks, sizeof(*s->out));
        if (s->color == NULL || s->key == NULL || s->out == NULL)
            return ncclSystemError;
    }
    s = cl->splits[c->nsplit++];
    s->parent = cl;
    s->color[c->rank] = color;
    s->key[c->rank] = key;
    s->out[c->rank] = newcomm;
    if (++s->arrived == cl->nranks && split_run(m, cl, s) != ncclSuccess)
        return ncclSystemError;
    /* NCCL returns once every rank has called: at once, or at the group's end. */
    P = emu_self(m);
    if (P->group_depth == 0)
        wait_what(m, EMU_WAIT_SPLIT, split_done, s);
    else if (emu_vec_grow((void **)&P->splitting, &P->capsplitting, P->nsplitting, sizeof(*P->splitting)) == SP_OK)
        P->splitting[P->nsplitting++] = s;
    else
        return ncclSystemError;
    return s->done || P->group_depth > 0 ? ncclSuccess : ncclInvalidUsage;
}

/* What ncclCommCount, ncclCommCuDevice and ncclCommUserRank return. */
typedef enum comm_query { QUERY_COUNT, QUERY_DEVICE, QUERY_RANK } comm_query;

static ncclResult_t query(ncclComm_t comm, comm_query q, int *out, const char *fn)
{
    emu *m = runtime();
    struct ncclComm *c;
    if (m == NULL)
        return ncclInvalidUsage;
    if ((c = comm_arg(m, comm, fn)) == NULL)
        return ncclInvalidArgument;
    if (out == NULL) {
        warn(m, c, "%s: the pointer to set is NULL", fn);
        return ncclInvalidArgument;
    }
    *out = q == QUERY_COUNT    ? c->cl->nranks
           : q == QUERY_DEVICE ? c->cl->devices[c->rank] - emu_self(m)->first /* as this process numbers it */
                               : c->rank;
    return ncclSuccess;
}

ncclResult_t ncclCommCount(const ncclComm_t comm, int *count)
{
    return query(comm, QUERY_COUNT, count, "ncclCommCount");
}

ncclResult_t ncclCommCuDevice(const ncclComm_t comm, int *device)
{
    return query(comm, QUERY_DEVICE, device, "ncclCommCuDevice");
}

ncclResult_t ncclCommUserRank(const ncclComm_t comm, int *rank)
{
    return query(comm, QUERY_RANK, rank, "ncclCommUserRank");
}

ncclResult_t ncclCommGetAsyncError(ncclComm_t comm, ncclResult_t *asyncError)
{
    emu *m = runtime();
    if (m == NULL)
        return ncclInvalidUsage;
    if (comm_arg(m, comm, "ncclCommGetAsyncError") == NULL || asyncError == NULL)
        return ncclInvalidArgument;
    *asyncError = ncclSuccess;
    return ncclSuccess;
}

/* --- Operations -------------------------------------------------------------- */

static ncclResult_t submit_coll(emu *m, const emu_call *k)
{
    struct ncclComm *comm = k->comm;
    emu_clique *cl = comm->cl;
    ncclResult_t err;
    emu_coll *c = emu_coll_get(m, cl, comm->seq, k->fn, k->count, k->type, k->op, k->root, &err);
    emu_task *t;
    int n = cl->nranks, r = comm->rank;

    if (c == NULL) {
        if (err == ncclInvalidUsage)
            warn(m, comm, "nccl%s: the algorithms and protocols allowed (NCCL_ALGO, NCCL_PROTO) leave none for it",
                 emu_fn_name(k->fn));
        return err;
    }
    if (c->fn != k->fn || c->count != k->count || c->type != k->type ||
        (c->fn != EMU_BROADCAST && c->fn != EMU_ALL_GATHER && c->op != k->op) || c->root != k->root) {
        warn(m, comm,
             "collective number %lu on communicator %d: rank %d calls nccl%s(count %zu, type %d, op %d, root %d) "
             "where rank(s) before it called nccl%s(count %zu, type %d, op %d, root %d); NCCL would hang or "
             "corrupt data",
             c->seq, cl->id, r, emu_fn_name(k->fn), k->count, (int)k->type, (int)k->op, k->root,
             emu_fn_name(c->fn), c->count, (int)c->type, (int)c->op, c->root);
        return ncclInvalidUsage;
    }
    if ((t = emu_task_add(m, k->stream, EMU_TASK_COLL)) == NULL)
        return ncclSystemError;
    c->send[r] = k->sendbuff;
    c->recv[r] = k->recvbuff;
    c->called[r] = 1;
    c->ncalled++;
    comm->seq++;
    t->impl = c;
    t->crank = r;
    t->plan = c->plan;
    snprintf(t->key, sizeof(t->key), "e%d.%lu", cl->id, c->seq);
    for (int i = 0; c->plan != NULL && i < n; i++)
        if (coll_plan_rank(c->plan, i) == cl->devices[r])
            t->member = i;
    if (c->plan == NULL && k->sendbuff != k->recvbuff) /* one rank: a local copy */
        t->duration_s = copy_time(m, cl->devices[r], emu_type_size(k->type) * k->count, 2);
    return ncclSuccess;
}

/* The software latency and wire bytes of one message: NCCL's p2p engine
 * between the two devices, as `scalepath nccl -c sendrecv` plans it. */
static ncclResult_t leg_cost(emu *m, emu_leg *g)
{
    coll_plan *p;
    coll_stage st;
    int ranks[2] = {g->src, g->dst}, member;

    if (g->src == g->dst || g->bytes == 0) {
        g->bytes = 0; /* to itself: a copy the data model makes; no flow */
        return ncclSuccess;
    }
    if (coll_plan_new(&p, m->plat, COLL_SEND_RECV, ranks, 2, g->bytes, NULL) < 0)
        return ncclSystemError;
    member = coll_plan_rank(p, 0) == g->src ? 0 : 1;
    coll_plan_stage(p, member, 0, &st);
    g->delay_s = st.delay_s;
    g->bytes = 0;
    for (int i = 0; i < st.nsend; i++)
        g->bytes += st.send[i].bytes;
    coll_plan_free(p);
    return ncclSuccess;
}

/* One task for the sends and receives calls[0..n) of one communicator rank on one stream. */
static ncclResult_t submit_p2p(emu *m, emu_call *const *calls, size_t n)
{
    struct ncclComm *comm = calls[0]->comm;
    emu_clique *cl = comm->cl;
    int nr = cl->nranks, me = comm->rank;
    emu_batch *b = calloc(1, sizeof(*b));
    emu_leg *legs = calloc(n, sizeof(*legs));
    emu_task *t;

    if (b == NULL || legs == NULL || (b->msgs = calloc(n, sizeof(*b->msgs))) == NULL ||
        (b->sending = calloc(n, sizeof(*b->sending))) == NULL) {
        if (b != NULL) {
            free(b->msgs);
            free(b);
        }
        free(legs);
        return ncclSystemError;
    }
    for (size_t i = 0; i < n; i++) {
        const emu_call *k = calls[i];
        int src = k->send ? me : k->peer, dst = k->send ? k->peer : me;
        unsigned long *ctr = k->send ? &cl->sends[(size_t)src * (size_t)nr + (size_t)dst]
                                     : &cl->recvs[(size_t)src * (size_t)nr + (size_t)dst];
        emu_msg *g = emu_msg_get(cl, src, dst, *ctr);
        if (g == NULL)
            goto oom;
        if ((k->send && g->recv_called) || (!k->send && g->sent_called)) {
            if (g->count != k->count || g->type != k->type) {
                warn(m, comm,
                     "message %lu from rank %d to rank %d on communicator %d: ncclSend of %zu elements of type %d, "
                     "ncclRecv of %zu of type %d",
                     g->seq, src, dst, cl->id, k->send ? k->count : g->count, (int)(k->send ? k->type : g->type),
                     k->send ? g->count : k->count, (int)(k->send ? g->type : k->type));
                free(legs);
                free(b->msgs);
                free(b->sending);
                free(b);
                return ncclInvalidUsage;
            }
        }
        (*ctr)++;
        g->count = k->count;
        g->type = k->type;
        if (k->send) {
            g->sendbuf = k->sendbuff;
            g->sent_called = 1;
        } else {
            g->recvbuf = k->recvbuff;
            g->recv_called = 1;
        }
        b->msgs[i] = g;
        b->sending[i] = k->send;
        legs[i] = (emu_leg){k->send, cl->devices[src], cl->devices[dst], g->seq, cl->id,
                            (uint64_t)(emu_type_size(k->type) * k->count), 0.0};
        if (k->send && leg_cost(m, &legs[i]) != ncclSuccess)
            goto oom;
        if (!k->send && src == dst)
            legs[i].bytes = 0;
    }
    /* A receive's flow is its sender's: the same wire bytes. */
    for (size_t i = 0; i < n; i++)
        if (!legs[i].send && legs[i].bytes > 0) {
            emu_leg probe = legs[i];
            probe.send = 1;
            if (leg_cost(m, &probe) != ncclSuccess)
                goto oom;
            legs[i].bytes = probe.bytes;
        }
    if (emu_vec_grow((void **)&m->p2ps, &m->capp2ps, m->np2ps, sizeof(*m->p2ps)) < 0 ||
        (t = emu_task_add(m, calls[0]->stream, EMU_TASK_P2P)) == NULL)
        goto oom;
    m->p2ps[m->np2ps++] = t;
    t->impl = b;
    t->legs = legs;
    t->nlegs = n;
    t->crank = me;
    return ncclSuccess;
oom:
    free(legs);
    free(b->msgs);
    free(b->sending);
    free(b);
    return ncclSystemError;
}

/* Submit held calls in the order NCCL launches a group: communicator by
 * communicator (in the order the group first used each one, the ranks of
 * one communicator kept together), and within one, its collectives in call
 * order before its sends and receives, those of each (rank, stream) as one
 * task. Every device then meets its communicators' operations in the same
 * order, whatever order each device's calls were made in. */
typedef struct held {
    size_t first; /* the call that first used its communicator (clique) */
    int p2p;
    size_t i;     /* its call index */
} held;

static int held_cmp(const void *pa, const void *pb)
{
    const held *a = pa, *b = pb;
    if (a->first != b->first)
        return a->first < b->first ? -1 : 1;
    if (a->p2p != b->p2p)
        return a->p2p - b->p2p;
    return a->i < b->i ? -1 : a->i > b->i;
}

static ncclResult_t submit(emu *m, emu_call *calls, size_t n)
{
    ncclResult_t res = ncclSuccess;
    emu_call **batch = calloc(n + 1, sizeof(*batch));
    unsigned char *taken = calloc(n + 1, 1);
    held *order = calloc(n + 1, sizeof(*order));

    if (batch == NULL || taken == NULL || order == NULL) {
        free(batch);
        free(taken);
        free(order);
        return ncclSystemError;
    }
    for (size_t i = 0; i < n; i++) {
        size_t f = i;
        for (size_t j = 0; j < i && f == i; j++)
            if (calls[j].comm->cl == calls[i].comm->cl)
                f = order[j].first;
        order[i] = (held){f, calls[i].p2p, i};
    }
    qsort(order, n, sizeof(*order), held_cmp);
    /* A call that fails does not stop the others: each reports its own
     * problem, and the first error is the group's. */
    for (size_t o = 0; o < n; o++) {
        size_t i = order[o].i, nb = 0;
        ncclResult_t r;
        if (taken[i])
            continue;
        if (!calls[i].p2p) {
            r = submit_coll(m, &calls[i]);
        } else {
            for (size_t q = o; q < n; q++) {
                size_t j = order[q].i;
                if (!taken[j] && calls[j].p2p && calls[j].comm == calls[i].comm && calls[j].stream == calls[i].stream) {
                    batch[nb++] = &calls[j];
                    taken[j] = 1;
                }
            }
            r = submit_p2p(m, batch, nb);
        }
        if (res == ncclSuccess)
            res = r;
    }
    free(batch);
    free(taken);
    free(order);
    wake(m);
    return res;
}

static ncclResult_t enqueue(emu *m, const emu_call *k)
{
    emu_proc *P = emu_self(m);
    if (P->group_depth > 0) {
        if (emu_vec_grow((void **)&P->group, &P->capgroup, P->ngroup, sizeof(*P->group)) < 0)
            return ncclSystemError;
        P->group[P->ngroup++] = *k;
        return ncclSuccess;
    }
    return submit(m, (emu_call *)k, 1);
}

/* Checks common to every operation; fills k->stream. */
static ncclResult_t check_op(emu *m, emu_call *k, ncclComm_t comm, cudaStream_t stream, const char *fn)
{
    int dev;
    if ((k->comm = comm_arg(m, comm, fn)) == NULL)
        return ncclInvalidArgument;
    dev = k->comm->cl->devices[k->comm->rank];
    if ((int)k->type < 0 || k->type >= ncclNumTypes) {
        warn(m, k->comm, "%s: invalid type %d", fn, (int)k->type);
        return ncclInvalidArgument;
    }
    if ((int)k->op < 0 || k->op >= ncclNumOps) {
        warn(m, k->comm, "%s: invalid reduction operation %d", fn, (int)k->op);
        return ncclInvalidArgument;
    }
    if ((k->stream = stream_arg(m, stream, dev, fn)) == NULL)
        return ncclInvalidArgument;
    if (k->stream->device != dev) {
        warn(m, k->comm, "%s: the stream belongs to device %d, the communicator's rank %d to device %d", fn,
             local(m, k->stream->device), k->comm->rank, local(m, dev));
        return ncclInvalidArgument;
    }
    return ncclSuccess;
}

static ncclResult_t check_buf(emu *m, const emu_call *k, const void *p, size_t bytes, const char *fn, const char *what)
{
    int dev = k->comm->cl->devices[k->comm->rank];
    if (device_range(m, p, bytes) != dev) {
        warn(m, k->comm, "%s: %s %p is not %zu bytes of device %d's memory (rank %d)", fn, what, p, bytes,
             local(m, dev), k->comm->rank);
        return ncclInvalidArgument;
    }
    return ncclSuccess;
}

static ncclResult_t coll_call(emu_fn fn, const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t type,
                              ncclRedOp_t op, int root, ncclComm_t comm, cudaStream_t stream, const char *name)
{
    emu *m = runtime();
    emu_call k = {0, fn, 0, sendbuff, recvbuff, count, type, op, root, -1, NULL, NULL};
    ncclResult_t r;
    size_t z, n;

    if (m == NULL)
        return ncclInvalidUsage;
    if ((r = check_op(m, &k, comm, stream, name)) != ncclSuccess)
        return r;
    n = (size_t)k.comm->cl->nranks;
    if ((fn == EMU_BROADCAST || fn == EMU_REDUCE) && (root < 0 || root >= (int)n)) {
        warn(m, k.comm, "%s: root %d is not a rank of the communicator's %zu", name, root, n);
        return ncclInvalidArgument;
    }
    if (count == 0)
        return ncclSuccess;
    z = emu_type_size(type) * count;
    if (count > ((size_t)1 << 40) / emu_type_size(type)) {
        warn(m, k.comm, "%s: count %zu is beyond what the emulator holds in host memory", name, count);
        return ncclInvalidArgument;
    }
    /* What each rank reads and writes (a broadcast reads only the root's
     * input, a reduce writes only the root's output). */
    if (fn != EMU_BROADCAST || k.comm->rank == root)
        if ((r = check_buf(m, &k, sendbuff, fn == EMU_REDUCE_SCATTER ? z * n : z, name, "sendbuff")) != ncclSuccess)
            return r;
    if (fn != EMU_REDUCE || k.comm->rank == root)
        if ((r = check_buf(m, &k, recvbuff, fn == EMU_ALL_GATHER ? z * n : z, name, "recvbuff")) != ncclSuccess)
            return r;
    return enqueue(m, &k);
}

ncclResult_t ncclAllReduce(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t datatype,
                           ncclRedOp_t op, ncclComm_t comm, cudaStream_t stream)
{
    return coll_call(EMU_ALL_REDUCE, sendbuff, recvbuff, count, datatype, op, -1, comm, stream, "ncclAllReduce");
}

ncclResult_t ncclBroadcast(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t datatype, int root,
                           ncclComm_t comm, cudaStream_t stream)
{
    return coll_call(EMU_BROADCAST, sendbuff, recvbuff, count, datatype, ncclSum, root, comm, stream, "ncclBroadcast");
}

ncclResult_t ncclBcast(void *buff, size_t count, ncclDataType_t datatype, int root, ncclComm_t comm,
                       cudaStream_t stream)
{
    return coll_call(EMU_BROADCAST, buff, buff, count, datatype, ncclSum, root, comm, stream, "ncclBcast");
}

ncclResult_t ncclReduce(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t datatype, ncclRedOp_t op,
                        int root, ncclComm_t comm, cudaStream_t stream)
{
    return coll_call(EMU_REDUCE, sendbuff, recvbuff, count, datatype, op, root, comm, stream, "ncclReduce");
}

ncclResult_t ncclAllGather(const void *sendbuff, void *recvbuff, size_t sendcount, ncclDataType_t datatype,
                           ncclComm_t comm, cudaStream_t stream)
{
    return coll_call(EMU_ALL_GATHER, sendbuff, recvbuff, sendcount, datatype, ncclSum, -1, comm, stream,
                     "ncclAllGather");
}

ncclResult_t ncclReduceScatter(const void *sendbuff, void *recvbuff, size_t recvcount, ncclDataType_t datatype,
                               ncclRedOp_t op, ncclComm_t comm, cudaStream_t stream)
{
    return coll_call(EMU_REDUCE_SCATTER, sendbuff, recvbuff, recvcount, datatype, op, -1, comm, stream,
                     "ncclReduceScatter");
}

static ncclResult_t p2p_call(int send, const void *buf, size_t count, ncclDataType_t type, int peer, ncclComm_t comm,
                             cudaStream_t stream, const char *name)
{
    emu *m = runtime();
    emu_call k = {1, EMU_NFNS, send, send ? buf : NULL, send ? NULL : (void *)buf, count, type, ncclSum, -1, peer, NULL, NULL};
    ncclResult_t r;

    if (m == NULL)
        return ncclInvalidUsage;
    if ((r = check_op(m, &k, comm, stream, name)) != ncclSuccess)
        return r;
    if (peer < 0 || peer >= k.comm->cl->nranks) {
        warn(m, k.comm, "%s: peer %d is not a rank of the communicator's %d", name, peer, k.comm->cl->nranks);
        return ncclInvalidArgument;
    }
    if (count == 0)
        return ncclSuccess;
    if (count > ((size_t)1 << 40) / emu_type_size(type)) {
        warn(m, k.comm, "%s: count %zu is beyond what the emulator holds in host memory", name, count);
        return ncclInvalidArgument;
    }
    if ((r = check_buf(m, &k, buf, emu_type_size(type) * count, name, send ? "sendbuff" : "recvbuff")) != ncclSuccess)
        return r;
    return enqueue(m, &k);
}

ncclResult_t ncclSend(const void *sendbuff, size_t count, ncclDataType_t datatype, int peer, ncclComm_t comm,
                      cudaStream_t stream)
{
    return p2p_call(1, sendbuff, count, datatype, peer, comm, stream, "ncclSend");
}

ncclResult_t ncclRecv(void *recvbuff, size_t count, ncclDataType_t datatype, int peer, ncclComm_t comm,
                      cudaStream_t stream)
{
    return p2p_call(0, recvbuff, count, datatype, peer, comm, stream, "ncclRecv");
}

ncclResult_t ncclGroupStart(void)
{
    emu *m = runtime();
    if (m == NULL)
        return ncclInvalidUsage;
    emu_self(m)->group_depth++;
    return ncclSuccess;
}

ncclResult_t ncclGroupEnd(void)
{
    emu *m = runtime();
    emu_proc *P;
    ncclResult_t r;
    if (m == NULL)
        return ncclInvalidUsage;
    P = emu_self(m);
    if (P->group_depth == 0) {
        warn(m, NULL, "ncclGroupEnd: no ncclGroupStart to end");
        return ncclInvalidUsage;
    }
    if (--P->group_depth > 0)
        return ncclSuccess;
    for (size_t i = 0; i < P->ninits; i++) /* communicators begun in the group */
        wait_what(m, EMU_WAIT_INIT, clique_complete, P->inits[i]);
    P->ninits = 0;
    for (size_t i = 0; i < P->nsplitting; i++)
        wait_what(m, EMU_WAIT_SPLIT, split_done, P->splitting[i]);
    P->nsplitting = 0;
    r = submit(m, P->group, P->ngroup);
    P->ngroup = 0;
    return r;
}
