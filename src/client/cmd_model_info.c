/* cmd_model_info.c - `mc2 model info MODEL` (a model's facts and feature importance) and
 * `mc2 model plot MODEL --out curve.png` (the training curve, drawn by gnuplot), both on a
 * model file written by `mc2 model get` (docs/gbdt.md, "Inspecting a model").
 *
 * Both read the model with mc2_gbdt_model_load (a model file is untrusted input). Feature
 * importance is mc2_gbdt_importance: xgboost's get_score definitions. The plot's data file
 * has one line per round, "ROUND V1 V2 ..." (a column per evaluation set and metric, NaN
 * where a value is undefined); gnuplot runs as a child process (execvp, no shell) on a script
 * in a private temporary directory, and nothing a user types reaches the script except the
 * output and data paths, which are refused if they hold a quote, backslash or control
 * character. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/file.h"
#include "cli.h"
#include "gbdt/gbdt.h"

#define MODEL_FILE_MAX (1ull << 31)

static const char INFO_HELP[] =
    "usage: mc2 model info MODEL [--importance TYPE]\n\n"
    "Prints the facts of a model file (written by `mc2 model get`): objective, trees, depth,\n"
    "base_score, the features (names and types, as the training tables' columns), the\n"
    "metrics recorded per round, and each feature's importance by weight, gain, cover,\n"
    "total_gain and total_cover - defined exactly as xgboost's\n"
    "Booster.get_score(importance_type=...) defines them:\n"
    "  weight       the number of splits on the feature\n"
    "  total_gain   the sum of those splits' gains (loss reduction)\n"
    "  gain         total_gain / weight\n"
    "  total_cover  the sum of those splits' covers (hessian sums of the rows they split)\n"
    "  cover        total_cover / weight\n"
    "--importance TYPE prints only \"NAME<TAB>VALUE\" lines for that type, for the features\n"
    "the model splits on (what get_score returns), highest first. Features of models without\n"
    "names are f0, f1, ... as in xgboost.\n";

static const char PLOT_HELP[] =
    "usage: mc2 model plot MODEL --out CURVE.png [--metric NAME] [--data FILE]\n\n"
    "Draws the model's training curve: each recorded metric per boosting round, for each\n"
    "evaluation set the model recorded (train jobs with an `eval` table record \"eval\"),\n"
    "with gnuplot (Debian: apt-get install gnuplot-nox) into a PNG.\n"
    "  --out FILE     the PNG to write\n"
    "  --metric NAME  only this metric (rmse, logloss, auc, merror)\n"
    "  --data FILE    also keep the data file given to gnuplot: one line per round,\n"
    "                 ROUND then a column per set and metric, in the order of the key\n";

static int load_model(const char *path, mc2_gbdt_model **m, mc2_err *err)
{
    mc2_buf b = {.secret = 1};
    int rc = mc2_file_read_all(path, MODEL_FILE_MAX, &b, err) ||
                     mc2_gbdt_model_load(b.data, b.len, m, err)
                 ? -1
                 : 0;
    if (rc) mc2_err_prefix(err, "%s: ", path);
    mc2_buf_free(&b);
    return rc;
}

/* Feature i's name: its column name, or xgboost's default f<i>. */
static const char *fname(const mc2_gbdt_model *m, uint32_t i, char *buf, size_t len)
{
    if (m->feature_names) return m->feature_names[i];
    snprintf(buf, len, "f%u", i);
    return buf;
}

static const enum mc2_gbdt_importance IMP_ALL[5] = {MC2_GBDT_IMP_WEIGHT, MC2_GBDT_IMP_GAIN,
                                                    MC2_GBDT_IMP_COVER, MC2_GBDT_IMP_TOTAL_GAIN,
                                                    MC2_GBDT_IMP_TOTAL_COVER};

static int imp_by_name(const char *s, enum mc2_gbdt_importance *t)
{
    for (int i = 0; i < 5; i++)
        if (strcmp(s, mc2_gbdt_importance_name(IMP_ALL[i])) == 0) {
            *t = IMP_ALL[i];
            return 0;
        }
    return -1;
}

typedef struct imp_row {
    uint32_t f;
    double v;
} imp_row;

static int imp_cmp(const void *a, const void *b)
{
    const imp_row *x = a, *y = b;
    if (x->v != y->v) return x->v > y->v ? -1 : 1;
    return x->f < y->f ? -1 : x->f > y->f;
}

/* --importance TYPE: the features split on, highest first. */
static int print_one_importance(const mc2_gbdt_model *m, enum mc2_gbdt_importance t, mc2_err *err)
{
    double *w = mc2_calloc(m->num_feature, sizeof *w), *v = mc2_calloc(m->num_feature, sizeof *v);
    imp_row *rows = mc2_calloc(m->num_feature, sizeof *rows);
    size_t n = 0;
    char buf[24];
    if (!w || !v || !rows) {
        mc2_free(w);
        mc2_free(v);
        mc2_free(rows);
        return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    }
    mc2_gbdt_importance(m, MC2_GBDT_IMP_WEIGHT, w);
    mc2_gbdt_importance(m, t, v);
    for (uint32_t f = 0; f < m->num_feature; f++)
        if (w[f] > 0) rows[n++] = (imp_row){f, v[f]};
    qsort(rows, n, sizeof *rows, imp_cmp);
    for (size_t i = 0; i < n; i++)
        printf("%s\t%.9g\n", fname(m, rows[i].f, buf, sizeof buf), rows[i].v);
    mc2_free(w);
    mc2_free(v);
    mc2_free(rows);
    return 0;
}

/* The "metrics" line(s): per set, the rounds and the last value of each metric. */
static void print_metrics(const mc2_gbdt_model *m)
{
    if (m->n_sets == 0) {
        printf("  metrics       none recorded%s\n",
               m->format_version == 1 ? " (format version 1 models keep none)"
                                      : " (train with an `eval` table to record them)");
        return;
    }
    for (uint32_t k = 0; k < m->n_sets; k++) {
        const mc2_gbdt_evalset *e = &m->sets[k];
        printf("  metrics       %s, %u rounds:", e->name, e->n_rounds);
        for (uint32_t q = 0; q < m->n_metrics; q++) {
            double last =
                e->n_rounds ? e->values[(size_t)(e->n_rounds - 1) * m->n_metrics + q] : NAN;
            printf("%s %s %.6g", q ? "," : "", mc2_gbdt_metric_name(m->metrics[q]), last);
        }
        printf(" (last round)\n");
    }
}

static int print_info(const char *path, const mc2_gbdt_model *m, mc2_err *err)
{
    uint32_t depth, ng = mc2_gbdt_model_ngroup(m);
    if (mc2_gbdt_model_depth(m, &depth, err)) return -1;
    printf("%s: mc2 GBDT model (format version %u)\n", path, m->format_version);
    printf("  objective     %s", mc2_gbdt_objective_name(m->objective));
    if (m->num_class) printf(" (num_class %u)", m->num_class);
    printf("\n  trees         %zu (%zu rounds x %u output%s)\n", m->n_trees, m->n_trees / ng, ng,
           ng == 1 ? "" : "s");
    printf("  max depth     %u\n  base_score    %.9g\n", depth, (double)m->base_score);
    printf("  features      %u%s\n", m->num_feature,
           m->feature_names ? "" : " (no names: the model predates format version 2)");
    print_metrics(m);
    double *v[5];
    int rc = 0;
    for (int t = 0; t < 5; t++) v[t] = mc2_calloc(m->num_feature, sizeof(double));
    if (!v[0] || !v[1] || !v[2] || !v[3] || !v[4]) {
        rc = mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        goto out;
    }
    for (int t = 0; t < 5; t++) mc2_gbdt_importance(m, IMP_ALL[t], v[t]);
    int wn = 7;
    char buf[24];
    for (uint32_t f = 0; f < m->num_feature; f++) {
        int l = (int)strlen(fname(m, f, buf, sizeof buf));
        if (l > wn) wn = l;
    }
    printf("\nfeature importance (as xgboost's get_score; '-': never split on)\n");
    printf("  %5s  %-*s  %-5s  %8s  %12s  %12s  %12s  %12s\n", "#", wn, "feature", "type", "weight",
           "gain", "cover", "total_gain", "total_cover");
    for (uint32_t f = 0; f < m->num_feature; f++) {
        const char *ty = m->feature_types
                             ? mc2_gbdt_ftype_name((enum mc2_gbdt_ftype)m->feature_types[f])
                             : "float";
        printf("  %5u  %-*s  %-5s", f, wn, fname(m, f, buf, sizeof buf), ty);
        if (v[0][f] == 0) {
            printf("  %8s  %12s  %12s  %12s  %12s\n", "-", "-", "-", "-", "-");
            continue;
        }
        printf("  %8.0f  %12.6g  %12.6g  %12.6g  %12.6g\n", v[0][f], v[1][f], v[2][f], v[3][f],
               v[4][f]);
    }
out:
    for (int t = 0; t < 5; t++) mc2_free(v[t]);
    return rc;
}

int cli_model_info(int argc, char **argv)
{
    const char *file = NULL, *imp = NULL;
    cli_opt opts[] = {CLI_VAL("importance", &imp), CLI_END};
    int code;
    if (cli_parse("model info", INFO_HELP, argc, argv, opts, &file, 1, &code)) return code;
    if (!file) return cli_usage("model info", "which model? `mc2 model info MODEL`");
    enum mc2_gbdt_importance t = MC2_GBDT_IMP_GAIN;
    if (imp && imp_by_name(imp, &t))
        return cli_usage("model info",
                         "--importance '%.40s': use weight, gain, cover, total_gain or "
                         "total_cover",
                         imp);
    mc2_err err;
    mc2_err_clear(&err);
    mc2_gbdt_model *m = NULL;
    int rc = CLI_OK;
    if (load_model(file, &m, &err) ||
        (imp ? print_one_importance(m, t, &err) : print_info(file, m, &err)))
        rc = cli_fail(&err);
    mc2_gbdt_model_free(m);
    return rc;
}

/* ---- plot ------------------------------------------------------------------------------------ */

/* A path that can be written inside a gnuplot double-quoted string as it is. */
static bool plot_path_ok(const char *s)
{
    for (; *s; s++)
        if (*s == '"' || *s == '\\' || *s == '\'' || (unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

/* Writes the data file: one line per round, a column per (set, metric q in qs). */
static int write_data(const mc2_gbdt_model *m, const uint32_t *qs, uint32_t nq, const char *path,
                      uint32_t *rounds, mc2_err *err)
{
    mc2_buf b = {0};
    uint32_t n = 0;
    for (uint32_t k = 0; k < m->n_sets; k++)
        if (m->sets[k].n_rounds > n) n = m->sets[k].n_rounds;
    int rc = 0;
    for (uint32_t r = 0; rc == 0 && r < n; r++) {
        rc = mc2_buf_printf(&b, err, "%u", r);
        for (uint32_t k = 0; rc == 0 && k < m->n_sets; k++)
            for (uint32_t i = 0; rc == 0 && i < nq; i++) {
                const mc2_gbdt_evalset *e = &m->sets[k];
                double v = r < e->n_rounds ? e->values[(size_t)r * m->n_metrics + qs[i]] : NAN;
                rc = isnan(v) ? mc2_buf_puts(&b, " NaN", err) : mc2_buf_printf(&b, err, " %.9g", v);
            }
        rc = rc || mc2_buf_puts(&b, "\n", err);
    }
    rc = rc || mc2_file_write_atomic(path, b.data, b.len, 0600, 0, err);
    mc2_buf_free(&b);
    *rounds = n;
    return rc ? -1 : 0;
}

/* Runs `gnuplot SCRIPT`; a clear error if it is not installed or fails. */
static int run_gnuplot(const char *script, mc2_err *err)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) return mc2_err_set(err, MC2_E_IO, "fork: %s", strerror(errno));
    if (pid == 0) {
        execlp("gnuplot", "gnuplot", script, (char *)NULL);
        _exit(errno == ENOENT ? 127 : 126);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return mc2_err_set(err, MC2_E_IO, "waitpid: %s", strerror(errno));
    if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
        return mc2_err_set(err, MC2_E_NOTFOUND,
                           "gnuplot is not installed (or not on PATH): `mc2 model plot` draws "
                           "with it (Debian: apt-get install gnuplot-nox); `mc2 model info` prints "
                           "the last values without it");
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return mc2_err_set(err, MC2_E_IO, "gnuplot failed (status %d): see its message above",
                           WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    return 0;
}

/* Which of the model's metrics to draw: all, or the one named. */
static int pick_metrics(const mc2_gbdt_model *m, const char *want, uint32_t *qs, uint32_t *nq)
{
    *nq = 0;
    for (uint32_t q = 0; q < m->n_metrics; q++)
        if (!want || strcmp(want, mc2_gbdt_metric_name(m->metrics[q])) == 0) qs[(*nq)++] = q;
    return *nq ? 0 : -1;
}

static int plot(const char *file, const mc2_gbdt_model *m, const char *metric, const char *out,
                const char *keep, mc2_err *err)
{
    uint32_t qs[MC2_GBDT_MAX_METRICS], nq, rounds;
    if (m->n_sets == 0 || m->n_metrics == 0)
        return mc2_err_set(err, MC2_E_INPUT,
                           "%s records no metrics to plot (a train job records them per round "
                           "when it has an `eval` table; models of format version 1 keep none)",
                           file);
    if (pick_metrics(m, metric, qs, &nq)) {
        char names[64] = "";
        for (uint32_t q = 0; q < m->n_metrics; q++)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", q ? ", " : "",
                     mc2_gbdt_metric_name(m->metrics[q]));
        return mc2_err_set(err, MC2_E_NOTFOUND, "%s records no metric '%.40s' (it records: %s)",
                           file, metric, names);
    }
    const char *tmp = getenv("TMPDIR");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/mc2-plot-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) return mc2_err_set(err, MC2_E_IO, "mkdtemp %s: %s", dir, strerror(errno));
    char *data = keep ? NULL : mc2_path_join(dir, "curve.dat");
    char *script = mc2_path_join(dir, "curve.gp");
    const char *dpath = keep ? keep : data;
    mc2_buf s = {0};
    int rc = -1;
    if (!script || !dpath) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        goto out;
    }
    if (!plot_path_ok(dpath)) {
        mc2_err_set(err, MC2_E_USAGE,
                    "the temporary directory '%s' has a quote or control "
                    "character: set TMPDIR to a plain path",
                    dir);
        goto out;
    }
    if (write_data(m, qs, nq, dpath, &rounds, err)) goto out;
    if (mc2_buf_printf(&s, err,
                       "set terminal png size 900,560\nset output \"%s\"\n"
                       "set datafile missing \"NaN\"\nset key outside right top\n"
                       "set xlabel \"boosting round\"\nset ylabel \"metric\"\n"
                       "set title \"training curve: %u rounds\"\nset grid\nplot ",
                       out, rounds))
        goto out;
    uint32_t col = 2;
    for (uint32_t k = 0; k < m->n_sets; k++)
        for (uint32_t i = 0; i < nq; i++, col++)
            if (mc2_buf_printf(&s, err, "%s\"%s\" using 1:%u with linespoints title \"%s %s\"",
                               col > 2 ? ", " : "", dpath, col, m->sets[k].name,
                               mc2_gbdt_metric_name(m->metrics[qs[i]])))
                goto out;
    if (mc2_buf_puts(&s, "\n", err) || mc2_file_write_atomic(script, s.data, s.len, 0600, 0, err) ||
        run_gnuplot(script, err))
        goto out;
    printf("plotted %u rounds of %u metric%s for %u evaluation set%s -> %s\n", rounds, nq,
           nq == 1 ? "" : "s", m->n_sets, m->n_sets == 1 ? "" : "s", out);
    if (keep) printf("data file (one line per round) -> %s\n", keep);
    rc = 0;
out:
    if (script) unlink(script);
    if (data) unlink(data);
    rmdir(dir);
    mc2_free(script);
    mc2_free(data);
    mc2_buf_free(&s);
    return rc;
}

int cli_model_plot(int argc, char **argv)
{
    const char *file = NULL, *out = NULL, *metric = NULL, *keep = NULL;
    cli_opt opts[] = {CLI_VAL("out", &out), CLI_VAL("metric", &metric), CLI_VAL("data", &keep),
                      CLI_END};
    int code;
    if (cli_parse("model plot", PLOT_HELP, argc, argv, opts, &file, 1, &code)) return code;
    if (!file || !out)
        return cli_usage("model plot", "a MODEL file and --out CURVE.png are required");
    if (!plot_path_ok(out) || (keep && !plot_path_ok(keep)))
        return cli_usage("model plot",
                         "--out and --data paths may not hold quotes, backslashes or control "
                         "characters (they are passed to gnuplot)");
    mc2_err err;
    mc2_err_clear(&err);
    mc2_gbdt_model *m = NULL;
    int rc = CLI_OK;
    if (load_model(file, &m, &err) || plot(file, m, metric, out, keep, &err)) rc = cli_fail(&err);
    mc2_gbdt_model_free(m);
    return rc;
}
