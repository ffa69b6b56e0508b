/* out_timeline.c - Chrome-trace JSON writer (the "JSON Array/Object Format"
 * of the Trace Event Format that Perfetto and chrome://tracing read). */
#include "out/out_timeline.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/str.h"

/* A JSON string literal, escaped. */
static void put_str(FILE *fp, const char *s)
{
    fputc('"', fp);
    for (; s != NULL && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(fp, "\\%c", c);
        else if (c < 0x20)
            fprintf(fp, "\\u%04x", c);
        else
            fputc(c, fp);
    }
    fputc('"', fp);
}

int out_timeline_write(const char *path, const out_event *ev, size_t n, const char *const *pid_names,
                       int npid, const char *const *tid_names, int ntid, diag_list *diag)
{
    char *tmp = str_format("%s.partial", path);
    unsigned char *used = calloc((size_t)npid * (size_t)ntid + 1, 1); /* the rows with events */
    FILE *fp;
    int bad;

    if (tmp == NULL || used == NULL) {
        free(tmp);
        free(used);
        return SP_ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        if (ev[i].pid >= 0 && ev[i].pid < npid && ev[i].tid >= 0 && ev[i].tid < ntid)
            used[(size_t)ev[i].pid * (size_t)ntid + (size_t)ev[i].tid] = 1;
    if ((fp = fopen(tmp, "w")) == NULL) {
        diag_error(diag, (sp_loc){path, 0}, "cannot write the timeline: %s", strerror(errno));
        free(tmp);
        free(used);
        return SP_EIO;
    }
    fprintf(fp, "{\"displayTimeUnit\": \"ns\", \"otherData\": {\"generator\": \"scalepath\"},\n"
                "\"traceEvents\": [\n");
    for (int p = 0; p < npid; p++) {
        if (pid_names[p] == NULL)
            continue; /* no events (a rank a folded workload does not simulate) */
        fprintf(fp, "{\"ph\": \"M\", \"name\": \"process_name\", \"pid\": %d, \"args\": {\"name\": ", p);
        put_str(fp, pid_names[p]);
        fprintf(fp, "}},\n{\"ph\": \"M\", \"name\": \"process_sort_index\", \"pid\": %d, \"args\": "
                    "{\"sort_index\": %d}},\n", p, p);
        for (int t = 0; t < ntid; t++) {
            if (!used[(size_t)p * (size_t)ntid + (size_t)t])
                continue; /* no row without events */
            fprintf(fp, "{\"ph\": \"M\", \"name\": \"thread_name\", \"pid\": %d, \"tid\": %d, \"args\": "
                        "{\"name\": ", p, t);
            put_str(fp, tid_names[t]);
            fprintf(fp, "}},\n");
        }
    }
    for (size_t i = 0; i < n; i++) {
        const out_event *e = &ev[i];
        /* In whole nanoseconds, the duration as the rounded end less the
         * rounded start: slices back to back on a track stay back to back
         * (rounded apart, they could overlap by 1 ns, which trace viewers
         * draw as nesting). */
        long long ts = llround(e->start_s * 1e9), te = llround((e->start_s + e->dur_s) * 1e9);
        fprintf(fp, "{\"ph\": \"X\", \"pid\": %d, \"tid\": %d, \"ts\": %lld.%03lld, \"dur\": %lld.%03lld, \"name\": ",
                e->pid, e->tid, ts / 1000, ts % 1000, (te - ts) / 1000, (te - ts) % 1000);
        put_str(fp, e->name);
        fprintf(fp, ", \"cat\": ");
        put_str(fp, e->cat);
        fprintf(fp, ", \"args\": {");
        if (e->bytes > 0)
            fprintf(fp, "\"bytes\": %llu, ", (unsigned long long)e->bytes);
        if (e->algorithm != NULL && e->algorithm[0]) {
            fprintf(fp, "\"algorithm\": ");
            put_str(fp, e->algorithm);
            fprintf(fp, ", \"protocol\": ");
            put_str(fp, e->protocol);
            fprintf(fp, ", ");
        }
        if (e->channels > 0)
            fprintf(fp, "\"channels\": %d, ", e->channels);
        if (e->sms >= 0)
            fprintf(fp, "\"sms\": %d, ", e->sms);
        if (e->group != NULL && e->group[0]) {
            fprintf(fp, "\"group\": ");
            put_str(fp, e->group);
            fprintf(fp, ", ");
        }
        fprintf(fp, "\"duration_us\": %.3f}}%s\n", e->dur_s * 1e6, i + 1 < n ? "," : "");
    }
    fprintf(fp, "]}\n");
    free(used);
    bad = ferror(fp);
    if (fclose(fp) != 0 || bad || rename(tmp, path) != 0) {
        diag_error(diag, (sp_loc){path, 0}, "cannot write the timeline: %s", strerror(errno));
        unlink(tmp);
        free(tmp);
        return SP_EIO;
    }
    free(tmp);
    return SP_OK;
}
