/* cmd_fl.c - federated learning rounds (docs/fl.md): `mc2 fl round start|submit|status|get`.
 * A round is a fedavg job; participants send signed updates inside their attested sessions;
 * the recipients get the new global model as .npy files. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/file.h"
#include "cli.h"
#include "client/fl_client.h"
#include "client/session.h"
#include "conn/conn.h"

#define NPY_FILE_MAX ((size_t)MC2_FL_MAX_VALUES * 8 + 65536)

static const char FL_HELP[] =
    "usage: mc2 fl round start|submit|status|get ...   (mc2 fl round CMD --help)\n\n"
    "Federated averaging (docs/fl.md): a round is a signed job of kind fedavg naming its\n"
    "participants, the model's tensors and the release threshold k. Each participant sends\n"
    "its update (local model minus the round's base model) with its weight, signed and\n"
    "sealed to the attested enclave; the enclave releases the weighted mean to the\n"
    "recipients only if at least k participants contributed by the deadline.\n"
    "  mc2 fl round start --participants A,B,C --tensors w:30x1,b:1 --round 1 --k 2\n"
    "  mc2 fl round submit JOB --update DIR --weight N\n"
    "  mc2 fl round status JOB\n"
    "  mc2 fl round get JOB -o DIR\n";

static const char START_HELP[] =
    "usage: mc2 fl round start --participants A,B,... --tensors NAME:D1xD2,... --round N --k K\n"
    "                          [--deadline SECONDS] [--base JOB] [--lr X] [--clip C]\n"
    "                          [--noise Z] [--delta D] [--max-weight W] [--to PARTY]...\n"
    "                          [--masks [--mask-threshold T] [--stage-timeout SECONDS]]\n"
    "                          [--home DIR] [--service HOST:PORT] [--policy FILE]\n\n"
    "Submits round N as a fedavg job signed by you. --participants: the parties whose\n"
    "updates count (2 to 128); --tensors: the model's float32 tensors in order (e.g.\n"
    "w:30x1,b:1); --k: the least number of contributors for the round to release a model.\n"
    "--deadline: seconds from now until updates are accepted (default 600); the round is\n"
    "released when all participants contributed, or at the deadline with at least k.\n"
    "--base JOB: the earlier round whose model this round's updates start from (default:\n"
    "zeros). new = base + lr * (sum of weight * clip(update) + noise) / sum of weights;\n"
    "--clip C bounds each update's L2 norm, --noise Z adds Gaussian noise of standard\n"
    "deviation Z * C * max-weight to the sum (needs --clip; docs/fl.md states its DP\n"
    "accounting). --to: who receives the model (default: every recipient of the policy).\n"
    "--masks: SecAgg pairwise masks on top of the enclave (docs/fl.md, Masks): each update is\n"
    "quantised and masked so that the enclave only ever sums masked vectors; the round then\n"
    "needs --mask-threshold T participants (default max(k, n/2 + 1)) at each stage and\n"
    "waits --stage-timeout seconds (default 60) per stage for stragglers.\n"
    "Prints the round's job id.\n";

static const char SUBMIT_HELP[] =
    "usage: mc2 fl round submit JOB --update DIR|FILE.npy --weight N [--home DIR]\n"
    "                           [--service HOST:PORT] [--policy FILE]\n\n"
    "Sends your update to round JOB: DIR holds one NAME.npy per tensor of the round (float32\n"
    "or float64, C order, as many values as the tensor), or FILE.npy holds all the round's\n"
    "values concatenated in tensor order. --weight: your number of examples (>= 1; capped at\n"
    "the round's max_weight). The update is signed by you and sent only inside the attested\n"
    "session; the enclave refuses it if you are not a participant, already contributed, or\n"
    "the round is closed.\n";

static const char STATUS_HELP[] =
    "usage: mc2 fl round status JOB [--home DIR] [--service HOST:PORT] [--policy FILE]\n\n"
    "Prints the round's parameters and its state from the attested enclave: who contributed,\n"
    "who is missing, the deadline; done, or why it failed.\n";

static const char GET_HELP[] =
    "usage: mc2 fl round get JOB -o|--out DIR [--wait SECONDS] [--home DIR]\n"
    "                        [--service HOST:PORT] [--policy FILE]\n\n"
    "Waits up to --wait seconds (default 3600) for round JOB to end, then writes its new\n"
    "global model as DIR/NAME.npy (float32, one file per tensor; DIR is created) and prints\n"
    "the round's table: round, contributors, total weight, sigma and epsilon (the per-round\n"
    "DP accounting; none without noise). You must be a recipient of the round.\n";

/* ---- start ---------------------------------------------------------------------------------- */

static int add(mc2_job *j, const char *k, const char *v, mc2_err *err)
{
    return v ? mc2_job_add_param(j, k, v, err) : 0;
}

static int round_start(int argc, char **argv)
{
    const char *parts = NULL, *tensors = NULL, *round = NULL, *k = NULL, *deadline = NULL,
               *base = NULL, *lr = NULL, *clip = NULL, *noise = NULL, *delta = NULL, *maxw = NULL,
               *home = NULL, *service = NULL, *policy = NULL, *mask_t = NULL, *stage_s = NULL;
    int masks = 0;
    const char *to[MC2_JOB_MAX_RECIPIENTS];
    size_t nto = 0;
    const cli_opt opts[] = {CLI_VAL("participants", &parts),
                            CLI_VAL("tensors", &tensors),
                            CLI_VAL("round", &round),
                            CLI_VAL("k", &k),
                            CLI_VAL("deadline", &deadline),
                            CLI_VAL("base", &base),
                            CLI_VAL("lr", &lr),
                            CLI_VAL("clip", &clip),
                            CLI_VAL("noise", &noise),
                            CLI_VAL("delta", &delta),
                            CLI_VAL("max-weight", &maxw),
                            CLI_LIST("to", to, &nto, MC2_JOB_MAX_RECIPIENTS),
                            CLI_FLAG("masks", &masks),
                            CLI_VAL("mask-threshold", &mask_t),
                            CLI_VAL("stage-timeout", &stage_s),
                            CLI_VAL("home", &home),
                            CLI_VAL("service", &service),
                            CLI_VAL("policy", &policy),
                            CLI_END};
    int code;
    if (cli_parse("fl round start", START_HELP, argc, argv, opts, NULL, 0, &code)) return code;
    if (!parts || !tensors || !round || !k)
        return cli_usage("fl round start",
                         "--participants, --tensors, --round and --k are required");
    mc2_err err;
    mc2_job j;
    memset(&j, 0, sizeof j);
    snprintf(j.kind, sizeof j.kind, "fedavg");
    cli_session cs = {0};
    uint64_t id = 0;
    mc2_fl_round r;
    int rc = CLI_FAIL;
    /* the params are checked here first, for a usage error before any network I/O */
    if (add(&j, "participants", parts, &err) || add(&j, "tensors", tensors, &err) ||
        add(&j, "round", round, &err) || add(&j, "k", k, &err) ||
        add(&j, "deadline_s", deadline, &err) || add(&j, "base_job", base, &err) ||
        add(&j, "server_lr", lr, &err) || add(&j, "clip_norm", clip, &err) ||
        add(&j, "noise_multiplier", noise, &err) || add(&j, "delta", delta, &err) ||
        add(&j, "max_weight", maxw, &err) || add(&j, "masks", masks ? "secagg" : NULL, &err) ||
        add(&j, "mask_threshold", mask_t, &err) || add(&j, "stage_timeout_s", stage_s, &err) ||
        mc2_fl_round_from_job(&j, &r, &err)) {
        rc = cli_usage("fl round start", "%s", err.msg);
        goto out;
    }
    if (cli_session_open(&cs, home, service, policy, &err) ||
        cli_add_recipients(&j, cs.policy, to, nto, &err) ||
        mc2_job_submit(&cs.es, &cs.id, cs.policy, &j, &id, NULL, &err)) {
        rc = cli_fail(&err);
        goto out;
    }
    printf("submitted fedavg round %u as job %llu (participants %s; k = %u; deadline in %llu s)\n"
           "each participant: mc2 fl round submit %llu --update DIR --weight N\n",
           r.round, (unsigned long long)id, parts, r.k, (unsigned long long)r.deadline_s,
           (unsigned long long)id);
    rc = CLI_OK;
out:
    mc2_job_free(&j);
    cli_session_close(&cs);
    return rc;
}

/* ---- submit --------------------------------------------------------------------------------- */

static int read_npy(const char *path, mc2_npy *a, mc2_err *err)
{
    mc2_buf b = {.secret = 1};
    int rc = mc2_file_read_all(path, NPY_FILE_MAX, &b, err) || mc2_npy_parse(b.data, b.len, a, err)
                 ? -1
                 : 0;
    mc2_buf_free(&b);
    return rc ? mc2_err_prefix(err, "%s: ", path) : 0;
}

/* The update's values from DIR/NAME.npy per tensor, or one .npy of them all, into v. */
static int load_update(const char *path, const mc2_fl_shape *s, float *v, mc2_err *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return mc2_err_set(err, MC2_E_NOTFOUND, "--update %s: no such file or directory", path);
    mc2_npy a;
    if (!S_ISDIR(st.st_mode)) {
        if (read_npy(path, &a, err)) return -1;
        int rc = a.n == s->nvalues
                     ? 0
                     : mc2_err_set(err, MC2_E_USAGE,
                                   "%s holds %llu values; the round's tensors have "
                                   "%llu (or pass a directory of NAME.npy files)",
                                   path, (unsigned long long)a.n, (unsigned long long)s->nvalues);
        if (rc == 0) memcpy(v, a.values, (size_t)a.n * sizeof *v);
        mc2_npy_free(&a);
        return rc;
    }
    for (size_t i = 0; i < s->ntensors; i++) {
        char f[4096];
        snprintf(f, sizeof f, "%s/%s.npy", path, s->t[i].name);
        if (read_npy(f, &a, err)) return -1;
        int rc =
            a.n == s->t[i].n
                ? 0
                : mc2_err_set(err, MC2_E_USAGE, "%s holds %llu values; tensor %s has %llu", f,
                              (unsigned long long)a.n, s->t[i].name, (unsigned long long)s->t[i].n);
        if (rc == 0) memcpy(v + s->t[i].off, a.values, (size_t)a.n * sizeof *v);
        mc2_npy_free(&a);
        if (rc) return -1;
    }
    return 0;
}

static int round_submit(int argc, char **argv)
{
    const char *job = NULL, *update = NULL, *weight = NULL, *home = NULL, *service = NULL,
               *policy = NULL;
    const cli_opt opts[] = {CLI_VAL("update", &update), CLI_VAL("weight", &weight),
                            CLI_VAL("home", &home),     CLI_VAL("service", &service),
                            CLI_VAL("policy", &policy), CLI_END};
    int code;
    if (cli_parse("fl round submit", SUBMIT_HELP, argc, argv, opts, &job, 1, &code)) return code;
    if (!job || !update || !weight)
        return cli_usage("fl round submit", "JOB, --update and --weight are required");
    uint64_t id, w;
    if (cli_parse_uint("fl round submit", "JOB", job, 1, UINT64_MAX, &id) ||
        cli_parse_uint("fl round submit", "--weight", weight, 1, UINT64_MAX, &w))
        return CLI_USAGE;
    mc2_err err;
    cli_session cs = {0};
    mc2_fl_round r;
    float *v = NULL;
    int rc = CLI_FAIL;
    if (cli_session_open(&cs, home, service, policy, &err) || cli_fl_round(&cs, id, &r, NULL, &err))
        goto fail;
    if (!(v = mc2_malloc((size_t)r.shape.nvalues * sizeof *v))) {
        mc2_err_set(&err, MC2_E_NOMEM, "out of memory");
        goto fail;
    }
    if (load_update(update, &r.shape, v, &err) ||
        cli_fl_submit(&cs, id, v, (size_t)r.shape.nvalues, w, 0, &err))
        goto fail;
    printf("sent %s's update (%llu values, weight %llu) to round %u (job %llu)\n", cs.id.name,
           (unsigned long long)r.shape.nvalues, (unsigned long long)w, r.round,
           (unsigned long long)id);
    rc = CLI_OK;
    goto out;
fail:
    rc = err.code == MC2_E_USAGE ? cli_usage("fl round submit", "%s", err.msg) : cli_fail(&err);
out:
    if (v) mc2_free_wipe(v, (size_t)r.shape.nvalues * sizeof *v);
    cli_session_close(&cs);
    return rc;
}

/* ---- status and get ------------------------------------------------------------------------- */

/* JOB and the common options of status and get. */
static int job_arg(const char *cmd, const char *job, uint64_t *id)
{
    if (!job) return cli_usage(cmd, "which round? give its job id");
    return cli_parse_uint(cmd, "JOB", job, 1, UINT64_MAX, id) ? CLI_USAGE : 0;
}

static int round_status(int argc, char **argv)
{
    const char *job = NULL, *home = NULL, *service = NULL, *policy = NULL;
    const cli_opt opts[] = {CLI_VAL("home", &home), CLI_VAL("service", &service),
                            CLI_VAL("policy", &policy), CLI_END};
    int code;
    uint64_t id;
    if (cli_parse("fl round status", STATUS_HELP, argc, argv, opts, &job, 1, &code)) return code;
    if ((code = job_arg("fl round status", job, &id))) return code;
    mc2_err err;
    cli_session cs = {0};
    mc2_fl_round r;
    mc2_buf text = {0}, state = {0};
    int rc = CLI_FAIL;
    if (cli_session_open(&cs, home, service, policy, &err) ||
        cli_fl_round(&cs, id, &r, NULL, &err) || mc2_job_state(&cs.es, id, &text, &state, &err)) {
        rc = cli_fail(&err);
    } else {
        char t[MC2_FL_TENSORS_TEXT_MAX];
        mc2_fl_shape_format(&r.shape, t, sizeof t);
        printf("round %u (job %llu): %zu participants, k = %u, tensors %s (%llu values)\n", r.round,
               (unsigned long long)id, r.nparts, r.k, t, (unsigned long long)r.shape.nvalues);
        printf("%s\n", (const char *)state.data);
        rc = strncmp((const char *)state.data, "failed", 6) == 0 ? CLI_FAIL : CLI_OK;
    }
    mc2_buf_free(&text);
    mc2_buf_free(&state);
    cli_session_close(&cs);
    return rc;
}

static int write_model(const char *dir, const mc2_fl_model *m, mc2_err *err)
{
    if (mc2_mkdir(dir, 0700, err)) return -1;
    mc2_buf b = {.secret = 1};
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < m->shape.ntensors; i++) {
        const mc2_fl_tensor *t = &m->shape.t[i];
        char f[4096];
        snprintf(f, sizeof f, "%s/%s.npy", dir, t->name);
        rc = mc2_npy_format(m->values + t->off, t->dims, t->ndims, &b, err) ||
                     mc2_file_write_atomic(f, b.data, b.len, 0600, 0, err)
                 ? -1
                 : 0;
    }
    mc2_buf_free(&b);
    return rc;
}

static int round_get(int argc, char **argv)
{
    const char *job = NULL, *outdir = NULL, *wait = NULL, *home = NULL, *service = NULL,
               *policy = NULL;
    const cli_opt opts[] = {CLI_VAL("out", &outdir),    CLI_VAL("wait", &wait),
                            CLI_VAL("home", &home),     CLI_VAL("service", &service),
                            CLI_VAL("policy", &policy), CLI_END};
    int code;
    uint64_t id, wait_s = 3600;
    char *args[64];
    if (argc > 64) return cli_usage("fl round get", "too many arguments");
    for (int i = 0; i < argc; i++) /* -o is --out */
        args[i] = strcmp(argv[i], "-o") == 0 ? (char *)"--out" : argv[i];
    if (cli_parse("fl round get", GET_HELP, argc, args, opts, &job, 1, &code)) return code;
    if ((code = job_arg("fl round get", job, &id))) return code;
    if (!outdir) return cli_usage("fl round get", "-o DIR is required (where the .npy files go)");
    if (wait && cli_parse_uint("fl round get", "--wait", wait, 0, 86400, &wait_s)) return CLI_USAGE;
    mc2_err err;
    cli_session cs = {0};
    mc2_fl_model m = {0};
    int rc = CLI_FAIL;
    if (cli_session_open(&cs, home, service, policy, &err) ||
        cli_fl_model(&cs, id, wait_s * 1000u, &m, &err) || write_model(outdir, &m, &err)) {
        rc = cli_fail(&err);
    } else {
        printf("round  contributors  total_weight  sigma  epsilon  delta\n");
        char eps[32];
        if (isfinite(m.rep.epsilon))
            snprintf(eps, sizeof eps, "%.4g", m.rep.epsilon);
        else
            snprintf(eps, sizeof eps, "none");
        printf("%-6u %-13u %-13.6g %-6.4g %-8s %.3g\n", m.rep.round, m.rep.contributors,
               m.rep.total_weight, m.rep.sigma, eps, m.rep.delta);
        for (size_t i = 0; i < m.shape.ntensors; i++)
            printf("wrote %s/%s.npy\n", outdir, m.shape.t[i].name);
        rc = CLI_OK;
    }
    mc2_fl_model_free(&m);
    cli_session_close(&cs);
    return rc;
}

int cmd_fl(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "round") == 0) {
        const char *sub = argv[2];
        if (strcmp(sub, "start") == 0) return round_start(argc - 2, argv + 2);
        if (strcmp(sub, "submit") == 0) return round_submit(argc - 2, argv + 2);
        if (strcmp(sub, "status") == 0) return round_status(argc - 2, argv + 2);
        if (strcmp(sub, "get") == 0) return round_get(argc - 2, argv + 2);
    }
    if (argc >= 2 && (strcmp(argv[argc - 1], "--help") == 0 || strcmp(argv[argc - 1], "-h") == 0)) {
        fputs(FL_HELP, stdout);
        return CLI_OK;
    }
    fputs(FL_HELP, stderr);
    return CLI_USAGE;
}
