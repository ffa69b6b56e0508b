/* test_util.c - diag and str helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "util/diag.h"
#include "util/str.h"

static void test_diag__formats_location_and_level(void **state)
{
    diag_list *d;

    (void)state;
    assert_int_equal(diag_new(&d, 0), SP_OK);
    diag_error(d, (sp_loc){"a.cfg", 3}, "bad %s", "thing");
    diag_warning(d, (sp_loc){"b.et", 0}, "odd");
    diag_note(d, (sp_loc){0}, "fyi %d", 7);
    assert_int_equal(diag_error_count(d), 1);
    assert_int_equal(diag_count(d), 3);
    assert_string_equal(diag_text(d, 0), "a.cfg:3: error: bad thing");
    assert_string_equal(diag_text(d, 1), "b.et: warning: odd");
    assert_string_equal(diag_text(d, 2), "scalepath: note: fyi 7");
    assert_null(diag_text(d, 3));
    diag_free(d);
}

/* An input path: a file is fine; a missing one and a folder are said. */
static void test_diag__check_input(void **state)
{
    diag_list *d;

    (void)state;
    assert_int_equal(diag_new(&d, 0), SP_OK);
    assert_int_equal(diag_check_input(d, FIXTURES "/good-multi.cfg"), SP_OK);
    assert_int_equal(diag_check_input(d, FIXTURES "/no-such.cfg"), SP_EINPUT);
    assert_int_equal(diag_check_input(d, FIXTURES), SP_EINPUT);
    assert_int_equal(diag_error_count(d), 2);
    assert_non_null(strstr(diag_text(d, 0), "no-such.cfg: error: cannot read: No such file or directory"));
    assert_non_null(strstr(diag_text(d, 1), "fixtures: error: cannot read: a folder, not a file"));
    diag_free(d);
}

static void test_diag__limit_counts_dropped(void **state)
{
    diag_list *d;
    char buf[512] = "";
    FILE *fp = fmemopen(buf, sizeof(buf), "w");

    (void)state;
    assert_int_equal(diag_new(&d, 2), SP_OK);
    for (int i = 0; i < 5; i++)
        diag_error(d, (sp_loc){"x", (unsigned)i + 1}, "e%d", i);
    assert_int_equal(diag_error_count(d), 5);
    assert_int_equal(diag_count(d), 2);
    diag_print(d, fp);
    fclose(fp);
    assert_non_null(strstr(buf, "x:1: error: e0\nx:2: error: e1\n... and 3 more\n"));
    diag_free(d);
}

static void test_str__parse_size(void **state)
{
    uint64_t v;

    (void)state;
    assert_int_equal(str_parse_size(&v, "8"), SP_OK);
    assert_int_equal(v, 8);
    assert_int_equal(str_parse_size(&v, "64K"), SP_OK);
    assert_int_equal(v, 65536);
    assert_int_equal(str_parse_size(&v, "1M"), SP_OK);
    assert_int_equal(v, 1048576);
    assert_int_equal(str_parse_size(&v, "8G"), SP_OK);
    assert_int_equal(v, 8ull << 30);
    assert_int_equal(str_parse_size(&v, "2gb"), SP_OK);
    assert_int_equal(v, 2ull << 30);
    assert_int_equal(str_parse_size(&v, "-1"), SP_EINPUT);
    assert_int_equal(str_parse_size(&v, "1X"), SP_EINPUT);
    assert_int_equal(str_parse_size(&v, ""), SP_EINPUT);
    assert_int_equal(str_parse_size(&v, "99999999999999999999"), SP_EINPUT);
    assert_int_equal(str_parse_size(&v, "20000000000T"), SP_EINPUT);
}

static void test_str__distance(void **state)
{
    (void)state;
    assert_int_equal(str_distance("bandwith_GBps", "bandwidth_GBps"), 1);
    assert_int_equal(str_distance("abc", "abc"), 0);
    assert_int_equal(str_distance("", "abc"), 3);
    assert_int_equal(str_distance("GPU", "gpu"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_diag__formats_location_and_level),
        cmocka_unit_test(test_diag__limit_counts_dropped),
        cmocka_unit_test(test_diag__check_input),
        cmocka_unit_test(test_str__parse_size),
        cmocka_unit_test(test_str__distance),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
