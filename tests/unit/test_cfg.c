/* test_cfg.c - the libconfig layer: typed checks, located messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "unit_helpers.h"
#include <string.h>

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "cfg/cfg.h"


/* libconfig reads 450 as an int; a number key accepts it (and 1.5). */
static void test_cfg__numbers_accept_int_and_float(void **state)
{
    diag_list *d = *state;
    cfg_file f;
    const config_setting_t *g;
    static const cfg_key keys[] = {
        {"int_as_number", CFG_NUMBER, true, 0, 1000, false, "n"},
        {"float_number", CFG_NUMBER, true, 0, 10, true, "n"},
        {"text", CFG_STRING, true, 0, 0, false, "s"},
        {"flag", CFG_BOOL, true, 0, 0, false, "b"},
        {"negative", CFG_NUMBER, true, -10, 0, false, "n"},
        {"bandwidth_GBps", CFG_NUMBER, false, 0, 0, false, "n"},
        {"speed_Gbps", CFG_NUMBER, false, 0, 0, false, "n"},
        {"from_include", CFG_STRING, true, 0, 0, false, "s"},
        {NULL, 0, 0, 0, 0, 0, NULL},
    };

    assert_int_equal(cfg_open(&f, FIXTURES "/cfg-values.cfg", d), SP_OK);
    g = config_lookup(&f.cfg, "g");
    assert_non_null(g);
    /* The two misnamed keys are the only problems. */
    assert_int_equal(cfg_check(&f, g, keys, "g"), SP_EINPUT);
    assert_int_equal(diag_error_count(d), 2);
    assert_true(has_message(d, "cfg-values.cfg:8: error: g: unknown key \"bandwith_GBps\" (did you "
                               "mean \"bandwidth_GBps\"?)"));
    assert_true(has_message(d, "cfg-values.cfg:9: error: g: unknown unit \"Mbps\" in \"speed_Mbps\""));
    assert_true(cfg_number(g, "int_as_number", 0) == 450.0);
    assert_true(cfg_number(g, "float_number", 0) == 1.5);
    assert_string_equal(cfg_string(g, "text", NULL), "fast");
    assert_true(cfg_bool(g, "flag", false));
    /* Absent or mistyped members give the default, never a crash. */
    assert_true(cfg_number(g, "absent", 7.0) == 7.0);
    assert_true(cfg_number(g, "text", 7.0) == 7.0);
    assert_null(cfg_string(g, "int_as_number", NULL));
    cfg_close(&f);
}

static void test_cfg__types_ranges_missing(void **state)
{
    diag_list *d = *state;
    cfg_file f;
    const config_setting_t *g;
    static const cfg_key keys[] = {
        {"int_as_number", CFG_NUMBER, true, 0, 100, false, "n"},
        {"float_number", CFG_INT, true, 0, 0, false, "i"},
        {"text", CFG_NUMBER, true, 0, 0, false, "n"},
        {"flag", CFG_BOOL, true, 0, 0, false, "b"},
        {"negative", CFG_NUMBER, true, 0, 10, true, "n"},
        {"bandwith_GBps", CFG_NUMBER, true, 0, 0, false, "n"},
        {"speed_Mbps", CFG_NUMBER, true, 0, 0, false, "n"},
        {"from_include", CFG_STRING, true, 0, 0, false, "s"},
        {"required_absent", CFG_STRING, true, 0, 0, false, "must be here"},
        {NULL, 0, 0, 0, 0, 0, NULL},
    };

    assert_int_equal(cfg_open(&f, FIXTURES "/cfg-values.cfg", d), SP_OK);
    g = config_lookup(&f.cfg, "g");
    assert_int_equal(cfg_check(&f, g, keys, "g"), SP_EINPUT);
    assert_true(has_message(d, "cfg-values.cfg:3: error: g: \"int_as_number\" must be >= 0 and <= 100, got 450"));
    assert_true(has_message(d, "cfg-values.cfg:4: error: g: \"float_number\" must be an integer, got a number"));
    assert_true(has_message(d, "cfg-values.cfg:5: error: g: \"text\" must be a number, got a string"));
    assert_true(has_message(d, "cfg-values.cfg:7: error: g: \"negative\" must be > 0 and <= 10, got -3"));
    assert_true(has_message(d, "error: g: missing key \"required_absent\" (must be here)"));
    assert_int_equal(diag_error_count(d), 5);
    cfg_close(&f);
}

/* Errors inside an @included file name that file (measured in STYLE.md),
 * by its path from the working folder, as the including file is named
 * (libconfig gives it relative to the including file's folder). */
static void test_cfg__include_location(void **state)
{
    diag_list *d = *state;
    cfg_file f;
    const config_setting_t *g, *s;
    FILE *fp;

    assert_int_equal(cfg_open(&f, FIXTURES "/cfg-values.cfg", d), SP_OK);
    g = config_lookup(&f.cfg, "g");
    s = config_setting_get_member(g, "from_include");
    assert_non_null(s);
    assert_string_equal(cfg_loc(&f, s).file, FIXTURES "/cfg-included.cfg");
    assert_int_equal(cfg_loc(&f, s).line, 2);
    fp = fopen(cfg_loc(&f, s).file, "r"); /* the name opens the file */
    assert_non_null(fp);
    fclose(fp);
    /* The including file's own settings keep its name. */
    s = config_lookup(&f.cfg, "g");
    assert_string_equal(cfg_loc(&f, s).file, FIXTURES "/cfg-values.cfg");
    cfg_close(&f);
}

static void test_cfg__unreadable_file(void **state)
{
    diag_list *d = *state;
    cfg_file f;

    assert_int_equal(cfg_open(&f, FIXTURES "/no-such.cfg", d), SP_EINPUT);
    assert_true(has_message(d, "no-such.cfg: error: cannot read: No such file or directory"));
}

static uint32_t crc_of(const char *path, uint32_t crc)
{
    char buf[65536];
    FILE *fp = fopen(path, "rb");
    size_t n;

    assert_non_null(fp);
    n = fread(buf, 1, sizeof(buf), fp);
    fclose(fp);
    return (uint32_t)crc32(crc, (const Bytef *)buf, (uInt)n);
}

static void put(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

/* The digest covers the file and what it @includes, and changes with either. */
static void test_cfg__digest_follows_includes(void **state)
{
    diag_list *d = *state;
    char dir[] = "/tmp/test_cfg.XXXXXX", top[64], sub[64];
    uint32_t a = 0, b = 0, c = 0;

    /* cfg-values.cfg includes cfg-included.cfg: both bytes, in that order. */
    assert_int_equal(cfg_digest(FIXTURES "/cfg-values.cfg", &a, d), SP_OK);
    assert_int_equal(a, crc_of(FIXTURES "/cfg-included.cfg", crc_of(FIXTURES "/cfg-values.cfg", 0)));

    assert_non_null(mkdtemp(dir));
    snprintf(top, sizeof(top), "%s/top.cfg", dir);
    snprintf(sub, sizeof(sub), "%s/sub.cfg", dir);
    put(top, "a = 1;\n  @include \"sub.cfg\"\n# @include \"not-an-include.cfg\"\n/* a comment\n"
             "@include \"commented-out.cfg\"\n*/ s = \"/* not a comment\";\nt = \"a string\n/* over two lines\";\n"
             "@include \"sub.cfg\"\n");
    put(sub, "b = 2.0;\n");
    a = 0;
    assert_int_equal(cfg_digest(top, &a, d), SP_OK);
    assert_int_equal(cfg_digest(top, &b, d), SP_OK);
    assert_int_equal(a, b); /* the same inputs, the same digest */
    /* top, then sub twice: not the one inside the block comment, nor a slash-star inside a string
     * (one of them running over two lines) */
    assert_int_equal(a, crc_of(sub, crc_of(sub, crc_of(top, 0))));
    put(sub, "b = 2.5;\n");
    assert_int_equal(cfg_digest(top, &c, d), SP_OK);
    assert_true(c != a);
    assert_int_equal(diag_error_count(d), 0);
    remove(sub);
    c = 0;
    assert_int_equal(cfg_digest(top, &c, d), SP_EINPUT);
    /* said at each @include of it, by the including file's line */
    assert_true(has_message(d, "top.cfg:2: error: cannot open include file \"sub.cfg\": No such file or directory"));
    assert_true(has_message(d, "top.cfg:9: error: cannot open include file \"sub.cfg\""));
    remove(top);
    rmdir(dir);
}

/* What libconfig would read is checked before it reads: a file that
 * includes itself four times is one error, said at once (not 4^10 walks);
 * a name that starts with '/' is opened from the file's folder, as
 * libconfig 1.5 joins it; "@include" must have blanks before its name;
 * a folder is refused. */
static void test_cfg__includes_checked_first(void **state)
{
    diag_list *d = *state;
    char dir[] = "/tmp/test_cfg.XXXXXX", top[64], sub[80], inc[64];
    cfg_file f;

    assert_non_null(mkdtemp(dir));
    snprintf(top, sizeof(top), "%s/self.cfg", dir);
    put(top, "@include \"self.cfg\"\n@include \"self.cfg\"\n@include \"self.cfg\"\n@include \"self.cfg\"\n");
    assert_int_equal(cfg_open(&f, top, d), SP_EINPUT);
    assert_int_equal(diag_error_count(d), 1);
    assert_true(has_message(d, "self.cfg:1: error: @include nested more than 10 deep"));
    remove(top);

    snprintf(inc, sizeof(inc), "%s/abs", dir);
    assert_int_equal(mkdir(inc, 0700), 0);
    snprintf(sub, sizeof(sub), "%s/abs/x.cfg", dir);
    put(sub, "x = 3;\n");
    snprintf(top, sizeof(top), "%s/top.cfg", dir);
    put(top, "@include \"/abs/x.cfg\"\ny = 1;\n"); /* libconfig opens DIR//abs/x.cfg */
    assert_int_equal(cfg_open(&f, top, d), SP_OK);
    cfg_close(&f);
    put(top, "@include \"abs\"\n");
    assert_int_equal(cfg_open(&f, top, d), SP_EINPUT);
    assert_true(has_message(d, "top.cfg:1: error: cannot open include file \"abs\": not a regular file"));
    put(top, "@include\"abs/x.cfg\"\n"); /* not an include to libconfig: its syntax error */
    assert_int_equal(cfg_open(&f, top, d), SP_EINPUT);
    assert_true(has_message(d, "top.cfg:1: error: syntax error"));
    assert_int_equal(cfg_open(&f, dir, d), SP_EINPUT);
    assert_true(has_message(d, "error: cannot read: a folder, not a file"));
    remove(top);
    remove(sub);
    rmdir(inc);
    rmdir(dir);
}

/* CFG_INTS: an integer or an array of them, each in range; cfg_ints reads both. */
static void test_cfg__ints_scalar_or_array(void **state)
{
    diag_list *d = *state;
    char dir[] = "/tmp/test_cfg.XXXXXX", path[64];
    static const cfg_key keys[] = {
        {"one", CFG_INTS, false, 1, 8, false, "n"},   {"many", CFG_INTS, false, 1, 8, false, "n"},
        {"big", CFG_INTS, false, 1, 8, false, "n"},   {"floats", CFG_INTS, false, 1, 8, false, "n"},
        {"none", CFG_INTS, false, 1, 8, false, "n"},  {"word", CFG_INTS, false, 1, 8, false, "n"},
        {NULL, 0, 0, 0, 0, 0, NULL},
    };
    long long v[4] = {0};
    cfg_file f;
    const config_setting_t *g;

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/ints.cfg", dir);
    put(path, "g = {\n one = 4;\n many = [1, 2, 8];\n big = [2, 9];\n floats = [1.0];\n none = [];\n"
              " word = \"x\";\n};\n");
    assert_int_equal(cfg_open(&f, path, d), SP_OK);
    g = config_lookup(&f.cfg, "g");
    assert_int_equal(cfg_check(&f, g, keys, "g"), SP_EINPUT);
    assert_true(has_message(d, "ints.cfg:4: error: g: \"big\"[1] must be >= 1 and <= 8, got 9"));
    assert_true(has_message(d, "ints.cfg:5: error: g: \"floats\"[0] must be an integer (no decimal point), got 1"));
    assert_true(has_message(d, "ints.cfg:6: error: g: \"none\" must not be empty"));
    assert_true(has_message(d, "ints.cfg:7: error: g: \"word\" must be an integer or an array [ ] of integers"));
    assert_int_equal(diag_error_count(d), 4);
    assert_int_equal(cfg_ints(g, "one", v, 4), 1);
    assert_int_equal(v[0], 4);
    assert_int_equal(cfg_ints(g, "many", v, 4), 3);
    assert_true(v[0] == 1 && v[1] == 2 && v[2] == 8);
    assert_int_equal(cfg_ints(g, "many", v, 1), 3); /* the count, though only max are read */
    assert_int_equal(cfg_ints(g, "absent", v, 4), 0);
    assert_int_equal(cfg_ints(g, "word", v, 4), 0);
    cfg_close(&f);
    remove(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cfg__numbers_accept_int_and_float, diag_setup, diag_teardown),
        cmocka_unit_test_setup_teardown(test_cfg__types_ranges_missing, diag_setup, diag_teardown),
        cmocka_unit_test_setup_teardown(test_cfg__include_location, diag_setup, diag_teardown),
        cmocka_unit_test_setup_teardown(test_cfg__unreadable_file, diag_setup, diag_teardown),
        cmocka_unit_test_setup_teardown(test_cfg__digest_follows_includes, diag_setup, diag_teardown),
        cmocka_unit_test_setup_teardown(test_cfg__includes_checked_first, diag_setup, diag_teardown),
        cmocka_unit_test_setup_teardown(test_cfg__ints_scalar_or_array, diag_setup, diag_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
