/* test_catalog.c - a party's table catalog (mc2/catalog.h): the canonical text round trip,
 * corrupt and non-canonical inputs refused with their line, every single-byte change of a
 * valid catalog refused or canonical, the rules of recording (versions only grow, a pending
 * upload confirmed, superseded ones dropped, at most MC2_CATALOG_KEEP versions), and the file:
 * 0600, the previous content kept, a damaged or world-writable file never replaced, concurrent
 * writers losing nothing, and the per-name upload lock. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/file.h"
#include "mc2/catalog.h"
#include "test.h"

static mc2_catalog_entry entry(uint8_t cons, const char *name, uint64_t version,
                               enum mc2_catalog_state state)
{
    mc2_catalog_entry e;
    memset(&e, 0, sizeof e);
    memset(e.consortium, cons, sizeof e.consortium);
    snprintf(e.name, sizeof e.name, "%s", name);
    e.version = version;
    for (int i = 0; i < 16; i++) e.table_id[i] = (uint8_t)(version * 31 + (uint64_t)name[0] + i);
    memset(e.schema_hash, 0x5a, sizeof e.schema_hash);
    e.rows = version * 100;
    e.blocks = version;
    e.bytes = version * 4096 + 17;
    e.time = 1700000000 + version;
    e.state = state;
    return e;
}

static int parses(const char *text)
{
    mc2_catalog c;
    mc2_err err;
    int ok = mc2_catalog_parse("t", text, strlen(text), &c, &err) == 0;
    mc2_catalog_free(&c);
    return ok;
}

static char *format(const mc2_catalog *c)
{
    char *t = NULL;
    size_t n;
    mc2_err err;
    CHECK(mc2_catalog_format(c, &t, &n, &err) == 0);
    return t;
}

static void test_rules(void)
{
    mc2_catalog c = {0};
    mc2_err err;
    uint8_t cons[32];
    memset(cons, 1, 32);
    uint64_t v = 0;
    CHECK(mc2_catalog_next_version(&c, cons, "t", &v, &err) == 0 && v == 1);
    mc2_catalog_entry p1 = entry(1, "t", 1, MC2_CAT_PENDING);
    CHECK(mc2_catalog_put(&c, &p1, &err) == 0);
    CHECK(mc2_catalog_latest(&c, cons, "t") == NULL); /* pending is not an upload yet */
    CHECK(mc2_catalog_next_version(&c, cons, "t", &v, &err) == 0 && v == 2);
    mc2_catalog_entry u1 = p1;
    u1.state = MC2_CAT_UPLOADED;
    CHECK(mc2_catalog_put(&c, &u1, &err) == 0 && c.n == 1); /* confirmed: replaces */
    CHECK(mc2_catalog_latest(&c, cons, "t") && mc2_catalog_latest(&c, cons, "t")->version == 1);
    CHECK(mc2_catalog_put(&c, &u1, &err) != 0 && err.code == MC2_E_EXISTS); /* taken */
    mc2_catalog_entry other = entry(1, "t", 1, MC2_CAT_UPLOADED);
    other.table_id[0] ^= 1;
    CHECK(mc2_catalog_put(&c, &other, &err) != 0); /* same version, another table */
    /* An interrupted upload (2), then a newer one (3) supersedes it. */
    mc2_catalog_entry p2 = entry(1, "t", 2, MC2_CAT_PENDING),
                      u3 = entry(1, "t", 3, MC2_CAT_UPLOADED);
    CHECK(mc2_catalog_put(&c, &p2, &err) == 0 && c.n == 2);
    CHECK(mc2_catalog_find_id(&c, cons, p2.table_id) != NULL);
    CHECK(mc2_catalog_put(&c, &u3, &err) == 0 && c.n == 2);
    CHECK(mc2_catalog_find_id(&c, cons, p2.table_id) == NULL);
    CHECK(mc2_catalog_latest(&c, cons, "t")->version == 3);
    mc2_catalog_entry old = entry(1, "t", 2, MC2_CAT_ADOPTED);
    CHECK(mc2_catalog_put(&c, &old, &err) != 0 && err.code == MC2_E_EXISTS); /* not newer */
    /* Other names and consortiums sort around it; lookups stay per consortium. */
    mc2_catalog_entry a = entry(1, "a", 1, MC2_CAT_UPLOADED),
                      z = entry(0, "z", 5, MC2_CAT_UPLOADED),
                      v0 = entry(2, "legacy", 0, MC2_CAT_ADOPTED);
    CHECK(mc2_catalog_put(&c, &a, &err) == 0 && mc2_catalog_put(&c, &z, &err) == 0 &&
          mc2_catalog_put(&c, &v0, &err) == 0);
    CHECK(c.n == 5 && c.e[0].consortium[0] == 0 && strcmp(c.e[1].name, "a") == 0 &&
          c.e[4].consortium[0] == 2);
    CHECK(mc2_catalog_find_id(&c, cons, z.table_id) == NULL);
    CHECK(mc2_catalog_latest(&c, cons, "z") == NULL);
    /* At most MC2_CATALOG_KEEP versions of a name: the oldest go. */
    for (uint64_t k = 4; k < 4 + MC2_CATALOG_KEEP + 3; k++) {
        mc2_catalog_entry e = entry(1, "t", k, MC2_CAT_UPLOADED);
        CHECK(mc2_catalog_put(&c, &e, &err) == 0);
    }
    size_t nt = 0;
    for (size_t i = 0; i < c.n; i++) nt += strcmp(c.e[i].name, "t") == 0;
    CHECK(nt == MC2_CATALOG_KEEP);
    CHECK(mc2_catalog_latest(&c, cons, "t")->version == 4 + MC2_CATALOG_KEEP + 2);
    /* Many unfinished uploads in a row never push out the latest confirmed one. */
    uint64_t last = 4 + MC2_CATALOG_KEEP + 2;
    for (uint64_t k = last + 1; k < last + 1 + 2 * MC2_CATALOG_KEEP; k++) {
        mc2_catalog_entry e = entry(1, "t", k, MC2_CAT_PENDING);
        CHECK(mc2_catalog_put(&c, &e, &err) == 0);
    }
    CHECK(mc2_catalog_latest(&c, cons, "t") && mc2_catalog_latest(&c, cons, "t")->version == last);
    nt = 0;
    for (size_t i = 0; i < c.n; i++) nt += strcmp(c.e[i].name, "t") == 0;
    CHECK(nt == MC2_CATALOG_KEEP);
    mc2_catalog_entry fin = entry(1, "t", last + 2 * MC2_CATALOG_KEEP + 1, MC2_CAT_UPLOADED);
    CHECK(mc2_catalog_put(&c, &fin, &err) == 0); /* drops every pending one below it */
    nt = 0;
    for (size_t i = 0; i < c.n; i++) nt += strcmp(c.e[i].name, "t") == 0;
    CHECK(nt == 2 && mc2_catalog_latest(&c, cons, "t")->version == fin.version);

    /* Round trip: format, parse, format gives the same bytes and entries. */
    char *t1 = format(&c);
    mc2_catalog back;
    CHECK(mc2_catalog_parse("t", t1, strlen(t1), &back, &err) == 0);
    CHECK(back.n == c.n && memcmp(back.e, c.e, c.n * sizeof *c.e) == 0);
    char *t2 = format(&back);
    CHECK(t1 && t2 && strcmp(t1, t2) == 0);
    printf("%s", t1);

    /* Every single-byte change is refused, or is canonical (a different valid catalog). */
    size_t n = strlen(t1), accepted = 0;
    for (size_t i = 0; i < n; i++) {
        static const char subs[] = {'0', '1', 'a', 'A', ' ', '\n', '\r', 'x', '-', '.'};
        for (size_t k = 0; k < sizeof subs; k++) {
            if (t1[i] == subs[k]) continue;
            char *m = mc2_strdup(t1);
            m[i] = subs[k];
            mc2_catalog mc;
            if (mc2_catalog_parse("m", m, n, &mc, &err) == 0) {
                accepted++;
                char *again = format(&mc);
                CHECK_MSG(again && strcmp(again, m) == 0, "byte %zu -> '%c' not canonical", i,
                          subs[k]);
                mc2_free(again);
                mc2_catalog_free(&mc);
            }
            mc2_free(m);
        }
    }
    printf("single-byte changes accepted (each canonical): %zu\n", accepted);
    mc2_free(t1);
    mc2_free(t2);
    mc2_catalog_free(&back);
    mc2_catalog_free(&c);
}

static void test_corrupt(void)
{
    const char *H = "mc2-catalog v1\n";
    char cons[65], id[33], sh[65];
    memset(cons, 'a', 64);
    cons[64] = 0;
    memset(id, 'b', 32);
    id[32] = 0;
    memset(sh, 'c', 64);
    sh[64] = 0;
    char good[600];
    snprintf(good, sizeof good, "%stable %s t 1 %s %s 10 1 100 1700000000 uploaded\n", H, cons, id,
             sh);
    CHECK(parses(good));
    CHECK(parses(H)); /* empty catalog */
    CHECK(!parses(""));
    CHECK(!parses("mc2-catalog v2\n"));
    CHECK(!parses("mc2-catalog v1"));
    CHECK(!parses("mc2-catalog v1\r\n"));
    /* Each field, one at a time. */
    const char *bad_lines[] = {
        "table %s t 1 %s %s 10 1 100 1700000000 uploaded",             /* no final LF */
        "table %s t 1 %s %s 10 1 100 1700000000 uploaded \n",          /* trailing space */
        "table  %s t 1 %s %s 10 1 100 1700000000 uploaded\n",          /* double space */
        "table %s t 1 %s %s 10 1 100 1700000000\n",                    /* a field missing */
        "table %s t 1 %s %s 10 1 100 1700000000 uploaded x\n",         /* one too many */
        "tables %s t 1 %s %s 10 1 100 1700000000 uploaded\n",          /* keyword */
        "table %s t 01 %s %s 10 1 100 1700000000 uploaded\n",          /* leading zero */
        "table %s t +1 %s %s 10 1 100 1700000000 uploaded\n",          /* sign */
        "table %s t 1 %s %s 10 1 100 99999999999999999999 uploaded\n", /* too large */
        "table %s t 1 %s %s 10 1 100 4611686018427387905 uploaded\n",  /* above 2^62 */
        "table %s t 0 %s %s 10 1 100 1700000000 uploaded\n",           /* v0 only adopted */
        "table %s t 1 %s %s 10 1 100 1700000000 lost\n",               /* state */
        "table %s .t 1 %s %s 10 1 100 1700000000 uploaded\n",          /* name */
        "table %s t/u 1 %s %s 10 1 100 1700000000 uploaded\n",         /* name */
        "table %s t 1 %s %s 10 1 1e2 1700000000 uploaded\n",           /* number */
        "table %s t 1 %s %s 10 1 100 1700000000 uploaded\r\n",         /* CR */
    };
    for (size_t i = 0; i < sizeof bad_lines / sizeof bad_lines[0]; i++) {
        char t[800];
        int n = snprintf(t, sizeof t, "%s", H);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral" /* the templates above */
        snprintf(t + n, sizeof t - (size_t)n, bad_lines[i], cons, id, sh);
#pragma GCC diagnostic pop
        CHECK_MSG(!parses(t), "accepted bad line %zu", i);
    }
    /* A NUL inside the name (the name must be all of the field; found by fuzz_catalog). */
    char nul[600];
    int nn = snprintf(nul, sizeof nul, "%stable %s t", H, cons);
    nul[nn++] = '\0';
    nn += snprintf(nul + nn, sizeof nul - (size_t)nn, "x 1 %s %s 10 1 100 1 uploaded\n", id, sh);
    mc2_catalog cn;
    mc2_err en;
    CHECK(mc2_catalog_parse("t", nul, (size_t)nn, &cn, &en) != 0 && strstr(en.msg, "table name"));
    /* Hex: uppercase, short, not hex. */
    char up[600];
    snprintf(up, sizeof up, "%stable %s t 1 %s %s 10 1 100 1700000000 uploaded\n", H, cons,
             "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB", sh);
    CHECK(!parses(up));
    snprintf(up, sizeof up, "%stable %s t 1 %s %s 10 1 100 1700000000 uploaded\n", H, cons,
             "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", sh);
    CHECK(!parses(up));
    snprintf(up, sizeof up, "%stable %s t 1 %s %s 10 1 100 1700000000 uploaded\n", H, cons,
             "gbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", sh);
    CHECK(!parses(up));
    /* Order: a repeated line, versions going down, names out of order. */
    char two[1200];
    snprintf(two, sizeof two,
             "%stable %s t 1 %s %s 10 1 100 1 uploaded\ntable %s t 1 %s %s 10 1 100 1 uploaded\n",
             H, cons, id, sh, cons, id, sh);
    CHECK(!parses(two));
    snprintf(two, sizeof two,
             "%stable %s t 2 %s %s 10 1 100 1 uploaded\ntable %s t 1 %s %s 10 1 100 1 uploaded\n",
             H, cons, id, sh, cons, id, sh);
    CHECK(!parses(two));
    snprintf(two, sizeof two,
             "%stable %s u 1 %s %s 10 1 100 1 uploaded\ntable %s t 2 %s %s 10 1 100 1 uploaded\n",
             H, cons, id, sh, cons, id, sh);
    CHECK(!parses(two));
    snprintf(two, sizeof two,
             "%stable %s t 1 %s %s 10 1 100 1 uploaded\ntable %s u 2 %s %s 10 1 100 1 uploaded\n",
             H, cons, id, sh, cons, id, sh);
    CHECK(parses(two));
    /* More versions of one name than kept. */
    mc2_buf b = {0};
    mc2_err err;
    CHECK(mc2_buf_puts(&b, H, &err) == 0);
    for (int v = 1; v <= MC2_CATALOG_KEEP + 1; v++)
        CHECK(mc2_buf_printf(&b, &err, "table %s t %d %s %s 10 1 100 1 uploaded\n", cons, v, id,
                             sh) == 0);
    mc2_catalog c;
    CHECK(mc2_catalog_parse("x.cat", (const char *)b.data, b.len, &c, &err) != 0);
    CHECK_MSG(strstr(err.msg, "x.cat line 18") != NULL, "%s", err.msg);
    /* The error names the line. */
    CHECK(mc2_catalog_parse("x.cat", two, 20, &c, &err) != 0 && strstr(err.msg, "line 2"));
    mc2_buf_free(&b);
}

/* ---- the file -------------------------------------------------------------------------------- */

static int add(mc2_catalog *c, void *ctx, mc2_err *err)
{
    return mc2_catalog_put(c, ctx, err);
}

static int no_change(mc2_catalog *c, void *ctx, mc2_err *err)
{
    (void)c;
    (void)err;
    ++*(int *)ctx;
    return 1;
}

static void waited(void *ctx)
{
    ++*(int *)ctx;
}

static void test_file(const char *home)
{
    mc2_err err;
    mc2_catalog c;
    char path[300], prev[300];
    snprintf(path, sizeof path, "%s/catalog", home);
    snprintf(prev, sizeof prev, "%s/catalog.prev", home);
    CHECK(mc2_catalog_load(home, &c, &err) == 0 && c.n == 0); /* none yet */
    mc2_catalog_entry e1 = entry(3, "t", 1, MC2_CAT_UPLOADED),
                      e2 = entry(3, "t", 2, MC2_CAT_UPLOADED);
    CHECK(mc2_catalog_update(home, add, &e1, &err) == 0);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    CHECK(!mc2_file_exists(prev)); /* nothing before */
    CHECK(mc2_catalog_update(home, add, &e2, &err) == 0);
    CHECK(stat(prev, &st) == 0 && (st.st_mode & 0777) == 0600);
    CHECK(mc2_catalog_load(home, &c, &err) == 0 && c.n == 2);
    mc2_catalog_free(&c);
    /* A refused change writes nothing. */
    mc2_buf before = {0}, after = {0};
    CHECK(mc2_file_read_all(path, 1 << 20, &before, &err) == 0);
    CHECK(mc2_catalog_update(home, add, &e1, &err) != 0);
    int calls = 0;
    CHECK(mc2_catalog_update(home, no_change, &calls, &err) == 0 && calls == 1);
    CHECK(mc2_file_read_all(path, 1 << 20, &after, &err) == 0);
    CHECK(before.len == after.len && memcmp(before.data, after.data, before.len) == 0);
    mc2_buf_reset(&after);

    /* Damaged: never changed or replaced; the error names the file and what to do. */
    CHECK(mc2_file_write_atomic(path, "mc2-catalog v1\ntable x\n", 23, 0600, 0, &err) == 0);
    CHECK(mc2_catalog_load(home, &c, &err) != 0);
    CHECK_MSG(strstr(err.msg, path) && strstr(err.msg, "line 2") &&
                  strstr(err.msg, "will not change or replace") && strstr(err.msg, "catalog.prev"),
              "%s", err.msg);
    calls = 0;
    CHECK(mc2_catalog_update(home, no_change, &calls, &err) != 0 && calls == 0);
    CHECK(mc2_catalog_update(home, add, &e1, &err) != 0);
    CHECK(mc2_file_read_all(path, 1 << 20, &after, &err) == 0);
    CHECK(after.len == 23 && memcmp(after.data, "mc2-catalog v1\ntable x\n", 23) == 0);
    /* Writable by others: refused. */
    CHECK(mc2_file_write_atomic(path, before.data, before.len, 0600, 0, &err) == 0);
    CHECK(chmod(path, 0622) == 0);
    CHECK(mc2_catalog_load(home, &c, &err) != 0 && strstr(err.msg, "chmod 600"));
    CHECK(chmod(path, 0600) == 0);
    CHECK(mc2_catalog_load(home, &c, &err) == 0 && c.n == 2);
    mc2_catalog_free(&c);
    mc2_buf_free(&before);
    mc2_buf_free(&after);

    /* Concurrent writers lose nothing: 4 processes, 25 tables each. */
    enum { PROCS = 4, EACH = 25 };
    pid_t kids[PROCS];
    for (int p = 0; p < PROCS; p++) {
        kids[p] = fork();
        if (kids[p] == 0) {
            for (int k = 0; k < EACH; k++) {
                char name[32];
                snprintf(name, sizeof name, "p%d-t%d", p, k);
                mc2_catalog_entry e = entry(4, name, 1, MC2_CAT_UPLOADED);
                mc2_err ke;
                if (mc2_catalog_update(home, add, &e, &ke)) _exit(1);
            }
            _exit(0);
        }
    }
    int ok = 1;
    for (int p = 0; p < PROCS; p++) {
        int status;
        ok &= waitpid(kids[p], &status, 0) == kids[p] && WIFEXITED(status) &&
              WEXITSTATUS(status) == 0;
    }
    CHECK(ok);
    CHECK(mc2_catalog_load(home, &c, &err) == 0 && c.n == 2 + PROCS * EACH);
    mc2_catalog_free(&c);

    /* The table lock: another process holding it makes us wait; another name does not. */
    uint8_t cons[32];
    memset(cons, 4, 32);
    int pipefd[2];
    CHECK(pipe(pipefd) == 0);
    pid_t holder = fork();
    if (holder == 0) {
        int fd;
        mc2_err ke;
        if (mc2_catalog_lock_table(home, cons, "t", NULL, NULL, &fd, &ke)) _exit(1);
        if (write(pipefd[1], "x", 1) != 1) _exit(1);
        struct timespec ts = {0, 300 * 1000000L};
        nanosleep(&ts, NULL);
        _exit(0); /* the lock goes with the process */
    }
    char x;
    CHECK(read(pipefd[0], &x, 1) == 1);
    int waits = 0, fd = -1, fd2 = -1;
    CHECK(mc2_catalog_lock_table(home, cons, "u", waited, &waits, &fd2, &err) == 0 && waits == 0);
    CHECK(mc2_catalog_lock_table(home, cons, "t", waited, &waits, &fd, &err) == 0 && waits == 1);
    /* Held by this process (its own open file description), "t" blocks a second taker too. */
    pid_t second = fork();
    if (second == 0) {
        int f;
        mc2_err ke;
        int w = 0;
        close(fd); /* the parent's open file description: its lock would be ours too */
        close(fd2);
        alarm(5);
        if (mc2_catalog_lock_table(home, cons, "t", waited, &w, &f, &ke)) _exit(1);
        _exit(w == 1 ? 0 : 2);
    }
    struct timespec ts = {0, 200 * 1000000L};
    nanosleep(&ts, NULL);
    mc2_catalog_unlock(fd);
    int status;
    CHECK_MSG(waitpid(second, &status, 0) == second && WIFEXITED(status) &&
                  WEXITSTATUS(status) == 0,
              "status %d", status);
    CHECK(waitpid(holder, &status, 0) == holder && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    mc2_catalog_unlock(fd2);
    close(pipefd[0]);
    close(pipefd[1]);
}

int main(void)
{
    test_rules();
    test_corrupt();
    char home[] = "/tmp/mc2-test-catalog.XXXXXX";
    if (!mkdtemp(home)) {
        perror("mkdtemp");
        return 1;
    }
    test_file(home);
    char cmd[100];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", home);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", home);
    return test_done("test_catalog");
}
