/* tee_tsm.c - UNTRUSTED: the tsm backend: mc2d runs inside an AMD SEV-SNP confidential VM
 * and gets the VM's attestation report from Linux's configfs-tsm interface
 * (Documentation/ABI/testing/configfs-tsm in the kernel), for the enclave's report data.
 *
 * One report, as the host does it (evidence, on the enclave's EIF_EVIDENCE_REQ):
 *   mkdir DIR/mc2-PID-N          a fresh report entry (configfs makes its attributes)
 *   read  provider               must be "sev_guest" (TDX quotes are not built)
 *   read  generation  -> g       counts the writes to the entry
 *   write inblob                 the 64 bytes of report data
 *   read  outblob                the ATTESTATION_REPORT (exactly 1184 bytes)
 *   read  auxblob                the certificate table (tee_tsm.h), may be empty
 *   read  generation  == g + 1   else another writer raced us: refused
 *   rmdir the entry              in every case
 * then the evidence is format 2 (mc2_evidence_snp_encode) with the VCEK (or VLEK), ASK and
 * ARK from the table, or from the certs= directory for those the table lacks.
 *
 * The kernel answers at once: its attributes exist when mkdir returns and outblob is made on
 * read. The fake tree the tests use (tests/tools/fake_tsm.c) is a process watching a plain
 * directory, so this backend waits, up to timeout_ms, for `generation` and `outblob` to
 * appear (on the kernel it never waits), creates `inblob` if it is missing (O_CREAT: a no-op
 * on configfs, where it exists), and removes an entry's files when rmdir finds it not empty
 * (configfs removes them itself). Every byte read here is bounded: the files come from the
 * kernel, but a compromised guest kernel is as hostile as anything else, and the client
 * verifies the evidence anyway. mc2d's event loop waits while a report is made. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "base/file.h"
#include "host/tee.h"
#include "host/tee_tsm.h"

#define TSM_DEFAULT_DIR     "/sys/kernel/config/tsm/report"
#define TSM_DEFAULT_TIMEOUT 2000
#define TSM_PATH_MAX        1024

typedef struct tsm_tee {
    char dir[TSM_PATH_MAX];
    char certs[TSM_PATH_MAX]; /* "" if none */
    unsigned timeout_ms;
    unsigned seq;
} tsm_tee;

/* What one report request read from its entry. */
typedef struct tsm_blobs {
    mc2_buf out, aux;
} tsm_blobs;

static const uint8_t guid_vcek[16] = {0x63, 0xda, 0x75, 0x8d, 0xe6, 0x64, 0x45, 0x64,
                                      0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac, 0xcd};
static const uint8_t guid_vlek[16] = {0xa8, 0x07, 0x4b, 0xc2, 0xa2, 0x5a, 0x48, 0x3e,
                                      0xaa, 0xe6, 0x39, 0xc0, 0x45, 0xa0, 0xb8, 0xa1};
static const uint8_t guid_ask[16] = {0x4a, 0xb7, 0xb3, 0x79, 0xbb, 0xac, 0x4f, 0xe4,
                                     0xa0, 0x2f, 0x05, 0xae, 0xf3, 0x27, 0xc7, 0x82};
static const uint8_t guid_ark[16] = {0xc0, 0xb4, 0x06, 0xa4, 0xa8, 0x03, 0x49, 0x52,
                                     0x97, 0x43, 0x3f, 0xb6, 0x01, 0x4c, 0xd0, 0xae};

static const char *const slot_name[3] = {"VCEK", "ASK", "ARK"};
static const char *const slot_file[3] = {"vcek.der", "ask.der", "ark.der"};

/* ---- the certificate table ---------------------------------------------------------------- */

static int guid_slot(const uint8_t g[16])
{
    if (memcmp(g, guid_vcek, 16) == 0 || memcmp(g, guid_vlek, 16) == 0) return MC2_TSM_VCEK;
    if (memcmp(g, guid_ask, 16) == 0) return MC2_TSM_ASK;
    if (memcmp(g, guid_ark, 16) == 0) return MC2_TSM_ARK;
    return -1;
}

static int bad_table(mc2_err *err, const char *why)
{
    return mc2_err_set(err, MC2_E_INPUT, "the SEV-SNP certificate table (auxblob) is malformed: %s",
                       why);
}

static int parse_table(const uint8_t *p, size_t n, mc2_tsm_certs *c, mc2_err *err)
{
    static const uint8_t zero[24];
    if (n == 0) return 0;
    if (n > MC2_TSM_AUXBLOB_MAX) return bad_table(err, "larger than 64 KiB");
    size_t ne = 0; /* entries before the terminator */
    while ((ne + 1) * 24 <= n && memcmp(p + ne * 24, zero, 24) != 0) {
        if (++ne > MC2_TSM_MAX_ENTRIES) return bad_table(err, "more than 64 entries");
    }
    if ((ne + 1) * 24 > n) return bad_table(err, "no all-zero entry ends the table");
    size_t table_end = (ne + 1) * 24;
    for (size_t i = 0; i < ne; i++) {
        const uint8_t *e = p + i * 24;
        int slot = guid_slot(e);
        if (slot < 0) continue; /* a CRL or other entry: not used */
        size_t off = mc2_le32_get(e + 16), len = mc2_le32_get(e + 20);
        if (len == 0 || len > MC2_SNP_MAX_CERT_LEN)
            return bad_table(err, "a certificate is empty or longer than 8 KiB");
        if (off < table_end || off > n || len > n - off)
            return bad_table(err, "a certificate overlaps the entries or runs past the end");
        if (c->len[slot]) return bad_table(err, "two certificates for the same place");
        c->cert[slot] = p + off;
        c->len[slot] = len;
    }
    return 0;
}

int mc2_tsm_certs_parse(const uint8_t *p, size_t n, mc2_tsm_certs *c, mc2_err *err)
{
    memset(c, 0, sizeof *c);
    if (parse_table(p, n, c, err) == 0) return 0;
    memset(c, 0, sizeof *c); /* nothing from a table that was refused */
    return -1;
}

/* ---- open ------------------------------------------------------------------------------------ */

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int set_opt(tsm_tee *t, const char *k, const char *v, mc2_err *err)
{
    if (strcmp(k, "dir") == 0 || strcmp(k, "certs") == 0) {
        char *dst = k[0] == 'd' ? t->dir : t->certs;
        if (!v[0]) return mc2_err_set(err, MC2_E_USAGE, "option %s= wants a directory", k);
        snprintf(dst, TSM_PATH_MAX, "%s", v);
        return 0;
    }
    if (strcmp(k, "timeout_ms") == 0) {
        char *end;
        errno = 0;
        unsigned long ms = strtoul(v, &end, 10);
        if (errno || !v[0] || *end || v[0] == '-' || ms < 1 || ms > 60000)
            return mc2_err_set(err, MC2_E_USAGE, "timeout_ms= wants 1 to 60000, not '%s'", v);
        t->timeout_ms = (unsigned)ms;
        return 0;
    }
    return mc2_err_set(err, MC2_E_USAGE,
                       "the tsm backend has no option '%s' (it takes dir=, certs=, timeout_ms=)",
                       k);
}

static int tsm_open(const char *state_dir, const char *opts, void **ctx, mc2_err *err)
{
    (void)state_dir;
    tsm_tee *t = mc2_calloc(1, sizeof *t);
    if (!t) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    snprintf(t->dir, sizeof t->dir, "%s", TSM_DEFAULT_DIR);
    t->timeout_ms = TSM_DEFAULT_TIMEOUT;
    char k[32], v[TSM_PATH_MAX];
    int r;
    while ((r = mc2_tee_opt_next(&opts, k, sizeof k, v, sizeof v, err)) == 0)
        if (set_opt(t, k, v, err)) goto fail;
    if (r < 0) goto fail;
    if (!is_dir(t->dir)) {
        mc2_err_set(err, MC2_E_NOTFOUND,
                    "'%s' is not a directory: this is not a confidential VM with configfs-tsm "
                    "(an SEV-SNP guest whose kernel has CONFIG_TSM_REPORTS and the sev-guest "
                    "driver, with configfs mounted: mount -t configfs none /sys/kernel/config), "
                    "or give its place with --tee-opt dir=DIR",
                    t->dir);
        goto fail;
    }
    if (t->certs[0] && !is_dir(t->certs)) {
        mc2_err_set(err, MC2_E_NOTFOUND,
                    "certs directory '%s' does not exist (it holds vcek.der, ask.der, ark.der "
                    "from AMD's key distribution service)",
                    t->certs);
        goto fail;
    }
    *ctx = t;
    return 0;
fail:
    mc2_free(t);
    return -1;
}

static int tsm_prepare(void *ctx, const uint8_t measurement[MC2_SHA256_LEN],
                       const mc2_sigstruct *ss, mc2_buf *attester, mc2_err *err)
{
    (void)ctx;
    (void)measurement;
    (void)ss;
    (void)attester; /* the tsm attester takes no INIT bytes */
    (void)err;
    return 0;
}

/* ---- one report ------------------------------------------------------------------------------ */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* entry/name into path (err if it does not fit). */
static int attr_path(const char *entry, const char *name, char *path, mc2_err *err)
{
    if ((size_t)snprintf(path, TSM_PATH_MAX, "%s/%s", entry, name) >= TSM_PATH_MAX)
        return mc2_err_set(err, MC2_E_LIMIT, "configfs-tsm path too long");
    return 0;
}

/* Waits for entry/name to exist (at once on the kernel; the fake tree needs a moment). */
static int wait_attr(const tsm_tee *t, const char *entry, const char *name, mc2_err *err)
{
    char path[TSM_PATH_MAX];
    if (attr_path(entry, name, path, err)) return -1;
    uint64_t end = now_ms() + t->timeout_ms;
    while (access(path, F_OK) != 0) {
        if (now_ms() >= end)
            return mc2_err_set(err, MC2_E_IO,
                               "configfs-tsm gave no '%s' in %u ms (%s): is the provider "
                               "driver (sev-guest) loaded?",
                               name, t->timeout_ms, entry);
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

/* Reads entry/name, at most max bytes, into b (reset first). */
static int read_attr(const char *entry, const char *name, size_t max, mc2_buf *b, mc2_err *err)
{
    char path[TSM_PATH_MAX];
    mc2_buf_reset(b);
    if (attr_path(entry, name, path, err)) return -1;
    if (mc2_file_read_all(path, max, b, err)) {
        mc2_err_prefix(err, "configfs-tsm: ");
        return -1;
    }
    return 0;
}

/* The entry's generation: decimal digits and a newline. */
static int read_generation(const char *entry, uint64_t *g, mc2_err *err)
{
    mc2_buf b = {0};
    int rc = read_attr(entry, "generation", 32, &b, err);
    size_t n = b.len, i = 0;
    while (!rc && n && (b.data[n - 1] == '\n')) n--;
    *g = 0;
    for (; !rc && i < n && i < 19 && b.data[i] >= '0' && b.data[i] <= '9'; i++)
        *g = *g * 10 + (uint64_t)(b.data[i] - '0');
    if (!rc && (n == 0 || i != n))
        rc = mc2_err_set(err, MC2_E_INPUT, "configfs-tsm: '%s/generation' is not a number", entry);
    mc2_buf_free(&b);
    return rc;
}

static int check_provider(const char *entry, mc2_err *err)
{
    mc2_buf b = {0};
    int rc = read_attr(entry, "provider", 64, &b, err);
    size_t n = b.len;
    while (!rc && n && b.data[n - 1] == '\n') n--;
    if (!rc && !(n == 9 && memcmp(b.data, "sev_guest", 9) == 0))
        rc = mc2_err_set(err, MC2_E_INPUT,
                         "configfs-tsm's provider is '%.*s', not sev_guest: only AMD SEV-SNP "
                         "reports are built (not TDX quotes)",
                         (int)(n < 32 ? n : 32), n ? (const char *)b.data : "");
    mc2_buf_free(&b);
    return rc;
}

static int write_inblob(const char *entry, const uint8_t rd[MC2_REPORT_DATA_LEN], mc2_err *err)
{
    char path[TSM_PATH_MAX];
    if (attr_path(entry, "inblob", path, err)) return -1;
    int fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return mc2_err_set(err, MC2_E_IO, "configfs-tsm: cannot open '%s': %s", path,
                           strerror(errno));
    ssize_t w = write(fd, rd, MC2_REPORT_DATA_LEN);
    int e = errno;
    if (close(fd) != 0 && w == MC2_REPORT_DATA_LEN) {
        e = errno;
        w = -1;
    }
    if (w != MC2_REPORT_DATA_LEN)
        return mc2_err_set(err, MC2_E_IO, "configfs-tsm: cannot write '%s': %s", path,
                           w < 0 ? strerror(e) : "short write");
    return 0;
}

/* The request on a made entry: see the header comment. */
static int request(const tsm_tee *t, const char *entry, const uint8_t rd[MC2_REPORT_DATA_LEN],
                   tsm_blobs *b, mc2_err *err)
{
    uint64_t g0, g1;
    if (wait_attr(t, entry, "generation", err) || check_provider(entry, err) ||
        read_generation(entry, &g0, err) || write_inblob(entry, rd, err) ||
        wait_attr(t, entry, "outblob", err) ||
        read_attr(entry, "outblob", MC2_SNP_REPORT_LEN, &b->out, err))
        return -1;
    if (b->out.len != MC2_SNP_REPORT_LEN)
        return mc2_err_set(err, MC2_E_INPUT,
                           "configfs-tsm's outblob is %zu bytes, not an SEV-SNP report (1184)",
                           b->out.len);
    if (read_attr(entry, "auxblob", MC2_TSM_AUXBLOB_MAX, &b->aux, err)) {
        if (err->code != MC2_E_NOTFOUND) return -1;
        mc2_buf_reset(&b->aux); /* no certificate table: certs= gives them */
    }
    if (read_generation(entry, &g1, err)) return -1;
    if (g1 != g0 + 1)
        return mc2_err_set(err, MC2_E_IO,
                           "configfs-tsm: another writer used the report entry '%s' while this "
                           "report was made (generation %llu, expected %llu): refused; is "
                           "another program using configfs-tsm with mc2's entry names?",
                           entry, (unsigned long long)g1, (unsigned long long)(g0 + 1));
    return 0;
}

/* Makes a fresh entry under t->dir, its path in entry. */
static int make_entry(tsm_tee *t, char *entry, mc2_err *err)
{
    for (int tries = 0; tries < 16; tries++) {
        if ((size_t)snprintf(entry, TSM_PATH_MAX, "%s/mc2-%d-%u", t->dir, (int)getpid(),
                             t->seq++) >= TSM_PATH_MAX)
            return mc2_err_set(err, MC2_E_LIMIT, "configfs-tsm path too long");
        if (mkdir(entry, 0700) == 0) return 0;
        if (errno != EEXIST)
            return mc2_err_set(err, MC2_E_IO, "configfs-tsm: cannot make a report entry '%s': %s",
                               entry, strerror(errno));
    }
    return mc2_err_set(err, MC2_E_IO, "configfs-tsm: every report entry name is taken in '%s'",
                       t->dir);
}

/* rmdir; a plain directory (the fake tree) needs its files removed first. */
static int remove_entry(const char *entry, mc2_err *err)
{
    static const char *const files[] = {"inblob", "outblob", "auxblob", "generation", "provider"};
    if (rmdir(entry) == 0) return 0;
    int not_empty = errno == ENOTEMPTY || errno == EEXIST;
    for (size_t i = 0; not_empty && i < 5; i++) {
        char path[TSM_PATH_MAX];
        if (attr_path(entry, files[i], path, err)) return -1;
        unlink(path);
    }
    if (rmdir(entry) == 0) return 0;
    return mc2_err_set(err, MC2_E_IO, "configfs-tsm: cannot remove the report entry '%s': %s",
                       entry, strerror(errno));
}

/* Loads DIR/NAME.der for a certificate the table lacks. */
static int cert_file(const tsm_tee *t, int slot, mc2_buf *b, mc2_err *err)
{
    if (!t->certs[0])
        return mc2_err_set(err, MC2_E_NOTFOUND,
                           "the report's certificate table (auxblob) has no %s certificate and "
                           "no certs= directory was given: put vcek.der, ask.der and ark.der "
                           "from AMD's key distribution service in a directory and pass "
                           "--tee-opt certs=DIR",
                           slot_name[slot]);
    char *path = mc2_path_join(t->certs, slot_file[slot]);
    if (!path) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    int rc = mc2_file_read_all(path, MC2_SNP_MAX_CERT_LEN, b, err);
    mc2_free(path);
    return rc;
}

/* The evidence from the report and its certificates. */
static int build(const tsm_tee *t, const tsm_blobs *b, mc2_buf *ev, mc2_err *err)
{
    mc2_tsm_certs c;
    mc2_buf file[3] = {{0}, {0}, {0}};
    uint8_t *out = NULL;
    size_t n = 0;
    int rc = -1;
    if (mc2_tsm_certs_parse(b->aux.data, b->aux.len, &c, err)) goto out;
    for (int i = 0; i < 3; i++) {
        if (c.len[i]) continue;
        if (cert_file(t, i, &file[i], err)) goto out;
        c.cert[i] = file[i].data;
        c.len[i] = file[i].len;
    }
    if (mc2_evidence_snp_encode(b->out.data, c.cert[0], c.len[0], c.cert[1], c.len[1], c.cert[2],
                                c.len[2], &out, &n, err) ||
        mc2_buf_append(ev, out, n, err))
        goto out;
    rc = 0;
out:
    for (int i = 0; i < 3; i++) mc2_buf_free(&file[i]);
    mc2_free(out);
    return rc;
}

static int tsm_evidence(void *ctx, const uint8_t rd[MC2_REPORT_DATA_LEN], mc2_buf *ev, mc2_err *err)
{
    tsm_tee *t = ctx;
    char entry[TSM_PATH_MAX];
    tsm_blobs b = {{0}, {0}};
    if (make_entry(t, entry, err)) return -1;
    int rc = request(t, entry, rd, &b, err);
    mc2_err e2;
    if (remove_entry(entry, &e2) && rc == 0) {
        *err = e2;
        rc = -1;
    }
    if (rc == 0) rc = build(t, &b, ev, err);
    mc2_buf_free(&b.out);
    mc2_buf_free(&b.aux);
    return rc;
}

static void tsm_close(void *ctx)
{
    mc2_free(ctx);
}

const mc2_tee_ops mc2_tee_tsm = {
    .name = "tsm",
    .banner = "AMD SEV-SNP confidential VM (configfs-tsm): the VM's memory is protected from "
              "the hypervisor; the evidence says which VM",
    .open = tsm_open,
    .prepare = tsm_prepare,
    .evidence = tsm_evidence,
    .counter = NULL, /* SEV-SNP has no monotonic counter */
    .close = tsm_close,
};
