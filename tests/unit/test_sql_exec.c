/* test_sql_exec.c - the vectorized executor (src/sql/plan.h) against SQLite as an oracle:
 * hand-built physical plans over small tables with NULLs, duplicates, an empty table and
 * skewed keys, each run with a large memory budget and again with a tiny one (spilling, small
 * chunks), compared with the equivalent SQL run by SQLite on the same data. DECIMALs are
 * stored in SQLite as scaled integers, DATEs as day numbers, BOOLs as 0/1. */
#include <math.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "mc2/table.h"
#include "sql/plan.h"
#include "base/buf.h"
#include "table/tmem.h"
#include "table/treader.h"
#include "table/value.h"
#include "test.h"

/* ---- data -------------------------------------------------------------------------------- */

#define NT 3000
#define NU 400

static uint64_t rng = 88172645463325252ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static const char *words[] = {"alpha",      "Beta_x", "gam%ma",   "delta 1", " pad ", "",
                              "\xc3\xbcml", "zeta",   "alphabet", "beta",    "a_b",   "Alpha"};
#define NWORDS (sizeof words / sizeof *words)

static mc2_column_def t_cols[] = {
    {"id", {MC2_T_INT64, 0, 0, 0}, false},  {"g", {MC2_T_INT64, 0, 0, 0}, true},
    {"d", {MC2_T_DECIMAL, 12, 2, 0}, true}, {"f", {MC2_T_DOUBLE, 0, 0, 0}, true},
    {"s", {MC2_T_VARCHAR, 0, 0, 20}, true}, {"dt", {MC2_T_DATE, 0, 0, 0}, true},
    {"b", {MC2_T_BOOL, 0, 0, 0}, true}};
static mc2_schema t_schema = {.name = "t", .ncols = 7, .cols = t_cols};
static mc2_column_def u_cols[] = {{"k", {MC2_T_INT64, 0, 0, 0}, true},
                                  {"v", {MC2_T_DECIMAL, 10, 3, 0}, false},
                                  {"name", {MC2_T_VARCHAR, 0, 0, 10}, true}};
static mc2_schema u_schema = {.name = "u", .ncols = 3, .cols = u_cols};

static mc2_batch *tb[3], *ub[1];
static mc2_exec_input inputs[3]; /* t, u, e */
static sqlite3 *db;

static void put_str(mc2_batch *b, size_t c, size_t r, const char *s, int isnull)
{
    size_t n = isnull ? 0 : strlen(s);
    if (mc2_batch_reserve_chars(b, c, n, NULL)) abort();
    mc2_col *col = &b->cols[c];
    if (n) memcpy(col->data + col->off[r], s, n);
    col->off[r + 1] = col->off[r] + (uint32_t)n;
    if (col->nulls) col->nulls[r] = (uint8_t)isnull;
}

static void make_data(void)
{
    sqlite3_exec(db,
                 "PRAGMA case_sensitive_like = ON;"
                 "CREATE TABLE t(id INTEGER, g INTEGER, d INTEGER, f REAL, s TEXT, dt INTEGER, "
                 "b INTEGER);"
                 "CREATE TABLE u(k INTEGER, v INTEGER, name TEXT);"
                 "CREATE TABLE e(k INTEGER, v INTEGER, name TEXT);",
                 NULL, NULL, NULL);
    sqlite3_stmt *ins;
    sqlite3_prepare_v2(db, "INSERT INTO t VALUES(?,?,?,?,?,?,?)", -1, &ins, NULL);
    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    size_t per = 1000;
    for (size_t bi = 0; bi < 3; bi++) {
        tb[bi] = mc2_batch_new(&t_schema, per, NULL);
        mc2_batch *b = tb[bi];
        for (size_t r = 0; r < per; r++) {
            int64_t id = (int64_t)(bi * per + r);
            int gn = rnd() % 20 == 0, dn = rnd() % 20 == 0, fn = rnd() % 20 == 0,
                sn = rnd() % 20 == 0, dtn = rnd() % 20 == 0, bn = rnd() % 20 == 0;
            int64_t g = rnd() % 2 ? 0 : (int64_t)(rnd() % 50);
            int64_t d = (int64_t)(rnd() % 200001) - 100000;
            double f = (double)(int64_t)(rnd() % 2000001 - 1000000) / 1024.0;
            const char *s = words[rnd() % NWORDS];
            int32_t dt = 9000 + (int32_t)(rnd() % 2000);
            uint8_t bo = rnd() % 2;
            b->cols[0].v.i64[r] = id;
            b->cols[1].v.i64[r] = gn ? 0 : g;
            b->cols[1].nulls[r] = (uint8_t)gn;
            b->cols[2].v.i64[r] = dn ? 0 : d;
            b->cols[2].nulls[r] = (uint8_t)dn;
            b->cols[3].v.f64[r] = fn ? 0 : f;
            b->cols[3].nulls[r] = (uint8_t)fn;
            put_str(b, 4, r, s, sn);
            b->cols[5].v.i32[r] = dtn ? 0 : dt;
            b->cols[5].nulls[r] = (uint8_t)dtn;
            b->cols[6].v.b[r] = bn ? 0 : bo;
            b->cols[6].nulls[r] = (uint8_t)bn;
            sqlite3_bind_int64(ins, 1, id);
            gn ? sqlite3_bind_null(ins, 2) : sqlite3_bind_int64(ins, 2, g);
            dn ? sqlite3_bind_null(ins, 3) : sqlite3_bind_int64(ins, 3, d);
            fn ? sqlite3_bind_null(ins, 4) : sqlite3_bind_double(ins, 4, f);
            sn ? sqlite3_bind_null(ins, 5) : sqlite3_bind_text(ins, 5, s, -1, SQLITE_STATIC);
            dtn ? sqlite3_bind_null(ins, 6) : sqlite3_bind_int64(ins, 6, dt);
            bn ? sqlite3_bind_null(ins, 7) : sqlite3_bind_int64(ins, 7, bo);
            sqlite3_step(ins);
            sqlite3_reset(ins);
        }
        b->nrows = per;
    }
    sqlite3_finalize(ins);
    sqlite3_prepare_v2(db, "INSERT INTO u VALUES(?,?,?)", -1, &ins, NULL);
    ub[0] = mc2_batch_new(&u_schema, NU, NULL);
    mc2_batch *b = ub[0];
    for (size_t r = 0; r < NU; r++) {
        int kn = rnd() % 20 == 0, nn = rnd() % 10 == 0;
        int64_t k = (int64_t)(rnd() % 60);
        int64_t v = (int64_t)(rnd() % 2000001) - 1000000;
        const char *s = words[rnd() % NWORDS];
        if (strlen(s) > 10) s = "long";
        b->cols[0].v.i64[r] = kn ? 0 : k;
        b->cols[0].nulls[r] = (uint8_t)kn;
        b->cols[1].v.i64[r] = v;
        put_str(b, 2, r, s, nn);
        kn ? sqlite3_bind_null(ins, 1) : sqlite3_bind_int64(ins, 1, k);
        sqlite3_bind_int64(ins, 2, v);
        nn ? sqlite3_bind_null(ins, 3) : sqlite3_bind_text(ins, 3, s, -1, SQLITE_STATIC);
        sqlite3_step(ins);
        sqlite3_reset(ins);
    }
    b->nrows = NU;
    sqlite3_finalize(ins);
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    inputs[0].batches = (const mc2_batch *const *)tb;
    inputs[0].nbatches = 3;
    inputs[1].batches = (const mc2_batch *const *)ub;
    inputs[1].nbatches = 1;
    inputs[2].batches = NULL;
    inputs[2].nbatches = 0;
}

/* ---- results as comparable cells --------------------------------------------------------- */

typedef struct cell {
    int kind; /* 0 NULL, 1 text, 2 double */
    char *s;
    double d;
} cell;

typedef struct rows {
    size_t n, ncols, cap;
    cell *c; /* n * ncols */
} rows;

static void rows_push(rows *r, const cell *row)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 64;
        r->c = realloc(r->c, r->cap * r->ncols * sizeof *r->c);
    }
    memcpy(r->c + r->n * r->ncols, row, r->ncols * sizeof *row);
    r->n++;
}

static void rows_free(rows *r)
{
    for (size_t i = 0; i < r->n * r->ncols; i++) free(r->c[i].s);
    free(r->c);
    memset(r, 0, sizeof *r);
}

enum { F_ORDERED = 1, F_DECDBL = 2, F_TOL6 = 4 };

static int cell_cmp(const cell *a, const cell *b, double tol)
{
    if (a->kind == 0 || b->kind == 0) return (a->kind != 0) - (b->kind != 0);
    if (a->kind == 2 || b->kind == 2) {
        double x = a->kind == 2 ? a->d : strtod(a->s, NULL);
        double y = b->kind == 2 ? b->d : strtod(b->s, NULL);
        double m = fabs(x) > fabs(y) ? fabs(x) : fabs(y);
        if (fabs(x - y) <= tol * (m > 1 ? m : 1)) return 0;
        return x < y ? -1 : 1;
    }
    return strcmp(a->s, b->s);
}

static size_t sort_ncols;
static int row_cmp(const void *a, const void *b)
{
    const cell *x = a, *y = b;
    for (size_t i = 0; i < sort_ncols; i++) {
        int c = cell_cmp(&x[i], &y[i], 1e-9);
        if (c) return c;
    }
    return 0;
}

static void rows_sort(rows *r)
{
    sort_ncols = r->ncols;
    /* sort whole rows: copy into a contiguous array of row blocks */
    if (r->n) qsort(r->c, r->n, r->ncols * sizeof *r->c, row_cmp);
}

static int sqlite_rows(const char *sql, rows *out, char *why, size_t whylen)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        snprintf(why, whylen, "sqlite: %s", sqlite3_errmsg(db));
        return -1;
    }
    out->ncols = (size_t)sqlite3_column_count(st);
    cell row[64];
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        for (size_t i = 0; i < out->ncols; i++) {
            int t = sqlite3_column_type(st, (int)i);
            row[i].s = NULL;
            row[i].d = 0;
            if (t == SQLITE_NULL)
                row[i].kind = 0;
            else if (t == SQLITE_FLOAT) {
                row[i].kind = 2;
                row[i].d = sqlite3_column_double(st, (int)i);
            } else {
                row[i].kind = 1;
                row[i].s = strdup((const char *)sqlite3_column_text(st, (int)i));
            }
        }
        rows_push(out, row);
    }
    if (rc != SQLITE_DONE) {
        snprintf(why, whylen, "sqlite step: %s", sqlite3_errmsg(db));
        sqlite3_finalize(st);
        return -1;
    }
    sqlite3_finalize(st);
    return 0;
}

static void batch_rows(const mc2_batch *b, int flags, rows *out)
{
    const mc2_schema *s = b->schema;
    out->ncols = s->ncols;
    cell row[64];
    for (size_t r = 0; r < b->nrows; r++) {
        for (size_t c = 0; c < s->ncols; c++) {
            const mc2_col *col = &b->cols[c];
            cell *x = &row[c];
            x->s = NULL;
            x->d = 0;
            x->kind = 1;
            if (col->nulls && col->nulls[r]) {
                x->kind = 0;
                continue;
            }
            char buf[64];
            switch (s->cols[c].type.id) {
            case MC2_T_INT64:
                snprintf(buf, sizeof buf, "%lld", (long long)col->v.i64[r]);
                break;
            case MC2_T_DECIMAL:
                if (flags & F_DECDBL) {
                    x->kind = 2;
                    x->d = (double)col->v.i64[r] / (double)mc2_pow10(s->cols[c].type.scale);
                    continue;
                }
                snprintf(buf, sizeof buf, "%lld", (long long)col->v.i64[r]);
                break;
            case MC2_T_DEC128: /* as DECIMAL: the scaled integer (or F_DECDBL: the number) */
                if (flags & F_DECDBL) {
                    x->kind = 2;
                    x->d = (double)col->v.i128[r] / (double)mc2_pow10_128(s->cols[c].type.scale);
                    continue;
                }
                mc2_format_decimal128(col->v.i128[r], 0, buf);
                break;
            case MC2_T_DOUBLE:
                x->kind = 2;
                x->d = col->v.f64[r];
                continue;
            case MC2_T_DATE:
                snprintf(buf, sizeof buf, "%d", col->v.i32[r]);
                break;
            case MC2_T_BOOL:
                snprintf(buf, sizeof buf, "%d", col->v.b[r]);
                break;
            case MC2_T_VARCHAR: {
                size_t n = col->off[r + 1] - col->off[r];
                x->s = malloc(n + 1);
                memcpy(x->s, col->data + col->off[r], n);
                x->s[n] = 0;
                continue;
            }
            }
            x->s = strdup(buf);
        }
        rows_push(out, row);
    }
}

/* ---- plan-building shorthands ------------------------------------------------------------ */

static mc2_plan *P;

static mc2_pnode *scan(unsigned input, size_t n, ...)
{
    const mc2_schema *s = input == 0 ? &t_schema : &u_schema;
    unsigned cols[16];
    va_list ap;
    va_start(ap, n);
    for (size_t i = 0; i < n; i++) cols[i] = va_arg(ap, unsigned);
    va_end(ap);
    if (n == 0) {
        n = s->ncols;
        for (size_t i = 0; i < n; i++) cols[i] = (unsigned)i;
    }
    return mc2_pn_scan(P, input, s, cols, n);
}
#define T() scan(0, 0)
#define U() scan(1, 0)
#define E() scan(2, 0)

static mc2_pexpr *C(const mc2_pnode *n, unsigned i)
{
    if (!n) return NULL;
    const mc2_schema *s = mc2_pn_schema(n);
    if (i >= s->ncols) return NULL;
    return mc2_px_col(P, i, s->cols[i].type, s->cols[i].nullable);
}
/* Column i of the right side of a join whose left child is l. */
static mc2_pexpr *CR(const mc2_pnode *l, const mc2_pnode *r, unsigned i)
{
    if (!l || !r) return NULL;
    const mc2_schema *s = mc2_pn_schema(r);
    return mc2_px_col(P, (unsigned)mc2_pn_schema(l)->ncols + i, s->cols[i].type,
                      s->cols[i].nullable);
}
static mc2_pexpr *I(int64_t v)
{
    return mc2_px_int(P, v);
}
static mc2_pexpr *Dc(int64_t v, unsigned s)
{
    return mc2_px_decimal(P, v, 18, s);
}
static mc2_pexpr *S(const char *s)
{
    return mc2_px_str(P, s, strlen(s));
}
static mc2_pexpr *CMP(enum mc2_px_cmp op, mc2_pexpr *a, mc2_pexpr *b)
{
    return mc2_px_cmp(P, op, a, b);
}
static mc2_pexpr *AR(enum mc2_px_arith op, mc2_pexpr *a, mc2_pexpr *b)
{
    return mc2_px_arith(P, op, a, b);
}
static mc2_pnode *PROJ(mc2_pnode *c, size_t n, ...)
{
    mc2_pexpr *e[32];
    va_list ap;
    va_start(ap, n);
    for (size_t i = 0; i < n; i++) e[i] = va_arg(ap, mc2_pexpr *);
    va_end(ap);
    return mc2_pn_project(P, c, e, n, NULL);
}
static mc2_pnode *FILT(mc2_pnode *c, mc2_pexpr *e)
{
    return mc2_pn_filter(P, c, e);
}
static mc2_pexpr *F1(enum mc2_px_func fn, mc2_pexpr *a)
{
    return mc2_px_func(P, fn, &a, 1);
}
static mc2_pnode *SORT(mc2_pnode *c, size_t n, ...)
{
    mc2_psort k[8];
    va_list ap;
    va_start(ap, n);
    for (size_t i = 0; i < n; i++) {
        k[i].col = va_arg(ap, unsigned);
        k[i].desc = va_arg(ap, int);
        k[i].nulls_first = va_arg(ap, int);
    }
    va_end(ap);
    return mc2_pn_sort(P, c, k, n);
}
static mc2_pnode *AGG(mc2_pnode *c, size_t nk, const unsigned *k, size_t na, ...)
{
    mc2_pagg a[16];
    va_list ap;
    va_start(ap, na);
    for (size_t i = 0; i < na; i++) {
        a[i].fn = (enum mc2_agg_fn)va_arg(ap, int);
        a[i].col = va_arg(ap, unsigned);
        a[i].distinct = va_arg(ap, int);
        a[i].name = NULL;
    }
    va_end(ap);
    return mc2_pn_agg(P, c, k, nk, a, na);
}
static mc2_pnode *HJ(enum mc2_join_type jt, mc2_pnode *l, mc2_pnode *r, unsigned lk, unsigned rk,
                     mc2_pexpr *res)
{
    return mc2_pn_hash_join(P, jt, l, r, &lk, &rk, 1, res, false);
}

/* ---- the cases --------------------------------------------------------------------------- */

typedef struct tcase {
    const char *name;
    mc2_pnode *(*build)(void);
    const char *sql;
    int flags;
} tcase;

#define CASE(fn) static mc2_pnode *fn(void)

CASE(c_scan)
{
    return T();
}
CASE(c_scan_proj)
{
    return scan(0, 3, 4u, 0u, 2u);
}
CASE(c_eq)
{
    mc2_pnode *t = T();
    return PROJ(FILT(t, CMP(MC2_PX_EQ, C(t, 1), I(3))), 1, C(t, 0));
}
CASE(c_dec_lit)
{
    mc2_pnode *t = T();
    return PROJ(FILT(t, CMP(MC2_PX_GT, C(t, 2), Dc(10050, 2))), 2, C(t, 0), C(t, 2));
}
CASE(c_dec_int)
{
    mc2_pnode *t = T();
    return PROJ(FILT(t, CMP(MC2_PX_LE, C(t, 2), I(5))), 1, C(t, 0));
}
CASE(c_dec_scale3)
{
    mc2_pnode *t = T();
    return PROJ(FILT(t, CMP(MC2_PX_LT, C(t, 2), Dc(-12345, 3))), 1, C(t, 0));
}
CASE(c_logic)
{
    mc2_pnode *t = T();
    return PROJ(t, 4, C(t, 0),
                mc2_px_and2(P, CMP(MC2_PX_GT, C(t, 1), I(10)), CMP(MC2_PX_LT, C(t, 2), I(0))),
                mc2_px_or2(P, CMP(MC2_PX_LT, C(t, 1), I(5)), C(t, 6)), mc2_px_not(P, C(t, 6)));
}
CASE(c_isnull)
{
    mc2_pnode *t = T();
    return PROJ(t, 3, C(t, 0), mc2_px_is_null(P, C(t, 1), false), mc2_px_is_null(P, C(t, 4), true));
}
CASE(c_in)
{
    mc2_pnode *t = T();
    mc2_pexpr *it[] = {I(1), I(2), I(3)};
    return PROJ(FILT(t, mc2_px_in(P, C(t, 1), it, 3, false)), 1, C(t, 0));
}
CASE(c_notin_null)
{
    mc2_pnode *t = T();
    mc2_pexpr *it[] = {I(1), mc2_px_null(P, (mc2_coltype){MC2_T_INT64, 0, 0, 0})};
    return PROJ(t, 2, C(t, 0), mc2_px_in(P, C(t, 1), it, 2, true));
}
CASE(c_notin)
{
    mc2_pnode *t = T();
    mc2_pexpr *it[] = {I(0), I(2)};
    return PROJ(FILT(t, mc2_px_in(P, C(t, 1), it, 2, true)), 1, C(t, 0));
}
CASE(c_between)
{
    mc2_pnode *t = T();
    return PROJ(FILT(t, mc2_px_and2(P,
                                    mc2_px_between(P, C(t, 5), mc2_px_date(P, 9500),
                                                   mc2_px_date(P, 9600), false),
                                    mc2_px_between(P, C(t, 2), I(-10), I(10), true))),
                1, C(t, 0));
}
static mc2_pnode *like_case(const char *pat, int esc, bool neg)
{
    mc2_pnode *t = T();
    return PROJ(t, 2, C(t, 0), mc2_px_like(P, C(t, 4), pat, strlen(pat), esc, neg));
}
CASE(c_like1)
{
    return like_case("a%", -1, false);
}
CASE(c_like2)
{
    return like_case("%ta%", -1, false);
}
CASE(c_like3)
{
    return like_case("_eta%", -1, false);
}
CASE(c_like4)
{
    return like_case("gam\\%ma", '\\', false);
}
CASE(c_like5)
{
    return like_case("%a", -1, true);
}
CASE(c_like6)
{
    return like_case("_ml", -1, false);
}
CASE(c_like7)
{
    return like_case("a\\_b%", '\\', false);
}
CASE(c_like8)
{
    return like_case("%", -1, false);
}
CASE(c_like9)
{
    return like_case("%l%a%", -1, false);
}
CASE(c_case)
{
    mc2_pnode *t = T();
    mc2_pexpr *w[] = {CMP(MC2_PX_LT, C(t, 1), I(5)), CMP(MC2_PX_LT, C(t, 1), I(20))};
    mc2_pexpr *th[] = {S("small"), S("mid")};
    return PROJ(t, 2, C(t, 0), mc2_px_case(P, w, th, 2, S("big")));
}
CASE(c_case_dec)
{
    mc2_pnode *t = T();
    mc2_pexpr *w[] = {C(t, 6)};
    mc2_pexpr *th[] = {C(t, 2)};
    mc2_pexpr *w2[] = {CMP(MC2_PX_GT, C(t, 1), I(3))};
    mc2_pexpr *th2[] = {C(t, 4)};
    return PROJ(t, 3, C(t, 0), mc2_px_case(P, w, th, 1, I(0)), mc2_px_case(P, w2, th2, 1, NULL));
}
CASE(c_arith_dec)
{
    mc2_pnode *t = T();
    return PROJ(t, 6, C(t, 0), AR(MC2_PX_ADD, C(t, 2), C(t, 2)), AR(MC2_PX_SUB, C(t, 2), Dc(15, 1)),
                AR(MC2_PX_MUL, C(t, 2), C(t, 2)),
                AR(MC2_PX_ADD, AR(MC2_PX_MUL, C(t, 1), I(3)), C(t, 0)),
                mc2_px_arith(P, MC2_PX_NEG, C(t, 2), NULL));
}
CASE(c_div)
{
    mc2_pnode *t = T();
    return PROJ(t, 4, C(t, 0), AR(MC2_PX_DIV, C(t, 1), I(7)), AR(MC2_PX_DIV, C(t, 0), C(t, 1)),
                AR(MC2_PX_DIV, C(t, 2), C(t, 1)));
}
CASE(c_mod)
{
    mc2_pnode *t = T();
    return PROJ(t, 4, C(t, 0), AR(MC2_PX_MOD, C(t, 0), I(7)), AR(MC2_PX_MOD, C(t, 0), C(t, 1)),
                AR(MC2_PX_MOD, C(t, 2), I(7)));
}
CASE(c_dbl)
{
    mc2_pnode *t = T();
    return PROJ(t, 3, C(t, 0), AR(MC2_PX_ADD, AR(MC2_PX_MUL, C(t, 3), I(2)), C(t, 1)),
                AR(MC2_PX_DIV, C(t, 3), C(t, 2)));
}
CASE(c_strcmp)
{
    mc2_pnode *t = T();
    return PROJ(t, 4, C(t, 0), CMP(MC2_PX_LT, C(t, 4), S("delta")),
                CMP(MC2_PX_EQ, C(t, 4), S("alpha")), CMP(MC2_PX_GE, C(t, 4), S("beta")));
}
CASE(c_cast)
{
    mc2_pnode *t = T();
    mc2_coltype vc = {MC2_T_VARCHAR, 0, 0, 30}, dbl = {MC2_T_DOUBLE, 0, 0, 0},
                i64 = {MC2_T_INT64, 0, 0, 0};
    return PROJ(t, 6, C(t, 0), mc2_px_cast(P, C(t, 1), vc), mc2_px_cast(P, C(t, 2), dbl),
                mc2_px_cast(P, C(t, 2), i64), mc2_px_cast(P, C(t, 5), vc),
                mc2_px_cast(P, C(t, 2), vc));
}
CASE(c_strfn)
{
    mc2_pnode *t = T();
    mc2_pexpr *a1[] = {C(t, 4), I(2), I(3)};
    mc2_pexpr *a2[] = {C(t, 4), I(0), I(2)};
    mc2_pexpr *a3[] = {C(t, 4), I(3)};
    mc2_pexpr *cc[] = {C(t, 4), S("-"),
                       mc2_px_cast(P, C(t, 1), (mc2_coltype){MC2_T_VARCHAR, 0, 0, 20})};
    return PROJ(t, 11, C(t, 0), F1(MC2_PF_UPPER, C(t, 4)), F1(MC2_PF_LOWER, C(t, 4)),
                F1(MC2_PF_LENGTH, C(t, 4)), mc2_px_func(P, MC2_PF_SUBSTRING, a1, 3),
                mc2_px_func(P, MC2_PF_SUBSTRING, a2, 3), mc2_px_func(P, MC2_PF_SUBSTRING, a3, 2),
                mc2_px_trim(P, C(t, 4), MC2_PX_TRIM_BOTH, NULL, 0),
                mc2_px_trim(P, C(t, 4), MC2_PX_TRIM_LEADING, NULL, 0),
                mc2_px_trim(P, C(t, 4), MC2_PX_TRIM_TRAILING, "ab", 2),
                mc2_px_func(P, MC2_PF_CONCAT, cc, 3));
}
CASE(c_extract)
{
    mc2_pnode *t = T();
    return PROJ(t, 5, C(t, 0), mc2_px_extract(P, MC2_PX_YEAR, C(t, 5)),
                mc2_px_extract(P, MC2_PX_MONTH, C(t, 5)), mc2_px_extract(P, MC2_PX_DAY, C(t, 5)),
                mc2_px_date_add(P, C(t, 5), -30, MC2_PX_DAY));
}
CASE(c_months)
{
    mc2_pnode *t = T();
    mc2_pnode *f = FILT(t, CMP(MC2_PX_LE, mc2_px_extract(P, MC2_PX_DAY, C(t, 5)), I(28)));
    return PROJ(f, 3, C(f, 0), mc2_px_date_add(P, C(f, 5), 3, MC2_PX_MONTH),
                mc2_px_date_add(P, C(f, 5), -1, MC2_PX_YEAR));
}
CASE(c_misc_fn)
{
    mc2_pnode *t = T();
    mc2_pexpr *co[] = {C(t, 1), I(-1)};
    mc2_pexpr *co2[] = {C(t, 2), I(0)};
    mc2_pexpr *ni[] = {C(t, 1), I(0)};
    return PROJ(t, 8, C(t, 0), mc2_px_func(P, MC2_PF_COALESCE, co, 2),
                mc2_px_func(P, MC2_PF_COALESCE, co2, 2), F1(MC2_PF_ABS, C(t, 2)),
                F1(MC2_PF_ABS, C(t, 3)), mc2_px_round(P, C(t, 3), 2), mc2_px_round(P, C(t, 2), 1),
                mc2_px_func(P, MC2_PF_NULLIF, ni, 2));
}
CASE(c_agg_global)
{
    mc2_pnode *t = T();
    return AGG(t, 0, NULL, 10, MC2_AGG_COUNT_STAR, 0u, 0, MC2_AGG_COUNT, 1u, 0, MC2_AGG_SUM, 1u, 0,
               MC2_AGG_SUM, 2u, 0, MC2_AGG_AVG, 3u, 0, MC2_AGG_MIN, 4u, 0, MC2_AGG_MAX, 4u, 0,
               MC2_AGG_MIN, 5u, 0, MC2_AGG_MAX, 2u, 0, MC2_AGG_AVG, 1u, 0);
}
CASE(c_agg_empty)
{
    mc2_pnode *e = E();
    return AGG(e, 0, NULL, 4, MC2_AGG_COUNT_STAR, 0u, 0, MC2_AGG_SUM, 1u, 0, MC2_AGG_MIN, 2u, 0,
               MC2_AGG_COUNT, 0u, 1);
}
CASE(c_agg_g)
{
    mc2_pnode *t = T();
    unsigned k[] = {1};
    return AGG(t, 1, k, 5, MC2_AGG_COUNT_STAR, 0u, 0, MC2_AGG_SUM, 2u, 0, MC2_AGG_MIN, 3u, 0,
               MC2_AGG_MAX, 3u, 0, MC2_AGG_SUM, 3u, 0);
}
CASE(c_agg_avgdec)
{
    mc2_pnode *t = T();
    unsigned k[] = {1};
    return AGG(t, 1, k, 1, MC2_AGG_AVG, 2u, 0);
}
CASE(c_agg_distinct)
{
    mc2_pnode *t = T();
    unsigned k[] = {4, 6};
    return AGG(t, 2, k, 4, MC2_AGG_COUNT_STAR, 0u, 0, MC2_AGG_COUNT, 1u, 1, MC2_AGG_SUM, 1u, 1,
               MC2_AGG_MAX, 5u, 0);
}
CASE(c_agg_expr)
{
    mc2_pnode *t = T();
    mc2_pnode *p = PROJ(t, 2, mc2_px_extract(P, MC2_PX_YEAR, C(t, 5)), C(t, 2));
    unsigned k[] = {0};
    return AGG(p, 1, k, 2, MC2_AGG_COUNT_STAR, 0u, 0, MC2_AGG_SUM, 1u, 0);
}
CASE(c_having)
{
    mc2_pnode *t = T();
    unsigned k[] = {1};
    mc2_pnode *a = AGG(t, 1, k, 1, MC2_AGG_COUNT_STAR, 0u, 0);
    return FILT(a, CMP(MC2_PX_GT, C(a, 1), I(50)));
}
CASE(c_distinct)
{
    return mc2_pn_distinct(P, scan(0, 2, 1u, 6u));
}
CASE(c_agg_hicard)
{
    mc2_pnode *t = T();
    unsigned k[] = {0, 4};
    return AGG(t, 2, k, 3, MC2_AGG_SUM, 2u, 0, MC2_AGG_MIN, 4u, 0, MC2_AGG_COUNT, 1u, 1);
}
CASE(c_count_distinct_global)
{
    return AGG(T(), 0, NULL, 2, MC2_AGG_COUNT, 4u, 1, MC2_AGG_COUNT, 2u, 1);
}
CASE(c_sort1)
{
    return SORT(scan(0, 3, 1u, 0u, 2u), 2, 0u, 0, 1, 1u, 0, 0);
}
CASE(c_sort2)
{
    return SORT(scan(0, 2, 2u, 0u), 2, 0u, 1, 0, 1u, 0, 0);
}
CASE(c_sort3)
{
    return SORT(scan(0, 2, 4u, 0u), 2, 0u, 0, 0, 1u, 1, 0);
}
CASE(c_sort4)
{
    return SORT(scan(0, 2, 3u, 0u), 2, 0u, 0, 1, 1u, 0, 0);
}
CASE(c_sort5)
{
    return SORT(scan(0, 3, 5u, 6u, 0u), 3, 0u, 1, 1, 1u, 0, 1, 2u, 0, 0);
}
CASE(c_limit)
{
    return mc2_pn_limit(P, SORT(scan(0, 2, 2u, 0u), 2, 0u, 1, 0, 1u, 0, 0), 10, 5);
}
CASE(c_limit0)
{
    return mc2_pn_limit(P, T(), 0, 0);
}
CASE(c_offset_big)
{
    return mc2_pn_limit(P, SORT(scan(0, 1, 0u), 1, 0u, 0, 0), -1, 2990);
}
CASE(c_join_inner)
{
    mc2_pnode *t = scan(0, 2, 0u, 1u), *u = U();
    mc2_pnode *j = HJ(MC2_JOIN_INNER, t, u, 1, 0, NULL);
    return PROJ(j, 3, C(j, 0), C(j, 2), C(j, 3));
}
CASE(c_join_left)
{
    mc2_pnode *t = scan(0, 2, 0u, 1u), *u = U();
    mc2_pnode *j = HJ(MC2_JOIN_LEFT, t, u, 1, 0, NULL);
    return PROJ(j, 3, C(j, 0), C(j, 3), C(j, 4));
}
CASE(c_join_right)
{
    mc2_pnode *t = scan(0, 2, 0u, 1u), *u = U();
    mc2_pnode *j = HJ(MC2_JOIN_RIGHT, t, u, 1, 0, NULL);
    return PROJ(j, 3, C(j, 0), C(j, 2), C(j, 3));
}
CASE(c_join_full)
{
    mc2_pnode *t = scan(0, 2, 0u, 1u), *u = U();
    mc2_pnode *j = HJ(MC2_JOIN_FULL, t, u, 1, 0, NULL);
    return PROJ(j, 3, C(j, 0), C(j, 2), C(j, 3));
}
CASE(c_semi)
{
    return HJ(MC2_JOIN_SEMI, scan(0, 2, 0u, 1u), U(), 1, 0, NULL);
}
CASE(c_anti)
{
    return HJ(MC2_JOIN_ANTI, scan(0, 2, 0u, 1u), U(), 1, 0, NULL);
}
CASE(c_notin_sub)
{
    unsigned lk = 1, rk = 0;
    return mc2_pn_hash_join(P, MC2_JOIN_ANTI, scan(0, 2, 0u, 1u), scan(1, 1, 0u), &lk, &rk, 1, NULL,
                            true);
}
CASE(c_notin_sub_nonull)
{
    unsigned lk = 1, rk = 0;
    mc2_pnode *u = scan(1, 1, 0u);
    u = FILT(u, mc2_px_is_null(P, C(u, 0), true));
    return mc2_pn_hash_join(P, MC2_JOIN_ANTI, scan(0, 2, 0u, 1u), u, &lk, &rk, 1, NULL, true);
}
CASE(c_notin_empty)
{
    unsigned lk = 1, rk = 0;
    return mc2_pn_hash_join(P, MC2_JOIN_ANTI, scan(0, 2, 0u, 1u), scan(2, 1, 0u), &lk, &rk, 1, NULL,
                            true);
}
CASE(c_join_resid)
{
    mc2_pnode *t = scan(0, 3, 0u, 1u, 2u), *u = U();
    mc2_pexpr *r = CMP(MC2_PX_GT, C(t, 2), CR(t, u, 1));
    mc2_pnode *j = HJ(MC2_JOIN_INNER, t, u, 1, 0, r);
    return PROJ(j, 3, C(j, 0), C(j, 4), C(j, 5));
}
CASE(c_left_resid)
{
    mc2_pnode *t = scan(0, 3, 0u, 1u, 2u), *u = U();
    mc2_pexpr *r = CMP(MC2_PX_GT, C(t, 2), CR(t, u, 1));
    mc2_pnode *j = HJ(MC2_JOIN_LEFT, t, u, 1, 0, r);
    return PROJ(j, 2, C(j, 0), C(j, 4));
}
CASE(c_full_resid)
{
    mc2_pnode *t = scan(0, 3, 0u, 1u, 2u), *u = U();
    mc2_pexpr *r = CMP(MC2_PX_GT, C(t, 2), CR(t, u, 1));
    mc2_pnode *j = HJ(MC2_JOIN_FULL, t, u, 1, 0, r);
    return PROJ(j, 2, C(j, 0), C(j, 4));
}
CASE(c_semi_resid)
{
    mc2_pnode *t = scan(0, 3, 0u, 1u, 2u), *u = U();
    return HJ(MC2_JOIN_SEMI, t, u, 1, 0, CMP(MC2_PX_LT, C(t, 2), CR(t, u, 1)));
}
CASE(c_anti_resid)
{
    mc2_pnode *t = scan(0, 3, 0u, 1u, 2u), *u = U();
    return HJ(MC2_JOIN_ANTI, t, u, 1, 0, CMP(MC2_PX_LT, C(t, 2), CR(t, u, 1)));
}
CASE(c_nl_inner)
{
    mc2_pnode *t = scan(0, 2, 0u, 1u);
    t = FILT(t, CMP(MC2_PX_LT, C(t, 0), I(100)));
    mc2_pnode *u = U();
    mc2_pnode *j = mc2_pn_nl_join(P, MC2_JOIN_INNER, t, u, CMP(MC2_PX_LT, C(t, 1), CR(t, u, 0)));
    return PROJ(j, 2, C(j, 0), C(j, 2));
}
CASE(c_nl_left)
{
    mc2_pnode *t = scan(0, 2, 0u, 1u);
    t = FILT(t, CMP(MC2_PX_LT, C(t, 0), I(200)));
    mc2_pnode *u = U();
    mc2_pexpr *r = CMP(MC2_PX_GT, C(t, 1), AR(MC2_PX_ADD, CR(t, u, 0), I(45)));
    mc2_pnode *j = mc2_pn_nl_join(P, MC2_JOIN_LEFT, t, u, r);
    return PROJ(j, 2, C(j, 0), C(j, 2));
}
CASE(c_nl_right)
{
    mc2_pnode *t = scan(0, 2, 0u, 1u);
    t = FILT(t, CMP(MC2_PX_LT, C(t, 0), I(200)));
    mc2_pnode *u = U();
    mc2_pexpr *r = CMP(MC2_PX_GT, C(t, 1), AR(MC2_PX_ADD, CR(t, u, 0), I(45)));
    mc2_pnode *j = mc2_pn_nl_join(P, MC2_JOIN_RIGHT, t, u, r);
    return PROJ(j, 2, C(j, 0), C(j, 2));
}
CASE(c_cross)
{
    mc2_pnode *t = scan(0, 1, 0u);
    t = FILT(t, CMP(MC2_PX_LT, C(t, 0), I(20)));
    mc2_pnode *u = U();
    u = FILT(u, CMP(MC2_PX_LT, C(u, 0), I(3)));
    return mc2_pn_nl_join(P, MC2_JOIN_INNER, t, u, NULL);
}
CASE(c_join_2keys)
{
    mc2_pnode *t = scan(0, 3, 0u, 1u, 6u), *u = U();
    u = PROJ(u, 3, C(u, 0), CMP(MC2_PX_EQ, AR(MC2_PX_MOD, C(u, 0), I(2)), I(0)), C(u, 1));
    unsigned lk[] = {1, 2}, rk[] = {0, 1};
    mc2_pnode *j = mc2_pn_hash_join(P, MC2_JOIN_INNER, t, u, lk, rk, 2, NULL, false);
    return PROJ(j, 2, C(j, 0), C(j, 5));
}
CASE(c_join_empty)
{
    mc2_pnode *t = scan(0, 2, 0u, 1u);
    mc2_pnode *j = HJ(MC2_JOIN_LEFT, t, E(), 1, 0, NULL);
    return PROJ(j, 2, C(j, 0), C(j, 3));
}
CASE(c_join_empty_inner)
{
    return HJ(MC2_JOIN_INNER, scan(0, 2, 0u, 1u), E(), 1, 0, NULL);
}
CASE(c_join_str)
{
    mc2_pnode *t = scan(0, 2, 0u, 4u), *u = U();
    mc2_pnode *j = HJ(MC2_JOIN_INNER, t, u, 1, 2, NULL);
    return PROJ(j, 2, C(j, 0), C(j, 2));
}
CASE(c_join_agg_sort)
{
    mc2_pnode *t = scan(0, 3, 0u, 1u, 2u), *u = U();
    mc2_pnode *j = HJ(MC2_JOIN_INNER, t, u, 1, 0, NULL);
    unsigned k[] = {5};
    mc2_pnode *a = AGG(j, 1, k, 2, MC2_AGG_SUM, 2u, 0, MC2_AGG_COUNT_STAR, 0u, 0);
    return SORT(a, 2, 1u, 1, 0, 0u, 0, 1);
}
/* Wide DECIMAL (128-bit) plans: W(e, s) casts e to DECIMAL(38, s). The values stay within
 * SQLite's int64, which compares them as the same scaled integers; sums beyond 18 digits are
 * checked exactly against Python in tests/cli/test_sql_decimal38.sh. Under the tiny budget
 * these sort, group, join and aggregate wide values through spilled runs. */
static mc2_pexpr *W(mc2_pexpr *e, unsigned s)
{
    mc2_coltype w = {MC2_T_DEC128, 38, (uint8_t)s, 0};
    return mc2_px_cast(P, e, w);
}
CASE(c_wide_sort)
{
    mc2_pnode *t = T();
    mc2_pnode *p = PROJ(t, 2, C(t, 0), AR(MC2_PX_MUL, W(C(t, 2), 2), I(1000)));
    return SORT(p, 2, 1u, 1, 0, 0u, 0, 0);
}
CASE(c_wide_group)
{
    mc2_pnode *t = T();
    mc2_pnode *p = PROJ(t, 2, W(C(t, 2), 2), C(t, 1));
    unsigned k[] = {0};
    return AGG(p, 1, k, 3, MC2_AGG_COUNT_STAR, 0u, 0, MC2_AGG_SUM, 1u, 0, MC2_AGG_COUNT, 1u, 1);
}
CASE(c_wide_join)
{
    mc2_pnode *t = scan(0, 2, 0u, 2u), *u = U();
    mc2_pnode *tw = PROJ(t, 2, C(t, 0), W(C(t, 1), 3)), *uw = PROJ(u, 2, C(u, 0), W(C(u, 1), 3));
    mc2_pnode *j = HJ(MC2_JOIN_INNER, tw, uw, 1, 1, NULL);
    return PROJ(j, 3, C(j, 0), C(j, 2), C(j, 3));
}
CASE(c_wide_arith)
{
    mc2_pnode *t = T();
    mc2_pexpr *d = W(C(t, 2), 2);
    return PROJ(t, 8, C(t, 0), AR(MC2_PX_ADD, d, Dc(500, 2)),
                AR(MC2_PX_MUL, W(C(t, 2), 2), C(t, 2)),
                mc2_px_arith(P, MC2_PX_NEG, W(C(t, 2), 2), NULL), F1(MC2_PF_ABS, W(C(t, 2), 2)),
                mc2_px_round(P, W(C(t, 2), 2), 1),
                CMP(MC2_PX_GT, W(C(t, 2), 2), AR(MC2_PX_MUL, C(t, 1), I(100))),
                AR(MC2_PX_MOD, W(C(t, 2), 2), I(7)));
}
CASE(c_wide_case)
{
    mc2_pnode *t = T();
    mc2_pexpr *w = CMP(MC2_PX_GT, W(C(t, 2), 2), Dc(0, 2)), *th = W(C(t, 2), 2);
    mc2_pexpr *co[] = {W(C(t, 2), 2), Dc(-100, 2)};
    mc2_pexpr *it[] = {W(Dc(10050, 2), 2), W(Dc(-2500, 2), 2), W(I(0), 0)};
    return PROJ(t, 4, C(t, 0), mc2_px_case(P, &w, &th, 1, Dc(0, 2)),
                mc2_px_func(P, MC2_PF_COALESCE, co, 2), mc2_px_in(P, W(C(t, 2), 2), it, 3, false));
}
CASE(c_wide_aggs)
{
    mc2_pnode *t = T();
    mc2_pnode *p = PROJ(t, 2, C(t, 1), W(C(t, 2), 2));
    unsigned k[] = {0};
    return AGG(p, 1, k, 5, MC2_AGG_SUM, 1u, 0, MC2_AGG_MIN, 1u, 0, MC2_AGG_MAX, 1u, 0, MC2_AGG_AVG,
               1u, 0, MC2_AGG_SUM, 1u, 1);
}
CASE(c_wide_cast_back)
{
    mc2_pnode *t = T();
    mc2_coltype n1 = {MC2_T_DECIMAL, 12, 1, 0};
    return PROJ(t, 3, C(t, 0), mc2_px_cast(P, W(C(t, 2), 2), n1),
                mc2_px_cast(P, W(C(t, 2), 2), (mc2_coltype){MC2_T_INT64, 0, 0, 0}));
}
static mc2_pnode *setop(enum mc2_setop op, bool all)
{
    return mc2_pn_setop(P, op, all, scan(0, 1, 1u), scan(1, 1, 0u));
}
CASE(c_union_all)
{
    return setop(MC2_SETOP_UNION, true);
}
CASE(c_union)
{
    return setop(MC2_SETOP_UNION, false);
}
CASE(c_intersect)
{
    return setop(MC2_SETOP_INTERSECT, false);
}
CASE(c_except)
{
    return setop(MC2_SETOP_EXCEPT, false);
}
CASE(c_intersect_all)
{
    return setop(MC2_SETOP_INTERSECT, true);
}
CASE(c_except_all)
{
    return setop(MC2_SETOP_EXCEPT, true);
}
CASE(c_union_str)
{
    return mc2_pn_setop(P, MC2_SETOP_UNION, false, scan(0, 1, 4u), scan(1, 1, 2u));
}
CASE(c_values)
{
    mc2_pexpr *cells[] = {I(1), S("a"), I(2), mc2_px_null(P, (mc2_coltype){MC2_T_VARCHAR, 0, 0, 1}),
                          I(2), S("a")};
    return mc2_pn_values(P, cells, 3, 2, NULL);
}
/* Semi and anti joins that build their outer (left) side: the same joins as above, and ones
 * whose outer side is the smaller (u against t), NULL keys on both sides, duplicates, empty
 * sides, residuals and two keys. */
static mc2_pnode *RS(mc2_pnode *j)
{
    mc2_pn_join_set_build_outer(j, true);
    return j;
}
CASE(c_rs_semi)
{
    return RS(c_semi());
}
CASE(c_rs_anti)
{
    return RS(c_anti());
}
CASE(c_rs_notin_sub)
{
    return RS(c_notin_sub());
}
CASE(c_rs_notin_sub_nonull)
{
    return RS(c_notin_sub_nonull());
}
CASE(c_rs_notin_empty)
{
    return RS(c_notin_empty());
}
CASE(c_rs_semi_resid)
{
    return RS(c_semi_resid());
}
CASE(c_rs_anti_resid)
{
    return RS(c_anti_resid());
}
CASE(c_rs_anti_empty)
{
    return RS(HJ(MC2_JOIN_ANTI, scan(0, 2, 0u, 1u), E(), 1, 0, NULL));
}
CASE(c_rs_semi_empty)
{
    return RS(HJ(MC2_JOIN_SEMI, scan(0, 2, 0u, 1u), E(), 1, 0, NULL));
}
static mc2_pnode *rs_u(enum mc2_join_type jt, bool resid)
{
    mc2_pnode *u = U(), *t = scan(0, 3, 0u, 1u, 2u);
    return RS(HJ(jt, u, t, 0, 1, resid ? CMP(MC2_PX_LT, CR(u, t, 2), C(u, 1)) : NULL));
}
CASE(c_rs_u_semi)
{
    return rs_u(MC2_JOIN_SEMI, false);
}
CASE(c_rs_u_anti)
{
    return rs_u(MC2_JOIN_ANTI, false);
}
CASE(c_rs_u_semi_resid)
{
    return rs_u(MC2_JOIN_SEMI, true);
}
CASE(c_rs_u_anti_resid)
{
    return rs_u(MC2_JOIN_ANTI, true);
}
static mc2_pnode *rs_u_notin(bool nonull)
{
    unsigned lk = 0, rk = 0;
    mc2_pnode *t = scan(0, 1, 1u);
    if (nonull) t = FILT(t, mc2_px_is_null(P, C(t, 0), true));
    return RS(mc2_pn_hash_join(P, MC2_JOIN_ANTI, U(), t, &lk, &rk, 1, NULL, true));
}
CASE(c_rs_u_notin)
{
    return rs_u_notin(false);
}
CASE(c_rs_u_notin_nonull)
{
    return rs_u_notin(true);
}
CASE(c_rs_u_notin_none)
{
    unsigned lk = 0, rk = 0;
    mc2_pnode *t = scan(0, 1, 1u);
    t = FILT(t, CMP(MC2_PX_LT, C(t, 0), I(-1)));
    return RS(mc2_pn_hash_join(P, MC2_JOIN_ANTI, U(), t, &lk, &rk, 1, NULL, true));
}
CASE(c_rs_empty_outer)
{
    return RS(HJ(MC2_JOIN_SEMI, E(), scan(0, 1, 1u), 0, 0, NULL));
}
CASE(c_rs_empty_outer_notin)
{
    unsigned lk = 0, rk = 0;
    return RS(mc2_pn_hash_join(P, MC2_JOIN_ANTI, E(), scan(0, 1, 1u), &lk, &rk, 1, NULL, true));
}
static mc2_pnode *rs_2keys(enum mc2_join_type jt)
{
    mc2_pnode *t = scan(0, 3, 0u, 1u, 6u), *u = U();
    u = PROJ(u, 3, C(u, 0), CMP(MC2_PX_EQ, AR(MC2_PX_MOD, C(u, 0), I(2)), I(0)), C(u, 1));
    unsigned lk[] = {1, 2}, rk[] = {0, 1};
    mc2_pnode *j = mc2_pn_hash_join(P, jt, t, u, lk, rk, 2, NULL, false);
    return PROJ(RS(j), 1, C(j, 0));
}
CASE(c_rs_2keys_semi)
{
    return rs_2keys(MC2_JOIN_SEMI);
}
CASE(c_rs_2keys_anti)
{
    return rs_2keys(MC2_JOIN_ANTI);
}
CASE(c_rs_str)
{
    mc2_pnode *u = U(), *t = scan(0, 1, 4u);
    return RS(HJ(MC2_JOIN_SEMI, u, t, 2, 0, NULL));
}

#define DTS(x)                                                                                     \
    "CAST(strftime('" x "', "                                                                      \
    "dt*86400, 'unixepoch') AS INTEGER)"
static const tcase cases[] = {
    {"scan", c_scan, "SELECT id,g,d,f,s,dt,b FROM t", 0},
    {"scan_proj", c_scan_proj, "SELECT s,id,d FROM t", 0},
    {"eq", c_eq, "SELECT id FROM t WHERE g = 3", 0},
    {"dec_lit", c_dec_lit, "SELECT id, d FROM t WHERE d > 10050", 0},
    {"dec_int", c_dec_int, "SELECT id FROM t WHERE d <= 500", 0},
    {"dec_scale3", c_dec_scale3, "SELECT id FROM t WHERE d*10 < -12345", 0},
    {"logic", c_logic, "SELECT id, g>10 AND d<0, g<5 OR b, NOT b FROM t", 0},
    {"isnull", c_isnull, "SELECT id, g IS NULL, s IS NOT NULL FROM t", 0},
    {"in", c_in, "SELECT id FROM t WHERE g IN (1,2,3)", 0},
    {"notin_null", c_notin_null, "SELECT id, g NOT IN (1, NULL) FROM t", 0},
    {"notin", c_notin, "SELECT id FROM t WHERE g NOT IN (0,2)", 0},
    {"between", c_between,
     "SELECT id FROM t WHERE dt BETWEEN 9500 AND 9600 AND d NOT BETWEEN -1000 AND 1000", 0},
    {"like1", c_like1, "SELECT id, s LIKE 'a%' FROM t", 0},
    {"like2", c_like2, "SELECT id, s LIKE '%ta%' FROM t", 0},
    {"like3", c_like3, "SELECT id, s LIKE '_eta%' FROM t", 0},
    {"like4", c_like4, "SELECT id, s LIKE 'gam\\%ma' ESCAPE '\\' FROM t", 0},
    {"like5", c_like5, "SELECT id, s NOT LIKE '%a' FROM t", 0},
    {"like6", c_like6, "SELECT id, s LIKE '_ml' FROM t", 0},
    {"like7", c_like7, "SELECT id, s LIKE 'a\\_b%' ESCAPE '\\' FROM t", 0},
    {"like8", c_like8, "SELECT id, s LIKE '%' FROM t", 0},
    {"like9", c_like9, "SELECT id, s LIKE '%l%a%' FROM t", 0},
    {"case", c_case,
     "SELECT id, CASE WHEN g < 5 THEN 'small' WHEN g < 20 THEN 'mid' ELSE 'big' END FROM t", 0},
    {"case_dec", c_case_dec,
     "SELECT id, CASE WHEN b THEN d ELSE 0 END, CASE WHEN g > 3 THEN s END FROM t", 0},
    {"arith_dec", c_arith_dec, "SELECT id, d+d, d-150, d*d, g*3+id, -d FROM t", 0},
    {"div", c_div, "SELECT id, CAST(g AS REAL)/7, CAST(id AS REAL)/g, (d/100.0)/g FROM t",
     F_DECDBL | F_TOL6},
    {"mod", c_mod, "SELECT id, id % 7, id % g, d % 700 FROM t", 0},
    {"dbl", c_dbl, "SELECT id, f*2+g, f/(d/100.0) FROM t", 0},
    {"strcmp", c_strcmp, "SELECT id, s < 'delta', s = 'alpha', s >= 'beta' FROM t", 0},
    {"cast", c_cast,
     "SELECT id, CAST(g AS TEXT), d/100.0, CAST(round(d/100.0) AS INTEGER), "
     "date(dt*86400, 'unixepoch'), CASE WHEN d IS NOT NULL THEN printf('%.2f', d/100.0) END "
     "FROM t",
     0},
    {"strfn", c_strfn,
     "SELECT id, upper(s), lower(s), length(s), substr(s,2,3), substr(s,0,2), substr(s,3), "
     "trim(s), ltrim(s), rtrim(s,'ab'), s || '-' || g FROM t",
     0},
    {"extract", c_extract, "SELECT id, " DTS("%Y") ", " DTS("%m") ", " DTS("%d") ", dt - 30 FROM t",
     0},
    {"months", c_months,
     "SELECT id, CAST(julianday(date(dt*86400,'unixepoch','+3 months')) - 2440587.5 AS "
     "INTEGER), CAST(julianday(date(dt*86400,'unixepoch','-1 year')) - 2440587.5 AS INTEGER) "
     "FROM t WHERE " DTS("%d") " <= 28",
     0},
    {"misc_fn", c_misc_fn,
     "SELECT id, coalesce(g,-1), coalesce(d,0), abs(d), abs(f), round(f,2), "
     "CAST(round(d/10.0) AS INTEGER)*10, nullif(g,0) FROM t",
     0},
    {"agg_global", c_agg_global,
     "SELECT count(*), count(g), sum(g), sum(d), avg(f), min(s), max(s), min(dt), max(d), "
     "avg(g) FROM t",
     0},
    {"agg_empty", c_agg_empty, "SELECT count(*), sum(v), min(name), count(DISTINCT k) FROM e", 0},
    {"agg_g", c_agg_g, "SELECT g, count(*), sum(d), min(f), max(f), sum(f) FROM t GROUP BY g", 0},
    {"agg_avgdec", c_agg_avgdec, "SELECT g, avg(d)/100.0 FROM t GROUP BY g", F_DECDBL | F_TOL6},
    {"agg_distinct", c_agg_distinct,
     "SELECT s, b, count(*), count(DISTINCT g), sum(DISTINCT g), max(dt) FROM t GROUP BY s, b", 0},
    {"agg_expr", c_agg_expr, "SELECT " DTS("%Y") ", count(*), sum(d) FROM t GROUP BY 1", 0},
    {"having", c_having, "SELECT g, count(*) FROM t GROUP BY g HAVING count(*) > 50", 0},
    {"distinct", c_distinct, "SELECT DISTINCT g, b FROM t", 0},
    {"agg_hicard", c_agg_hicard,
     "SELECT id, s, sum(d), min(s), count(DISTINCT g) FROM t GROUP BY id, s", 0},
    {"count_distinct", c_count_distinct_global,
     "SELECT count(DISTINCT s), count(DISTINCT d) FROM t", 0},
    {"sort1", c_sort1, "SELECT g, id, d FROM t ORDER BY g NULLS FIRST, id", F_ORDERED},
    {"sort2", c_sort2, "SELECT d, id FROM t ORDER BY d DESC NULLS LAST, id", F_ORDERED},
    {"sort3", c_sort3, "SELECT s, id FROM t ORDER BY s NULLS LAST, id DESC", F_ORDERED},
    {"sort4", c_sort4, "SELECT f, id FROM t ORDER BY f NULLS FIRST, id", F_ORDERED},
    {"sort5", c_sort5, "SELECT dt, b, id FROM t ORDER BY dt DESC NULLS FIRST, b NULLS FIRST, id",
     F_ORDERED},
    {"limit", c_limit, "SELECT d, id FROM t ORDER BY d DESC NULLS LAST, id LIMIT 10 OFFSET 5",
     F_ORDERED},
    {"limit0", c_limit0, "SELECT * FROM t LIMIT 0", 0},
    {"offset_big", c_offset_big, "SELECT id FROM t ORDER BY id LIMIT -1 OFFSET 2990", F_ORDERED},
    {"join_inner", c_join_inner, "SELECT t.id, u.k, u.v FROM t JOIN u ON t.g = u.k", 0},
    {"join_left", c_join_left, "SELECT t.id, u.v, u.name FROM t LEFT JOIN u ON t.g = u.k", 0},
    {"join_right", c_join_right, "SELECT t.id, u.k, u.v FROM t RIGHT JOIN u ON t.g = u.k", 0},
    {"join_full", c_join_full, "SELECT t.id, u.k, u.v FROM t FULL JOIN u ON t.g = u.k", 0},
    {"semi", c_semi, "SELECT id, g FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.k = t.g)", 0},
    {"anti", c_anti, "SELECT id, g FROM t WHERE NOT EXISTS (SELECT 1 FROM u WHERE u.k = t.g)", 0},
    {"notin_sub", c_notin_sub, "SELECT id, g FROM t WHERE g NOT IN (SELECT k FROM u)", 0},
    {"notin_sub_nonull", c_notin_sub_nonull,
     "SELECT id, g FROM t WHERE g NOT IN (SELECT k FROM u WHERE k IS NOT NULL)", 0},
    {"notin_empty", c_notin_empty, "SELECT id, g FROM t WHERE g NOT IN (SELECT k FROM e)", 0},
    {"join_resid", c_join_resid,
     "SELECT t.id, u.v, u.name FROM t JOIN u ON t.g = u.k AND t.d*10 > u.v", 0},
    {"left_resid", c_left_resid,
     "SELECT t.id, u.v FROM t LEFT JOIN u ON t.g = u.k AND t.d*10 > u.v", 0},
    {"full_resid", c_full_resid,
     "SELECT t.id, u.v FROM t FULL JOIN u ON t.g = u.k AND t.d*10 > u.v", 0},
    {"semi_resid", c_semi_resid,
     "SELECT id, g, d FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.k = t.g AND t.d*10 < u.v)", 0},
    {"anti_resid", c_anti_resid,
     "SELECT id, g, d FROM t WHERE NOT EXISTS (SELECT 1 FROM u WHERE u.k = t.g AND t.d*10 < "
     "u.v)",
     0},
    {"rs_semi", c_rs_semi, "SELECT id, g FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.k = t.g)", 0},
    {"rs_anti", c_rs_anti, "SELECT id, g FROM t WHERE NOT EXISTS (SELECT 1 FROM u WHERE u.k = t.g)",
     0},
    {"rs_notin_sub", c_rs_notin_sub, "SELECT id, g FROM t WHERE g NOT IN (SELECT k FROM u)", 0},
    {"rs_notin_sub_nonull", c_rs_notin_sub_nonull,
     "SELECT id, g FROM t WHERE g NOT IN (SELECT k FROM u WHERE k IS NOT NULL)", 0},
    {"rs_notin_empty", c_rs_notin_empty, "SELECT id, g FROM t WHERE g NOT IN (SELECT k FROM e)", 0},
    {"rs_semi_resid", c_rs_semi_resid,
     "SELECT id, g, d FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.k = t.g AND t.d*10 < u.v)", 0},
    {"rs_anti_resid", c_rs_anti_resid,
     "SELECT id, g, d FROM t WHERE NOT EXISTS (SELECT 1 FROM u WHERE u.k = t.g AND t.d*10 < "
     "u.v)",
     0},
    {"rs_anti_empty", c_rs_anti_empty,
     "SELECT id, g FROM t WHERE NOT EXISTS (SELECT 1 FROM e WHERE e.k = t.g)", 0},
    {"rs_semi_empty", c_rs_semi_empty, "SELECT id, g FROM t WHERE g IN (SELECT k FROM e)", 0},
    {"rs_u_semi", c_rs_u_semi, "SELECT k, v, name FROM u WHERE k IN (SELECT g FROM t)", 0},
    {"rs_u_anti", c_rs_u_anti,
     "SELECT k, v, name FROM u WHERE NOT EXISTS (SELECT 1 FROM t WHERE t.g = u.k)", 0},
    {"rs_u_semi_resid", c_rs_u_semi_resid,
     "SELECT k, v, name FROM u WHERE EXISTS (SELECT 1 FROM t WHERE t.g = u.k AND t.d*10 < u.v)", 0},
    {"rs_u_anti_resid", c_rs_u_anti_resid,
     "SELECT k, v, name FROM u WHERE NOT EXISTS (SELECT 1 FROM t WHERE t.g = u.k AND t.d*10 < "
     "u.v)",
     0},
    {"rs_u_notin", c_rs_u_notin, "SELECT k, v, name FROM u WHERE k NOT IN (SELECT g FROM t)", 0},
    {"rs_u_notin_nonull", c_rs_u_notin_nonull,
     "SELECT k, v, name FROM u WHERE k NOT IN (SELECT g FROM t WHERE g IS NOT NULL)", 0},
    {"rs_u_notin_none", c_rs_u_notin_none,
     "SELECT k, v, name FROM u WHERE k NOT IN (SELECT g FROM t WHERE g < -1)", 0},
    {"rs_empty_outer", c_rs_empty_outer, "SELECT k, v, name FROM e WHERE k IN (SELECT g FROM t)",
     0},
    {"rs_empty_outer_notin", c_rs_empty_outer_notin,
     "SELECT k, v, name FROM e WHERE k NOT IN (SELECT g FROM t)", 0},
    {"rs_2keys_semi", c_rs_2keys_semi,
     "SELECT id FROM t WHERE EXISTS (SELECT 1 FROM u WHERE t.g = u.k AND t.b = (u.k % 2 = 0))", 0},
    {"rs_2keys_anti", c_rs_2keys_anti,
     "SELECT id FROM t WHERE NOT EXISTS (SELECT 1 FROM u WHERE t.g = u.k AND t.b = (u.k % 2 = 0))",
     0},
    {"rs_str", c_rs_str, "SELECT k, v, name FROM u WHERE name IN (SELECT s FROM t)", 0},
    {"nl_inner", c_nl_inner, "SELECT t.id, u.k FROM t JOIN u ON t.g < u.k WHERE t.id < 100", 0},
    {"nl_left", c_nl_left,
     "SELECT t.id, u.k FROM (SELECT * FROM t WHERE id < 200) t LEFT JOIN u ON t.g > u.k + 45", 0},
    {"nl_right", c_nl_right,
     "SELECT t.id, u.k FROM (SELECT * FROM t WHERE id < 200) t RIGHT JOIN u ON t.g > u.k + 45", 0},
    {"cross", c_cross,
     "SELECT t.id, u.k, u.v, u.name FROM t CROSS JOIN u WHERE t.id < 20 AND u.k < 3", 0},
    {"join_2keys", c_join_2keys,
     "SELECT t.id, u.v FROM t JOIN u ON t.g = u.k AND t.b = (u.k % 2 = 0)", 0},
    {"join_empty", c_join_empty, "SELECT t.id, e.v FROM t LEFT JOIN e ON t.g = e.k", 0},
    {"join_empty_inner", c_join_empty_inner, "SELECT t.id, t.g, e.* FROM t JOIN e ON t.g = e.k", 0},
    {"join_str", c_join_str, "SELECT t.id, u.k FROM t JOIN u ON t.s = u.name", 0},
    {"wide_sort", c_wide_sort, "SELECT id, d * 1000 FROM t ORDER BY d DESC NULLS LAST, id",
     F_ORDERED},
    {"wide_group", c_wide_group, "SELECT d, count(*), sum(g), count(DISTINCT g) FROM t GROUP BY d",
     0},
    {"wide_join", c_wide_join, "SELECT t.id, u.k, u.v FROM t JOIN u ON t.d * 10 = u.v", 0},
    {"wide_arith", c_wide_arith,
     "SELECT id, d + 500, d * d, -d, abs(d), CASE WHEN d >= 0 THEN (d + 5) / 10 * 10 ELSE "
     "-((-d + 5) / 10 * 10) END, d > g * 10000, d % 700 FROM t",
     0},
    {"wide_case", c_wide_case,
     "SELECT id, CASE WHEN d > 0 THEN d ELSE 0 END, coalesce(d, -100), d IN (10050, -2500, 0) "
     "FROM t",
     0},
    {"wide_aggs", c_wide_aggs,
     "SELECT g, sum(d) / 100.0, min(d) / 100.0, max(d) / 100.0, avg(d) / 100.0, "
     "sum(DISTINCT d) / 100.0 FROM t GROUP BY g",
     F_DECDBL | F_TOL6},
    {"wide_cast_back", c_wide_cast_back,
     "SELECT id, CASE WHEN d >= 0 THEN (d + 5) / 10 ELSE -((-d + 5) / 10) END, CASE WHEN d >= 0 "
     "THEN (d + 50) / 100 ELSE -((-d + 50) / 100) END FROM t",
     0},
    {"join_agg_sort", c_join_agg_sort,
     "SELECT u.name, sum(t.d), count(*) FROM t JOIN u ON t.g = u.k GROUP BY u.name "
     "ORDER BY 2 DESC NULLS LAST, 1 NULLS FIRST",
     F_ORDERED},
    {"union_all", c_union_all, "SELECT g FROM t UNION ALL SELECT k FROM u", 0},
    {"union", c_union, "SELECT g FROM t UNION SELECT k FROM u", 0},
    {"intersect", c_intersect, "SELECT g FROM t INTERSECT SELECT k FROM u", 0},
    {"except", c_except, "SELECT g FROM t EXCEPT SELECT k FROM u", 0},
    {"intersect_all", c_intersect_all,
     "SELECT x FROM (SELECT g x, row_number() OVER (PARTITION BY g) r FROM t INTERSECT "
     "SELECT k, row_number() OVER (PARTITION BY k) FROM u)",
     0},
    {"except_all", c_except_all,
     "SELECT x FROM (SELECT g x, row_number() OVER (PARTITION BY g) r FROM t EXCEPT "
     "SELECT k, row_number() OVER (PARTITION BY k) FROM u)",
     0},
    {"union_str", c_union_str, "SELECT s FROM t UNION SELECT name FROM u", 0},
    {"values", c_values, "VALUES (1,'a'),(2,NULL),(2,'a')", 0},
};

/* ---- running ----------------------------------------------------------------------------- */

static int run_plan(mc2_pnode *(*build)(void), const mc2_exec_opts *o, mc2_batch **out,
                    mc2_exec_stats *st, mc2_err *err)
{
    P = mc2_plan_new(0, err);
    if (!P) return -1;
    mc2_pnode *root = build();
    const mc2_err *pe = mc2_plan_error(P);
    if (pe || !root) {
        if (pe)
            *err = *pe;
        else
            mc2_err_set(err, MC2_E_INTERNAL, "builder returned NULL without an error");
        mc2_plan_free(P);
        P = NULL;
        return -1;
    }
    mc2_exec *x;
    int rc = mc2_exec_open(P, root, inputs, 3, o, &x, err);
    if (!rc) {
        rc = mc2_exec_collect(x, 10000000, out, err);
        if (st) mc2_exec_get_stats(x, st);
        mc2_exec_free(x);
    }
    return rc; /* the result batch's schema lives in P: free the batch first */
}

static int compare(const char *name, const char *cfg, rows *mine, rows *ref, int flags)
{
    if (mine->ncols != ref->ncols) {
        fprintf(stderr, "%s [%s]: %zu columns, sqlite %zu\n", name, cfg, mine->ncols, ref->ncols);
        return -1;
    }
    if (mine->n != ref->n) {
        fprintf(stderr, "%s [%s]: %zu rows, sqlite %zu\n", name, cfg, mine->n, ref->n);
        return -1;
    }
    if (!(flags & F_ORDERED)) {
        rows_sort(mine);
        rows_sort(ref);
    }
    double tol = flags & F_TOL6 ? 1e-6 : 1e-9;
    for (size_t r = 0; r < mine->n; r++)
        for (size_t c = 0; c < mine->ncols; c++) {
            const cell *a = &mine->c[r * mine->ncols + c], *b = &ref->c[r * ref->ncols + c];
            if (cell_cmp(a, b, tol)) {
                fprintf(stderr, "%s [%s]: row %zu col %zu: mine %s%s%g, sqlite %s%s%g\n", name, cfg,
                        r, c, a->kind == 0 ? "NULL" : "", a->kind == 1 ? a->s : "",
                        a->kind == 2 ? a->d : 0.0, b->kind == 0 ? "NULL" : "",
                        b->kind == 1 ? b->s : "", b->kind == 2 ? b->d : 0.0);
                return -1;
            }
        }
    return 0;
}

static mc2_spill_store *store;

static void run_cases(void)
{
    mc2_exec_opts big = {0};
    mc2_exec_opts tiny = {.mem_budget = 16 * 1024, .spill = store, .batch_rows = 64};
    mc2_exec_opts odd = {.batch_rows = 7};
    struct {
        const char *name;
        const mc2_exec_opts *o;
    } cfgs[] = {{"big", &big}, {"tiny+spill", &tiny}, {"chunk7", &odd}};
    size_t ncases = sizeof cases / sizeof *cases;
    unsigned ok = 0;
    for (size_t i = 0; i < ncases; i++) {
        const tcase *tc = &cases[i];
        rows ref = {0};
        char why[512];
        int r = sqlite_rows(tc->sql, &ref, why, sizeof why);
        CHECK_MSG(r == 0, "%s: %s", tc->name, why);
        if (r) continue;
        bool all = true;
        for (size_t k = 0; k < sizeof cfgs / sizeof *cfgs; k++) {
            mc2_err err;
            mc2_err_clear(&err);
            mc2_batch *b = NULL;
            int rc = run_plan(tc->build, cfgs[k].o, &b, NULL, &err);
            CHECK_MSG(rc == 0, "%s [%s]: %s", tc->name, cfgs[k].name, err.msg);
            if (rc) {
                all = false;
                continue;
            }
            rows mine = {0};
            batch_rows(b, tc->flags, &mine);
            rows refc = {0};
            refc.ncols = ref.ncols;
            for (size_t q = 0; q < ref.n; q++) {
                cell row[64];
                for (size_t c = 0; c < ref.ncols; c++) {
                    row[c] = ref.c[q * ref.ncols + c];
                    if (row[c].s) row[c].s = strdup(row[c].s);
                }
                rows_push(&refc, row);
            }
            int cr = compare(tc->name, cfgs[k].name, &mine, &refc, tc->flags);
            CHECK_MSG(cr == 0, "%s [%s] differs from sqlite", tc->name, cfgs[k].name);
            all &= cr == 0;
            rows_free(&mine);
            rows_free(&refc);
            mc2_batch_free(b);
            mc2_plan_free(P);
            P = NULL;
        }
        ok += all;
        rows_free(&ref);
    }
    printf("test_sql_exec: %u of %zu plans match sqlite in all %zu configurations\n", ok, ncases,
           sizeof cfgs / sizeof *cfgs);
}

/* The side a semi join holds is the one mc2_pn_join_set_build_outer says: under a 16 KiB
 * budget a table of t's 3000 rows spills, one of u's 400 rows (under MIN_SPILL_ROWS) does not.
 * The join that builds its outer side goes on one thread once it spilled. */
static void test_build_side(void)
{
    static const struct {
        const char *name;
        mc2_pnode *(*build)(void);
        unsigned spilled; /* joins whose build side went to partitions */
    } c[] = {
        {"semi", c_semi, 0},
        {"rs_semi", c_rs_semi, 1},
        {"rs_anti_resid", c_rs_anti_resid, 1},
        {"rs_u_semi", c_rs_u_semi, 0},
        {"rs_u_notin", c_rs_u_notin, 0},
    };
    mc2_exec_opts tiny = {.mem_budget = 16 * 1024, .spill = store, .batch_rows = 64};
    for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
        mc2_err err;
        mc2_batch *b = NULL;
        mc2_exec_stats st;
        int rc = run_plan(c[i].build, &tiny, &b, &st, &err);
        CHECK_MSG(rc == 0, "%s: %s", c[i].name, err.msg);
        CHECK_MSG(rc || st.spilled_joins == c[i].spilled, "%s: %u joins spilled, want %u",
                  c[i].name, st.spilled_joins, c[i].spilled);
        mc2_batch_free(b);
        mc2_plan_free(P);
        P = NULL;
    }
}

/* ---- errors ------------------------------------------------------------------------------ */

static mc2_pnode *e_overflow(void)
{
    mc2_pnode *t = T();
    mc2_pexpr *x = AR(MC2_PX_MUL, C(t, 2), C(t, 2));
    x = AR(MC2_PX_MUL, x, C(t, 2));
    x = AR(MC2_PX_MUL, x, mc2_px_cast(P, C(t, 2), (mc2_coltype){MC2_T_DECIMAL, 18, 0, 0}));
    return PROJ(t, 1, AR(MC2_PX_MUL, x, Dc(999999999, 0)));
}
static mc2_pnode *e_cast(void)
{
    mc2_pnode *t = T();
    return PROJ(t, 1, mc2_px_cast(P, C(t, 4), (mc2_coltype){MC2_T_INT64, 0, 0, 0}));
}
static mc2_pnode *e_type(void)
{
    mc2_pnode *t = T();
    return PROJ(t, 1, CMP(MC2_PX_EQ, C(t, 4), C(t, 0)));
}
static mc2_pnode *e_sum_overflow(void)
{
    mc2_pnode *t = T();
    /* about 9.9 * 10^37 per row (DECIMAL(38,0)): two rows pass 10^38 */
    mc2_coltype w = {MC2_T_DEC128, 38, 0, 0};
    mc2_pexpr *big =
        AR(MC2_PX_MUL, mc2_px_cast(P, Dc(999999999999999999LL, 0), w), Dc(999999999999999999LL, 0));
    mc2_pnode *p = PROJ(t, 1, AR(MC2_PX_MUL, big, Dc(99, 0)));
    return AGG(p, 0, NULL, 1, MC2_AGG_SUM, 0u, 0);
}
static mc2_pnode *e_like_type(void)
{
    mc2_pnode *t = T();
    return PROJ(t, 1, mc2_px_like(P, C(t, 0), "a", 1, -1, false));
}

static void test_errors(void)
{
    struct {
        mc2_pnode *(*b)(void);
        const char *needle;
    } es[] = {{e_overflow, "overflow"},
              {e_cast, "CAST from VARCHAR(20) to INT64 failed"},
              {e_type, "type mismatch: comparison of VARCHAR(20) and INT64"},
              {e_sum_overflow, "overflow in aggregate"},
              {e_like_type, "LIKE operand of INT64"}};
    for (size_t i = 0; i < sizeof es / sizeof *es; i++) {
        mc2_err err;
        mc2_err_clear(&err);
        mc2_batch *b = NULL;
        int rc = run_plan(es[i].b, NULL, &b, NULL, &err);
        CHECK_MSG(rc != 0 && strstr(err.msg, es[i].needle), "error %zu: got '%s'", i, err.msg);
        /* messages never carry data values */
        CHECK(!strstr(err.msg, "alpha") && !strstr(err.msg, "9999"));
        mc2_batch_free(b);
        mc2_plan_free(P);
        P = NULL;
    }
}

/* A FILTER evaluates an AND's conjuncts cheapest first, and once the rows left are at most
 * half of the chunk, later ones on those rows only: id * 2^62 overflows for every id >= 2,
 * but id < 2 (cheaper, though written second) leaves 2 rows of the first chunk and none of
 * the others. Evaluated whole, the AND fails with an overflow. */
static mc2_pnode *f_conjuncts(void)
{
    mc2_pnode *t = T();
    mc2_pexpr *big = CMP(MC2_PX_GE, AR(MC2_PX_MUL, C(t, 0), I(4611686018427387904LL)), I(0));
    return PROJ(FILT(t, mc2_px_and2(P, big, CMP(MC2_PX_LT, C(t, 0), I(2)))), 1, C(t, 0));
}

static void test_filter_conjuncts(void)
{
    mc2_err err;
    mc2_batch *b = NULL;
    int rc = run_plan(f_conjuncts, NULL, &b, NULL, &err);
    CHECK_MSG(rc == 0, "conjuncts: %s", rc ? err.msg : "");
    CHECK(rc || (b && b->nrows == 2 && b->cols[0].v.i64[0] == 0 && b->cols[0].v.i64[1] == 1));
    mc2_batch_free(b);
    mc2_plan_free(P);
    P = NULL;
}

/* ---- spilling at scale, and tampering ---------------------------------------------------- */

/* smaller under sanitizers, to keep the test's time in bounds */
#if defined(__SANITIZE_ADDRESS__)
#define NBIG 60000
#else
#define NBIG 200000
#endif
static mc2_column_def big_cols[] = {{"k", {MC2_T_INT64, 0, 0, 0}, false},
                                    {"v", {MC2_T_DECIMAL, 12, 2, 0}, true},
                                    {"s", {MC2_T_VARCHAR, 0, 0, 16}, false}};
static mc2_schema big_schema = {.name = "big", .ncols = 3, .cols = big_cols};
static mc2_batch *bigb[20];
static mc2_exec_input big_in;

static void make_big(size_t nrows)
{
    size_t per = nrows / 20;
    for (size_t bi = 0; bi < 20; bi++) {
        mc2_batch *b = bigb[bi] = mc2_batch_new(&big_schema, per, NULL);
        for (size_t r = 0; r < per; r++) {
            uint64_t x = rnd();
            /* skewed: a third of rows on key 7 */
            b->cols[0].v.i64[r] = x % 3 == 0 ? 7 : (int64_t)(x % 50000);
            b->cols[1].v.i64[r] = (int64_t)(rnd() % 100000);
            b->cols[1].nulls[r] = rnd() % 50 == 0;
            if (b->cols[1].nulls[r]) b->cols[1].v.i64[r] = 0;
            char s[17];
            snprintf(s, sizeof s, "k%llu", (unsigned long long)(rnd() % 100000));
            put_str(b, 2, r, s, 0);
        }
        b->nrows = per;
    }
    big_in.batches = (const mc2_batch *const *)bigb;
    big_in.nbatches = 20;
}

static mc2_pnode *big_agg(void)
{
    unsigned cols[] = {0, 1, 2};
    mc2_pnode *s = mc2_pn_scan(P, 0, &big_schema, cols, 3);
    unsigned k[] = {0};
    return AGG(s, 1, k, 5, MC2_AGG_COUNT_STAR, 0u, 0, MC2_AGG_SUM, 1u, 0, MC2_AGG_MAX, 2u, 0,
               MC2_AGG_COUNT, 2u, 1, MC2_AGG_AVG, 1u, 0);
}
static mc2_pnode *big_agg2(void)
{
    /* an aggregation over an aggregation (TPC-H Q13's shape): both spill */
    unsigned cols[] = {0, 2};
    mc2_pnode *s = mc2_pn_scan(P, 0, &big_schema, cols, 2);
    unsigned k[] = {0, 1};
    mc2_pnode *a = AGG(s, 2, k, 1, MC2_AGG_COUNT_STAR, 0u, 0);
    unsigned k2[] = {2};
    return AGG(a, 1, k2, 2, MC2_AGG_COUNT_STAR, 0u, 0, MC2_AGG_MIN, 1u, 0);
}
static mc2_pnode *big_sort(void)
{
    unsigned cols[] = {0, 1, 2};
    mc2_pnode *s = mc2_pn_scan(P, 0, &big_schema, cols, 3);
    return SORT(s, 3, 2u, 1, 0, 1u, 0, 1, 0u, 0, 0);
}

/* A join whose build side (distinct non-key values of big with a count, from rows with key
 * < 30000) far exceeds a 512 KiB budget, probed by big's rows with key >= 10000: both sides
 * have rows the other does not match, and NULLs in the join column (col 1). big_jt picks the
 * join type; INNER also has a residual. */
static enum mc2_join_type big_jt;
static mc2_pnode *big_join(void)
{
    unsigned lc[] = {0, 1, 2}, rc[] = {0, 1};
    mc2_pnode *l = mc2_pn_scan(P, 0, &big_schema, lc, 3);
    mc2_pnode *r = mc2_pn_scan(P, 0, &big_schema, rc, 2);
    l = FILT(l, CMP(MC2_PX_GE, C(l, 0), I(10000)));
    r = FILT(r, CMP(MC2_PX_LT, C(r, 0), I(30000)));
    unsigned k[] = {1};
    r = AGG(r, 1, k, 2, MC2_AGG_COUNT_STAR, 0u, 0, MC2_AGG_MIN, 0u, 0);
    mc2_pexpr *res = big_jt == MC2_JOIN_INNER ? CMP(MC2_PX_LT, CR(l, r, 2), C(l, 0)) : NULL;
    return HJ(big_jt, l, r, 1, 0, res);
}
/* NOT IN over the same build side (null-aware: its NULL key means no row qualifies), and over
 * its non-NULL keys (rows of big whose col 1 is in none of them). */
static mc2_pnode *big_notin(void)
{
    unsigned lc[] = {0, 1, 2}, rc[] = {0, 1};
    mc2_pnode *l = mc2_pn_scan(P, 0, &big_schema, lc, 3);
    mc2_pnode *r = mc2_pn_scan(P, 0, &big_schema, rc, 2);
    r = FILT(r, CMP(MC2_PX_LT, C(r, 0), I(30000)));
    if (big_jt == MC2_JOIN_SEMI) r = FILT(r, mc2_px_is_null(P, C(r, 1), true));
    unsigned k[] = {1};
    r = AGG(r, 1, k, 1, MC2_AGG_COUNT_STAR, 0u, 0);
    unsigned lk = 1, rk = 0;
    return mc2_pn_hash_join(P, MC2_JOIN_ANTI, l, r, &lk, &rk, 1, NULL, true);
}

/* Semi and anti joins that build their outer side (when big_outer), the distinct values of
 * big's col 1 from rows with key < 30000 (NULL among them; far beyond a 512 KiB budget),
 * probed by big's rows with key >= 10000 (and NULLs in col 1): SEMI, ANTI (big_jt), with a
 * residual (big_resid), and NOT IN with a NULL in the probe side (big_notnull false: no row)
 * or without (the unmatched non-NULL values). */
static bool big_outer, big_resid, big_notnull;
static mc2_pnode *big_rjoin(void)
{
    unsigned lc[] = {0, 1}, rc[] = {0, 1, 2};
    mc2_pnode *l = mc2_pn_scan(P, 0, &big_schema, lc, 2);
    mc2_pnode *r = mc2_pn_scan(P, 0, &big_schema, rc, 3);
    l = FILT(l, CMP(MC2_PX_LT, C(l, 0), I(30000)));
    unsigned k[] = {1};
    l = AGG(l, 1, k, 2, MC2_AGG_COUNT_STAR, 0u, 0, MC2_AGG_MIN, 0u, 0);
    r = FILT(r, CMP(MC2_PX_GE, C(r, 0), I(10000)));
    mc2_pexpr *res =
        big_resid ? CMP(MC2_PX_GT, CR(l, r, 0), AR(MC2_PX_ADD, C(l, 2), I(25000))) : NULL;
    mc2_pnode *j = HJ(big_jt, l, r, 0, 1, res);
    mc2_pn_join_set_build_outer(j, big_outer);
    return j;
}
static mc2_pnode *big_rnotin(void)
{
    unsigned lc[] = {0, 1}, rc[] = {0, 1};
    mc2_pnode *l = mc2_pn_scan(P, 0, &big_schema, lc, 2);
    mc2_pnode *r = mc2_pn_scan(P, 0, &big_schema, rc, 2);
    l = FILT(l, CMP(MC2_PX_LT, C(l, 0), I(30000)));
    unsigned k[] = {1};
    l = AGG(l, 1, k, 1, MC2_AGG_COUNT_STAR, 0u, 0);
    r = FILT(r, CMP(MC2_PX_GE, C(r, 0), I(10000)));
    if (big_notnull) r = FILT(r, mc2_px_is_null(P, C(r, 1), true));
    unsigned lk = 0, rk = 1;
    mc2_pnode *j = mc2_pn_hash_join(P, MC2_JOIN_ANTI, l, r, &lk, &rk, 1, NULL, true);
    mc2_pn_join_set_build_outer(j, big_outer);
    return j;
}

static int run_big(mc2_pnode *(*b)(void), const mc2_exec_opts *o, mc2_batch **out,
                   mc2_exec_stats *st, mc2_err *err)
{
    P = mc2_plan_new(0, err);
    mc2_pnode *root = b();
    mc2_exec *x;
    int rc = mc2_exec_open(P, root, &big_in, 1, o, &x, err);
    if (!rc) {
        rc = mc2_exec_collect(x, 10000000, out, err);
        mc2_exec_get_stats(x, st);
        mc2_exec_free(x);
    }
    return rc;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Tampering store: flips a byte of every block it returns. */
typedef struct evil {
    mc2_spill_store s;
    mc2_spill_store *inner;
    uint8_t buf[1 << 17];
} evil;
static int evil_put(void *ctx, uint64_t id, const uint8_t *p, size_t n, mc2_err *err)
{
    evil *e = ctx;
    return e->inner->put(e->inner->ctx, id, p, n, err);
}
static int evil_get(void *ctx, uint64_t id, const uint8_t **p, size_t *n, mc2_err *err)
{
    evil *e = ctx;
    const uint8_t *q;
    if (e->inner->get(e->inner->ctx, id, &q, n, err)) return -1;
    if (*n > sizeof e->buf) return -1;
    memcpy(e->buf, q, *n);
    e->buf[*n / 2] ^= 1;
    *p = e->buf;
    return 0;
}

static void evil_drop(void *ctx, uint64_t id)
{
    evil *e = ctx;
    e->inner->drop(e->inner->ctx, id);
}

static void test_big(void)
{
    make_big(NBIG);
    static const struct {
        const char *nm;
        mc2_pnode *(*b)(void);
        enum mc2_join_type jt;
        int flags; /* 1: build the outer side, 2: a residual, 4: NOT IN without NULLs */
    } bigc[] = {
        {"agg", big_agg, 0, 0},
        {"sort", big_sort, 0, 0},
        {"agg of agg", big_agg2, 0, 0},
        {"inner join", big_join, MC2_JOIN_INNER, 0},
        {"left join", big_join, MC2_JOIN_LEFT, 0},
        {"right join", big_join, MC2_JOIN_RIGHT, 0},
        {"full join", big_join, MC2_JOIN_FULL, 0},
        {"semi join", big_join, MC2_JOIN_SEMI, 0},
        {"anti join", big_join, MC2_JOIN_ANTI, 0},
        {"not in (a NULL among them)", big_notin, MC2_JOIN_ANTI, 0},
        {"not in", big_notin, MC2_JOIN_SEMI, 0},
        {"semi join, outer built", big_rjoin, MC2_JOIN_SEMI, 1},
        {"anti join, outer built", big_rjoin, MC2_JOIN_ANTI, 1},
        {"semi join with a residual, outer built", big_rjoin, MC2_JOIN_SEMI, 3},
        {"anti join with a residual, outer built", big_rjoin, MC2_JOIN_ANTI, 3},
        {"not in (a NULL among them), outer built", big_rnotin, MC2_JOIN_ANTI, 1},
        {"not in, outer built", big_rnotin, MC2_JOIN_ANTI, 5},
    };
    for (size_t which = 0; which < sizeof bigc / sizeof bigc[0]; which++) {
        mc2_pnode *(*b)(void) = bigc[which].b;
        const char *nm = bigc[which].nm;
        big_jt = bigc[which].jt;
        big_outer = bigc[which].flags & 1;
        big_resid = bigc[which].flags & 2;
        big_notnull = bigc[which].flags & 4;
        mc2_exec_opts big = {0};
        mc2_exec_opts tiny = {.mem_budget = 512 * 1024, .spill = store};
        mc2_err err;
        mc2_batch *r1 = NULL, *r2 = NULL;
        mc2_exec_stats s1, s2;
        double t0 = now();
        int rc1 = run_big(b, &big, &r1, &s1, &err);
        double t1 = now();
        CHECK_MSG(rc1 == 0, "big %s: %s", nm, err.msg);
        mc2_plan *p1 = P;
        int rc2 = run_big(b, &tiny, &r2, &s2, &err);
        double t2 = now();
        CHECK_MSG(rc2 == 0, "big %s spilled: %s", nm, err.msg);
        mc2_plan *p2 = P;
        CHECK_MSG(s2.spilled_bytes > 0, "big %s: nothing spilled", nm);
        bool join = b == big_join || b == big_notin || b == big_rjoin || b == big_rnotin;
        CHECK_MSG(!join || s2.spilled_joins == 1, "big %s: the join did not spill", nm);
        CHECK(s1.spilled_bytes == 0);
        if (!rc1 && !rc2) {
            rows a = {0}, c = {0};
            batch_rows(r1, 0, &a);
            batch_rows(r2, 0, &c);
            int flags = b == big_sort ? F_ORDERED : 0;
            CHECK_MSG(compare(nm, "spill vs memory", &a, &c, flags) == 0,
                      "big %s: spilled result differs", nm);
            rows_free(&c);
            if (big_outer) { /* the same rows as the join that builds the subquery side */
                mc2_batch *r0 = NULL;
                mc2_exec_stats s0;
                big_outer = false;
                int rc0 = run_big(b, &big, &r0, &s0, &err);
                CHECK_MSG(rc0 == 0, "big %s, subquery side built: %s", nm, err.msg);
                if (rc0 == 0) {
                    batch_rows(r0, 0, &c);
                    bool none = b == big_rnotin && !big_notnull; /* NOT IN, a NULL: none */
                    CHECK_MSG((a.n == 0) == none &&
                                  compare(nm, "outer built vs not", &a, &c, 0) == 0,
                              "big %s differs from the join that builds the subquery side", nm);
                    rows_free(&c);
                }
                mc2_batch_free(r0);
                mc2_plan_free(P);
            }
            rows_free(&a);
            printf("test_sql_exec: big %s over %d rows: %.1f Mrows/s in memory, %.1f Mrows/s "
                   "with a 512 KiB budget (%llu KiB spilled, peak %zu KiB)\n",
                   nm, NBIG, NBIG / (t1 - t0) / 1e6, NBIG / (t2 - t1) / 1e6,
                   (unsigned long long)(s2.spilled_bytes / 1024), s2.peak_mem / 1024);
        }
        mc2_batch_free(r1);
        mc2_batch_free(r2);
        mc2_plan_free(p1);
        mc2_plan_free(p2);
    }
    /* a host that alters spilled blocks is caught */
    evil *e = calloc(1, sizeof *e);
    e->inner = store;
    e->s.ctx = e;
    e->s.put = evil_put;
    e->s.get = evil_get;
    e->s.drop = evil_drop;
    mc2_exec_opts tiny = {.mem_budget = 512 * 1024, .spill = &e->s};
    mc2_err err;
    mc2_batch *r = NULL;
    mc2_exec_stats st;
    int rc = run_big(big_sort, &tiny, &r, &st, &err);
    CHECK_MSG(rc != 0 && err.code == MC2_E_AUTH, "tampered spill: rc %d code %d '%s'", rc,
              (int)err.code, err.msg);
    mc2_batch_free(r);
    mc2_plan_free(P);
    /* without a spill store, exceeding the budget is a clean error */
    mc2_exec_opts nostore = {.mem_budget = 256 * 1024};
    rc = run_big(big_sort, &nostore, &r, &st, &err);
    CHECK_MSG(rc != 0 && err.code == MC2_E_LIMIT, "no store: rc %d '%s'", rc, err.msg);
    mc2_batch_free(r);
    mc2_plan_free(P);
    free(e);
    for (int i = 0; i < 20; i++) mc2_batch_free(bigb[i]);
}

/* ---- throughput of a few operators (printed, never asserted) ----------------------------- */

static mc2_pnode *bench_filter(void)
{
    unsigned cols[] = {0, 1};
    mc2_pnode *s = mc2_pn_scan(P, 0, &big_schema, cols, 2);
    mc2_pnode *f = FILT(s, CMP(MC2_PX_LT, C(s, 1), Dc(5000000, 2)));
    return AGG(f, 0, NULL, 1, MC2_AGG_SUM, 1u, 0);
}
static mc2_pnode *bench_proj(void)
{
    unsigned cols[] = {0, 1};
    mc2_pnode *s = mc2_pn_scan(P, 0, &big_schema, cols, 2);
    mc2_pnode *p = PROJ(s, 1, AR(MC2_PX_MUL, C(s, 1), AR(MC2_PX_SUB, Dc(100, 2), Dc(5, 2))));
    return AGG(p, 0, NULL, 1, MC2_AGG_SUM, 0u, 0);
}
static mc2_pnode *bench_agg_simple(void)
{
    unsigned cols[] = {0, 1};
    mc2_pnode *s = mc2_pn_scan(P, 0, &big_schema, cols, 2);
    unsigned k[] = {0};
    return AGG(s, 1, k, 3, MC2_AGG_COUNT_STAR, 0u, 0, MC2_AGG_SUM, 1u, 0, MC2_AGG_MAX, 1u, 0);
}
static mc2_pnode *bench_join(void)
{
    unsigned cols[] = {0, 1};
    mc2_pnode *s = mc2_pn_scan(P, 0, &big_schema, cols, 2);
    mc2_pnode *s2 = mc2_pn_scan(P, 0, &big_schema, cols, 2);
    mc2_pnode *d = mc2_pn_distinct(P, PROJ(s2, 1, C(s2, 0)));
    mc2_pnode *j = HJ(MC2_JOIN_INNER, s, d, 0, 0, NULL);
    return AGG(j, 0, NULL, 1, MC2_AGG_COUNT_STAR, 0u, 0);
}

static void test_bench(void)
{
    const char *env = getenv("MC2_SQLX_BENCH");
    const char *only = getenv("MC2_SQLX_BENCH_ONLY");
    size_t n = env ? (size_t)atol(env) : NBIG;
    if (n < 20) n = 20;
    make_big(n);
    struct {
        const char *name;
        mc2_pnode *(*b)(void);
    } bs[] = {{"scan+filter+sum", bench_filter},
              {"scan+decimal project+sum", bench_proj},
              {"hash agg (50k groups, 5 aggs)", big_agg},
              {"hash agg (50k groups, 3 aggs)", bench_agg_simple},
              {"sort (3 keys, strings)", big_sort},
              {"distinct + hash join + count", bench_join}};
    for (size_t i = 0; i < sizeof bs / sizeof *bs; i++) {
        if (only && !strstr(bs[i].name, only)) continue;
        mc2_exec_opts o = {0};
        mc2_err err;
        mc2_batch *r = NULL;
        mc2_exec_stats st;
        double t0 = now();
        int rc = run_big(bs[i].b, &o, &r, &st, &err);
        double t1 = now();
        CHECK_MSG(rc == 0, "bench %s: %s", bs[i].name, err.msg);
        printf("test_sql_exec: %-32s %8.1f Mrows/s (%zu rows, %.3f s)\n", bs[i].name,
               (double)n / (t1 - t0) / 1e6, n, t1 - t0);
        mc2_batch_free(r);
        mc2_plan_free(P);
    }
    for (int i = 0; i < 20; i++) mc2_batch_free(bigb[i]);
}

/* ---- encrypted input, and allocation failures ------------------------------------------- */

static mc2_pnode *q_mixed(void)
{
    mc2_pnode *t = scan(0, 4, 0u, 1u, 2u, 4u), *u = U();
    mc2_pnode *j = HJ(MC2_JOIN_LEFT, t, u, 1, 0, CMP(MC2_PX_GT, C(t, 2), CR(t, u, 1)));
    unsigned k[] = {3, 6};
    mc2_pnode *a = AGG(j, 2, k, 3, MC2_AGG_SUM, 2u, 0, MC2_AGG_COUNT, 5u, 1, MC2_AGG_MAX, 0u, 0);
    return SORT(a, 2, 0u, 0, 1, 1u, 1, 0);
}

/* The same query over t as an encrypted table read block by block gives the same rows. */
static void test_encrypted_input(void)
{
    mc2_err err;
    mc2_batch *all = NULL;
    int rc = run_plan(c_scan, NULL, &all, NULL, &err);
    CHECK_MSG(rc == 0, "collect t: %s", err.msg);
    if (rc) return;
    uint8_t key[MC2_KEY_LEN] = {7};
    mc2_buf buf = {0};
    /* the sealed table's schema must be t's (names and all): reuse t_schema */
    all->schema = &t_schema;
    rc = mc2_table_seal_batch(all, key, &buf, &err);
    mc2_batch_free(all);
    mc2_plan_free(P);
    P = NULL;
    CHECK_MSG(rc == 0, "seal: %s", err.msg);
    mc2_treader *r = NULL;
    if (!rc) rc = mc2_treader_open_mem(buf.data, buf.len, key, &r, &err);
    CHECK_MSG(rc == 0, "treader: %s", err.msg);
    mc2_batch *a = NULL, *b = NULL;
    if (!rc) {
        mc2_exec_input saved = inputs[0];
        inputs[0].batches = NULL;
        inputs[0].nbatches = 0;
        inputs[0].reader = r;
        rc = run_plan(q_mixed, NULL, &a, NULL, &err);
        CHECK_MSG(rc == 0, "mixed over treader: %s", err.msg);
        mc2_plan *pa = P;
        inputs[0] = saved;
        int rc2 = run_plan(q_mixed, NULL, &b, NULL, &err);
        CHECK_MSG(rc2 == 0, "mixed over batches: %s", err.msg);
        if (!rc && !rc2) {
            rows x = {0}, y = {0};
            batch_rows(a, 0, &x);
            batch_rows(b, 0, &y);
            CHECK(x.n > 10);
            CHECK(compare("encrypted input", "treader vs batches", &x, &y, F_ORDERED) == 0);
            rows_free(&x);
            rows_free(&y);
        }
        mc2_batch_free(a);
        mc2_batch_free(b);
        mc2_plan_free(pa);
        mc2_plan_free(P);
        P = NULL;
    }
    mc2_treader_free(r);
    mc2_buf_free(&buf);
}

/* The N-th allocation fails, for every N until the query succeeds: always a clean error. The
 * queries: a LEFT join with a residual under an aggregation, and an anti join with a residual
 * that builds its outer side (which spills). */
static void test_alloc_failures(void)
{
    mc2_exec_opts tiny = {.mem_budget = 16 * 1024, .spill = store, .batch_rows = 64};
    mc2_pnode *(*const qs[])(void) = {q_mixed, c_rs_anti_resid};
    for (size_t q = 0; q < sizeof qs / sizeof *qs; q++) {
        unsigned long n;
        unsigned errors = 0;
        for (n = 1; n < 5000; n += (n < 200 ? 1 : 7)) {
            mc2_err err;
            mc2_err_clear(&err);
            mc2_batch *b = NULL;
            mc2_alloc_fail_after(n);
            int rc = run_plan(qs[q], &tiny, &b, NULL, &err);
            mc2_alloc_fail_after(0);
            mc2_batch_free(b);
            mc2_plan_free(P);
            P = NULL;
            if (rc == 0) break;
            errors++;
            CHECK_MSG(err.code == MC2_E_NOMEM || err.code == MC2_E_LIMIT, "n=%lu: code %d: %s", n,
                      (int)err.code, err.msg);
        }
        CHECK_MSG(n < 5000, "query %zu never succeeded", q + 1);
        printf("test_sql_exec: query %zu: %u injected allocation failures handled cleanly\n", q + 1,
               errors);
    }
}

int main(void)
{
    if (sqlite3_open(":memory:", &db) != SQLITE_OK) return 1;
    store = mc2_spill_memstore_new(NULL);
    if (!getenv("MC2_SQLX_BENCH_ONLY")) {
        make_data();
        run_cases();
        test_build_side();
        test_errors();
        test_filter_conjuncts();
        test_encrypted_input();
        test_alloc_failures();
        test_big();
    }
    test_bench();
    size_t held;
    uint64_t total;
    mc2_spill_memstore_stats(store, &held, &total);
    CHECK_MSG(held == 0, "spill store still holds %zu bytes", held);
    mc2_spill_memstore_free(store);
    for (int i = 0; i < 3; i++) mc2_batch_free(tb[i]);
    mc2_batch_free(ub[0]);
    sqlite3_close(db);
    return test_done("test_sql_exec");
}
