/* gen.c - mc2_tpch_generate: cuts the tables into chunks of rows, generates the chunks on
 * worker threads and writes them in order from the calling thread, so the files are the
 * same whatever the number of threads. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/file.h"
#include "tpch/internal.h"

/* Rows per chunk (partsupp: parts, four rows each; orders: orders with their lines). */
#define CHUNK_ROWS   8192
#define CHUNK_ORDERS 4096
#define CHUNK_PARTS  2048

/* Average bytes per row, only for the progress estimate. */
static const unsigned AVG_ROW[MC2_TPCH_NTABLES] = {100, 110, 160, 180, 130, 145, 120, 130};

static const char *const NAMES[MC2_TPCH_NTABLES] = {"region", "nation",   "supplier", "customer",
                                                    "part",   "partsupp", "orders",   "lineitem"};

const char *mc2_tpch_table_name(enum mc2_tpch_table t)
{
    if ((unsigned)t >= MC2_TPCH_NTABLES) MC2_PANIC("mc2_tpch_table_name: no such table");
    return NAMES[t];
}

struct item {
    enum mc2_tpch_table t;
    uint64_t first, count;
};

struct slot {
    tpch_out out, lines;
    uint64_t nlines;
    int ready;
};

/* The work list: every table (partsupp by parts, orders with their lines) cut into
 * chunks of about equal size, in file order; item i is computed, not stored. */
struct plan {
    uint64_t rows[MC2_TPCH_ORDERS + 1];  /* rows (parts, orders) of each table */
    uint64_t chunk[MC2_TPCH_ORDERS + 1]; /* rows per chunk */
    uint64_t first[MC2_TPCH_ORDERS + 2]; /* index of each table's first item; [last] = total */
};

static void plan_init(struct plan *pl, const tpch_ctx *c)
{
    pl->first[0] = 0;
    for (int t = 0; t <= MC2_TPCH_ORDERS; t++) {
        uint64_t rows = t == MC2_TPCH_PARTSUPP ? c->n[MC2_TPCH_PART] : c->n[t];
        uint64_t chunk = t == MC2_TPCH_ORDERS     ? CHUNK_ORDERS
                         : t == MC2_TPCH_PARTSUPP ? CHUNK_PARTS
                                                  : CHUNK_ROWS;
        uint64_t n = (rows + chunk - 1) / chunk;
        pl->rows[t] = rows;
        pl->chunk[t] = (rows + n - 1) / n;
        pl->first[t + 1] = pl->first[t] + (rows + pl->chunk[t] - 1) / pl->chunk[t];
    }
}

static struct item plan_item(const struct plan *pl, uint64_t i)
{
    int t = 0;
    while (i >= pl->first[t + 1]) t++;
    struct item it;
    it.t = (enum mc2_tpch_table)t;
    it.first = (i - pl->first[t]) * pl->chunk[t];
    it.count = pl->rows[t] - it.first < pl->chunk[t] ? pl->rows[t] - it.first : pl->chunk[t];
    return it;
}

struct gen {
    /* read-only while workers run */
    const tpch_ctx *c;
    struct plan plan;
    uint64_t nitems, window;
    struct slot *slots; /* ring: item i in slots[i % window] */
    /* guarded by mu */
    pthread_mutex_t mu;
    pthread_cond_t cv_work; /* a slot was freed, or stop */
    pthread_cond_t cv_done; /* a slot is ready, or a worker failed */
    uint64_t next_claim, next_write;
    int stop, failed;
    mc2_err err;
};

static void *worker(void *arg)
{
    struct gen *g = arg;
    for (;;) {
        pthread_mutex_lock(&g->mu);
        while (!g->stop && g->next_claim < g->nitems && g->next_claim >= g->next_write + g->window)
            pthread_cond_wait(&g->cv_work, &g->mu);
        if (g->stop || g->next_claim >= g->nitems) {
            pthread_mutex_unlock(&g->mu);
            return NULL;
        }
        uint64_t i = g->next_claim++;
        pthread_mutex_unlock(&g->mu);

        struct item item = plan_item(&g->plan, i), *it = &item;
        struct slot *s = &g->slots[i % g->window];
        mc2_err err;
        mc2_err_clear(&err);
        s->out.len = s->lines.len = 0;
        s->nlines = 0;
        int rc = tpch_rows(g->c, it->t, it->first, it->count, &s->out, &s->lines, &s->nlines, &err);
        pthread_mutex_lock(&g->mu);
        if (rc) {
            if (!g->failed) g->err = err;
            g->failed = g->stop = 1;
            pthread_cond_broadcast(&g->cv_work);
        } else {
            s->ready = 1;
        }
        pthread_cond_broadcast(&g->cv_done);
        pthread_mutex_unlock(&g->mu);
    }
}

static unsigned pick_threads(unsigned asked)
{
    if (asked) return asked > 64 ? 64 : asked;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 64 ? 64 : (unsigned)n;
}

int mc2_tpch_generate(const char *dir, const mc2_tpch_opts *o, mc2_tpch_stats *st, mc2_err *err)
{
    if (!(o->sf >= MC2_TPCH_SF_MIN && o->sf <= MC2_TPCH_SF_MAX))
        return mc2_err_set(err, MC2_E_USAGE, "scale factor %g is outside %g .. %g", o->sf,
                           MC2_TPCH_SF_MIN, MC2_TPCH_SF_MAX);
    int rc = -1;
    unsigned nthreads = pick_threads(o->threads), started = 0;
    mc2_afile files[MC2_TPCH_NTABLES];
    int opened = 0;
    struct gen g;
    memset(&g, 0, sizeof g);
    pthread_t tids[64];
    mc2_tpch_stats local;
    if (!st) st = &local;
    memset(st, 0, sizeof *st);

    tpch_ctx *c = mc2_malloc(sizeof *c);
    if (!c) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    tpch_ctx_init(c, o->sf, o->seed);
    if (mc2_mkdir(dir, 0755, err)) goto out_ctx;
    for (; opened < MC2_TPCH_NTABLES; opened++) {
        char name[32];
        snprintf(name, sizeof name, "%s.tbl", NAMES[opened]);
        char *path = mc2_path_join(dir, name);
        if (!path) {
            mc2_err_set(err, MC2_E_NOMEM, "out of memory");
            goto out_files;
        }
        int frc = mc2_afile_open(&files[opened], path, 0644, !o->overwrite, err);
        mc2_free(path);
        if (frc) goto out_files;
    }
    if (tpch_pool_init(&c->pool, o->sf, o->seed, err)) goto out_files;
    plan_init(&g.plan, c);
    g.nitems = g.plan.first[MC2_TPCH_ORDERS + 1];

    uint64_t est = 0;
    for (int t = 0; t < MC2_TPCH_NTABLES; t++)
        est += (t == MC2_TPCH_LINEITEM ? 4 * c->n[MC2_TPCH_ORDERS] : c->n[t]) * AVG_ROW[t];

    g.c = c;
    g.window = 2 * (uint64_t)nthreads + 2;
    g.slots = mc2_calloc((size_t)g.window, sizeof *g.slots);
    if (!g.slots) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        goto out_files;
    }
    pthread_mutex_init(&g.mu, NULL);
    pthread_cond_init(&g.cv_work, NULL);
    pthread_cond_init(&g.cv_done, NULL);
    for (; started < nthreads; started++)
        if (pthread_create(&tids[started], NULL, worker, &g) != 0) break;
    if (started == 0) {
        mc2_err_set(err, MC2_E_IO, "cannot start a generator thread");
        goto out_threads;
    }

    uint64_t done = 0;
    for (uint64_t i = 0; i < g.nitems; i++) {
        struct slot *s = &g.slots[i % g.window];
        pthread_mutex_lock(&g.mu);
        while (!s->ready && !g.failed) pthread_cond_wait(&g.cv_done, &g.mu);
        int failed = g.failed;
        if (failed && err) *err = g.err;
        pthread_mutex_unlock(&g.mu);
        if (failed) goto out_threads;
        struct item item = plan_item(&g.plan, i), *it = &item;
        if (mc2_afile_write(&files[it->t], s->out.p, s->out.len, err)) goto out_threads;
        st->rows[it->t] += it->t == MC2_TPCH_PARTSUPP ? 4 * it->count : it->count;
        st->bytes[it->t] += s->out.len;
        done += s->out.len;
        if (it->t == MC2_TPCH_ORDERS) {
            if (mc2_afile_write(&files[MC2_TPCH_LINEITEM], s->lines.p, s->lines.len, err))
                goto out_threads;
            st->rows[MC2_TPCH_LINEITEM] += s->nlines;
            st->bytes[MC2_TPCH_LINEITEM] += s->lines.len;
            done += s->lines.len;
        }
        if (o->progress) o->progress(o->progress_ctx, done < est ? done : est, est);
        pthread_mutex_lock(&g.mu);
        s->ready = 0;
        g.next_write++;
        pthread_cond_broadcast(&g.cv_work);
        pthread_mutex_unlock(&g.mu);
    }
    rc = 0;

out_threads:
    pthread_mutex_lock(&g.mu);
    g.stop = 1;
    pthread_cond_broadcast(&g.cv_work);
    pthread_mutex_unlock(&g.mu);
    for (unsigned t = 0; t < started; t++) pthread_join(tids[t], NULL);
    pthread_cond_destroy(&g.cv_done);
    pthread_cond_destroy(&g.cv_work);
    pthread_mutex_destroy(&g.mu);
    for (uint64_t k = 0; k < g.window; k++) {
        mc2_free(g.slots[k].out.p);
        mc2_free(g.slots[k].lines.p);
    }
    mc2_free(g.slots);
    if (rc == 0 && o->progress) o->progress(o->progress_ctx, 1, 1);
out_files:
    /* Commit only when every file was written in full. If a commit fails, the files this
     * call already renamed into place are removed too: a mix of tables from two runs (or
     * an incomplete set) is worse than none. (This is the one place the function removes
     * files under their final names, and only ones it has just written or was told to
     * overwrite.) */
    for (int t = 0; t < opened; t++) {
        if (rc == 0 && mc2_afile_commit(&files[t], err)) {
            rc = -1;
            /* A commit can fail after its rename (syncing the directory): remove file t
             * too, unless it is someone else's (a no-clobber refusal). */
            int last = err->code == MC2_E_EXISTS ? t - 1 : t;
            for (int u = 0; u <= last; u++) {
                char name[32];
                snprintf(name, sizeof name, "%s.tbl", NAMES[u]);
                char *path = mc2_path_join(dir, name);
                if (path) unlink(path);
                mc2_free(path);
            }
        } else if (rc != 0) {
            mc2_afile_abort(&files[t]);
        }
    }
    tpch_pool_free(&c->pool);
out_ctx:
    mc2_free(c);
    return rc;
}
