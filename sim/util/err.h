/* err.h - return codes shared by every module.
 *
 * A function that can fail returns int: SP_OK (0) or a negative SP_E* code.
 * The detail of an input problem travels in a diag_list (diag.h), never in
 * the return value.
 */
#ifndef SP_ERR_H
#define SP_ERR_H

enum {
    SP_OK = 0,
    SP_EINPUT = -1,     /* bad input; the diag_list says where and why */
    SP_EIO = -2,        /* a file could not be read or written */
    SP_ENOMEM = -3,     /* out of memory */
    SP_EDEADLOCK = -4,  /* the simulation ended with ranks still blocked */
    SP_EINTERNAL = -5,  /* a bug: an invariant did not hold */
    SP_EPROGRAM = -6,   /* an emulated program's main returned non-zero */
};

/* GCC warns when a SP_MUST_USE result is dropped; a (void) cast does not silence it. */
#define SP_MUST_USE __attribute__((warn_unused_result))
#define SP_PRINTF(f, a) __attribute__((format(printf, f, a)))

#endif
