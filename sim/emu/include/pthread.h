/* pthread.h - POSIX threads for programs under `scalepath emulate`: the
 * system's header, with the calls that start, join and synchronize
 * threads renamed to the emulator's (emu_thread.c). Each thread runs as
 * one more actor of its process, with its own current device, last CUDA
 * error and NCCL group, as CUDA and NCCL keep them per host thread; a
 * thread that waits for a mutex, a condition variable, a barrier or
 * another thread lets the others run. Thread-specific data
 * (pthread_key_create) is kept per emulated thread, destructors included.
 * Compiled against the real headers,
 * the same program uses real threads. Calls the emulator does not provide
 * are compile errors rather than silent differences.
 */
#ifndef SP_EMU_PTHREAD_H
#define SP_EMU_PTHREAD_H

#include_next <pthread.h>

#ifdef __cplusplus
extern "C" {
#endif

int spEmuThreadCreate(pthread_t *thread, const pthread_attr_t *attr, void *(*start)(void *), void *arg);
int spEmuThreadJoin(pthread_t thread, void **retval);
int spEmuThreadDetach(pthread_t thread);
pthread_t spEmuThreadSelf(void);
int spEmuMutexInit(pthread_mutex_t *mutex, const pthread_mutexattr_t *attr);
int spEmuMutexDestroy(pthread_mutex_t *mutex);
int spEmuMutexLock(pthread_mutex_t *mutex);
int spEmuMutexTrylock(pthread_mutex_t *mutex);
int spEmuMutexUnlock(pthread_mutex_t *mutex);
int spEmuCondInit(pthread_cond_t *cond, const pthread_condattr_t *attr);
int spEmuCondDestroy(pthread_cond_t *cond);
int spEmuCondWait(pthread_cond_t *cond, pthread_mutex_t *mutex);
int spEmuCondSignal(pthread_cond_t *cond);
int spEmuCondBroadcast(pthread_cond_t *cond);
int spEmuBarrierInit(pthread_barrier_t *barrier, const pthread_barrierattr_t *attr, unsigned count);
int spEmuBarrierDestroy(pthread_barrier_t *barrier);
int spEmuBarrierWait(pthread_barrier_t *barrier);
int spEmuOnce(pthread_once_t *once, void (*init)(void));
int spEmuKeyCreate(pthread_key_t *key, void (*destructor)(void *));
int spEmuKeyDelete(pthread_key_t key);
void *spEmuGetspecific(pthread_key_t key);
int spEmuSetspecific(pthread_key_t key, const void *value);

#ifdef __cplusplus
}
#endif

#ifndef SP_EMU_NO_RENAME /* emu_thread.c calls the real ones */
#define pthread_create spEmuThreadCreate
#define pthread_join spEmuThreadJoin
#define pthread_detach spEmuThreadDetach
#define pthread_self spEmuThreadSelf
#define pthread_mutex_init spEmuMutexInit
#define pthread_mutex_destroy spEmuMutexDestroy
#define pthread_mutex_lock spEmuMutexLock
#define pthread_mutex_trylock spEmuMutexTrylock
#define pthread_mutex_unlock spEmuMutexUnlock
#define pthread_cond_init spEmuCondInit
#define pthread_cond_destroy spEmuCondDestroy
#define pthread_cond_wait spEmuCondWait
#define pthread_cond_signal spEmuCondSignal
#define pthread_cond_broadcast spEmuCondBroadcast
#define pthread_barrier_init spEmuBarrierInit
#define pthread_barrier_destroy spEmuBarrierDestroy
#define pthread_barrier_wait spEmuBarrierWait
#define pthread_once spEmuOnce
#define pthread_key_create spEmuKeyCreate
#define pthread_key_delete spEmuKeyDelete
#define pthread_getspecific spEmuGetspecific
#define pthread_setspecific spEmuSetspecific

/* Not provided (docs/emulation.md): timed waits and polling locks would
 * spin at one simulated instant; ending or signalling a thread from
 * outside its start function is not modelled; a thread's pthread_t here is
 * the emulator's, which the C library's calls on a pthread_t cannot take.
 * Return from the start function instead of calling pthread_exit. */
#define pthread_exit(...) _Pragma("GCC error \"pthread_exit is not provided by scalepath emulate: return from the start function instead (docs/emulation.md)\"")
#define pthread_cancel(...) _Pragma("GCC error \"pthread_cancel is not provided by scalepath emulate (docs/emulation.md)\"")
#define pthread_kill(...) _Pragma("GCC error \"pthread_kill is not provided by scalepath emulate (docs/emulation.md)\"")
#define pthread_cond_timedwait(...) _Pragma("GCC error \"pthread_cond_timedwait is not provided by scalepath emulate (docs/emulation.md)\"")
#define pthread_mutex_timedlock(...) _Pragma("GCC error \"pthread_mutex_timedlock is not provided by scalepath emulate (docs/emulation.md)\"")
#define pthread_spin_lock(...) _Pragma("GCC error \"pthread_spin_lock is not provided by scalepath emulate: use a mutex (docs/emulation.md)\"")
#define pthread_spin_trylock(...) _Pragma("GCC error \"pthread_spin_trylock is not provided by scalepath emulate: use a mutex (docs/emulation.md)\"")
#define pthread_rwlock_rdlock(...) _Pragma("GCC error \"pthread_rwlock_rdlock is not provided by scalepath emulate: use a mutex (docs/emulation.md)\"")
#define pthread_rwlock_wrlock(...) _Pragma("GCC error \"pthread_rwlock_wrlock is not provided by scalepath emulate: use a mutex (docs/emulation.md)\"")
#define pthread_rwlock_tryrdlock(...) _Pragma("GCC error \"pthread_rwlock_tryrdlock is not provided by scalepath emulate: use a mutex (docs/emulation.md)\"")
#define pthread_rwlock_trywrlock(...) _Pragma("GCC error \"pthread_rwlock_trywrlock is not provided by scalepath emulate: use a mutex (docs/emulation.md)\"")
#define pthread_cond_clockwait(...) _Pragma("GCC error \"pthread_cond_clockwait is not provided by scalepath emulate (docs/emulation.md)\"")
#define pthread_mutex_clocklock(...) _Pragma("GCC error \"pthread_mutex_clocklock is not provided by scalepath emulate (docs/emulation.md)\"")
#define pthread_rwlock_timedrdlock(...) _Pragma("GCC error \"pthread_rwlock_timedrdlock is not provided by scalepath emulate: use a mutex (docs/emulation.md)\"")
#define pthread_rwlock_timedwrlock(...) _Pragma("GCC error \"pthread_rwlock_timedwrlock is not provided by scalepath emulate: use a mutex (docs/emulation.md)\"")
#define pthread_rwlock_clockrdlock(...) _Pragma("GCC error \"pthread_rwlock_clockrdlock is not provided by scalepath emulate: use a mutex (docs/emulation.md)\"")
#define pthread_rwlock_clockwrlock(...) _Pragma("GCC error \"pthread_rwlock_clockwrlock is not provided by scalepath emulate: use a mutex (docs/emulation.md)\"")
#define pthread_tryjoin_np(...) _Pragma("GCC error \"pthread_tryjoin_np is not provided by scalepath emulate: use pthread_join (docs/emulation.md)\"")
#define pthread_timedjoin_np(...) _Pragma("GCC error \"pthread_timedjoin_np is not provided by scalepath emulate: use pthread_join (docs/emulation.md)\"")
#define pthread_clockjoin_np(...) _Pragma("GCC error \"pthread_clockjoin_np is not provided by scalepath emulate: use pthread_join (docs/emulation.md)\"")
#define pthread_getattr_np(...) _Pragma("GCC error \"pthread_getattr_np is not provided by scalepath emulate (docs/emulation.md)\"")
#define pthread_setschedparam(...) _Pragma("GCC error \"pthread_setschedparam is not provided by scalepath emulate (docs/emulation.md)\"")
#define pthread_getschedparam(...) _Pragma("GCC error \"pthread_getschedparam is not provided by scalepath emulate (docs/emulation.md)\"")
#define pthread_setschedprio(...) _Pragma("GCC error \"pthread_setschedprio is not provided by scalepath emulate (docs/emulation.md)\"")
#define pthread_setname_np(...) _Pragma("GCC error \"pthread_setname_np is not provided by scalepath emulate (docs/emulation.md)\"")
#define pthread_getname_np(...) _Pragma("GCC error \"pthread_getname_np is not provided by scalepath emulate (docs/emulation.md)\"")
#define pthread_setaffinity_np(...) _Pragma("GCC error \"pthread_setaffinity_np is not provided by scalepath emulate (docs/emulation.md)\"")
#define pthread_getaffinity_np(...) _Pragma("GCC error \"pthread_getaffinity_np is not provided by scalepath emulate (docs/emulation.md)\"")
#define pthread_sigqueue(...) _Pragma("GCC error \"pthread_sigqueue is not provided by scalepath emulate (docs/emulation.md)\"")
#define pthread_getcpuclockid(...) _Pragma("GCC error \"pthread_getcpuclockid is not provided by scalepath emulate (docs/emulation.md)\"")
#endif

#endif
