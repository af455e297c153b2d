/* test_tee_tsm.c - the tsm backend's plumbing against the fake configfs-tsm tree
 * (tests/tools/fake_tsm.c, $MC2_BUILD/fake_tsm): its evidence verifies under the fake's ARK
 * and carries the report data it was asked for; the report entry is made and removed in
 * every case; a racing writer (generation), a missing auxblob (certs= used, or a clear error
 * without it), a malformed auxblob and a tree nobody answers are refused; open refuses what
 * it should; the certificate-table parser refuses every malformed table. */
#include <dirent.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/bytes.h"
#include "host/tee.h"
#include "host/tee_tsm.h"
#include "mc2/attest.h"
#include "test.h"

static char keys[256], tree[256], fake_bin[512];
static uint8_t ark_pin[32];

static void run_keygen(void)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' keygen '%s' >/dev/null", fake_bin, keys);
    if (system(cmd) != 0) {
        fprintf(stderr, "fake_tsm keygen failed (%s)\n", fake_bin);
        exit(1);
    }
    char path[300];
    snprintf(path, sizeof path, "%s/ark.der", keys);
    FILE *f = fopen(path, "rb");
    X509 *x = f ? d2i_X509_fp(f, NULL) : NULL;
    unsigned char *der = NULL;
    int n = x ? i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der) : -1;
    unsigned hl = 0;
    if (n <= 0 || !EVP_Digest(der, (size_t)n, ark_pin, &hl, EVP_sha256(), NULL)) exit(1);
    OPENSSL_free(der);
    X509_free(x);
    fclose(f);
}

/* Starts `fake_tsm serve` on tree with extra args; returns its pid once it is ready. */
static pid_t serve(const char *a1, const char *a2)
{
    int p[2];
    if (pipe(p) != 0) exit(1);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], 1);
        close(p[0]);
        execl(fake_bin, "fake_tsm", "serve", keys, tree, a1, a2, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    char buf[16] = {0};
    ssize_t r = read(p[0], buf, sizeof buf - 1);
    close(p[0]);
    CHECK_MSG(r > 0 && strncmp(buf, "ready", 5) == 0, "fake_tsm did not start");
    return pid;
}

static void stop(pid_t pid)
{
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
}

/* Entries left in the tree. */
static int entries(void)
{
    DIR *d = opendir(tree);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) n += e->d_name[0] != '.';
    if (d) closedir(d);
    return n;
}

/* One evidence call on a tsm backend opened with opts; its message in msg. */
static int evidence(const char *opts, const uint8_t rd[64], mc2_buf *ev, char *msg)
{
    mc2_tee t;
    mc2_err err;
    mc2_err_clear(&err);
    int rc = mc2_tee_open("tsm", "/nonexistent-mc2-tsm", opts, &t, &err);
    if (rc == 0) rc = t.ops->evidence(t.ctx, rd, ev, &err);
    if (rc) printf("  refused: %s\n", err.msg);
    snprintf(msg, sizeof err.msg, "%s", err.msg);
    mc2_tee_close(&t);
    return rc;
}

static void test_good(void)
{
    char opts[600], msg[512];
    uint8_t rd[64];
    for (int i = 0; i < 64; i++) rd[i] = (uint8_t)(i * 5 + 1);
    snprintf(opts, sizeof opts, "dir=%s", tree);
    pid_t pid = serve(NULL, NULL);
    for (int round = 0; round < 2; round++) { /* a second entry after the first was removed */
        mc2_buf ev = {0};
        CHECK(evidence(opts, rd, &ev, msg) == 0);
        mc2_verifier v = {.snp = {(const uint8_t(*)[32])ark_pin, 1}};
        mc2_claims c;
        mc2_err err;
        CHECK(ev.len > 12 + MC2_SNP_REPORT_LEN &&
              mc2_evidence_verify(&v, ev.data, ev.len, &c, &err) == MC2_ATTEST_OK);
        CHECK(memcmp(c.report_data, rd, 64) == 0); /* what inblob was given */
        CHECK(c.format == MC2_EVIDENCE_SNP && !c.simulation && !c.debug);
        CHECK(c.snp.reported_tcb.snp == 8 && c.snp.measurement[0] == 0x4D);
        CHECK(entries() == 0); /* the entry is removed */
        mc2_buf_free(&ev);
    }
    stop(pid);
}

static void test_refusals(void)
{
    char opts[600], msg[512];
    uint8_t rd[64] = {7};
    mc2_buf ev = {0};
    snprintf(opts, sizeof opts, "dir=%s,timeout_ms=300", tree);
    pid_t pid = serve("--bad", "race");
    CHECK(evidence(opts, rd, &ev, msg) != 0 && strstr(msg, "another writer"));
    CHECK(entries() == 0 && ev.len == 0);
    stop(pid);
    pid = serve("--aux", "none");
    CHECK(evidence(opts, rd, &ev, msg) != 0 && strstr(msg, "no certs= directory"));
    CHECK(entries() == 0);
    snprintf(opts, sizeof opts, "dir=%s,certs=%s", tree, keys);
    CHECK(evidence(opts, rd, &ev, msg) == 0); /* certs= gives the chain */
    mc2_verifier v = {.snp = {(const uint8_t(*)[32])ark_pin, 1}};
    mc2_claims c;
    mc2_err err;
    CHECK(mc2_evidence_verify(&v, ev.data, ev.len, &c, &err) == MC2_ATTEST_OK);
    mc2_buf_free(&ev);
    stop(pid);
    pid = serve("--aux", "bad");
    CHECK(evidence(opts, rd, &ev, msg) != 0 && strstr(msg, "auxblob) is malformed"));
    CHECK(entries() == 0);
    stop(pid);
    /* Nobody answers: a plain directory; bounded by timeout_ms, entry still removed. */
    snprintf(opts, sizeof opts, "dir=%s,timeout_ms=50", tree);
    CHECK(evidence(opts, rd, &ev, msg) != 0 && strstr(msg, "gave no 'generation'"));
    CHECK(entries() == 0);
}

static void test_open(void)
{
    char opts[600], msg[512];
    uint8_t rd[64] = {0};
    mc2_buf ev = {0};
    CHECK(evidence("dir=/nonexistent-mc2-tsm/tsm", rd, &ev, msg) != 0 &&
          strstr(msg, "not a confidential VM"));
    snprintf(opts, sizeof opts, "dir=%s,colour=blue", tree);
    CHECK(evidence(opts, rd, &ev, msg) != 0 && strstr(msg, "no option 'colour'"));
    snprintf(opts, sizeof opts, "dir=%s,timeout_ms=0", tree);
    CHECK(evidence(opts, rd, &ev, msg) != 0 && strstr(msg, "timeout_ms="));
    snprintf(opts, sizeof opts, "dir=%s,certs=/nonexistent-mc2-tsm", tree);
    CHECK(evidence(opts, rd, &ev, msg) != 0 && strstr(msg, "certs directory"));
    CHECK(evidence("dir", rd, &ev, msg) != 0 && strstr(msg, "malformed backend option"));
}

/* A table of the given entries (guid index 0 VCEK, 1 ASK, 2 ARK, 3 other), each naming
 * off/len, then the terminator, padded to n bytes. */
static size_t table(uint8_t *t, size_t n, const int *g, const uint32_t (*ol)[2], size_t ne)
{
    static const uint8_t guids[4][16] = {{0x63, 0xda, 0x75, 0x8d, 0xe6, 0x64, 0x45, 0x64, 0xad,
                                          0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac, 0xcd},
                                         {0x4a, 0xb7, 0xb3, 0x79, 0xbb, 0xac, 0x4f, 0xe4, 0xa0,
                                          0x2f, 0x05, 0xae, 0xf3, 0x27, 0xc7, 0x82},
                                         {0xc0, 0xb4, 0x06, 0xa4, 0xa8, 0x03, 0x49, 0x52, 0x97,
                                          0x43, 0x3f, 0xb6, 0x01, 0x4c, 0xd0, 0xae},
                                         {0x92, 0xf8, 0x1b, 0xc3, 0x58, 0x11, 0x4d, 0x3d, 0x97,
                                          0xff, 0xd1, 0x9f, 0x88, 0xdc, 0x67, 0xea}};
    memset(t, 0x55, n);
    for (size_t i = 0; i < ne; i++) {
        memcpy(t + i * 24, guids[g[i]], 16);
        mc2_le32_put(t + i * 24 + 16, ol[i][0]);
        mc2_le32_put(t + i * 24 + 20, ol[i][1]);
    }
    memset(t + ne * 24, 0, 24);
    return n;
}

static int parse(const uint8_t *t, size_t n, mc2_tsm_certs *c, const char *want)
{
    mc2_err err;
    mc2_err_clear(&err);
    int rc = mc2_tsm_certs_parse(t, n, c, &err);
    if (rc && want && !strstr(err.msg, want)) printf("  unexpected: %s\n", err.msg);
    return rc == 0 ? 0 : (!want || strstr(err.msg, want)) ? 1 : 2;
}

static void test_parser(void)
{
    static uint8_t t[MC2_TSM_AUXBLOB_MAX + 24];
    mc2_tsm_certs c;
    int g[3] = {0, 1, 2}, g_other[4] = {3, 0, 1, 2}, g_dup[2] = {0, 0};
    uint32_t ol[3][2] = {{96, 10}, {106, 20}, {126, 30}};
    uint32_t ol4[4][2] = {{0, 0}, {120, 10}, {130, 20}, {150, 30}};
    CHECK(parse(t, 0, &c, NULL) == 0 && c.len[0] == 0 && c.len[2] == 0); /* empty: none */
    CHECK(parse(t, table(t, 156, g, ol, 3), &c, NULL) == 0);
    CHECK(c.cert[0] == t + 96 && c.len[0] == 10 && c.cert[2] == t + 126 && c.len[2] == 30);
    CHECK(parse(t, table(t, 180, g_other, ol4, 4), &c, NULL) == 0 && c.len[1] == 20);
    CHECK(parse(t, table(t, 155, g, ol, 3), &c, "past the end") == 1);
    ol[1][0] = 80; /* inside the entries */
    CHECK(parse(t, table(t, 156, g, ol, 3), &c, "overlaps") == 1);
    ol[1][0] = 106;
    ol[2][1] = 0xFFFFFFFF; /* huge length (and offset + length would overflow 32 bits) */
    CHECK(parse(t, table(t, 156, g, ol, 3), &c, "empty or longer") == 1);
    ol[2][1] = 0;
    CHECK(parse(t, table(t, 156, g, ol, 3), &c, "empty or longer") == 1);
    ol[2][0] = 0xFFFFFFF0;
    ol[2][1] = 30;
    CHECK(parse(t, table(t, 156, g, ol, 3), &c, "past the end") == 1);
    uint32_t ol_dup[2][2] = {{72, 10}, {82, 10}};
    CHECK(parse(t, table(t, 92, g_dup, ol_dup, 2), &c, "same place") == 1); /* VCEK twice */
    g_dup[1] = 1;
    CHECK(parse(t, table(t, 92, g_dup, ol_dup, 2), &c, NULL) == 0); /* VCEK, ASK: fine */
    memset(t, 0x11, 200);
    CHECK(parse(t, 200, &c, "no all-zero entry") == 1);
    CHECK(parse(t, 23, &c, "no all-zero entry") == 1);
    memset(t, 0x11, sizeof t);
    CHECK(parse(t, 65 * 24 + 24, &c, "more than 64") == 1);
    CHECK(parse(t, MC2_TSM_AUXBLOB_MAX + 1, &c, "larger than") == 1);
}

int main(void)
{
    const char *b = getenv("MC2_BUILD");
    snprintf(fake_bin, sizeof fake_bin, "%s/fake_tsm", b ? b : ".");
    char tmpl[] = "/tmp/mc2-tsm-XXXXXX";
    if (!mkdtemp(tmpl)) return 1;
    snprintf(keys, sizeof keys, "%s/keys", tmpl);
    snprintf(tree, sizeof tree, "%s/report", tmpl);
    mkdir(tree, 0700);
    run_keygen();
    test_parser();
    test_open();
    test_good();
    test_refusals();
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpl);
    if (system(cmd) != 0) printf("cannot remove %s\n", tmpl);
    return test_done("test_tee_tsm");
}
