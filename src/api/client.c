/* client.c - the public client API (mc2/client.h) over the CLI's session code
 * (client/session.h: identity, policy, attested session, catalog, listing, model keys) and
 * the connection layer (conn/conn.h). It does what the `mc2` commands do, without printing. */
#include "mc2/client.h"

#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/bytes.h"
#include "base/file.h"
#include "base/hex.h"
#include "client/fl_client.h"
#include "client/session.h"
#include "client/sql_inputs.h"
#include "conn/conn.h"
#include "gbdt/gbdt.h"
#include "table/blob.h"
#include "table/textio.h"
#include "table/tsrc.h"
#include "wire/proto.h"

#define RESULTS_CAP    (MC2_JOB_MAX_INPUTS + 2) /* the most results a job has */
#define MODEL_FILE_MAX (1ull << 31)

struct mc2_client {
    cli_session cs;
};

static int nomem(mc2_err *err)
{
    return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
}

/* Forgets the catalog and the listing the session code cached (cli_catalog, cli_listing_get):
 * a client lives across uploads, its own and other parties', so each call reads them anew. */
static void refresh(cli_session *cs)
{
    mc2_catalog_free(&cs->cat);
    mc2_free(cs->listing.t);
    memset(&cs->cat, 0, sizeof cs->cat);
    memset(&cs->listing, 0, sizeof cs->listing);
    cs->have_cat = cs->have_listing = 0;
}

/* Moves b's bytes (NUL-terminated) into a malloc'd string *out; b is left empty. */
static int take_text(mc2_buf *b, char **out, mc2_err *err)
{
    if (mc2_buf_append(b, "", 1, err)) return -1;
    *out = (char *)b->data;
    memset(b, 0, sizeof *b);
    return 0;
}

int mc2_client_open(const char *home, const char *service, const char *policy, mc2_client **out,
                    mc2_err *err)
{
    *out = NULL;
    mc2_client *c = mc2_calloc(1, sizeof *c);
    if (!c) return nomem(err);
    if (cli_party_load(&c->cs, home, service, policy, err)) {
        mc2_free(c);
        return -1;
    }
    *out = c;
    return 0;
}

void mc2_client_close(mc2_client *c)
{
    if (!c) return;
    cli_session_close(&c->cs);
    mc2_free(c);
}

void mc2_client_free(void *p)
{
    if (p) mc2_free_wipe(p, malloc_usable_size(p)); /* results and models are plaintext */
}

const char *mc2_client_party(const mc2_client *c)
{
    return c->cs.id.name;
}

const char *mc2_client_service(const mc2_client *c)
{
    return c->cs.service;
}

const char *mc2_client_consortium(const mc2_client *c)
{
    return c->cs.policy->consortium;
}

int mc2_client_attest(mc2_client *c, mc2_client_attestation *info, mc2_err *err)
{
    cli_session *cs = &c->cs;
    if (!cs->have_es) {
        if (mc2_esession_open(cs->service, &cs->id, cs->policy, &cs->es, err)) return -1;
        cs->have_es = 1;
    }
    if (info) {
        memset(info, 0, sizeof *info);
        info->simulation = cs->es.claims.simulation;
        mc2_hex_encode(cs->es.claims.measurement, sizeof cs->es.claims.measurement,
                       info->measurement);
        mc2_hex_encode(cs->es.instance, sizeof cs->es.instance, info->instance);
    }
    return 0;
}

/* ---- upload ------------------------------------------------------------------------------- */

static int put_entry(mc2_catalog *c, void *ctx, mc2_err *err)
{
    return mc2_catalog_put(c, ctx, err);
}

/* The input: path, or data[0..len) in an anonymous memory file (never on disk), named by a
 * /proc/self/fd path in buf. *fd: that file (close it), else -1. */
static const char *upload_source(const char *path, const void *data, size_t len, int *fd, char *buf,
                                 size_t buflen, mc2_err *err)
{
    *fd = -1;
    if (path) return path;
    if (!data && len) {
        mc2_err_set(err, MC2_E_USAGE, "no data to upload: give a path or the CSV text");
        return NULL;
    }
    *fd = memfd_create("mc2-upload", MFD_CLOEXEC);
    if (*fd < 0 || mc2_write_all(*fd, data, len, err)) {
        if (*fd < 0) mc2_err_set(err, MC2_E_IO, "cannot create an in-memory file for the upload");
        return NULL;
    }
    snprintf(buf, buflen, "/proc/self/fd/%d", *fd);
    return buf;
}

/* An error about the in-memory data names it "the data", not its /proc/self/fd path. */
static void name_memory_data(mc2_err *err, const char *path)
{
    char *at = strstr(err->msg, path);
    if (!at) return;
    char rest[MC2_ERR_MSG_MAX];
    snprintf(rest, sizeof rest, "%s", at + strlen(path));
    snprintf(at, sizeof err->msg - (size_t)(at - err->msg), "the data%s", rest);
}

/* The catalog step of an upload: locks the name, refuses an existing table unless replace,
 * and picks the next version into eo. */
static int upload_prepare(cli_session *cs, const char *name, int replace, mc2_catalog *cat,
                          int *lock, mc2_encrypt_opts *eo, mc2_err *err)
{
    if (mc2_catalog_lock_table(cs->id.home, cs->policy->hash, name, NULL, NULL, lock, err) ||
        mc2_catalog_load(cs->id.home, cat, err))
        return -1;
    if (!replace && mc2_catalog_latest(cat, cs->policy->hash, name))
        return mc2_err_set(err, MC2_E_EXISTS,
                           "you already uploaded a table '%s' in this consortium: upload with "
                           "replace to put a new version in its place, or choose another name",
                           name);
    return mc2_catalog_next_version(cat, cs->policy->hash, name, &eo->table_version, err);
}

int mc2_client_upload(mc2_client *c, const char *name, const char *schema_yaml, const char *path,
                      const void *data, size_t len, int tbl, int replace, uint64_t *rows,
                      uint64_t *version, mc2_err *err)
{
    cli_session *cs = &c->cs;
    char srcbuf[64];
    int lock = -1, memfd = -1, rc = -1;
    mc2_schema *s = NULL;
    mc2_catalog cat = {0};
    mc2_catalog_entry e;
    mc2_encrypt_opts eo = {.format = tbl ? MC2_FMT_TBL : MC2_FMT_CSV};
    mc2_table_stats st = {0};
    char tname[64];
    snprintf(tname, sizeof tname, ".upload.%d.%p.mc2t", (int)getpid(), (void *)c);
    char *tmp = mc2_path_join(cs->id.home, tname);
    const char *in = NULL;
    memset(&e, 0, sizeof e);
    if (!tmp) return nomem(err);
    if (mc2_table_name_check(name, err) ||
        mc2_schema_parse("schema", schema_yaml, strlen(schema_yaml), &s, err) ||
        !(in = upload_source(path, data, len, &memfd, srcbuf, sizeof srcbuf, err)) ||
        upload_prepare(cs, name, replace, &cat, &lock, &eo, err) ||
        mc2_table_encrypt_file(in, s, cs->id.data_key, tmp, &eo, &st, err)) {
        if (memfd >= 0) name_memory_data(err, srcbuf);
        goto out;
    }
    memcpy(e.consortium, cs->policy->hash, MC2_SHA256_LEN);
    snprintf(e.name, sizeof e.name, "%s", name);
    if (cli_describe_table(tmp, cs->id.data_key, &e, err)) goto out;
    e.time = (uint64_t)time(NULL);
    e.state = MC2_CAT_PENDING; /* as `mc2 upload`: `mc2 tables --adopt` recovers a crash */
    if (mc2_catalog_update(cs->id.home, put_entry, &e, err) ||
        mc2_host_upload(cs->service, &cs->id, name, tmp, NULL, NULL, err))
        goto out;
    e.state = MC2_CAT_UPLOADED;
    e.time = (uint64_t)time(NULL);
    if (mc2_catalog_update(cs->id.home, put_entry, &e, err)) {
        mc2_err_prefix(err,
                       "the service stored %s/%s version %llu, but your catalog could not "
                       "record it (`mc2 tables --adopt %s` does, once fixed): ",
                       cs->id.name, name, (unsigned long long)e.version, name);
        goto out;
    }
    if (rows) *rows = st.rows;
    if (version) *version = e.version;
    rc = 0;
out:
    mc2_catalog_unlock(lock);
    if (memfd >= 0) close(memfd);
    unlink(tmp);
    mc2_free(tmp);
    mc2_catalog_free(&cat);
    mc2_schema_free(s);
    return rc;
}

int mc2_client_tables(mc2_client *c, mc2_client_table **out, size_t *n, mc2_err *err)
{
    const cli_listing *l;
    *out = NULL;
    *n = 0;
    refresh(&c->cs);
    if (cli_listing_get(&c->cs, &l, err)) return -1;
    mc2_client_table *t = mc2_calloc(l->n ? l->n : 1, sizeof *t);
    if (!t) return nomem(err);
    for (size_t i = 0; i < l->n; i++) {
        snprintf(t[i].owner, sizeof t[i].owner, "%s", l->t[i].owner);
        snprintf(t[i].name, sizeof t[i].name, "%s", l->t[i].name);
        t[i].version = l->t[i].version;
        t[i].rows = l->t[i].rows;
        t[i].blocks = l->t[i].blocks;
        t[i].bytes = l->t[i].bytes;
    }
    *out = t;
    *n = l->n;
    return 0;
}

/* ---- jobs --------------------------------------------------------------------------------- */

/* Adds input "[NAME=]OWNER/TABLE" to j (NAME only where names != NULL: appended to it,
 * comma-separated, with *named set). */
static int add_input(mc2_job *j, const char *spec, mc2_buf *names, int *named, mc2_err *err)
{
    const char *eq = names ? strchr(spec, '=') : NULL, *ref = eq ? eq + 1 : spec;
    const char *slash = strchr(ref, '/');
    if (j->ninputs >= MC2_JOB_MAX_INPUTS)
        return mc2_err_set(err, MC2_E_LIMIT, "at most %d input tables", MC2_JOB_MAX_INPUTS);
    mc2_job_input *in = &j->inputs[j->ninputs];
    if (!slash || slash == ref || (size_t)(slash - ref) >= sizeof in->owner || !slash[1] ||
        strlen(slash + 1) >= sizeof in->table || (eq && eq == spec) ||
        (eq && (size_t)(eq - spec) > MC2_TABLE_NAME_MAX))
        return mc2_err_set(err, MC2_E_USAGE, "an input is written %sOWNER/TABLE, not '%.100s'",
                           names ? "[NAME=]" : "", spec);
    memcpy(in->owner, ref, (size_t)(slash - ref));
    in->owner[slash - ref] = '\0';
    strcpy(in->table, slash + 1);
    if (mc2_name_check(in->owner, err) || mc2_table_name_check(in->table, err)) return -1;
    j->ninputs++;
    if (!names) return 0;
    *named |= eq != NULL;
    return mc2_buf_printf(names, err, "%s%.*s", j->ninputs > 1 ? "," : "",
                          eq ? (int)(eq - spec) : (int)strlen(in->table), eq ? spec : in->table);
}

/* A SQL job's inputs: the given ones (every table the query reads must be among their SQL
 * names), else the query's own tables as this party's (as `mc2 sql`). */
static int sql_inputs(cli_session *cs, const mc2_client_job_spec *sp, const char *query, mc2_job *j,
                      mc2_err *err)
{
    cli_sql_refs refs = {0};
    mc2_buf names = {0};
    int named = 0, rc = -1;
    if (cli_sql_refs_parse(NULL, query, &refs, err)) goto out;
    if (sp->ninputs == 0) {
        rc = cli_sql_own_inputs(cs, &refs, j, err);
        goto out;
    }
    for (size_t i = 0; i < sp->ninputs; i++)
        if (add_input(j, sp->inputs[i], &names, &named, err)) goto out;
    const char *sqln[MC2_JOB_MAX_INPUTS];
    if (mc2_buf_append(&names, "", 1, err) ||
        (named && mc2_job_add_param(j, "names", (const char *)names.data, err)))
        goto out;
    char *p = (char *)names.data;
    for (size_t i = 0; i < j->ninputs; i++) {
        sqln[i] = p;
        p = strchr(p, ',');
        if (p) *p++ = '\0';
    }
    if (cli_sql_check_named(&refs, sqln, j->ninputs, err)) goto out;
    for (size_t i = 0; i < j->ninputs; i++)
        if (cli_resolve_input(cs, &j->inputs[i], err)) goto out;
    rc = 0;
out:
    mc2_buf_free(&names);
    cli_sql_refs_free(&refs);
    return rc;
}

/* Recipients for j: the given ones; else this party for SQL (if it may receive), else every
 * recipient of the policy (cli_add_recipients). */
static int job_recipients(cli_session *cs, const mc2_client_job_spec *sp, mc2_job *j, mc2_err *err)
{
    if (sp->nrecipients == 0 && strcmp(j->kind, "sql") == 0) {
        const mc2_party *me = mc2_policy_party(cs->policy, cs->id.name);
        if (!me || !me->recipient)
            return mc2_err_set(err, MC2_E_USAGE,
                               "you may not receive results under this policy: name who may "
                               "as a recipient");
        snprintf(j->recipients[j->nrecipients++], 65, "%s", cs->id.name);
        return 0;
    }
    return cli_add_recipients(j, cs->policy, sp->recipients, sp->nrecipients, err);
}

static bool owns_any(const mc2_job *j, const char *me)
{
    for (size_t i = 0; i < j->ninputs; i++)
        if (strcmp(j->inputs[i].owner, me) == 0) return true;
    return false;
}

/* Builds job j from the spec (kind, params, inputs resolved, recipients). */
static int job_build(cli_session *cs, const mc2_client_job_spec *sp, mc2_job *j, mc2_err *err)
{
    if (!sp->kind || !*sp->kind || strlen(sp->kind) >= sizeof j->kind)
        return mc2_err_set(err, MC2_E_USAGE, "a job needs a kind (sql, train, predict, ...)");
    snprintf(j->kind, sizeof j->kind, "%s", sp->kind);
    for (size_t i = 0; i < sp->nparams; i++)
        if (mc2_job_add_param(j, sp->param_keys[i], sp->param_values[i], err)) return -1;
    if (strcmp(j->kind, "sql") == 0) {
        const char *q = mc2_job_param(j, "query");
        if (!q) return mc2_err_set(err, MC2_E_USAGE, "a sql job needs the parameter 'query'");
        if (sql_inputs(cs, sp, q, j, err)) return -1;
    } else {
        for (size_t i = 0; i < sp->ninputs; i++)
            if (add_input(j, sp->inputs[i], NULL, NULL, err) ||
                cli_resolve_input(cs, &j->inputs[j->ninputs - 1], err))
                return -1;
    }
    return job_recipients(cs, sp, j, err);
}

int mc2_client_submit(mc2_client *c, const mc2_client_job_spec *spec, uint64_t *id, char **text,
                      mc2_err *err)
{
    cli_session *cs = &c->cs;
    mc2_job j;
    char *t = NULL;
    int rc = -1;
    memset(&j, 0, sizeof j);
    if (text) *text = NULL;
    refresh(cs);
    if (job_build(cs, spec, &j, err) || mc2_client_attest(c, NULL, err) ||
        (owns_any(&j, cs->id.name) && mc2_esession_grant(&cs->es, &cs->id, cs->policy, err)) ||
        mc2_job_submit(&cs->es, &cs->id, cs->policy, &j, id, &t, err))
        goto out;
    if (text) {
        *text = t;
        t = NULL;
    }
    rc = 0;
out:
    mc2_free(t);
    mc2_job_free(&j);
    return rc;
}

/* Checks job j (text[0..len)) before this party approves it: this policy and instance, every
 * own input its latest upload; *owner, *model_owner: what this party is to it. */
static int approve_check(cli_session *cs, uint64_t id, const mc2_job *j, bool *owner,
                         bool *model_owner, mc2_err *err)
{
    if (memcmp(j->policy_hash, cs->policy->hash, 32) != 0 ||
        memcmp(j->instance, cs->es.instance, 32) != 0)
        return mc2_err_set(err, MC2_E_AUTH,
                           "refusing: the job names another policy or enclave instance");
    const char *mo = mc2_job_param(j, "model_owner");
    *owner = owns_any(j, cs->id.name);
    *model_owner = mo && strcmp(mo, cs->id.name) == 0;
    if (!*owner && !*model_owner)
        return mc2_err_set(err, MC2_E_USAGE,
                           "you own none of job %llu's inputs and are not its model owner: "
                           "nothing to approve",
                           (unsigned long long)id);
    for (size_t i = 0; i < j->ninputs; i++)
        if (strcmp(j->inputs[i].owner, cs->id.name) == 0 &&
            cli_check_own_input(cs, &j->inputs[i], err))
            return -1;
    return 0;
}

int mc2_client_approve(mc2_client *c, uint64_t id, mc2_err *err)
{
    cli_session *cs = &c->cs;
    mc2_buf text = {0}, state = {0}, req = {0}, reply = {0};
    mc2_job j;
    bool owner = false, model_owner = false;
    uint8_t sig[64];
    int rc = -1;
    memset(&j, 0, sizeof j);
    refresh(cs);
    if (mc2_client_attest(c, NULL, err) || mc2_job_state(&cs->es, id, &text, &state, err) ||
        mc2_job_parse((const char *)text.data, text.len, &j, err) ||
        approve_check(cs, id, &j, &owner, &model_owner, err) ||
        mc2_job_sign(cs->id.sec, (const char *)text.data, text.len, sig, err) ||
        (owner && mc2_esession_grant(&cs->es, &cs->id, cs->policy, err)) ||
        (model_owner &&
         cli_model_grant_for_job(cs, id, (const char *)text.data, text.len, &j, err)) ||
        mc2_buf_put_u64(&req, id, err) || mc2_buf_append(&req, sig, 64, err) ||
        mc2_esession_call(&cs->es, EAPI_APPROVE, req.data, req.len, &reply, err))
        goto out;
    rc = 0;
out:
    mc2_job_free(&j);
    mc2_buf_free(&text);
    mc2_buf_free(&state);
    mc2_buf_free(&req);
    mc2_buf_free(&reply);
    return rc;
}

int mc2_client_jobs(mc2_client *c, char **text, mc2_err *err)
{
    mc2_frame reply = {0};
    mc2_buf b = {0};
    *text = NULL;
    int fd = mc2_dial(c->cs.service, err), rc = -1;
    if (fd >= 0 && mc2_host_call(fd, HAPI_JOBS, NULL, 0, &reply, NULL, NULL, err) == 0 &&
        mc2_buf_append(&b, reply.payload.data, reply.payload.len, err) == 0)
        rc = take_text(&b, text, err);
    if (fd >= 0) close(fd);
    mc2_frame_free(&reply);
    mc2_buf_free(&b);
    return rc;
}

int mc2_client_job(mc2_client *c, uint64_t id, char **text, char **state, mc2_err *err)
{
    mc2_buf t = {0}, s = {0};
    int rc = -1;
    if (text) *text = NULL;
    *state = NULL;
    if (mc2_client_attest(c, NULL, err) == 0 && mc2_job_state(&c->cs.es, id, &t, &s, err) == 0 &&
        (!text || take_text(&t, text, err) == 0))
        rc = take_text(&s, state, err);
    if (rc && text) {
        mc2_free(*text);
        *text = NULL;
    }
    mc2_buf_free(&t);
    mc2_buf_free(&s);
    return rc;
}

int mc2_client_wait(mc2_client *c, uint64_t id, unsigned timeout_ms, char **state, mc2_err *err)
{
    mc2_buf s = {0};
    int rc = -1;
    *state = NULL;
    if (mc2_client_attest(c, NULL, err) == 0 &&
        mc2_job_wait(&c->cs.es, id, true, timeout_ms, NULL, &s, err) == 0)
        rc = take_text(&s, state, err);
    mc2_buf_free(&s);
    return rc;
}

/* ---- results ------------------------------------------------------------------------------ */

/* The job's first table result (an .mc2t object) that this party may read, once the job
 * ended (waiting up to an hour while it is queued or running); fails with the job's reason if
 * it failed, and says what it waits for if it waits for approvals. *ref is wiped by the
 * caller. */
static int table_result(mc2_client *c, uint64_t id, mc2_result_ref *ref, mc2_err *err)
{
    mc2_result_ref refs[RESULTS_CAP];
    mc2_buf state = {0};
    size_t n = 0;
    int rc = -1;
    memset(refs, 0, sizeof refs);
    if (mc2_client_attest(c, NULL, err) ||
        mc2_job_wait(&c->cs.es, id, false, 3600u * 1000u, NULL, &state, err))
        goto out;
    const char *st = (const char *)state.data;
    if (strncmp(st, "failed", 6) == 0) {
        mc2_err_set(err, MC2_E_INPUT, "job %llu %s", (unsigned long long)id, st);
    } else if (strncmp(st, "done", 4) != 0) {
        mc2_err_set(err, MC2_E_NOTFOUND, "job %llu has no result yet: it is %s",
                    (unsigned long long)id, st);
    } else if (mc2_esession_results(&c->cs.es, id, refs, RESULTS_CAP, &n, err) == 0) {
        for (size_t i = 0; i < n && rc; i++) {
            size_t l = strlen(refs[i].name);
            if (l > 5 && strcmp(refs[i].name + l - 5, ".mc2t") == 0) {
                *ref = refs[i];
                rc = 0;
            }
        }
        if (rc)
            mc2_err_set(err, MC2_E_NOTFOUND, "job %llu has no table result for you",
                        (unsigned long long)id);
    }
out:
    mc2_buf_free(&state);
    mc2_wipe(refs, sizeof refs);
    return rc;
}

/* Decodes the result table src as CSV into out (after its header line): every block is
 * authenticated as it is read; the caller keeps nothing unless all of them pass. */
static int result_rows(mc2_tsrc *src, mc2_buf *out, mc2_err *err)
{
    const mc2_schema *s = mc2_tsrc_header(src)->schema;
    size_t nc = s->ncols;
    unsigned *cols = mc2_calloc(nc ? nc : 1, sizeof *cols);
    mc2_tscan *sc = NULL;
    mc2_batch *b = NULL;
    uint64_t index;
    int rc = -1, got = -1;
    if (!cols) return nomem(err);
    for (size_t i = 0; i < nc; i++) cols[i] = (unsigned)i;
    if (mc2_tscan_open(src, cols, nc, 2, NULL, NULL, &sc, err) == 0 &&
        (b = mc2_batch_new(s, 1024, err)) != NULL)
        while ((got = mc2_tscan_next(sc, b, &index, err)) == 1)
            if (mc2_text_write_batch(MC2_FMT_CSV, b, out, err)) {
                got = -1;
                break;
            }
    rc = got == 0 ? 0 : -1;
    mc2_batch_free(b);
    mc2_tscan_free(sc);
    mc2_free(cols);
    return rc;
}

int mc2_client_result_csv(mc2_client *c, uint64_t id, char **csv, size_t *len, char **schema_yaml,
                          mc2_err *err)
{
    mc2_result_ref ref;
    mc2_tio io;
    mc2_tsrc *src = NULL;
    mc2_buf out = {.secret = 1};
    int fd = -1, rc = -1;
    *csv = NULL;
    *len = 0;
    if (schema_yaml) *schema_yaml = NULL;
    memset(&ref, 0, sizeof ref);
    if (table_result(c, id, &ref, err) ||
        mc2_host_download_fd(c->cs.service, ref.name, c->cs.id.home, NULL, NULL, &fd, NULL, err) ||
        mc2_tio_fd(fd, &io, err) || mc2_tsrc_open(&io, ref.key, 256u << 20, &src, err) ||
        mc2_text_write_header(mc2_tsrc_header(src)->schema, &out, err) ||
        result_rows(src, &out, err) ||
        (schema_yaml && mc2_schema_to_yaml(mc2_tsrc_header(src)->schema, schema_yaml, err)))
        goto out;
    *len = out.len;
    rc = take_text(&out, csv, err);
out:
    if (rc && schema_yaml) {
        mc2_free(*schema_yaml);
        *schema_yaml = NULL;
    }
    mc2_buf_free(&out);
    mc2_tsrc_free(src);
    if (fd >= 0) close(fd);
    mc2_wipe(&ref, sizeof ref);
    return rc;
}

/* ---- models -------------------------------------------------------------------------------- */

int mc2_client_model_get(mc2_client *c, uint64_t id, const char *out_path, mc2_err *err)
{
    cli_model_ref r;
    mc2_gbdt_model *m = NULL;
    int rc =
        mc2_client_attest(c, NULL, err) ? -1 : cli_model_fetch(&c->cs, id, out_path, &r, &m, err);
    mc2_gbdt_model_free(m);
    mc2_wipe(&r, sizeof r);
    return rc;
}

int mc2_client_model_json(const char *model_path, char **json, size_t *len, mc2_err *err)
{
    mc2_buf b = {.secret = 1}, j = {.secret = 1};
    mc2_gbdt_model *m = NULL;
    int rc = -1;
    *json = NULL;
    *len = 0;
    if (mc2_file_read_all(model_path, MODEL_FILE_MAX, &b, err) == 0 &&
        mc2_gbdt_model_load(b.data, b.len, &m, err) == 0 &&
        mc2_gbdt_model_to_json(m, &j, err) == 0) {
        *len = j.len;
        rc = take_text(&j, json, err);
    }
    mc2_gbdt_model_free(m);
    mc2_buf_free(&b);
    mc2_buf_free(&j);
    return rc;
}

int mc2_client_predict(mc2_client *c, const char *model, const char *const *tables, size_t ntables,
                       int oblivious, uint64_t *id, mc2_err *err)
{
    cli_session *cs = &c->cs;
    mc2_job j;
    cli_model_ref r;
    char hex[65], *text = NULL;
    int rc = -1;
    memset(&j, 0, sizeof j);
    memset(&r, 0, sizeof r);
    snprintf(j.kind, sizeof j.kind, "predict");
    refresh(cs);
    if (ntables == 0) return mc2_err_set(err, MC2_E_USAGE, "predict needs at least one table");
    if (cli_model_ref_find(cs->id.home, model, &r, err)) goto out;
    for (size_t i = 0; i < ntables; i++)
        if (add_input(&j, tables[i], NULL, NULL, err) ||
            cli_resolve_input(cs, &j.inputs[j.ninputs - 1], err))
            goto out;
    mc2_hex_encode(r.sealed_sha, 32, hex);
    if (mc2_job_add_param(&j, "model", r.object, err) ||
        mc2_job_add_param(&j, "model_sha256", hex, err) ||
        mc2_job_add_param(&j, "model_owner", cs->id.name, err) ||
        (oblivious && mc2_job_add_param(&j, "oblivious", "1", err)) ||
        cli_add_recipients(&j, cs->policy, NULL, 0, err) || mc2_client_attest(c, NULL, err) ||
        (owns_any(&j, cs->id.name) && mc2_esession_grant(&cs->es, &cs->id, cs->policy, err)) ||
        mc2_job_submit(&cs->es, &cs->id, cs->policy, &j, id, &text, err))
        goto out;
    /* The key goes to this job only, after the enclave took it (the grant signs its text). */
    if (mc2_esession_grant_object(&cs->es, &cs->id, *id, text, strlen(text), r.object, r.key,
                                  err)) {
        mc2_err_prefix(err,
                       "predict job %llu was submitted, but the model key was not granted "
                       "(`mc2 approve %llu` grants it): ",
                       (unsigned long long)*id, (unsigned long long)*id);
        goto out;
    }
    rc = 0;
out:
    mc2_free(text);
    mc2_wipe(&r, sizeof r);
    mc2_job_free(&j);
    return rc;
}

/* ---- federated learning ---------------------------------------------------------------------- */

int mc2_client_fl_submit(mc2_client *c, uint64_t job, const float *values, size_t n,
                         uint64_t weight, unsigned timeout_ms, mc2_err *err)
{
    if (!values || n == 0) return mc2_err_set(err, MC2_E_USAGE, "no values to submit");
    if (mc2_client_attest(c, NULL, err)) return -1;
    return cli_fl_submit(&c->cs, job, values, n, weight, timeout_ms, err);
}

int mc2_client_fl_model(mc2_client *c, uint64_t job, float **values, size_t *n, char **tensors,
                        mc2_err *err)
{
    *values = NULL;
    *n = 0;
    if (tensors) *tensors = NULL;
    mc2_fl_model m;
    if (mc2_client_attest(c, NULL, err) || cli_fl_model(&c->cs, job, 3600u * 1000u, &m, err))
        return -1;
    if (tensors) {
        char t[MC2_FL_TENSORS_TEXT_MAX];
        mc2_fl_shape_format(&m.shape, t, sizeof t);
        *tensors = mc2_strdup(t);
        if (!*tensors) {
            mc2_fl_model_free(&m);
            return nomem(err);
        }
    }
    *values = m.values; /* moved: mc2_client_free wipes and frees it */
    *n = (size_t)m.shape.nvalues;
    m.values = NULL;
    mc2_fl_model_free(&m);
    return 0;
}
