/* tpch.h - the TPC-H data generator: the eight tables of the TPC-H specification (clause 4.2)
 * as dbgen-style .tbl files ('|'-delimited, a trailing '|' on every line), deterministic by
 * seed, generated in parallel. docs/tpch.md says what it produces and how it differs from
 * dbgen. */
#ifndef MC2_TPCH_TPCH_H
#define MC2_TPCH_TPCH_H

#include <stdint.h>

#include "mc2/err.h"

/* The tables, in the order they are generated. */
enum mc2_tpch_table {
    MC2_TPCH_REGION,
    MC2_TPCH_NATION,
    MC2_TPCH_SUPPLIER,
    MC2_TPCH_CUSTOMER,
    MC2_TPCH_PART,
    MC2_TPCH_PARTSUPP,
    MC2_TPCH_ORDERS,
    MC2_TPCH_LINEITEM,
    MC2_TPCH_NTABLES
};

#define MC2_TPCH_SF_MIN       0.001 /* 10 suppliers, 200 parts, 150 customers, 1500 orders */
#define MC2_TPCH_SF_MAX       100000.0
#define MC2_TPCH_DEFAULT_SEED 1

/* The table's name ("lineitem"); its file is "<name>.tbl". */
const char *mc2_tpch_table_name(enum mc2_tpch_table t);

typedef struct mc2_tpch_opts {
    double sf;        /* scale factor, MC2_TPCH_SF_MIN .. MC2_TPCH_SF_MAX */
    uint64_t seed;    /* same seed and sf: byte-identical files, whatever the thread count */
    unsigned threads; /* generator threads; 0: one per online core */
    int overwrite;    /* replace existing .tbl files (otherwise that is an error) */
    /* Called now and then from the calling thread with bytes written and the estimated
     * total (done may pass total near the end); may be NULL. */
    void (*progress)(void *ctx, uint64_t done, uint64_t total);
    void *progress_ctx;
} mc2_tpch_opts;

typedef struct mc2_tpch_stats {
    uint64_t rows[MC2_TPCH_NTABLES];
    uint64_t bytes[MC2_TPCH_NTABLES];
} mc2_tpch_stats;

/* Row counts of every table but lineitem for scale factor sf (lineitem's count depends on
 * the seed: 1 to 7 lines per order, about 4 on average); counts[MC2_TPCH_LINEITEM] = 0. */
void mc2_tpch_counts(double sf, uint64_t counts[MC2_TPCH_NTABLES]);

/* Writes the eight files <dir>/<table>.tbl, creating dir if missing (not its parents). Each
 * file goes to a temporary name and all eight are renamed into place only after every one
 * was written in full: when generation or writing fails none of them appears (files
 * already there are left as they were). Errors: MC2_E_USAGE for a bad sf, MC2_E_EXISTS for
 * an existing file without overwrite, MC2_E_IO, MC2_E_NOMEM. st may be NULL. */
int mc2_tpch_generate(const char *dir, const mc2_tpch_opts *opts, mc2_tpch_stats *st,
                      mc2_err *err) MC2_WUR;

#endif
