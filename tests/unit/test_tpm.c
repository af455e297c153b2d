/* test_tpm.c - the tpm backend and its evidence verifier against a real quote from swtpm (a
 * SOFTWARE TPM, started here on free loopback ports with a temporary state directory and
 * killed at the end; exit 77, skipped, if swtpm is not installed). The host backend's own
 * functions make the evidence (open, prepare, evidence); it verifies and appraises, and every
 * way it can be wrong is rejected with its own reason: an unknown AK, another PCR value (the
 * PCR extended behind the backend's back), another configured PCR, a quote replayed for other
 * report data, a wrong nonce, a tampered quote, signature, event log or sigstruct, an unknown
 * event type, truncation and trailing bytes.
 *
 * MC2_TPM_SEED=FILE also writes the good evidence to FILE and prints its AK's identity (how
 * fuzz/corpus/fuzz_tpm_evidence and fuzz_tpm_evidence.c's pin were made). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <tss2/tss2_esys.h>
#include <tss2/tss2_tctildr.h>

#include "base/buf.h"
#include "base/bytes.h"
#include "base/file.h"
#include "base/hex.h"
#include "crypto/pki.h"
#include "host/tee.h"
#include "mc2/attest.h"
#include "mc2/policy.h"
#include "test.h"

static pid_t swtpm_pid;
static int swtpm_port;
static char dir[] = "/tmp/mc2-test-tpm.XXXXXX";

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0) close(fd);
    return port;
}

static int reachable(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0) close(fd);
    return ok;
}

/* Starts swtpm; 0 ok, -1 failed. */
static int start_swtpm(void)
{
    char server[96], ctrl[96], state[128];
    for (int attempt = 0; attempt < 5; attempt++) {
        swtpm_port = free_port();
        if (swtpm_port <= 0 || swtpm_port > 65534) continue;
        snprintf(server, sizeof server, "type=tcp,port=%d,bindaddr=127.0.0.1", swtpm_port);
        snprintf(ctrl, sizeof ctrl, "type=tcp,port=%d,bindaddr=127.0.0.1", swtpm_port + 1);
        snprintf(state, sizeof state, "dir=%s", dir);
        swtpm_pid = fork();
        if (swtpm_pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGTERM); /* no orphan if this test crashes */
            execlp("swtpm", "swtpm", "socket", "--tpm2", "--server", server, "--ctrl", ctrl,
                   "--tpmstate", state, "--flags", "not-need-init,startup-clear", (char *)NULL);
            _exit(127);
        }
        for (int i = 0; swtpm_pid > 0 && i < 50; i++) {
            if (waitpid(swtpm_pid, NULL, WNOHANG) != 0) break;
            if (reachable(swtpm_port)) return 0;
            usleep(100000);
        }
        if (swtpm_pid > 0) {
            kill(swtpm_pid, SIGTERM);
            waitpid(swtpm_pid, NULL, 0);
        }
    }
    swtpm_pid = 0;
    return -1;
}

static void stop_swtpm(void)
{
    if (swtpm_pid > 0) {
        kill(swtpm_pid, SIGTERM);
        waitpid(swtpm_pid, NULL, 0);
    }
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

/* Extends the PCR behind the backend's back (as any process with the TPM could). */
static void extend_behind(int pcr)
{
    char conf[64];
    snprintf(conf, sizeof conf, "swtpm:port=%d", swtpm_port);
    TSS2_TCTI_CONTEXT *tcti = NULL;
    ESYS_CONTEXT *esys = NULL;
    TPML_DIGEST_VALUES d = {.count = 1};
    d.digests[0].hashAlg = TPM2_ALG_SHA256;
    memset(d.digests[0].digest.sha256, 0x11, 32);
    CHECK(Tss2_TctiLdr_Initialize(conf, &tcti) == 0);
    CHECK(tcti && Esys_Initialize(&esys, tcti, NULL) == 0);
    CHECK(esys && Esys_PCR_Extend(esys, ESYS_TR_PCR0 + (ESYS_TR)pcr, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                  ESYS_TR_NONE, &d) == 0);
    if (esys) Esys_Finalize(&esys);
    if (tcti) Tss2_TctiLdr_Finalize(&tcti);
}

static uint8_t ak[32], other_ak[32], rd[64], rd2[64];
static mc2_sigstruct ss;

static enum mc2_attest_result verify_as(const uint8_t *ev, size_t n, const uint8_t *ak_id, int pcr,
                                        const uint8_t *expect_rd, mc2_claims *c)
{
    mc2_verifier v = {.tpm = {(const uint8_t(*)[32])ak_id, 1, (uint8_t)pcr}};
    mc2_err err;
    mc2_err_clear(&err);
    enum mc2_attest_result r = mc2_evidence_verify(&v, ev, n, c, &err);
    if (r == MC2_ATTEST_OK) {
        mc2_appraisal a = {.n_measurements = 1};
        memcpy(a.measurements[0], ss.measurement, 32);
        r = mc2_appraise(c, &a, expect_rd, &err);
    }
    if (r != MC2_ATTEST_OK) {
        CHECK_MSG(err.msg[0] != 0, "result %d without a message", r);
        printf("  %-28s %s\n", mc2_attest_result_name(r), err.msg);
    }
    return r;
}

static enum mc2_attest_result verify(const uint8_t *ev, size_t n)
{
    mc2_claims c;
    return verify_as(ev, n, ak, 23, rd, &c);
}

/* A copy of ev with byte off xor'ed with x (the caller frees it). */
static uint8_t *flip(const mc2_buf *ev, size_t off, uint8_t x)
{
    uint8_t *p = malloc(ev->len + 1);
    memcpy(p, ev->data, ev->len);
    p[off] ^= x;
    return p;
}

/* Offsets of the evidence's parts (mc2/attest.h). */
static size_t quote_off(void)
{
    return 8 + 64 + 4;
}
static size_t sig_off(const mc2_buf *ev)
{
    return quote_off() + mc2_le32_get(ev->data + 72) + 4;
}
static size_t pub_off(const mc2_buf *ev)
{
    size_t s = sig_off(ev);
    return s + mc2_le32_get(ev->data + s - 4) + 4;
}
static size_t log_off(const mc2_buf *ev)
{
    size_t p = pub_off(ev);
    return p + mc2_le32_get(ev->data + p - 4); /* at n_events */
}

static void negatives(const mc2_buf *ev)
{
    mc2_claims c;
    CHECK(verify_as(ev->data, ev->len, other_ak, 23, rd, &c) == MC2_ATTEST_UNTRUSTED_PLATFORM);
    CHECK(verify_as(ev->data, ev->len, ak, 16, rd, &c) == MC2_ATTEST_PCR);
    CHECK(verify_as(ev->data, ev->len, ak, 23, rd2, &c) == MC2_ATTEST_BINDING); /* wrong nonce */
    uint8_t *p = flip(ev, 8 + 5, 0x40); /* replayed: the quote, another session's report data */
    CHECK(verify_as(p, ev->len, ak, 23, p + 8, &c) == MC2_ATTEST_BINDING);
    free(p);
    p = flip(ev, quote_off() + 60, 0x01); /* the quote's bytes (clock, PCR digest, ...) */
    CHECK(verify(p, ev->len) == MC2_ATTEST_BAD_SIGNATURE);
    free(p);
    p = flip(ev, sig_off(ev) + 6 + 5, 0x01); /* the signature's r */
    CHECK(verify(p, ev->len) == MC2_ATTEST_BAD_SIGNATURE);
    free(p);
    p = flip(ev, pub_off(ev) + 22 + 3, 0x01); /* another AK beside the quote (its x) */
    CHECK(verify(p, ev->len) == MC2_ATTEST_MALFORMED);
    free(p);
    p = flip(ev, pub_off(ev) + 4 + 1, 0x01); /* the AK's restricted attribute cleared */
    CHECK(verify(p, ev->len) == MC2_ATTEST_MALFORMED);
    free(p);
    size_t lo = log_off(ev);
    p = flip(ev, lo + 4 + 4 + 7, 0x01); /* the enclave event's digest */
    CHECK(verify(p, ev->len) == MC2_ATTEST_PCR);
    free(p);
    p = flip(ev, lo + 4, 0x04); /* an unknown event type */
    CHECK(verify(p, ev->len) == MC2_ATTEST_MALFORMED);
    free(p);
    p = flip(ev, ev->len - MC2_SIGSTRUCT_LEN + 38, 0x01); /* the sigstruct's product id */
    CHECK(verify(p, ev->len) == MC2_ATTEST_EVENT_LOG);
    free(p);
    p = flip(ev, ev->len - 1, 0x01); /* the sigstruct's signature */
    CHECK(verify(p, ev->len) == MC2_ATTEST_EVENT_LOG);
    free(p);
    int all_malformed = 1;
    for (size_t n = 0; n < ev->len; n++) {
        uint8_t *q = malloc(n ? n : 1);
        memcpy(q, ev->data, n);
        mc2_verifier v = {.tpm = {(const uint8_t(*)[32])ak, 1, 23}};
        mc2_err err;
        all_malformed &= mc2_evidence_verify(&v, q, n, &c, &err) == MC2_ATTEST_MALFORMED;
        free(q);
    }
    CHECK(all_malformed);
    p = flip(ev, 0, 0);
    p[ev->len] = 0;
    CHECK(verify(p, ev->len + 1) == MC2_ATTEST_MALFORMED); /* trailing byte */
    free(p);
}

/* A policy whose enclave section pins ss's measurement and has the given tpm section. */
static mc2_buf pem; /* the party's certificate */

static mc2_policy *policy(const char *tpm, mc2_err *err)
{
    uint8_t pub[32], sec[32];
    char meas[65];
    if (!pem.len) {
        CHECK(mc2_ed25519_keygen(pub, sec, err) == 0);
        CHECK(mc2_x509_self_signed(sec, "bank-a", 30, &pem, err) == 0);
    }
    mc2_hex_encode(ss.measurement, 32, meas);
    mc2_buf y = {0};
    CHECK(mc2_buf_printf(&y, err,
                         "consortium: tpm\nenclave:\n  measurements: [%s]\n%s"
                         "parties:\n  - name: bank-a\n    certificate: |\n",
                         meas, tpm) == 0);
    for (const char *l = (const char *)pem.data; l < (const char *)pem.data + pem.len;) {
        const char *nl = memchr(l, '\n', (size_t)((const char *)pem.data + pem.len - l));
        size_t n = nl ? (size_t)(nl - l + 1) : strlen(l);
        CHECK(mc2_buf_puts(&y, "      ", err) == 0 && mc2_buf_append(&y, l, n, err) == 0);
        l += n;
    }
    mc2_policy *pol = NULL;
    if (mc2_policy_parse("tpm.yaml", (const char *)y.data, y.len, &pol, err)) pol = NULL;
    mc2_buf_free(&y);
    return pol;
}

/* enclave.tpm: validated, mapped into the verifier, part of the policy hash. */
static void test_policy(const mc2_buf *ev)
{
    mc2_err err;
    char sec[256], hex[65];
    mc2_hex_encode(ak, 32, hex);
    snprintf(sec, sizeof sec, "  tpm:\n    ak_keys: [%s]\n    pcr: 23\n", hex);
    mc2_policy *p = policy(sec, &err), *q = policy("", &err);
    CHECK_MSG(p && q, "%s", err.msg);
    if (p && q) {
        mc2_verifier v = mc2_policy_verifier(p);
        mc2_claims c;
        CHECK(mc2_evidence_verify(&v, ev->data, ev->len, &c, &err) == MC2_ATTEST_OK);
        CHECK(mc2_appraise(&c, &p->appraisal, rd, &err) == MC2_ATTEST_OK);
        v = mc2_policy_verifier(q); /* no tpm section: no AK trusted */
        CHECK(mc2_evidence_verify(&v, ev->data, ev->len, &c, &err) ==
              MC2_ATTEST_UNTRUSTED_PLATFORM);
        CHECK(memcmp(p->hash, q->hash, 32) != 0);
    }
    mc2_policy_free(q);
    snprintf(sec, sizeof sec, "  tpm:\n    ak_keys: [%s]\n    pcr: 16\n", hex);
    q = policy(sec, &err);
    CHECK(p && q && memcmp(p->hash, q->hash, 32) != 0 && q->tpm_pcr == 16);
    mc2_policy_free(p);
    mc2_policy_free(q);
    char bad[5][256]; /* pcr out of range, no ak_keys, unknown key, short key, not a map */
    snprintf(bad[0], sizeof bad[0], "  tpm:\n    ak_keys: [%s]\n    pcr: 24\n", hex);
    snprintf(bad[1], sizeof bad[1], "  tpm:\n    pcr: 23\n");
    snprintf(bad[2], sizeof bad[2], "  tpm:\n    ak_keys: [%s]\n    nv: 1\n", hex);
    snprintf(bad[3], sizeof bad[3], "  tpm:\n    ak_keys: [%.62s]\n", hex);
    snprintf(bad[4], sizeof bad[4], "  tpm: 23\n");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        p = policy(bad[i], &err);
        CHECK_MSG(!p && strstr(err.msg, "tpm.yaml line"), "case %zu: %s", i, err.msg);
        mc2_policy_free(p);
    }
    mc2_buf_free(&pem);
}

static void seed_out(const mc2_buf *ev)
{
    const char *f = getenv("MC2_TPM_SEED");
    if (!f) return;
    mc2_err err;
    char hex[65];
    CHECK(mc2_file_write_atomic(f, ev->data, ev->len, 0644, 0, &err) == 0);
    mc2_hex_encode(ak, 32, hex);
    printf("seed written to %s; AK %s; measurement of its sigstruct: ", f, hex);
    mc2_hex_encode(ss.measurement, 32, hex);
    printf("%s\n", hex);
}

/* The NV counter: read, increment by one, never back; 0 for a new root secret. */
static void check_counter(mc2_tee *t)
{
    mc2_err err;
    uint64_t a = 99, b = 0, c = 0;
    CHECK_MSG(t->ops->counter(t->ctx, false, &a, &err) == 0, "%s", err.msg);
    CHECK(t->ops->counter(t->ctx, true, &b, &err) == 0 && b == a + 1);
    CHECK(t->ops->counter(t->ctx, false, &c, &err) == 0 && c == b);
}

/* Another build's launch cannot unseal the root secret: a new one is sealed, whose counter
 * starts at 0; the first build's launch then unseals only the new one (the files hold it). */
static void other_build(mc2_tee *t, const mc2_buf *att, const uint8_t signer_sec[32])
{
    mc2_err err;
    mc2_sigstruct ss2;
    uint8_t meas2[32];
    uint64_t c = 99;
    mc2_buf a2 = {0}, a3 = {0};
    memset(meas2, 0x77, sizeof meas2);
    CHECK(mc2_sigstruct_sign(&ss2, meas2, 7, 3, signer_sec, &err) == 0);
    CHECK_MSG(t->ops->prepare(t->ctx, meas2, &ss2, &a2, &err) == 0, "%s", err.msg);
    CHECK(a2.len == 32 && memcmp(a2.data, att->data, 32) != 0);
    CHECK(t->ops->counter(t->ctx, false, &c, &err) == 0 && c == 0);
    CHECK(t->ops->prepare(t->ctx, ss.measurement, &ss, &a3, &err) == 0);
    CHECK(a3.len == 32 && memcmp(a3.data, att->data, 32) != 0);
    mc2_buf_free(&a2);
    mc2_buf_free(&a3);
}

static void run(void)
{
    mc2_tee t;
    mc2_err err;
    char opts[64], *path = NULL;
    uint8_t signer_pub[32], signer_sec[32], meas[32];
    snprintf(opts, sizeof opts, "tcti=swtpm:port=%d", swtpm_port);
    CHECK(mc2_tee_open("tpm", dir, "tcti=swtpm:port=1,bogus=1", &t, &err) != 0);
    CHECK(strstr(err.msg, "no option 'bogus'") != NULL);
    CHECK(mc2_tee_open("tpm", dir, "tcti=swtpm:port=1,nv_index=0x81000001", &t, &err) != 0);
    CHECK(strstr(err.msg, "bad value for 'nv_index'") != NULL);
    CHECK_MSG(mc2_tee_open("tpm", dir, opts, &t, &err) == 0, "%s", err.msg);
    if (!t.ops) return;
    mc2_buf akf = {0}, att = {0}, ev = {0}, ev2 = {0};
    path = mc2_path_join(dir, "tpm-ak.pub");
    CHECK(mc2_file_read_all(path, 4096, &akf, &err) == 0 && akf.len > 64);
    char hex[65] = "";
    if (akf.len > 64) memcpy(hex, akf.data, 64);
    CHECK(mc2_hex_decode(hex, ak, 32) == 0);
    memset(other_ak, 0xab, sizeof other_ak);
    for (int i = 0; i < 64; i++) rd[i] = (uint8_t)i, rd2[i] = (uint8_t)(i + 1);
    CHECK(mc2_ed25519_keygen(signer_pub, signer_sec, &err) == 0);
    memset(meas, 0x5a, sizeof meas);
    CHECK(mc2_sigstruct_sign(&ss, meas, 7, 3, signer_sec, &err) == 0);
    CHECK_MSG(t.ops->prepare(t.ctx, meas, &ss, &att, &err) == 0, "%s", err.msg);
    CHECK(att.len == 32); /* the TPM-sealed root secret */
    check_counter(&t);
    CHECK_MSG(t.ops->evidence(t.ctx, rd, &ev, &err) == 0, "%s", err.msg);
    mc2_claims c;
    CHECK(verify_as(ev.data, ev.len, ak, 23, rd, &c) == MC2_ATTEST_OK);
    CHECK(c.format == MC2_EVIDENCE_TPM && !c.simulation && !c.debug);
    CHECK(memcmp(c.measurement, meas, 32) == 0 && c.product_id == 7 && c.svn == 3);
    uint8_t sid[32];
    mc2_signer_id(signer_pub, sid);
    CHECK(memcmp(c.signer, sid, 32) == 0 && memcmp(c.tpm.ak_id, ak, 32) == 0 && c.tpm.pcr == 23);
    seed_out(&ev);
    negatives(&ev);
    test_policy(&ev);
    extend_behind(23); /* another PCR value: replay no longer matches */
    CHECK(t.ops->evidence(t.ctx, rd, &ev2, &err) == 0);
    CHECK(verify(ev2.data, ev2.len) == MC2_ATTEST_PCR);
    mc2_buf_free(&ev2);
    mc2_buf att2 = {0};
    CHECK(t.ops->prepare(t.ctx, meas, &ss, &att2, &err) == 0); /* a relaunch starts over */
    CHECK(att2.len == 32 && att.len == 32 && memcmp(att.data, att2.data, 32) == 0);
    mc2_buf_free(&att2);
    CHECK(t.ops->evidence(t.ctx, rd, &ev2, &err) == 0);
    CHECK(verify(ev2.data, ev2.len) == MC2_ATTEST_OK);
    other_build(&t, &att, signer_sec);
    mc2_tee_close(&t);
    mc2_buf_free(&att);
    mc2_buf_free(&akf);
    mc2_buf_free(&ev);
    mc2_buf_free(&ev2);
    free(path);
}

int main(void)
{
    if (system("command -v swtpm >/dev/null 2>&1") != 0) {
        printf("test_tpm: SKIPPED: swtpm is not installed\n");
        return 77;
    }
    if (!mkdtemp(dir)) return 1;
    if (start_swtpm()) {
        fprintf(stderr, "swtpm did not start\n");
        stop_swtpm();
        return 1;
    }
    run();
    stop_swtpm();
    return test_done("test_tpm");
}
