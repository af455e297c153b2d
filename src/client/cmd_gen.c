/* cmd_gen.c - `mc2 gen tpch`: writes the eight TPC-H tables as dbgen-style .tbl files. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "cli.h"
#include "tpch/tpch.h"

static const char GEN_HELP[] =
    "usage: mc2 gen tpch --sf X --out DIR [--seed N] [--threads N] [--force]\n\n"
    "Writes the eight TPC-H tables (region, nation, supplier, customer, part, partsupp,\n"
    "orders, lineitem) as DIR/<table>.tbl in the layout of TPC-H's dbgen ('|'-delimited, a\n"
    "trailing '|' on every line). The same seed and scale factor give byte-identical files.\n"
    "They load with the shipped schemas (installed in PREFIX/share/mc2/schemas/tpch), e.g.\n"
    "  mc2 encrypt --schema %s/lineitem.yaml --in DIR/lineitem.tbl --out l.mc2t\n"
    "Scale factor 1 is about 1 GB (6 million lineitems). See docs/tpch.md.\n\n"
    "  --sf X          scale factor, 0.001 to 100000 (e.g. 0.01, 0.1, 1, 10)\n"
    "  --out DIR       output directory (created if missing; its parent must exist)\n"
    "  --seed N        random seed (default 1)\n"
    "  --threads N     generator threads (default: one per core)\n"
    "  --force         overwrite existing .tbl files in DIR\n";

/* The directory of the shipped TPC-H schemas: installed (<bindir>/../share/mc2/schemas/tpch),
 * else a build directory's copy (<bindir>/schemas/tpch), else the source tree's relative
 * path. Into buf. */
static const char *schema_dir(char *buf, size_t len)
{
    static const char *const REL[] = {"../share/mc2/schemas/tpch", "schemas/tpch"};
    char *bin = cli_bindir();
    for (size_t i = 0; bin && i < 2; i++) {
        snprintf(buf, len, "%s/%s/lineitem.yaml", bin, REL[i]);
        if (access(buf, R_OK) != 0) continue;
        char *real = realpath(buf, NULL);
        if (real) {
            snprintf(buf, len, "%.*s", (int)(strlen(real) - strlen("/lineitem.yaml")), real);
            free(real);
            mc2_free(bin);
            return buf;
        }
    }
    mc2_free(bin);
    snprintf(buf, len, "schemas/tpch");
    return buf;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int cmd_gen(int argc, char **argv)
{
    const char *what = NULL, *sf_s = NULL, *out = NULL, *seed_s = NULL, *threads_s = NULL;
    int force = 0, code;
    const cli_opt opts[] = {CLI_VAL("sf", &sf_s),      CLI_VAL("out", &out),
                            CLI_VAL("seed", &seed_s),  CLI_VAL("threads", &threads_s),
                            CLI_FLAG("force", &force), CLI_END};
    char dir[4096], help[sizeof GEN_HELP + 4096];
    snprintf(help, sizeof help, GEN_HELP, schema_dir(dir, sizeof dir));
    if (cli_parse("gen", help, argc, argv, opts, &what, 1, &code)) return code;
    if (!what) return cli_usage("gen", "say what to generate: `mc2 gen tpch --sf X --out DIR`");
    if (strcmp(what, "tpch") != 0)
        return cli_usage("gen", "unknown generator '%s' (the one there is: tpch)", what);
    if (!sf_s || !out) return cli_usage("gen", "--sf and --out are required");

    char *end;
    errno = 0;
    double sf = strtod(sf_s, &end);
    if (*sf_s == '\0' || *end != '\0' || errno || !isfinite(sf) || sf < MC2_TPCH_SF_MIN ||
        sf > MC2_TPCH_SF_MAX)
        return cli_usage("gen",
                         "--sf wants a scale factor from %g to %g (e.g. 0.01 or 1), not '%s'",
                         MC2_TPCH_SF_MIN, MC2_TPCH_SF_MAX, sf_s);
    uint64_t seed = MC2_TPCH_DEFAULT_SEED, threads = 0;
    if ((seed_s && cli_parse_uint("gen", "--seed", seed_s, 0, UINT64_MAX, &seed)) ||
        (threads_s && cli_parse_uint("gen", "--threads", threads_s, 1, 64, &threads)))
        return CLI_USAGE;

    cli_progress bar;
    cli_progress_init(&bar, "generating");
    mc2_tpch_opts o = {.sf = sf,
                       .seed = seed,
                       .threads = (unsigned)threads,
                       .overwrite = force,
                       .progress = cli_progress_update,
                       .progress_ctx = &bar};
    mc2_tpch_stats st;
    mc2_err err;
    mc2_err_clear(&err);
    double t0 = now_s();
    int rc = mc2_tpch_generate(out, &o, &st, &err);
    cli_progress_done(&bar);
    if (rc) {
        if (err.code == MC2_E_EXISTS) {
            fprintf(stderr, "mc2: %s (use --force to overwrite)\n", err.msg);
            return CLI_FAIL;
        }
        return cli_fail(&err);
    }
    double secs = now_s() - t0;
    uint64_t total = 0;
    for (int t = 0; t < MC2_TPCH_NTABLES; t++) {
        char b[32];
        printf("  %-9s %12llu rows  %10s\n", mc2_tpch_table_name((enum mc2_tpch_table)t),
               (unsigned long long)st.rows[t], cli_bytes(st.bytes[t], b, sizeof b));
        total += st.bytes[t];
    }
    char b[32];
    printf("wrote TPC-H SF %g (seed %llu) to %s: %s in %.1f s (%.0f MB/s)\n", sf,
           (unsigned long long)seed, out, cli_bytes(total, b, sizeof b), secs,
           secs > 0 ? (double)total / 1e6 / secs : 0.0);
    printf("their schemas: %s/<table>.yaml\n", dir);
    return CLI_OK;
}
