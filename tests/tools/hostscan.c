/* hostscan.c - the canary test's eyes (tests/cli/test_canary.sh): searches what the untrusted
 * host can see for plaintext markers, and proves each search works with positive controls.
 *
 *   hostscan port                         a free loopback TCP port (bind port 0)
 *   hostscan files   NEEDLES PATH...      every regular file under PATH (recursive)
 *   hostscan trace   NEEDLES [--state DIR] [--first CALL:PATH]... FILE
 *                                         the hex dumps of `strace -ttt -yy -e read=all
 *                                         -e write=all` of one process: every byte it read or
 *                                         wrote on any descriptor, one stream per descriptor
 *                                         and direction; --first prints when CALL was
 *                                         first made on a descriptor whose path has PATH
 *   hostscan mem     NEEDLES PID          /proc/PID/mem over the readable ranges of maps
 *                                         (never-touched anonymous pages, zeros per
 *                                         /proc/PID/pagemap, are skipped, and so are ranges
 *                                         over 1 GiB: sanitizer shadow; both are reported)
 *   hostscan memloop NEEDLES --until FILE --log LOG [--max-seconds N] PID
 *                                         mem, over and over until FILE exists; LOG gets one
 *                                         line per pass: "pass N START_US END_US BYTES HITS
 *                                         CONTROLS_SEEN"
 *
 * NEEDLES: -a STRING  a marker that must be absent (also searched as lower/upper-case hex)
 *          -n NUMBER  a numeric marker that must be absent (decimal text, its hex, and the
 *                     int64 in little- and big-endian binary)
 *          -p STRING  a control that must be present
 *          -r STRING / -w STRING  (trace) a control that must be present in data read /
 *                     written
 * Prints how many bytes of each kind were scanned and every hit; exits 0 if every marker was
 * absent and every control present, 1 if not, 2 on a usage or I/O error. In trace mode it
 * also fails if a dump does not account for the bytes its system call moved (a write's dump
 * is its whole buffer: only the bytes it moved are scanned), or if the process moved data in
 * a way strace cannot dump (splice, mmap of a file under --state DIR, ...): then the scan
 * would not be complete. sendfile from a file is the exception: its bytes are read back from
 * the file (at the offset the trace shows) and scanned, if the file has not been modified
 * since the call; otherwise it too makes the scan incomplete. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_NEEDLES 64
#define MAX_LEN     256

enum need { ABSENT, PRESENT, PRESENT_READ, PRESENT_WRITE };

typedef struct needle {
    uint8_t b[MAX_LEN];
    size_t len;
    size_t anchor; /* offset of the byte pair the search looks for first */
    char label[MAX_LEN + 32];
    enum need need;
    uint64_t hits[2];   /* [0] read or plain, [1] written */
    char first[2][300]; /* where it was first seen */
} needle;

typedef struct scan {
    needle n[MAX_NEEDLES];
    size_t count;
    size_t maxlen;
    uint64_t anchors[65536 / 64]; /* the needles' anchor byte pairs, as a bit set */
    const char *where;            /* describes the current position for `first` */
} scan;

/* A stream being scanned: the last maxlen-1 bytes, to find needles across chunks. */
typedef struct stream {
    uint8_t carry[MAX_LEN];
    size_t clen;
} stream;

static void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p) {
        fprintf(stderr, "hostscan: out of memory\n");
        exit(2);
    }
    return p;
}

static void add(scan *s, const void *b, size_t len, enum need need, const char *label)
{
    if (s->count == MAX_NEEDLES || len < 2 || len > MAX_LEN) {
        fprintf(stderr, "hostscan: too many needles, or one is shorter than 2 bytes or too "
                        "long\n");
        exit(2);
    }
    needle *n = &s->n[s->count++];
    memset(n, 0, sizeof *n);
    memcpy(n->b, b, len);
    n->len = len;
    n->need = need;
    snprintf(n->label, sizeof n->label, "%s", label);
    if (len > s->maxlen) s->maxlen = len;
    /* Anchor on a pair without the bytes memory is full of (0x00, 0xff), if there is one: an
     * int64 starts or ends with zeros. */
    n->anchor = 0;
    for (size_t i = 0; i + 1 < len; i++)
        if (n->b[i] != 0 && n->b[i] != 0xff && n->b[i + 1] != 0 && n->b[i + 1] != 0xff) {
            n->anchor = i;
            break;
        }
    unsigned key = (unsigned)n->b[n->anchor] | (unsigned)n->b[n->anchor + 1] << 8;
    s->anchors[key / 64] |= 1ull << (key % 64);
}

static void add_hex(scan *s, const uint8_t *b, size_t len, const char *digits, const char *label)
{
    char hex[2 * MAX_LEN + 1];
    if (2 * len > MAX_LEN) return; /* too long to matter: the raw form is searched anyway */
    for (size_t i = 0; i < len; i++) {
        hex[2 * i] = digits[b[i] >> 4];
        hex[2 * i + 1] = digits[b[i] & 15];
    }
    add(s, hex, 2 * len, ABSENT, label);
}

static void add_marker(scan *s, const char *m)
{
    char label[MAX_LEN + 32];
    size_t len = strlen(m);
    add(s, m, len, ABSENT, m);
    snprintf(label, sizeof label, "%s (as hex)", m);
    add_hex(s, (const uint8_t *)m, len, "0123456789abcdef", label);
    snprintf(label, sizeof label, "%s (as HEX)", m);
    add_hex(s, (const uint8_t *)m, len, "0123456789ABCDEF", label);
}

static void add_number(scan *s, const char *num)
{
    char *end;
    errno = 0;
    long long v = strtoll(num, &end, 10);
    if (errno || *end || end == num) {
        fprintf(stderr, "hostscan: -n wants a decimal int64, not '%s'\n", num);
        exit(2);
    }
    uint8_t le[8], be[8];
    for (int i = 0; i < 8; i++) {
        le[i] = (uint8_t)((uint64_t)v >> (8 * i));
        be[7 - i] = le[i];
    }
    char label[MAX_LEN + 32];
    add_marker(s, num);
    snprintf(label, sizeof label, "%s (int64 little-endian)", num);
    add(s, le, 8, ABSENT, label);
    snprintf(label, sizeof label, "%s (int64 big-endian)", num);
    add(s, be, 8, ABSENT, label);
}

static void hit(scan *s, needle *n, int dir, uint64_t off)
{
    if (n->hits[dir] == 0)
        snprintf(n->first[dir], sizeof n->first[dir], "%s, stream offset %" PRIu64,
                 s->where ? s->where : "?", off);
    n->hits[dir]++;
}

/* Counts every occurrence of every needle in p[0..len) (base = stream offset of p[0]) that
 * starts before p[limit] and ends after p[skip]. */
static void search(scan *s, const uint8_t *p, size_t len, int dir, uint64_t base, size_t skip,
                   size_t limit)
{
    /* one pass over the bytes; the set of anchor pairs picks the positions worth comparing */
    for (size_t at = 0; at + 1 < len; at++) {
        unsigned key = (unsigned)p[at] | (unsigned)p[at + 1] << 8;
        if (!(s->anchors[key / 64] >> (key % 64) & 1)) continue;
        for (size_t k = 0; k < s->count; k++) {
            needle *n = &s->n[k];
            if (at < n->anchor) continue;
            size_t start = at - n->anchor;
            if (start >= limit || start + n->len > len || start + n->len <= skip ||
                memcmp(p + start, n->b, n->len) != 0)
                continue;
            hit(s, n, dir, base + start);
        }
    }
}

/* Feeds the next chunk of a stream: finds needles inside it and across its start. */
static void feed(scan *s, stream *st, const uint8_t *p, size_t n, int dir, uint64_t off)
{
    if (n == 0) return;
    if (st->clen) {
        uint8_t tmp[2 * MAX_LEN];
        size_t take = n < s->maxlen - 1 ? n : s->maxlen - 1;
        memcpy(tmp, st->carry, st->clen);
        memcpy(tmp + st->clen, p, take);
        /* matches that start in the carry and end in p; those inside p are found next */
        search(s, tmp, st->clen + take, dir, off - st->clen, st->clen, st->clen);
    }
    search(s, p, n, dir, off, 0, SIZE_MAX);
    size_t keep = s->maxlen - 1;
    if (n >= keep) {
        memcpy(st->carry, p + n - keep, keep);
        st->clen = keep;
    } else {
        size_t old = st->clen + n > keep ? keep - n : st->clen;
        memmove(st->carry, st->carry + st->clen - old, old);
        memcpy(st->carry + old, p, n);
        st->clen = old + n;
    }
}

/* Prints the verdict; returns the exit status. */
static int verdict(const scan *s, const char *mode)
{
    int bad = 0;
    for (size_t k = 0; k < s->count; k++) {
        const needle *n = &s->n[k];
        uint64_t total = n->hits[0] + n->hits[1];
        switch (n->need) {
        case ABSENT:
            if (total) {
                printf("hostscan %s: MARKER FOUND: '%s' %" PRIu64 " time(s), first at %s\n", mode,
                       n->label, total, n->first[n->hits[0] ? 0 : 1]);
                bad = 1;
            }
            break;
        case PRESENT:
        case PRESENT_READ:
        case PRESENT_WRITE: {
            uint64_t got = n->need == PRESENT        ? total
                           : n->need == PRESENT_READ ? n->hits[0]
                                                     : n->hits[1];
            const char *what = n->need == PRESENT        ? ""
                               : n->need == PRESENT_READ ? " in data read"
                                                         : " in data written";
            printf("hostscan %s: control '%s'%s: %s (%" PRIu64 " time(s)%s%s)\n", mode, n->label,
                   what, got ? "found" : "NOT FOUND: the scan is blind", got,
                   got ? ", first at " : "",
                   got ? n->first[n->need == PRESENT_WRITE || !n->hits[0] ? 1 : 0] : "");
            if (!got) bad = 1;
            break;
        }
        }
    }
    size_t markers = 0;
    for (size_t k = 0; k < s->count; k++) markers += s->n[k].need == ABSENT;
    if (!bad) printf("hostscan %s: none of %zu marker encodings found\n", mode, markers);
    return bad;
}

/* ---- files ---------------------------------------------------------------------------- */

typedef struct fstats {
    uint64_t files, bytes;
} fstats;

static void scan_path(scan *s, const char *path, fstats *fs)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        fprintf(stderr, "hostscan: cannot stat %s: %s\n", path, strerror(errno));
        exit(2);
    }
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (!d) return;
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            size_t n = strlen(path) + strlen(e->d_name) + 2;
            char *p = xmalloc(n);
            snprintf(p, n, "%s/%s", path, e->d_name);
            scan_path(s, p, fs);
            free(p);
        }
        closedir(d);
        return;
    }
    if (!S_ISREG(st.st_mode)) return;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "hostscan: cannot open %s: %s\n", path, strerror(errno));
        exit(2);
    }
    static uint8_t buf[1 << 20];
    stream str = {0};
    uint64_t off = 0;
    ssize_t r;
    s->where = path;
    while ((r = read(fd, buf, sizeof buf)) > 0) {
        feed(s, &str, buf, (size_t)r, 0, off);
        off += (uint64_t)r;
    }
    close(fd);
    fs->files++;
    fs->bytes += off;
}

/* ---- strace dumps ----------------------------------------------------------------------- */

enum kind { K_TCP, K_UNIX, K_FILE, K_PIPE, K_OTHER, K_N };
static const char *const KIND[K_N] = {"TCP sockets", "unix sockets (enclave channel)", "files",
                                      "pipes", "other"};

typedef struct tstats {
    uint64_t bytes[K_N][2], calls[K_N][2];
    uint64_t lines, mismatches, unscannable, replayed;
} tstats;

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* The syscalls whose data strace dumps with -e read=all / -e write=all. */
static int data_dir(const char *name)
{
    static const char *const rd[] = {"read",    "pread64",  "readv",   "preadv",
                                     "preadv2", "recvfrom", "recvmsg", "recvmmsg"};
    static const char *const wr[] = {"write",    "pwrite64", "writev",  "pwritev",
                                     "pwritev2", "sendto",   "sendmsg", "sendmmsg"};
    for (size_t i = 0; i < sizeof rd / sizeof rd[0]; i++)
        if (strcmp(name, rd[i]) == 0) return 0;
    for (size_t i = 0; i < sizeof wr / sizeof wr[0]; i++)
        if (strcmp(name, wr[i]) == 0) return 1;
    return -1;
}

/* Syscalls that move data without strace dumping it. */
static bool unscannable(const char *name)
{
    static const char *const u[] = {"sendfile",
                                    "sendfile64",
                                    "splice",
                                    "tee",
                                    "vmsplice",
                                    "copy_file_range",
                                    "process_vm_writev",
                                    "process_vm_readv",
                                    "io_uring_enter",
                                    "io_submit"};
    for (size_t i = 0; i < sizeof u / sizeof u[0]; i++)
        if (strcmp(name, u[i]) == 0) return true;
    return false;
}

/* Decodes the annotation strace -yy puts after a descriptor ("<...>", escaped as \xHH with
 * -xx) into out; returns out ("" if there is none). */
static const char *annotation(const char *lt, char *out, size_t cap)
{
    size_t n = 0;
    if (lt && *lt == '<')
        for (const char *p = lt + 1; *p && (*p != '>' || p[-1] == '-') && n + 1 < cap; p++) {
            if (p[0] == '\\' && p[1] == 'x' && hexval(p[2]) >= 0 && hexval(p[3]) >= 0) {
                out[n++] = (char)(hexval(p[2]) << 4 | hexval(p[3]));
                p += 3;
            } else if (p[0] == '\\' && p[1]) {
                out[n++] = *++p;
            } else {
                out[n++] = *p;
            }
        }
    out[n] = '\0';
    return out;
}

/* A descriptor argument "FD<annotation>" at q: sets *fd and ann, returns the text after it
 * (NULL if q does not hold one). */
static const char *fd_arg(const char *q, long *fd, char *ann, size_t cap)
{
    char *e;
    *fd = strtol(q, &e, 10);
    if (e == q || *e != '<' || *fd < 0) return NULL;
    annotation(e, ann, cap);
    const char *p = e + 1;
    while (*p && (*p != '>' || p[-1] == '-')) p++;
    return *p ? p + 1 : NULL;
}

static enum kind fd_kind(const char *ann)
{
    if (strncmp(ann, "TCP", 3) == 0) return K_TCP;
    if (strncmp(ann, "UNIX", 4) == 0) return K_UNIX;
    if (ann[0] == '/') return K_FILE;
    if (strncmp(ann, "pipe:", 5) == 0) return K_PIPE;
    return K_OTHER;
}

/* sendfile(OUT<...>, IN</path>, [OFF] => [..], COUNT) = RET at p, made at time stamp: strace
 * does not dump the bytes, but they are bytes RET of the file at OFF, so they are read back
 * from it and fed to both streams, if the file was last modified before the call (so it
 * still holds what was sent: mc2d's stored files are written once and renamed into place).
 * Returns the number of bytes fed, or -1 if they cannot be recovered. */
static long long replay_sendfile(scan *s, stream *streams, uint64_t *offs, tstats *t, const char *p,
                                 const char *stamp, char *where, size_t wcap)
{
    char oann[512], iann[4096];
    long ofd, ifd;
    const char *q = fd_arg(strchr(p, '(') + 1, &ofd, oann, sizeof oann);
    if (!q || strncmp(q, ", ", 2) != 0) return -1;
    q = fd_arg(q + 2, &ifd, iann, sizeof iann);
    if (!q || ofd >= 65536 || ifd >= 65536 || iann[0] != '/') return -1;
    unsigned long long off;
    const char *eq = strrchr(p, '=');
    if (sscanf(q, ", [%llu] =>", &off) != 1 || !eq) return -1;
    long long ret = strtoll(eq + 1, NULL, 10);
    struct stat st;
    int fd = open(iann, O_RDONLY);
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || ret <= 0 || ret > st.st_size ||
        (double)st.st_mtim.tv_sec + (double)st.st_mtim.tv_nsec / 1e9 > strtod(stamp, NULL)) {
        if (fd >= 0) close(fd);
        return -1;
    }
    uint8_t *buf = xmalloc((size_t)ret);
    ssize_t got = pread(fd, buf, (size_t)ret, (off_t)off);
    close(fd);
    if (got != ret) {
        free(buf);
        return -1;
    }
    enum kind ok = fd_kind(oann);
    snprintf(where, wcap, "sendfile of %.60s at %llu to fd %ld (%s: %.40s)", iann, off, ofd,
             KIND[ok], oann);
    s->where = where;
    feed(s, &streams[2 * ifd], buf, (size_t)ret, 0, offs[2 * ifd]);
    offs[2 * ifd] += (uint64_t)ret;
    feed(s, &streams[2 * ofd + 1], buf, (size_t)ret, 1, offs[2 * ofd + 1]);
    offs[2 * ofd + 1] += (uint64_t)ret;
    t->bytes[K_FILE][0] += (uint64_t)ret;
    t->calls[K_FILE][0]++;
    t->bytes[ok][1] += (uint64_t)ret;
    t->calls[ok][1]++;
    free(buf);
    return ret;
}

/* --first NAME:SUBSTR: the time of the first NAME call on a descriptor whose path contains
 * SUBSTR (the canary test uses it to find when a job ran). */
typedef struct first_call {
    char name[40];
    const char *substr, *spec;
    char when[40];
} first_call;

static int scan_trace(scan *s, const char *path, const char *state, first_call *fc, size_t nfc)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "hostscan: cannot open %s: %s\n", path, strerror(errno));
        return 2;
    }
    enum { MAXFD = 65536 };
    stream *streams = calloc(2 * MAXFD, sizeof *streams);
    uint64_t *offs = calloc(2 * MAXFD, sizeof *offs);
    if (!streams || !offs) {
        fprintf(stderr, "hostscan: out of memory\n");
        return 2;
    }
    tstats t = {0};
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int cur_fd = -1, cur_dir = -1;
    enum kind cur_kind = K_OTHER;
    long long cur_ret = -1;
    uint64_t dumped = 0, expect_off = 0;
    char where[200] = "";
    uint8_t bytes[16], *acc = NULL; /* the current call's bytes */
    size_t acc_len = 0, acc_cap = 0;
    uint64_t lineno = 0;
    /* closes the dump of the current call: its bytes must equal what the call returned. A
     * write's dump is its whole buffer, of which a partial write (a non-blocking socket)
     * moved only the first `ret` bytes, and a failed one none: only those are kept. */
#define END_CALL()                                                                                 \
    do {                                                                                           \
        if (cur_fd >= 0 && cur_dir == 1 && (cur_ret < 0 || dumped > (uint64_t)cur_ret)) {          \
            uint64_t moved_ = cur_ret < 0 ? 0 : (uint64_t)cur_ret;                                 \
            t.bytes[cur_kind][1] -= dumped - moved_;                                               \
            acc_len = (size_t)moved_;                                                              \
            dumped = moved_;                                                                       \
        }                                                                                          \
        if (cur_fd >= 0 && acc_len) {                                                              \
            size_t slot_ = 2 * (size_t)cur_fd + (size_t)cur_dir;                                   \
            s->where = where;                                                                      \
            feed(s, &streams[slot_], acc, acc_len, cur_dir, offs[slot_]);                          \
            offs[slot_] += acc_len;                                                                \
            acc_len = 0;                                                                           \
        }                                                                                          \
        if (cur_fd >= 0 && cur_ret >= 0 && (uint64_t)cur_ret != dumped) {                          \
            if (t.mismatches++ < 5)                                                                \
                fprintf(stderr, "hostscan: %s: dump has %" PRIu64 " bytes, call moved %lld\n",     \
                        where, dumped, cur_ret);                                                   \
        }                                                                                          \
        cur_fd = -1;                                                                               \
    } while (0)
    while ((len = getline(&line, &cap, f)) > 0) {
        lineno++;
        t.lines++;
        if (line[len - 1] == '\n') line[--len] = '\0';
        if (strncmp(line, " | ", 3) == 0) { /* a dump line: " | OFFSET  xx xx ... xx  ascii |" */
            if (cur_fd < 0) continue;       /* a dump of a call we do not track */
            char *p = line + 3, *e;
            unsigned long long off = strtoull(p, &e, 16);
            if (e == p || strncmp(e, "  ", 2) != 0) {
                fprintf(stderr, "hostscan: %s line %" PRIu64 ": unexpected dump line\n", path,
                        lineno);
                return 2;
            }
            if (off == 0) expect_off = 0;
            if (off != expect_off) {
                fprintf(stderr,
                        "hostscan: %s line %" PRIu64 ": dump offset %llx, expected %" PRIx64 "\n",
                        path, lineno, off, expect_off);
                return 2;
            }
            p = e + 2;
            size_t n = 0;
            for (size_t i = 0; i < 16; i++) {
                size_t pos = i * 3 + (i >= 8);
                if ((size_t)(p - line) + pos + 2 > (size_t)len) break;
                int h = hexval(p[pos]), l = hexval(p[pos + 1]);
                if (h < 0 || l < 0) break;
                bytes[n++] = (uint8_t)(h << 4 | l);
            }
            if (acc_len + n > acc_cap) {
                acc_cap = 2 * (acc_len + n);
                acc = realloc(acc, acc_cap);
                if (!acc) {
                    fprintf(stderr, "hostscan: out of memory\n");
                    return 2;
                }
            }
            memcpy(acc + acc_len, bytes, n);
            acc_len += n;
            dumped += n;
            expect_off += n;
            t.bytes[cur_kind][cur_dir] += n;
            continue;
        }
        if (strncmp(line, " * ", 3) == 0) continue; /* " * N bytes in buffer K" (readv etc.) */
        END_CALL();
        /* "[TIMESTAMP ]name(fd<annotation>, ...) = RET" */
        char *p = line, stamp[40] = "";
        if (isdigit((unsigned char)*p)) {
            size_t sl = 0;
            while (*p && *p != ' ') {
                if (sl + 1 < sizeof stamp) stamp[sl++] = *p;
                p++;
            }
            stamp[sl] = '\0';
            while (*p == ' ') p++;
        }
        char name[40];
        size_t k = 0;
        while ((isalnum((unsigned char)p[k]) || p[k] == '_') && k < sizeof name - 1) {
            name[k] = p[k];
            k++;
        }
        name[k] = '\0';
        if (p[k] != '(') continue; /* signals, exit, resumed lines */
        const char *eq = strrchr(p, '=');
        long long ret = eq ? strtoll(eq + 1, NULL, 10) : -1;
        if (eq && strncmp(eq + 1, " ?", 2) == 0) ret = -1;
        if ((strcmp(name, "sendfile") == 0 || strcmp(name, "sendfile64") == 0) && ret > 0) {
            if (replay_sendfile(s, streams, offs, &t, p, stamp, where, sizeof where) == ret) {
                t.replayed++;
                continue;
            }
        }
        if (unscannable(name) && ret > 0) {
            t.unscannable++;
            fprintf(stderr,
                    "hostscan: %s line %" PRIu64 ": data moved by %s, which strace does "
                    "not dump: %.120s\n",
                    path, lineno, name, p);
        }
        if (state && (strcmp(name, "mmap") == 0 || strcmp(name, "mmap2") == 0)) {
            /* mmap(addr, len, prot, flags, fd<path>, off) */
            char ann[4096];
            annotation(strchr(p, '<'), ann, sizeof ann);
            if (strncmp(ann, state, strlen(state)) == 0 && ret != -1) {
                t.unscannable++;
                fprintf(stderr,
                        "hostscan: %s line %" PRIu64 ": a state file is mapped into "
                        "memory (its bytes bypass the dump): %.160s\n",
                        path, lineno, p);
            }
        }
        int dir = data_dir(name);
        if (dir < 0) continue;
        char *q = p + k + 1, *e;
        long fd = strtol(q, &e, 10);
        if (e == q || fd < 0 || fd >= MAXFD) continue;
        char ann[4096];
        annotation(e, ann, sizeof ann);
        enum kind kind = fd_kind(ann);
        for (size_t i = 0; i < nfc && ret > 0; i++)
            if (!fc[i].when[0] && strcmp(fc[i].name, name) == 0 && strstr(ann, fc[i].substr))
                snprintf(fc[i].when, sizeof fc[i].when, "%s", stamp[0] ? stamp : "?");
        cur_fd = (int)fd;
        cur_dir = dir;
        cur_kind = kind;
        cur_ret = ret;
        dumped = 0;
        expect_off = 0;
        if (ret > 0) t.calls[kind][dir]++;
        snprintf(where, sizeof where, "%s line %" PRIu64 " (%s on fd %ld, %s: %.100s)", path,
                 lineno, name, fd, KIND[kind], ann);
    }
    END_CALL();
#undef END_CALL
    free(line);
    free(acc);
    fclose(f);
    free(streams);
    free(offs);
    uint64_t total = 0;
    for (int k = 0; k < K_N; k++)
        for (int d = 0; d < 2; d++) total += t.bytes[k][d];
    printf("hostscan trace: %s: %" PRIu64 " lines, %" PRIu64 " bytes of data scanned\n", path,
           t.lines, total);
    for (int k = 0; k < K_N; k++)
        if (t.bytes[k][0] + t.bytes[k][1])
            printf("  %-32s read %12" PRIu64 " bytes in %6" PRIu64 " calls, written %12" PRIu64
                   " bytes in %6" PRIu64 " calls\n",
                   KIND[k], t.bytes[k][0], t.calls[k][0], t.bytes[k][1], t.calls[k][1]);
    for (size_t i = 0; i < nfc; i++)
        printf("first %s %s\n", fc[i].spec, fc[i].when[0] ? fc[i].when : "never");
    if (t.replayed)
        printf("hostscan trace: %" PRIu64 " sendfile call(s): their bytes read back from the "
               "source files (unchanged since the call) and scanned\n",
               t.replayed);
    int rc = verdict(s, "trace");
    if (t.mismatches) {
        printf("hostscan trace: %" PRIu64 " call(s) whose dump does not hold every byte moved: "
               "the scan is incomplete\n",
               t.mismatches);
        rc = 1;
    }
    if (t.unscannable) {
        printf("hostscan trace: %" PRIu64 " data transfer(s) strace cannot dump: the scan is "
               "incomplete\n",
               t.unscannable);
        rc = 1;
    }
    if (total == 0) {
        printf("hostscan trace: no data at all: was strace run with -e read=all -e write=all?\n");
        rc = 1;
    }
    return rc;
}

/* ---- process memory ---------------------------------------------------------------------- */

#define MEM_SKIP_ABOVE (1ull << 30) /* sanitizer shadow and other huge reservations */
#define PAGE           4096u

typedef struct mstats {
    uint64_t bytes, ranges, unreadable, untouched, skipped, skipped_bytes, skipped_rss;
} mstats;

/* Resident kB of the mapping starting at lo, from /proc/PID/smaps (0 if unknown). */
static uint64_t smaps_rss(long pid, unsigned long long lo)
{
    char path[64], line[512];
    snprintf(path, sizeof path, "/proc/%ld/smaps", pid);
    FILE *f = fopen(path, "r");
    uint64_t rss = 0;
    bool in = false;
    while (f && fgets(line, sizeof line, f)) {
        unsigned long long a, b;
        if (sscanf(line, "%llx-%llx ", &a, &b) == 2 && strchr(line, '-') < strchr(line, ' '))
            in = a == lo;
        else if (in && strncmp(line, "Rss:", 4) == 0) {
            rss = strtoull(line + 4, NULL, 10);
            break;
        }
    }
    if (f) fclose(f);
    return rss;
}

/* Scans the readable memory of pid. Pages of anonymous mappings that were never touched
 * (neither present nor swapped, per /proc/PID/pagemap) read as zeros and are skipped; every
 * other page is read. */
static int scan_mem(scan *s, long pid, mstats *ms)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/maps", pid);
    FILE *maps = fopen(path, "r");
    snprintf(path, sizeof path, "/proc/%ld/mem", pid);
    int mem = open(path, O_RDONLY | O_CLOEXEC);
    snprintf(path, sizeof path, "/proc/%ld/pagemap", pid);
    int pm = open(path, O_RDONLY | O_CLOEXEC);
    if (!maps || mem < 0 || pm < 0) {
        fprintf(stderr, "hostscan: cannot open /proc/%ld/{maps,mem,pagemap}: %s\n", pid,
                strerror(errno));
        if (maps) fclose(maps);
        if (mem >= 0) close(mem);
        if (pm >= 0) close(pm);
        return 2;
    }
    enum { BATCH = 256 }; /* pages per read */
    static uint8_t buf[BATCH * PAGE];
    uint64_t ent[BATCH];
    char line[4096];
    stream st = {0};
    uint64_t prev_end = 0;
    char where[300];
    while (fgets(line, sizeof line, maps)) {
        unsigned long long lo, hi, inode;
        char perms[8] = "";
        int consumed = 0;
        if (sscanf(line, "%llx-%llx %7s %*s %*s %llu%n", &lo, &hi, perms, &inode, &consumed) < 4)
            continue;
        char *nl = strchr(line, '\n');
        if (nl) *nl = '\0';
        const char *label = line + consumed;
        while (*label == ' ') label++;
        if (perms[0] != 'r' || strcmp(label, "[vvar]") == 0 || strcmp(label, "[vvar_vclock]") == 0)
            continue;
        if (hi - lo > MEM_SKIP_ABOVE) {
            ms->skipped++;
            ms->skipped_bytes += hi - lo;
            ms->skipped_rss += smaps_rss(pid, lo) * 1024u;
            continue;
        }
        bool anon = inode == 0 && label[0] != '/';
        if (lo != prev_end) memset(&st, 0, sizeof st);
        snprintf(where, sizeof where, "%llx-%llx %s %s", lo, hi, perms, *label ? label : "[anon]");
        s->where = where;
        ms->ranges++;
        for (uint64_t a = lo; a < hi;) {
            size_t pages = (hi - a) / PAGE > BATCH ? BATCH : (size_t)((hi - a) / PAGE);
            if (anon) {
                ssize_t r = pread(pm, ent, pages * 8, (off_t)(a / PAGE * 8));
                if (r != (ssize_t)(pages * 8)) memset(ent, 0xff, sizeof ent); /* read all */
            }
            /* runs of pages to read */
            for (size_t i = 0; i < pages;) {
                bool touched = !anon || (ent[i] >> 62) != 0; /* present or swapped */
                size_t j = i + 1;
                while (j < pages && (!anon || (ent[j] >> 62) != 0) == touched) j++;
                uint64_t at = a + i * PAGE, len = (j - i) * PAGE;
                if (!touched) {
                    ms->untouched += len;
                    memset(&st, 0, sizeof st);
                } else {
                    ssize_t r = pread(mem, buf, (size_t)len, (off_t)at);
                    if (r <= 0) {
                        ms->unreadable += len;
                        memset(&st, 0, sizeof st);
                    } else {
                        feed(s, &st, buf, (size_t)r, 0, at - lo);
                        ms->bytes += (uint64_t)r;
                        if ((uint64_t)r < len) ms->unreadable += len - (uint64_t)r;
                    }
                }
                i = j;
            }
            a += pages * PAGE;
        }
        prev_end = hi;
    }
    fclose(maps);
    close(mem);
    close(pm);
    return 0;
}

static void mem_report(const char *mode, long pid, const mstats *ms)
{
    printf("hostscan %s: pid %ld: %" PRIu64 " bytes in %" PRIu64
           " readable ranges scanned (%" PRIu64 " bytes of never-touched anonymous pages "
           "skipped as zero, %" PRIu64 " unreadable; %" PRIu64
           " ranges over 1 GiB skipped: %" PRIu64 " bytes of address space, %" PRIu64
           " resident)\n",
           mode, pid, ms->bytes, ms->ranges, ms->untouched, ms->unreadable, ms->skipped,
           ms->skipped_bytes, ms->skipped_rss);
}

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- main --------------------------------------------------------------------------------- */

static int usage(void)
{
    fprintf(stderr, "usage: hostscan port\n"
                    "       hostscan files   NEEDLES PATH...\n"
                    "       hostscan trace   NEEDLES [--state DIR] [--first CALL:PATH]... "
                    "STRACE_FILE\n"
                    "       hostscan mem     NEEDLES PID\n"
                    "       hostscan memloop NEEDLES --until FILE --log LOG [--max-seconds N] PID\n"
                    "NEEDLES: -a MARKER | -n NUMBER | -p CONTROL | -r CONTROL | -w CONTROL ...\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 2) return usage();
    const char *mode = argv[1];
    if (strcmp(mode, "port") == 0) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t al = sizeof a;
        if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
            getsockname(fd, (struct sockaddr *)&a, &al) != 0) {
            perror("hostscan port");
            return 2;
        }
        printf("%u\n", ntohs(a.sin_port));
        close(fd);
        return 0;
    }
    static scan s;
    const char *state = NULL, *until = NULL, *log = NULL;
    static first_call fc[8];
    size_t nfc = 0;
    long max_seconds = 120;
    int i = 2;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *o = argv[i];
        if (i + 1 >= argc) return usage();
        const char *v = argv[++i];
        if (strcmp(o, "-a") == 0)
            add_marker(&s, v);
        else if (strcmp(o, "-n") == 0)
            add_number(&s, v);
        else if (strcmp(o, "-p") == 0)
            add(&s, v, strlen(v), PRESENT, v);
        else if (strcmp(o, "-r") == 0)
            add(&s, v, strlen(v), PRESENT_READ, v);
        else if (strcmp(o, "-w") == 0)
            add(&s, v, strlen(v), PRESENT_WRITE, v);
        else if (strcmp(o, "--state") == 0)
            state = v;
        else if (strcmp(o, "--first") == 0) {
            const char *colon = strchr(v, ':');
            if (nfc == 8 || !colon || (size_t)(colon - v) >= sizeof fc[0].name) return usage();
            memcpy(fc[nfc].name, v, (size_t)(colon - v));
            fc[nfc].substr = colon + 1;
            fc[nfc++].spec = v;
        } else if (strcmp(o, "--until") == 0)
            until = v;
        else if (strcmp(o, "--log") == 0)
            log = v;
        else if (strcmp(o, "--max-seconds") == 0)
            max_seconds = atol(v);
        else
            return usage();
    }
    if (s.count == 0 || i >= argc) return usage();
    if (strcmp(mode, "files") == 0) {
        fstats fs = {0};
        for (; i < argc; i++) scan_path(&s, argv[i], &fs);
        printf("hostscan files: %" PRIu64 " bytes in %" PRIu64 " files scanned\n", fs.bytes,
               fs.files);
        return verdict(&s, "files");
    }
    if (strcmp(mode, "trace") == 0) {
        if (i + 1 != argc) return usage();
        return scan_trace(&s, argv[i], state, fc, nfc);
    }
    if (strcmp(mode, "mem") == 0 || strcmp(mode, "memloop") == 0) {
        if (i + 1 != argc) return usage();
        long pid = atol(argv[i]);
        if (pid <= 0) return usage();
        if (strcmp(mode, "mem") == 0) {
            mstats ms = {0};
            if (scan_mem(&s, pid, &ms)) return 2;
            mem_report("mem", pid, &ms);
            return verdict(&s, "mem");
        }
        if (!until || !log) return usage();
        FILE *lf = fopen(log, "w");
        if (!lf) {
            fprintf(stderr, "hostscan: cannot write %s\n", log);
            return 2;
        }
        uint64_t start = now_us(), total = 0, passes = 0, blind = 0;
        mstats last = {0};
        while (access(until, F_OK) != 0 && now_us() - start < (uint64_t)max_seconds * 1000000u) {
            mstats ms = {0};
            uint64_t hits_before = 0, hits_after = 0, controls_before[MAX_NEEDLES];
            for (size_t k = 0; k < s.count; k++) {
                controls_before[k] = s.n[k].hits[0];
                if (s.n[k].need == ABSENT) hits_before += s.n[k].hits[0];
            }
            uint64_t t0 = now_us();
            if (scan_mem(&s, pid, &ms)) break; /* the process exited */
            uint64_t t1 = now_us();
            bool seen_all = true;
            for (size_t k = 0; k < s.count; k++) {
                if (s.n[k].need == ABSENT)
                    hits_after += s.n[k].hits[0];
                else if (s.n[k].hits[0] == controls_before[k])
                    seen_all = false;
            }
            blind += !seen_all;
            passes++;
            last = ms;
            total += ms.bytes;
            fprintf(lf, "pass %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %d\n",
                    passes, t0, t1, ms.bytes, hits_after - hits_before, seen_all);
            fflush(lf);
            struct timespec pause = {0, 10 * 1000 * 1000}; /* leave the CPU to the job */
            nanosleep(&pause, NULL);
        }
        fclose(lf);
        printf("hostscan memloop: pid %ld: %" PRIu64 " passes, %" PRIu64 " bytes scanned\n", pid,
               passes, total);
        if (passes) mem_report("memloop (last pass)", pid, &last);
        if (passes == 0) {
            printf("hostscan memloop: no pass completed\n");
            return 1;
        }
        int rc = verdict(&s, "memloop");
        if (blind) {
            printf("hostscan memloop: %" PRIu64 " pass(es) missed a control: those passes were "
                   "blind\n",
                   blind);
            rc = 1;
        }
        return rc;
    }
    return usage();
}
