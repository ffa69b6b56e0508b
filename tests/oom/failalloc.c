/* failalloc.c - allocation-failure injection for the OOM tests (LD_PRELOAD).
 *
 * Counts the malloc, calloc and realloc calls made from the main program's
 * own code (its executable segments: scalepath's sources, not libc's,
 * libconfig's, HDF5's or SimGrid's allocations) and makes the one numbered
 * SP_FAIL_ALLOC (1-based) return NULL, once; 0 or unset fails none. At exit
 * it writes "COUNT INJECTED" to the file SP_FAIL_ALLOC_LOG names, when set:
 * how many allocations were counted and whether one failed. With
 * SP_FAIL_ALLOC_TRACE set, the failing call's stack goes to stderr.
 *
 * Only the process started counts: a child it forks (study runs each rung
 * in one) fails nothing, and programs it executes do not inherit it.
 *
 * Only for the plain build: ASan and valgrind replace malloc themselves. */
#define _GNU_SOURCE
#include <execinfo.h>
#include <link.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

void *__libc_malloc(size_t size);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t size);

#define MAX_SEGS 8

static uintptr_t seg_lo[MAX_SEGS], seg_hi[MAX_SEGS];
static int nsegs;
static unsigned long counted, fail_at;
static int injected;
static int forked; /* a child the process started forked (study's): it counts nothing */

static int main_segments(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    (void)data;
    for (int i = 0; i < info->dlpi_phnum && nsegs < MAX_SEGS; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
            seg_lo[nsegs] = info->dlpi_addr + ph->p_vaddr;
            seg_hi[nsegs] = seg_lo[nsegs] + ph->p_memsz;
            nsegs++;
        }
    }
    return 1; /* the first object listed is the main program */
}

static void in_child(void)
{
    forked = 1;
}

__attribute__((constructor)) static void failalloc_init(void)
{
    const char *s = getenv("SP_FAIL_ALLOC");
    fail_at = s != NULL ? strtoul(s, NULL, 10) : 0;
    pthread_atfork(NULL, NULL, in_child);
    dl_iterate_phdr(main_segments, NULL);
    /* Not into the programs it runs (a compiler for `emulate PROGRAM.c`). */
    unsetenv("LD_PRELOAD");
}

__attribute__((destructor)) static void failalloc_report(void)
{
    const char *path = getenv("SP_FAIL_ALLOC_LOG");
    FILE *fp;

    if (!forked && path != NULL && (fp = fopen(path, "w")) != NULL) {
        fprintf(fp, "%lu %d\n", counted, injected);
        fclose(fp);
    }
}

/* 1: this call, from the program's own code, is the one to fail. */
static int fail_now(const void *caller)
{
    uintptr_t a = (uintptr_t)caller;

    if (forked)
        return 0;
    for (int i = 0; i < nsegs; i++)
        if (a >= seg_lo[i] && a < seg_hi[i]) {
            if (++counted == fail_at) {
                injected = 1;
                if (getenv("SP_FAIL_ALLOC_TRACE") != NULL) { /* where, to debug by hand */
                    void *frames[16];
                    backtrace_symbols_fd(frames, backtrace(frames, 16), 2);
                }
                return 1;
            }
            return 0;
        }
    return 0;
}

void *malloc(size_t size)
{
    return fail_now(__builtin_return_address(0)) ? NULL : __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
    return fail_now(__builtin_return_address(0)) ? NULL : __libc_calloc(n, size);
}

void *realloc(void *p, size_t size)
{
    return fail_now(__builtin_return_address(0)) ? NULL : __libc_realloc(p, size);
}
