/* semaphore.h - POSIX unnamed semaphores for programs under `scalepath
 * emulate`: the system's header, with sem_init, sem_wait and the rest
 * renamed to the emulator's (emu_thread.c), so that a thread waiting on
 * one lets the others run. Named semaphores and timed waits are compile
 * errors rather than silent differences (docs/emulation.md).
 */
#ifndef SP_EMU_SEMAPHORE_H
#define SP_EMU_SEMAPHORE_H

#include_next <semaphore.h>

#ifdef __cplusplus
extern "C" {
#endif

int spEmuSemInit(sem_t *sem, int pshared, unsigned value);
int spEmuSemDestroy(sem_t *sem);
int spEmuSemWait(sem_t *sem);
int spEmuSemTrywait(sem_t *sem);
int spEmuSemPost(sem_t *sem);
int spEmuSemGetvalue(sem_t *sem, int *value);

#ifdef __cplusplus
}
#endif

#ifndef SP_EMU_NO_RENAME /* emu_thread.c calls the real ones */
#define sem_init spEmuSemInit
#define sem_destroy spEmuSemDestroy
#define sem_wait spEmuSemWait
#define sem_trywait spEmuSemTrywait
#define sem_post spEmuSemPost
#define sem_getvalue spEmuSemGetvalue
#define sem_timedwait(...) _Pragma("GCC error \"sem_timedwait is not provided by scalepath emulate (docs/emulation.md)\"")
#define sem_clockwait(...) _Pragma("GCC error \"sem_clockwait is not provided by scalepath emulate (docs/emulation.md)\"")
#define sem_open(...) _Pragma("GCC error \"sem_open is not provided by scalepath emulate: named semaphores would block the one real thread (docs/emulation.md)\"")
#endif

#endif
