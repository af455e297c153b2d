/* cmd_gbdt.c - gradient-boosted trees on the platform: `mc2 train job.yaml`, `mc2 model get`,
 * `mc2 model export`, `mc2 predict`, and the model owner's part of `mc2 approve`
 * (docs/gbdt.md, "Platform").
 *
 * Model keys (client/session.h, model_keys.c): `mc2 model get` keeps the key of a model
 * this party received in $MC2_HOME/models, so that a predict job can bind the exact model and
 * its owner can hand the key to the enclave for that one job
 * (EAPI_GRANT_OBJECT, signed over the job text's hash), in this or a later enclave instance. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/bytes.h"
#include "base/file.h"
#include "base/hex.h"
#include "base/yaml.h"
#include "cli.h"
#include "client/session.h"
#include "conn/conn.h"
#include "gbdt/gbdt.h"
#include "mc2/job.h"
#include "table/blob.h"
#include "wire/proto.h"

#define MODEL_FILE_MAX (1ull << 31)

/* ---- shared helpers ----------------------------------------------------------------------- */

/* Adds input "OWNER/TABLE" to j: the exact upload (cli_resolve_input). */
static int add_input(mc2_job *j, cli_session *cs, const char *spec, mc2_err *err)
{
    const char *slash = strchr(spec, '/');
    if (j->ninputs >= MC2_JOB_MAX_INPUTS)
        return mc2_err_set(err, MC2_E_LIMIT, "at most %d input tables", MC2_JOB_MAX_INPUTS);
    mc2_job_input *in = &j->inputs[j->ninputs];
    if (!slash || slash == spec || (size_t)(slash - spec) >= sizeof in->owner ||
        strlen(slash + 1) >= sizeof in->table || !slash[1])
        return mc2_err_set(err, MC2_E_USAGE, "an input is written OWNER/TABLE, not '%.100s'", spec);
    memcpy(in->owner, spec, (size_t)(slash - spec));
    in->owner[slash - spec] = '\0';
    strcpy(in->table, slash + 1);
    if (mc2_name_check(in->owner, err) || mc2_table_name_check(in->table, err) ||
        cli_resolve_input(cs, in, err))
        return -1;
    j->ninputs++;
    return 0;
}

/* Prints the submitted job's id and who still has to co-sign it; returns how many parties
 * that is. */
static int print_submitted(const char *kind, uint64_t id, const mc2_job *j, const char *me)
{
    printf("submitted %s job %llu\n", kind, (unsigned long long)id);
    int others = 0;
    for (size_t i = 0; i < j->ninputs; i++) {
        bool seen = strcmp(j->inputs[i].owner, me) == 0;
        for (size_t k = 0; k < i; k++) seen |= strcmp(j->inputs[k].owner, j->inputs[i].owner) == 0;
        if (seen) continue;
        printf("%s%s", others++ ? ", " : "still to approve: ", j->inputs[i].owner);
    }
    if (others) printf(" (each runs `mc2 approve %llu`)\n", (unsigned long long)id);
    return others;
}

/* After a submission: follows job id (cli_job_follow) for --wait seconds (wait_s; default
 * 300 if no other party has to approve it, else 0) and says how it ended; `fetch` is what
 * its result's receivers run. Returns the exit code: a failed job is 1, with its reason. */
static int follow_submitted(cli_session *cs, const char *kind, uint64_t id, int others,
                            const char *wait_s, const char *fetch, mc2_err *err)
{
    uint64_t wait = others ? 0 : 300;
    if (wait_s && cli_parse_uint(kind, "--wait", wait_s, 0, 86400, &wait)) return CLI_USAGE;
    mc2_buf st = {0};
    int rc = cli_job_follow(cs, id, true, wait, &st, err);
    if (rc == 0 && (rc = cli_job_outcome(id, kind, (const char *)st.data, fetch, err)) == 0)
        printf("%s job %llu is %s\nthen: %s\n", kind, (unsigned long long)id, (const char *)st.data,
               fetch);
    mc2_buf_free(&st);
    return rc < 0 ? cli_fail(err) : CLI_OK;
}

static bool owns_any(const mc2_job *j, const char *me)
{
    for (size_t i = 0; i < j->ninputs; i++)
        if (strcmp(j->inputs[i].owner, me) == 0) return true;
    return false;
}

/* ---- mc2 train ------------------------------------------------------------------------------ */

static const char TRAIN_HELP[] =
    "usage: mc2 train JOB.yaml [--wait SECONDS] [--home DIR] [--service HOST:PORT]\n"
    "                 [--policy FILE]\n\n"
    "Submits a GBDT training job over several parties' tables of one schema (their rows are\n"
    "concatenated). JOB.yaml:\n"
    "  inputs: [bank-a/loans, bank-b/loans]   # OWNER/TABLE, uploaded with `mc2 upload`\n"
    "  label: default                         # the label column\n"
    "  eval: bank-b/loans_test                # optional: an input used only for metrics\n"
    "  params: {objective: binary:logistic, max_depth: 6, num_round: 50, eval_metric: auc}\n"
    "  recipients: [auditor]                  # optional: default = the policy's recipients\n"
    "The model keeps the columns' names and the eval metrics of every round (add\n"
    "`eval_train: 1` to params for the training set's too): `mc2 model info`, `mc2 model plot`.\n"
    "Add `oblivious: 1` to params to train obliviously (fixed-shape trees; no branch or\n"
    "memory address depends on the data; slower: docs/gbdt.md).\n"
    "Parameters are XGBoost's (docs/gbdt.md); the enclave checks them at submission. If you\n"
    "own an input, your data key is granted and your signature approves it; every other\n"
    "owner co-signs with `mc2 approve ID`. The recipients then fetch the model with\n"
    "`mc2 model get --job ID --out FILE` and the metrics with `mc2 download --job ID`.\n"
    "When no other party has to approve it, the job runs at once: mc2 train waits up to\n"
    "--wait seconds (default 300; 0: print the job id and return) showing its state and\n"
    "rounds on stderr (if a terminal), and exits 1 with the reason if it failed.\n";

/* A YAML scalar or a sequence of scalars (joined with commas) as text. */
static int yaml_text(const mc2_ynode *n, const char *what, mc2_buf *out, mc2_err *err)
{
    if (n->kind == MC2_Y_SCALAR) return mc2_buf_append(out, n->text, n->len, err);
    if (n->kind == MC2_Y_SEQ) {
        for (size_t i = 0; i < n->nkids; i++) {
            if (n->kids[i]->kind != MC2_Y_SCALAR || (i && mc2_buf_puts(out, ",", err)) ||
                mc2_buf_append(out, n->kids[i]->text, n->kids[i]->len, err))
                return mc2_err_set(err, MC2_E_INPUT, "line %lu: '%s' wants scalar values", n->line,
                                   what);
        }
        return 0;
    }
    return mc2_err_set(err, MC2_E_INPUT, "line %lu: '%s' wants a value or a list", n->line, what);
}

/* Builds the train job from the YAML file. */
static int train_job(const char *path, cli_session *cs, mc2_job *j, mc2_err *err)
{
    mc2_buf text = {0}, v = {0};
    mc2_ynode *root = NULL;
    int rc = -1;
    if (mc2_file_read_all(path, 1 << 20, &text, err)) goto out;
    root = mc2_yaml_parse(path, (const char *)text.data, text.len, err);
    if (!root) goto out;
    if (root->kind != MC2_Y_MAP) {
        mc2_err_set(err, MC2_E_INPUT, "%s: expected a map (inputs, label, params, ...)", path);
        goto out;
    }
    static const char *const known[] = {"inputs", "label", "eval", "params", "recipients"};
    for (size_t i = 0; i < root->nkids; i += 2) {
        bool ok = false;
        for (size_t k = 0; k < 5; k++) ok |= strcmp(root->kids[i]->text, known[k]) == 0;
        if (!ok) {
            mc2_err_set(err, MC2_E_INPUT,
                        "%s line %lu: unknown key '%s' (known: inputs, label, eval, params, "
                        "recipients)",
                        path, root->kids[i]->line, root->kids[i]->text);
            goto out;
        }
    }
    const mc2_ynode *in = mc2_yaml_get(root, "inputs"), *label = mc2_yaml_get(root, "label"),
                    *eval = mc2_yaml_get(root, "eval"), *params = mc2_yaml_get(root, "params"),
                    *rec = mc2_yaml_get(root, "recipients");
    if (!in || in->kind != MC2_Y_SEQ || in->nkids == 0) {
        mc2_err_set(err, MC2_E_INPUT, "%s: 'inputs' must list OWNER/TABLE entries", path);
        goto out;
    }
    if (!label || label->kind != MC2_Y_SCALAR) {
        mc2_err_set(err, MC2_E_INPUT, "%s: 'label' must name the label column", path);
        goto out;
    }
    snprintf(j->kind, sizeof j->kind, "train");
    for (size_t i = 0; i < in->nkids; i++) {
        if (in->kids[i]->kind != MC2_Y_SCALAR) {
            mc2_err_set(err, MC2_E_INPUT, "%s line %lu: an input is OWNER/TABLE", path,
                        in->kids[i]->line);
            goto out;
        }
        if (add_input(j, cs, in->kids[i]->text, err)) goto out;
    }
    if (mc2_job_add_param(j, "label", label->text, err)) goto out;
    if (eval) {
        if (eval->kind != MC2_Y_SCALAR) {
            mc2_err_set(err, MC2_E_INPUT, "%s: 'eval' is one OWNER/TABLE of the inputs", path);
            goto out;
        }
        bool listed = false;
        for (size_t i = 0; i < in->nkids; i++) listed |= strcmp(in->kids[i]->text, eval->text) == 0;
        if (!listed && add_input(j, cs, eval->text, err)) goto out;
        if (mc2_job_add_param(j, "eval", eval->text, err)) goto out;
    }
    if (params && params->kind != MC2_Y_MAP) {
        mc2_err_set(err, MC2_E_INPUT, "%s line %lu: 'params' must be a map", path, params->line);
        goto out;
    }
    for (size_t i = 0; params && i < params->nkids; i += 2) {
        const char *k = params->kids[i]->text;
        mc2_buf_reset(&v);
        if (yaml_text(params->kids[i + 1], k, &v, err) || mc2_buf_append(&v, "", 1, err)) goto out;
        if (strcmp(k, "label") == 0 || strcmp(k, "eval") == 0) {
            mc2_err_set(err, MC2_E_INPUT, "%s: '%s' goes at the top level, not under params", path,
                        k);
            goto out;
        }
        if (mc2_job_add_param(j, k, (const char *)v.data, err)) goto out;
    }
    const char *rl[MC2_JOB_MAX_RECIPIENTS];
    size_t nr = 0;
    if (rec) {
        if (rec->kind != MC2_Y_SEQ) {
            mc2_err_set(err, MC2_E_INPUT, "%s: 'recipients' must be a list", path);
            goto out;
        }
        for (size_t i = 0; i < rec->nkids && nr < MC2_JOB_MAX_RECIPIENTS; i++)
            rl[nr++] = rec->kids[i]->text;
    }
    rc = cli_add_recipients(j, cs->policy, rl, nr, err);
out:
    mc2_yaml_free(root);
    mc2_buf_free(&text);
    mc2_buf_free(&v);
    return rc;
}

int cmd_train(int argc, char **argv)
{
    const char *home = NULL, *service = NULL, *policy = NULL, *file = NULL, *wait_s = NULL;
    cli_opt opts[] = {CLI_VAL("home", &home), CLI_VAL("service", &service),
                      CLI_VAL("policy", &policy), CLI_VAL("wait", &wait_s), CLI_END};
    int code;
    if (cli_parse("train", TRAIN_HELP, argc, argv, opts, &file, 1, &code)) return code;
    if (!file) return cli_usage("train", "which job? `mc2 train JOB.yaml`");
    uint64_t wait;
    if (wait_s && cli_parse_uint("train", "--wait", wait_s, 0, 86400, &wait)) return CLI_USAGE;
    mc2_err err;
    mc2_err_clear(&err);
    cli_session cs;
    mc2_job j;
    memset(&j, 0, sizeof j);
    uint64_t id;
    int rc = CLI_FAIL;
    if (cli_session_open(&cs, home, service, policy, &err)) return cli_fail(&err);
    if (train_job(file, &cs, &j, &err)) goto fail;
    if (owns_any(&j, cs.id.name) && mc2_esession_grant(&cs.es, &cs.id, cs.policy, &err)) goto fail;
    if (mc2_job_submit(&cs.es, &cs.id, cs.policy, &j, &id, NULL, &err)) goto fail;
    char fetch[96];
    snprintf(fetch, sizeof fetch, "recipients run mc2 model get --job %llu --out model.mc2m",
             (unsigned long long)id);
    rc = follow_submitted(&cs, "train", id, print_submitted("train", id, &j, cs.id.name), wait_s,
                          fetch, &err);
    goto out;
fail:
    rc = cli_fail(&err);
out:
    mc2_job_free(&j);
    cli_session_close(&cs);
    return rc;
}

/* ---- mc2 model ---------------------------------------------------------------------------- */

static const char MODEL_HELP[] =
    "usage: mc2 model get --job ID --out FILE [--home DIR] [--service ...] [--policy FILE]\n"
    "       mc2 model export [--format xgboost-json] --in FILE --out MODEL.json\n"
    "       mc2 model info FILE [--importance TYPE]\n"
    "       mc2 model plot FILE --out CURVE.png [--metric NAME] [--data FILE]\n\n"
    "get:    (a recipient of train job ID) fetches the sealed model and its key from the\n"
    "        attested enclave, writes the decrypted model (mc2's binary format) to FILE and\n"
    "        keeps the key in $MC2_HOME/models/ (0600): you then hold the model, and it is\n"
    "        used only in predict jobs you approve (`mc2 predict`, `mc2 approve ID`), each\n"
    "        of which gets the key for that job alone.\n"
    "export: converts a model file to XGBoost 1.7's JSON (xgboost.Booster().load_model),\n"
    "        with the feature names of the training columns; xgboost-json, the one format,\n"
    "        is the default.\n"
    "info:   prints the model's facts and feature importance (weight, gain, cover,\n"
    "        total_gain, total_cover: xgboost's get_score). `mc2 model info --help`.\n"
    "plot:   draws the per-round metrics (training curve) with gnuplot into a PNG.\n";

static int model_get(int argc, char **argv)
{
    const char *job = NULL, *out = NULL, *home = NULL, *service = NULL, *policy = NULL;
    cli_opt opts[] = {CLI_VAL("job", &job),       CLI_VAL("out", &out),
                      CLI_VAL("home", &home),     CLI_VAL("service", &service),
                      CLI_VAL("policy", &policy), CLI_END};
    int code;
    if (cli_parse("model get", MODEL_HELP, argc, argv, opts, NULL, 0, &code)) return code;
    uint64_t id;
    if (!job || !out) return cli_usage("model get", "--job ID and --out FILE are required");
    if (cli_parse_uint("model get", "--job", job, 1, UINT64_MAX, &id)) return CLI_USAGE;
    mc2_err err;
    mc2_err_clear(&err);
    cli_session cs;
    cli_model_ref r;
    memset(&r, 0, sizeof r);
    mc2_gbdt_model *m = NULL;
    int rc = CLI_FAIL;
    if (cli_session_open(&cs, home, service, policy, &err)) return cli_fail(&err);
    if (cli_model_fetch(&cs, id, out, &r, &m, &err)) goto fail;
    char hex[65];
    mc2_hex_encode(r.sealed_sha, 32, hex);
    printf("model of job %llu: %zu trees, %u features, objective %s -> %s\n",
           (unsigned long long)id, m->n_trees, m->num_feature,
           mc2_gbdt_objective_name(m->objective), out);
    printf("object %s (sealed SHA-256 %s); its key is kept in %s/models/\n", r.object, hex,
           cs.id.home);
    rc = CLI_OK;
    goto out;
fail:
    rc = cli_fail(&err);
out:
    mc2_gbdt_model_free(m);
    mc2_wipe(&r, sizeof r);
    cli_session_close(&cs);
    return rc;
}

static int model_export(int argc, char **argv)
{
    const char *format = NULL, *in = NULL, *out = NULL;
    cli_opt opts[] = {CLI_VAL("format", &format), CLI_VAL("in", &in), CLI_VAL("out", &out),
                      CLI_END};
    int code;
    if (cli_parse("model export", MODEL_HELP, argc, argv, opts, NULL, 0, &code)) return code;
    if (!in || !out) return cli_usage("model export", "--in FILE and --out FILE are required");
    if (format && strcmp(format, "xgboost-json") != 0)
        return cli_usage("model export", "--format xgboost-json is the only format (the default)");
    mc2_err err;
    mc2_err_clear(&err);
    mc2_buf b = {.secret = 1}, j = {.secret = 1};
    mc2_gbdt_model *m = NULL;
    int rc = CLI_OK;
    if (mc2_file_read_all(in, MODEL_FILE_MAX, &b, &err) ||
        mc2_gbdt_model_load(b.data, b.len, &m, &err) || mc2_gbdt_model_to_json(m, &j, &err) ||
        mc2_file_write_atomic(out, j.data, j.len, 0600, 0, &err)) {
        rc = cli_fail(&err);
    } else {
        printf("exported %s (%zu trees) as XGBoost 1.7 JSON -> %s\n", in, m->n_trees, out);
    }
    mc2_gbdt_model_free(m);
    mc2_buf_free(&b);
    mc2_buf_free(&j);
    return rc;
}

int cmd_model(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "get") == 0) return model_get(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "export") == 0) return model_export(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "info") == 0) return cli_model_info(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "plot") == 0) return cli_model_plot(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "grant") == 0)
        return cli_usage("model",
                         "`model grant` is gone: model keys are granted per predict job now, never "
                         "to a whole enclave "
                         "instance: `mc2 predict` (as the model's holder) grants it for the job "
                         "it submits, `mc2 approve ID` for another party's predict job naming "
                         "you as model_owner");
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(MODEL_HELP, stdout);
        return CLI_OK;
    }
    fputs(MODEL_HELP, stderr);
    return CLI_USAGE;
}

/* ---- mc2 predict -------------------------------------------------------------------------- */

static const char PREDICT_HELP[] =
    "usage: mc2 predict --model job-ID|FILE --table OWNER/TABLE... [--recipient PARTY...]\n"
    "                   [--oblivious | --ranks N] [--wait SECONDS] [--home DIR]\n"
    "                   [--service HOST:PORT] [--policy FILE]\n\n"
    "Submits a prediction job: the model of train job ID (or the model FILE you fetched with\n"
    "`mc2 model get`) scores the tables, whose columns are the model's features in training\n"
    "order (the training columns without the label, with the same names). The job binds\n"
    "the exact model (its SHA-256) and names you as its model_owner; the model key you keep\n"
    "is granted to the enclave for this job only, and your data key if you own a table.\n"
    "Every table owner co-signs with `mc2 approve ID`; each owner then gets only the\n"
    "predictions of its own rows: `mc2 download --job ID --out preds.csv` (columns: table,\n"
    "row, prediction).\n"
    "Recipients (default: the policy's) receive nothing from a predict job. A predict job\n"
    "someone else submits with your model waits for your `mc2 approve ID`.\n"
    "--oblivious scores obliviously: no branch or memory address depends on the rows or the\n"
    "trees (same predictions, slower).\n"
    "--ranks N, on a cluster (tables placed with `mc2 upload --cluster/--place`), scores on N\n"
    "ranks, one enclave per host, each its own part; the leader gathers the predictions\n"
    "(docs/cluster.md; not with --oblivious).\n"
    "When you own every table, the job runs at once: mc2 predict waits up to --wait seconds\n"
    "(default 300; 0: print the job id and return) and exits 1 with the reason if it failed.\n";

int cmd_predict(int argc, char **argv)
{
    const char *model = NULL, *home = NULL, *service = NULL, *policy = NULL, *wait_s = NULL;
    const char *ranks = NULL;
    const char *tables[MC2_JOB_MAX_INPUTS], *recips[MC2_JOB_MAX_RECIPIENTS];
    size_t nt = 0, nr = 0;
    int oblivious = 0;
    cli_opt opts[] = {CLI_VAL("model", &model),
                      CLI_LIST("table", tables, &nt, MC2_JOB_MAX_INPUTS),
                      CLI_FLAG("oblivious", &oblivious),
                      CLI_VAL("ranks", &ranks),
                      CLI_LIST("recipient", recips, &nr, MC2_JOB_MAX_RECIPIENTS),
                      CLI_VAL("wait", &wait_s),
                      CLI_VAL("home", &home),
                      CLI_VAL("service", &service),
                      CLI_VAL("policy", &policy),
                      CLI_END};
    int code;
    if (cli_parse("predict", PREDICT_HELP, argc, argv, opts, NULL, 0, &code)) return code;
    if (!model || nt == 0)
        return cli_usage("predict", "--model and at least one --table OWNER/TABLE are needed");
    uint64_t wait, nranks;
    if (wait_s && cli_parse_uint("predict", "--wait", wait_s, 0, 86400, &wait)) return CLI_USAGE;
    if (ranks && oblivious)
        return cli_usage("predict", "--ranks scores in encryption mode only: drop --oblivious");
    if (ranks && cli_parse_uint("predict", "--ranks", ranks, 1, 64, &nranks)) return CLI_USAGE;
    mc2_err err;
    mc2_err_clear(&err);
    cli_session cs;
    mc2_job j;
    memset(&j, 0, sizeof j);
    cli_model_ref r;
    memset(&r, 0, sizeof r);
    uint64_t id;
    char *text = NULL;
    int rc = CLI_FAIL;
    if (cli_session_open(&cs, home, service, policy, &err)) return cli_fail(&err);
    if (cli_model_ref_find(cs.id.home, model, &r, &err)) goto fail;
    snprintf(j.kind, sizeof j.kind, "predict");
    for (size_t i = 0; i < nt; i++)
        if (add_input(&j, &cs, tables[i], &err)) goto fail;
    char hex[65];
    mc2_hex_encode(r.sealed_sha, 32, hex);
    if (mc2_job_add_param(&j, "model", r.object, &err) ||
        mc2_job_add_param(&j, "model_sha256", hex, &err) ||
        mc2_job_add_param(&j, "model_owner", cs.id.name, &err) ||
        (oblivious && mc2_job_add_param(&j, "oblivious", "1", &err)) ||
        (ranks && mc2_job_add_param(&j, "ranks", ranks, &err)) ||
        cli_add_recipients(&j, cs.policy, recips, nr, &err))
        goto fail;
    if (owns_any(&j, cs.id.name) && mc2_esession_grant(&cs.es, &cs.id, cs.policy, &err)) goto fail;
    if (mc2_job_submit(&cs.es, &cs.id, cs.policy, &j, &id, &text, &err)) goto fail;
    /* The key goes to this job only, after the enclave took it (the grant signs its text). */
    if (mc2_esession_grant_object(&cs.es, &cs.id, id, text, strlen(text), r.object, r.key, &err)) {
        mc2_err_prefix(&err,
                       "predict job %llu was submitted, but the model key was not granted "
                       "(`mc2 approve %llu` grants it): ",
                       (unsigned long long)id, (unsigned long long)id);
        goto fail;
    }
    char fetch[96];
    snprintf(fetch, sizeof fetch, "each table owner runs mc2 download --job %llu --out preds.csv",
             (unsigned long long)id);
    rc = follow_submitted(&cs, "predict", id, print_submitted("predict", id, &j, cs.id.name),
                          wait_s, fetch, &err);
    goto out;
fail:
    rc = cli_fail(&err);
out:
    mc2_free(text);
    mc2_wipe(&r, sizeof r);
    mc2_job_free(&j);
    cli_session_close(&cs);
    return rc;
}
