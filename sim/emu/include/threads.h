/* threads.h - C11 threads are not provided under `scalepath emulate`: the
 * C library would start real threads, which the simulation cannot run.
 * Use POSIX threads (pthread.h), which it provides (docs/emulation.md). */
#error "scalepath emulate: C11 <threads.h> is not provided; use <pthread.h> (docs/emulation.md)"
