/* cmd_jobs.c - working with the service: `mc2 upload`, `mc2 download`, `mc2 jobs`,
 * `mc2 submit`, `mc2 approve`, `mc2 job`, `mc2 grant` (`mc2 tables` is in cmd_tables.c).
 *
 * An upload is recorded in this party's catalog (mc2/catalog.h), and every command that names
 * one of this party's own tables takes its table id and version from there, never from the
 * service's listing:
 *
 *   upload:   lock the table name; version = the catalog's next; encrypt sealing that version;
 *             record it as pending; send it; once the service confirms, record it as uploaded
 *   download: the catalog's latest upload; the table the service sends must have its id and
 *             version (authenticated) before anything is decrypted
 *   submit:   own inputs from the catalog (and the service's listing must agree), other
 *             parties' inputs from the listing
 *   approve:  every input of this party's must be its latest upload in the catalog */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/bytes.h"
#include "base/file.h"
#include "base/hex.h"
#include "cli.h"
#include "table/tpart.h"
#include "client/session.h"
#include "conn/conn.h"
#include "mc2/job.h"
#include "mc2/table.h"
#include "table/tsrc.h"
#include "wire/proto.h"

/* A temporary file name in this party's home for ciphertext on its way up. */
static char *home_tmp(const mc2_identity *id, const char *what)
{
    char name[200];
    snprintf(name, sizeof name, ".%s.%d.mc2t", what, (int)getpid());
    return mc2_path_join(id->home, name);
}

/* ---- upload ------------------------------------------------------------------------------- */

static const char UPLOAD_HELP[] =
    "usage: mc2 upload --schema S.yaml --in DATA --as NAME [--replace] [--format csv|tbl]\n"
    "                  [--home DIR] [--service HOST:PORT] [--policy FILE]\n"
    "                  [--cluster STATE | --place HOST:PORT,HOST:PORT,...]\n\n"
    "Encrypts DATA locally under your data key and streams only the ciphertext to the\n"
    "service, signed by you, as table NAME. Nothing readable leaves this machine.\n"
    "Each upload of NAME gets the next version number (1 for the first), sealed into the\n"
    "table and recorded, once the service confirms it, in your catalog ($MC2_HOME/catalog,\n"
    "per consortium): your jobs, downloads and approvals use exactly that upload, so the\n"
    "service cannot put an older copy or another of your tables in its place.\n"
    "If you already have a table NAME (in your catalog or the service's listing), the\n"
    "upload is refused unless you give --replace: the new upload, whatever its schema,\n"
    "then takes its place for every later job (jobs that name the old version fail).\n"
    "On a cluster, --cluster STATE (the directory of `mc2 cluster up`) or --place (the\n"
    "services in rank order, the leader first) splits the table into one part per host:\n"
    "host r stores only the ciphertext of rank r's range of blocks, and a job with\n"
    "`param ranks N` (N = the number of hosts) reads each part on its own host\n"
    "(docs/cluster.md, \"Data placement\").\n";

/* Needs the policy: the catalog is per consortium. */
static int party_with_policy(cli_session *cs, const char *cmd, const char *home,
                             const char *service, const char *policy, mc2_err *err)
{
    if (cli_party_load(cs, home, service, policy, err) == 0) return 0;
    if (err->code == MC2_E_NOTFOUND && strstr(err->msg, "no consortium policy"))
        mc2_err_prefix(err,
                       "%s needs the consortium policy (your catalog of uploads is kept per "
                       "consortium): ",
                       cmd);
    return -1;
}

static int put_entry(mc2_catalog *c, void *ctx, mc2_err *err)
{
    return mc2_catalog_put(c, ctx, err);
}

static void upload_waits(void *ctx)
{
    fprintf(stderr, "mc2: waiting for your other upload of '%s' to finish\n", (const char *)ctx);
}

/* Without --replace: fails (MC2_E_EXISTS) if this party already has a table `name`, in its
 * catalog or in the service's listing, saying which and how it differs (schema s). */
static int refuse_existing(cli_session *cs, const mc2_catalog *cat, const char *name,
                           const mc2_schema *s, mc2_err *err)
{
    const mc2_catalog_entry *e = mc2_catalog_latest(cat, cs->policy->hash, name);
    const cli_listing *l = NULL;
    const cli_listed *t = NULL;
    if (!e) {
        if (cli_listing_get(cs, &l, err)) return -1;
        t = cli_listing_find(l, cs->id.name, name);
    }
    if (!e && !t) return 0;
    uint8_t h[MC2_SHA256_LEN];
    bool other = e && mc2_schema_hash(s, h, err) == 0 && memcmp(h, e->schema_hash, sizeof h) != 0;
    char when[40];
    return mc2_err_set(err, MC2_E_EXISTS,
                       "you already have a table '%s' (version %llu, %llu rows%s%s%s): give "
                       "--replace to upload a new version in its place, or choose another "
                       "name with --as",
                       name, (unsigned long long)(e ? e->version : t->version),
                       (unsigned long long)(e ? e->rows : t->rows), e ? ", uploaded " : "",
                       e ? cli_time(e->time, when, sizeof when) : "",
                       other ? "; the new one has another schema" : "");
}

/* --place "HOST:PORT,HOST:PORT,...": 1..MC2_TPART_MAX services. */
static int parse_place(const char *cmd, const char *list, char (*out)[CLI_HOSTPORT_MAX], size_t *n)
{
    *n = 0;
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        if (len == 0 || len >= CLI_HOSTPORT_MAX || *n >= MC2_TPART_MAX || !memchr(p, ':', len))
            return cli_usage(cmd,
                             "--place wants 1 to %u services HOST:PORT, comma-separated, not '%s'",
                             MC2_TPART_MAX, list) != 0;
        memcpy(out[*n], p, len);
        out[(*n)++][len] = '\0';
        p += len + (p[len] == ',');
    }
    return *n == 0 ? cli_usage(cmd, "--place names no service") != 0 : 0;
}

/* The services of --cluster or --place (at most one of them, and not with --service). */
static int place_services(const char *cmd, const char *cluster, const char *place,
                          const char *service, char (*hosts)[CLI_HOSTPORT_MAX], size_t *n)
{
    *n = 0;
    if ((cluster || place) && (service || (cluster && place)))
        return cli_usage(cmd, "give one of --service, --cluster and --place");
    if (cluster && cli_cluster_services(cluster, hosts, MC2_TPART_MAX, n)) return CLI_FAIL;
    if (place && parse_place(cmd, place, hosts, n)) return CLI_USAGE;
    return 0;
}

static int upload_whole(const cli_session *cs, const char *as, const char *tmp, mc2_err *err)
{
    cli_progress bar;
    cli_progress_init(&bar, "uploading ");
    int rc = mc2_host_upload(cs->service, &cs->id, as, tmp, cli_progress_update, &bar, err);
    cli_progress_done(&bar);
    return rc;
}

/* Uploads part r of n of the encrypted table tmp to hosts[r], for every r. */
static int upload_parts(const cli_session *cs, const char *as, const char *tmp,
                        char (*hosts)[CLI_HOSTPORT_MAX], size_t n, mc2_err *err)
{
    char *part = home_tmp(&cs->id, "part");
    int rc = part ? 0 : mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    for (size_t r = 0; r < n && rc == 0; r++) {
        cli_progress bar;
        char what[64];
        snprintf(what, sizeof what, "part %zu/%zu ", r + 1, n);
        cli_progress_init(&bar, what);
        rc = mc2_tpart_write(tmp, cs->id.data_key, (uint32_t)r, (uint32_t)n, part, err) ||
             mc2_host_upload(hosts[r], &cs->id, as, part, cli_progress_update, &bar, err);
        cli_progress_done(&bar);
        if (rc)
            mc2_err_prefix(err,
                           "part %zu of %zu, to %s (parts already sent stay unused until "
                           "an upload of every part succeeds): ",
                           r + 1, n, hosts[r]);
        if (part) unlink(part);
    }
    mc2_free(part);
    return rc;
}

int cmd_upload(int argc, char **argv)
{
    const char *schema = NULL, *in = NULL, *as = NULL, *format = NULL, *home = NULL,
               *service = NULL, *policy = NULL, *cluster = NULL, *place = NULL;
    int replace = 0;
    cli_opt opts[] = {CLI_VAL("cluster", &cluster),
                      CLI_VAL("place", &place),
                      CLI_VAL("schema", &schema),
                      CLI_VAL("in", &in),
                      CLI_VAL("as", &as),
                      CLI_VAL("format", &format),
                      CLI_FLAG("replace", &replace),
                      CLI_VAL("home", &home),
                      CLI_VAL("service", &service),
                      CLI_VAL("policy", &policy),
                      CLI_END};
    int code;
    if (cli_parse("upload", UPLOAD_HELP, argc, argv, opts, NULL, 0, &code)) return code;
    if (!schema || !in || !as) return cli_usage("upload", "--schema, --in and --as are required");
    mc2_err err;
    mc2_err_clear(&err);
    if (mc2_table_name_check(as, &err)) return cli_fail(&err);
    static char hosts[MC2_TPART_MAX][CLI_HOSTPORT_MAX];
    size_t nhosts = 0;
    int prc = place_services("upload", cluster, place, service, hosts, &nhosts);
    if (prc) return prc;
    if (nhosts) service = hosts[0]; /* the leader: its listing, and the catalog's checks */
    mc2_encrypt_opts eo = {0};
    if (format && strcmp(format, "tbl") == 0)
        eo.format = MC2_FMT_TBL;
    else if (format && strcmp(format, "csv") != 0)
        return cli_usage("upload", "--format csv|tbl");
    else if (!format && strlen(in) > 4 && strcmp(in + strlen(in) - 4, ".tbl") == 0)
        eo.format = MC2_FMT_TBL;
    cli_session cs;
    if (party_with_policy(&cs, "mc2 upload", home, service, policy, &err)) return cli_fail(&err);
    char *tmp = home_tmp(&cs.id, "upload");
    int rc = CLI_FAIL, lock = -1;
    mc2_schema *s = NULL;
    mc2_catalog cat = {0};
    mc2_catalog_entry e;
    memset(&e, 0, sizeof e);
    cli_progress bar;
    cli_progress_init(&bar, "encrypting");
    if (!tmp || mc2_schema_load(schema, &s, &err)) goto fail;
    /* Under the table name's lock: no other upload of NAME by this party chooses a version
     * or records one until this one is recorded. */
    if (mc2_catalog_lock_table(cs.id.home, cs.policy->hash, as, upload_waits, (void *)as, &lock,
                               &err) ||
        mc2_catalog_load(cs.id.home, &cat, &err) ||
        (!replace && refuse_existing(&cs, &cat, as, s, &err)) ||
        mc2_catalog_next_version(&cat, cs.policy->hash, as, &eo.table_version, &err))
        goto fail;
    eo.progress = cli_progress_update;
    eo.progress_ctx = &bar;
    mc2_table_stats st = {0};
    if (mc2_table_encrypt_file(in, s, cs.id.data_key, tmp, &eo, &st, &err)) goto fail;
    cli_progress_done(&bar);
    memcpy(e.consortium, cs.policy->hash, MC2_SHA256_LEN);
    snprintf(e.name, sizeof e.name, "%s", as);
    if (cli_describe_table(tmp, cs.id.data_key, &e, &err)) goto fail;
    e.time = (uint64_t)time(NULL);
    e.state = MC2_CAT_PENDING;
    /* Pending first: if this process dies after the service stored the table but before the
     * record below, `mc2 tables --adopt` recognises the table it sent. */
    if (mc2_catalog_update(cs.id.home, put_entry, &e, &err)) goto fail;
    if (nhosts > 1 ? upload_parts(&cs, as, tmp, hosts, nhosts, &err)
                   : upload_whole(&cs, as, tmp, &err))
        goto fail;
    e.state = MC2_CAT_UPLOADED;
    e.time = (uint64_t)time(NULL);
    if (mc2_catalog_update(cs.id.home, put_entry, &e, &err)) {
        mc2_err_prefix(&err,
                       "the service stored %s/%s version %llu, but your catalog could not "
                       "record it (`mc2 tables --adopt %s` does, once fixed): ",
                       cs.id.name, as, (unsigned long long)e.version, as);
        goto fail;
    }
    char b1[32];
    printf("uploaded %s/%s version %llu: %llu rows, %llu blocks, %s of ciphertext\n", cs.id.name,
           as, (unsigned long long)e.version, (unsigned long long)st.rows,
           (unsigned long long)st.blocks, cli_bytes(st.out_bytes, b1, sizeof b1));
    rc = CLI_OK;
    goto out;
fail:
    cli_progress_done(&bar);
    rc = cli_fail(&err);
out:
    mc2_catalog_unlock(lock);
    if (tmp) unlink(tmp);
    mc2_free(tmp);
    mc2_catalog_free(&cat);
    mc2_schema_free(s);
    cli_session_close(&cs);
    return rc;
}

/* ---- download ----------------------------------------------------------------------------- */

static const char DOWNLOAD_HELP[] =
    "usage: mc2 download NAME --out FILE        (one of your own tables)\n"
    "       mc2 download --job ID --out FILE    (a job's result, if you are a recipient)\n"
    "       [--format csv|tbl] [--home DIR] [--service HOST:PORT] [--policy FILE]\n"
    "       [--cluster STATE | --place HOST:PORT,...]   (your table placed on a cluster)\n\n"
    "Fetches the ciphertext from the service and decrypts it here. Your own table must be\n"
    "exactly your latest upload of NAME in your catalog (table id and version, checked\n"
    "before anything is decrypted). For a job result, the result key comes from the\n"
    "attested enclave, which gives it only to the job's recipients.\n"
    "Any size: the ciphertext goes to a temporary file in your home directory (without a name,\n"
    "so nothing stays behind) and is decrypted block by block; FILE appears only when every\n"
    "block has been authenticated. A progress bar is shown on stderr when it is a terminal,\n"
    "and, for a job still queued or running, the job's state while it is awaited.\n"
    "A table uploaded with --cluster or --place is fetched the same way, part by part from\n"
    "every host, joined, and decrypted whole.\n";

int cmd_download(int argc, char **argv)
{
    const char *out = NULL, *job = NULL, *format = NULL, *home = NULL, *service = NULL,
               *policy = NULL, *name = NULL, *cluster = NULL, *place = NULL;
    cli_opt opts[] = {
        CLI_VAL("out", &out),         CLI_VAL("cluster", &cluster), CLI_VAL("place", &place),
        CLI_VAL("job", &job),         CLI_VAL("format", &format),   CLI_VAL("home", &home),
        CLI_VAL("service", &service), CLI_VAL("policy", &policy),   CLI_END};
    int code;
    if (cli_parse("download", DOWNLOAD_HELP, argc, argv, opts, &name, 1, &code)) return code;
    if (!out || (!name == !job))
        return cli_usage("download", "give a table NAME or --job ID, and --out FILE");
    static char hosts[MC2_TPART_MAX][CLI_HOSTPORT_MAX];
    size_t nhosts = 0;
    int prc = place_services("download", cluster, place, service, hosts, &nhosts);
    if (prc) return prc;
    if (nhosts && job) return cli_usage("download", "--cluster and --place are for your tables");
    if (nhosts) service = hosts[0];
    enum mc2_textfmt fmt =
        (format && strcmp(format, "tbl") == 0) ||
                (!format && strlen(out) > 4 && strcmp(out + strlen(out) - 4, ".tbl") == 0)
            ? MC2_FMT_TBL
            : MC2_FMT_CSV;
    mc2_err err;
    mc2_err_clear(&err);
    cli_session cs;
    mc2_result_ref ref;
    mc2_table_expect want, *expect = NULL;
    const mc2_catalog_entry *own = NULL;
    int rc = CLI_FAIL;
    if (job) {
        uint64_t jid;
        size_t n = 0;
        if (cli_parse_uint("download", "--job", job, 1, UINT64_MAX, &jid)) return CLI_USAGE;
        if (cli_session_open(&cs, home, service, policy, &err)) return cli_fail(&err);
        /* A job still queued or running: its state on stderr while it is awaited (as long
         * as mc2_esession_results would wait). */
        mc2_buf st = {0};
        int bad = cli_job_follow(&cs, jid, false, 3600, &st, &err);
        mc2_buf_free(&st);
        if (bad || mc2_esession_results(&cs.es, jid, &ref, 1, &n, &err)) goto fail;
        if (n == 0) {
            mc2_err_set(&err, MC2_E_INPUT, "the enclave returned no result");
            goto fail;
        }
    } else {
        if (mc2_table_name_check(name, &err)) return cli_fail(&err);
        if (party_with_policy(&cs, "mc2 download NAME", home, service, policy, &err))
            return cli_fail(&err);
        if (cli_own_table(&cs, name, &own, &err)) goto fail;
        memset(&want, 0, sizeof want);
        memcpy(want.table_id, own->table_id, MC2_TABLE_ID_LEN);
        want.version = own->version;
        expect = &want;
        memcpy(ref.key, cs.id.data_key, MC2_KEY_LEN);
        snprintf(ref.name, sizeof ref.name, "tables/%s/%s.mc2t", cs.id.name, name);
    }
    mc2_table_stats st = {0};
    cli_progress bar;
    cli_progress_init_stderr(&bar, "downloading");
    const char *svcs[MC2_TPART_MAX];
    for (size_t i = 0; i < nhosts; i++) svcs[i] = hosts[i];
    int bad =
        !cs.service ||
        (nhosts > 1 ? mc2_fetch_table_parts_expect(svcs, nhosts, ref.name, ref.key, expect,
                                                   cs.id.home, out, fmt, &st, &err)
                    : mc2_fetch_table_expect(cs.service, ref.name, ref.key, expect, cs.id.home, out,
                                             fmt, &st, cli_progress_update, &bar, &err));
    cli_progress_done(&bar);
    if (bad) {
        if (expect && want.mismatch)
            (void)cli_explain_other_copy(&cs, CLI_SERVICE_HOLDS, name, want.got_id,
                                         want.got_version, own, &err);
        goto fail;
    }
    if (own)
        printf("downloaded %s version %llu: %llu rows decrypted -> %s\n", ref.name,
               (unsigned long long)own->version, (unsigned long long)st.rows, out);
    else
        printf("downloaded %s: %llu rows decrypted -> %s\n", ref.name, (unsigned long long)st.rows,
               out);
    rc = CLI_OK;
    goto out;
fail:
    rc = cli_fail(&err);
out:
    mc2_wipe(&ref, sizeof ref);
    cli_session_close(&cs);
    return rc;
}

/* ---- listings ------------------------------------------------------------------------------ */

static void print_safe(const char *s, const char *nl);

static const char JOBS_HELP[] =
    "usage: mc2 jobs [--home DIR] [--service HOST:PORT] [--policy FILE]\n\n"
    "Lists jobs as the enclave reported them to the service: ID KIND STATE DETAIL, where\n"
    "STATE is waiting (DETAIL: for whom), queued (its place: which job runs, how many are\n"
    "ahead), running (for how long, and the rounds done or input read), done (its results)\n"
    "or failed. The service never learns why a job failed; with your identity and policy\n"
    "(as for `mc2 job`) mc2 jobs asks the attested enclave, which tells a failed job's\n"
    "parties (submitter, input owners, recipients, model owner) the reason, and shows it.\n";

/* Prints the service's job listing (text[0..len), lines "ID KIND STATE DETAIL"), with the
 * reason of each failed job the enclave tells this party (cs: an attested session, or
 * NULL). */
static void print_jobs(cli_session *cs, const char *text, size_t len)
{
    printf("ID KIND STATE DETAIL\n");
    mc2_buf t = {0}, st = {0};
    for (const char *p = text, *end = text + len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        char line[1200];
        snprintf(line, sizeof line, "%.*s", (int)(n < sizeof line ? n : sizeof line - 1), p);
        p += n + 1;
        unsigned long long id;
        char kind[40], word[16];
        mc2_err err;
        if (cs && sscanf(line, "%llu %39s %15s", &id, kind, word) == 3 &&
            strcmp(word, "failed") == 0 && mc2_job_state(&cs->es, id, &t, &st, &err) == 0 &&
            strncmp((const char *)st.data, "failed: ", 8) == 0) {
            printf("%llu %s failed ", id, kind);
            print_safe((const char *)st.data + 8, " ");
            putchar('\n');
            continue;
        }
        print_safe(line, " ");
        putchar('\n');
    }
    mc2_buf_free(&t);
    mc2_buf_free(&st);
}

int cmd_jobs(int argc, char **argv)
{
    const char *service = NULL, *home = NULL, *policy = NULL;
    cli_opt opts[] = {CLI_VAL("service", &service), CLI_VAL("home", &home),
                      CLI_VAL("policy", &policy), CLI_END};
    int code;
    if (cli_parse("jobs", JOBS_HELP, argc, argv, opts, NULL, 0, &code)) return code;
    mc2_err err;
    mc2_err_clear(&err);
    char *addr = cli_service(service, home);
    mc2_frame reply = {0};
    int fd = addr ? mc2_dial(addr, &err) : -1, rc = CLI_OK;
    if (fd < 0 || mc2_host_call(fd, HAPI_JOBS, NULL, 0, &reply, NULL, NULL, &err)) {
        rc = cli_fail(&err);
    } else if (reply.payload.len == 0) {
        printf("(none)\n");
    } else {
        /* The reasons of failed jobs, if this party can attest (else the listing alone). */
        const char *text = (const char *)reply.payload.data;
        cli_session cs;
        bool failed = memmem(text, reply.payload.len, " failed ", 8) != NULL, have = false;
        if (failed && cli_party_load(&cs, home, service, policy, &err) == 0) {
            have = cli_session_attest(&cs, &err) == 0;
            if (!have) cli_session_close(&cs);
        }
        if (failed && !have)
            fprintf(stderr, "mc2: (the reasons of failed jobs need an attested session: %s)\n",
                    err.msg);
        print_jobs(have ? &cs : NULL, text, reply.payload.len);
        if (have) cli_session_close(&cs);
    }
    if (fd >= 0) close(fd);
    mc2_frame_free(&reply);
    mc2_free(addr);
    return rc;
}

static bool owns_input(const mc2_job *j, const char *me)
{
    for (size_t i = 0; i < j->ninputs; i++)
        if (strcmp(j->inputs[i].owner, me) == 0) return true;
    return false;
}

/* ---- submit -------------------------------------------------------------------------------- */

static const char SUBMIT_HELP[] =
    "usage: mc2 submit --kind KIND --input OWNER/TABLE... --recipient PARTY...\n"
    "                  [--param KEY=VALUE...] [--home DIR] [--service ...] [--policy FILE]\n\n"
    "Builds the canonical job text (with the enclave instance's nonce and next counter),\n"
    "signs it, and submits it. It runs once every owner of an input has approved it\n"
    "(`mc2 approve ID`) and granted its data key. Your own tables are your latest uploads\n"
    "in your catalog; other parties' come from the service's listing (their owners check\n"
    "them when they approve). Built-in kinds: rowcount, sql, train, predict.\n";

int cmd_submit(int argc, char **argv)
{
    const char *kind = NULL, *home = NULL, *service = NULL, *policy = NULL;
    const char *inputs[MC2_JOB_MAX_INPUTS], *recips[MC2_JOB_MAX_RECIPIENTS],
        *params[MC2_JOB_MAX_PARAMS];
    size_t ni = 0, nr = 0, np = 0;
    cli_opt opts[] = {CLI_VAL("kind", &kind),
                      {"input", NULL, NULL, inputs, &ni, MC2_JOB_MAX_INPUTS},
                      {"recipient", NULL, NULL, recips, &nr, MC2_JOB_MAX_RECIPIENTS},
                      {"param", NULL, NULL, params, &np, MC2_JOB_MAX_PARAMS},
                      CLI_VAL("home", &home),
                      CLI_VAL("service", &service),
                      CLI_VAL("policy", &policy),
                      CLI_END};
    int code;
    if (cli_parse("submit", SUBMIT_HELP, argc, argv, opts, NULL, 0, &code)) return code;
    if (!kind || ni == 0 || nr == 0)
        return cli_usage("submit", "--kind, at least one --input and one --recipient are needed");
    mc2_err err;
    mc2_err_clear(&err);
    cli_session cs;
    mc2_job j;
    memset(&j, 0, sizeof j);
    char *text = NULL;
    int rc = CLI_FAIL;
    if (cli_session_open(&cs, home, service, policy, &err)) return cli_fail(&err);
    snprintf(j.kind, sizeof j.kind, "%s", kind);
    for (size_t i = 0; i < ni; i++) {
        mc2_job_input *in = &j.inputs[j.ninputs++];
        const char *slash = strchr(inputs[i], '/');
        if (!slash || (size_t)(slash - inputs[i]) >= sizeof in->owner ||
            strlen(slash + 1) >= sizeof in->table) {
            rc = cli_usage("submit", "--input wants OWNER/TABLE, not '%s'", inputs[i]);
            goto out;
        }
        memcpy(in->owner, inputs[i], (size_t)(slash - inputs[i]));
        strcpy(in->table, slash + 1);
        if (cli_resolve_input(&cs, in, &err)) goto fail;
    }
    for (size_t i = 0; i < nr; i++) snprintf(j.recipients[j.nrecipients++], 65, "%s", recips[i]);
    for (size_t i = 0; i < np; i++) {
        const char *eq = strchr(params[i], '=');
        if (!eq) {
            rc = cli_usage("submit", "--param wants KEY=VALUE, not '%s'", params[i]);
            goto out;
        }
        char key[40];
        snprintf(key, sizeof key, "%.*s", (int)(eq - params[i]), params[i]);
        if (mc2_job_add_param(&j, key, eq + 1, &err)) goto fail;
    }
    uint64_t jid;
    if (owns_input(&j, cs.id.name) && mc2_esession_grant(&cs.es, &cs.id, cs.policy, &err))
        goto fail;
    if (mc2_job_submit(&cs.es, &cs.id, cs.policy, &j, &jid, &text, &err)) goto fail;
    printf("submitted job %llu:\n%s", (unsigned long long)jid, text);
    rc = CLI_OK;
    goto out;
fail:
    rc = cli_fail(&err);
out:
    mc2_free(text);
    mc2_job_free(&j);
    cli_session_close(&cs);
    return rc;
}

/* ---- approve / job / grant ------------------------------------------------------------------ */

static const char APPROVE_HELP[] =
    "usage: mc2 approve ID [--wait SECONDS] [--home DIR] [--service HOST:PORT]\n"
    "                      [--policy FILE]\n\n"
    "Shows what job ID does (its inputs with owner, name, version and rows, its kind and\n"
    "parameters such as the SQL query, its recipients) and its exact text; checks that it\n"
    "names this consortium policy and enclave instance, and that each input of yours is your\n"
    "latest upload of that table in your catalog (table id and version: an older copy or\n"
    "another of your tables is refused, with what it is); then co-signs it and grants your\n"
    "data key to the attested enclave. For a predict job that names you as its\n"
    "model_owner, approving releases your model to that job only: the key `mc2 model get`\n"
    "kept in your home is granted for this job (the job must name that exact model). If\n"
    "your approval lets the job run, waits up to --wait seconds (default 300; 0: do not\n"
    "wait) for it to finish, showing its state on stderr if a terminal, and says how it\n"
    "ended: a job that failed exits 1 with the reason.\n";

/* Prints s (another party wrote it) with line feeds as `nl` and every other control
 * character as \xNN, so that it cannot drive the terminal. */
static void print_safe(const char *s, const char *nl)
{
    for (const unsigned char *v = (const unsigned char *)s; *v; v++) {
        if (*v == '\n')
            fputs(nl, stdout);
        else if ((*v < 0x20 && *v != '\t') || *v == 0x7f)
            printf("\\x%02x", *v);
        else
            putchar(*v);
    }
}

/* Prints what job j (id, state `status`, exact text) does, for the party that approves it:
 * each input with its owner, name, version and rows (its own from its catalog, others' as
 * the service lists them), the kind, the parameters and the recipients, then the text. */
static void show_job(cli_session *cs, uint64_t id, const char *status, const mc2_job *j,
                     const char *text)
{
    const mc2_catalog *cat = NULL;
    const cli_listing *l = NULL;
    mc2_err ignored;
    /* An error here shows up in the checks that follow; the listing only gives the rows of
     * other parties' tables. */
    if (cli_catalog(cs, &cat, &ignored)) cat = NULL;
    if (cli_listing_get(cs, &l, &ignored)) l = NULL;
    printf("job %llu (%s)\n  kind:      %s\n", (unsigned long long)id, status, j->kind);
    for (size_t i = 0; i < j->ninputs; i++) {
        const mc2_job_input *in = &j->inputs[i];
        char hex[33], when[40];
        mc2_hex_encode(in->table_id, sizeof in->table_id, hex);
        printf("  input:     %s/%s version %llu (table id %s)", in->owner, in->table,
               (unsigned long long)in->version, hex);
        if (strcmp(in->owner, cs->id.name) == 0) {
            const mc2_catalog_entry *e =
                cat ? mc2_catalog_find_id(cat, cs->policy->hash, in->table_id) : NULL;
            const mc2_catalog_entry *latest =
                cat ? mc2_catalog_latest(cat, cs->policy->hash, in->table) : NULL;
            if (e && strcmp(e->name, in->table) == 0 && e->version == in->version)
                printf(": %llu rows, your upload of %s%s\n", (unsigned long long)e->rows,
                       cli_time(e->time, when, sizeof when),
                       e == latest ? "" : ", NOT your latest upload of it");
            else
                printf(": NOT an upload of yours under this name and version\n");
        } else {
            const cli_listed *t = l ? cli_listing_find(l, in->owner, in->table) : NULL;
            if (t && memcmp(t->id, in->table_id, 16) == 0 && t->version == in->version)
                printf(": %llu rows (as the service lists it)\n", (unsigned long long)t->rows);
            else
                printf(": the service lists no such copy now\n");
        }
    }
    for (size_t i = 0; i < j->nparams; i++) {
        printf("  param:     %s = ", j->param_key[i]);
        print_safe(j->param_value[i], "\n               ");
        putchar('\n');
    }
    for (size_t i = 0; i < j->nrecipients; i++) printf("  recipient: %s\n", j->recipients[i]);
    printf("the exact job text you sign:\n");
    print_safe(text, "\n");
}

/* Says what approving releases, for the model owner of a predict job; returns 1. */
static int model_release_note(const mc2_job *j, uint64_t id)
{
    const char *object = mc2_job_param(j, "model");
    if (object && strncmp(object, "results/", 8) == 0)
        printf("as its model owner you release model %s to job %llu only: it scores the job's "
               "input tables, and each input owner gets its own rows' predictions\n",
               object, (unsigned long long)id);
    return 1;
}

int cmd_approve(int argc, char **argv)
{
    const char *home = NULL, *service = NULL, *policy = NULL, *idtxt = NULL, *wait_s = NULL;
    cli_opt opts[] = {CLI_VAL("home", &home), CLI_VAL("service", &service),
                      CLI_VAL("policy", &policy), CLI_VAL("wait", &wait_s), CLI_END};
    int code;
    if (cli_parse("approve", APPROVE_HELP, argc, argv, opts, &idtxt, 1, &code)) return code;
    uint64_t id, wait = 300;
    if (!idtxt) return cli_usage("approve", "which job? `mc2 approve ID`");
    if (cli_parse_uint("approve", "ID", idtxt, 1, UINT64_MAX, &id) ||
        (wait_s && cli_parse_uint("approve", "--wait", wait_s, 0, 86400, &wait)))
        return CLI_USAGE;
    mc2_err err;
    mc2_err_clear(&err);
    cli_session cs;
    mc2_buf text = {0}, status = {0}, req = {0}, reply = {0};
    mc2_job j;
    memset(&j, 0, sizeof j);
    int rc = CLI_FAIL;
    if (cli_session_open(&cs, home, service, policy, &err)) return cli_fail(&err);
    if (mc2_job_state(&cs.es, id, &text, &status, &err) ||
        mc2_job_parse((const char *)text.data, text.len, &j, &err))
        goto fail;
    show_job(&cs, id, (const char *)status.data, &j, (const char *)text.data);
    if (memcmp(j.policy_hash, cs.policy->hash, 32) != 0 || memcmp(j.instance, cs.es.instance, 32)) {
        mc2_err_set(&err, MC2_E_AUTH, "refusing: the job names another policy or enclave instance");
        goto fail;
    }
    const char *mo = mc2_job_param(&j, "model_owner");
    bool owner = owns_input(&j, cs.id.name), model_owner = mo && strcmp(mo, cs.id.name) == 0;
    if (!owner && !model_owner) {
        mc2_err_set(&err, MC2_E_AUTH,
                    "you own none of job %llu's inputs and are not its model owner: nothing to "
                    "approve",
                    (unsigned long long)id);
        goto fail;
    }
    for (size_t i = 0; i < j.ninputs; i++)
        if (strcmp(j.inputs[i].owner, cs.id.name) == 0 &&
            cli_check_own_input(&cs, &j.inputs[i], &err))
            goto fail;
    uint8_t sig[64];
    if (mc2_job_sign(cs.id.sec, (const char *)text.data, text.len, sig, &err) ||
        (owner && mc2_esession_grant(&cs.es, &cs.id, cs.policy, &err)) ||
        (model_owner && model_release_note(&j, id) &&
         cli_model_grant_for_job(&cs, id, (const char *)text.data, text.len, &j, &err)) ||
        mc2_buf_put_u64(&req, id, &err) || mc2_buf_append(&req, sig, 64, &err) ||
        mc2_esession_call(&cs.es, EAPI_APPROVE, req.data, req.len, &reply, &err))
        goto fail;
    /* If this approval let the job run, follow it: how it ends is what the approver wants
     * to know (a failure exits 1 with its reason). */
    if (cli_job_follow(&cs, id, false, wait, &status, &err)) goto fail;
    const char *st = (const char *)status.data;
    if (strncmp(st, "waiting", 7) == 0 || strncmp(st, "done", 4) == 0) {
        printf("approved job %llu; now %s\n", (unsigned long long)id, st);
        rc = CLI_OK;
        goto out;
    }
    printf("approved job %llu\n", (unsigned long long)id);
    char fetch[96];
    snprintf(fetch, sizeof fetch, "its recipients run mc2 download --job %llu",
             (unsigned long long)id);
    if (cli_job_outcome(id, j.kind, st, fetch, &err) < 0) goto fail;
    rc = CLI_OK;
    goto out;
fail:
    rc = cli_fail(&err);
out:
    mc2_job_free(&j);
    mc2_buf_free(&text);
    mc2_buf_free(&status);
    mc2_buf_free(&req);
    mc2_buf_free(&reply);
    cli_session_close(&cs);
    return rc;
}

int cmd_job(int argc, char **argv)
{
    const char *home = NULL, *service = NULL, *policy = NULL, *idtxt = NULL;
    cli_opt opts[] = {CLI_VAL("home", &home), CLI_VAL("service", &service),
                      CLI_VAL("policy", &policy), CLI_END};
    int code;
    if (cli_parse("job",
                  "usage: mc2 job ID [--home DIR] [--service HOST:PORT]\n\nShows a job's text "
                  "and status, from the attested enclave.\n",
                  argc, argv, opts, &idtxt, 1, &code))
        return code;
    uint64_t id;
    if (!idtxt) return cli_usage("job", "which job? `mc2 job ID`");
    if (cli_parse_uint("job", "ID", idtxt, 1, UINT64_MAX, &id)) return CLI_USAGE;
    mc2_err err;
    cli_session cs;
    mc2_buf text = {0}, status = {0};
    if (cli_session_open(&cs, home, service, policy, &err)) return cli_fail(&err);
    int rc = CLI_OK;
    if (mc2_job_state(&cs.es, id, &text, &status, &err))
        rc = cli_fail(&err);
    else
        printf("status: %.*s\n%.*s", (int)status.len, (const char *)status.data, (int)text.len,
               (const char *)text.data);
    mc2_buf_free(&text);
    mc2_buf_free(&status);
    cli_session_close(&cs);
    return rc;
}

int cmd_grant(int argc, char **argv)
{
    const char *home = NULL, *service = NULL, *policy = NULL;
    cli_opt opts[] = {CLI_VAL("home", &home), CLI_VAL("service", &service),
                      CLI_VAL("policy", &policy), CLI_END};
    int code;
    if (cli_parse("grant",
                  "usage: mc2 grant [--home DIR] [--service HOST:PORT]\n\nReleases your data "
                  "key to the attested enclave (signed; it lives only in enclave memory).\n",
                  argc, argv, opts, NULL, 0, &code))
        return code;
    mc2_err err;
    cli_session cs;
    if (cli_session_open(&cs, home, service, policy, &err)) return cli_fail(&err);
    int rc = mc2_esession_grant(&cs.es, &cs.id, cs.policy, &err) ? cli_fail(&err) : CLI_OK;
    if (rc == CLI_OK) printf("data key granted to the attested enclave\n");
    cli_session_close(&cs);
    return rc;
}
