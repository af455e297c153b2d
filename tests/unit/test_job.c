/* test_job.c - canonical job text, job and key-grant signatures, and the consortium policy
 * (validation and a hash that ignores layout). */
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "crypto/pki.h"
#include "mc2/job.h"
#include "mc2/policy.h"
#include "test.h"

static mc2_job sample(void)
{
    mc2_job j;
    memset(&j, 0, sizeof j);
    memset(j.policy_hash, 0xab, 32);
    memset(j.instance, 0x01, 32);
    j.counter = 7;
    strcpy(j.kind, "rowcount");
    j.ninputs = 2;
    strcpy(j.inputs[0].owner, "bank-a");
    strcpy(j.inputs[0].table, "accounts");
    memset(j.inputs[0].table_id, 0x11, 16);
    strcpy(j.inputs[1].owner, "bank-b");
    strcpy(j.inputs[1].table, "accounts.2024");
    memset(j.inputs[1].table_id, 0x22, 16);
    j.inputs[1].version = 12345678901234567890ull; /* bank-a/accounts: version 0 */
    j.nrecipients = 1;
    strcpy(j.recipients[0], "auditor");
    return j;
}

/* Parses text (NUL-terminated) and reports whether it was accepted. */
static int accepts(const char *text)
{
    mc2_job j;
    mc2_err err;
    int ok = mc2_job_parse(text, strlen(text), &j, &err) == 0;
    if (ok) mc2_job_free(&j);
    return ok;
}

static char *cert_for(const char *name, uint8_t sec[32])
{
    uint8_t pub[32];
    mc2_buf pem = {0};
    mc2_err err;
    CHECK(mc2_ed25519_keygen(pub, sec, &err) == 0);
    CHECK(mc2_x509_self_signed(sec, name, 30, &pem, &err) == 0);
    CHECK(mc2_buf_append(&pem, "", 1, &err) == 0);
    return (char *)pem.data;
}

/* Appends "    " + each line of pem to b (a YAML block scalar). */
static void indent(mc2_buf *b, const char *pem)
{
    mc2_err err;
    for (const char *p = pem; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p + 1) : strlen(p);
        CHECK(mc2_buf_puts(b, "      ", &err) == 0 && mc2_buf_append(b, p, n, &err) == 0);
        p += n;
    }
}

/* More lines of the enclave section policy_from writes (each indented by two spaces). */
static const char *enclave_extra = "";

static mc2_policy *policy_from(const char *const *names, const char *const *pems, size_t n,
                               const char *recipients, mc2_err *err)
{
    mc2_buf b = {0};
    mc2_err e2;
    CHECK(mc2_buf_puts(&b,
                       "consortium: test\nenclave:\n  signer: "
                       "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n"
                       "  product_id: 1\n  min_svn: 2\n  allow_simulation: true\n",
                       &e2) == 0);
    CHECK(mc2_buf_printf(&b, &e2, "%sparties:\n", enclave_extra) == 0);
    for (size_t i = 0; i < n; i++) {
        CHECK(mc2_buf_printf(&b, &e2, "  - name: %s\n    certificate: |\n", names[i]) == 0);
        indent(&b, pems[i]);
    }
    CHECK(mc2_buf_printf(&b, &e2, "recipients: [%s]\n", recipients) == 0);
    mc2_policy *p = NULL;
    if (mc2_policy_parse("test.yaml", (const char *)b.data, b.len, &p, err)) p = NULL;
    mc2_buf_free(&b);
    return p;
}

#define PIN_A "9f056bee44377e29308cb5ffa895bdfb62d18881fa6bed8d6f075b0204089cb9"
#define PIN_B "429a69c9422aa258ee4d8db5fcda9c6470ef15f8cd5a9cebd6cbc7d90b863831"
#define SNP_M                                                                                      \
    "b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b6bdf8a9ece31a5a608eb0cf2e48"  \
    "72b01"

/* enclave.sev_snp: AMD root pins, SEV-SNP measurements and TCB minimums; part of the hash
 * (order-independent); each malformed value refused with its own message. */
#define SNP_FMT                                                                                    \
    "  sev_snp:\n    ark_pins: [%s, %s]\n    measurements: [%s]\n"                                 \
    "    min_tcb: {bootloader: 2, tee: 0, snp: 5, microcode: %s}\n%s"

static void test_policy_snp(const char *const *names, const char *const *pems, mc2_policy *p1)
{
    mc2_err err;
    char yaml[1024];
    snprintf(yaml, sizeof yaml, SNP_FMT, PIN_A, PIN_B, SNP_M, "68", "");
    enclave_extra = yaml;
    mc2_policy *s1 = policy_from(names, pems, 3, "auditor", &err);
    CHECK_MSG(s1 != NULL, "%s", err.msg);
    snprintf(yaml, sizeof yaml, SNP_FMT, PIN_B, PIN_A, SNP_M, "68", "");
    mc2_policy *s2 = policy_from(names, pems, 3, "auditor", &err);
    snprintf(yaml, sizeof yaml, SNP_FMT, PIN_B, PIN_A, SNP_M, "69", "");
    mc2_policy *s3 = policy_from(names, pems, 3, "auditor", &err);
    snprintf(yaml, sizeof yaml, SNP_FMT, PIN_B, PIN_A, SNP_M, "68",
             "    allow_migration_agent: true\n");
    mc2_policy *s4 = policy_from(names, pems, 3, "auditor", &err);
    snprintf(yaml, sizeof yaml, SNP_FMT, PIN_B, PIN_A, SNP_M, "68", "    max_vmpl: 2\n");
    mc2_policy *s5 = policy_from(names, pems, 3, "auditor", &err);
    CHECK(s2 && s3 && s4 && s5);
    if (s1 && s2 && s3 && s4 && s5 && p1) {
        const mc2_appraisal *a = &s1->appraisal;
        CHECK(s1->has_snp && s1->n_snp_arks == 2 && a->n_snp_measurements == 1);
        CHECK(a->snp_min_tcb.bootloader == 2 && a->snp_min_tcb.snp == 5 &&
              a->snp_min_tcb.microcode == 68 && !a->allow_migration_agent);
        CHECK(a->snp_measurements[0][0] == 0xb0 && a->snp_measurements[0][47] == 0x01);
        mc2_verifier v = mc2_policy_verifier(s1);
        CHECK(v.snp.n_ark_pins == 2 && v.sim.n_keys == 0);
        CHECK(memcmp(s1->hash, s2->hash, 32) == 0); /* pin order does not matter */
        CHECK(memcmp(s1->hash, p1->hash, 32) != 0); /* the SNP section does */
        CHECK(memcmp(s1->hash, s3->hash, 32) != 0); /* and its TCB minimum */
        CHECK(memcmp(s1->hash, s4->hash, 32) != 0); /* and its migration rule */
        CHECK(s4->appraisal.allow_migration_agent);
        CHECK(memcmp(s1->hash, s5->hash, 32) != 0); /* and its VMPL limit */
        CHECK(s1->appraisal.snp_max_vmpl == 0 && s5->appraisal.snp_max_vmpl == 2);
    }
    mc2_policy_free(s1);
    mc2_policy_free(s2);
    mc2_policy_free(s3);
    mc2_policy_free(s4);
    mc2_policy_free(s5);
    /* Refused, each with a message naming what is wrong. */
    struct {
        const char *snp, *msg;
    } bad[] = {
        {"  sev_snp: [1]\n", "'sev_snp' must be a map"},
        {"  sev_snp:\n    ark_pins: []\n    measurements: [" SNP_M "]\n", "'ark_pins' must"},
        {"  sev_snp:\n    ark_pins: [" PIN_A "]\n    measurements: [" PIN_B "]\n", "96 hex digits"},
        {"  sev_snp:\n    ark_pins: [" PIN_A "]\n    measurements: [" SNP_M "]\n", "min_tcb"},
        {"  sev_snp:\n    ark_pins: [" PIN_A "]\n    measurements: [" SNP_M "]\n"
         "    min_tcb: {bootloader: 2, tee: 0, snp: 5}\n",
         "min_tcb needs"},
        {"  sev_snp:\n    ark_pins: [" PIN_A "]\n    measurements: [" SNP_M "]\n"
         "    min_tcb: {bootloader: 2, tee: 0, snp: 5, microcode: 256}\n",
         "min_tcb needs"},
        {"  sev_snp:\n    ark_pins: [" PIN_A "]\n    measurements: [" SNP_M "]\n"
         "    min_tcb: {bootloader: 2, tee: 0, snp: 5, microcode: 1, fmc: 1}\n",
         "unknown key 'fmc'"},
        {"  sev_snp:\n    ark_pins: [" PIN_A "]\n    vcek: x\n", "unknown key 'vcek'"},
        {"  sev_snp:\n    ark_pins: [" PIN_A "]\n    measurements: [" SNP_M "]\n"
         "    min_tcb: {bootloader: 2, tee: 0, snp: 5, microcode: 1}\n    max_vmpl: 4\n",
         "max_vmpl must be 0 to 3"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        enclave_extra = bad[i].snp;
        mc2_err_clear(&err);
        CHECK_MSG(policy_from(names, pems, 3, "auditor", &err) == NULL &&
                      strstr(err.msg, bad[i].msg) != NULL,
                  "case %zu: %s", i, err.msg);
    }
    enclave_extra = "";
}

int main(void)
{
    mc2_err err;
    mc2_job j = sample();
    CHECK(mc2_job_add_param(&j, "query", "SELECT 1\nFROM t -- a\\b", &err) == 0);
    char *text;
    size_t len;
    CHECK(mc2_job_format(&j, &text, &len, &err) == 0);
    printf("%s", text);
    mc2_job back;
    CHECK(mc2_job_parse(text, len, &back, &err) == 0);
    CHECK(back.counter == 7 && back.ninputs == 2 && back.nrecipients == 1);
    CHECK(strcmp(back.inputs[1].table, "accounts.2024") == 0);
    CHECK(back.inputs[1].table_id[15] == 0x22);
    CHECK(back.inputs[0].version == 0 && back.inputs[1].version == 12345678901234567890ull);
    CHECK(strstr(text, "input bank-a accounts 11111111111111111111111111111111 0\n") != NULL);
    CHECK(mc2_job_param(&back, "query") &&
          strcmp(mc2_job_param(&back, "query"), "SELECT 1\nFROM t -- a\\b") == 0);
    mc2_job_free(&back);

    /* Non-canonical variants are refused. */
    CHECK(accepts(text));
    char *t2 = mc2_strdup(text);
    t2[len - 1] = '\0'; /* no final LF */
    CHECK(!accepts(t2));
    mc2_free(t2);
    mc2_buf b = {0};
    CHECK(mc2_buf_puts(&b, text, &err) == 0 && mc2_buf_puts(&b, "\n", &err) == 0 &&
          mc2_buf_append(&b, "", 1, &err) == 0);
    CHECK(!accepts((char *)b.data)); /* empty line at the end */
    mc2_buf_free(&b);
    const char *swaps[][2] = {{"counter 7", "counter 07"},
                              {"counter 7", "counter +7"},
                              {"kind rowcount", "kind RowCount"},
                              {"mc2-job v2", "mc2-job v1"}, /* the format before versions */
                              {"recipient auditor", "recipient  auditor"},
                              {"input bank-a", "input bank a"},
                              /* the table version: canonical decimal, present, in range */
                              {"1111 0\n", "1111 00\n"},
                              {"1111 0\n", "1111 +0\n"},
                              {"1111 0\n", "1111 -0\n"},
                              {"1111 0\n", "1111\n"},
                              {"1111 0\n", "1111 \n"},
                              {"1111 0\n", "1111 0 \n"},
                              {"1111 0\n", "1111  0\n"},
                              {"1111 0\n", "1111 0x0\n"},
                              {"12345678901234567890", "18446744073709551616"},
                              {"12345678901234567890", "123456789012345678901"}};
    for (size_t i = 0; i < sizeof swaps / sizeof swaps[0]; i++) {
        mc2_buf m = {0};
        const char *at = strstr(text, swaps[i][0]);
        CHECK(at != NULL);
        CHECK(mc2_buf_append(&m, text, (size_t)(at - text), &err) == 0);
        CHECK(mc2_buf_puts(&m, swaps[i][1], &err) == 0);
        CHECK(mc2_buf_puts(&m, at + strlen(swaps[i][0]), &err) == 0);
        CHECK(mc2_buf_append(&m, "", 1, &err) == 0);
        CHECK_MSG(!accepts((char *)m.data), "accepted variant %zu", i);
        mc2_buf_free(&m);
    }
    /* recipient before input: wrong order. */
    static const char ordered[] =
        "mc2-job v2\nconsortium "
        "0000000000000000000000000000000000000000000000000000000000000000\ninstance "
        "0000000000000000000000000000000000000000000000000000000000000000\ncounter "
        "1\nkind rowcount\ninput b t 00000000000000000000000000000000 1\nrecipient a\n";
    static const char reordered[] =
        "mc2-job v2\nconsortium "
        "0000000000000000000000000000000000000000000000000000000000000000\ninstance "
        "0000000000000000000000000000000000000000000000000000000000000000\ncounter "
        "1\nkind rowcount\nrecipient a\ninput b t 00000000000000000000000000000000 1\n";
    CHECK(accepts(ordered));
    CHECK(!accepts(reordered));

    /* Signatures. */
    uint8_t pub[32], sec[32], pub2[32], sec2[32], sig[64];
    CHECK(mc2_ed25519_keygen(pub, sec, &err) == 0 && mc2_ed25519_keygen(pub2, sec2, &err) == 0);
    CHECK(mc2_job_sign(sec, text, len, sig, &err) == 0);
    CHECK(mc2_job_verify(pub, text, len, sig, &err) == 0);
    CHECK(mc2_job_verify(pub2, text, len, sig, &err) != 0);
    text[len - 3] ^= 1;
    CHECK(mc2_job_verify(pub, text, len, sig, &err) != 0);
    uint8_t key[32] = {1, 2, 3}, key2[32] = {1, 2, 4};
    CHECK(mc2_grant_sign(sec, j.policy_hash, j.instance, key, sig, &err) == 0);
    CHECK(mc2_grant_verify(pub, j.policy_hash, j.instance, key, sig, &err) == 0);
    CHECK(mc2_grant_verify(pub, j.policy_hash, j.instance, key2, sig, &err) != 0);
    CHECK(mc2_grant_verify(pub, j.instance, j.instance, key, sig, &err) != 0);
    CHECK(mc2_grant_verify(pub2, j.policy_hash, j.instance, key, sig, &err) != 0);
    /* A model-key grant is for one job (the SHA-256 of its text), one object and one key. */
    const char *obj = "results/job-3-00-model.mc2m";
    uint8_t jh[32], jh2[32];
    CHECK(mc2_sha256(text, len, jh, &err) == 0);
    memcpy(jh2, jh, 32);
    jh2[31] ^= 1;
    CHECK(mc2_object_grant_sign(sec, jh, obj, key, sig, &err) == 0);
    CHECK(mc2_object_grant_verify(pub, jh, obj, key, sig, &err) == 0);
    CHECK(mc2_object_grant_verify(pub, jh2, obj, key, sig, &err) != 0);
    CHECK(mc2_object_grant_verify(pub, jh, "results/job-4-00-model.mc2m", key, sig, &err) != 0);
    CHECK(mc2_object_grant_verify(pub, jh, obj, key2, sig, &err) != 0);
    CHECK(mc2_object_grant_verify(pub2, jh, obj, key, sig, &err) != 0);
    CHECK(mc2_object_grant_sign(sec, jh, "", key, sig, &err) != 0 && err.code == MC2_E_USAGE);
    mc2_free(text);
    mc2_job_free(&j);

    /* Policy. */
    uint8_t sa[32], sb[32], sc[32];
    char *ca = cert_for("bank-a", sa), *cb = cert_for("bank-b", sb), *cc = cert_for("auditor", sc);
    const char *names[] = {"bank-a", "bank-b", "auditor"}, *pems[] = {ca, cb, cc};
    mc2_policy *p1 = policy_from(names, pems, 3, "auditor", &err);
    CHECK_MSG(p1 != NULL, "%s", err.msg);
    const char *names2[] = {"auditor", "bank-b", "bank-a"}, *pems2[] = {cc, cb, ca};
    mc2_policy *p2 = policy_from(names2, pems2, 3, "auditor", &err);
    CHECK(p2 != NULL);
    if (p1 && p2) {
        CHECK(memcmp(p1->hash, p2->hash, 32) == 0); /* order does not matter */
        CHECK(mc2_policy_party(p1, "bank-b") != NULL);
        CHECK(mc2_policy_party(p1, "auditor")->recipient);
        CHECK(!mc2_policy_party(p1, "bank-a")->recipient);
        CHECK(p1->appraisal.has_signer && p1->appraisal.min_svn == 2);
    }
    mc2_policy *p3 = policy_from(names, pems, 3, "bank-a", &err);
    CHECK(p3 && p1 && memcmp(p1->hash, p3->hash, 32) != 0); /* recipients matter */
    /* oblivious_tables: part of the hash, order-independent, OWNER/TABLE or OWNER/'*'. */
    mc2_policy *o1 = policy_from(names, pems, 3,
                                 "auditor]\noblivious_tables: [bank-a/loans, \"bank-b/*\"", &err);
    CHECK_MSG(o1 != NULL, "%s", err.msg);
    mc2_policy *o2 = policy_from(names, pems, 3,
                                 "auditor]\noblivious_tables: [\"bank-b/*\", bank-a/loans", &err);
    CHECK(o1 && o2 && memcmp(o1->hash, o2->hash, 32) == 0);
    CHECK(o1 && p1 && memcmp(o1->hash, p1->hash, 32) != 0);
    if (o1) {
        CHECK(mc2_policy_requires_oblivious(o1, "bank-a", "loans"));
        CHECK(!mc2_policy_requires_oblivious(o1, "bank-a", "loans2"));
        CHECK(!mc2_policy_requires_oblivious(o1, "bank-a", "loan"));
        CHECK(mc2_policy_requires_oblivious(o1, "bank-b", "anything"));
        CHECK(!mc2_policy_requires_oblivious(o1, "auditor", "loans"));
        CHECK(!mc2_policy_requires_oblivious(o1, "bank", "a/loans"));
    }
    CHECK(p1 && !mc2_policy_requires_oblivious(p1, "bank-a", "loans"));
    mc2_policy_free(o1);
    mc2_policy_free(o2);
    CHECK(policy_from(names, pems, 3, "auditor]\noblivious_tables: [nobody/t", &err) == NULL);
    CHECK(strstr(err.msg, "not one of the parties") != NULL);
    CHECK(policy_from(names, pems, 3, "auditor]\noblivious_tables: [bank-a", &err) == NULL);
    CHECK(strstr(err.msg, "OWNER/TABLE") != NULL);
    CHECK(policy_from(names, pems, 3, "auditor]\noblivious_tables: bank-a/t", &err) == NULL);
    CHECK(strstr(err.msg, "must be a list") != NULL);
    test_policy_snp(names, pems, p1);
    mc2_policy_free(p1);
    mc2_policy_free(p2);
    mc2_policy_free(p3);
    /* Errors. */
    const char *wrong[] = {"bank-a", "bank-c", "auditor"};
    CHECK(policy_from(wrong, pems, 3, "auditor", &err) == NULL);
    printf("cert/name mismatch: %s\n", err.msg);
    CHECK(strstr(err.msg, "issued to 'bank-b'") != NULL);
    CHECK(policy_from(names, pems, 3, "nobody", &err) == NULL);
    CHECK(strstr(err.msg, "recipient 'nobody' is not one of the parties") != NULL);
    const char *dup[] = {"bank-a", "bank-a"}, *dpems[] = {ca, ca};
    CHECK(policy_from(dup, dpems, 2, "bank-a", &err) == NULL);
    /* Up to MC2_POLICY_MAX_PARTIES (128: a federated round of 100 clients, bench section fl)
     * parties; one more is refused. */
    {
        enum { N = MC2_POLICY_MAX_PARTIES + 1, CAP = N > 100 ? N : 100 };
        static char nm[CAP][16];
        static const char *many[CAP], *mpems[CAP];
        uint8_t msec[32];
        for (size_t i = 0; i < CAP; i++) {
            snprintf(nm[i], sizeof nm[i], "client-%03zu", i);
            many[i] = nm[i];
            mpems[i] = cert_for(nm[i], msec);
        }
        mc2_policy *big = policy_from(many, mpems, 100, "client-000", &err);
        CHECK_MSG(big != NULL && big->nparties == 100, "%s", err.msg);
        mc2_policy_free(big);
        big = policy_from(many, mpems, N - 1, "client-000", &err);
        CHECK_MSG(big != NULL, "%s", err.msg);
        mc2_policy_free(big);
        CHECK(policy_from(many, mpems, N, "client-000", &err) == NULL);
        CHECK(strstr(err.msg, "more than 128 parties") != NULL);
        for (size_t i = 0; i < CAP; i++) mc2_free((void *)mpems[i]);
    }
    mc2_policy *bad = NULL;
    const char *nosigner = "consortium: x\nenclave:\n  allow_simulation: true\nparties: []\n";
    CHECK(mc2_policy_parse("p.yaml", nosigner, strlen(nosigner), &bad, &err) != 0);
    CHECK(strstr(err.msg, "p.yaml line 3") != NULL && strstr(err.msg, "signer") != NULL);
    const char *unknown = "consortium: x\nenclaves: {}\n";
    CHECK(mc2_policy_parse("p.yaml", unknown, strlen(unknown), &bad, &err) != 0);
    CHECK(strstr(err.msg, "unknown key 'enclaves'") != NULL);
    mc2_free(ca);
    mc2_free(cb);
    mc2_free(cc);
    return test_done("test_job");
}
