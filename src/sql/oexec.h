/* oexec.h - TRUSTED: oblivious mode's executor. Runs a physical plan (plan.h) with the
 * oblivious operators of src/obliv (op.h) instead of the vectorized executor, so that the
 * sequence of branches and memory addresses depends only on the query, the public sizes
 * (input row counts, and under OBLIV_REVEAL each operator's output size) and never on the
 * data (docs/sql.md, "Oblivious mode"; docs/security.md).
 *
 * How a plan maps (docs/sql.md has the list of what is not supported):
 *   SCAN             of an encrypted table (a reader input): each block authenticated and
 *                    decrypted (mc2_treader_next_raw), its plaintext decoded obliviously
 *                    straight into fixed-width rows (obliv/decode.h; the scanned columns
 *                    only), one declassified bit per block "valid"; of in-memory batches:
 *                    obliv_rows_from_batch
 *   VALUES           the vectorized executor (constants: public), obliv_rows_from_batch
 *   FILTER, PROJECT  obliv_filter / obliv_project with expressions compiled to constant-time
 *                    programs (expr.h); a SUBSTRING inside a predicate is first projected into
 *                    a column of its own
 *   HASH_JOIN        INNER: obliv_equi_join, or obliv_pkfk_join when the planner marked a side
 *                    unique on the keys (mc2_pn_join_set_unique: a declared primary key, GROUP
 *                    BY or DISTINCT; a duplicate fails the job with MC2_E_INPUT, one bit),
 *                    + the residual as a filter; SEMI/ANTI without a
 *                    residual: obliv_semi_join; SEMI/ANTI with a residual and LEFT/RIGHT: the
 *                    preserved side gets a row-id column, matches are computed as for INNER,
 *                    and a semi/anti join on the row ids finds the matched/unmatched rows;
 *                    a prefilter (mc2_pn_join_set_prefilter): its left child only
 *   NL_JOIN          obliv_cross_join (all pairs, public count), composed as above
 *   AGG              obliv_group_by / obliv_distinct; AVG of exact types as SUM / COUNT with
 *                    encryption mode's exact rounding; aggregates over DISTINCT values via a
 *                    DISTINCT below the grouping
 *   SORT, LIMIT      obliv_order_by, obliv_limit
 *   SETOP            UNION [ALL]
 * Anything else fails before any row is read with MC2_E_INPUT and a message starting
 * "not supported in oblivious mode: ".
 *
 * Leakage: input sizes are public. OBLIV_REVEAL makes each operator's output size public;
 * OBLIV_PAD pads every operator's output to pad_rows (a public bound from the job) and fails
 * with MC2_E_LIMIT when a true size exceeds it. In both policies the final result holds
 * exactly its real rows: its size is visible to the host as the result table's size. */
#ifndef MC2_SQL_OEXEC_H
#define MC2_SQL_OEXEC_H

#include <stddef.h>

#include "mc2/err.h"
#include "mc2/table.h"
#include "obliv/rows.h"
#include "sql/plan.h"

typedef struct mc2_oexec_opts {
    enum obliv_leak leak; /* OBLIV_REVEAL (default) or OBLIV_PAD */
    size_t pad_rows;      /* OBLIV_PAD: the public bound of every operator's output */
    unsigned threads;     /* for the oblivious sorts (a power of two; 0: 2) */
    size_t mem_cap;       /* bytes the process may hold during the run (mc2_alloc_set_cap;
                           * 0: no cap); beyond it the run fails with MC2_E_LIMIT, whose
                           * message names the cap. Every allocation size is a function of
                           * public sizes, so where it fails reveals nothing more. */
} mc2_oexec_opts;

/* Checks that every operator and expression of the plan rooted at root has an oblivious
 * implementation. Returns 0, or -1 with MC2_E_INPUT "not supported in oblivious mode: ...".
 * Reads no data. */
int mc2_oexec_check(const mc2_pnode *root, mc2_err *err) MC2_WUR;

/* Runs the plan obliviously over inputs[0..ninputs) (as for mc2_exec_open; p, the inputs
 * and root must outlive the call) and returns the result rows in *out, a new batch of
 * root's schema (at most max_rows rows, else MC2_E_LIMIT). opts may be NULL (REVEAL). */
int mc2_oexec_run(mc2_plan *p, mc2_pnode *root, const mc2_exec_input *inputs, size_t ninputs,
                  const mc2_oexec_opts *opts, size_t max_rows, mc2_batch **out,
                  mc2_err *err) MC2_WUR;

#endif
