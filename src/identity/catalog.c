/* catalog.c - a party's record of its own uploads ($MC2_HOME/catalog; mc2/catalog.h,
 * docs/format.md "Table catalog"): the strict parser, the canonical writer, and the locked,
 * atomic read-modify-write of the file. */
#include "mc2/catalog.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/file.h"
#include "base/hex.h"

static const char HEADER[] = "mc2-catalog v1";
static const char PREV_FILE[] = "catalog.prev";
static const char LOCK_FILE[] = "catalog.lock";

static const char *const STATE_NAMES[] = {NULL, "uploaded", "adopted", "pending"};

const char *mc2_catalog_state_name(enum mc2_catalog_state s)
{
    return s >= MC2_CAT_UPLOADED && s <= MC2_CAT_PENDING ? STATE_NAMES[s] : "?";
}

void mc2_catalog_free(mc2_catalog *c)
{
    mc2_free(c->e);
    memset(c, 0, sizeof *c);
}

/* Orders entries by consortium, name, version: <0, 0, >0. */
static int entry_cmp(const mc2_catalog_entry *a, const mc2_catalog_entry *b)
{
    int d = memcmp(a->consortium, b->consortium, MC2_SHA256_LEN);
    if (d == 0) d = strcmp(a->name, b->name);
    if (d == 0) d = a->version < b->version ? -1 : a->version > b->version;
    return d;
}

/* Orders (consortium, name) keys. */
static int key_cmp(const mc2_catalog_entry *a, const uint8_t cons[32], const char *name)
{
    int d = memcmp(a->consortium, cons, MC2_SHA256_LEN);
    return d ? d : strcmp(a->name, name);
}

/* ---- text ----------------------------------------------------------------------------------- */

int mc2_catalog_format(const mc2_catalog *c, char **out, size_t *len, mc2_err *err)
{
    mc2_buf b = {0};
    if (mc2_buf_printf(&b, err, "%s\n", HEADER)) goto fail;
    for (size_t i = 0; i < c->n; i++) {
        const mc2_catalog_entry *e = &c->e[i];
        char cons[65], id[33], sh[65];
        mc2_hex_encode(e->consortium, sizeof e->consortium, cons);
        mc2_hex_encode(e->table_id, sizeof e->table_id, id);
        mc2_hex_encode(e->schema_hash, sizeof e->schema_hash, sh);
        if (mc2_buf_printf(&b, err, "table %s %s %llu %s %s %llu %llu %llu %llu %s\n", cons,
                           e->name, (unsigned long long)e->version, id, sh,
                           (unsigned long long)e->rows, (unsigned long long)e->blocks,
                           (unsigned long long)e->bytes, (unsigned long long)e->time,
                           mc2_catalog_state_name(e->state)))
            goto fail;
    }
    if (mc2_buf_append(&b, "", 1, err)) goto fail;
    *out = (char *)b.data;
    *len = b.len - 1;
    return 0;
fail:
    mc2_buf_free(&b);
    return -1;
}

/* A field: the bytes up to the next space or the end of the line. */
typedef struct field {
    const char *p;
    size_t n;
} field;

/* Splits line[0..n) at single spaces into exactly `want` non-empty fields. */
static int split(const char *line, size_t n, field *f, size_t want)
{
    size_t k = 0, start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && line[i] != ' ') continue;
        if (i == start || k == want) return -1;
        f[k].p = line + start;
        f[k].n = i - start;
        k++;
        start = i + 1;
    }
    return k == want ? 0 : -1;
}

/* Lowercase hex of exactly 2*len digits. */
static int hex_field(const field *f, uint8_t *out, size_t len)
{
    char tmp[65];
    if (f->n != 2 * len || f->n >= sizeof tmp) return -1;
    for (size_t i = 0; i < f->n; i++)
        if (!((f->p[i] >= '0' && f->p[i] <= '9') || (f->p[i] >= 'a' && f->p[i] <= 'f'))) return -1;
    memcpy(tmp, f->p, f->n);
    tmp[f->n] = '\0';
    return mc2_hex_decode(tmp, out, len) ? -1 : 0;
}

/* A decimal without sign or leading zeros, at most MC2_CATALOG_NUM_MAX. */
static int num_field(const field *f, uint64_t *out)
{
    uint64_t v = 0;
    if (f->n == 0 || f->n > 19 || (f->p[0] == '0' && f->n > 1)) return -1;
    for (size_t i = 0; i < f->n; i++) {
        if (f->p[i] < '0' || f->p[i] > '9') return -1;
        v = v * 10 + (uint64_t)(f->p[i] - '0'); /* 19 digits fit in a u64 */
    }
    if (v > MC2_CATALOG_NUM_MAX) return -1;
    *out = v;
    return 0;
}

/* Parses one "table ..." line (without its LF) into e; returns NULL or what is wrong. */
static const char *parse_line(const char *l, size_t n, mc2_catalog_entry *e)
{
    field f[11];
    memset(e, 0, sizeof *e);
    if (split(l, n, f, 11) || f[0].n != 5 || memcmp(f[0].p, "table", 5) != 0)
        return "expected 'table' and ten fields separated by single spaces";
    if (hex_field(&f[1], e->consortium, sizeof e->consortium))
        return "bad consortium (64 lowercase hex digits)";
    if (f[2].n > MC2_TABLE_NAME_MAX || memchr(f[2].p, '\0', f[2].n)) return "bad table name";
    memcpy(e->name, f[2].p, f[2].n);
    e->name[f[2].n] = '\0';
    if (mc2_table_name_check(e->name, NULL)) return "bad table name";
    if (num_field(&f[3], &e->version)) return "bad version";
    if (hex_field(&f[4], e->table_id, sizeof e->table_id))
        return "bad table id (32 lowercase hex digits)";
    if (hex_field(&f[5], e->schema_hash, sizeof e->schema_hash))
        return "bad schema hash (64 lowercase hex digits)";
    if (num_field(&f[6], &e->rows) || num_field(&f[7], &e->blocks) || num_field(&f[8], &e->bytes) ||
        num_field(&f[9], &e->time))
        return "bad count, size or time";
    e->state = 0;
    for (int s = MC2_CAT_UPLOADED; s <= MC2_CAT_PENDING; s++)
        if (f[10].n == strlen(STATE_NAMES[s]) && memcmp(f[10].p, STATE_NAMES[s], f[10].n) == 0)
            e->state = (enum mc2_catalog_state)s;
    if (!e->state) return "bad state (uploaded, adopted or pending)";
    if (e->version == 0 && e->state != MC2_CAT_ADOPTED)
        return "version 0 (a format-1 table) can only be adopted";
    return NULL;
}

/* Appends e to c (growing it). */
static int push(mc2_catalog *c, const mc2_catalog_entry *e, mc2_err *err)
{
    if (c->n >= MC2_CATALOG_MAX_ENTRIES)
        return mc2_err_set(err, MC2_E_LIMIT, "the table catalog holds %d entries, its limit",
                           MC2_CATALOG_MAX_ENTRIES);
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        mc2_catalog_entry *ne = mc2_realloc(c->e, cap * sizeof *ne);
        if (!ne) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        c->e = ne;
        c->cap = cap;
    }
    c->e[c->n++] = *e;
    return 0;
}

int mc2_catalog_parse(const char *what, const char *text, size_t n, mc2_catalog *c, mc2_err *err)
{
    memset(c, 0, sizeof *c);
    if (n > MC2_CATALOG_MAX_BYTES)
        return mc2_err_set(err, MC2_E_LIMIT, "%s: larger than %u bytes", what,
                           MC2_CATALOG_MAX_BYTES);
    const char *p = text, *end = text + n;
    size_t same = 0;
    for (unsigned line = 1; p < end; line++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *bad = NULL;
        mc2_catalog_entry e;
        if (!nl) {
            bad = "the line does not end with a line feed";
        } else if (line == 1) {
            if ((size_t)(nl - p) != sizeof HEADER - 1 || memcmp(p, HEADER, sizeof HEADER - 1))
                bad = "expected 'mc2-catalog v1' (is this an mc2 table catalog?)";
        } else if ((bad = parse_line(p, (size_t)(nl - p), &e)) == NULL) {
            const mc2_catalog_entry *prev = c->n ? &c->e[c->n - 1] : NULL;
            if (prev && entry_cmp(prev, &e) >= 0)
                bad = "entries out of order or repeated (sorted by consortium, name, version)";
            else if ((same = prev && key_cmp(prev, e.consortium, e.name) == 0 ? same + 1 : 1) >
                     MC2_CATALOG_KEEP)
                bad = "more versions of one table than a catalog keeps";
            else if (push(c, &e, err))
                goto fail;
        }
        if (bad) {
            mc2_err_set(err, MC2_E_INPUT, "%s line %u: %s", what, line, bad);
            goto fail;
        }
        p = nl + 1;
    }
    if (n == 0) {
        mc2_err_set(err, MC2_E_INPUT, "%s: empty (expected 'mc2-catalog v1' first)", what);
        goto fail;
    }
    return 0;
fail:
    mc2_catalog_free(c);
    return -1;
}

/* ---- lookups and changes -------------------------------------------------------------------- */

/* The entries of (cons, name): [*lo, *hi); where they would go if there are none. */
static void range(const mc2_catalog *c, const uint8_t cons[32], const char *name, size_t *lo,
                  size_t *hi)
{
    size_t i = 0;
    while (i < c->n && key_cmp(&c->e[i], cons, name) < 0) i++;
    *lo = i;
    while (i < c->n && key_cmp(&c->e[i], cons, name) == 0) i++;
    *hi = i;
}

const mc2_catalog_entry *mc2_catalog_latest(const mc2_catalog *c, const uint8_t consortium[32],
                                            const char *name)
{
    size_t lo, hi;
    range(c, consortium, name, &lo, &hi);
    for (size_t i = hi; i > lo; i--)
        if (c->e[i - 1].state != MC2_CAT_PENDING) return &c->e[i - 1];
    return NULL;
}

const mc2_catalog_entry *mc2_catalog_find_id(const mc2_catalog *c, const uint8_t consortium[32],
                                             const uint8_t table_id[MC2_TABLE_ID_LEN])
{
    for (size_t i = 0; i < c->n; i++)
        if (memcmp(c->e[i].consortium, consortium, 32) == 0 &&
            memcmp(c->e[i].table_id, table_id, MC2_TABLE_ID_LEN) == 0)
            return &c->e[i];
    return NULL;
}

int mc2_catalog_next_version(const mc2_catalog *c, const uint8_t consortium[32], const char *name,
                             uint64_t *version, mc2_err *err)
{
    size_t lo, hi;
    range(c, consortium, name, &lo, &hi);
    uint64_t v = hi > lo ? c->e[hi - 1].version : 0;
    if (v >= MC2_CATALOG_NUM_MAX)
        return mc2_err_set(err, MC2_E_LIMIT, "table '%s' has reached its last version number",
                           name);
    *version = v + 1;
    return 0;
}

static void drop(mc2_catalog *c, size_t i)
{
    memmove(&c->e[i], &c->e[i + 1], (c->n - i - 1) * sizeof *c->e);
    c->n--;
}

int mc2_catalog_put(mc2_catalog *c, const mc2_catalog_entry *e, mc2_err *err)
{
    size_t lo, hi;
    assert(e->state >= MC2_CAT_UPLOADED && e->state <= MC2_CAT_PENDING);
    range(c, e->consortium, e->name, &lo, &hi);
    size_t at = hi;
    for (size_t i = lo; i < hi; i++) {
        const mc2_catalog_entry *o = &c->e[i];
        if (o->version == e->version && o->state == MC2_CAT_PENDING &&
            e->state != MC2_CAT_PENDING &&
            memcmp(o->table_id, e->table_id, MC2_TABLE_ID_LEN) == 0) {
            at = i; /* the pending upload was confirmed */
        } else if (o->version >= e->version) {
            return mc2_err_set(err, MC2_E_EXISTS,
                               "version %llu of table '%s' is not newer than version %llu "
                               "already in the catalog",
                               (unsigned long long)e->version, e->name,
                               (unsigned long long)o->version);
        }
    }
    if (at < hi) {
        c->e[at] = *e;
    } else {
        if (push(c, e, err)) return -1;
        memmove(&c->e[hi + 1], &c->e[hi], (c->n - 1 - hi) * sizeof *c->e);
        c->e[hi] = *e;
        at = hi++;
    }
    /* Interrupted uploads this one superseded, then the oldest beyond the limit. */
    for (size_t i = lo; e->state != MC2_CAT_PENDING && i < at;) {
        if (c->e[i].state == MC2_CAT_PENDING) {
            drop(c, i);
            at--;
            hi--;
        } else {
            i++;
        }
    }
    while (hi - lo > MC2_CATALOG_KEEP) {
        /* The oldest, but never the latest confirmed upload (after many unfinished ones). */
        size_t latest = hi;
        for (size_t i = lo; i < hi; i++)
            if (c->e[i].state != MC2_CAT_PENDING) latest = i;
        drop(c, latest == lo ? lo + 1 : lo);
        hi--;
    }
    return 0;
}

/* ---- the file ------------------------------------------------------------------------------- */

/* Reads home/catalog's bytes into raw (*exists = 0 and raw empty if there is none). */
static int read_raw(const char *path, mc2_buf *raw, int *exists, mc2_err *err)
{
    struct stat st;
    *exists = 0;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT) return 0;
        return mc2_err_set(err, MC2_E_IO, "cannot read your table catalog '%s': %s", path,
                           strerror(errno));
    }
    if (!S_ISREG(st.st_mode))
        return mc2_err_set(err, MC2_E_INPUT, "your table catalog '%s' is not a regular file", path);
    if (st.st_mode & 022)
        return mc2_err_set(err, MC2_E_INPUT,
                           "your table catalog '%s' may be changed by other users (mode %03o): "
                           "check it, then run `chmod 600 %s`",
                           path, (unsigned)(st.st_mode & 0777), path);
    *exists = 1;
    return mc2_file_read_all(path, MC2_CATALOG_MAX_BYTES, raw, err);
}

/* Loads the catalog of path (read_raw, then parse) with an error that says what to do. */
static int load(const char *home, const char *path, mc2_buf *raw, int *exists, mc2_catalog *c,
                mc2_err *err)
{
    memset(c, 0, sizeof *c);
    if (read_raw(path, raw, exists, err)) return -1;
    if (!*exists) return 0;
    if (mc2_catalog_parse(path, (const char *)raw->data, raw->len, c, err) == 0) return 0;
    char why[MC2_ERR_MSG_MAX];
    snprintf(why, sizeof why, "%s", err->msg);
    return mc2_err_set(err, MC2_E_INPUT,
                       "your table catalog is damaged: %s. mc2 will not change or replace it. "
                       "Restore it from a backup ('%s/%s' holds its content before its last "
                       "change), or move it away and record each table again with `mc2 tables "
                       "--adopt NAME` (which trusts the service's copy once)",
                       why, home, PREV_FILE);
}

int mc2_catalog_load(const char *home, mc2_catalog *c, mc2_err *err)
{
    char *path = mc2_path_join(home, MC2_CATALOG_FILE);
    mc2_buf raw = {0};
    int exists;
    int rc = path ? load(home, path, &raw, &exists, c, err)
                  : mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    mc2_buf_free(&raw);
    mc2_free(path);
    return rc;
}

/* Opens home/catalog.lock (created 0600). */
static int lock_open(const char *home, mc2_err *err)
{
    char *path = mc2_path_join(home, LOCK_FILE);
    if (!path) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) mc2_err_set(err, MC2_E_IO, "cannot open '%s': %s", path, strerror(errno));
    mc2_free(path);
    return fd;
}

/* Takes the write lock on byte `off` of fd: first without waiting, then, after waiting(ctx),
 * waiting. */
static int lock_byte(int fd, off_t off, void (*waiting)(void *), void *ctx, mc2_err *err)
{
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = off, .l_len = 1};
    if (fcntl(fd, F_OFD_SETLK, &fl) == 0) return 0;
    if (errno != EAGAIN && errno != EACCES)
        return mc2_err_set(err, MC2_E_IO, "cannot lock the table catalog: %s", strerror(errno));
    if (waiting) waiting(ctx);
    while (fcntl(fd, F_OFD_SETLKW, &fl) != 0)
        if (errno != EINTR)
            return mc2_err_set(err, MC2_E_IO, "cannot lock the table catalog: %s", strerror(errno));
    return 0;
}

int mc2_catalog_update(const char *home, mc2_catalog_edit_fn fn, void *ctx, mc2_err *err)
{
    char *path = mc2_path_join(home, MC2_CATALOG_FILE), *prev = mc2_path_join(home, PREV_FILE);
    char *text = NULL;
    size_t len;
    mc2_buf raw = {0};
    mc2_catalog c = {0};
    int rc = -1, exists = 0, fd = -1;
    if (!path || !prev) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        goto out;
    }
    if ((fd = lock_open(home, err)) < 0 || lock_byte(fd, 0, NULL, NULL, err) ||
        load(home, path, &raw, &exists, &c, err))
        goto out;
    int r = fn(&c, ctx, err);
    if (r < 0) goto out;
    if (r > 0) {
        rc = 0;
        goto out;
    }
    if (mc2_catalog_format(&c, &text, &len, err) ||
        (exists && mc2_file_write_atomic(prev, raw.data, raw.len, 0600, 0, err)) ||
        mc2_file_write_atomic(path, text, len, 0600, 0, err))
        goto out;
    rc = 0;
out:
    if (fd >= 0) close(fd); /* releases the lock */
    mc2_free(text);
    mc2_buf_free(&raw);
    mc2_catalog_free(&c);
    mc2_free(path);
    mc2_free(prev);
    return rc;
}

int mc2_catalog_lock_table(const char *home, const uint8_t consortium[32], const char *name,
                           void (*waiting)(void *ctx), void *ctx, int *fd, mc2_err *err)
{
    /* Byte 1 + a 40-bit hash of (consortium, name): two names that share a byte only wait
     * for each other. Byte 0 is the whole catalog's lock. */
    static const char CTX[] = "mc2 catalog table lock";
    mc2_buf m = {0};
    uint8_t h[MC2_SHA256_LEN];
    *fd = -1;
    if (mc2_buf_append(&m, CTX, sizeof CTX, err) || mc2_buf_append(&m, consortium, 32, err) ||
        mc2_buf_puts(&m, name, err) || mc2_sha256(m.data, m.len, h, err)) {
        mc2_buf_free(&m);
        return -1;
    }
    mc2_buf_free(&m);
    off_t off = 1;
    for (int i = 0; i < 5; i++) off += (off_t)h[i] << (8 * i);
    int f = lock_open(home, err);
    if (f < 0) return -1;
    if (lock_byte(f, off, waiting, ctx, err)) {
        close(f);
        return -1;
    }
    *fd = f;
    return 0;
}

void mc2_catalog_unlock(int fd)
{
    if (fd >= 0) close(fd);
}
