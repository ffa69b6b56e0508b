/* fuzz_loaders.c - coverage-guided fuzz targets for scalepath's loaders.
 *
 * One source, one target per build: FUZZ_TARGET names the loader that
 * LLVMFuzzerTestOneInput feeds (the libFuzzer entry point):
 *
 *   plat    a platform file: plat_load, then two nodes expanded and their
 *           SimGrid XML written (to /dev/null)
 *   model   a model file: model_load, then the memory of one GPU training it
 *   study   a study file: study_load (its models and platforms the shipped
 *           ones, by the paths the test studies use), then its digest
 *   chakra  rank 0 of a Chakra execution trace (wl_load_chakra), then the
 *           pre-run check
 *   groups  the comm-groups JSON of a shipped 8-rank Chakra trace
 *   aicb    an AICB / ASTRA-sim 1.0 text workload (wl_load_aicb), then the
 *           pre-run check
 *
 * Each input goes to a file in a private temporary folder laid out so that
 * the relative paths of the seeds resolve (platforms' `@include
 * "include/gpus.cfg"`, studies' `../../../workloads/...`). Beyond the
 * sanitizers, the target checks the loaders' contract and aborts where it
 * does not hold: a load either succeeds with a result and no error, or
 * fails with SP_EINPUT (or SP_ENOMEM) and at least one error message, each
 * of which names its file ("PATH:LINE: error: ..." or "PATH: error: ...").
 *
 * SP_FUZZ_VERBOSE set in the environment prints what the loader said of
 * each input.
 *
 * Built with clang's -fsanitize=fuzzer when SP_FUZZ is on (CMake), and
 * otherwise with fuzz_main.c, which runs the target over the files named on
 * its command line: the seeds and the inputs kept in tests/fuzz/corpus/,
 * as ctest's fuzz.corpus.* tests do.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/model.h"
#include "plat/plat.h"
#include "study/study.h"
#include "util/diag.h"
#include "util/err.h"
#include "wl/wl.h"

#define FUZZ_PLAT 1
#define FUZZ_MODEL 2
#define FUZZ_STUDY 3
#define FUZZ_CHAKRA 4
#define FUZZ_GROUPS 5
#define FUZZ_AICB 6

#ifndef FUZZ_TARGET
#error "FUZZ_TARGET must name a target (FUZZ_PLAT, FUZZ_MODEL, ...)"
#endif
#ifndef SP_SOURCE_DIR
#error "SP_SOURCE_DIR must name the source tree"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char g_dir[4096];   /* the private folder */
static char g_input[4200]; /* where each input is written */

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_loaders: %s\n", what);
    abort();
}

static void join(char *out, size_t size, const char *a, const char *b)
{
    if ((size_t)snprintf(out, size, "%s/%s", a, b) >= size)
        fail("path too long");
}

static void link_to(const char *target, const char *name)
{
    char path[4200];

    join(path, sizeof path, g_dir, name);
    if (symlink(target, path) != 0 && errno != EEXIST)
        fail("cannot make a link in the temporary folder");
}

static void cleanup(void)
{
    static const char *const entries[] = {"a/b/c/in.cfg", "a/b/c",     "a/b/in.cfg", "a/b/include",
                                          "a/b/platforms", "a/b/workloads", "a/b",  "a",
                                          "platforms",    "workloads",  "in.txt",     "in.json",
                                          "t.0.et"};
    char path[4200];

    for (size_t i = 0; i < sizeof entries / sizeof entries[0]; i++) {
        join(path, sizeof path, g_dir, entries[i]);
        if (unlink(path) != 0)
            (void)rmdir(path);
    }
    (void)rmdir(g_dir);
}

/* The temporary folder, once, with links into the source tree: DIR/a/b
 * holds platform and model inputs, whose catalogue resolves as from
 * platforms/ ("include/gpus.cfg") and from tests/bad/ or tests/unit/fixtures/
 * ("../../platforms/include/gpus.cfg"); DIR/a/b/c holds study inputs, whose
 * models and platforms resolve as from tests/data/studies/ ("../../../") and
 * from studies/ ("../"). */
static void setup(void)
{
    const char *tmp = getenv("TMPDIR");
    char path[4200];

    if (g_dir[0] != '\0')
        return;
    if (tmp == NULL || tmp[0] == '\0')
        tmp = "/tmp";
    join(g_dir, sizeof g_dir, tmp, "sp-fuzz-XXXXXX");
    if (mkdtemp(g_dir) == NULL)
        fail("cannot make a temporary folder");
    atexit(cleanup);
    link_to(SP_SOURCE_DIR "/platforms", "platforms");
    link_to(SP_SOURCE_DIR "/workloads", "workloads");
    join(path, sizeof path, g_dir, "a");
    (void)mkdir(path, 0700);
    join(path, sizeof path, g_dir, "a/b");
    (void)mkdir(path, 0700);
    join(path, sizeof path, g_dir, "a/b/c");
    (void)mkdir(path, 0700);
    link_to(SP_SOURCE_DIR "/platforms/include", "a/b/include");
    link_to(SP_SOURCE_DIR "/platforms", "a/b/platforms");
    link_to(SP_SOURCE_DIR "/workloads", "a/b/workloads");
}

static const char *write_input(const char *name, const uint8_t *data, size_t size)
{
    FILE *fp;

    join(g_input, sizeof g_input, g_dir, name);
    fp = fopen(g_input, "wb");
    if (fp == NULL)
        fail("cannot write the input");
    if (size > 0 && fwrite(data, 1, size, fp) != size)
        fail("cannot write the input");
    if (fclose(fp) != 0)
        fail("cannot write the input");
    return g_input;
}

/* The loaders' contract (see the file's comment). */
static void check(int rc, const void *result, const diag_list *d)
{
    size_t errors = diag_error_count(d);

    if (rc == SP_OK) {
        if (result == NULL)
            fail("SP_OK without a result");
        if (errors != 0)
            fail("SP_OK with an error reported");
        return;
    }
    if (rc != SP_EINPUT && rc != SP_ENOMEM) {
        diag_print(d, stderr);
        fail("a load failed with neither SP_EINPUT nor SP_ENOMEM");
    }
    if (result != NULL)
        fail("a result from a failed load");
    if (rc == SP_EINPUT && errors == 0)
        fail("SP_EINPUT without an error message");
    for (size_t i = 0; i < diag_count(d); i++) {
        const char *t = diag_text(d, i);

        if (strncmp(t, "scalepath: error: ", 18) == 0) {
            fprintf(stderr, "%s\n", t);
            fail("an error message without the file it is about");
        }
    }
}

/* What is done with a loaded input succeeds, or fails with the problem
 * reported (SP_EINPUT and an error), or runs out of memory. */
static void check_use(int rc, const diag_list *d)
{
    if (rc == SP_OK || rc == SP_ENOMEM || (rc == SP_EINPUT && diag_error_count(d) > 0))
        return;
    diag_print(d, stderr);
    fail(rc == SP_EINPUT ? "a loaded input's use failed without an error message"
                         : "a loaded input's use failed with neither SP_EINPUT nor SP_ENOMEM");
}

#if FUZZ_TARGET == FUZZ_PLAT
static void run(const uint8_t *data, size_t size, diag_list *d)
{
    plat *p = NULL;
    int rc = plat_load(&p, write_input("a/b/in.cfg", data, size), d);

    check(rc, p, d);
    if (rc == SP_OK && (rc = plat_set_nodes(p, 2, d)) == SP_OK) {
        FILE *fp = fopen("/dev/null", "w");

        if (fp == NULL)
            fail("cannot open /dev/null");
        rc = plat_xml_write(p, fp);
        fclose(fp);
    }
    check_use(rc, d);
    plat_free(p);
}
#elif FUZZ_TARGET == FUZZ_MODEL
static void run(const uint8_t *data, size_t size, diag_list *d)
{
    model *m = NULL;
    int rc = model_load(&m, write_input("a/b/in.cfg", data, size), d);

    check(rc, m, d);
    if (rc == SP_OK) {
        model_layout l = {0};
        model_memory mem;

        l.tp = l.pp = l.dp = 1;
        l.micro_batch = 1;
        l.seq_len = 1024;
        l.microbatches = 1;
        l.recompute = MODEL_RECOMPUTE_NONE;
        l.flash_attention = true;
        l.tune = MODEL_TRAIN_FULL;
        l.adam = MODEL_ADAM_FP32;
        check_use(model_memory_per_gpu(&mem, m, &l, d), d);
    }
    model_free(m);
}
#elif FUZZ_TARGET == FUZZ_STUDY
static void run(const uint8_t *data, size_t size, diag_list *d)
{
    study *s = NULL;
    int rc = study_load(&s, write_input("a/b/c/in.cfg", data, size), d);

    check(rc, s, d);
    if (rc == SP_OK) {
        uint32_t crc;

        check_use(study_digest(s, &crc, d), d);
    }
    study_free(s);
}
#elif FUZZ_TARGET == FUZZ_CHAKRA || FUZZ_TARGET == FUZZ_GROUPS
static void run(const uint8_t *data, size_t size, diag_list *d)
{
    wl *w = NULL;
    wl_chakra_opts o = {8, NULL};
    const char *prefix;
    char path[4200];
    int rc;

#if FUZZ_TARGET == FUZZ_CHAKRA
    (void)write_input("t.0.et", data, size);
    join(path, sizeof path, g_dir, "t");
    prefix = path;
#else
    (void)path;
    o.comm_groups = write_input("in.json", data, size);
    prefix = SP_SOURCE_DIR "/tests/data/chakra/microbenchmarks/all_reduce/8npus_1MB/all_reduce";
#endif
    rc = wl_load_chakra(&w, prefix, &o, d);
    check(rc, w, d);
    if (rc == SP_OK)
        check_use(wl_check(w, 8, d), d);
    wl_free(w);
}
#elif FUZZ_TARGET == FUZZ_AICB
static void run(const uint8_t *data, size_t size, diag_list *d)
{
    wl *w = NULL;
    wl_aicb_opts o = {WL_TIME_NS, 0.0, 8};
    int rc = wl_load_aicb(&w, write_input("in.txt", data, size), &o, d);

    check(rc, w, d);
    if (rc == SP_OK)
        check_use(wl_check(w, 8, d), d);
    wl_free(w);
}
#else
#error "unknown FUZZ_TARGET"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    diag_list *d = NULL;

    setup();
    if (diag_new(&d, 64) != SP_OK)
        fail("out of memory");
    run(data, size, d);
    if (getenv("SP_FUZZ_VERBOSE") != NULL) { /* what the loader said, to read a kept input's effect */
        printf("--- %zu bytes: %zu errors\n", size, diag_error_count(d));
        diag_print(d, stdout);
    }
    diag_free(d);
    return 0;
}
