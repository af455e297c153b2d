/* cmd_jobs.c - working with the service: `mc2 upload`, `mc2 download`, `mc2 tables`,
 * `mc2 jobs`, `mc2 submit`, `mc2 approve`, `mc2 job`, `mc2 grant`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/bytes.h"
#include "base/file.h"
#include "base/hex.h"
#include "cli.h"
#include "client/session.h"
#include "conn/conn.h"
#include "mc2/job.h"
#include "mc2/table.h"
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
    "usage: mc2 upload --schema S.yaml --in DATA --as NAME [--format csv|tbl]\n"
    "                  [--home DIR] [--service HOST:PORT]\n\n"
    "Encrypts DATA locally under your data key and streams only the ciphertext to the\n"
    "service, signed by you, as table NAME. Nothing readable leaves this machine.\n";

int cmd_upload(int argc, char **argv)
{
    const char *schema = NULL, *in = NULL, *as = NULL, *format = NULL, *home = NULL,
               *service = NULL;
    cli_opt opts[] = {CLI_VAL("schema", &schema),
                      CLI_VAL("in", &in),
                      CLI_VAL("as", &as),
                      CLI_VAL("format", &format),
                      CLI_VAL("home", &home),
                      CLI_VAL("service", &service),
                      CLI_END};
    int code;
    if (cli_parse("upload", UPLOAD_HELP, argc, argv, opts, NULL, 0, &code)) return code;
    if (!schema || !in || !as) return cli_usage("upload", "--schema, --in and --as are required");
    mc2_err err;
    mc2_err_clear(&err);
    if (mc2_table_name_check(as, &err)) return cli_fail(&err);
    mc2_encrypt_opts eo = {0};
    if (format && strcmp(format, "tbl") == 0)
        eo.format = MC2_FMT_TBL;
    else if (format && strcmp(format, "csv") != 0)
        return cli_usage("upload", "--format csv|tbl");
    else if (!format && strlen(in) > 4 && strcmp(in + strlen(in) - 4, ".tbl") == 0)
        eo.format = MC2_FMT_TBL;
    char *h = mc2_home_resolve(home, &err);
    mc2_identity id;
    mc2_schema *s = NULL;
    int loaded = h && mc2_identity_load(h, &id, &err) == 0;
    mc2_free(h);
    if (!loaded) return cli_fail(&err);
    char *addr = service ? mc2_strdup(service) : cli_service(NULL, home);
    char *tmp = home_tmp(&id, "upload");
    int rc = CLI_FAIL;
    mc2_table_stats st = {0};
    cli_progress bar;
    if (!addr || !tmp || mc2_schema_load(schema, &s, &err)) goto fail;
    cli_progress_init(&bar, "encrypting");
    eo.progress = cli_progress_update;
    eo.progress_ctx = &bar;
    if (mc2_table_encrypt_file(in, s, id.data_key, tmp, &eo, &st, &err)) goto fail;
    cli_progress_done(&bar);
    cli_progress_init(&bar, "uploading ");
    if (mc2_host_upload(addr, &id, as, tmp, cli_progress_update, &bar, &err)) goto fail;
    cli_progress_done(&bar);
    char b1[32];
    printf("uploaded %s/%s: %llu rows, %llu blocks, %s of ciphertext\n", id.name, as,
           (unsigned long long)st.rows, (unsigned long long)st.blocks,
           cli_bytes(st.out_bytes, b1, sizeof b1));
    rc = CLI_OK;
    goto out;
fail:
    cli_progress_done(&bar);
    rc = cli_fail(&err);
out:
    if (tmp) unlink(tmp);
    mc2_free(tmp);
    mc2_free(addr);
    mc2_schema_free(s);
    mc2_identity_free(&id);
    return rc;
}

/* ---- download ----------------------------------------------------------------------------- */

static const char DOWNLOAD_HELP[] =
    "usage: mc2 download NAME --out FILE        (one of your own tables)\n"
    "       mc2 download --job ID --out FILE    (a job's result, if you are a recipient)\n"
    "       [--format csv|tbl] [--home DIR] [--service HOST:PORT] [--policy FILE]\n\n"
    "Fetches the ciphertext from the service and decrypts it here. For a job result, the\n"
    "result key comes from the attested enclave, which gives it only to the job's recipients.\n"
    "Any size: the ciphertext goes to a temporary file in your home directory (without a name,\n"
    "so nothing stays behind) and is decrypted block by block; FILE appears only when every\n"
    "block has been authenticated. A progress bar is shown on stderr when it is a terminal.\n";

int cmd_download(int argc, char **argv)
{
    const char *out = NULL, *job = NULL, *format = NULL, *home = NULL, *service = NULL,
               *policy = NULL, *name = NULL;
    cli_opt opts[] = {CLI_VAL("out", &out),
                      CLI_VAL("job", &job),
                      CLI_VAL("format", &format),
                      CLI_VAL("home", &home),
                      CLI_VAL("service", &service),
                      CLI_VAL("policy", &policy),
                      CLI_END};
    int code;
    if (cli_parse("download", DOWNLOAD_HELP, argc, argv, opts, &name, 1, &code)) return code;
    if (!out || (!name == !job))
        return cli_usage("download", "give a table NAME or --job ID, and --out FILE");
    enum mc2_textfmt fmt =
        (format && strcmp(format, "tbl") == 0) ||
                (!format && strlen(out) > 4 && strcmp(out + strlen(out) - 4, ".tbl") == 0)
            ? MC2_FMT_TBL
            : MC2_FMT_CSV;
    mc2_err err;
    mc2_err_clear(&err);
    cli_session cs;
    mc2_result_ref ref;
    int rc = CLI_FAIL;
    if (job) {
        uint64_t jid;
        size_t n = 0;
        if (cli_parse_uint("download", "--job", job, 1, UINT64_MAX, &jid)) return CLI_USAGE;
        if (cli_session_open(&cs, home, service, policy, &err)) return cli_fail(&err);
        if (mc2_esession_results(&cs.es, jid, &ref, 1, &n, &err)) goto fail;
        if (n == 0) {
            mc2_err_set(&err, MC2_E_INPUT, "the enclave returned no result");
            goto fail;
        }
    } else {
        if (mc2_table_name_check(name, &err)) return cli_fail(&err);
        if (cli_party_load(&cs, home, service, policy, &err) && err.code != MC2_E_NOTFOUND)
            return cli_fail(&err);
        if (!cs.have_id) {
            /* Your own table needs no policy: load just the identity. */
            char *h = mc2_home_resolve(home, &err);
            int ok = h && mc2_identity_load(h, &cs.id, &err) == 0;
            mc2_free(h);
            if (!ok) return cli_fail(&err);
            cs.have_id = 1;
            cs.service = service ? mc2_strdup(service) : cli_service(NULL, home);
        }
        memcpy(ref.key, cs.id.data_key, MC2_KEY_LEN);
        snprintf(ref.name, sizeof ref.name, "tables/%s/%s.mc2t", cs.id.name, name);
    }
    mc2_table_stats st = {0};
    cli_progress bar;
    cli_progress_init_stderr(&bar, "downloading");
    int bad =
        !cs.service || mc2_fetch_table_progress(cs.service, ref.name, ref.key, cs.id.home, out, fmt,
                                                &st, cli_progress_update, &bar, &err);
    cli_progress_done(&bar);
    if (bad) goto fail;
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

static int listing(const char *cmd, const char *help, uint16_t type, const char *header, int argc,
                   char **argv)
{
    const char *service = NULL, *home = NULL;
    cli_opt opts[] = {CLI_VAL("service", &service), CLI_VAL("home", &home), CLI_END};
    int code;
    if (cli_parse(cmd, help, argc, argv, opts, NULL, 0, &code)) return code;
    mc2_err err;
    mc2_err_clear(&err);
    char *addr = cli_service(service, home);
    mc2_frame reply = {0};
    int fd = addr ? mc2_dial(addr, &err) : -1, rc = CLI_OK;
    if (fd < 0 || mc2_host_call(fd, type, NULL, 0, &reply, NULL, NULL, &err)) {
        rc = cli_fail(&err);
    } else if (reply.payload.len == 0) {
        printf("(none)\n");
    } else {
        printf("%s\n%.*s", header, (int)reply.payload.len, (const char *)reply.payload.data);
    }
    if (fd >= 0) close(fd);
    mc2_frame_free(&reply);
    mc2_free(addr);
    return rc;
}

int cmd_tables(int argc, char **argv)
{
    return listing("tables",
                   "usage: mc2 tables [--service HOST:PORT]\n\nLists the encrypted tables the "
                   "service stores (only public facts: owner, name, table id, sizes).\n",
                   HAPI_TABLES, "OWNER/NAME TABLE-ID ROWS BLOCKS BYTES", argc, argv);
}

int cmd_jobs(int argc, char **argv)
{
    return listing("jobs",
                   "usage: mc2 jobs [--service HOST:PORT]\n\nLists jobs and their public "
                   "status as the enclave reported them to the service.\n",
                   HAPI_JOBS, "ID KIND STATE STATUS", argc, argv);
}

int cli_table_id(const char *service, const char *owner, const char *name, uint8_t id[16],
                 mc2_err *err)
{
    mc2_frame reply = {0};
    int fd = mc2_dial(service, err), rc = -1;
    if (fd < 0) return -1;
    if (mc2_host_call(fd, HAPI_TABLES, NULL, 0, &reply, NULL, NULL, err)) goto out;
    if (mc2_buf_append(&reply.payload, "", 1, err)) goto out;
    char want[200];
    snprintf(want, sizeof want, "%s/%s ", owner, name);
    for (char *l = (char *)reply.payload.data; l && *l;) {
        char *nl = strchr(l, '\n');
        if (strncmp(l, want, strlen(want)) == 0) {
            char hex[33];
            memcpy(hex, l + strlen(want), 32);
            hex[32] = '\0';
            rc = mc2_hex_decode(hex, id, 16) ? mc2_err_set(err, MC2_E_INPUT, "bad listing") : 0;
            goto out;
        }
        l = nl ? nl + 1 : NULL;
    }
    mc2_err_set(err, MC2_E_NOTFOUND,
                "the service has no table %s/%s (see `mc2 tables`; the owner uploads it with "
                "`mc2 upload`)",
                owner, name);
out:
    close(fd);
    mc2_frame_free(&reply);
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
    "(`mc2 approve ID`) and granted its data key. Built-in kinds: rowcount.\n";

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
        if (cli_table_id(cs.service, in->owner, in->table, in->table_id, &err)) goto fail;
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
    "Shows job ID's exact text, checks that it names this consortium policy, this enclave\n"
    "instance and, for your tables, the tables you uploaded, then co-signs it and grants\n"
    "your data key to the attested enclave. For a predict job that names you as its\n"
    "model_owner, approving releases your model to that job only: the key `mc2 model get`\n"
    "kept in your home is granted for this job (the job must name that exact model). If\n"
    "your approval lets the job run, waits up to --wait seconds (default 300; 0: do not\n"
    "wait) for it to finish and shows how it ended.\n";

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
    printf("job %llu (%.*s):\n%.*s", (unsigned long long)id, (int)status.len,
           (const char *)status.data, (int)text.len, (const char *)text.data);
    if (memcmp(j.policy_hash, cs.policy->hash, 32) != 0 || memcmp(j.instance, cs.es.instance, 32)) {
        mc2_err_set(&err, MC2_E_AUTH, "refusing: the job names another policy or enclave instance");
        goto fail;
    }
    const char *mo = mc2_job_param(&j, "model_owner");
    bool owner = owns_input(&j, cs.id.name), model_owner = mo && strcmp(mo, cs.id.name) == 0;
    if (!owner && !model_owner) {
        mc2_err_set(&err, MC2_E_USAGE,
                    "you own none of job %llu's inputs and are not its model owner: nothing to "
                    "approve",
                    (unsigned long long)id);
        goto fail;
    }
    for (size_t i = 0; i < j.ninputs; i++) {
        uint8_t tid[16];
        if (strcmp(j.inputs[i].owner, cs.id.name) != 0) continue;
        if (cli_table_id(cs.service, cs.id.name, j.inputs[i].table, tid, &err)) goto fail;
        if (memcmp(tid, j.inputs[i].table_id, 16) != 0) {
            mc2_err_set(&err, MC2_E_AUTH,
                        "refusing: the job names another version of your table '%s' than the "
                        "one stored now",
                        j.inputs[i].table);
            goto fail;
        }
    }
    uint8_t sig[64];
    if (mc2_job_sign(cs.id.sec, (const char *)text.data, text.len, sig, &err) ||
        (owner && mc2_esession_grant(&cs.es, &cs.id, cs.policy, &err)) ||
        (model_owner &&
         cli_model_grant_for_job(&cs, id, (const char *)text.data, text.len, &j, &err)) ||
        mc2_buf_put_u64(&req, id, &err) || mc2_buf_append(&req, sig, 64, &err) ||
        mc2_esession_call(&cs.es, EAPI_APPROVE, req.data, req.len, &reply, &err))
        goto fail;
    mc2_buf_reset(&status);
    if (mc2_job_wait(&cs.es, id, false, (unsigned)wait * 1000u, NULL, &status, &err)) goto fail;
    printf("approved job %llu; now %.*s\n", (unsigned long long)id, (int)status.len,
           (const char *)status.data);
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
