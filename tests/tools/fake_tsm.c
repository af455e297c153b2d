/* fake_tsm.c - TEST TOOL (never linked into mc2d): a fake Linux configfs-tsm report tree for
 * the tsm backend's tests (tests/unit/test_tee_tsm.c, tests/cli/test_tsm_backend.sh). It
 * serves a plain directory the way the kernel serves /sys/kernel/config/tsm/report, as far as
 * src/host/tee_tsm.c uses it, with a test AMD chain made here:
 *
 *   fake_tsm keygen KEYS     makes KEYS/{ark,ask,ask2,vcek}.pem (RSA-4096; the VCEK P-384)
 *                            and the certificates KEYS/{ark,ask,vcek}.der: ARK self-signed,
 *                            ASK signed by the ARK, VCEK signed by the ASK (RSA-PSS,
 *                            SHA-384, as AMD's are), the VCEK with AMD's TCB and hwID
 *                            extensions; then prints what `info` prints
 *   fake_tsm info KEYS       prints "ark_pin HEX" (SHA-256 of the ARK's SubjectPublicKeyInfo),
 *                            "measurement HEX" (the launch measurement it reports) and
 *                            "min_tcb B,T,S,M" (the TCB it reports)
 *   fake_tsm serve KEYS DIR [--bad MODE] [--aux table|none|bad]
 *                            makes DIR if missing, prints "ready" and serves until killed:
 *     a new directory DIR/E   -> E/provider "sev_guest", E/generation "0"
 *     E/inblob written        -> E/generation "1", E/auxblob (the certificate table: VCEK,
 *                                ASK, ARK), then E/outblob: an ATTESTATION_REPORT (version 2)
 *                                with that REPORT_DATA, signed with the VCEK key (ECDSA P-384,
 *                                SHA-384, r and s little-endian), each file renamed into
 *                                place whole, outblob last
 * --bad makes a report to refuse: measurement (another launch measurement), tcb (an older
 * SNP firmware, with a VCEK certificate for it), debug (the DEBUG policy bit), chain (the
 * VCEK certificate signed by another ASK), nonce (other REPORT_DATA), migration (MIGRATE_MA),
 * race (generation 2: another writer's write in between). --aux none writes no auxblob (the
 * backend then needs certs=KEYS); --aux bad writes a table whose certificate runs past its
 * end. Unlike the kernel it answers asynchronously; the backend waits for it (timeout_ms). */
#include <errno.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#define REPORT_LEN 1184
#define NWATCH     256

static const uint8_t good_tcb[8] = {3, 0, 0, 0, 0, 0, 8, 115}; /* BL 3, TEE 0, SNP 8, uc 115 */
static const uint8_t old_tcb[8] = {3, 0, 0, 0, 0, 0, 7, 115};  /* SNP firmware 7 */

static const uint8_t guid_vcek[16] = {0x63, 0xda, 0x75, 0x8d, 0xe6, 0x64, 0x45, 0x64,
                                      0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac, 0xcd};
static const uint8_t guid_ask[16] = {0x4a, 0xb7, 0xb3, 0x79, 0xbb, 0xac, 0x4f, 0xe4,
                                     0xa0, 0x2f, 0x05, 0xae, 0xf3, 0x27, 0xc7, 0x82};
static const uint8_t guid_ark[16] = {0xc0, 0xb4, 0x06, 0xa4, 0xa8, 0x03, 0x49, 0x52,
                                     0x97, 0x43, 0x3f, 0xb6, 0x01, 0x4c, 0xd0, 0xae};

__attribute__((noreturn)) static void die(const char *what)
{
    fprintf(stderr, "fake_tsm: %s%s%s\n", what, errno ? ": " : "", errno ? strerror(errno) : "");
    exit(1);
}

typedef struct blob {
    uint8_t *p;
    size_t n;
} blob;

typedef struct fake {
    const char *keys, *dir, *bad, *aux;
    EVP_PKEY *ark, *ask, *ask2, *vcek;
    X509 *ark_cert, *ask_cert, *vcek_cert;
    uint8_t chip_id[64], measurement[48];
    int wd[NWATCH];
    char *wname[NWATCH];
} fake;

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static char *kpath(const char *dir, const char *name)
{
    static char buf[4][1024];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, 1024, "%s/%s", dir, name);
    return p;
}

/* Writes dir/name whole: a temporary file renamed into place. */
static void write_file(const char *dir, const char *name, const void *p, size_t n)
{
    char tmp[1100], dst[1100];
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name);
    snprintf(dst, sizeof dst, "%s/%s", dir, name);
    FILE *f = fopen(tmp, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0 || rename(tmp, dst) != 0)
        die("cannot write a file");
}

/* ---- keys and certificates ------------------------------------------------------------- */

static EVP_PKEY *load_key(const char *path)
{
    FILE *f = fopen(path, "r");
    EVP_PKEY *k = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
    if (f) fclose(f);
    if (!k) die("cannot load a key (run fake_tsm keygen first)");
    return k;
}

static void save_key(EVP_PKEY *k, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f || !PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) || fclose(f) != 0)
        die("cannot save a key");
}

static X509 *load_cert(const char *path)
{
    FILE *f = fopen(path, "rb");
    X509 *x = f ? d2i_X509_fp(f, NULL) : NULL;
    if (f) fclose(f);
    if (!x) die("cannot load a certificate");
    return x;
}

static void save_cert(X509 *x, const char *path)
{
    FILE *f = fopen(path, "wb");
    if (!f || !i2d_X509_fp(f, x) || fclose(f) != 0) die("cannot save a certificate");
}

/* An extension whose extnValue holds p[0..n) as is. */
static void add_raw_ext(X509 *x, const char *oid, const uint8_t *p, int n)
{
    ASN1_OBJECT *o = OBJ_txt2obj(oid, 1);
    ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
    X509_EXTENSION *e = NULL;
    if (!o || !os || !ASN1_OCTET_STRING_set(os, p, n) ||
        !(e = X509_EXTENSION_create_by_OBJ(NULL, o, 0, os)) || !X509_add_ext(x, e, -1))
        die("cannot add an extension");
    X509_EXTENSION_free(e);
    ASN1_OCTET_STRING_free(os);
    ASN1_OBJECT_free(o);
}

/* AMD's VCEK extensions: the four TCB components (DER INTEGERs) and hwID (the chip id). */
static void add_vcek_exts(X509 *x, const uint8_t tcb[8], const uint8_t chip_id[64])
{
    static const char *const oids[4] = {"1.3.6.1.4.1.3704.1.3.1", "1.3.6.1.4.1.3704.1.3.2",
                                        "1.3.6.1.4.1.3704.1.3.3", "1.3.6.1.4.1.3704.1.3.8"};
    static const int at[4] = {0, 1, 6, 7};
    for (int i = 0; i < 4; i++) {
        ASN1_INTEGER *ai = ASN1_INTEGER_new();
        unsigned char *der = NULL;
        int n;
        if (!ai || !ASN1_INTEGER_set(ai, tcb[at[i]]) || (n = i2d_ASN1_INTEGER(ai, &der)) <= 0)
            die("cannot encode a TCB extension");
        add_raw_ext(x, oids[i], der, n);
        OPENSSL_free(der);
        ASN1_INTEGER_free(ai);
    }
    add_raw_ext(x, "1.3.6.1.4.1.3704.1.4", chip_id, 64);
}

/* A certificate for key, named cn, signed by signer (RSA-PSS, SHA-384, salt 48); with
 * AMD's VCEK extensions if tcb is given. */
static X509 *make_cert(EVP_PKEY *key, const char *cn, EVP_PKEY *signer, const char *issuer_cn,
                       const uint8_t *tcb, const uint8_t *chip_id)
{
    X509 *x = X509_new();
    X509_NAME *sn = X509_NAME_new(), *in = X509_NAME_new();
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pc = NULL;
    if (!x || !sn || !in || !md || !X509_set_version(x, 2) ||
        !ASN1_INTEGER_set(X509_get_serialNumber(x), 1) ||
        !X509_NAME_add_entry_by_txt(sn, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0) ||
        !X509_NAME_add_entry_by_txt(in, "CN", MBSTRING_ASC, (const unsigned char *)issuer_cn, -1,
                                    -1, 0) ||
        !X509_set_subject_name(x, sn) || !X509_set_issuer_name(x, in) ||
        !X509_gmtime_adj(X509_getm_notBefore(x), 0) ||
        !X509_gmtime_adj(X509_getm_notAfter(x), 3650L * 86400) || !X509_set_pubkey(x, key))
        die("cannot build a certificate");
    if (tcb) add_vcek_exts(x, tcb, chip_id);
    if (EVP_DigestSignInit(md, &pc, EVP_sha384(), NULL, signer) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, 48) != 1 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md(pc, EVP_sha384()) != 1 || X509_sign_ctx(x, md) <= 0)
        die("cannot sign a certificate (RSA-PSS)");
    EVP_MD_CTX_free(md);
    X509_NAME_free(sn);
    X509_NAME_free(in);
    return x;
}

/* The fixed identity the fake reports: chip id and launch measurement. */
static void identity(fake *f)
{
    for (int i = 0; i < 64; i++) f->chip_id[i] = (uint8_t)(0xC0 ^ i);
    for (int i = 0; i < 48; i++) f->measurement[i] = (uint8_t)(0x4D + 3 * i);
}

static void hex_print(const char *label, const uint8_t *p, size_t n)
{
    printf("%s ", label);
    for (size_t i = 0; i < n; i++) printf("%02x", p[i]);
    printf("\n");
}

static int cmd_info(fake *f)
{
    X509 *ark = load_cert(kpath(f->keys, "ark.der"));
    unsigned char *der = NULL;
    uint8_t h[32];
    unsigned hl = 0;
    int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(ark), &der);
    if (n <= 0 || !EVP_Digest(der, (size_t)n, h, &hl, EVP_sha256(), NULL)) die("cannot hash");
    hex_print("ark_pin", h, 32);
    hex_print("measurement", f->measurement, 48);
    printf("min_tcb %u,%u,%u,%u\n", good_tcb[0], good_tcb[1], good_tcb[6], good_tcb[7]);
    OPENSSL_free(der);
    X509_free(ark);
    return 0;
}

static int cmd_keygen(fake *f)
{
    if (mkdir(f->keys, 0700) != 0 && errno != EEXIST) die("cannot make the key directory");
    EVP_PKEY *ark = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)4096);
    EVP_PKEY *ask = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)4096);
    EVP_PKEY *ask2 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)4096);
    EVP_PKEY *vcek = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    if (!ark || !ask || !ask2 || !vcek) die("cannot generate keys");
    save_key(ark, kpath(f->keys, "ark.pem"));
    save_key(ask, kpath(f->keys, "ask.pem"));
    save_key(ask2, kpath(f->keys, "ask2.pem"));
    save_key(vcek, kpath(f->keys, "vcek.pem"));
    X509 *c_ark = make_cert(ark, "ARK-Fake", ark, "ARK-Fake", NULL, NULL);
    X509 *c_ask = make_cert(ask, "SEV-Fake", ark, "ARK-Fake", NULL, NULL);
    X509 *c_vcek = make_cert(vcek, "SEV-VCEK", ask, "SEV-Fake", good_tcb, f->chip_id);
    save_cert(c_ark, kpath(f->keys, "ark.der"));
    save_cert(c_ask, kpath(f->keys, "ask.der"));
    save_cert(c_vcek, kpath(f->keys, "vcek.der"));
    X509_free(c_ark);
    X509_free(c_ask);
    X509_free(c_vcek);
    EVP_PKEY_free(ark);
    EVP_PKEY_free(ask);
    EVP_PKEY_free(ask2);
    EVP_PKEY_free(vcek);
    return cmd_info(f);
}

/* ---- the report ------------------------------------------------------------------------- */

static int bad(const fake *f, const char *mode)
{
    return f->bad && strcmp(f->bad, mode) == 0;
}

/* Signs the report's first 0x2A0 bytes with the VCEK key into its r and s fields. */
static void sign_report(const fake *f, uint8_t *r)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    uint8_t der[256];
    size_t dl = sizeof der;
    if (!md || EVP_DigestSignInit(md, NULL, EVP_sha384(), NULL, f->vcek) != 1 ||
        EVP_DigestSign(md, der, &dl, r, 0x2A0) != 1)
        die("cannot sign the report");
    const unsigned char *q = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &q, (long)dl);
    if (!sig || BN_bn2lebinpad(ECDSA_SIG_get0_r(sig), r + 0x2A0, 48) != 48 ||
        BN_bn2lebinpad(ECDSA_SIG_get0_s(sig), r + 0x2E8, 48) != 48)
        die("cannot encode the signature");
    ECDSA_SIG_free(sig);
    EVP_MD_CTX_free(md);
}

static void make_report(const fake *f, const uint8_t rd[64], uint8_t r[REPORT_LEN])
{
    const uint8_t *tcb = bad(f, "tcb") ? old_tcb : good_tcb;
    uint64_t policy = 0x30000; /* SMT allowed, reserved bit 17 */
    if (bad(f, "debug")) policy |= 1ull << 19;
    if (bad(f, "migration")) policy |= 1ull << 18;
    memset(r, 0, REPORT_LEN);
    put_le32(r + 0x00, 2);
    put_le64(r + 0x08, policy);
    put_le32(r + 0x34, 1); /* ECDSA P-384 with SHA-384 */
    memcpy(r + 0x38, tcb, 8);
    memcpy(r + 0x50, rd, 64);
    if (bad(f, "nonce")) r[0x50] ^= 0x01;
    memcpy(r + 0x90, f->measurement, 48);
    if (bad(f, "measurement")) r[0x90] ^= 0xFF;
    for (int i = 0; i < 32; i++) r[0x140 + i] = (uint8_t)(0xA0 + i); /* REPORT_ID */
    memcpy(r + 0x180, tcb, 8);
    memcpy(r + 0x1A0, f->chip_id, 64);
    memcpy(r + 0x1E0, tcb, 8);
    sign_report(f, r);
}

static blob der_of(X509 *x)
{
    blob b = {0};
    int n = i2d_X509(x, &b.p);
    if (n <= 0) die("cannot encode a certificate");
    b.n = (size_t)n;
    return b;
}

/* The certificate table: VCEK, ASK, ARK entries, the terminator, the certificates. */
static blob cert_table(const fake *f)
{
    blob c[3] = {der_of(f->vcek_cert), der_of(f->ask_cert), der_of(f->ark_cert)};
    const uint8_t *g[3] = {guid_vcek, guid_ask, guid_ark};
    size_t n = 4 * 24 + c[0].n + c[1].n + c[2].n, off = 4 * 24;
    blob t = {calloc(1, n), n};
    if (!t.p) die("out of memory");
    for (int i = 0; i < 3; i++) {
        memcpy(t.p + i * 24, g[i], 16);
        put_le32(t.p + i * 24 + 16, (uint32_t)off);
        put_le32(t.p + i * 24 + 20, (uint32_t)c[i].n);
        memcpy(t.p + off, c[i].p, c[i].n);
        off += c[i].n;
        OPENSSL_free(c[i].p);
    }
    if (f->aux && strcmp(f->aux, "bad") == 0) put_le32(t.p + 2 * 24 + 20, (uint32_t)n); /* past */
    return t;
}

/* ---- serving ---------------------------------------------------------------------------- */

static void new_entry(fake *f, int ino, const char *name)
{
    char entry[1100];
    snprintf(entry, sizeof entry, "%s/%s", f->dir, name);
    int wd = inotify_add_watch(ino, entry, IN_CLOSE_WRITE);
    if (wd < 0) return; /* already gone */
    free(f->wname[wd % NWATCH]);
    f->wd[wd % NWATCH] = wd;
    f->wname[wd % NWATCH] = strdup(entry);
    write_file(entry, "provider", "sev_guest\n", 10);
    write_file(entry, "generation", "0\n", 2);
}

static void answer(fake *f, const char *entry)
{
    uint8_t rd[64] = {0}, r[REPORT_LEN];
    FILE *in = fopen(kpath(entry, "inblob"), "rb");
    if (!in) return; /* removed meanwhile */
    size_t n = fread(rd, 1, sizeof rd, in);
    fclose(in);
    (void)n; /* the kernel zero-pads a shorter inblob too */
    write_file(entry, "generation", bad(f, "race") ? "2\n" : "1\n", 2);
    if (!f->aux || strcmp(f->aux, "none") != 0) {
        blob t = cert_table(f);
        write_file(entry, "auxblob", t.p, t.n);
        free(t.p);
    }
    make_report(f, rd, r);
    write_file(entry, "outblob", r, sizeof r);
}

static void load_all(fake *f)
{
    f->ark = load_key(kpath(f->keys, "ark.pem"));
    f->ask = load_key(kpath(f->keys, "ask.pem"));
    f->ask2 = load_key(kpath(f->keys, "ask2.pem"));
    f->vcek = load_key(kpath(f->keys, "vcek.pem"));
    f->ark_cert = load_cert(kpath(f->keys, "ark.der"));
    f->ask_cert = load_cert(kpath(f->keys, "ask.der"));
    if (bad(f, "tcb") || bad(f, "chain"))
        f->vcek_cert = make_cert(f->vcek, "SEV-VCEK", bad(f, "chain") ? f->ask2 : f->ask,
                                 "SEV-Fake", bad(f, "tcb") ? old_tcb : good_tcb, f->chip_id);
    else
        f->vcek_cert = load_cert(kpath(f->keys, "vcek.der"));
}

__attribute__((noreturn)) static void cmd_serve(fake *f)
{
    load_all(f);
    if (mkdir(f->dir, 0700) != 0 && errno != EEXIST) die("cannot make the tree");
    int ino = inotify_init1(IN_CLOEXEC);
    if (ino < 0 || inotify_add_watch(ino, f->dir, IN_CREATE) < 0) die("inotify");
    printf("ready\n");
    fflush(stdout);
    char buf[64 * 1024] __attribute__((aligned(8)));
    for (;;) {
        ssize_t n = read(ino, buf, sizeof buf);
        if (n <= 0) {
            if (n < 0 && errno == EINTR) continue;
            die("inotify read");
        }
        for (char *p = buf; p < buf + n;) {
            struct inotify_event *ev = (struct inotify_event *)p;
            p += sizeof *ev + ev->len;
            if (!ev->len) continue;
            if ((ev->mask & IN_CREATE) && (ev->mask & IN_ISDIR) && ev->name[0] != '.')
                new_entry(f, ino, ev->name);
            else if ((ev->mask & IN_CLOSE_WRITE) && strcmp(ev->name, "inblob") == 0 &&
                     f->wd[ev->wd % NWATCH] == ev->wd && f->wname[ev->wd % NWATCH])
                answer(f, f->wname[ev->wd % NWATCH]);
        }
    }
}

static int usage(void)
{
    fprintf(stderr, "usage: fake_tsm keygen KEYS | info KEYS | serve KEYS DIR [--bad MODE] "
                    "[--aux table|none|bad]\n");
    return 2;
}

int main(int argc, char **argv)
{
    fake f;
    memset(&f, 0, sizeof f);
    identity(&f);
    if (argc < 3) return usage();
    f.keys = argv[2];
    if (strcmp(argv[1], "keygen") == 0) return cmd_keygen(&f);
    if (strcmp(argv[1], "info") == 0) return cmd_info(&f);
    if (strcmp(argv[1], "serve") != 0 || argc < 4) return usage();
    f.dir = argv[3];
    for (int i = 4; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--bad") == 0)
            f.bad = argv[i + 1];
        else if (strcmp(argv[i], "--aux") == 0)
            f.aux = argv[i + 1];
        else
            return usage();
    }
    if ((argc - 4) % 2) return usage();
    cmd_serve(&f);
}
