/* cmd_service.c - the service and its enclave: `mc2 enclave`, `mc2 service init`,
 * `mc2 policy init`, `mc2 start`, `mc2 stop`, `mc2 status`, `mc2 attest`. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/file.h"
#include "base/hex.h"
#include "cli.h"
#include "client/session.h"
#include "conn/conn.h"
#include "crypto/pki.h"
#include "host/launch.h"
#include "mc2/attest.h"
#include "wire/proto.h"

/* ---- mc2 enclave ---------------------------------------------------------------------- */

static const char ENCLAVE_HELP[] =
    "usage: mc2 enclave keygen --out SIGNER.pem\n"
    "       mc2 enclave sign --key SIGNER.pem [--enclave PATH] [--product-id N] [--svn N]\n"
    "       mc2 enclave info [--enclave PATH]\n\n"
    "The enclave's identity: its measurement (SHA-256 of the binary) signed, with a product\n"
    "id and security version, by the enclave signer's key into PATH.sig. mc2d refuses to\n"
    "start an enclave whose signature does not verify. PATH defaults to the mc2-enclave\n"
    "beside this mc2. Whoever holds the signer key can sign any enclave: keep it with the\n"
    "consortium's release signer, never on the host that runs the service (policies pin the\n"
    "measurement by default, so a re-signed build is not trusted; see `mc2 policy --help`).\n";

static char *enclave_path(const char *flag)
{
    if (flag) return mc2_strdup(flag);
    char *dir = cli_bindir();
    char *p = dir ? mc2_path_join(dir, "mc2-enclave") : NULL;
    mc2_free(dir);
    return p;
}

int cmd_enclave(int argc, char **argv)
{
    const char *sub = argc > 1 ? argv[1] : NULL, *out = NULL, *key = NULL, *path_flag = NULL,
               *product = "1", *svn = "1";
    cli_opt opts[] = {CLI_VAL("out", &out),           CLI_VAL("key", &key),
                      CLI_VAL("enclave", &path_flag), CLI_VAL("product-id", &product),
                      CLI_VAL("svn", &svn),           CLI_END};
    int code;
    if (!sub || sub[0] == '-') {
        if (sub && strcmp(sub, "--help") == 0) {
            fputs(ENCLAVE_HELP, stdout);
            return CLI_OK;
        }
        return cli_usage("enclave", "say keygen, sign or info");
    }
    if (cli_parse("enclave", ENCLAVE_HELP, argc - 1, argv + 1, opts, NULL, 0, &code)) return code;
    mc2_err err;
    mc2_err_clear(&err);
    if (strcmp(sub, "keygen") == 0) {
        if (!out) return cli_usage("enclave", "keygen needs --out FILE");
        uint8_t pub[32], sec[32];
        mc2_buf pem = {.secret = 1};
        int rc = mc2_ed25519_keygen(pub, sec, &err) || mc2_ed25519_sec_to_pem(sec, &pem, &err) ||
                 mc2_file_write_atomic(out, pem.data, pem.len, 0600, 1, &err);
        mc2_wipe(sec, sizeof sec);
        mc2_buf_free(&pem);
        if (rc) return cli_fail(&err);
        uint8_t id[32];
        char hex[65];
        mc2_signer_id(pub, id);
        mc2_hex_encode(id, 32, hex);
        printf("enclave signer key written to %s\nsigner id: %s\n", out, hex);
        return CLI_OK;
    }
    char *path = enclave_path(path_flag);
    if (!path) return cli_usage("enclave", "cannot find mc2-enclave; pass --enclave PATH");
    int rc = CLI_OK;
    if (strcmp(sub, "sign") == 0) {
        uint64_t pid, sv;
        mc2_buf pem = {.secret = 1};
        uint8_t sec[32], m[32];
        mc2_sigstruct ss;
        uint8_t enc[MC2_SIGSTRUCT_LEN];
        char sig_path[4200];
        if (!key) {
            mc2_free(path);
            return cli_usage("enclave", "sign needs --key SIGNER.pem");
        }
        if (cli_parse_uint("enclave", "--product-id", product, 0, 65535, &pid) ||
            cli_parse_uint("enclave", "--svn", svn, 0, 65535, &sv)) {
            mc2_free(path);
            return CLI_USAGE;
        }
        snprintf(sig_path, sizeof sig_path, "%s.sig", path);
        if (mc2_file_read_all(key, 1 << 14, &pem, &err) ||
            mc2_ed25519_sec_from_pem((const char *)pem.data, pem.len, sec, &err) ||
            mc2_measure_file(path, m, &err) ||
            mc2_sigstruct_sign(&ss, m, (uint16_t)pid, (uint16_t)sv, sec, &err)) {
            rc = cli_fail(&err);
        } else {
            mc2_sigstruct_encode(&ss, enc);
            if (mc2_file_write_atomic(sig_path, enc, sizeof enc, 0644, 0, &err))
                rc = cli_fail(&err);
            else
                printf("signed %s -> %s\n", path, sig_path);
        }
        mc2_wipe(sec, sizeof sec);
        mc2_buf_free(&pem);
    } else if (strcmp(sub, "info") == 0) {
        mc2_sigstruct ss;
        if (mc2_enclave_check(path, &ss, &err)) {
            rc = cli_fail(&err);
        } else {
            char m[65], s[65];
            uint8_t id[32];
            mc2_signer_id(ss.signer_pub, id);
            mc2_hex_encode(ss.measurement, 32, m);
            mc2_hex_encode(id, 32, s);
            printf("enclave:     %s\nmeasurement: %s\nsigner:      %s\nproduct_id:  %u\nsvn:    "
                   "     %u\nsignature:   valid\n",
                   path, m, s, ss.product_id, ss.svn);
        }
    } else {
        rc = cli_usage("enclave", "unknown subcommand '%s' (keygen, sign, info)", sub);
    }
    mc2_free(path);
    return rc;
}

/* ---- mc2 service init ----------------------------------------------------------------------- */

static const char SERVICE_HELP[] =
    "usage: mc2 service init --dir STATE\n\n"
    "Prepares a service state directory and prints the public key of its SIMULATED\n"
    "platform (the sim backend's stand-in for a TEE vendor key). Parties that accept\n"
    "simulation list that key in their consortium policy. Simulation protects nothing.\n";

int cmd_service(int argc, char **argv)
{
    const char *dir = NULL;
    cli_opt opts[] = {CLI_VAL("dir", &dir), CLI_END};
    int code;
    if (argc < 2 || strcmp(argv[1], "init") != 0) {
        if (argc >= 2 && strcmp(argv[1], "--help") == 0) {
            fputs(SERVICE_HELP, stdout);
            return CLI_OK;
        }
        return cli_usage("service", "say `mc2 service init --dir STATE`");
    }
    if (cli_parse("service", SERVICE_HELP, argc - 1, argv + 1, opts, NULL, 0, &code)) return code;
    if (!dir) return cli_usage("service", "--dir STATE is required");
    mc2_err err;
    uint8_t sec[32], pub[32];
    if (mc2_sim_platform_key(dir, sec, pub, &err)) return cli_fail(&err);
    mc2_wipe(sec, sizeof sec);
    char hex[65];
    mc2_hex_encode(pub, 32, hex);
    printf("%s\n", hex);
    return CLI_OK;
}

/* ---- mc2 policy init ------------------------------------------------------------------------ */

static const char POLICY_HELP[] =
    "usage: mc2 policy init --out FILE --consortium NAME --party NAME=CERT... \n"
    "                       [--recipient NAME...] [--enclave PATH [--trust-signer]\n"
    "                       | --measurement HEX | --signer HEX --product-id N --min-svn N]\n"
    "                       [--allow-simulation --sim-platform-key HEX...]\n"
    "                       [--tpm-ak HEX... [--tpm-pcr N]]\n"
    "                       [--snp-ark-pin HEX... --snp-measurement HEX...\n"
    "                        --snp-min-tcb BL,TEE,SNP,UCODE [--snp-allow-migration-agent]]\n"
    "                       [--oblivious-table OWNER/TABLE...]\n\n"
    "Writes a consortium policy: the parties and their certificates, the enclave they trust,\n"
    "and who may receive results. Every party must use the same policy.\n"
    "--enclave PATH pins that build: its measurement (SHA-256 of the binary, checked against\n"
    "PATH.sig), so only exactly this enclave attests. --measurement HEX pins one given.\n"
    "--trust-signer (with --enclave: signer, product id and minimum security version from\n"
    "PATH.sig) or --signer HEX trusts every build that signer signs instead: whoever holds\n"
    "the signer key can then make an enclave the consortium trusts. Use it only when the\n"
    "signer key is held by the consortium's release signer, never by the host's operator.\n"
    "--sim-platform-key HEX (repeatable, up to 8: one per host of a cluster) trusts that\n"
    "simulated platform's evidence; `mc2 service init` / `mc2 cluster init` print the keys.\n"
    "--tpm-ak HEX (repeatable, up to 8) trusts quotes from that TPM attestation key, for a\n"
    "service started with --tee tpm: the first line of the host's STATE/tpm-ak.pub. Check\n"
    "how you got it: the key is only as trustworthy as its enrolment (docs/tee.md).\n"
    "--tpm-pcr N: the PCR the backend extends (its pcr=N; default 23).\n"
    "--snp-ark-pin HEX (SHA-256 of an AMD root key's SubjectPublicKeyInfo, up to 8),\n"
    "--snp-measurement HEX (a 48-byte SEV-SNP launch measurement, up to 16) and --snp-min-tcb\n"
    "(the lowest accepted bootloader, TEE, SNP firmware and microcode levels) trust an AMD\n"
    "SEV-SNP confidential VM (mc2d --tee tsm, docs/tee.md); they may stand alone.\n"
    "--oblivious-table lets only oblivious jobs read that table (OWNER/'*': all of OWNER's).\n";

/* Warns on stderr that a policy trusts a signer rather than one measured build. */
static void warn_signer_trust(const char *signer, const char *product, const char *min_svn)
{
    fprintf(stderr,
            "mc2: WARNING: this policy trusts EVERY enclave signed by signer %.16s... (product "
            "id %s, security version >= %s), not one measured build: whoever holds that "
            "signer's key can make an enclave this consortium trusts. Only the consortium's "
            "release signer may hold it, never the operator of the host that runs the service. "
            "To trust exactly one build, give --enclave PATH without --trust-signer (or "
            "--measurement HEX).\n",
            signer, product, min_svn);
}

/* The SEV-SNP reference values of `mc2 policy init`. */
typedef struct snp_flags {
    const char *pins[MC2_POLICY_MAX_SNP_ARKS], *meas[MC2_MAX_MEASUREMENTS], *min_tcb;
    size_t npins, nmeas;
    int allow_ma;
} snp_flags;

/* Appends enclave.sev_snp to y if any --snp-* flag was given. 0 ok (or none), CLI_USAGE
 * (said why), -1 with err. The policy parser checks the hex values afterwards. */
static int append_snp(const snp_flags *f, mc2_buf *y, mc2_err *err)
{
    if (!f->npins && !f->nmeas && !f->min_tcb && !f->allow_ma) return 0;
    unsigned t[4];
    char extra;
    if (!f->npins || !f->nmeas || !f->min_tcb)
        return cli_usage("policy", "an SEV-SNP enclave needs --snp-ark-pin, --snp-measurement "
                                   "and --snp-min-tcb");
    if (sscanf(f->min_tcb, "%3u,%3u,%3u,%3u%c", &t[0], &t[1], &t[2], &t[3], &extra) != 4 ||
        t[0] > 255 || t[1] > 255 || t[2] > 255 || t[3] > 255)
        return cli_usage("policy",
                         "--snp-min-tcb wants BOOTLOADER,TEE,SNP,MICROCODE, each 0 to 255, not "
                         "'%s'",
                         f->min_tcb);
    if (mc2_buf_puts(y, "  sev_snp:\n    ark_pins: [", err)) return -1;
    for (size_t i = 0; i < f->npins; i++)
        if (mc2_buf_printf(y, err, "%s%s", i ? ", " : "", f->pins[i])) return -1;
    if (mc2_buf_puts(y, "]\n    measurements: [", err)) return -1;
    for (size_t i = 0; i < f->nmeas; i++)
        if (mc2_buf_printf(y, err, "%s%s", i ? ", " : "", f->meas[i])) return -1;
    return mc2_buf_printf(y, err,
                          "]\n    min_tcb: {bootloader: %u, tee: %u, snp: %u, microcode: %u}\n"
                          "    allow_migration_agent: %s\n",
                          t[0], t[1], t[2], t[3], f->allow_ma ? "true" : "false")
               ? -1
               : 0;
}

/* What `mc2 policy init` was told (the enclave section and the parties). */
typedef struct policy_flags {
    snp_flags snp;
    const char *out, *name, *path_flag, *signer, *product, *min_svn, *measurement, *tpm_pcr;
    const char *measurement2; /* --enclave PATH's measurement, pinned unless --trust-signer */
    const char *sim_keys[MC2_POLICY_MAX_SIM_KEYS], *tpm_aks[MC2_POLICY_MAX_TPM_AKS];
    const char *parties[MC2_POLICY_MAX_PARTIES], *recipients[MC2_POLICY_MAX_PARTIES];
    const char *obliv[MC2_POLICY_MAX_OBLIV];
    size_t ntpm, nparties, nrecipients, nobliv, nsim;
    int allow_sim, trust_signer;
    char sid[65], mhex[65], pbuf[8], sbuf[8];
} policy_flags;

/* Checks the flags that name the trusted enclave and resolves --enclave PATH (its signer or
 * its measurement). CLI_OK, or the exit code after saying why. */
static int policy_enclave_flags(policy_flags *f)
{
    mc2_err err;
    if (f->trust_signer && !f->path_flag)
        return cli_usage("policy", "--trust-signer takes the signer from --enclave PATH's "
                                   "signature (or give --signer HEX)");
    if (f->trust_signer && f->signer)
        return cli_usage("policy",
                         "give --trust-signer (with --enclave) or --signer HEX, not both");
    if ((f->product || f->min_svn) && !f->signer && !f->trust_signer)
        return cli_usage("policy", "--product-id and --min-svn apply to a trusted signer "
                                   "(--enclave PATH --trust-signer, or --signer HEX)");
    if (f->path_flag) {
        mc2_sigstruct ss;
        if (mc2_enclave_check(f->path_flag, &ss, &err)) return cli_fail(&err);
        if (f->trust_signer) {
            uint8_t id[32];
            mc2_signer_id(ss.signer_pub, id);
            mc2_hex_encode(id, 32, f->sid);
            f->signer = f->sid;
            snprintf(f->pbuf, sizeof f->pbuf, "%u", ss.product_id);
            snprintf(f->sbuf, sizeof f->sbuf, "%u", ss.svn);
            if (!f->product) f->product = f->pbuf;
            if (!f->min_svn) f->min_svn = f->sbuf;
        } else {
            mc2_hex_encode(ss.measurement, 32, f->mhex);
            f->measurement2 = f->mhex;
        }
    }
    if (f->tpm_pcr && !f->ntpm) return cli_usage("policy", "--tpm-pcr goes with --tpm-ak HEX");
    if (f->tpm_pcr && (!f->tpm_pcr[0] || f->tpm_pcr[strspn(f->tpm_pcr, "0123456789")]))
        return cli_usage("policy", "--tpm-pcr wants a PCR index 0..23, not '%s'", f->tpm_pcr);
    if (!f->signer && !f->measurement && !f->measurement2 && !f->snp.npins && !f->snp.nmeas)
        return cli_usage("policy", "name the trusted enclave: --enclave PATH, --measurement HEX, "
                                   "--signer HEX or --snp-measurement HEX (SEV-SNP)");
    if (f->signer && !f->product) f->product = "0";
    if (f->signer && !f->min_svn) f->min_svn = "0";
    return CLI_OK;
}

/* Appends "[a, b, ...]\n" of n strings to y. */
static int put_list(mc2_buf *y, const char *const *v, size_t n, mc2_err *err)
{
    if (mc2_buf_puts(y, "[", err)) return -1;
    for (size_t i = 0; i < n; i++)
        if (mc2_buf_printf(y, err, "%s%s", i ? ", " : "", v[i])) return -1;
    return mc2_buf_puts(y, "]\n", err);
}

/* Appends the header and the enclave section. 0, CLI_USAGE (said why) or -1 with err. */
static int policy_enclave_yaml(const policy_flags *f, mc2_buf *y, mc2_err *err)
{
    if (mc2_buf_printf(y, err,
                       "# mc2 consortium policy (written by `mc2 policy init`)\n"
                       "consortium: %s\nenclave:\n",
                       f->name))
        return -1;
    if (f->signer && mc2_buf_printf(y, err, "  signer: %s\n  product_id: %s\n  min_svn: %s\n",
                                    f->signer, f->product, f->min_svn))
        return -1;
    const char *m = f->measurement, *m2 = f->measurement2;
    if ((m || m2) && mc2_buf_printf(y, err, "  measurements: [%s%s%s]\n", m2 ? m2 : "",
                                    m && m2 ? ", " : "", m ? m : ""))
        return -1;
    if (mc2_buf_printf(y, err, "  allow_simulation: %s\n", f->allow_sim ? "true" : "false"))
        return -1;
    if (f->nsim &&
        (mc2_buf_puts(y, "  sim_platform_keys: ", err) || put_list(y, f->sim_keys, f->nsim, err)))
        return -1;
    if (f->ntpm &&
        (mc2_buf_puts(y, "  tpm:\n    ak_keys: ", err) || put_list(y, f->tpm_aks, f->ntpm, err) ||
         mc2_buf_printf(y, err, "    pcr: %s\n", f->tpm_pcr ? f->tpm_pcr : "23")))
        return -1;
    return append_snp(&f->snp, y, err);
}

/* Appends the parties (their certificates read from the files), the recipients and the
 * oblivious tables. 0, CLI_USAGE (said why) or -1 with err. */
static int policy_parties_yaml(const policy_flags *f, mc2_buf *y, mc2_err *err)
{
    if (mc2_buf_puts(y, "parties:\n", err)) return -1;
    for (size_t i = 0; i < f->nparties; i++) {
        const char *p = f->parties[i], *eq = strchr(p, '=');
        if (!eq || eq == p) return cli_usage("policy", "--party wants NAME=CERTFILE, not '%s'", p);
        mc2_buf cert = {0};
        int rc = mc2_file_read_all(eq + 1, 1 << 16, &cert, err) ||
                 mc2_buf_printf(y, err, "  - name: %.*s\n    certificate: |\n", (int)(eq - p), p);
        for (size_t k = 0; rc == 0 && k < cert.len;) {
            size_t e = k;
            while (e < cert.len && cert.data[e] != '\n') e++;
            if (e > k)
                rc = mc2_buf_printf(y, err, "      %.*s\n", (int)(e - k),
                                    (const char *)cert.data + k);
            k = e + 1;
        }
        mc2_buf_free(&cert);
        if (rc) return -1;
    }
    if (mc2_buf_puts(y, "recipients: ", err) || put_list(y, f->recipients, f->nrecipients, err))
        return -1;
    if (f->nobliv && mc2_buf_puts(y, "oblivious_tables:\n", err)) return -1;
    for (size_t i = 0; i < f->nobliv; i++)
        if (mc2_buf_printf(y, err, "  - \"%s\"\n", f->obliv[i])) return -1;
    return 0;
}

/* Checks the YAML as mc2d will, writes it and says what it trusts. */
static int policy_write(const policy_flags *f, const mc2_buf *y, mc2_err *err)
{
    mc2_policy *check = NULL;
    if (mc2_policy_parse(f->out, (const char *)y->data, y->len, &check, err)) return -1;
    char hash[65];
    mc2_hex_encode(check->hash, 32, hash);
    mc2_policy_free(check);
    if (mc2_file_write_atomic(f->out, y->data, y->len, 0644, 0, err)) return -1;
    printf("consortium policy written to %s\npolicy hash: %s\n", f->out, hash);
    if (f->measurement2)
        printf("trusted enclave: measurement %s of %s (exactly this build)\n", f->measurement2,
               f->path_flag);
    if (f->signer && !f->measurement && !f->measurement2)
        warn_signer_trust(f->signer, f->product, f->min_svn);
    return 0;
}

int cmd_policy(int argc, char **argv)
{
    static policy_flags f; /* large; one call per process */
    memset(&f, 0, sizeof f);
    int code;
    cli_opt opts[] = {
        CLI_VAL("out", &f.out),
        CLI_VAL("consortium", &f.name),
        {"party", NULL, NULL, f.parties, &f.nparties, MC2_POLICY_MAX_PARTIES},
        {"recipient", NULL, NULL, f.recipients, &f.nrecipients, MC2_POLICY_MAX_PARTIES},
        CLI_LIST("oblivious-table", f.obliv, &f.nobliv, MC2_POLICY_MAX_OBLIV),
        CLI_VAL("enclave", &f.path_flag),
        CLI_VAL("signer", &f.signer),
        CLI_VAL("product-id", &f.product),
        CLI_VAL("min-svn", &f.min_svn),
        CLI_VAL("measurement", &f.measurement),
        CLI_LIST("sim-platform-key", f.sim_keys, &f.nsim, MC2_POLICY_MAX_SIM_KEYS),
        CLI_LIST("tpm-ak", f.tpm_aks, &f.ntpm, MC2_POLICY_MAX_TPM_AKS),
        CLI_VAL("tpm-pcr", &f.tpm_pcr),
        CLI_FLAG("allow-simulation", &f.allow_sim),
        CLI_FLAG("trust-signer", &f.trust_signer),
        CLI_LIST("snp-ark-pin", f.snp.pins, &f.snp.npins, MC2_POLICY_MAX_SNP_ARKS),
        CLI_LIST("snp-measurement", f.snp.meas, &f.snp.nmeas, MC2_MAX_MEASUREMENTS),
        CLI_VAL("snp-min-tcb", &f.snp.min_tcb),
        CLI_FLAG("snp-allow-migration-agent", &f.snp.allow_ma),
        CLI_END};
    if (argc < 2 || strcmp(argv[1], "init") != 0) {
        if (argc >= 2 && strcmp(argv[1], "--help") == 0) {
            fputs(POLICY_HELP, stdout);
            return CLI_OK;
        }
        return cli_usage("policy", "say `mc2 policy init ...`");
    }
    if (cli_parse("policy", POLICY_HELP, argc - 1, argv + 1, opts, NULL, 0, &code)) return code;
    if (!f.out || !f.name || f.nparties == 0)
        return cli_usage("policy", "--out, --consortium and at least one --party are required");
    int rc = policy_enclave_flags(&f);
    if (rc != CLI_OK) return rc;
    mc2_err err;
    mc2_err_clear(&err);
    mc2_buf y = {0};
    rc = policy_enclave_yaml(&f, &y, &err);
    if (rc == 0) rc = policy_parties_yaml(&f, &y, &err);
    if (rc == 0) rc = policy_write(&f, &y, &err);
    mc2_buf_free(&y);
    if (rc == -1) return cli_fail(&err);
    return rc; /* CLI_OK (0) or CLI_USAGE */
}

/* ---- mc2 start / stop / status -------------------------------------------------------------- */

static const char START_HELP[] =
    "usage: mc2 start --policy FILE --dir STATE [--listen HOST:PORT] [--budget-mb N]\n"
    "                 [--idle-timeout S] [--session-timeout S] [--tee NAME] [--tee-opt OPTS]\n"
    "                 [--discard-sealed-state] [--mesh-launcher EXE]\n\n"
    "Starts mc2d and its enclave in the background and returns once it is ready (or says\n"
    "why it is not: port taken, enclave signature invalid, ...). Logs go to STATE/mc2d.log.\n"
    "The default address is $MC2_SERVICE if set, else " MC2_DEFAULT_SERVICE ".\n"
    "--idle-timeout S: mc2d closes a connection after S seconds without a byte either way\n"
    "(default 300; 0 = never). A client waiting for the answer of an enclave that is running\n"
    "a long job counts as idle: raise it when jobs take longer.\n"
    "--session-timeout S: the enclave ends a session whose client sent nothing for S seconds\n"
    "(1..86400, default 900), whatever mc2d does with the connection.\n"
    "--tee NAME: the TEE backend (default sim: a SIMULATION, no hardware protection; tpm: a\n"
    "TPM 2.0 attests the launch, the enclave's memory is not protected);\n"
    "--tee-opt OPTS: its options, key=value,... (docs/tee.md; tpm: tcti=..., pcr=N,\n"
    "nv_index=N).\n"
    "--discard-sealed-state: start the enclave with an empty state although its sealed state\n"
    "(granted keys, jobs) was rolled back, deleted or does not open: every party must grant\n"
    "its key again, pending jobs and result keys are lost (docs/security.md, \"Sealed state\").\n"
    "--mesh-launcher EXE: this service leads distributed jobs (param ranks N): mc2d runs\n"
    "`EXE N SOCKET`, which starts the other ranks (typically mpirun ... mc2-rank; docs/\n"
    "cluster.md, \"Distributed jobs\"). `mc2 cluster up` sets it on the first host.\n";

/* What `mc2 start` starts mc2d with. */
typedef struct start_flags {
    const char *policy, *dir, *listen, *budget, *idle, *session, *tee, *tee_opt, *launcher;
    int discard;
} start_flags;

/* The child: detaches, sends its output to log and becomes mc2d, which reports on ready_fd. */
__attribute__((noreturn)) static void start_child(const start_flags *f, const char *mc2d,
                                                  const char *log, int ready_fd)
{
    setsid();
    int lf = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    int nul = open("/dev/null", O_RDONLY);
    if (lf < 0 || nul < 0 || dup2(nul, 0) < 0 || dup2(lf, 1) < 0 || dup2(lf, 2) < 0) _exit(127);
    char fdarg[16];
    snprintf(fdarg, sizeof fdarg, "%d", ready_fd);
    const char *av[24] = {
        "mc2d",     "--dir",       f->dir,    "--policy",       f->policy, "--listen",
        f->listen,  "--budget-mb", f->budget, "--idle-timeout", f->idle,   "--session-timeout",
        f->session, "--ready-fd",  fdarg,     "--tee",          f->tee};
    size_t n = 0;
    while (av[n]) n++; /* the optional ones follow */
    if (f->tee_opt) {
        av[n++] = "--tee-opt";
        av[n++] = f->tee_opt;
    }
    if (f->discard) av[n++] = "--discard-sealed-state";
    if (f->launcher) {
        av[n++] = "--mesh-launcher";
        av[n++] = f->launcher;
    }
    execv(mc2d, (char *const *)av);
    _exit(127);
}

/* Reads mc2d's "ok PID" or "error MESSAGE" from fd (at most 20 s of silence) into msg. */
static size_t start_wait(int fd, char *msg, size_t cap)
{
    size_t got = 0;
    struct pollfd pf = {fd, POLLIN, 0};
    while (got < cap - 1 && poll(&pf, 1, 20000) > 0) {
        ssize_t r = read(fd, msg + got, cap - 1 - got);
        if (r <= 0) break;
        got += (size_t)r;
    }
    msg[got] = '\0';
    return got;
}

/* mc2d said it runs: records its pid and says so. */
static int start_ok(const start_flags *f, const char *msg, const char *pidf, const char *log)
{
    mc2_err err;
    char pidtxt[32];
    int daemon_pid = atoi(msg + 3);
    snprintf(pidtxt, sizeof pidtxt, "%d\n", daemon_pid);
    if (mc2_file_write_atomic(pidf, pidtxt, strlen(pidtxt), 0644, 0, &err)) return cli_fail(&err);
    const mc2_tee_ops *ops = mc2_tee_find(f->tee);
    printf("mc2d is running (pid %d) on %s; enclave backend: %s (%s)\nlog: %s\n", daemon_pid,
           f->listen, f->tee, ops ? ops->banner : "unknown", log);
    return CLI_OK;
}

int cmd_start(int argc, char **argv)
{
    start_flags f = {.listen = MC2_DEFAULT_SERVICE,
                     .budget = "4096",
                     .idle = "300",
                     .session = "900",
                     .tee = "sim"};
    cli_opt opts[] = {CLI_VAL("policy", &f.policy),
                      CLI_VAL("tee", &f.tee),
                      CLI_VAL("tee-opt", &f.tee_opt),
                      CLI_VAL("dir", &f.dir),
                      CLI_VAL("listen", &f.listen),
                      CLI_VAL("budget-mb", &f.budget),
                      CLI_VAL("idle-timeout", &f.idle),
                      CLI_VAL("session-timeout", &f.session),
                      CLI_FLAG("discard-sealed-state", &f.discard),
                      CLI_VAL("mesh-launcher", &f.launcher),
                      CLI_END};
    int code;
    uint64_t idle_s, session_s;
    const char *env = getenv("MC2_SERVICE");
    if (env && *env) f.listen = env; /* the address the clients of this shell will use */
    if (cli_parse("start", START_HELP, argc, argv, opts, NULL, 0, &code)) return code;
    if (!f.policy || !f.dir)
        return cli_usage("start", "--policy FILE and --dir STATE are required");
    if (cli_parse_uint("start", "--idle-timeout", f.idle, 0, 7 * 86400, &idle_s) ||
        cli_parse_uint("start", "--session-timeout", f.session, 1, 86400, &session_s))
        return CLI_USAGE;
    mc2_err err;
    mc2_err_clear(&err);
    if (mc2_mkdir(f.dir, 0700, &err)) return cli_fail(&err);
    char *bindir = cli_bindir();
    char *mc2d = bindir ? mc2_path_join(bindir, "mc2d") : NULL;
    char *log = mc2_path_join(f.dir, "mc2d.log");
    char *pidf = mc2_path_join(f.dir, "mc2d.pid");
    int p[2] = {-1, -1}, rc = CLI_FAIL;
    if (!mc2d || !log || !pidf || pipe(p) != 0) {
        fprintf(stderr, "mc2: cannot start mc2d: out of resources\n");
        goto out;
    }
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "mc2: fork: %s\n", strerror(errno));
        goto out;
    }
    if (pid == 0) {
        close(p[0]);
        start_child(&f, mc2d, log, p[1]);
    }
    close(p[1]);
    p[1] = -1;
    char msg[MC2_ERR_MSG_MAX + 32];
    size_t got = start_wait(p[0], msg, sizeof msg);
    if (strncmp(msg, "ok ", 3) == 0) {
        rc = start_ok(&f, msg, pidf, log);
    } else {
        char *nl = strchr(msg, '\n');
        if (nl) *nl = '\0';
        fprintf(stderr, "mc2: the service did not start: %s\n(see %s)\n",
                got ? (strncmp(msg, "error ", 6) == 0 ? msg + 6 : msg) : "it exited silently", log);
        /* mc2d exits right after saying why; wait for it, so that its port and state
         * directory are free when we return (and kill it if it said nothing in time). */
        if (!got) kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
out:
    if (p[0] >= 0) close(p[0]);
    if (p[1] >= 0) close(p[1]);
    mc2_free(bindir);
    mc2_free(mc2d);
    mc2_free(log);
    mc2_free(pidf);
    return rc;
}

/* True while pid runs. mc2d runs detached, so once it exits it stays a zombie until init reaps
 * it, which can take a while (or never happen in a container whose init does not reap);
 * kill(pid, 0) still succeeds on a zombie, so its state is read from /proc. */
static int still_running(pid_t pid)
{
    if (kill(pid, 0) != 0) return 0;
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return 1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *end = strrchr(buf, ')'); /* "pid (comm) state ...": comm may hold ')' */
    return !(end && end[1] == ' ' && (end[2] == 'Z' || end[2] == 'X'));
}

static const char STOP_HELP[] = "usage: mc2 stop --dir STATE\n\nStops the mc2d started by "
                                "`mc2 start --dir STATE` (its enclave stops with it).\n";

int cmd_stop(int argc, char **argv)
{
    const char *dir = NULL;
    cli_opt opts[] = {CLI_VAL("dir", &dir), CLI_END};
    int code;
    if (cli_parse("stop", STOP_HELP, argc, argv, opts, NULL, 0, &code)) return code;
    if (!dir) return cli_usage("stop", "--dir STATE is required");
    char *pidf = mc2_path_join(dir, "mc2d.pid");
    mc2_buf b = {0};
    mc2_err err;
    int rc = CLI_FAIL;
    if (!pidf || mc2_file_read_all(pidf, 64, &b, &err) || mc2_buf_append(&b, "", 1, &err)) {
        fprintf(stderr, "mc2: no running service recorded in %s\n", dir);
        goto out;
    }
    pid_t pid = (pid_t)atoi((const char *)b.data);
    if (pid <= 1 || kill(pid, SIGTERM) != 0) {
        fprintf(stderr, "mc2: the service (pid %d) is not running\n", (int)pid);
        unlink(pidf);
        goto out;
    }
    for (int i = 0; i < 100 && still_running(pid); i++) {
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (still_running(pid)) kill(pid, SIGKILL);
    unlink(pidf);
    printf("mc2d (pid %d) stopped\n", (int)pid);
    rc = CLI_OK;
out:
    mc2_buf_free(&b);
    mc2_free(pidf);
    return rc;
}

static const char STATUS_HELP[] = "usage: mc2 status [--service HOST:PORT] [--home DIR]\n\n"
                                  "Asks the service what it runs (what it says is unverified: "
                                  "use `mc2 attest` for proof).\n";

int cmd_status(int argc, char **argv)
{
    const char *service = NULL, *home = NULL;
    cli_opt opts[] = {CLI_VAL("service", &service), CLI_VAL("home", &home), CLI_END};
    int code;
    if (cli_parse("status", STATUS_HELP, argc, argv, opts, NULL, 0, &code)) return code;
    mc2_err err;
    mc2_err_clear(&err);
    char *addr = cli_service(service, home);
    mc2_frame reply = {0};
    int fd = addr ? mc2_dial(addr, &err) : -1;
    int rc = CLI_OK;
    if (fd < 0 || mc2_host_call(fd, HAPI_STATUS, NULL, 0, &reply, NULL, NULL, &err))
        rc = cli_fail(&err);
    else
        printf("%.*s", (int)reply.payload.len, (const char *)reply.payload.data);
    if (fd >= 0) close(fd);
    mc2_frame_free(&reply);
    mc2_free(addr);
    return rc;
}

static const char ATTEST_HELP[] =
    "usage: mc2 attest [--policy FILE] [--service HOST:PORT] [--home DIR]\n\n"
    "Opens an attested session with the enclave: a fresh nonce, TLS 1.3 terminated in the\n"
    "enclave, its evidence checked against the consortium policy and bound to the TLS key,\n"
    "the nonce and the policy hash. Prints the verified claims.\n";

/* `mc2 attest` for SEV-SNP evidence: the verified report's claims. */
static void print_snp(const cli_session *cs)
{
    const mc2_snp_claims *c = &cs->es.claims.snp;
    char m[2 * MC2_SNP_MEASUREMENT_LEN + 1], chip[2 * MC2_SNP_CHIP_ID_LEN + 1], inst[65];
    mc2_hex_encode(c->measurement, sizeof c->measurement, m);
    mc2_hex_encode(c->chip_id, sizeof c->chip_id, chip);
    mc2_hex_encode(cs->es.instance, 32, inst);
    const mc2_snp_tcb *t = &c->reported_tcb;
    printf("attestation: verified\n  evidence format: sev-snp (AMD SEV-SNP attestation report, "
           "signed by the chip's %s, chain to a pinned AMD root)\n"
           "  measurement:  %s (launch measurement)\n"
           "  reported TCB: bootloader %u, TEE %u, SNP %u, microcode %u\n"
           "  guest policy: %#llx (debug %s, migration agent %s)\n"
           "  report:       version %u, VMPL %u, guest svn %u\n"
           "  chip id:      %.32s...\n  simulation:   no\n"
           "  bound to:     this TLS session's key, a fresh nonce, consortium '%s'\n"
           "  instance:     %s\n  next counter: %llu\n",
           c->vlek ? "VLEK" : "VCEK", m, t->bootloader, t->tee, t->snp, t->microcode,
           (unsigned long long)c->policy, (c->policy & MC2_SNP_POLICY_DEBUG) ? "allowed" : "off",
           (c->policy & MC2_SNP_POLICY_MIGRATE_MA) ? "allowed" : "off", c->version, c->vmpl,
           c->guest_svn, chip, cs->policy->consortium, inst,
           (unsigned long long)cs->es.next_counter);
}

int cmd_attest(int argc, char **argv)
{
    cli_session cs;
    const char *service = NULL, *home = NULL, *policy = NULL;
    cli_opt opts[] = {CLI_VAL("service", &service), CLI_VAL("home", &home),
                      CLI_VAL("policy", &policy), CLI_END};
    int code;
    if (cli_parse("attest", ATTEST_HELP, argc, argv, opts, NULL, 0, &code)) return code;
    mc2_err err;
    mc2_err_clear(&err);
    if (cli_session_open(&cs, home, service, policy, &err)) return cli_fail(&err);
    if (cs.es.claims.format == MC2_EVIDENCE_SNP) {
        print_snp(&cs);
        cli_session_close(&cs);
        return CLI_OK;
    }
    const mc2_claims *c = &cs.es.claims;
    char m[65], s[65], inst[65], pk[65];
    mc2_hex_encode(c->measurement, 32, m);
    mc2_hex_encode(c->signer, 32, s);
    mc2_hex_encode(cs.es.instance, 32, inst);
    int tpm = c->format == MC2_EVIDENCE_TPM;
    mc2_hex_encode(tpm ? c->tpm.ak_id : c->platform_key, 32, pk);
    printf("attestation: verified\n  evidence format: %s\n  measurement:  %s\n  signer:       "
           "%s\n  product_id:   %u\n  svn:          %u\n  simulation:   %s\n  debug:        %s\n",
           tpm                             ? "tpm"
           : c->format == MC2_EVIDENCE_SNP ? "sev-snp"
                                           : "sim",
           m, s, c->product_id, c->svn, c->simulation ? "yes" : "no", c->debug ? "yes" : "no");
    if (tpm) {
        char pv[65];
        mc2_hex_encode(c->tpm.pcr_value, 32, pv);
        printf("  TPM AK:       %s\n  PCR %-2u:       %s (replayed from the event log)\n"
               "  TPM counts:   reset %u, restart %u\n",
               pk, c->tpm.pcr, pv, c->tpm.reset_count, c->tpm.restart_count);
    } else {
        printf("  platform key: %s\n", pk);
    }
    printf("  bound to:     this TLS session's key, a fresh nonce, consortium '%s'\n"
           "  instance:     %s\n  next counter: %llu\n",
           cs.policy->consortium, inst, (unsigned long long)cs.es.next_counter);
    cli_session_close(&cs);
    return CLI_OK;
}
