/* unit_helpers.h - what several unit tests share: a fresh diag_list per
 * test (cmocka setup/teardown) and a search of its messages. Include after
 * <cmocka.h>. */
#ifndef SP_UNIT_HELPERS_H
#define SP_UNIT_HELPERS_H

#include <string.h>

#include "util/diag.h"

static inline int diag_setup(void **state)
{
    diag_list *d;
    if (diag_new(&d, 0) < 0)
        return -1;
    *state = d;
    return 0;
}

static inline int diag_teardown(void **state)
{
    diag_free(*state);
    return 0;
}

/* Whether any message contains needle. */
static inline int has_message(const diag_list *d, const char *needle)
{
    for (size_t i = 0; i < diag_count(d); i++)
        if (strstr(diag_text(d, i), needle) != NULL)
            return 1;
    return 0;
}

#endif
