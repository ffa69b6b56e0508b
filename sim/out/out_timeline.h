/* out_timeline.h - Chrome-trace / Perfetto JSON timelines (ui.perfetto.dev,
 * chrome://tracing): one process per rank, one thread per stream, one
 * complete event ("ph": "X") per operation, times in microseconds.
 *
 * Written to "<path>.partial" and renamed when complete, like the HDF5
 * output. Strings are borrowed for the call.
 */
#ifndef SP_OUT_TIMELINE_H
#define SP_OUT_TIMELINE_H

#include <stddef.h>
#include <stdint.h>

#include "util/diag.h"

typedef struct out_event {
    int pid, tid;          /* track: rank, stream */
    const char *name;      /* shown on the slice */
    const char *cat;       /* category: compute, collective, ... */
    double start_s, dur_s; /* simulated seconds */
    const char *algorithm; /* NULL or "" when none */
    const char *protocol;
    const char *group;
    uint64_t bytes;        /* 0 = none */
    int channels;          /* NCCL channels (CTAs) of a collective; 0 = none */
    int sms;               /* SMs a collective holds beside compute (its channels, what the
                              workload set, 0 on copy engines); < 0 = not given */
} out_event;

/**
 * @param pid_names  npid names ("rank 0", ...), NULL for a track without events;
 *                   tid_names likewise (all named; a track's row is named
 *                   where it has events)
 * @return SP_OK; SP_EIO (reported, nothing left on disk); SP_ENOMEM
 */
SP_MUST_USE int out_timeline_write(const char *path, const out_event *ev, size_t n,
                                   const char *const *pid_names, int npid,
                                   const char *const *tid_names, int ntid, diag_list *diag);

#endif
