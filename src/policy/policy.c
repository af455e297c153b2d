/* policy.c - the consortium policy: parsing, validation and its canonical hash.
 *
 * Canonical encoding (hashed with SHA-256; all integers little-endian):
 *   "MC2P" | u16 version = 1 | consortium LV |
 *   u32 n_measurements | measurement[32]... | u8 has_signer | signer[32] | u16 product_id |
 *   u16 min_svn | u8 allow_simulation | u8 allow_debug |
 *   u32 n_sim_keys | key[32]... (sorted) |
 *   u32 nparties | per party sorted by name: name LV | pub[32] | u8 recipient
 *   [only if oblivious_tables is not empty: u32 n | entry LV... (sorted)]
 *   [only if limits are given: "LIM1" | u64 job_cpu_seconds]
 *   [only if enclave.sev_snp is given: "SNP1" | u32 n_ark_pins | pin[32]... (sorted) |
 *    u32 n_measurements | measurement[48]... (sorted) | u8 min bootloader | u8 min tee |
 *    u8 min snp | u8 min microcode | u8 allow_migration_agent | u8 max_vmpl]
 *   [only if enclave.tpm is given: "TPM1" | u32 n_ak_keys | key[32]... (sorted) | u8 pcr]
 * so two parties whose files differ only in layout, order or comments agree on the hash. */
#include "mc2/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/file.h"
#include "base/hex.h"
#include "base/yaml.h"
#include "crypto/pki.h"
#include "mc2/job.h"

static int at(mc2_err *err, const char *what, const mc2_ynode *n, const char *msg)
{
    return mc2_err_set(err, MC2_E_INPUT, "%s line %lu column %lu: %s", what, n ? n->line : 1,
                       n ? n->col : 1, msg);
}

static int scalar(const mc2_ynode *n)
{
    return n && n->kind == MC2_Y_SCALAR;
}

static int get_bool(const char *what, const mc2_ynode *n, bool *out, mc2_err *err)
{
    if (!n) return 0;
    if (scalar(n) && strcmp(n->text, "true") == 0)
        *out = true;
    else if (scalar(n) && strcmp(n->text, "false") == 0)
        *out = false;
    else
        return at(err, what, n, "expected true or false");
    return 0;
}

static int get_u16(const char *what, const mc2_ynode *n, uint16_t *out, mc2_err *err)
{
    if (!n) return 0;
    char *end;
    unsigned long v = scalar(n) ? strtoul(n->text, &end, 10) : 0;
    if (!scalar(n) || !n->text[0] || *end || v > 65535)
        return at(err, what, n, "expected a whole number from 0 to 65535");
    *out = (uint16_t)v;
    return 0;
}

static int get_hash(const char *what, const mc2_ynode *n, uint8_t out[32], mc2_err *err)
{
    if (!scalar(n) || mc2_hex_decode(n->text, out, 32) != 0)
        return at(err, what, n, "expected 64 hexadecimal digits (a SHA-256 or key)");
    return 0;
}

/* Checks that every key of map n is in the NULL-terminated list. */
static int known_keys(const char *what, const mc2_ynode *n, const char *const *keys, mc2_err *err)
{
    for (size_t i = 0; i + 1 < n->nkids; i += 2) {
        int ok = 0;
        for (const char *const *k = keys; *k; k++) ok |= strcmp(*k, n->kids[i]->text) == 0;
        if (!ok) {
            char msg[200];
            snprintf(msg, sizeof msg, "unknown key '%.60s'", n->kids[i]->text);
            return at(err, what, n->kids[i], msg);
        }
    }
    return 0;
}

/* A list of at most max hex digests of len bytes each into out; its length in *n. */
static int get_hashes(const char *what, const mc2_ynode *l, const char *name, size_t max,
                      size_t len, uint8_t *out, size_t *n, mc2_err *err)
{
    char msg[160];
    snprintf(msg, sizeof msg,
             "'%s' must be a non-empty list of at most %zu values of %zu hex digits", name, max,
             2 * len);
    if (!l || l->kind != MC2_Y_SEQ || l->nkids == 0 || l->nkids > max) return at(err, what, l, msg);
    for (size_t i = 0; i < l->nkids; i++)
        if (!scalar(l->kids[i]) || mc2_hex_decode(l->kids[i]->text, out + i * len, len) != 0)
            return at(err, what, l->kids[i], msg);
    *n = l->nkids;
    return 0;
}

/* enclave.sev_snp: ark_pins, measurements, min_tcb {bootloader, tee, snp, microcode} (all
 * required), allow_migration_agent, max_vmpl (0 to 3, default 0). */
static int parse_snp(const char *what, const mc2_ynode *s, mc2_policy *p, mc2_err *err)
{
    static const char *const keys[] = {
        "ark_pins", "measurements", "min_tcb", "allow_migration_agent", "max_vmpl", NULL};
    static const char *const tcb_keys[] = {"bootloader", "tee", "snp", "microcode", NULL};
    mc2_appraisal *a = &p->appraisal;
    if (s->kind != MC2_Y_MAP)
        return at(err, what, s, "'sev_snp' must be a map (ark_pins, measurements, min_tcb)");
    if (known_keys(what, s, keys, err) ||
        get_hashes(what, mc2_yaml_get(s, "ark_pins"), "ark_pins", MC2_POLICY_MAX_SNP_ARKS,
                   MC2_SHA256_LEN, &p->snp_arks[0][0], &p->n_snp_arks, err) ||
        get_hashes(what, mc2_yaml_get(s, "measurements"), "measurements", MC2_MAX_MEASUREMENTS,
                   MC2_SNP_MEASUREMENT_LEN, &a->snp_measurements[0][0], &a->n_snp_measurements,
                   err) ||
        get_bool(what, mc2_yaml_get(s, "allow_migration_agent"), &a->allow_migration_agent, err))
        return -1;
    const mc2_ynode *t = mc2_yaml_get(s, "min_tcb");
    if (!t || t->kind != MC2_Y_MAP)
        return at(err, what, t ? t : s,
                  "'min_tcb' must be a map {bootloader, tee, snp, microcode} of the lowest "
                  "accepted security patch levels");
    if (known_keys(what, t, tcb_keys, err)) return -1;
    uint8_t *dst[4] = {&a->snp_min_tcb.bootloader, &a->snp_min_tcb.tee, &a->snp_min_tcb.snp,
                       &a->snp_min_tcb.microcode};
    for (int i = 0; i < 4; i++) {
        const mc2_ynode *v = mc2_yaml_get(t, tcb_keys[i]);
        uint16_t x = 0;
        if (!v || get_u16(what, v, &x, err) || x > 255)
            return at(err, what, v ? v : t,
                      "min_tcb needs bootloader, tee, snp and microcode, each 0 to 255");
        *dst[i] = (uint8_t)x;
    }
    const mc2_ynode *vm = mc2_yaml_get(s, "max_vmpl");
    uint16_t vmpl = 0;
    if (vm && (get_u16(what, vm, &vmpl, err) || vmpl > 3))
        return at(err, what, vm, "max_vmpl must be 0 to 3 (0: the most privileged level only)");
    a->snp_max_vmpl = (uint8_t)vmpl;
    p->has_snp = true;
    return 0;
}

/* enclave.tpm: ak_keys (required), pcr (0 to 23, default 23). */
static int parse_tpm(const char *what, const mc2_ynode *t, mc2_policy *p, mc2_err *err)
{
    static const char *const keys[] = {"ak_keys", "pcr", NULL};
    if (t->kind != MC2_Y_MAP) return at(err, what, t, "'tpm' must be a map (ak_keys, pcr)");
    if (known_keys(what, t, keys, err) ||
        get_hashes(what, mc2_yaml_get(t, "ak_keys"), "ak_keys", MC2_POLICY_MAX_TPM_AKS,
                   MC2_SHA256_LEN, &p->tpm_aks[0][0], &p->n_tpm_aks, err))
        return -1;
    const mc2_ynode *n = mc2_yaml_get(t, "pcr");
    uint16_t pcr = MC2_TPM_DEFAULT_PCR;
    if (n && (get_u16(what, n, &pcr, err) || pcr > 23))
        return at(err, what, n, "pcr must be a PCR index 0 to 23 (the tpm backend's pcr=N)");
    p->tpm_pcr = (uint8_t)pcr;
    p->has_tpm = true;
    return 0;
}

static int parse_enclave(const char *what, const mc2_ynode *e, mc2_policy *p, mc2_err *err)
{
    static const char *const keys[] = {
        "signer",      "product_id",        "min_svn", "measurements", "allow_simulation",
        "allow_debug", "sim_platform_keys", "sev_snp", "tpm",          NULL};
    if (!e || e->kind != MC2_Y_MAP)
        return at(err, what, e, "'enclave' must be a map (signer, product_id, min_svn, ...)");
    if (known_keys(what, e, keys, err)) return -1;
    mc2_appraisal *a = &p->appraisal;
    const mc2_ynode *s = mc2_yaml_get(e, "signer");
    if (s) {
        if (get_hash(what, s, a->signer, err)) return -1;
        a->has_signer = true;
    }
    if (get_u16(what, mc2_yaml_get(e, "product_id"), &a->product_id, err) ||
        get_u16(what, mc2_yaml_get(e, "min_svn"), &a->min_svn, err) ||
        get_bool(what, mc2_yaml_get(e, "allow_simulation"), &a->allow_simulation, err) ||
        get_bool(what, mc2_yaml_get(e, "allow_debug"), &a->allow_debug, err))
        return -1;
    const mc2_ynode *m = mc2_yaml_get(e, "measurements");
    if (m) {
        if (m->kind != MC2_Y_SEQ || m->nkids > MC2_MAX_MEASUREMENTS)
            return at(err, what, m, "'measurements' must be a list of at most 16 hashes");
        for (size_t i = 0; i < m->nkids; i++)
            if (get_hash(what, m->kids[i], a->measurements[i], err)) return -1;
        a->n_measurements = m->nkids;
    }
    const mc2_ynode *snp = mc2_yaml_get(e, "sev_snp");
    if (snp && parse_snp(what, snp, p, err)) return -1;
    const mc2_ynode *tpm = mc2_yaml_get(e, "tpm");
    if (tpm && parse_tpm(what, tpm, p, err)) return -1;
    if (!a->has_signer && a->n_measurements == 0 && !p->has_snp)
        return at(err, what, e,
                  "the enclave section must name a 'signer', 'measurements' or 'sev_snp'; "
                  "otherwise any enclave would be trusted");
    const mc2_ynode *k = mc2_yaml_get(e, "sim_platform_keys");
    if (k) {
        if (k->kind != MC2_Y_SEQ || k->nkids > MC2_POLICY_MAX_SIM_KEYS)
            return at(err, what, k, "'sim_platform_keys' must be a list of at most 8 keys");
        for (size_t i = 0; i < k->nkids; i++)
            if (get_hash(what, k->kids[i], p->sim_keys[i], err)) return -1;
        p->n_sim_keys = k->nkids;
    }
    return 0;
}

static int parse_parties(const char *what, const mc2_ynode *ps, mc2_policy *p, mc2_err *err)
{
    static const char *const keys[] = {"name", "certificate", NULL};
    if (!ps || ps->kind != MC2_Y_SEQ || ps->nkids == 0)
        return at(err, what, ps, "'parties' must be a non-empty list");
    if (ps->nkids > MC2_POLICY_MAX_PARTIES) return at(err, what, ps, "more than 128 parties");
    p->parties = mc2_calloc(ps->nkids, sizeof *p->parties);
    if (!p->parties) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    for (size_t i = 0; i < ps->nkids; i++) {
        const mc2_ynode *e = ps->kids[i];
        mc2_party *pt = &p->parties[i];
        if (e->kind != MC2_Y_MAP) return at(err, what, e, "a party must be a map");
        if (known_keys(what, e, keys, err)) return -1;
        const mc2_ynode *name = mc2_yaml_get(e, "name"), *cert = mc2_yaml_get(e, "certificate");
        if (!scalar(name) || mc2_name_check(name->text, err))
            return at(err, what, name ? name : e, "a party needs a valid 'name'");
        if (!scalar(cert)) return at(err, what, e, "a party needs a PEM 'certificate'");
        p->nparties = i + 1;
        snprintf(pt->name, sizeof pt->name, "%s", name->text);
        char cn[65];
        if (mc2_x509_info(cert->text, cert->len, pt->pub, cn, sizeof cn, err) ||
            mc2_x509_verify_self_signed(cert->text, cert->len, err)) {
            return mc2_err_prefix(err, "%s line %lu column %lu: certificate of '%s': ", what,
                                  cert->line, cert->col, pt->name);
        }
        if (strcmp(cn, pt->name) != 0) {
            char msg[300];
            snprintf(msg, sizeof msg, "the certificate of '%s' is issued to '%s'", pt->name, cn);
            return at(err, what, cert, msg);
        }
        pt->cert_pem = mc2_strdup(cert->text);
        if (!pt->cert_pem) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        for (size_t j = 0; j < i; j++) {
            if (strcasecmp(p->parties[j].name, pt->name) == 0)
                return at(err, what, name, "two parties have the same name");
            if (memcmp(p->parties[j].pub, pt->pub, 32) == 0)
                return at(err, what, cert, "two parties have the same key");
        }
    }
    return 0;
}

static int cmp_party(const void *a, const void *b)
{
    return strcmp(((const mc2_party *)a)->name, ((const mc2_party *)b)->name);
}

static int cmp_key(const void *a, const void *b)
{
    return memcmp(a, b, 32);
}

static int cmp_obliv(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* oblivious_tables: a list of OWNER/TABLE entries (TABLE "*": all of OWNER's), OWNER a party. */
static int parse_obliv(const char *what, const mc2_ynode *o, mc2_policy *p, mc2_err *err)
{
    if (!o) return 0;
    if (o->kind != MC2_Y_SEQ || o->nkids > MC2_POLICY_MAX_OBLIV)
        return at(err, what, o, "'oblivious_tables' must be a list of at most 64 OWNER/TABLE");
    for (size_t i = 0; i < o->nkids; i++) {
        const mc2_ynode *k = o->kids[i];
        const char *slash = scalar(k) ? strchr(k->text, '/') : NULL;
        if (!slash || k->len >= sizeof p->obliv[0] || slash[1] == '\0' || strchr(slash + 1, '/'))
            return at(err, what, k,
                      "oblivious_tables entries are OWNER/TABLE or OWNER/* (OWNER a party)");
        int party = 0;
        for (size_t j = 0; j < p->nparties; j++)
            party |= strlen(p->parties[j].name) == (size_t)(slash - k->text) &&
                     strncmp(p->parties[j].name, k->text, (size_t)(slash - k->text)) == 0;
        if (!party)
            return at(err, what, k, "oblivious_tables: the owner is not one of the parties");
        snprintf(p->obliv[p->n_obliv++], sizeof p->obliv[0], "%s", k->text);
    }
    return 0;
}

bool mc2_policy_requires_oblivious(const mc2_policy *p, const char *owner, const char *table)
{
    size_t ol = strlen(owner);
    for (size_t i = 0; i < p->n_obliv; i++) {
        const char *e = p->obliv[i];
        if (strncmp(e, owner, ol) == 0 && e[ol] == '/' &&
            (strcmp(e + ol + 1, "*") == 0 || strcmp(e + ol + 1, table) == 0))
            return true;
    }
    return false;
}

/* limits: {job_cpu_seconds: N}: the CPU time a job may use in the enclave (1..2^31). */
static int parse_limits(const char *what, const mc2_ynode *l, mc2_policy *p, mc2_err *err)
{
    static const char *const keys[] = {"job_cpu_seconds", NULL};
    if (!l) return 0;
    if (l->kind != MC2_Y_MAP) return at(err, what, l, "'limits' must be a map (job_cpu_seconds)");
    if (known_keys(what, l, keys, err)) return -1;
    const mc2_ynode *c = mc2_yaml_get(l, "job_cpu_seconds");
    if (!c) return 0;
    char *end;
    unsigned long long v = scalar(c) ? strtoull(c->text, &end, 10) : 0;
    if (!scalar(c) || c->text[0] < '0' || c->text[0] > '9' || *end || v == 0 || v > (1ull << 31))
        return at(err, what, c, "job_cpu_seconds must be a whole number of seconds, 1 to 2^31");
    p->job_cpu_seconds = v;
    return 0;
}

static int cmp_snp_measurement(const void *a, const void *b)
{
    return memcmp(a, b, MC2_SNP_MEASUREMENT_LEN);
}

/* The "SNP1" part of the canonical encoding (sorting pins and measurements in place). */
static int encode_snp(mc2_policy *p, mc2_buf *b, mc2_err *err)
{
    mc2_appraisal *a = &p->appraisal;
    qsort(p->snp_arks, p->n_snp_arks, MC2_SHA256_LEN, cmp_key);
    qsort(a->snp_measurements, a->n_snp_measurements, MC2_SNP_MEASUREMENT_LEN, cmp_snp_measurement);
    if (mc2_buf_append(b, "SNP1", 4, err) || mc2_buf_put_u32(b, (uint32_t)p->n_snp_arks, err))
        return -1;
    for (size_t i = 0; i < p->n_snp_arks; i++)
        if (mc2_buf_append(b, p->snp_arks[i], MC2_SHA256_LEN, err)) return -1;
    if (mc2_buf_put_u32(b, (uint32_t)a->n_snp_measurements, err)) return -1;
    for (size_t i = 0; i < a->n_snp_measurements; i++)
        if (mc2_buf_append(b, a->snp_measurements[i], MC2_SNP_MEASUREMENT_LEN, err)) return -1;
    const mc2_snp_tcb *t = &a->snp_min_tcb;
    return mc2_buf_put_u8(b, t->bootloader, err) || mc2_buf_put_u8(b, t->tee, err) ||
                   mc2_buf_put_u8(b, t->snp, err) || mc2_buf_put_u8(b, t->microcode, err) ||
                   mc2_buf_put_u8(b, a->allow_migration_agent, err) ||
                   mc2_buf_put_u8(b, a->snp_max_vmpl, err)
               ? -1
               : 0;
}

/* The "TPM1" part of the canonical encoding (sorting the keys in place). */
static int encode_tpm(mc2_policy *p, mc2_buf *b, mc2_err *err)
{
    qsort(p->tpm_aks, p->n_tpm_aks, MC2_SHA256_LEN, cmp_key);
    if (mc2_buf_append(b, "TPM1", 4, err) || mc2_buf_put_u32(b, (uint32_t)p->n_tpm_aks, err))
        return -1;
    for (size_t i = 0; i < p->n_tpm_aks; i++)
        if (mc2_buf_append(b, p->tpm_aks[i], MC2_SHA256_LEN, err)) return -1;
    return mc2_buf_put_u8(b, p->tpm_pcr, err);
}

/* Computes p->hash over the canonical encoding (sorting parties and keys in place). */
static int compute_hash(mc2_policy *p, mc2_err *err)
{
    mc2_buf b = {0};
    int rc = -1;
    const mc2_appraisal *a = &p->appraisal;
    qsort(p->parties, p->nparties, sizeof *p->parties, cmp_party);
    qsort(p->sim_keys, p->n_sim_keys, 32, cmp_key);
    if (mc2_buf_append(&b, "MC2P", 4, err) || mc2_buf_put_u16(&b, 1, err) ||
        mc2_buf_put_lv(&b, p->consortium, strlen(p->consortium), err) ||
        mc2_buf_put_u32(&b, (uint32_t)a->n_measurements, err))
        goto out;
    for (size_t i = 0; i < a->n_measurements; i++)
        if (mc2_buf_append(&b, a->measurements[i], 32, err)) goto out;
    if (mc2_buf_put_u8(&b, a->has_signer, err) || mc2_buf_append(&b, a->signer, 32, err) ||
        mc2_buf_put_u16(&b, a->product_id, err) || mc2_buf_put_u16(&b, a->min_svn, err) ||
        mc2_buf_put_u8(&b, a->allow_simulation, err) || mc2_buf_put_u8(&b, a->allow_debug, err) ||
        mc2_buf_put_u32(&b, (uint32_t)p->n_sim_keys, err))
        goto out;
    for (size_t i = 0; i < p->n_sim_keys; i++)
        if (mc2_buf_append(&b, p->sim_keys[i], 32, err)) goto out;
    if (mc2_buf_put_u32(&b, (uint32_t)p->nparties, err)) goto out;
    for (size_t i = 0; i < p->nparties; i++) {
        const mc2_party *pt = &p->parties[i];
        if (mc2_buf_put_lv(&b, pt->name, strlen(pt->name), err) ||
            mc2_buf_append(&b, pt->pub, 32, err) || mc2_buf_put_u8(&b, pt->recipient, err))
            goto out;
    }
    qsort(p->obliv, p->n_obliv, sizeof p->obliv[0], cmp_obliv);
    if (p->n_obliv && mc2_buf_put_u32(&b, (uint32_t)p->n_obliv, err)) goto out;
    for (size_t i = 0; i < p->n_obliv; i++)
        if (mc2_buf_put_lv(&b, p->obliv[i], strlen(p->obliv[i]), err)) goto out;
    if (p->job_cpu_seconds &&
        (mc2_buf_append(&b, "LIM1", 4, err) || mc2_buf_put_u64(&b, p->job_cpu_seconds, err)))
        goto out;
    if (p->has_snp && encode_snp(p, &b, err)) goto out;
    if (p->has_tpm && encode_tpm(p, &b, err)) goto out;
    rc = mc2_sha256(b.data, b.len, p->hash, err);
out:
    mc2_buf_free(&b);
    return rc;
}

int mc2_policy_parse(const char *what, const char *text, size_t len, mc2_policy **out, mc2_err *err)
{
    static const char *const keys[] = {"consortium",       "enclave", "parties", "recipients",
                                       "oblivious_tables", "limits",  NULL};
    mc2_policy *p = mc2_calloc(1, sizeof *p);
    mc2_ynode *y = mc2_yaml_parse(what, text, len, err);
    if (!p || !y) {
        if (!p) mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        goto fail;
    }
    if (y->kind != MC2_Y_MAP) {
        at(err, what, y, "a consortium policy is a map (consortium, enclave, parties, ...)");
        goto fail;
    }
    if (known_keys(what, y, keys, err)) goto fail;
    const mc2_ynode *c = mc2_yaml_get(y, "consortium");
    if (!scalar(c) || c->len == 0 || c->len > 128) {
        at(err, what, c ? c : y, "the policy needs a 'consortium' name (1 to 128 characters)");
        goto fail;
    }
    p->consortium = mc2_strdup(c->text);
    if (!p->consortium) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        goto fail;
    }
    if (parse_enclave(what, mc2_yaml_get(y, "enclave"), p, err) ||
        parse_parties(what, mc2_yaml_get(y, "parties"), p, err))
        goto fail;
    const mc2_ynode *r = mc2_yaml_get(y, "recipients");
    if (r) {
        if (r->kind != MC2_Y_SEQ) {
            at(err, what, r, "'recipients' must be a list of party names");
            goto fail;
        }
        for (size_t i = 0; i < r->nkids; i++) {
            mc2_party *pt = NULL;
            for (size_t j = 0; scalar(r->kids[i]) && j < p->nparties; j++)
                if (strcmp(p->parties[j].name, r->kids[i]->text) == 0) pt = &p->parties[j];
            if (!pt) {
                char msg[200];
                snprintf(msg, sizeof msg, "recipient '%.64s' is not one of the parties",
                         scalar(r->kids[i]) ? r->kids[i]->text : "?");
                at(err, what, r->kids[i], msg);
                goto fail;
            }
            pt->recipient = true;
        }
    }
    if (parse_obliv(what, mc2_yaml_get(y, "oblivious_tables"), p, err) ||
        parse_limits(what, mc2_yaml_get(y, "limits"), p, err) || compute_hash(p, err))
        goto fail;
    mc2_yaml_free(y);
    *out = p;
    return 0;
fail:
    mc2_yaml_free(y);
    mc2_policy_free(p);
    return -1;
}

int mc2_policy_load(const char *path, mc2_policy **out, mc2_err *err)
{
    mc2_buf b = {0};
    if (mc2_file_read_all(path, 1 << 20, &b, err)) {
        if (err && err->code == MC2_E_NOTFOUND)
            mc2_err_set(err, MC2_E_NOTFOUND,
                        "no consortium policy at '%s': create one with `mc2 policy init` or "
                        "pass --policy FILE",
                        path);
        return -1;
    }
    int rc = mc2_policy_parse(path, (const char *)b.data, b.len, out, err);
    mc2_buf_free(&b);
    return rc;
}

void mc2_policy_free(mc2_policy *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->nparties; i++) mc2_free(p->parties[i].cert_pem);
    mc2_free(p->parties);
    mc2_free(p->consortium);
    mc2_free(p);
}

const mc2_party *mc2_policy_party(const mc2_policy *p, const char *name)
{
    for (size_t i = 0; i < p->nparties; i++)
        if (strcmp(p->parties[i].name, name) == 0) return &p->parties[i];
    return NULL;
}

const mc2_party *mc2_policy_party_by_key(const mc2_policy *p,
                                         const uint8_t pub[MC2_ED25519_PUB_LEN])
{
    for (size_t i = 0; i < p->nparties; i++)
        if (memcmp(p->parties[i].pub, pub, MC2_ED25519_PUB_LEN) == 0) return &p->parties[i];
    return NULL;
}

mc2_verifier mc2_policy_verifier(const mc2_policy *p)
{
    mc2_verifier v = {0};
    v.sim.keys = (const uint8_t(*)[MC2_ED25519_PUB_LEN])p->sim_keys;
    v.sim.n_keys = p->n_sim_keys;
    v.snp.ark_pins = (const uint8_t(*)[MC2_SHA256_LEN])p->snp_arks;
    v.snp.n_ark_pins = p->n_snp_arks;
    v.tpm.ak_ids = (const uint8_t(*)[MC2_SHA256_LEN])p->tpm_aks;
    v.tpm.n_ak_ids = p->n_tpm_aks;
    v.tpm.pcr = p->has_tpm ? p->tpm_pcr : MC2_TPM_DEFAULT_PCR;
    return v;
}
