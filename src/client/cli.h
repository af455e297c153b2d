/* cli.h - what the mc2 commands share: the command signature, error printing with exit
 * codes (0 ok, 1 failure, 2 usage), option parsing helpers and the progress bar. */
#ifndef MC2_CLIENT_CLI_H
#define MC2_CLIENT_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "mc2/err.h"

#define CLI_OK    0
#define CLI_FAIL  1
#define CLI_USAGE 2

/* A command: argv[0] is the command name; returns the process exit code. */
typedef int (*cli_cmd_fn)(int argc, char **argv);

/* Prints "mc2: <message>" on stderr and returns the exit code for err's code. */
int cli_fail(const mc2_err *err);
/* Prints "mc2 CMD: <message>" and a pointer to --help; returns CLI_USAGE. */
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Parses a positive integer option value in [lo, hi]; on error prints a usage message and
 * returns -1. */
int cli_parse_uint(const char *cmd, const char *opt, const char *s, uint64_t lo, uint64_t hi,
                   uint64_t *out);

/* A declarative option: --name with a value (stored in *value, or appended to list for
 * `multi` options) or a flag (*flag = 1). */
typedef struct cli_opt {
    const char *name;
    const char **value;
    int *flag;
    const char **list; /* multi-valued: up to max entries, count in *count */
    size_t *count;
    size_t max;
} cli_opt;

#define CLI_VAL(n, v)                                                                              \
    {                                                                                              \
        .name = (n), .value = (v)                                                                  \
    }
#define CLI_FLAG(n, f)                                                                             \
    {                                                                                              \
        .name = (n), .flag = (f)                                                                   \
    }
#define CLI_LIST(n, l, c, m)                                                                       \
    {                                                                                              \
        .name = (n), .list = (l), .count = (c), .max = (m)                                         \
    }
#define CLI_END                                                                                    \
    {                                                                                              \
        .name = NULL                                                                               \
    }

/* Parses argv[1..] against opts (NULL-name terminated) and up to npos positional arguments
 * (stored in pos[]). --help prints help and returns 1 with *code = 0; a usage error prints
 * a message and returns 1 with *code = 2; success returns 0. */
int cli_parse(const char *cmd, const char *help, int argc, char **argv, const cli_opt *opts,
              const char **pos, size_t npos, int *code);

/* The directory holding the running mc2 binary (for mc2d and mc2-enclave); malloc'd. */
char *cli_bindir(void);

/* A progress bar, drawn only when its stream is a terminal: stdout (cli_progress_init), or
 * stderr (cli_progress_init_stderr: for commands whose stdout is data). */
typedef struct cli_progress {
    int enabled;
    const char *label;
    int last_permille;
    FILE *out;
    uint64_t last_bytes;
} cli_progress;
void cli_progress_init(cli_progress *p, const char *label);
void cli_progress_init_stderr(cli_progress *p, const char *label);
/* Callback shape used by mc2_encrypt_opts: ctx is a cli_progress. A total of 0 (unknown)
 * shows the bytes done so far instead of a bar. */
void cli_progress_update(void *ctx, uint64_t done, uint64_t total);
void cli_progress_done(cli_progress *p);

/* Formats a byte count as "12.3 MiB" into buf. */
const char *cli_bytes(uint64_t n, char *buf, size_t len);

int cmd_init(int argc, char **argv);
int cmd_whoami(int argc, char **argv);
int cmd_encrypt(int argc, char **argv);
int cmd_decrypt(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_enclave(int argc, char **argv);
int cmd_service(int argc, char **argv);
int cmd_policy(int argc, char **argv);
int cmd_start(int argc, char **argv);
int cmd_stop(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_attest(int argc, char **argv);
int cmd_upload(int argc, char **argv);
/* The services of the cluster recorded in STATE dir (`mc2 cluster up`), "HOST:PORT" in hostfile
 * order (rank order), at most max; -1 (after a message on stderr) if there is none. */
#define CLI_HOSTPORT_MAX 300
int cli_cluster_services(const char *dir, char (*out)[CLI_HOSTPORT_MAX], size_t max, size_t *n);
int cmd_download(int argc, char **argv);
int cmd_tables(int argc, char **argv);
int cmd_jobs(int argc, char **argv);
int cmd_submit(int argc, char **argv);
int cmd_approve(int argc, char **argv);
int cmd_job(int argc, char **argv);
int cmd_grant(int argc, char **argv);
int cmd_gen(int argc, char **argv);
int cmd_sql(int argc, char **argv);
int cmd_shell(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_model(int argc, char **argv);
/* `mc2 model info` and `mc2 model plot` (cmd_model_info.c); argv[0] is the subcommand. */
int cli_model_info(int argc, char **argv);
int cli_model_plot(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_schema(int argc, char **argv);
int cmd_fl(int argc, char **argv);
int cmd_cluster(int argc, char **argv);

#endif
