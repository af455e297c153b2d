/* sqlref.c - the SQLite oracle of the differential tests (see sqlref.h for the value
 * mapping and the comparison rules). */
#include "sqlref/sqlref.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/file.h"
#include "table/textio.h"
#include "table/value.h"

#define LOAD_ROWS 4096       /* rows parsed and inserted at a time */
#define LOAD_BUF  (8u << 20) /* read buffer; grows for a longer record */

static const int64_t POW10[19] = {1,
                                  10,
                                  100,
                                  1000,
                                  10000,
                                  100000,
                                  1000000,
                                  10000000,
                                  100000000,
                                  1000000000,
                                  10000000000,
                                  100000000000,
                                  1000000000000,
                                  10000000000000,
                                  100000000000000,
                                  1000000000000000,
                                  10000000000000000,
                                  100000000000000000,
                                  1000000000000000000};

static int db_fail(sqlite3 *db, mc2_err *err, const char *what)
{
    return mc2_err_set(err, MC2_E_INPUT, "sqlite: %s: %s", what, sqlite3_errmsg(db));
}

/* ---- dec(x, s) ---------------------------------------------------------------------------- */

/* Formats the scaled integer x with s (0..18) decimal places into buf (at least 48 bytes);
 * returns the length. */
static size_t format_dec(int64_t x, int s, char *buf)
{
    uint64_t v = x < 0 ? (uint64_t)0 - (uint64_t)x : (uint64_t)x;
    char tmp[48];
    size_t n = 0, k = 0;
    for (int d = 0; d < s; d++) { /* fraction digits, least significant first */
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    }
    if (s > 0) tmp[n++] = '.';
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    if (x < 0) buf[k++] = '-';
    while (n) buf[k++] = tmp[--n];
    buf[k] = '\0';
    return k;
}

static void fn_dec(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    if (sqlite3_value_type(argv[0]) != SQLITE_INTEGER ||
        sqlite3_value_type(argv[1]) != SQLITE_INTEGER || sqlite3_value_int(argv[1]) < 0 ||
        sqlite3_value_int(argv[1]) > 18) {
        sqlite3_result_error(ctx,
                             "dec(x, s) wants an INTEGER x (a DECIMAL kept scaled) and a scale "
                             "0..18; a REAL x means the query lost exactness",
                             -1);
        return;
    }
    char buf[48];
    size_t n = format_dec(sqlite3_value_int64(argv[0]), sqlite3_value_int(argv[1]), buf);
    sqlite3_result_text(ctx, buf, (int)n, SQLITE_TRANSIENT);
}

int sqlref_open(sqlite3 **db, mc2_err *err)
{
    *db = NULL;
    if (sqlite3_open_v2(":memory:", db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        mc2_err_set(err, MC2_E_INTERNAL, "sqlite: cannot open an in-memory database");
        sqlite3_close(*db);
        *db = NULL;
        return -1;
    }
    if (sqlite3_create_function(*db, "dec", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, fn_dec,
                                NULL, NULL) != SQLITE_OK ||
        sqlref_exec(*db, "PRAGMA case_sensitive_like = ON", err)) {
        db_fail(*db, err, "setup");
        sqlite3_close(*db);
        *db = NULL;
        return -1;
    }
    return 0;
}

void sqlref_close(sqlite3 *db)
{
    sqlite3_close(db);
}

int sqlref_exec(sqlite3 *db, const char *sql, mc2_err *err)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        mc2_err_set(err, MC2_E_INPUT, "sqlite: %s (in: %.200s)", msg ? msg : "failed", sql);
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

/* ---- tables ------------------------------------------------------------------------------- */

int sqlref_create_table(sqlite3 *db, const char *name, const mc2_schema *s, mc2_err *err)
{
    mc2_buf t = {0}, v = {0};
    int rc = -1, has_dec = 0;
    if (mc2_buf_printf(&t, err, "CREATE TABLE \"%s\" (", name) ||
        mc2_buf_printf(&v, err, "CREATE VIEW \"%s_real\" AS SELECT ", name))
        goto out;
    for (size_t i = 0; i < s->ncols; i++) {
        const mc2_column_def *c = &s->cols[i];
        const char *ty = "INTEGER";
        if (c->type.id == MC2_T_DOUBLE) ty = "REAL";
        if (c->type.id == MC2_T_DATE || c->type.id == MC2_T_VARCHAR) ty = "TEXT";
        if (mc2_buf_printf(&t, err, "%s\"%s\" %s%s", i ? ", " : "", c->name, ty,
                           c->nullable ? "" : " NOT NULL"))
            goto out;
        if (c->type.id == MC2_T_DECIMAL) {
            has_dec = 1;
            if (mc2_buf_printf(&v, err, "%s\"%s\" / %lld.0 AS \"%s\"", i ? ", " : "", c->name,
                               (long long)POW10[c->type.scale], c->name))
                goto out;
        } else if (mc2_buf_printf(&v, err, "%s\"%s\"", i ? ", " : "", c->name)) {
            goto out;
        }
    }
    if (mc2_buf_printf(&t, err, ")%c", '\0') ||
        mc2_buf_printf(&v, err, " FROM \"%s\"%c", name, '\0'))
        goto out;
    if (sqlref_exec(db, (const char *)t.data, err)) goto out;
    if (has_dec && sqlref_exec(db, (const char *)v.data, err)) goto out;
    rc = 0;
out:
    mc2_buf_free(&t);
    mc2_buf_free(&v);
    return rc;
}

/* "YYYY-MM-DD" of days since 1970-01-01 (H. Hinnant's civil_from_days); mc2 dates lie in
 * years 1..9999. */
static void format_date(int32_t days, char out[11])
{
    int64_t z = (int64_t)days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned d = doy - (153 * mp + 2) / 5 + 1;
    unsigned m = mp < 10 ? mp + 3 : mp - 9;
    unsigned y = (unsigned)((int64_t)yoe + era * 400 + (m <= 2)) % 10000;
    out[0] = (char)('0' + y / 1000);
    out[1] = (char)('0' + y / 100 % 10);
    out[2] = (char)('0' + y / 10 % 10);
    out[3] = (char)('0' + y % 10);
    out[4] = '-';
    out[5] = (char)('0' + m / 10);
    out[6] = (char)('0' + m % 10);
    out[7] = '-';
    out[8] = (char)('0' + d / 10);
    out[9] = (char)('0' + d % 10);
    out[10] = '\0';
}

int sqlref_insert_batch(sqlite3 *db, const char *name, const mc2_batch *b, mc2_err *err)
{
    const mc2_schema *s = b->schema;
    mc2_buf q = {0};
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (mc2_buf_printf(&q, err, "INSERT INTO \"%s\" VALUES (", name)) goto out;
    for (size_t c = 0; c < s->ncols; c++)
        if (mc2_buf_printf(&q, err, "%s?", c ? "," : "")) goto out;
    if (mc2_buf_printf(&q, err, ")%c", '\0')) goto out;
    if (sqlite3_prepare_v2(db, (const char *)q.data, -1, &st, NULL) != SQLITE_OK) {
        db_fail(db, err, "prepare insert");
        goto out;
    }
    for (size_t r = 0; r < b->nrows; r++) {
        for (size_t c = 0; c < s->ncols; c++) {
            const mc2_col *col = &b->cols[c];
            int k = (int)c + 1, brc;
            char date[11];
            if (col->nulls && col->nulls[r]) {
                brc = sqlite3_bind_null(st, k);
                continue;
            }
            switch (s->cols[c].type.id) {
            case MC2_T_INT64:
            case MC2_T_DECIMAL:
                brc = sqlite3_bind_int64(st, k, col->v.i64[r]);
                break;
            case MC2_T_DOUBLE:
                brc = sqlite3_bind_double(st, k, col->v.f64[r]);
                break;
            case MC2_T_DATE:
                format_date(col->v.i32[r], date);
                brc = sqlite3_bind_text(st, k, date, 10, SQLITE_TRANSIENT);
                break;
            case MC2_T_BOOL:
                brc = sqlite3_bind_int(st, k, col->v.b[r]);
                break;
            case MC2_T_VARCHAR:
                brc = sqlite3_bind_text(st, k, col->data + col->off[r],
                                        (int)(col->off[r + 1] - col->off[r]), SQLITE_STATIC);
                break;
            default:
                brc = SQLITE_MISUSE;
            }
            if (brc != SQLITE_OK) {
                db_fail(db, err, "bind");
                goto out;
            }
        }
        if (sqlite3_step(st) != SQLITE_DONE) {
            db_fail(db, err, "insert");
            goto out;
        }
        sqlite3_reset(st);
    }
    rc = 0;
out:
    sqlite3_finalize(st);
    mc2_buf_free(&q);
    return rc;
}

int sqlref_load_file(sqlite3 *db, const char *name, const mc2_schema *s, const char *path,
                     enum mc2_textfmt fmt, mc2_err *err)
{
    int fd = -1, rc = -1, in_tx = 0, header = fmt == MC2_FMT_CSV, eof = 0;
    char *buf = NULL;
    size_t cap = LOAD_BUF, len = 0;
    uint64_t line = 1;
    mc2_batch *b = NULL;
    if (sqlref_create_table(db, name, s, err)) return -1;
    if (!(b = mc2_batch_new(s, LOAD_ROWS, err))) return -1;
    if (!(buf = mc2_malloc(cap))) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        goto out;
    }
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        mc2_err_set(err, errno == ENOENT ? MC2_E_NOTFOUND : MC2_E_IO, "cannot open '%s': %s", path,
                    strerror(errno));
        goto out;
    }
    if (sqlref_exec(db, "BEGIN", err)) goto out;
    in_tx = 1;
    size_t at = 0; /* buf[at..len) is not parsed yet */
    for (;;) {
        /* Complete records only; while more may come, the last byte (a CR whose LF has not
         * arrived yet) is left for later. */
        size_t avail = len - at;
        size_t lim = eof ? avail : (avail ? avail - 1 : 0);
        uint64_t want = header ? 1 : LOAD_ROWS, recs = 0, nl = 0;
        mc2_scan sc = {0};
        size_t used = mc2_text_scan(fmt, &sc, buf + at, lim, want, &recs, &nl);
        if (!eof && recs < want && !(recs > 0 && at == 0 && len == cap)) {
            /* Read more first: move the tail to the front, grow if a record fills it all. */
            memmove(buf, buf + at, avail);
            len = avail;
            at = 0;
            if (len == cap) {
                char *nb = mc2_realloc(buf, cap * 2);
                if (!nb) {
                    mc2_err_set(err, MC2_E_NOMEM, "out of memory");
                    goto out;
                }
                buf = nb;
                cap *= 2;
            }
            ssize_t n = read(fd, buf + len, cap - len);
            if (n < 0) {
                mc2_err_set(err, MC2_E_IO, "cannot read '%s': %s", path, strerror(errno));
                goto out;
            }
            if (n == 0) eof = 1;
            len += (size_t)n;
            continue;
        }
        if (recs > 0 && recs < want) { /* used ran past the last record end: find it */
            mc2_scan sc2 = {0};
            uint64_t r2 = 0;
            nl = 0;
            used = mc2_text_scan(fmt, &sc2, buf + at, lim, recs, &r2, &nl);
        }
        if (recs == 0) { /* at the end: a last record without a line end, or nothing */
            if (avail == 0) break;
            used = avail;
            nl = 0;
        }
        const char *p = buf + at;
        if (header) {
            size_t h = used;
            while (h && (p[h - 1] == '\n' || p[h - 1] == '\r')) h--;
            if (mc2_text_check_header(p, h, s, path, err)) goto out;
            header = 0;
        } else {
            mc2_batch_clear(b);
            mc2_textpos pos = {path, line};
            if (mc2_text_parse(fmt, p, used, &pos, b, err)) goto out;
            if (sqlref_insert_batch(db, name, b, err)) goto out;
        }
        line += nl;
        at += used;
        if (eof && at == len) break;
    }
    if (sqlref_exec(db, "COMMIT", err)) goto out;
    in_tx = 0;
    rc = 0;
out:
    if (in_tx) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    if (fd >= 0) close(fd);
    mc2_free(buf);
    mc2_batch_free(b);
    return rc;
}

int sqlref_load_tpch(sqlite3 *db, const char *dir, const char *schema_dir, int indexes,
                     mc2_err *err)
{
    static const char *const TABLES[] = {"region", "nation",   "supplier", "customer",
                                         "part",   "partsupp", "orders",   "lineitem"};
    for (size_t i = 0; i < sizeof TABLES / sizeof TABLES[0]; i++) {
        char spath[4096], dpath[4096];
        snprintf(spath, sizeof spath, "%s/%s.yaml", schema_dir, TABLES[i]);
        snprintf(dpath, sizeof dpath, "%s/%s.tbl", dir, TABLES[i]);
        mc2_schema *s = NULL;
        if (mc2_schema_load(spath, &s, err)) return -1;
        int rc = sqlref_load_file(db, TABLES[i], s, dpath, MC2_FMT_TBL, err);
        mc2_schema_free(s);
        if (rc) return -1;
    }
    if (!indexes) return 0;
    return sqlref_exec(db,
                       "CREATE UNIQUE INDEX region_pk ON region(r_regionkey);"
                       "CREATE UNIQUE INDEX nation_pk ON nation(n_nationkey);"
                       "CREATE UNIQUE INDEX supplier_pk ON supplier(s_suppkey);"
                       "CREATE UNIQUE INDEX customer_pk ON customer(c_custkey);"
                       "CREATE UNIQUE INDEX part_pk ON part(p_partkey);"
                       "CREATE UNIQUE INDEX partsupp_pk ON partsupp(ps_partkey, ps_suppkey);"
                       "CREATE UNIQUE INDEX orders_pk ON orders(o_orderkey);"
                       "CREATE INDEX orders_cust ON orders(o_custkey);"
                       "CREATE INDEX lineitem_order ON lineitem(l_orderkey);"
                       "CREATE INDEX lineitem_part ON lineitem(l_partkey, l_suppkey);"
                       "ANALYZE;",
                       err);
}

/* ---- results ------------------------------------------------------------------------------ */

static sqlref_result *result_new(size_t ncols, mc2_err *err)
{
    sqlref_result *r = mc2_calloc(1, sizeof *r);
    if (r) r->ncols = ncols;
    if (r && ncols && !(r->names = mc2_calloc(ncols, sizeof *r->names))) {
        mc2_free(r);
        r = NULL;
    }
    if (!r) mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    return r;
}

/* Makes room for one more row and returns its cells (zeroed: NULL). */
static sqlref_cell *result_add_row(sqlref_result *r, mc2_err *err)
{
    if (r->nrows == r->cap) {
        size_t nc = r->cap ? 2 * r->cap : 64, bytes;
        if (!mc2_mul_size(nc, (r->ncols ? r->ncols : 1) * sizeof *r->cells, &bytes)) {
            mc2_err_set(err, MC2_E_LIMIT, "result too large");
            return NULL;
        }
        sqlref_cell *c = mc2_realloc(r->cells, bytes);
        if (!c) {
            mc2_err_set(err, MC2_E_NOMEM, "out of memory");
            return NULL;
        }
        r->cells = c;
        r->cap = nc;
    }
    sqlref_cell *row = &r->cells[r->nrows * r->ncols];
    memset(row, 0, r->ncols * sizeof *row);
    r->nrows++;
    return row;
}

static int set_text(sqlref_cell *c, const char *s, size_t n, mc2_err *err)
{
    c->kind = SQLREF_TEXT;
    c->s = mc2_malloc(n + 1);
    if (!c->s) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    if (n) memcpy(c->s, s, n);
    c->s[n] = '\0';
    c->len = n;
    return 0;
}

void sqlref_result_free(sqlref_result *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->nrows * r->ncols; i++) mc2_free(r->cells[i].s);
    for (size_t i = 0; i < r->ncols; i++) mc2_free(r->names[i]);
    mc2_free(r->names);
    mc2_free(r->cells);
    mc2_free(r);
}

int sqlref_query(sqlite3 *db, const char *sql, sqlref_result **out, mc2_err *err)
{
    sqlite3_stmt *st = NULL;
    const char *tail = NULL;
    *out = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, &tail) != SQLITE_OK || !st) {
        db_fail(db, err, "prepare");
        sqlite3_finalize(st);
        return -1;
    }
    for (; tail && *tail; tail++)
        if (*tail != ' ' && *tail != '\n' && *tail != '\t' && *tail != '\r' && *tail != ';') {
            sqlite3_finalize(st);
            return mc2_err_set(err, MC2_E_USAGE, "sqlref_query: more than one statement");
        }
    size_t ncols = (size_t)sqlite3_column_count(st);
    sqlref_result *r = result_new(ncols, err);
    if (!r) goto fail;
    for (size_t c = 0; c < ncols; c++) {
        const char *nm = sqlite3_column_name(st, (int)c);
        if (!(r->names[c] = mc2_strdup(nm ? nm : ""))) {
            mc2_err_set(err, MC2_E_NOMEM, "out of memory");
            goto fail;
        }
    }
    int src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        sqlref_cell *row = result_add_row(r, err);
        if (!row) goto fail;
        for (size_t c = 0; c < ncols; c++) {
            int k = (int)c;
            switch (sqlite3_column_type(st, k)) {
            case SQLITE_INTEGER:
                row[c].kind = SQLREF_INT;
                row[c].i = sqlite3_column_int64(st, k);
                break;
            case SQLITE_FLOAT:
                row[c].kind = SQLREF_REAL;
                row[c].r = sqlite3_column_double(st, k);
                break;
            case SQLITE_NULL:
                row[c].kind = SQLREF_NULL;
                break;
            default: {
                const char *t = (const char *)sqlite3_column_text(st, k);
                if (set_text(&row[c], t ? t : "", (size_t)sqlite3_column_bytes(st, k), err))
                    goto fail;
            }
            }
        }
    }
    if (src != SQLITE_DONE) {
        db_fail(db, err, "query");
        goto fail;
    }
    sqlite3_finalize(st);
    *out = r;
    return 0;
fail:
    sqlite3_finalize(st);
    sqlref_result_free(r);
    return -1;
}

int sqlref_query_file(sqlite3 *db, const char *path, sqlref_result **out, mc2_err *err)
{
    mc2_buf b = {0};
    if (mc2_file_read_all(path, 1u << 20, &b, err) || mc2_buf_append(&b, "", 1, err)) {
        mc2_buf_free(&b);
        return -1;
    }
    int rc = sqlref_query(db, (const char *)b.data, out, err);
    if (rc) mc2_err_prefix(err, "'%s': ", path);
    mc2_buf_free(&b);
    return rc;
}

sqlref_result *sqlref_result_for_schema(const mc2_schema *s, mc2_err *err)
{
    sqlref_result *r = result_new(s->ncols, err);
    if (!r) return NULL;
    for (size_t c = 0; c < s->ncols; c++)
        if (!(r->names[c] = mc2_strdup(s->cols[c].name))) {
            sqlref_result_free(r);
            mc2_err_set(err, MC2_E_NOMEM, "out of memory");
            return NULL;
        }
    return r;
}

int sqlref_result_append_batch(sqlref_result *r, const mc2_batch *b, mc2_err *err)
{
    const mc2_schema *s = b->schema;
    if (s->ncols != r->ncols)
        return mc2_err_set(err, MC2_E_USAGE, "batch has %zu columns, the result %zu", s->ncols,
                           r->ncols);
    for (size_t i = 0; i < b->nrows; i++) {
        sqlref_cell *row = result_add_row(r, err);
        if (!row) return -1;
        for (size_t c = 0; c < s->ncols; c++) {
            const mc2_col *col = &b->cols[c];
            sqlref_cell *x = &row[c];
            if (col->nulls && col->nulls[i]) continue;
            switch (s->cols[c].type.id) {
            case MC2_T_INT64:
                x->kind = SQLREF_INT;
                x->i = col->v.i64[i];
                break;
            case MC2_T_DECIMAL:
                x->kind = SQLREF_DEC;
                x->i = col->v.i64[i];
                x->scale = s->cols[c].type.scale;
                break;
            case MC2_T_DEC128: { /* a wide DECIMAL: exact as DEC if it fits 64 bits, else text */
                mc2_i128 w = col->v.i128[i];
                if (w >= INT64_MIN && w <= INT64_MAX) {
                    x->kind = SQLREF_DEC;
                    x->i = (int64_t)w;
                    x->scale = s->cols[c].type.scale;
                } else {
                    char t[MC2_VALUE_TEXT_MAX];
                    size_t tn = mc2_format_decimal128(w, s->cols[c].type.scale, t);
                    if (set_text(x, t, tn, err)) return -1;
                }
                break;
            }
            case MC2_T_DOUBLE:
                x->kind = SQLREF_REAL;
                x->r = col->v.f64[i];
                break;
            case MC2_T_BOOL:
                x->kind = SQLREF_INT;
                x->i = col->v.b[i];
                break;
            case MC2_T_DATE: {
                char d[11];
                format_date(col->v.i32[i], d);
                if (set_text(x, d, 10, err)) return -1;
                break;
            }
            case MC2_T_VARCHAR:
                if (set_text(x, col->data + col->off[i], col->off[i + 1] - col->off[i], err))
                    return -1;
                break;
            }
        }
    }
    return 0;
}

/* ---- comparison --------------------------------------------------------------------------- */

/* An exact decimal: m * 10^-scale. */
typedef struct xdec {
    __int128 m;
    int scale;
} xdec;

/* Parses -?[0-9]+(\.[0-9]+)? with at most 36 digits. */
static int parse_dec(const char *s, size_t n, xdec *out)
{
    size_t i = 0;
    int neg = 0, digits = 0, scale = 0, dot = 0;
    __int128 m = 0;
    if (i < n && (s[i] == '-' || s[i] == '+')) neg = s[i++] == '-';
    for (; i < n; i++) {
        if (s[i] == '.' && !dot) {
            dot = 1;
            continue;
        }
        if (s[i] < '0' || s[i] > '9' || ++digits > 36) return -1;
        m = m * 10 + (s[i] - '0');
        scale += dot;
    }
    if (!digits || (dot && !scale)) return -1;
    out->m = neg ? -m : m;
    out->scale = scale;
    return 0;
}

/* The exact value of a cell, if it has one (INT, DEC, a decimal TEXT). */
static int exact_of(const sqlref_cell *c, xdec *x)
{
    switch (c->kind) {
    case SQLREF_INT:
        x->m = c->i, x->scale = 0;
        return 0;
    case SQLREF_DEC:
        x->m = c->i, x->scale = c->scale;
        return 0;
    case SQLREF_TEXT:
        return parse_dec(c->s, c->len, x);
    default:
        return -1;
    }
}

static int double_of(const sqlref_cell *c, double *d)
{
    xdec x;
    if (c->kind == SQLREF_REAL) {
        *d = c->r;
        return 0;
    }
    if (exact_of(c, &x)) return -1;
    if (c->kind == SQLREF_TEXT) {
        *d = strtod(c->s, NULL);
        return 0;
    }
    *d = (double)x.m;
    for (int k = 0; k < x.scale; k++) *d /= 10;
    return 0;
}

/* -1/0/1 comparing exact decimals; 2 if scaling would overflow. */
static int xdec_cmp(xdec a, xdec b)
{
    while (a.scale < b.scale) {
        if (__builtin_mul_overflow(a.m, 10, &a.m)) return 2;
        a.scale++;
    }
    while (b.scale < a.scale) {
        if (__builtin_mul_overflow(b.m, 10, &b.m)) return 2;
        b.scale++;
    }
    return (a.m > b.m) - (a.m < b.m);
}

int sqlref_cell_cmp(const sqlref_cell *e, const sqlref_cell *a, double reltol)
{
    if (e->kind == SQLREF_NULL || a->kind == SQLREF_NULL) return e->kind != a->kind;
    if (e->kind == SQLREF_TEXT && a->kind == SQLREF_TEXT)
        return e->len != a->len || memcmp(e->s, a->s, e->len) != 0;
    xdec xe, xa;
    if (!exact_of(e, &xe) && !exact_of(a, &xa)) {
        int c = xdec_cmp(xe, xa);
        if (c != 2) return c != 0;
    }
    double de, da;
    if (double_of(e, &de) || double_of(a, &da)) return 1;
    if (isnan(de) || isnan(da)) return !(isnan(de) && isnan(da));
    double diff = fabs(de - da), mag = fmax(fmax(fabs(de), fabs(da)), 1.0);
    return !(diff <= reltol * mag);
}

/* A total order for sorting rows before a multiset comparison: NULL, numbers, text. */
static int cell_order(const sqlref_cell *a, const sqlref_cell *b)
{
    int ra = a->kind == SQLREF_NULL ? 0 : a->kind == SQLREF_TEXT ? 2 : 1;
    int rb = b->kind == SQLREF_NULL ? 0 : b->kind == SQLREF_TEXT ? 2 : 1;
    /* Decimal text sorts with the numbers, so "12.50" and 12.5 land in the same place. */
    xdec x;
    if (ra == 2 && !parse_dec(a->s, a->len, &x)) ra = 1;
    if (rb == 2 && !parse_dec(b->s, b->len, &x)) rb = 1;
    if (ra != rb) return ra - rb;
    if (ra == 0) return 0;
    if (ra == 1) {
        double da = 0, db = 0;
        (void)double_of(a, &da);
        (void)double_of(b, &db);
        return (da > db) - (da < db);
    }
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->s, b->s, n);
    return c ? c : (a->len > b->len) - (a->len < b->len);
}

static int row_order(const void *x, const void *y, void *ctx)
{
    const sqlref_result *r = ctx;
    const sqlref_cell *a = &r->cells[*(const size_t *)x * r->ncols];
    const sqlref_cell *b = &r->cells[*(const size_t *)y * r->ncols];
    for (size_t c = 0; c < r->ncols; c++) {
        int o = cell_order(&a[c], &b[c]);
        if (o) return o;
    }
    return 0;
}

/* Reorders r's rows into row_order. */
static int sort_rows(sqlref_result *r)
{
    if (r->nrows < 2 || r->ncols == 0) return 0;
    size_t *idx = mc2_calloc(r->nrows, sizeof *idx);
    sqlref_cell *cells = mc2_calloc(r->nrows * r->ncols, sizeof *cells);
    if (!idx || !cells) {
        mc2_free(idx);
        mc2_free(cells);
        return -1;
    }
    for (size_t i = 0; i < r->nrows; i++) idx[i] = i;
    qsort_r(idx, r->nrows, sizeof *idx, row_order, r);
    for (size_t i = 0; i < r->nrows; i++)
        memcpy(&cells[i * r->ncols], &r->cells[idx[i] * r->ncols], r->ncols * sizeof *cells);
    mc2_free(r->cells);
    r->cells = cells;
    r->cap = r->nrows;
    mc2_free(idx);
    return 0;
}

const char *sqlref_cell_str(const sqlref_cell *c, char *buf, size_t len)
{
    char d[48];
    switch (c->kind) {
    case SQLREF_NULL:
        snprintf(buf, len, "NULL");
        break;
    case SQLREF_INT:
        snprintf(buf, len, "%lld", (long long)c->i);
        break;
    case SQLREF_DEC:
        format_dec(c->i, c->scale, d);
        snprintf(buf, len, "%s", d);
        break;
    case SQLREF_REAL:
        snprintf(buf, len, "%.17g", c->r);
        break;
    case SQLREF_TEXT:
        snprintf(buf, len, "'%s'", c->s);
        break;
    }
    return buf;
}

int sqlref_result_cmp(sqlref_result *e, sqlref_result *a, int ordered, double reltol, char *why,
                      size_t whylen)
{
    if (e->ncols != a->ncols) {
        snprintf(why, whylen, "expected %zu columns, got %zu", e->ncols, a->ncols);
        return 1;
    }
    if (e->nrows != a->nrows) {
        snprintf(why, whylen, "expected %zu rows, got %zu", e->nrows, a->nrows);
        return 1;
    }
    if (!ordered && (sort_rows(e) || sort_rows(a))) {
        snprintf(why, whylen, "out of memory");
        return 1;
    }
    for (size_t r = 0; r < e->nrows; r++)
        for (size_t c = 0; c < e->ncols; c++)
            if (sqlref_cell_cmp(sqlref_at(e, r, c), sqlref_at(a, r, c), reltol)) {
                char x[128], y[128];
                snprintf(why, whylen, "row %zu%s, column %zu (%s): expected %s, got %s", r + 1,
                         ordered ? "" : " (after sorting)", c + 1, e->names[c],
                         sqlref_cell_str(sqlref_at(e, r, c), x, sizeof x),
                         sqlref_cell_str(sqlref_at(a, r, c), y, sizeof y));
                return 1;
            }
    return 0;
}
