/* tls.c - thread-local storage per emulated thread: `__thread` and
 * `_Thread_local` variables (a program that has them runs each thread on a
 * system thread of its own, --os-threads auto), and pthread_key_create's
 * values with their destructors (per emulated thread in any mode). Each
 * thread writes its own values, all meet at a barrier, then each reads them
 * back. With the argument "keys", only the keys are checked (for a run
 * with --os-threads off). Prints "PASSED: 0 failed check(s)". */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#define NTHREADS 4

static __thread int mine;
static _Thread_local char name[16];
static pthread_key_t key, key2, gone, lib_key;
static pthread_barrier_t barrier;
static int destroyed, again_ran, check_tls = 1;

static void destroy(void *v)
{
    destroyed++;
    free(v);
}

/* Sets its value again once: POSIX runs destructors in rounds while values remain. */
static void destroy_again(void *v)
{
    if ((long)(size_t)v == 1)
        pthread_setspecific(key2, (void *)2);
    else
        again_ran++;
}

/* A key made before main, as a library's constructor makes one: the C
 * library's own, which the emulated calls must tell from theirs. */
__attribute__((constructor)) static void make_lib_key(void)
{
    pthread_key_create(&lib_key, NULL);
}

/* A deep stack: 6 MiB of locals, as a process's main thread allows (8 MiB). */
static int deep(void)
{
    volatile char big[6 << 20];
    memset((char *)big, 1, sizeof(big));
    return big[sizeof(big) - 1] + mine;
}

static void *worker(void *arg)
{
    int id = (int)(long)arg, *v = malloc(sizeof(int));

    mine = id;
    snprintf(name, sizeof(name), "thread %d", id);
    *v = id;
    CHECK(pthread_getspecific(key) == NULL, "thread %d: a new thread's value is not NULL", id);
    pthread_setspecific(key, v);
    pthread_setspecific(key2, (void *)1);
    pthread_barrier_wait(&barrier); /* every thread has written its own */
    if (check_tls) {
        CHECK(mine == id, "thread %d: its __thread variable reads %d", id, mine);
        CHECK(strncmp(name, "thread ", 7) == 0 && atoi(name + 7) == id, "thread %d: its _Thread_local reads \"%s\"", id,
              name);
    }
    CHECK(pthread_getspecific(key) == v, "thread %d: pthread_getspecific gives another thread's value", id);
    pthread_barrier_wait(&barrier);
    return NULL;
}

int main(int argc, char **argv)
{
    pthread_t t[NTHREADS];
    int here = 0;

    if (argc > 1 && strcmp(argv[1], "keys") == 0)
        check_tls = 0;
    mine = -1;
    CHECK(deep() == 0, "the deep stack");
    CHECK(pthread_key_create(&key, destroy) == 0 && pthread_key_create(&key2, destroy_again) == 0,
          "pthread_key_create");
    pthread_setspecific(key, &here); /* main's own: no destructor runs for it */
    CHECK(pthread_setspecific(lib_key, &failures) == 0 && pthread_getspecific(lib_key) == &failures &&
              pthread_getspecific(key) == &here,
          "a key made in a constructor, beside the emulated ones");
    pthread_barrier_init(&barrier, NULL, NTHREADS);
    for (long i = 0; i < NTHREADS; i++)
        pthread_create(&t[i], NULL, worker, (void *)(i + 1));
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    CHECK(destroyed == NTHREADS, "%d destructor call(s), not %d", destroyed, NTHREADS);
    CHECK(again_ran == NTHREADS, "a value set by a destructor was destroyed %d time(s), not %d", again_ran,
          NTHREADS);
    CHECK(pthread_getspecific(key) == &here, "main's value changed");
    if (check_tls)
        CHECK(mine == -1, "main's __thread variable reads %d", mine);

    /* A deleted key: its values no longer count, even in a new key of the same number. */
    CHECK(pthread_key_create(&gone, NULL) == 0, "pthread_key_create");
    pthread_setspecific(gone, &here);
    CHECK(pthread_key_delete(gone) == 0, "pthread_key_delete");
    CHECK(pthread_setspecific(gone, &here) == EINVAL, "pthread_setspecific on a deleted key");
    CHECK(pthread_key_delete(gone) == EINVAL, "pthread_key_delete twice");
    CHECK(pthread_key_create(&gone, NULL) == 0 && pthread_getspecific(gone) == NULL,
          "a new key shows a deleted key's value");
    pthread_key_delete(gone);
    pthread_key_delete(key);
    pthread_key_delete(key2);
    pthread_barrier_destroy(&barrier);
    printf("%s: %d failed check(s)\n", failures ? "FAILED" : "PASSED", failures);
    return failures != 0;
}
