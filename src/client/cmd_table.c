/* cmd_table.c - `mc2 encrypt`, `mc2 decrypt` and `mc2 inspect`: encrypted tables on this
 * party's own machine, under its data key. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/hex.h"
#include "cli.h"
#include "mc2/identity.h"
#include "mc2/table.h"
#include "table/tsrc.h"

/* Options the table commands share; each command accepts the subset it lists. */
typedef struct table_args {
    const char *schema, *in, *out, *home, *format, *threads, *rows_per_block;
} table_args;

/* Parses argv into a, accepting the options named in `allowed` (space-separated).
 * Returns 1 after printing help or a usage error (*code set), 0 on success. */
static int parse_table_args(const char *cmd, const char *help, const char *allowed, int argc,
                            char **argv, table_args *a, int *code)
{
    memset(a, 0, sizeof *a);
    const cli_opt all[] = {CLI_VAL("schema", &a->schema),
                           CLI_VAL("in", &a->in),
                           CLI_VAL("out", &a->out),
                           CLI_VAL("home", &a->home),
                           CLI_VAL("format", &a->format),
                           CLI_VAL("threads", &a->threads),
                           CLI_VAL("rows-per-block", &a->rows_per_block)};
    cli_opt opts[sizeof all / sizeof all[0] + 1];
    size_t n = 0;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        char word[32];
        snprintf(word, sizeof word, " %s ", all[i].name);
        char list[128];
        snprintf(list, sizeof list, " %s ", allowed);
        if (strstr(list, word)) opts[n++] = all[i];
    }
    opts[n] = (cli_opt)CLI_END;
    return cli_parse(cmd, help, argc, argv, opts, NULL, 0, code);
}

/* The text format: --format wins, else the file name's extension (.tbl), else CSV. */
static int pick_format(const char *cmd, const char *flag, const char *path, enum mc2_textfmt *out)
{
    if (flag) {
        if (strcmp(flag, "csv") == 0)
            *out = MC2_FMT_CSV;
        else if (strcmp(flag, "tbl") == 0)
            *out = MC2_FMT_TBL;
        else
            return cli_usage(cmd, "--format must be 'csv' or 'tbl', not '%s'", flag);
        return 0;
    }
    size_t n = path ? strlen(path) : 0;
    *out = n >= 4 && strcmp(path + n - 4, ".tbl") == 0 ? MC2_FMT_TBL : MC2_FMT_CSV;
    return 0;
}

/* Loads the identity named by --home / $MC2_HOME. */
static int load_identity(const char *home_flag, mc2_identity *id, mc2_err *err)
{
    char *home = mc2_home_resolve(home_flag, err);
    if (!home) return -1;
    int rc = mc2_identity_load(home, id, err);
    mc2_free(home);
    return rc;
}

static const char ENCRYPT_HELP[] =
    "usage: mc2 encrypt --schema S.yaml --in DATA --out T.mc2t [options]\n\n"
    "Encrypts a CSV file (with a header row) or a TPC-H .tbl file into an encrypted table\n"
    "under this party's data key. The schema (column names and types) is sealed inside.\n\n"
    "  --schema FILE        column names and types (YAML; see docs/format.md)\n"
    "  --in FILE            input text file\n"
    "  --out FILE           encrypted table to write (atomically: never half-written)\n"
    "  --format csv|tbl     input format (default: from the extension, .tbl or csv)\n"
    "  --threads N          worker threads (default: one per core)\n"
    "  --rows-per-block N   rows in each sealed block (default: about 1 MiB per block)\n"
    "  --home DIR           identity directory (default $MC2_HOME or ~/.mc2)\n";

int cmd_encrypt(int argc, char **argv)
{
    table_args a;
    int code;
    if (parse_table_args("encrypt", ENCRYPT_HELP,
                         "schema in out home format threads rows-per-block", argc, argv, &a, &code))
        return code;
    if (!a.schema || !a.in || !a.out)
        return cli_usage("encrypt", "--schema, --in and --out are required");
    mc2_encrypt_opts opts = {0};
    uint64_t threads = 0, rpb = 0;
    if (pick_format("encrypt", a.format, a.in, &opts.format) ||
        (a.threads && cli_parse_uint("encrypt", "--threads", a.threads, 1, 64, &threads)) ||
        (a.rows_per_block &&
         cli_parse_uint("encrypt", "--rows-per-block", a.rows_per_block, 1, 1u << 20, &rpb)))
        return CLI_USAGE;
    opts.threads = (unsigned)threads;
    opts.rows_per_block = (uint32_t)rpb;

    mc2_err err;
    mc2_err_clear(&err);
    mc2_identity id;
    mc2_schema *schema = NULL;
    if (mc2_schema_load(a.schema, &schema, &err)) return cli_fail(&err);
    if (load_identity(a.home, &id, &err)) {
        mc2_schema_free(schema);
        return cli_fail(&err);
    }
    cli_progress bar;
    cli_progress_init(&bar, "encrypting");
    opts.progress = cli_progress_update;
    opts.progress_ctx = &bar;
    mc2_table_stats st = {0};
    int rc = mc2_table_encrypt_file(a.in, schema, id.data_key, a.out, &opts, &st, &err);
    cli_progress_done(&bar);
    mc2_identity_free(&id);
    mc2_schema_free(schema);
    if (rc) return cli_fail(&err);
    char b1[32], b2[32];
    printf("encrypted %llu rows in %llu blocks: %s (%s) -> %s (%s)\n", (unsigned long long)st.rows,
           (unsigned long long)st.blocks, a.in, cli_bytes(st.in_bytes, b1, sizeof b1), a.out,
           cli_bytes(st.out_bytes, b2, sizeof b2));
    return CLI_OK;
}

static const char DECRYPT_HELP[] =
    "usage: mc2 decrypt --in T.mc2t --out DATA [--format csv|tbl] [--home DIR]\n\n"
    "Decrypts an encrypted table with this party's data key. Every block is authenticated;\n"
    "if anything was modified, reordered, dropped or mixed in from another table, decryption\n"
    "stops with an error and no output file appears.\n\n"
    "  --format csv|tbl     output format (default: from the extension, .tbl or csv)\n";

int cmd_decrypt(int argc, char **argv)
{
    table_args a;
    int code;
    if (parse_table_args("decrypt", DECRYPT_HELP, "in out home format", argc, argv, &a, &code))
        return code;
    if (!a.in || !a.out) return cli_usage("decrypt", "--in and --out are required");
    enum mc2_textfmt fmt;
    if (pick_format("decrypt", a.format, a.out, &fmt)) return CLI_USAGE;

    mc2_err err;
    mc2_err_clear(&err);
    mc2_identity id;
    if (load_identity(a.home, &id, &err)) return cli_fail(&err);
    mc2_table_stats st = {0};
    int rc = mc2_table_decrypt_file(a.in, id.data_key, a.out, fmt, &st, &err);
    mc2_identity_free(&id);
    if (rc) return cli_fail(&err);
    printf("decrypted %llu rows from %llu blocks -> %s\n", (unsigned long long)st.rows,
           (unsigned long long)st.blocks, a.out);
    return CLI_OK;
}

static const char INSPECT_HELP[] =
    "usage: mc2 inspect --in T.mc2t [--home DIR]\n\n"
    "Authenticates an encrypted table's header with this party's data key and prints its\n"
    "table id, row and block counts, and schema. Blocks are not read.\n";

int cmd_inspect(int argc, char **argv)
{
    table_args a;
    int code;
    if (parse_table_args("inspect", INSPECT_HELP, "in home", argc, argv, &a, &code)) return code;
    if (!a.in) return cli_usage("inspect", "--in is required");

    mc2_err err;
    mc2_err_clear(&err);
    int rc = CLI_FAIL, fd = -1;
    char *yaml = NULL;
    mc2_tsrc *src = NULL;
    mc2_tio io;
    mc2_identity id;
    if (load_identity(a.home, &id, &err)) return cli_fail(&err);
    fd = open(a.in, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "mc2: cannot open '%s': %m\n", a.in);
        goto out;
    }
    if (mc2_tio_fd(fd, &io, &err) || mc2_tsrc_open(&io, id.data_key, 256u << 20, &src, &err))
        goto fail;
    const mc2_thdr *h = mc2_tsrc_header(src);
    if (mc2_schema_to_yaml(h->schema, &yaml, &err)) goto fail;
    char tid[2 * MC2_TABLE_ID_LEN + 1];
    mc2_hex_encode(h->table_id, sizeof h->table_id, tid);
    printf("file:           %s\nformat version: %u\ntable id:       %s\n", a.in, h->version, tid);
    if (h->version == 2) printf("table version:  %llu\n", (unsigned long long)h->table_version);
    printf("rows:           %llu\nblocks:         %llu (%s%u rows each)\nschema:\n%s",
           (unsigned long long)h->row_count, (unsigned long long)h->block_count,
           h->version == 2 ? "at most " : "", h->rows_per_block, yaml);
    rc = CLI_OK;
    goto out;
fail:
    mc2_err_prefix(&err, "'%s': ", a.in);
    rc = cli_fail(&err);
out:
    mc2_tsrc_free(src);
    if (fd >= 0) close(fd);
    mc2_free(yaml);
    mc2_identity_free(&id);
    return rc;
}
