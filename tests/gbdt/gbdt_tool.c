/* gbdt_tool.c - a test and benchmark driver for the GBDT engine: reads CSV (header row,
 * numeric fields, empty or NaN = missing) or .npy (float32, C order, 2-D) files, trains,
 * predicts, writes mc2 binary and XGBoost JSON models. Not part of the mc2 CLI.
 *
 *   gbdt_tool train --train F --label NAME|--label-col I [--eval F] [--set key=value]...
 *                   [--model OUT.bin] [--json OUT.json] [--pred-out P.f32] [--margin]
 *                   [--verbose] [--feature-names A,B,...]
 *   gbdt_tool predict --model M.bin --data F [--label NAME|--label-col I] --out P.f32 [--margin]
 *   gbdt_tool export --model M.bin --json OUT.json
 *
 * --feature-names gives the model its feature names (all float), as a train job does.
 * --pred-out writes the predictions of the --eval set (float32, n x ngroup, raw). Prints
 * "train_seconds=S train_cpu_seconds=C" (wall and process CPU time of mc2_gbdt_train, which
 * includes binning) and, with --eval, the final metrics "metric NAME=VALUE".
 * Exit codes: 0 ok, 1 failure, 2 usage. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/file.h"
#include "gbdt/gbdt.h"

#define MAX_INPUT ((size_t)8 << 30)

typedef struct table {
    float *x; /* n x d features */
    float *y; /* n labels (NULL if no label column) */
    size_t n, d;
} table;

static void table_free(table *t)
{
    mc2_free(t->x);
    mc2_free(t->y);
    memset(t, 0, sizeof *t);
}

static int usage(void)
{
    fprintf(stderr, "usage: gbdt_tool train --train F --label NAME|--label-col I [--eval F] "
                    "[--set key=value]... [--model M.bin] [--json M.json] [--pred-out P.f32] "
                    "[--margin] [--oblivious-predict] [--verbose] [--feature-names A,B,...]\n"
                    "       gbdt_tool predict --model M.bin --data F [--label NAME|--label-col I] "
                    "--out P.f32 [--margin] [--oblivious-predict]\n"
                    "       gbdt_tool export --model M.bin --json M.json\n");
    return 2;
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

/* ---- .npy -------------------------------------------------------------------------------- */

static int read_npy(const char *path, long label_col, table *t, mc2_err *err)
{
    mc2_buf b = {0};
    if (mc2_file_read_all(path, MAX_INPUT, &b, err) != 0) return -1;
    int rc = -1;
    if (b.len < 10 || memcmp(b.data, "\x93NUMPY", 6) != 0) {
        mc2_err_set(err, MC2_E_INPUT, "file '%s': not a .npy file", path);
        goto out;
    }
    size_t hl, hoff;
    if (b.data[6] == 1) {
        hl = (size_t)b.data[8] | (size_t)b.data[9] << 8;
        hoff = 10;
    } else {
        if (b.len < 12) goto bad;
        hl = (size_t)b.data[8] | (size_t)b.data[9] << 8 | (size_t)b.data[10] << 16 |
             (size_t)b.data[11] << 24;
        hoff = 12;
    }
    if (hl > b.len - hoff) goto bad;
    char hdr[1024];
    if (hl >= sizeof hdr) goto bad;
    memcpy(hdr, b.data + hoff, hl);
    hdr[hl] = 0;
    if (!strstr(hdr, "'descr': '<f4'") || !strstr(hdr, "'fortran_order': False")) {
        mc2_err_set(err, MC2_E_INPUT, "file '%s': .npy must be float32 in C order", path);
        goto out;
    }
    const char *sh = strstr(hdr, "'shape': (");
    unsigned long long n, c;
    if (!sh || sscanf(sh, "'shape': (%llu, %llu)", &n, &c) != 2) goto bad;
    size_t cells;
    if (__builtin_mul_overflow((size_t)n, (size_t)c, &cells) || cells > (b.len - hoff - hl) / 4)
        goto bad;
    if (label_col >= (long)c) {
        mc2_err_set(err, MC2_E_NOTFOUND, "file '%s': label column %ld not found (%llu columns)",
                    path, label_col, c);
        goto out;
    }
    const float *v = (const float *)(b.data + hoff + hl);
    t->n = n;
    t->d = label_col >= 0 ? c - 1 : c;
    t->x = mc2_malloc(t->n * t->d * sizeof(float) + 1);
    t->y = label_col >= 0 ? mc2_malloc(t->n * sizeof(float) + 1) : NULL;
    if (!t->x || (label_col >= 0 && !t->y)) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory reading '%s'", path);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        for (size_t j = 0; j < c; j++) {
            float f;
            memcpy(&f, (const uint8_t *)v + 4 * (i * c + j), 4);
            if ((long)j == label_col)
                t->y[i] = f;
            else
                t->x[i * t->d + k++] = f;
        }
    }
    rc = 0;
    goto out;
bad:
    mc2_err_set(err, MC2_E_INPUT, "file '%s': malformed .npy header", path);
out:
    mc2_buf_free(&b);
    if (rc) table_free(t);
    return rc;
}

/* ---- CSV --------------------------------------------------------------------------------- */

/* Splits the line [p, end) at commas into fields (no quoting needed for numeric data; quoted
 * header names are unquoted). Returns the number of fields, at most max. */
static size_t split_fields(char *p, char *end, char **f, size_t max)
{
    size_t k = 0;
    while (k < max) {
        char *q = p;
        while (q < end && *q != ',') q++;
        char *e = q;
        if (e > p && e[-1] == '\r') e--;
        if (e - p >= 2 && *p == '"' && e[-1] == '"') {
            p++;
            e--;
        }
        *e = 0;
        f[k++] = p;
        if (q >= end) break;
        p = q + 1;
    }
    return k;
}

static int read_csv(const char *path, const char *label, long label_col, table *t, mc2_err *err)
{
    mc2_buf b = {0};
    char **f = NULL;
    int rc = -1;
    if (mc2_file_read_all(path, MAX_INPUT, &b, err) != 0) return -1;
    if (mc2_buf_put_u8(&b, 0, err) != 0) goto out;
    char *p = (char *)b.data, *end = p + b.len - 1;
    char *nl = memchr(p, '\n', (size_t)(end - p));
    char *hend = nl ? nl : end;
    size_t ncol = 1;
    for (char *q = p; q < hend; q++) ncol += *q == ',';
    f = mc2_calloc(ncol + 1, sizeof *f);
    if (!f) goto nomem;
    size_t got = split_fields(p, hend, f, ncol);
    if (got != ncol || (ncol == 1 && f[0][0] == 0)) {
        mc2_err_set(err, MC2_E_INPUT, "file '%s': missing header row", path);
        goto out;
    }
    long lc = label_col;
    if (label) {
        lc = -1;
        for (size_t j = 0; j < ncol; j++)
            if (strcmp(f[j], label) == 0) lc = (long)j;
        if (lc < 0) {
            mc2_err_set(err, MC2_E_NOTFOUND,
                        "file '%s': label column '%s' not found in the header (%zu columns, "
                        "first '%s')",
                        path, label, ncol, f[0]);
            goto out;
        }
    } else if (lc >= (long)ncol) {
        mc2_err_set(err, MC2_E_NOTFOUND, "file '%s': label column %ld not found (%zu columns)",
                    path, lc, ncol);
        goto out;
    }
    /* column names are needed for messages; keep pointers into the header */
    char **names = mc2_calloc(ncol, sizeof *names);
    if (!names) goto nomem;
    for (size_t j = 0; j < ncol; j++) names[j] = f[j];
    size_t nrows = 0;
    for (char *q = hend; q < end; q++) nrows += *q == '\n';
    nrows += 1; /* upper bound (last line may lack a newline) */
    t->d = lc >= 0 ? ncol - 1 : ncol;
    t->x = mc2_malloc(nrows * t->d * sizeof(float) + 1);
    t->y = lc >= 0 ? mc2_malloc(nrows * sizeof(float) + 1) : NULL;
    if (!t->x || (lc >= 0 && !t->y)) {
        mc2_free(names);
        goto nomem;
    }
    char *line = nl ? nl + 1 : end;
    size_t lineno = 1;
    while (line < end) {
        lineno++;
        char *le = memchr(line, '\n', (size_t)(end - line));
        if (!le) le = end;
        if (le == line || (le == line + 1 && *line == '\r')) { /* blank line */
            line = le + 1;
            continue;
        }
        size_t k = split_fields(line, le, f, ncol + 1);
        if (k != ncol) {
            mc2_err_set(err, MC2_E_INPUT, "file '%s' line %zu: %zu fields, the header has %zu",
                        path, lineno, k, ncol);
            mc2_free(names);
            goto out;
        }
        size_t xi = 0;
        for (size_t j = 0; j < ncol; j++) {
            const char *s = f[j];
            float v;
            if (*s == 0 || strcasecmp(s, "nan") == 0) {
                v = NAN;
            } else {
                char *e;
                errno = 0;
                v = strtof(s, &e);
                if (*e || e == s || isinf(v)) {
                    mc2_err_set(err, MC2_E_INPUT,
                                "file '%s' line %zu column '%s': '%.40s' is not a number", path,
                                lineno, names[j], s);
                    mc2_free(names);
                    goto out;
                }
            }
            if ((long)j == lc)
                t->y[t->n] = v;
            else
                t->x[t->n * t->d + xi++] = v;
        }
        t->n++;
        line = le + 1;
    }
    mc2_free(names);
    rc = 0;
    goto out;
nomem:
    mc2_err_set(err, MC2_E_NOMEM, "out of memory reading '%s'", path);
out:
    mc2_free(f);
    mc2_buf_free(&b);
    if (rc) table_free(t);
    return rc;
}

static int read_table(const char *path, const char *label, long label_col, table *t, mc2_err *err)
{
    memset(t, 0, sizeof *t);
    if (ends_with(path, ".npy")) {
        if (label)
            return mc2_err_set(err, MC2_E_USAGE, "file '%s': use --label-col with .npy", path);
        return read_npy(path, label_col, t, err);
    }
    return read_csv(path, label, label_col, t, err);
}

/* ---- commands ---------------------------------------------------------------------------- */

static double now_clock(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct eval_state {
    int verbose;
    uint32_t n;
    double last[MC2_GBDT_MAX_METRICS];
    enum mc2_gbdt_metric metrics[MC2_GBDT_MAX_METRICS];
} eval_state;

static int on_eval(void *ctx, uint32_t round, const enum mc2_gbdt_metric *metrics,
                   const double *values, uint32_t n)
{
    eval_state *s = ctx;
    s->n = n;
    for (uint32_t i = 0; i < n; i++) {
        s->last[i] = values[i];
        s->metrics[i] = metrics[i];
        if (s->verbose)
            printf("[%u] eval-%s=%.6f\n", round, mc2_gbdt_metric_name(metrics[i]), values[i]);
    }
    return 0;
}

static int write_file(const char *path, const void *p, size_t n, mc2_err *err)
{
    return mc2_file_write_atomic(path, p, n, 0644, 0, err);
}

/* --oblivious-predict: write_preds uses mc2_gbdt_predict_oblivious (2 threads, as normal). */
static int obl_predict;

static int write_preds(const mc2_gbdt_model *m, const table *t, int margin, const char *path,
                       mc2_err *err)
{
    uint32_t K = mc2_gbdt_model_ngroup(m);
    float *out = mc2_malloc(t->n * K * sizeof(float) + 1);
    if (!out) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    double t0 = now_clock(CLOCK_MONOTONIC);
    int rc = obl_predict ? mc2_gbdt_predict_oblivious(m, t->x, t->n, t->d, margin, 2, out, err)
                         : mc2_gbdt_predict_mt(m, t->x, t->n, t->d, margin, 2, out, err);
    double dt = now_clock(CLOCK_MONOTONIC) - t0;
    if (rc == 0)
        printf("predict%s_seconds=%.4f rows=%zu rows_per_second=%.0f\n",
               obl_predict ? "_oblivious" : "", dt, t->n, dt > 0 ? (double)t->n / dt : 0.0);
    if (rc == 0) rc = write_file(path, out, t->n * K * sizeof(float), err);
    mc2_free(out);
    return rc;
}

/* --feature-names A,B,...: exactly num_feature comma-separated names. */
static int set_names(mc2_gbdt_model *m, const char *list, mc2_err *err)
{
    char *copy = strdup(list);
    const char **v = mc2_calloc(m->num_feature + 1, sizeof *v);
    uint32_t n = 0;
    int rc = -1;
    if (!copy || !v) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        goto out;
    }
    for (char *s = copy, *c; n <= m->num_feature; s = c + 1) {
        v[n++] = s;
        if (!(c = strchr(s, ','))) break;
        *c = '\0';
    }
    if (n != m->num_feature) {
        mc2_err_set(err, MC2_E_USAGE, "--feature-names: %u features need %u names", m->num_feature,
                    m->num_feature);
        goto out;
    }
    rc = mc2_gbdt_model_set_features(m, v, NULL, err);
out:
    free(copy);
    mc2_free(v);
    return rc;
}

static int cmd_train(int argc, char **argv, mc2_err *err)
{
    const char *trainf = NULL, *evalf = NULL, *label = NULL, *model = NULL, *json = NULL,
               *pred = NULL, *fnames = NULL;
    long label_col = -1;
    int margin = 0, verbose = 0;
    mc2_gbdt_params p;
    mc2_gbdt_params_default(&p);
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--margin"))
            margin = 1;
        else if (!strcmp(a, "--oblivious-predict"))
            obl_predict = 1;
        else if (!strcmp(a, "--verbose"))
            verbose = 1;
        else if (!v)
            return usage();
        else if (!strcmp(a, "--train"))
            trainf = v, i++;
        else if (!strcmp(a, "--eval"))
            evalf = v, i++;
        else if (!strcmp(a, "--label"))
            label = v, i++;
        else if (!strcmp(a, "--label-col"))
            label_col = atol(v), i++;
        else if (!strcmp(a, "--model"))
            model = v, i++;
        else if (!strcmp(a, "--json"))
            json = v, i++;
        else if (!strcmp(a, "--pred-out"))
            pred = v, i++;
        else if (!strcmp(a, "--feature-names"))
            fnames = v, i++;
        else if (!strcmp(a, "--set")) {
            char kv[256];
            snprintf(kv, sizeof kv, "%s", v);
            char *eq = strchr(kv, '=');
            if (!eq) return usage();
            *eq = 0;
            /* parameters are checked before any data is read */
            if (mc2_gbdt_params_set(&p, kv, eq + 1, err) != 0) return -1;
            i++;
        } else
            return usage();
    }
    if (!trainf || (!label && label_col < 0)) return usage();
    if (mc2_gbdt_params_check(&p, err) != 0) return -1;
    table tr, ev = {0};
    if (read_table(trainf, label, label_col, &tr, err) != 0) return -1;
    if (evalf && read_table(evalf, label, label_col, &ev, err) != 0) {
        table_free(&tr);
        return -1;
    }
    mc2_gbdt_data dtr = {tr.x, tr.y, NULL, tr.n, tr.d};
    mc2_gbdt_data dev = {ev.x, ev.y, NULL, ev.n, ev.d};
    eval_state es = {.verbose = verbose};
    mc2_gbdt_model *m = NULL;
    mc2_buf out = {0};
    int rc = -1;
    double t0 = now_clock(CLOCK_MONOTONIC), c0 = now_clock(CLOCK_PROCESS_CPUTIME_ID);
    if (mc2_gbdt_train(&p, &dtr, evalf ? &dev : NULL, on_eval, &es, &m, err) != 0) goto done;
    printf("train_seconds=%.3f train_cpu_seconds=%.3f\n", now_clock(CLOCK_MONOTONIC) - t0,
           now_clock(CLOCK_PROCESS_CPUTIME_ID) - c0);
    for (uint32_t i = 0; i < es.n; i++)
        printf("metric %s=%.6f\n", mc2_gbdt_metric_name(es.metrics[i]), es.last[i]);
    if (fnames && set_names(m, fnames, err) != 0) goto done;
    if (model) {
        if (mc2_gbdt_model_save(m, &out, err) != 0 || write_file(model, out.data, out.len, err))
            goto done;
        mc2_buf_reset(&out);
    }
    if (json) {
        if (mc2_gbdt_model_to_json(m, &out, err) != 0 || write_file(json, out.data, out.len, err))
            goto done;
    }
    if (pred && evalf && write_preds(m, &ev, margin, pred, err) != 0) goto done;
    rc = 0;
done:
    mc2_buf_free(&out);
    mc2_gbdt_model_free(m);
    table_free(&tr);
    table_free(&ev);
    return rc;
}

static int load_model(const char *path, mc2_gbdt_model **m, mc2_err *err)
{
    mc2_buf b = {0};
    if (mc2_file_read_all(path, (size_t)1 << 30, &b, err) != 0) return -1;
    int rc = mc2_gbdt_model_load(b.data, b.len, m, err);
    mc2_buf_free(&b);
    if (rc) mc2_err_prefix(err, "file '%s': ", path);
    return rc;
}

static int cmd_predict(int argc, char **argv, mc2_err *err)
{
    const char *model = NULL, *data = NULL, *label = NULL, *outp = NULL, *json = NULL;
    long label_col = -1;
    int margin = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--margin"))
            margin = 1;
        else if (!strcmp(a, "--oblivious-predict"))
            obl_predict = 1;
        else if (!v)
            return usage();
        else if (!strcmp(a, "--model"))
            model = v, i++;
        else if (!strcmp(a, "--data"))
            data = v, i++;
        else if (!strcmp(a, "--label"))
            label = v, i++;
        else if (!strcmp(a, "--label-col"))
            label_col = atol(v), i++;
        else if (!strcmp(a, "--out"))
            outp = v, i++;
        else if (!strcmp(a, "--json"))
            json = v, i++;
        else
            return usage();
    }
    mc2_gbdt_model *m = NULL;
    if (!model) return usage();
    if (load_model(model, &m, err) != 0) return -1;
    int rc = -1;
    if (json) {
        mc2_buf out = {0};
        rc = mc2_gbdt_model_to_json(m, &out, err);
        if (rc == 0) rc = write_file(json, out.data, out.len, err);
        mc2_buf_free(&out);
    } else if (data && outp) {
        table t;
        if (read_table(data, label, label_col, &t, err) == 0) {
            rc = write_preds(m, &t, margin, outp, err);
            table_free(&t);
        }
    } else {
        mc2_gbdt_model_free(m);
        return usage();
    }
    mc2_gbdt_model_free(m);
    return rc;
}

int main(int argc, char **argv)
{
    mc2_err err;
    mc2_err_clear(&err);
    if (argc < 2) return usage();
    int rc;
    if (!strcmp(argv[1], "train"))
        rc = cmd_train(argc, argv, &err);
    else if (!strcmp(argv[1], "predict") || !strcmp(argv[1], "export"))
        rc = cmd_predict(argc, argv, &err);
    else
        return usage();
    if (rc == 2) return 2;
    if (rc != 0) {
        fprintf(stderr, "gbdt_tool: %s\n", err.msg);
        return err.code == MC2_E_USAGE ? 2 : 1;
    }
    return 0;
}
