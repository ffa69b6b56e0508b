/* fuzz_main.c - runs a fuzz target (fuzz_loaders.c) without libFuzzer.
 *
 * Usage: fuzz_TARGET FILE_OR_FOLDER...
 * Each file, and each file directly inside a folder (in name order, so runs
 * are repeatable), is one input given to LLVMFuzzerTestOneInput. A target
 * that finds its contract broken aborts; the sanitizers report the rest.
 * Prints how many inputs ran; none, or a file it cannot read, fails.
 * This is how ctest replays the seeds and the inputs kept in
 * tests/fuzz/corpus/ in builds without clang's libFuzzer.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t g_runs; /* inputs run */

static int run_file(const char *path)
{
    FILE *fp = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0;

    if (fp == NULL) {
        fprintf(stderr, "%s: error: cannot read\n", path);
        return 1;
    }
    for (;;) {
        size_t got;

        if (n == cap) {
            uint8_t *more = realloc(buf, cap = cap ? 2 * cap : 65536);

            if (more == NULL) {
                fprintf(stderr, "%s: error: out of memory\n", path);
                free(buf);
                fclose(fp);
                return 1;
            }
            buf = more;
        }
        got = fread(buf + n, 1, cap - n, fp);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(fp)) {
        fprintf(stderr, "%s: error: cannot read\n", path);
        free(buf);
        fclose(fp);
        return 1;
    }
    fclose(fp);
    LLVMFuzzerTestOneInput(buf, n);
    g_runs++;
    free(buf);
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_folder(const char *dir)
{
    DIR *dp = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0;
    int oom = 0, bad = 0;

    if (dp == NULL) {
        fprintf(stderr, "%s: error: cannot read the folder\n", dir);
        return 1;
    }
    while ((e = readdir(dp)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            char **more = realloc(names, (cap = cap ? 2 * cap : 64) * sizeof *names);

            if (more == NULL) {
                oom = 1;
                break;
            }
            names = more;
        }
        if ((names[n] = malloc(strlen(dir) + strlen(e->d_name) + 2)) == NULL) {
            oom = 1;
            break;
        }
        sprintf(names[n++], "%s/%s", dir, e->d_name);
    }
    closedir(dp);
    if (n > 0)
        qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i < n; i++) {
        if (!oom)
            bad |= run_file(names[i]);
        free(names[i]);
    }
    free(names);
    if (oom)
        fprintf(stderr, "%s: error: out of memory\n", dir);
    return bad | oom;
}

int main(int argc, char **argv)
{
    int bad = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE_OR_FOLDER...\n", argv[0]);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        struct stat st;

        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "%s: error: cannot read\n", argv[i]);
            bad = 1;
        } else if (S_ISDIR(st.st_mode)) {
            bad |= run_folder(argv[i]);
        } else {
            bad |= run_file(argv[i]);
        }
    }
    printf("%zu inputs run\n", g_runs);
    if (g_runs == 0) {
        fprintf(stderr, "%s: error: no input to run\n", argv[0]);
        bad = 1;
    }
    return bad ? 1 : 0;
}
