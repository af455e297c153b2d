/* model_keys.c - the keys of models this party received, kept in $MC2_HOME/models (see
 * client/session.h, "model keys"), and the job recipients' default. Shared by the CLI
 * (cmd_gbdt.c, cmd_jobs.c) and the library (src/api). */
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/bytes.h"
#include "base/file.h"
#include "base/hex.h"
#include "client/session.h"
#include "conn/conn.h"
#include "gbdt/gbdt.h"
#include "table/blob.h"

#define MODEL_FILE_MAX (1ull << 31)
#define RESULTS_CAP    (MC2_JOB_MAX_INPUTS + 2) /* the most results a job has */

int cli_add_recipients(mc2_job *j, const mc2_policy *pol, const char *const *list, size_t n,
                       mc2_err *err)
{
    for (size_t i = 0; i < n; i++) {
        if (j->nrecipients >= MC2_JOB_MAX_RECIPIENTS || mc2_name_check(list[i], err))
            return mc2_err_set(err, MC2_E_USAGE, "bad recipient '%.80s'", list[i]);
        snprintf(j->recipients[j->nrecipients++], 65, "%s", list[i]);
    }
    for (size_t i = 0; n == 0 && i < pol->nparties && j->nrecipients < MC2_JOB_MAX_RECIPIENTS; i++)
        if (pol->parties[i].recipient)
            snprintf(j->recipients[j->nrecipients++], 65, "%s", pol->parties[i].name);
    if (j->nrecipients == 0)
        return mc2_err_set(err, MC2_E_AUTH,
                           "the consortium policy names no result recipient: give --recipient");
    return 0;
}

static char *key_path(const char *home, const char *object)
{
    char name[MC2_OBJECT_NAME_MAX + 8];
    snprintf(name, sizeof name, "%s.key", object);
    for (char *p = name; *p; p++)
        if (*p == '/') *p = '_';
    char *dir = mc2_path_join(home, "models");
    char *p = dir ? mc2_path_join(dir, name) : NULL;
    mc2_free(dir);
    return p;
}

int cli_model_ref_save(const char *home, const cli_model_ref *r, mc2_err *err)
{
    char *dir = mc2_path_join(home, "models"), *path = key_path(home, r->object);
    char h1[65], h2[65], k[65];
    mc2_buf b = {.secret = 1};
    int rc = -1;
    if (!dir || !path) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        goto out;
    }
    if (access(dir, F_OK) != 0 && mc2_mkdir(dir, 0700, err)) goto out;
    mc2_hex_encode(r->sealed_sha, 32, h1);
    mc2_hex_encode(r->model_sha, 32, h2);
    mc2_hex_encode(r->key, 32, k);
    rc = mc2_buf_printf(&b, err, "object %s\nsealed_sha256 %s\nmodel_sha256 %s\nkey %s\n",
                        r->object, h1, h2, k) ||
                 mc2_file_write_atomic(path, b.data, b.len, 0600, 0, err)
             ? -1
             : 0;
    mc2_wipe(k, sizeof k);
out:
    mc2_buf_free(&b);
    mc2_free(dir);
    mc2_free(path);
    return rc;
}

static int ref_load(const char *path, cli_model_ref *r, mc2_err *err)
{
    mc2_buf b = {.secret = 1};
    char obj[128], h1[80], h2[80], k[80];
    int rc = -1;
    if (mc2_file_read_all(path, 4096, &b, err) || mc2_buf_append(&b, "", 1, err)) goto out;
    if (sscanf((const char *)b.data,
               "object %127s\nsealed_sha256 %79s\nmodel_sha256 %79s\nkey %79s", obj, h1, h2,
               k) != 4 ||
        strlen(obj) > MC2_OBJECT_NAME_MAX || strlen(h1) != 64 || strlen(h2) != 64 ||
        strlen(k) != 64 || mc2_hex_decode(h1, r->sealed_sha, 32) ||
        mc2_hex_decode(h2, r->model_sha, 32) || mc2_hex_decode(k, r->key, 32)) {
        mc2_err_set(err, MC2_E_INPUT, "'%s' is not a model key file written by `mc2 model get`",
                    path);
        goto out;
    }
    strcpy(r->object, obj);
    rc = 0;
out:
    mc2_wipe(k, sizeof k);
    mc2_buf_free(&b);
    return rc;
}

/* The model named by spec: "job-N" or "N" (the model of train job N), its object name, or a
 * model file written by `mc2 model get` (found by its hash) - among the kept keys. */
int cli_model_ref_find(const char *home, const char *spec, cli_model_ref *r, mc2_err *err)
{
    char prefix[MC2_OBJECT_NAME_MAX + 1] = "";
    uint8_t h[32];
    const char *num = strncmp(spec, "job-", 4) == 0 ? spec + 4 : spec;
    bool by_job = *num && strspn(num, "0123456789") == strlen(num) && num[0] != '0';
    if (by_job) {
        snprintf(prefix, sizeof prefix, "results/job-%s-", num);
    } else if (strncmp(spec, "results/", 8) != 0) {
        /* A model file: match its hash. */
        mc2_buf m = {0};
        int bad =
            mc2_file_read_all(spec, MODEL_FILE_MAX, &m, err) || mc2_sha256(m.data, m.len, h, err);
        mc2_buf_free(&m);
        if (bad) return -1;
    }
    char *dir = mc2_path_join(home, "models");
    DIR *d = dir ? opendir(dir) : NULL;
    struct dirent *e;
    int found = 0;
    cli_model_ref cand;
    while (d && (e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".key") != 0) continue;
        char *p = mc2_path_join(dir, e->d_name);
        mc2_err tmp;
        if (p && ref_load(p, &cand, &tmp) == 0 &&
            (by_job
                 ? strncmp(cand.object, prefix, strlen(prefix)) == 0 && strlen(cand.object) > 11 &&
                       strcmp(cand.object + strlen(cand.object) - 11, "-model.mc2m") == 0
             : strncmp(spec, "results/", 8) == 0 ? strcmp(cand.object, spec) == 0
                                                 : memcmp(cand.model_sha, h, 32) == 0)) {
            if (found++ == 0) *r = cand;
        }
        mc2_free(p);
    }
    mc2_wipe(&cand, sizeof cand);
    if (d) closedir(d);
    mc2_free(dir);
    if (found == 1) return 0;
    mc2_wipe(r, sizeof *r);
    if (found > 1 && by_job)
        return mc2_err_set(err, MC2_E_USAGE,
                           "several kept models come from job %s (of different service runs): "
                           "give --model FILE (the file `mc2 model get` wrote)",
                           num);
    if (found > 1) /* the same model bytes from several trainings */
        return mc2_err_set(err, MC2_E_USAGE,
                           "several kept models have the contents of %s (the same model trained "
                           "more than once): give --model with the model's object name "
                           "(results/job-...-model.mc2m, the `object` line of its key in "
                           "%s/models)",
                           spec, home);
    return mc2_err_set(err, MC2_E_NOTFOUND,
                       "no kept key for model '%s' in this party's home: a recipient of the "
                       "train job fetches it first with `mc2 model get --job N --out FILE`",
                       spec);
}

int cli_model_grant_for_job(cli_session *cs, uint64_t id, const char *text, size_t len,
                            const mc2_job *j, mc2_err *err)
{
    const char *object = mc2_job_param(j, "model"), *hex = mc2_job_param(j, "model_sha256");
    cli_model_ref r;
    uint8_t want[32];
    int rc = -1;
    memset(&r, 0, sizeof r);
    if (!object || !hex || strlen(hex) != 64 || mc2_hex_decode(hex, want, 32)) {
        mc2_err_set(err, MC2_E_INPUT,
                    "job %llu names you as model owner but no model (parameters 'model' and "
                    "'model_sha256'): refusing",
                    (unsigned long long)id);
        goto out;
    }
    if (strncmp(object, "results/", 8) != 0) {
        mc2_err_set(err, MC2_E_INPUT, "job %llu's model '%.100s' is not a model object name",
                    (unsigned long long)id, object);
        goto out;
    }
    if (cli_model_ref_find(cs->id.home, object, &r, err)) goto out;
    if (memcmp(r.sealed_sha, want, 32) != 0) {
        mc2_err_set(err, MC2_E_AUTH,
                    "refusing: job %llu names another version of model '%s' (SHA-256 %.16s...) "
                    "than the one you hold",
                    (unsigned long long)id, object, hex);
        goto out;
    }
    rc = mc2_esession_grant_object(&cs->es, &cs->id, id, text, len, r.object, r.key, err);
out:
    mc2_wipe(&r, sizeof r);
    return rc;
}

/* The "-model.mc2m" object among job id's results (its name and key into r), else NOTFOUND. */
static int model_result(cli_session *cs, uint64_t id, cli_model_ref *r, mc2_err *err)
{
    mc2_result_ref refs[RESULTS_CAP];
    size_t n = 0;
    memset(refs, 0, sizeof refs);
    int rc = mc2_esession_results(&cs->es, id, refs, RESULTS_CAP, &n, err);
    for (size_t i = 0; rc == 0 && i < n && !r->object[0]; i++) {
        size_t l = strlen(refs[i].name);
        if (l > 11 && strcmp(refs[i].name + l - 11, "-model.mc2m") == 0 &&
            l <= MC2_OBJECT_NAME_MAX) {
            strcpy(r->object, refs[i].name);
            memcpy(r->key, refs[i].key, MC2_KEY_LEN);
        }
    }
    mc2_wipe(refs, sizeof refs);
    if (rc == 0 && !r->object[0])
        rc = mc2_err_set(err, MC2_E_NOTFOUND, "job %llu has no model result (is it a train job?)",
                         (unsigned long long)id);
    return rc;
}

int cli_model_fetch(cli_session *cs, uint64_t id, const char *out_path, cli_model_ref *r,
                    struct mc2_gbdt_model **m, mc2_err *err)
{
    mc2_buf sealed = {0}, plain = {.secret = 1};
    memset(r, 0, sizeof *r);
    *m = NULL;
    int rc = -1;
    if (model_result(cs, id, r, err) || mc2_host_download(cs->service, r->object, &sealed, err) ||
        mc2_sha256(sealed.data, sealed.len, r->sealed_sha, err) ||
        mc2_blob_open(r->key, MC2_BLOB_CTX_GBDT_MODEL, r->object, sealed.data, sealed.len, &plain,
                      err) ||
        mc2_gbdt_model_load(plain.data, plain.len, m, err) ||
        mc2_sha256(plain.data, plain.len, r->model_sha, err) ||
        mc2_file_write_atomic(out_path, plain.data, plain.len, 0600, 0, err) ||
        cli_model_ref_save(cs->id.home, r, err))
        goto out;
    rc = 0;
out:
    if (rc) {
        mc2_gbdt_model_free(*m);
        *m = NULL;
        mc2_wipe(r, sizeof *r);
    }
    mc2_buf_free(&sealed);
    mc2_buf_free(&plain);
    return rc;
}
