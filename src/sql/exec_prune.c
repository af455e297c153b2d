/* exec_prune.c - the executor's side of block skipping (prune.h): a scan of a streaming input
 * directly below a FILTER reads only the blocks whose statistics the filter's conditions
 * accept. Encryption mode only: the oblivious executor (oexec.c) reads every block. */
#include <string.h>

#include "sql/exec_int.h"
#include "sql/prune.h"

/* mc2_prune_eval_fn: evaluates a column-free expression on one row with the executor's own
 * kernels (so constants mean exactly what they mean to the filter); ctx is a scratch
 * executor with one-row vectors. */
static int eval_const(void *ctx, const mc2_pexpr *e, mc2_pvalue *out)
{
    mc2_exec *x = ctx;
    mc2_err err;
    sx_ex *ex = sx_ex_new(x, e, &err);
    if (!ex) return -1;
    sx_chunk one = {.n = 1, .cols = NULL};
    sx_vec *v;
    int rc = sx_ex_eval(ex, &one, &v, &err);
    if (rc == 0) {
        out->null = v->nulls && v->nulls[0];
        switch (e->type.id) {
        case MC2_T_INT64:
        case MC2_T_DECIMAL:
            out->i = v->v.i64[0];
            break;
        case MC2_T_DOUBLE:
            out->f = v->v.f64[0];
            break;
        case MC2_T_DATE:
            out->i = v->v.i32[0];
            break;
        case MC2_T_BOOL:
            out->i = v->v.b[0];
            break;
        case MC2_T_VARCHAR:
        case MC2_T_DEC128: /* no wide statistics: no condition */
            rc = -1;
            break;
        }
    }
    sx_ex_free(ex);
    return rc;
}

int sx_prune_scan(mc2_exec *x, const mc2_pnode *scan, mc2_prune **out, mc2_err *err)
{
    *out = NULL;
    const mc2_pnode *f = x->prune_filter;
    if (x->read_all || !f || f->kind != MC2_PN_FILTER || f->left != scan || f->nexprs != 1)
        return 0;
    mc2_exec tmp;
    memset(&tmp, 0, sizeof tmp);
    mc2_arena_init(&tmp.arena, 1u << 20); /* a constant that does not fit gives no condition */
    tmp.plan = x->plan;
    tmp.cap = 1;
    tmp.budget = x->budget;
    tmp.threads = 1;
    int rc = mc2_prune_build(f->exprs[0], scan->cols, scan->schema.ncols, eval_const, &tmp,
                             &x->arena, out, err);
    mc2_arena_free(&tmp.arena);
    return rc;
}
