/* main.c - the mc2 command-line client: one function per command. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "base/file.h"
#include "base/strdist.h"
#include "cli.h"
#include "mc2/identity.h"

static const struct {
    const char *name;
    cli_cmd_fn fn;
    const char *summary;
} COMMANDS[] = {
    {"init", cmd_init, "create this party's identity, certificate and data key"},
    {"whoami", cmd_whoami, "print this party's name and identity fingerprint"},
    {"encrypt", cmd_encrypt, "encrypt a CSV or .tbl file into an encrypted table (.mc2t)"},
    {"decrypt", cmd_decrypt, "decrypt an encrypted table back to CSV or .tbl"},
    {"schema", cmd_schema, "infer a table schema (YAML) from a CSV or .tbl file"},
    {"inspect", cmd_inspect, "show an encrypted table's header and schema (needs the key)"},
    {"enclave", cmd_enclave, "sign an enclave build, or show its identity"},
    {"service", cmd_service, "prepare a service state directory (sim platform key)"},
    {"policy", cmd_policy, "write a consortium policy"},
    {"start", cmd_start, "start the local mc2d service with a sim enclave"},
    {"stop", cmd_stop, "stop the local mc2d service"},
    {"status", cmd_status, "ask the service what it runs"},
    {"attest", cmd_attest, "attest the enclave and print the verified claims"},
    {"cluster", cmd_cluster, "start, show and stop one mc2d per host of a hostfile, over ssh"},
    {"upload", cmd_upload, "encrypt a table locally and upload the ciphertext"},
    {"download", cmd_download, "download and decrypt one of your tables or a job result"},
    {"tables", cmd_tables, "list the tables the service stores"},
    {"jobs", cmd_jobs, "list jobs and their status"},
    {"submit", cmd_submit, "submit a signed job"},
    {"approve", cmd_approve, "co-sign a job that reads your tables"},
    {"job", cmd_job, "show a job's text and status"},
    {"grant", cmd_grant, "release your data key to the attested enclave"},
    {"sql", cmd_sql, "run a SQL query over encrypted tables and print the result"},
    {"shell", cmd_shell, "an interactive SQL shell (like sqlite3) over encrypted tables"},
    {"gen", cmd_gen, "generate test data: the TPC-H tables as .tbl files"},
    {"train", cmd_train, "submit a GBDT training job over several parties' tables"},
    {"model", cmd_model,
     "get a trained model, export it to XGBoost JSON, show it, plot its metrics"},
    {"predict", cmd_predict, "submit a prediction job: each owner gets its own rows' predictions"},
    {"fl", cmd_fl, "federated learning: start a round, submit an update, get the model"},
};
#define NCOMMANDS (sizeof COMMANDS / sizeof COMMANDS[0])

static void usage(FILE *f)
{
    fprintf(f, "usage: mc2 COMMAND [OPTIONS]   (mc2 COMMAND --help for details)\n\n"
               "mc2 runs SQL and machine learning on several parties' joint data without any\n"
               "of them, or the cluster operator, seeing another's data.\n\ncommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-10s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
    fprintf(f,
            "\n`mc2 help COMMAND` is `mc2 COMMAND --help`.\n\n"
            "environment:\n"
            "  MC2_HOME     this party's key directory (default ~/.mc2; --home overrides)\n"
            "  MC2_SERVICE  the service's HOST:PORT (default: the one `mc2 init --service`\n"
            "               recorded, else %s; --service overrides)\n"
            "  HOME         where ~/.mc2 is\n",
            MC2_DEFAULT_SERVICE);
}

/* The command named `name`, or NULL. */
static int find_command(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(name, COMMANDS[i].name) == 0) return (int)i;
    return -1;
}

/* An unknown command: says so, with the nearest command name if one is close. */
static int unknown_command(const char *cmd)
{
    const char *best = NULL;
    unsigned bestd = 3;
    for (size_t i = 0; i < NCOMMANDS; i++) {
        unsigned d =
            mc2_edit_distance(cmd, strlen(cmd), COMMANDS[i].name, strlen(COMMANDS[i].name), 2);
        if (d < bestd) {
            bestd = d;
            best = COMMANDS[i].name;
        }
    }
    /* Short names are close to everything: a distance of 2 only for longer ones. */
    if (best && bestd == 2 && strlen(cmd) <= 4) best = NULL;
    if (best)
        fprintf(stderr, "mc2: unknown command '%s' (did you mean '%s'?)\n", cmd, best);
    else
        fprintf(stderr, "mc2: unknown command '%s'\n", cmd);
    fprintf(stderr, "(`mc2 --help` lists the commands)\n");
    return CLI_USAGE;
}

/* Ctrl-C, SIGTERM or a hang-up: remove the temporary files of outputs not finished (an
 * encryption, a generator's tables, a download), then die of the signal as usual. */
static void on_signal(int sig)
{
    mc2_afile_unlink_all();
    signal(sig, SIG_DFL);
    raise(sig);
}

int main(int argc, char **argv)
{
    /* A peer that goes away must give an error, not kill us (see conn.h). */
    signal(SIGPIPE, SIG_IGN);
    static const int SIGS[] = {SIGINT, SIGTERM, SIGHUP};
    for (size_t i = 0; i < sizeof SIGS / sizeof SIGS[0]; i++) {
        struct sigaction sa, old;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        /* A signal ignored by whoever started us (nohup, a background job) stays ignored. */
        if (sigaction(SIGS[i], NULL, &old) == 0 && old.sa_handler != SIG_IGN)
            sigaction(SIGS[i], &sa, NULL);
    }
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "help") == 0 && argc >= 3) { /* `mc2 help sql`: `mc2 sql --help` */
        int i = find_command(argv[2]);
        if (i < 0) return unknown_command(argv[2]);
        char *hargv[] = {argv[2], "--help", NULL};
        return COMMANDS[i].fn(2, hargv);
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return CLI_OK;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("mc2 %s\n", MC2_VERSION);
        return CLI_OK;
    }
    int i = find_command(cmd);
    if (i >= 0) return COMMANDS[i].fn(argc - 1, argv + 1);
    return unknown_command(cmd);
}
