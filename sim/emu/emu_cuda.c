/* emu_cuda.c - the CUDA runtime entry points a program calls under
 * `scalepath emulate` (include/cuda_runtime.h, include/scalepath_emu.h),
 * and what the NCCL ones share with them (emu_nccl.c): the binding, the
 * warnings, waiting. Each checks its arguments, reports a bad one on
 * stderr and returns the error code the real library returns; none
 * crashes on a bad argument it can detect. Work is queued on streams
 * (emu.c); calls that wait block the program's actor through the bound
 * services. */
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

void emu_warn(emu *m, struct ncclComm *comm, const char *fmt, ...)
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

static cudaError_t emu_cuda_fail(emu *m, cudaError_t err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static cudaError_t emu_cuda_fail(emu *m, cudaError_t err, const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "scalepath emulate: CUDA %s: %s\n", cudaGetErrorName(err), msg);
    if (m != NULL) {
        emu_thread_self(m)->last_cuda = err;
        m->api_errors++;
    }
    return err;
}

/* The bound runtime, or NULL with a message (called outside the emulator). */
emu *emu_runtime(void)
{
    if (emu_active == NULL || !emu_active->bound)
        fprintf(stderr, "scalepath emulate: WARN an NCCL or CUDA call outside `scalepath emulate`\n");
    else
        emu_note_call(emu_active);
    return emu_active != NULL && emu_active->bound ? emu_active : NULL;
}

void emu_note_call(emu *m)
{
    int i = m->svc.self != NULL ? m->svc.self(m->svc.ctx) : -1;
    if (i >= 0 && (size_t)i < m->nthreads) {
        m->calls++;
        m->threads[i]->calls++;
    }
}

void emu_changed(emu *m)
{
    m->changes++;
    m->change_at = m->svc.now != NULL ? m->svc.now(m->svc.ctx) : 0.0;
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
    case cudaErrorPeerAccessUnsupported: return "cudaErrorPeerAccessUnsupported";
    case cudaErrorPeerAccessAlreadyEnabled: return "cudaErrorPeerAccessAlreadyEnabled";
    case cudaErrorPeerAccessNotEnabled: return "cudaErrorPeerAccessNotEnabled";
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
    case cudaErrorPeerAccessUnsupported: return "peer access is not supported between these two devices";
    case cudaErrorPeerAccessAlreadyEnabled: return "peer access is already enabled";
    case cudaErrorPeerAccessNotEnabled: return "peer access has not been enabled";
    default: return "unknown error";
    }
}

cudaError_t cudaGetLastError(void)
{
    emu *m = emu_active;
    cudaError_t e = m != NULL ? emu_thread_self(m)->last_cuda : cudaSuccess;
    if (m != NULL)
        emu_thread_self(m)->last_cuda = cudaSuccess;
    return e;
}

cudaError_t cudaPeekAtLastError(void)
{
    return emu_active != NULL ? emu_thread_self(emu_active)->last_cuda : cudaSuccess;
}

/* --- Waiting ---------------------------------------------------------------- */

typedef struct dev_arg {
    const emu *m;
    int device; /* -1: the devices first .. first + n - 1 */
    int first, n;
    int proc;   /* only the streams of this process (CUDA: its context); -1: everyone's */
    int blocking_only; /* what the legacy default stream waits for: not cudaStreamNonBlocking streams */
} dev_arg;

static int emu_self_index(emu *m)
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
            (d->proc < 0 || s->proc == d->proc) && s->head != NULL && !(d->blocking_only && s->nonblocking))
            return 0;
    }
    return 1;
}

/* No work of the process (d->proc) that touches device d->device's memory
 * from another device's stream: a copy into or out of it, or between it
 * and another GPU, queued on the NULL stream of another current device. */
static int memory_idle(const void *arg)
{
    const dev_arg *d = arg;
    for (size_t i = 0; i < d->m->nstreams; i++) {
        const emu_stream *s = d->m->streams[i];
        if (d->proc >= 0 && s->proc != d->proc)
            continue;
        for (const emu_task *t = s->head; t != NULL; t = t->next)
            if (t->copy_device == d->device || t->peer_device == d->device)
                return 0;
    }
    return 1;
}

/* Three devices idle at once (cudaMemcpyPeer's current, source and destination). */
typedef struct dev_arg3 {
    dev_arg d[3];
} dev_arg3;

static int devices_idle(const void *arg)
{
    const dev_arg3 *a = arg;
    return device_idle(&a->d[0]) && device_idle(&a->d[1]) && device_idle(&a->d[2]);
}

static int task_done(const void *arg)
{
    return ((const emu_task *)arg)->done;
}

/* A device as the calling process numbers it (from 0 on its node with --ppn). */
int emu_local(emu *m, int device)
{
    return device - emu_self(m)->first;
}

void emu_wait_for(emu *m, int (*ready)(const void *), const void *arg)
{
    emu_thread *P = emu_thread_self(m);
    if (ready(arg) || m->svc.wait == NULL)
        return;
    P->waiting = arg; /* for the report, should it never return */
    P->blocked = 1;
    m->svc.wait(m->svc.ctx, ready, arg);
    P->blocked = 0;
    P->waiting = NULL;
    P->waiting_what = EMU_WAIT_NONE;
}

/* wait_for, saying what for. */
void emu_wait_what(emu *m, emu_wait what, int (*ready)(const void *), const void *arg)
{
    if (ready(arg) || m->svc.wait == NULL) /* no wait: nothing to say should it hang later */
        return;
    emu_thread_self(m)->waiting_what = what;
    emu_wait_for(m, ready, arg);
}

void emu_wake(emu *m)
{
    emu_changed(m);
    if (m->svc.notify != NULL)
        m->svc.notify(m->svc.ctx);
}

/* --- Devices, memory ------------------------------------------------------- */

cudaError_t cudaGetDeviceCount(int *count)
{
    emu *m = emu_runtime();
    if (m == NULL)
        return cudaErrorInvalidDevice;
    if (count == NULL)
        return emu_cuda_fail(m, cudaErrorInvalidValue, "cudaGetDeviceCount: count is NULL");
    *count = emu_self(m)->ndev;
    return cudaSuccess;
}

cudaError_t cudaSetDevice(int device)
{
    emu *m = emu_runtime();
    if (m == NULL)
        return cudaErrorInvalidDevice;
    if (device < 0 || device >= emu_self(m)->ndev)
        return emu_cuda_fail(m, cudaErrorInvalidDevice, "cudaSetDevice(%d): this process sees devices 0 to %d", device,
                             emu_self(m)->ndev - 1);
    emu_thread_self(m)->current = emu_self(m)->first + device;
    return cudaSuccess;
}

cudaError_t cudaGetDevice(int *device)
{
    emu *m = emu_runtime();
    if (m == NULL)
        return cudaErrorInvalidDevice;
    if (device == NULL)
        return emu_cuda_fail(m, cudaErrorInvalidValue, "cudaGetDevice: device is NULL");
    *device = emu_thread_self(m)->current - emu_self(m)->first;
    return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(struct cudaDeviceProp *prop, int device)
{
    emu *m = emu_runtime();
    const plat_gpu *g;
    if (m == NULL)
        return cudaErrorInvalidDevice;
    if (prop == NULL)
        return emu_cuda_fail(m, cudaErrorInvalidValue, "cudaGetDeviceProperties: prop is NULL");
    if (device < 0 || device >= emu_self(m)->ndev)
        return emu_cuda_fail(m, cudaErrorInvalidDevice, "cudaGetDeviceProperties(%d): this process sees devices 0 to %d",
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

cudaError_t cudaMemGetInfo(size_t *free, size_t *total)
{
    emu *m = emu_runtime();
    int d;
    double cap;
    if (m == NULL)
        return cudaErrorInvalidValue;
    d = emu_thread_self(m)->current;
    cap = plat_type_of_rank(m->plat, d)->gpu.mem_bytes;
    /* What cudaMalloc may still take here: no context or allocator overhead
     * is counted. A NULL pointer is skipped: CUDA 13.0 returned cudaSuccess
     * for one (tests/data/emu/real_codes.expected). */
    if (total != NULL)
        *total = (size_t)cap;
    if (free != NULL)
        *free = m->devices[d].allocated < cap ? (size_t)(cap - m->devices[d].allocated) : 0;
    return cudaSuccess;
}

/* --- Peer access -------------------------------------------------------------- */

/* Whether two of the process's devices (global) may map each other's
 * memory: the same node, joined by NVLink or by PCIe with peer-to-peer DMA. */
static int peer_capable(const emu *m, int a, int b)
{
    const plat_intra *in;
    if (a == b || plat_rank_node(m->plat, a) != plat_rank_node(m->plat, b))
        return 0;
    in = &plat_type_of_rank(m->plat, a)->intra;
    return in->kind == PLAT_INTRA_NVSWITCH || (in->kind == PLAT_INTRA_PCIE && in->p2p);
}

/* A device number the calling process sees, as a global one; -1 after a message. */
static int peer_arg(emu *m, int device, const char *fn)
{
    if (device < 0 || device >= emu_self(m)->ndev) {
        emu_cuda_fail(m, cudaErrorInvalidDevice, "%s(%d): this process sees devices 0 to %d", fn, device,
                      emu_self(m)->ndev - 1);
        return -1;
    }
    return emu_self(m)->first + device;
}

cudaError_t cudaDeviceCanAccessPeer(int *canAccessPeer, int device, int peerDevice)
{
    emu *m = emu_runtime();
    int a, b;
    if (m == NULL)
        return cudaErrorInvalidDevice;
    if (canAccessPeer == NULL)
        return emu_cuda_fail(m, cudaErrorInvalidValue, "cudaDeviceCanAccessPeer: canAccessPeer is NULL");
    if ((a = peer_arg(m, device, "cudaDeviceCanAccessPeer")) < 0 ||
        (b = peer_arg(m, peerDevice, "cudaDeviceCanAccessPeer")) < 0)
        return cudaErrorInvalidDevice;
    *canAccessPeer = peer_capable(m, a, b);
    return cudaSuccess;
}

/* The process's peer-access flag from its current device to peer (global
 * devices), the table made on first use; NULL if out of memory. */
static unsigned char *peer_flag(emu *m, int peer)
{
    emu_proc *P = emu_self(m);
    int cur = emu_thread_self(m)->current - P->first, q = peer - P->first;
    if (P->peer == NULL && (P->peer = calloc((size_t)P->ndev * (size_t)P->ndev, 1)) == NULL)
        return NULL;
    return &P->peer[(size_t)cur * (size_t)P->ndev + (size_t)q];
}

cudaError_t cudaDeviceEnablePeerAccess(int peerDevice, unsigned int flags)
{
    emu *m = emu_runtime();
    unsigned char *f;
    int b;
    if (m == NULL)
        return cudaErrorInvalidDevice;
    if ((b = peer_arg(m, peerDevice, "cudaDeviceEnablePeerAccess")) < 0)
        return cudaErrorInvalidDevice;
    if (flags != 0)
        return emu_cuda_fail(m, cudaErrorInvalidValue, "cudaDeviceEnablePeerAccess: flags must be 0, not %u", flags);
    if (b == emu_thread_self(m)->current) /* CUDA 13.0's answer on a real GPU (real_codes.expected) */
        return emu_cuda_fail(m, cudaErrorPeerAccessUnsupported,
                             "cudaDeviceEnablePeerAccess(%d): that is the current device", peerDevice);
    if (!peer_capable(m, emu_thread_self(m)->current, b))
        return emu_cuda_fail(m, cudaErrorPeerAccessUnsupported,
                             "cudaDeviceEnablePeerAccess(%d): device %d cannot reach its memory (%s)", peerDevice,
                             emu_thread_self(m)->current - emu_self(m)->first,
                             plat_rank_node(m->plat, b) != plat_rank_node(m->plat, emu_thread_self(m)->current)
                                 ? "another node"
                                 : "no NVLink, and PCIe without peer-to-peer DMA");
    if ((f = peer_flag(m, b)) == NULL)
        return emu_cuda_fail(m, cudaErrorMemoryAllocation, "cudaDeviceEnablePeerAccess: out of host memory");
    if (*f)
        return emu_cuda_fail(m, cudaErrorPeerAccessAlreadyEnabled, "cudaDeviceEnablePeerAccess(%d): already enabled",
                             peerDevice);
    *f = 1;
    return cudaSuccess;
}

cudaError_t cudaDeviceDisablePeerAccess(int peerDevice)
{
    emu *m = emu_runtime();
    unsigned char *f;
    int b;
    if (m == NULL)
        return cudaErrorInvalidDevice;
    if ((b = peer_arg(m, peerDevice, "cudaDeviceDisablePeerAccess")) < 0)
        return cudaErrorInvalidDevice;
    if ((f = peer_flag(m, b)) == NULL)
        return emu_cuda_fail(m, cudaErrorMemoryAllocation, "cudaDeviceDisablePeerAccess: out of host memory");
    if (!*f)
        return emu_cuda_fail(m, cudaErrorPeerAccessNotEnabled, "cudaDeviceDisablePeerAccess(%d): not enabled",
                             peerDevice);
    *f = 0;
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
        return emu_cuda_fail(m, cudaErrorInvalidValue, "%s: the pointer to set is NULL", fn);
    *ptr = NULL;
    if (size == 0) /* as the CUDA runtime does: success, and NULL */
        return cudaSuccess;
    if (device >= 0) {
        double cap = plat_type_of_rank(m->plat, device)->gpu.mem_bytes;
        if (m->devices[device].allocated + (double)size > cap)
            return emu_cuda_fail(m, cudaErrorMemoryAllocation,
                                 "%s(%zu bytes) on device %d: %.0f of its %.0f bytes are in use", fn, size,
                                 emu_local(m, device), m->devices[device].allocated, cap);
    }
    {
        if (emu_vec_grow((void **)&m->allocs, &m->capallocs, m->nallocs, sizeof(*m->allocs)) < 0)
            return emu_cuda_fail(m, cudaErrorMemoryAllocation, "%s: out of host memory", fn);
        a = &m->allocs[m->nallocs++];
    }
    /* Mapped without reserving: a page costs host memory once written, so
     * a GPU's worth of buffers fits if the program touches a part; zeroed,
     * so memory never written reads the same every run. */
    if ((a->base = emu_map(size)) == NULL)
        return emu_cuda_fail(m, cudaErrorMemoryAllocation,
                             "%s(%zu bytes): the emulator keeps device memory in host memory, and the host has not "
                             "that much",
                             fn, size);
    a->size = size;
    a->device = device;
    a->dead = 0;
    a->freeing = 0;
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
        if ((a->device < 0) != host || a->dead || a->freeing)
            break;
        {
            /* cudaFree synchronizes the device; cudaFreeHost every device
             * (its copies may be queued anywhere). Others run meanwhile:
             * a second free of it is refused, and the array may move. */
            dev_arg d = {m, host ? -1 : a->device, emu_self(m)->first, emu_self(m)->ndev, emu_self_index(m), 0};
            a->freeing = 1;
            emu_wait_for(m, device_idle, &d);
            if (!host) /* and for copies of its memory queued on other devices' streams */
                emu_wait_for(m, memory_idle, &d);
            a = &m->allocs[i];
            a->freeing = 0;
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
            dev_arg all = {m, -1, 0, m->ndevices, -1, 0};
            if (device_idle(&all))
                for (size_t j = 0; j < m->nallocs; j++)
                    if (m->allocs[j].dead && m->allocs[j].base != NULL) {
                        emu_unmap(m->allocs[j].base, m->allocs[j].size);
                        m->allocs[j].base = NULL;
                    }
        }
        return cudaSuccess;
    }
    /* The CUDA 13.0 runtime answers cudaErrorInvalidValue to any pointer it
     * did not allocate, or already freed (bench/emulate_real.sh). */
    return emu_cuda_fail(m, cudaErrorInvalidValue, "%s(%p): not the start of memory that %s returned", fn, ptr,
                         host ? "cudaMallocHost" : "cudaMalloc");
}

cudaError_t cudaMalloc(void **devPtr, size_t size)
{
    emu *m = emu_runtime();
    return m == NULL ? cudaErrorMemoryAllocation : alloc(m, devPtr, size, emu_thread_self(m)->current, "cudaMalloc");
}

cudaError_t cudaFree(void *devPtr)
{
    emu *m = emu_runtime();
    return m == NULL ? cudaErrorInvalidValue : release(m, devPtr, 0, "cudaFree");
}

cudaError_t cudaMallocHost(void **ptr, size_t size)
{
    emu *m = emu_runtime();
    return m == NULL ? cudaErrorMemoryAllocation : alloc(m, ptr, size, -1, "cudaMallocHost");
}

cudaError_t cudaFreeHost(void *ptr)
{
    emu *m = emu_runtime();
    return m == NULL ? cudaErrorInvalidValue : release(m, ptr, 1, "cudaFreeHost");
}

/* Whether [p, p + bytes) lies in one device allocation; its device, or -1. */
int emu_device_range(const emu *m, const void *p, size_t bytes)
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
    if (P->dflt[i] == NULL) /* set before its worker starts, which lets other threads run */
        emu_stream_add_at(m, P->first + i, &P->dflt[i], EMU_STREAM_LEGACY);
    return P->dflt[i];
}

/* The calling thread's cudaStreamPerThread on a device, made on first use:
 * a blocking stream of its process. */
static emu_stream *per_thread_stream(emu *m, int device)
{
    emu_thread *t = emu_thread_self(m);

    if (device < 0 || device >= m->ndevices)
        return NULL;
    if (t->per_thread == NULL && (t->per_thread = calloc((size_t)m->ndevices, sizeof(*t->per_thread))) == NULL)
        return NULL;
    if (t->per_thread[device] == NULL) /* set before its worker starts, which lets other threads run */
        emu_stream_add_at(m, device, &t->per_thread[device], EMU_STREAM_BLOCKING);
    return t->per_thread[device];
}

/* The stream a call names (NULL or cudaStreamLegacy: the current device's
 * default; cudaStreamPerThread: the calling thread's), or NULL after a
 * message if it is not a live stream of this runtime. */
emu_stream *emu_stream_arg(emu *m, cudaStream_t s, int device, const char *fn)
{
    if (s == NULL || s == cudaStreamLegacy || s == cudaStreamPerThread) {
        emu_stream *d = s == cudaStreamPerThread ? per_thread_stream(m, device) : default_stream(m, device);
        if (d == NULL)
            emu_cuda_fail(m, cudaErrorMemoryAllocation, "%s: out of host memory", fn);
        return d;
    }
    for (size_t i = 0; i < m->nstreams; i++)
        if (m->streams[i] == s && !s->destroyed)
            return s;
    emu_cuda_fail(m, cudaErrorInvalidResourceHandle, "%s: stream %p is not a live stream", fn, (void *)s);
    return NULL;
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t *pStream, unsigned int flags)
{
    emu *m = emu_runtime();
    emu_stream *s;
    if (m == NULL)
        return cudaErrorInvalidValue;
    if (pStream == NULL || flags > cudaStreamNonBlocking)
        return emu_cuda_fail(m, cudaErrorInvalidValue, "cudaStreamCreate: %s", pStream == NULL ? "pStream is NULL" : "unknown flags");
    if ((s = emu_stream_add(m, emu_thread_self(m)->current, (flags & cudaStreamNonBlocking) != 0)) == NULL)
        return emu_cuda_fail(m, cudaErrorMemoryAllocation, "cudaStreamCreate: out of host memory");
    *pStream = s;
    return cudaSuccess;
}

cudaError_t cudaStreamCreate(cudaStream_t *pStream)
{
    return cudaStreamCreateWithFlags(pStream, cudaStreamDefault);
}

cudaError_t cudaStreamDestroy(cudaStream_t stream)
{
    emu *m = emu_runtime();
    emu_stream *s;
    if (m == NULL)
        return cudaErrorInvalidResourceHandle;
    if (stream == NULL || stream == cudaStreamLegacy || stream == cudaStreamPerThread)
        return emu_cuda_fail(m, cudaErrorInvalidResourceHandle, "cudaStreamDestroy: a default stream cannot be destroyed");
    if ((s = emu_stream_arg(m, stream, emu_thread_self(m)->current, "cudaStreamDestroy")) == NULL)
        return cudaErrorInvalidResourceHandle;
    s->destroyed = 1; /* its queued work still runs, as CUDA's does */
    return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t stream)
{
    emu *m = emu_runtime();
    emu_stream *s;
    if (m == NULL)
        return cudaErrorInvalidResourceHandle;
    if ((s = emu_stream_arg(m, stream, emu_thread_self(m)->current, "cudaStreamSynchronize")) == NULL)
        return cudaErrorInvalidResourceHandle;
    emu_wait_for(m, stream_idle, s);
    emu_host_cost(m, EMU_STREAM_SYNC_CALL_S); /* measured on an idle stream: the return */
    return cudaSuccess;
}

cudaError_t cudaStreamQuery(cudaStream_t stream)
{
    emu *m = emu_runtime();
    emu_stream *s;
    if (m == NULL)
        return cudaErrorInvalidResourceHandle;
    if ((s = emu_stream_arg(m, stream, emu_thread_self(m)->current, "cudaStreamQuery")) == NULL)
        return cudaErrorInvalidResourceHandle;
    /* A loop of queries would spin at one instant: each takes host time. */
    emu_query(m, "cudaStreamQuery", s->head == NULL ? EMU_QUERY_DONE : EMU_QUERY_WAITING, emu_stream_moving(s),
              s->head == NULL ? EMU_STREAM_QUERY_DONE_S : EMU_STREAM_QUERY_BUSY_S);
    return s->head == NULL ? cudaSuccess : cudaErrorNotReady;
}

cudaError_t cudaDeviceSynchronize(void)
{
    emu *m = emu_runtime();
    dev_arg d;
    if (m == NULL)
        return cudaErrorInvalidDevice;
    d = (dev_arg){m, emu_thread_self(m)->current, 0, 0, emu_self_index(m), 0};
    emu_wait_for(m, device_idle, &d);
    emu_host_cost(m, EMU_DEVICE_SYNC_CALL_S); /* measured on an idle device: the return */
    return cudaSuccess;
}

/* --- Copies ------------------------------------------------------------------ */

/* Whether p lies in memory cudaMallocHost returned. */
static int pinned(const emu *m, const void *p)
{
    const emu_alloc *a = emu_alloc_find(m, p);
    return a != NULL && a->device < 0;
}

/* A copy between host and device: within the one memory where the GPU's is
 * the host's (GB10); else over the GPU's host link, from page-locked memory
 * at its measured rate and from pageable memory at the rate the CPU stages
 * it; no time where the platform does not describe the link. */
static double host_copy_time(const emu *m, int device, size_t bytes, int page_locked)
{
    const plat_gpu *g = &plat_type_of_rank(m->plat, device)->gpu;
    if (g->unified)
        return emu_copy_time(m, device, bytes, 2);
    if (g->host_link_Bps <= 0.0 || bytes == 0)
        return 0.0;
    return g->host_link_lat_s + (double)bytes / (page_locked ? g->host_link_Bps : g->host_link_pageable_Bps);
}

/* A copy within a GPU reads and writes its memory; a memset writes it. */
double emu_copy_time(const emu *m, int device, size_t bytes, int passes)
{
    const plat_gpu *g = &plat_type_of_rank(m->plat, device)->gpu;
    double bw = g->mem_bw_Bps * (g->eff_memory > 0.0 ? g->eff_memory : 1.0);
    return bw > 0.0 ? (double)passes * (double)bytes / bw : 0.0;
}

/* A copy (src not NULL) or a memset (is_set: src NULL, value) on a stream. */
static cudaError_t copy_task_now(emu *m, void *dst, const void *src, int is_set, size_t count, int value,
                                 enum cudaMemcpyKind kind, cudaStream_t stream, int sync, const char *fn)
{
    int ddev = emu_device_range(m, dst, count), sdev = src != NULL ? emu_device_range(m, src, count) : -1;
    int dev = ddev >= 0 ? ddev : sdev;
    emu_stream *s;
    emu_task *t;
    emu_copy *k;
    char *owned = NULL;

    if (count == 0 && (int)kind >= 0 && kind <= cudaMemcpyDefault)
        return cudaSuccess; /* nothing to move: NULL pointers too (cudaMalloc(0)'s), as CUDA allows */
    if (dst == NULL || (src == NULL && !is_set))
        return emu_cuda_fail(m, cudaErrorInvalidValue, "%s: a NULL pointer", fn);
    if (is_set && ddev < 0)
        return emu_cuda_fail(m, cudaErrorInvalidValue, "%s(%p, %zu bytes): not within one cudaMalloc allocation", fn, dst, count);
    if ((int)kind < 0 || kind > cudaMemcpyDefault)
        return emu_cuda_fail(m, cudaErrorInvalidMemcpyDirection, "%s: unknown direction %d", fn, (int)kind);
    for (int end = 0; end < 2; end++) { /* inside device memory, it must fit in its allocation */
        const void *q = end == 0 ? (const void *)dst : src;
        const emu_alloc *al = q != NULL ? emu_alloc_find(m, q) : NULL;
        if (al != NULL && al->device >= 0 && (end == 0 ? ddev : sdev) < 0)
            return emu_cuda_fail(m, cudaErrorInvalidValue, "%s(%zu bytes): the %s overruns its cudaMalloc allocation of %zu bytes",
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
                return emu_cuda_fail(m, cudaErrorInvalidValue, "%s(%zu bytes): the %s overruns its cudaMalloc allocation of %zu bytes",
                                     fn, count, dst_wrong ? "destination" : "source", a->size);
            return emu_cuda_fail(m, cudaErrorInvalidValue, "%s(%zu bytes): the %s is %s, which the direction (%d) contradicts",
                                 fn, count, dst_wrong ? "destination" : "source",
                                 (dst_wrong ? ddev : sdev) >= 0 ? "device memory" : "not device memory", (int)kind);
        }
    }
    if (dev < 0) { /* host to host */
        if (count > 0)
            memmove(dst, src, count);
        return cudaSuccess;
    }
    /* A "synchronous" copy within one device's memory, or memset of device
     * memory, does not block the host: it is queued on its stream as an
     * asynchronous one is (CUDA's "API synchronization behavior": "for
     * transfers from device memory to device memory, no host-side
     * synchronization is performed"; memsets "are asynchronous with respect
     * to the host except when the target is pinned host memory"). On a real
     * H100 cudaMemset of 4 bytes returned in 0.92-1.10 us, and cudaMemcpy of
     * 4 KiB within the device in 3.8-5.3 us, as long as their asynchronous
     * forms take to queue (bench/data/emulate/h100-cuda_api_cost.txt). A copy
     * between two devices keeps its waits below, which CUDA does not (a
     * known deviation, docs/emulation.md). */
    if (sync && ddev >= 0 && (src == NULL || sdev == ddev))
        sync = 0;
    /* The NULL stream and cudaStreamPerThread are the current device's, as in
     * CUDA, whichever device's memory the copy touches. */
    if ((s = emu_stream_arg(m, stream, emu_thread_self(m)->current, fn)) == NULL)
        return cudaErrorInvalidResourceHandle;
    if (sync == 1) { /* a synchronous copy on the legacy default stream waits, as that stream does,
                      * for the earlier work of the blocking streams of the devices it touches; on
                      * the per-thread stream (sync 2), for that stream's own, in its queue */
        dev_arg d = {m, dev, 0, 0, emu_self_index(m), 1};
        emu_wait_for(m, device_idle, &d);
        if (sdev >= 0 && sdev != dev) {
            d.device = sdev;
            emu_wait_for(m, device_idle, &d);
        }
        /* Other threads ran meanwhile: one may have freed its memory. */
        if (emu_device_range(m, dst, count) != ddev || (src != NULL && emu_device_range(m, src, count) != sdev))
            return emu_cuda_fail(m, cudaErrorInvalidValue, "%s(%zu bytes): its device memory was freed while it "
                                 "waited for the device", fn, count);
    }
    /* Pageable host memory (not cudaMallocHost's): CUDA stages a copy from
     * it before returning (staged here before the task is queued, so that a
     * failure queues nothing), and returns from a copy into it once done. */
    if (!sync && src != NULL && sdev < 0 && !pinned(m, src) && !m->nodata) {
        if ((owned = emu_huge(malloc(count + 1), count)) == NULL)
            return emu_cuda_fail(m, cudaErrorMemoryAllocation, "%s: out of host memory", fn);
        memcpy(owned, src, count);
    }
    if ((k = calloc(1, sizeof(*k))) == NULL || (t = emu_task_add(m, s, EMU_TASK_SLEEP)) == NULL) {
        free(k);
        free(owned);
        return emu_cuda_fail(m, cudaErrorMemoryAllocation, "%s: out of host memory", fn);
    }
    *k = (emu_copy){dst, src, count, value, owned, -1, 0.0, dev};
    t->copy_device = dev;
    t->impl = k;
    /* Between host and device: on a GPU whose memory is the host's (GB10's
     * unified LPDDR5X), a copy within that memory, read and written; on a
     * GPU whose host link the platform describes, that link (host_copy_time);
     * on the others no time. Between two GPUs the bytes flow from one to the
     * other (a P2P task of one message, sent by the engine from the source's
     * host). */
    t->duration_s = src == NULL                   ? emu_copy_time(m, dev, count, 1)
                    : (ddev >= 0 && sdev == ddev) ? emu_copy_time(m, dev, count, 2)
                    : (ddev < 0 || sdev < 0)      ? host_copy_time(m, dev, count, pinned(m, ddev < 0 ? dst : src))
                                                  : 0.0;
    /* A copy over a host link queues behind the copies already on it in its
     * direction (emu_task_begin): the link is shared, not one per stream. */
    if (src != NULL && (ddev < 0 || sdev < 0) && !plat_type_of_rank(m->plat, dev)->gpu.unified &&
        t->duration_s > 0.0) {
        k->link_dir = ddev >= 0 ? 0 : 1;
        k->link_s = t->duration_s;
    }
    if (ddev >= 0 && sdev >= 0 && sdev != ddev && count > 0) {
        t->peer_device = sdev;
        t->peer_bytes = count;
    }
    emu_wake(m);
    if (sync || (ddev < 0 && !pinned(m, dst)))
        emu_wait_for(m, task_done, t);
    return cudaSuccess;
}

/* A copy or memset: the host's time in the call first, where it was
 * measured (emu_int.h), then the checks and the queueing, so that what
 * other threads did meanwhile (a cudaFree) is seen. */
static cudaError_t copy_task(emu *m, void *dst, const void *src, int is_set, size_t count, int value,
                             enum cudaMemcpyKind kind, cudaStream_t stream, int sync, const char *fn)
{
    if (!m->no_launch_costs && count > 0 && dst != NULL && (src != NULL || is_set)) {
        /* where the bytes lie decides the cost: a lookup per end, skipped when costs are off */
        int ddev = emu_device_range(m, dst, count), sdev = src != NULL ? emu_device_range(m, src, count) : -1;
        if (is_set)
            emu_host_cost(m, EMU_MEMSET_CALL_S);
        else if (ddev >= 0 && sdev == ddev)
            emu_host_cost(m, EMU_COPY_D2D_CALL_S);
        else if (sdev < 0 && ddev >= 0) /* from pageable memory too, as a floor: its staging is timed apart */
            emu_host_cost(m, EMU_COPY_H2D_CALL_S);
        else if (ddev < 0 && sdev >= 0)
            emu_host_cost(m, EMU_COPY_D2H_CALL_S);
    }
    return copy_task_now(m, dst, src, is_set, count, value, kind, stream, sync, fn);
}

cudaError_t cudaMemcpy(void *dst, const void *src, size_t count, enum cudaMemcpyKind kind)
{
    emu *m = emu_runtime();
    return m == NULL ? cudaErrorInvalidValue : copy_task(m, dst, src, 0, count, 0, kind, NULL, 1, "cudaMemcpy");
}

cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t count, enum cudaMemcpyKind kind, cudaStream_t stream)
{
    emu *m = emu_runtime();
    return m == NULL ? cudaErrorInvalidValue : copy_task(m, dst, src, 0, count, 0, kind, stream, 0, "cudaMemcpyAsync");
}

cudaError_t cudaMemset(void *devPtr, int value, size_t count)
{
    emu *m = emu_runtime();
    return m == NULL ? cudaErrorInvalidValue
                     : copy_task(m, devPtr, NULL, 1, count, value, cudaMemcpyDeviceToDevice, NULL, 1, "cudaMemset");
}

/* A copy between two devices' memory, each checked to be where the call
 * says (as global devices). */
static cudaError_t peer_copy(void *dst, int dstDevice, const void *src, int srcDevice, size_t count,
                             cudaStream_t stream, int sync, const char *fn)
{
    emu *m = emu_runtime();
    int dd, sd;
    if (m == NULL)
        return cudaErrorInvalidValue;
    if (count > 0 && dstDevice == srcDevice) /* measured within one device; between two, not (none) */
        emu_host_cost(m, EMU_COPY_PEER_SAME_CALL_S);
    if ((dd = peer_arg(m, dstDevice, fn)) < 0 || (sd = peer_arg(m, srcDevice, fn)) < 0)
        return cudaErrorInvalidDevice;
    if (count > 0 && (emu_device_range(m, dst, count) != dd || emu_device_range(m, src, count) != sd))
        return emu_cuda_fail(m, cudaErrorInvalidValue,
                             "%s(%zu bytes): the %s is not within one allocation of device %d", fn, count,
                             emu_device_range(m, dst, count) != dd ? "destination" : "source",
                             emu_device_range(m, dst, count) != dd ? dstDevice : srcDevice);
    if (sync) { /* serialized with all work of the current, source and destination devices: it starts
                 * when all three are idle, and the calling thread's later work waits for it */
        int me = emu_self_index(m);
        dev_arg3 all = {{{m, emu_thread_self(m)->current, 0, 0, me, 0}, {m, sd, 0, 0, me, 0}, {m, dd, 0, 0, me, 0}}};
        emu_wait_for(m, devices_idle, &all);
    }
    return copy_task_now(m, dst, src, 0, count, 0, cudaMemcpyDeviceToDevice, stream, sync, fn);
}

cudaError_t cudaMemcpyPeer(void *dst, int dstDevice, const void *src, int srcDevice, size_t count)
{
    return peer_copy(dst, dstDevice, src, srcDevice, count, NULL, 1, "cudaMemcpyPeer");
}

cudaError_t cudaMemcpyPeerAsync(void *dst, int dstDevice, const void *src, int srcDevice, size_t count,
                                cudaStream_t stream)
{
    return peer_copy(dst, dstDevice, src, srcDevice, count, stream, 0, "cudaMemcpyPeerAsync");
}

/* The synchronous copies of a program compiled for the per-thread default
 * stream: they go through the calling thread's cudaStreamPerThread. */
cudaError_t cudaMemcpy_ptds(void *dst, const void *src, size_t count, enum cudaMemcpyKind kind)
{
    emu *m = emu_runtime();
    return m == NULL ? cudaErrorInvalidValue
                     : copy_task(m, dst, src, 0, count, 0, kind, cudaStreamPerThread, 2, "cudaMemcpy");
}

cudaError_t cudaMemset_ptds(void *devPtr, int value, size_t count)
{
    emu *m = emu_runtime();
    return m == NULL ? cudaErrorInvalidValue
                     : copy_task(m, devPtr, NULL, 1, count, value, cudaMemcpyDeviceToDevice, cudaStreamPerThread, 2,
                                 "cudaMemset");
}

cudaError_t cudaMemsetAsync(void *devPtr, int value, size_t count, cudaStream_t stream)
{
    emu *m = emu_runtime();
    return m == NULL ? cudaErrorInvalidValue
                     : copy_task(m, devPtr, NULL, 1, count, value, cudaMemcpyDeviceToDevice, stream, 0, "cudaMemsetAsync");
}

/* --- Events ------------------------------------------------------------------ */

static struct CUevent_st *event_arg(emu *m, cudaEvent_t e, const char *fn)
{
    for (size_t i = 0; e != NULL && i < m->nevents; i++)
        if (m->events[i] == e && !e->destroyed)
            return e;
    emu_cuda_fail(m, cudaErrorInvalidResourceHandle, "%s: %p is not a live event", fn, (void *)e);
    return NULL;
}

cudaError_t cudaEventCreateWithFlags(cudaEvent_t *event, unsigned int flags)
{
    emu *m = emu_runtime();
    struct CUevent_st *e;
    if (m == NULL)
        return cudaErrorInvalidValue;
    (void)flags; /* blocking sync and timing flags change nothing here */
    if (event == NULL)
        return emu_cuda_fail(m, cudaErrorInvalidValue, "cudaEventCreate: event is NULL");
    if (emu_vec_grow((void **)&m->events, &m->capevents, m->nevents, sizeof(*m->events)) < 0 ||
        (e = calloc(1, sizeof(*e))) == NULL)
        return emu_cuda_fail(m, cudaErrorMemoryAllocation, "cudaEventCreate: out of host memory");
    e->device = emu_thread_self(m)->current;
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
    emu *m = emu_runtime();
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
    emu *m = emu_runtime();
    struct CUevent_st *e;
    emu_stream *s;
    emu_task *t;
    if (m == NULL)
        return cudaErrorInvalidResourceHandle;
    emu_host_cost(m, EMU_EVENT_RECORD_CALL_S); /* the record is queued as the call returns */
    if ((e = event_arg(m, event, "cudaEventRecord")) == NULL ||
        (s = emu_stream_arg(m, stream, emu_thread_self(m)->current, "cudaEventRecord")) == NULL)
        return cudaErrorInvalidResourceHandle;
    if (s->device != e->device)
        return emu_cuda_fail(m, cudaErrorInvalidResourceHandle,
                             "cudaEventRecord: the event belongs to device %d, the stream to device %d", e->device,
                             s->device);
    if ((t = emu_task_add(m, s, EMU_TASK_RECORD)) == NULL)
        return emu_cuda_fail(m, cudaErrorMemoryAllocation, "cudaEventRecord: out of host memory");
    e->record = t;
    emu_wake(m);
    return cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t event)
{
    emu *m = emu_runtime();
    struct CUevent_st *e;
    if (m == NULL)
        return cudaErrorInvalidResourceHandle;
    if ((e = event_arg(m, event, "cudaEventSynchronize")) == NULL)
        return cudaErrorInvalidResourceHandle;
    if (e->record != NULL)
        emu_wait_for(m, task_done, e->record);
    emu_host_cost(m, EMU_EVENT_SYNC_CALL_S); /* measured on a completed event: the return */
    return cudaSuccess;
}

cudaError_t cudaEventQuery(cudaEvent_t event)
{
    emu *m = emu_runtime();
    struct CUevent_st *e;
    if (m == NULL)
        return cudaErrorInvalidResourceHandle;
    if ((e = event_arg(m, event, "cudaEventQuery")) == NULL)
        return cudaErrorInvalidResourceHandle;
    emu_query(m, "cudaEventQuery", e->record == NULL || e->record->done ? EMU_QUERY_DONE : EMU_QUERY_WAITING,
              e->record != NULL && emu_stream_moving(e->record->stream),
              e->record == NULL || e->record->done ? EMU_EVENT_QUERY_DONE_S : EMU_EVENT_QUERY_BUSY_S);
    return e->record == NULL || e->record->done ? cudaSuccess : cudaErrorNotReady;
}

cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t start, cudaEvent_t end)
{
    emu *m = emu_runtime();
    struct CUevent_st *a, *b;
    if (m == NULL)
        return cudaErrorInvalidResourceHandle;
    if (ms == NULL)
        return emu_cuda_fail(m, cudaErrorInvalidValue, "cudaEventElapsedTime: ms is NULL");
    if ((a = event_arg(m, start, "cudaEventElapsedTime")) == NULL || (b = event_arg(m, end, "cudaEventElapsedTime")) == NULL)
        return cudaErrorInvalidResourceHandle;
    if (a->record == NULL || b->record == NULL)
        return emu_cuda_fail(m, cudaErrorInvalidResourceHandle, "cudaEventElapsedTime: an event was never recorded");
    if (!a->record->done || !b->record->done)
        return cudaErrorNotReady; /* not an error worth a message: CUDA returns it while work runs */
    *ms = (float)((b->record->start_s - a->record->start_s) * 1e3);
    return cudaSuccess;
}

cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned int flags)
{
    emu *m = emu_runtime();
    struct CUevent_st *e;
    emu_stream *s;
    emu_task *t;
    if (m == NULL)
        return cudaErrorInvalidResourceHandle;
    emu_host_cost(m, EMU_STREAM_WAIT_EVENT_CALL_S); /* the wait is queued as the call returns */
    (void)flags;
    if ((e = event_arg(m, event, "cudaStreamWaitEvent")) == NULL ||
        (s = emu_stream_arg(m, stream, emu_thread_self(m)->current, "cudaStreamWaitEvent")) == NULL)
        return cudaErrorInvalidResourceHandle;
    if ((t = emu_task_add(m, s, EMU_TASK_WAIT)) == NULL)
        return emu_cuda_fail(m, cudaErrorMemoryAllocation, "cudaStreamWaitEvent: out of host memory");
    t->impl = e->record; /* the record as of now, as CUDA captures it */
    emu_wake(m);
    return cudaSuccess;
}

/* --- The per-thread default stream ---------------------------------------- */

/* Compiled with CUDA_API_PER_THREAD_DEFAULT_STREAM, a program calls these
 * (cuda_runtime.h renames them, as CUDA's header does): the NULL stream is
 * the calling thread's own. */
static cudaStream_t ptsz(cudaStream_t s)
{
    return s == NULL ? cudaStreamPerThread : s;
}

cudaError_t cudaMemcpyAsync_ptsz(void *dst, const void *src, size_t count, enum cudaMemcpyKind kind,
                                 cudaStream_t stream)
{
    return cudaMemcpyAsync(dst, src, count, kind, ptsz(stream));
}

cudaError_t cudaMemsetAsync_ptsz(void *devPtr, int value, size_t count, cudaStream_t stream)
{
    return cudaMemsetAsync(devPtr, value, count, ptsz(stream));
}

cudaError_t cudaStreamSynchronize_ptsz(cudaStream_t stream)
{
    return cudaStreamSynchronize(ptsz(stream));
}

cudaError_t cudaStreamQuery_ptsz(cudaStream_t stream)
{
    return cudaStreamQuery(ptsz(stream));
}

cudaError_t cudaStreamWaitEvent_ptsz(cudaStream_t stream, cudaEvent_t event, unsigned int flags)
{
    return cudaStreamWaitEvent(ptsz(stream), event, flags);
}

cudaError_t cudaEventRecord_ptsz(cudaEvent_t event, cudaStream_t stream)
{
    return cudaEventRecord(event, ptsz(stream));
}

/* --- scalepath extensions ------------------------------------------------- */

double spEmuNow(void)
{
    emu *m = emu_runtime();
    if (m != NULL)
        emu_thread_self(m)->read_clock = 1;
    return m != NULL && m->svc.now != NULL ? m->svc.now(m->svc.ctx) : 0.0;
}

static cudaError_t sleep_task(emu *m, cudaStream_t stream, double seconds, const char *fn)
{
    emu_stream *s;
    emu_task *t;
    emu_host_cost(m, emu_launch_s(m)); /* the kernel is queued as the launch returns */
    if ((s = emu_stream_arg(m, stream, emu_thread_self(m)->current, fn)) == NULL)
        return cudaErrorInvalidResourceHandle;
    if ((t = emu_task_add(m, s, EMU_TASK_SLEEP)) == NULL)
        return emu_cuda_fail(m, cudaErrorMemoryAllocation, "%s: out of host memory", fn);
    t->duration_s = seconds;
    t->compute = 1;
    emu_wake(m);
    return cudaSuccess;
}

cudaError_t spEmuKernel(cudaStream_t stream, double seconds)
{
    emu *m = emu_runtime();
    if (m == NULL)
        return cudaErrorInvalidValue;
    if (!(seconds >= 0.0) || !isfinite(seconds))
        return emu_cuda_fail(m, cudaErrorInvalidValue, "spEmuKernel: %g seconds", seconds);
    return sleep_task(m, stream, seconds, "spEmuKernel");
}

cudaError_t spEmuGemm(cudaStream_t stream, long mm, long n, long k, const char *type)
{
    emu *m = emu_runtime();
    emu_stream *s;
    const plat_gpu *g;
    int prec = -1;
    if (m == NULL)
        return cudaErrorInvalidValue;
    for (int p = 0; p < PLAT_NPREC && type != NULL; p++)
        if (strcmp(type, plat_prec_name((plat_prec)p)) == 0)
            prec = p;
    if (prec < 0 || mm <= 0 || n <= 0 || k <= 0)
        return emu_cuda_fail(m, cudaErrorInvalidValue, "spEmuGemm(%ld, %ld, %ld, \"%s\"): %s", mm, n, k,
                             type != NULL ? type : "(null)", prec < 0 ? "unknown type" : "sizes must be positive");
    if ((s = emu_stream_arg(m, stream, emu_thread_self(m)->current, "spEmuGemm")) == NULL)
        return cudaErrorInvalidResourceHandle;
    g = &plat_type_of_rank(m->plat, s->device)->gpu;
    if (!(g->peak_flops[prec] > 0.0))
        return emu_cuda_fail(m, cudaErrorInvalidValue, "spEmuGemm: the %s has no %s peak in its platform file",
                             g->model, type);
    return sleep_task(m, s, train_gemm_time(g, (plat_prec)prec, (double)mm, (double)n, (double)k), "spEmuGemm");
}

cudaError_t spEmuKernel_ptsz(cudaStream_t stream, double seconds)
{
    return spEmuKernel(ptsz(stream), seconds);
}

cudaError_t spEmuGemm_ptsz(cudaStream_t stream, long mm, long n, long k, const char *type)
{
    return spEmuGemm(ptsz(stream), mm, n, k, type);
}
