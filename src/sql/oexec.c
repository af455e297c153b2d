/* oexec.c - TRUSTED: oblivious mode's executor (oexec.h). Walks the physical plan and runs
 * each operator with src/obliv; every decision here is taken from the plan (public) or from
 * public sizes, never from a value. */
#include "sql/oexec.h"

#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "obliv/decode.h"
#include "obliv/op.h"
#include "sql/exec_int.h"
#include "table/treader.h"
#include "table/tsrc.h"

#define OX_MAXINS            512 /* instructions of one compiled expression */
#define OX_MAXSUB            8   /* SUBSTRINGs projected into columns for one expression list */
#define OX_MAXLIKE           32
#define MC2_OEXEC_MAX_INPUTS 64    /* MC2_JOB_MAX_INPUTS and more */
#define SCAN_ROWS            65536 /* rows per batch while converting a scan */

static int unsupported(mc2_err *err, const char *what)
{
    return mc2_err_set(err, MC2_E_INPUT, "not supported in oblivious mode: %s", what);
}

/* ---- expressions ------------------------------------------------------------------------- */

/* One compiled expression list's state: the program being built, the LIKE patterns it owns,
 * and the SUBSTRING expressions that are projected into extra columns first. */
typedef struct oprog {
    struct obliv_xins ins[OX_MAXINS];
    size_t n;
    struct obliv_like *likes[OX_MAXLIKE];
    size_t nlikes;
    const mc2_pexpr *sub[OX_MAXSUB];
    uint32_t subcol[OX_MAXSUB];
    size_t nsub;
    uint32_t base; /* columns of the input row; extra (SUBSTRING) columns come after */
    /* pexpr column c is layout column c + (c >= shift_from ? 1 : 0): a row-id column
     * inserted at shift_from (UINT32_MAX: none) */
    uint32_t shift_from;
    uint32_t drop; /* and minus drop: an expression over (left ++ right) run on right alone */
} oprog;

static void prog_init(oprog *g, uint32_t base)
{
    memset(g, 0, sizeof *g);
    g->base = base;
    g->shift_from = UINT32_MAX;
}

static void prog_free(oprog *g)
{
    for (size_t i = 0; i < g->nlikes; i++) obliv_like_free(g->likes[i]);
    g->nlikes = 0;
}

static int emit(oprog *g, struct obliv_xins x, mc2_err *err)
{
    if (g->n >= OX_MAXINS) return unsupported(err, "an expression this large");
    g->ins[g->n++] = x;
    return 0;
}

static int emit_op(oprog *g, enum obliv_xop op, mc2_err *err)
{
    return emit(g, (struct obliv_xins){.op = op}, err);
}

static int emit_k(oprog *g, int64_t k, mc2_err *err)
{
    return emit(g, (struct obliv_xins){.op = OX_CONST, .k = k}, err);
}

static uint32_t map_col(const oprog *g, unsigned c)
{
    return (uint32_t)c + (c >= g->shift_from ? 1u : 0u) - g->drop;
}

/* 10^k, k <= 18 (callers check: a wide DECIMAL's larger scale differences are refused). */
static int64_t pow10s(unsigned k)
{
    int64_t r = 1;
    if (k > 18) MC2_PANIC("oexec: 10^k above 10^18");
    while (k--) r *= 10;
    return r;
}

static unsigned scale_of(const mc2_coltype *t)
{
    return mc2_type_is_decimal(t->id) ? t->scale : 0;
}

/* INT64 and both DECIMALs: a wide DECIMAL (DEC128) is held in one word here, like DECIMAL;
 * results are checked against 10^18 (OX_CHECK_DEC) as for DECIMAL (docs/sql.md). */
static int is_exact(enum mc2_type t)
{
    return t == MC2_T_INT64 || mc2_type_is_decimal(t);
}

/* Is e a SUBSTRING this executor can project into a column: SUBSTRING(col, start >= 1
 * [, count >= 0]) with constant bounds. */
static int is_substr(const mc2_pexpr *e)
{
    if (e->kind != MC2_PX_FUNC || e->op != MC2_PF_SUBSTRING || e->nargs < 2) return 0;
    if (e->args[0]->kind != MC2_PX_COL) return 0;
    for (unsigned i = 1; i < e->nargs; i++)
        if (e->args[i]->kind != MC2_PX_CONST || e->args[i]->val.null ||
            e->args[i]->type.id != MC2_T_INT64)
            return 0;
    return e->args[1]->val.i >= 1 && (e->nargs < 3 || e->args[2]->val.i >= 0);
}

/* Finds the SUBSTRINGs in e (collect) and checks VARCHAR-valued sub-expressions. */
static int collect_subs(oprog *g, const mc2_pexpr *e, mc2_err *err)
{
    if (e->type.id == MC2_T_VARCHAR && e->kind != MC2_PX_COL && e->kind != MC2_PX_CONST) {
        if (!is_substr(e)) return unsupported(err, "a computed VARCHAR value other than SUBSTRING");
        for (size_t i = 0; i < g->nsub; i++)
            if (g->sub[i] == e) return 0;
        if (g->nsub >= OX_MAXSUB) return unsupported(err, "this many SUBSTRINGs");
        g->subcol[g->nsub] = g->base + (uint32_t)g->nsub;
        g->sub[g->nsub++] = e;
        return 0;
    }
    for (unsigned i = 0; i < e->nargs; i++)
        if (collect_subs(g, e->args[i], err)) return -1;
    return 0;
}

/* The layout column holding the VARCHAR value e (a column or a projected SUBSTRING). */
static int str_col(const oprog *g, const mc2_pexpr *e, uint32_t *col)
{
    if (e->kind == MC2_PX_COL) {
        *col = map_col(g, e->col);
        return 0;
    }
    for (size_t i = 0; i < g->nsub; i++)
        if (g->sub[i] == e) {
            *col = g->subcol[i];
            return 0;
        }
    return -1;
}

static int cx(oprog *g, const mc2_pexpr *e, mc2_err *err);

/* Emits a conversion of the top of the stack from type f to type t (CAST's rules). */
static int convert(oprog *g, const mc2_coltype *f, const mc2_coltype *t, mc2_err *err)
{
    unsigned fs = scale_of(f), ts = scale_of(t);
    if (f->id == t->id && fs == ts) return 0;
    switch (t->id) {
    case MC2_T_INT64:
        if (f->id == MC2_T_BOOL) return 0;
        if (mc2_type_is_decimal(f->id) && fs <= 18) /* rounded half away from zero */
            return emit_k(g, pow10s(fs), err) ||
                   emit(g, (struct obliv_xins){.op = OX_DIV, .k = 1}, err);
        break;
    case MC2_T_DECIMAL:
    case MC2_T_DEC128:
        if (!is_exact(f->id) || (ts > fs ? ts - fs : fs - ts) > 18) break;
        if (ts >= fs)
            return emit_k(g, pow10s(ts - fs), err) || emit_op(g, OX_MUL, err) ||
                   emit_op(g, OX_CHECK_DEC, err);
        return emit_k(g, pow10s(fs - ts), err) ||
               emit(g, (struct obliv_xins){.op = OX_DIV, .k = 1}, err);
    case MC2_T_DOUBLE:
        if (is_exact(f->id)) return emit(g, (struct obliv_xins){.op = OX_I2F, .k = fs}, err);
        break;
    case MC2_T_BOOL:
        if (f->id == MC2_T_INT64) return emit_k(g, 0, err) || emit_op(g, OX_NE, err);
        break;
    case MC2_T_DATE:
    case MC2_T_VARCHAR:
        break;
    }
    return unsupported(err, "this CAST");
}

static int cx_as(oprog *g, const mc2_pexpr *e, const mc2_coltype *t, mc2_err *err)
{
    return cx(g, e, err) || convert(g, &e->type, t, err);
}

static enum obliv_xop cmp_op(int op)
{
    switch (op) {
    case MC2_PX_EQ:
        return OX_EQ;
    case MC2_PX_NE:
        return OX_NE;
    case MC2_PX_LT:
        return OX_LT;
    case MC2_PX_LE:
        return OX_LE;
    case MC2_PX_GT:
        return OX_GT;
    default:
        return OX_GE;
    }
}

static int cx_strcmp(oprog *g, const mc2_pexpr *e, mc2_err *err)
{
    const mc2_pexpr *a = e->args[0], *b = e->args[1];
    int op = e->op;
    uint32_t ca, cb;
    if (a->kind == MC2_PX_CONST) {
        const mc2_pexpr *t = a;
        a = b, b = t;
        op = (int)mc2_px_cmp_flip((enum mc2_px_cmp)op);
    }
    if (str_col(g, a, &ca)) return unsupported(err, "a comparison of two VARCHAR constants");
    if (b->kind == MC2_PX_CONST) {
        if (b->val.null) /* NULL: every row NULL */
            return emit(g, (struct obliv_xins){.op = OX_CONST, .isnull = 1}, err);
        if (b->val.slen > UINT32_MAX) return unsupported(err, "a string constant this long");
        struct obliv_xins x = {.op = OX_STR_CMP,
                               .col = ca,
                               .k = op,
                               .str = b->val.s ? b->val.s : "",
                               .len = (uint32_t)b->val.slen};
        if (op == MC2_PX_EQ || op == MC2_PX_NE) {
            /* OX_STR_EQ compares the padded words: a constant longer than the column cannot
             * be equal; OX_STR_CMP handles that case. */
            x.op = OX_STR_EQ;
            x.k = 0;
            if (emit(g, x, err)) return -1;
            return op == MC2_PX_NE ? emit_op(g, OX_NOT, err) : 0;
        }
        return emit(g, x, err);
    }
    if (str_col(g, b, &cb)) return unsupported(err, "this VARCHAR comparison");
    return emit(g, (struct obliv_xins){.op = OX_STR_CMP, .col = ca, .col2 = cb, .k = op}, err);
}

/* CASE args[i..]: when, then, ..., else; emitted as nested selects. */
static int cx_case(oprog *g, const mc2_pexpr *e, unsigned i, mc2_err *err)
{
    if (i + 1 == e->nargs) return cx_as(g, e->args[i], &e->type, err);
    return cx(g, e->args[i], err) || cx_as(g, e->args[i + 1], &e->type, err) ||
           cx_case(g, e, i + 2, err) || emit_op(g, OX_CASE, err);
}

/* COALESCE args[i..]. */
static int cx_coalesce(oprog *g, const mc2_pexpr *e, unsigned i, mc2_err *err)
{
    if (i + 1 == e->nargs) return cx_as(g, e->args[i], &e->type, err);
    return cx(g, e->args[i], err) || emit(g, (struct obliv_xins){.op = OX_ISNULL, .k = 1}, err) ||
           cx_as(g, e->args[i], &e->type, err) || cx_coalesce(g, e, i + 1, err) ||
           emit_op(g, OX_CASE, err);
}

static int cx_func(oprog *g, const mc2_pexpr *e, mc2_err *err)
{
    const mc2_pexpr *a = e->nargs ? e->args[0] : NULL;
    switch (e->op) {
    case MC2_PF_EXTRACT: {
        enum obliv_xop op = e->aux == MC2_PX_YEAR    ? OX_YEAR
                            : e->aux == MC2_PX_MONTH ? OX_MONTH
                                                     : OX_DAY;
        return cx(g, a, err) || emit_op(g, op, err);
    }
    case MC2_PF_DATE_ADD:
        if (cx(g, a, err)) return -1;
        if (e->aux2 == MC2_PX_DAY) return emit_k(g, e->aux, err) || emit_op(g, OX_ADD, err);
        if (e->aux < -1200000 || e->aux > 1200000) return unsupported(err, "this INTERVAL");
        return emit(g,
                    (struct obliv_xins){.op = OX_ADD_MONTHS,
                                        .k = e->aux2 == MC2_PX_YEAR ? 12 * e->aux : e->aux},
                    err);
    case MC2_PF_COALESCE:
        if (e->type.id == MC2_T_VARCHAR) break;
        return cx_coalesce(g, e, 0, err);
    case MC2_PF_ABS:
        if (e->type.id == MC2_T_DOUBLE) {
            double m1 = -1.0;
            int64_t bits;
            memcpy(&bits, &m1, 8);
            return cx(g, a, err) || emit_op(g, OX_F2ORD, err) || emit_k(g, 0, err) ||
                   emit_op(g, OX_LT, err) || cx(g, a, err) || emit_k(g, bits, err) ||
                   emit_op(g, OX_FMUL, err) || cx(g, a, err) || emit_op(g, OX_CASE, err);
        }
        return cx(g, a, err) || emit_k(g, 0, err) || emit_op(g, OX_LT, err) || cx(g, a, err) ||
               emit_op(g, OX_NEG, err) || cx(g, a, err) || emit_op(g, OX_CASE, err);
    case MC2_PF_ROUND: {
        if (cx(g, a, err)) return -1;
        if (e->type.id == MC2_T_INT64) return 0;
        if (!mc2_type_is_decimal(e->type.id)) break;
        if (e->aux >= (int64_t)e->type.scale) return 0;
        if (e->type.scale - e->aux > 18) break;
        int64_t f = pow10s(e->type.scale - (unsigned)e->aux);
        return emit_k(g, f, err) || emit(g, (struct obliv_xins){.op = OX_DIV, .k = 1}, err) ||
               emit_k(g, f, err) || emit_op(g, OX_MUL, err);
    }
    default:
        break;
    }
    return unsupported(err, "this function");
}

static int cx(oprog *g, const mc2_pexpr *e, mc2_err *err)
{
    switch (e->kind) {
    case MC2_PX_COL:
        if (e->type.id == MC2_T_VARCHAR)
            return unsupported(err, "a VARCHAR value outside a comparison or LIKE");
        return emit(g, (struct obliv_xins){.op = OX_COL, .col = map_col(g, e->col)}, err);
    case MC2_PX_CONST: {
        if (e->type.id == MC2_T_VARCHAR && !e->val.null)
            return unsupported(err, "a VARCHAR constant outside a comparison");
        int64_t k = e->val.i;
        if (e->type.id == MC2_T_DOUBLE) memcpy(&k, &e->val.f, 8);
        return emit(
            g, (struct obliv_xins){.op = OX_CONST, .k = e->val.null ? 0 : k, .isnull = e->val.null},
            err);
    }
    case MC2_PX_ARITH: {
        if (e->type.id == MC2_T_DOUBLE) {
            static const enum obliv_xop fop[] = {0, OX_FADD, OX_FSUB, OX_FMUL, OX_FDIV};
            if (e->op == MC2_PX_NEG) {
                double m1 = -1.0;
                int64_t bits;
                memcpy(&bits, &m1, 8);
                return cx(g, e->args[0], err) || emit_k(g, bits, err) || emit_op(g, OX_FMUL, err);
            }
            if (e->op == MC2_PX_MOD) return unsupported(err, "% on DOUBLE");
            return cx(g, e->args[0], err) || cx(g, e->args[1], err) || emit_op(g, fop[e->op], err);
        }
        int rc;
        switch (e->op) {
        case MC2_PX_NEG:
            rc = cx(g, e->args[0], err) || emit_op(g, OX_NEG, err);
            break;
        case MC2_PX_DIV:
            if (e->aux > 18)
                return unsupported(err, "a DECIMAL quotient scaled by more than 10^18");
            rc = cx(g, e->args[0], err) || cx(g, e->args[1], err) ||
                 emit(g, (struct obliv_xins){.op = OX_DIV, .k = pow10s((unsigned)e->aux)}, err);
            break;
        default: {
            static const enum obliv_xop iop[] = {0, OX_ADD, OX_SUB, OX_MUL, 0, OX_MOD};
            rc = cx(g, e->args[0], err) || cx(g, e->args[1], err) || emit_op(g, iop[e->op], err);
            break;
        }
        }
        if (rc) return -1;
        return mc2_type_is_decimal(e->type.id) ? emit_op(g, OX_CHECK_DEC, err) : 0;
    }
    case MC2_PX_CMP: {
        enum mc2_type t = e->args[0]->type.id;
        if (t == MC2_T_VARCHAR) return cx_strcmp(g, e, err);
        if (t == MC2_T_DOUBLE)
            return cx(g, e->args[0], err) || emit_op(g, OX_F2ORD, err) || cx(g, e->args[1], err) ||
                   emit_op(g, OX_F2ORD, err) || emit_op(g, cmp_op(e->op), err);
        return cx(g, e->args[0], err) || cx(g, e->args[1], err) || emit_op(g, cmp_op(e->op), err);
    }
    case MC2_PX_AND:
    case MC2_PX_OR:
        if (cx(g, e->args[0], err)) return -1;
        for (unsigned i = 1; i < e->nargs; i++)
            if (cx(g, e->args[i], err) || emit_op(g, e->kind == MC2_PX_AND ? OX_AND : OX_OR, err))
                return -1;
        return 0;
    case MC2_PX_NOT:
        return cx(g, e->args[0], err) || emit_op(g, OX_NOT, err);
    case MC2_PX_IS_NULL: {
        const mc2_pexpr *a = e->args[0];
        if (a->type.id == MC2_T_VARCHAR) {
            uint32_t c;
            if (str_col(g, a, &c)) return unsupported(err, "IS NULL on this VARCHAR value");
            /* c = c is NULL exactly when c is NULL */
            if (emit(g, (struct obliv_xins){.op = OX_STR_CMP, .col = c, .col2 = c, .k = MC2_PX_EQ},
                     err))
                return -1;
        } else if (cx(g, a, err)) {
            return -1;
        }
        return emit(g, (struct obliv_xins){.op = OX_ISNULL, .k = e->negated}, err);
    }
    case MC2_PX_LIKE: {
        uint32_t c;
        if (str_col(g, e->args[0], &c)) return unsupported(err, "LIKE on this value");
        if (g->nlikes >= OX_MAXLIKE) return unsupported(err, "this many LIKEs");
        struct obliv_like *lk = NULL;
        if (obliv_like_compile(e->val.s ? e->val.s : "", e->val.slen, e->escape, &lk, err)) {
            mc2_err_set(err, MC2_E_INPUT, "not supported in oblivious mode: %s", err->msg);
            return -1;
        }
        g->likes[g->nlikes++] = lk;
        return emit(g, (struct obliv_xins){.op = OX_LIKE, .col = c, .like = lk, .k = e->negated},
                    err);
    }
    case MC2_PX_CASE:
        if (e->type.id == MC2_T_VARCHAR) return unsupported(err, "a CASE giving VARCHAR");
        return cx_case(g, e, 0, err);
    case MC2_PX_CAST:
        return cx_as(g, e->args[0], &e->type, err);
    case MC2_PX_FUNC:
        return cx_func(g, e, err);
    case MC2_PX_IN:
        break;
    }
    return unsupported(err, "this expression");
}

/* Compiles e into g's program (after collect_subs) and checks it against lay. */
static int compile(oprog *g, const mc2_pexpr *e, const struct obliv_layout *lay,
                   struct obliv_expr *out, mc2_err *err)
{
    g->n = 0;
    if (cx(g, e, err)) return -1;
    *out = (struct obliv_expr){g->ins, g->n};
    if (lay && obliv_expr_check(out, lay, err)) {
        mc2_err_set(err, MC2_E_INPUT, "not supported in oblivious mode: %s", err->msg);
        return -1;
    }
    return 0;
}

/* ---- the walk ---------------------------------------------------------------------------- */

/* A reader input the plan scans more than once: its blocks' authenticated plaintexts, read
 * once (a reader reads its table once, front to back) and decoded by each scan. */
typedef struct ox {
    mc2_plan *p;
    const mc2_exec_input *in;
    size_t nin;
    struct obliv_opts oo;
} ox;

static int run(ox *x, const mc2_pnode *n, struct obliv_rows *out, mc2_err *err);

/* Sets the layout's column types to the schema's (same kinds and widths: DECIMAL precisions
 * and scales are not part of the word layout). */
static int relabel(struct obliv_rows *r, const mc2_schema *s, mc2_err *err)
{
    if (r->lay.ncols != s->ncols)
        return mc2_err_set(err, MC2_E_INTERNAL, "oblivious mode: %zu columns, plan says %zu",
                           r->lay.ncols, s->ncols);
    for (size_t c = 0; c < s->ncols; c++) {
        const mc2_coltype *t = &s->cols[c].type;
        bool decs = mc2_type_is_decimal(t->id) && mc2_type_is_decimal(r->lay.col[c].type.id);
        if ((t->id != r->lay.col[c].type.id && !decs) ||
            (t->id == MC2_T_VARCHAR && t->length != r->lay.col[c].type.length))
            return unsupported(err, "VARCHAR columns of different lengths in one result column");
        r->lay.col[c].type = *t;
    }
    return 0;
}

/* Converts one block's batch b (an in-memory input, the input's full schema) into rows of
 * the scan's columns and appends them to out. A whole block at a time: its byte size is
 * public (the ciphertext shows it), so the VARCHAR conversion may use it; a slice of a block
 * would reveal the byte count of some of its rows. */
static int scan_block(const mc2_pnode *n, const mc2_batch *b, struct obliv_rows *out, mc2_err *err)
{
    mc2_col cols[OBLIV_MAX_COLS];
    struct obliv_rows part = {0};
    for (size_t k = 0; k < n->schema.ncols; k++) {
        unsigned c = n->cols[k];
        if (c >= b->schema->ncols || b->schema->cols[c].type.id != n->schema.cols[k].type.id)
            return mc2_err_set(err, MC2_E_INPUT, "input %u does not have the scanned schema",
                               n->input);
        cols[k] = b->cols[c];
    }
    mc2_batch v = {.schema = &n->schema, .nrows = b->nrows, .cap = b->cap, .cols = cols};
    int rc = obliv_rows_from_batch(&part, &v, err) || obliv_rows_append(out, &part, err);
    obliv_rows_free(&part);
    return rc ? -1 : 0;
}

/* Checks that a reader input's schema s has the scan's column types (as decoded into rows). */
static int scan_check(const mc2_pnode *n, const mc2_schema *s, mc2_err *err)
{
    for (size_t k = 0; k < n->schema.ncols; k++) {
        unsigned c = n->cols[k];
        const mc2_coltype *t = &n->schema.cols[k].type;
        if (c >= s->ncols || s->cols[c].type.id != t->id ||
            (t->id == MC2_T_VARCHAR && s->cols[c].type.length != t->length))
            return mc2_err_set(err, MC2_E_INPUT, "input %u does not have the scanned schema",
                               n->input);
        if (t->id == MC2_T_DEC128)
            return unsupported(err, "reading a stored DECIMAL column of more than 18 digits");
    }
    return 0;
}

/* The end of one block's oblivious decode (decoded: its result, 0 or -1): the one declassified
 * verdict of the block's validity, then its rows appended to out; an error names the block.
 * Frees part. */
static int scan_block_done(const mc2_pnode *n, const mc2_schema *s, struct obliv_rows *part,
                           int decoded, const uint64_t *ok, uint64_t index, uint64_t count,
                           struct obliv_rows *out, mc2_err *err)
{
    int rc = decoded || obliv_decode_verdict(s, n->cols, n->schema.ncols, ok, err) ? -1 : 0;
    if (rc)
        mc2_err_prefix(err, "block %llu of %llu: ", (unsigned long long)index + 1,
                       (unsigned long long)count);
    else
        rc = obliv_rows_append(out, part, err);
    obliv_rows_free(part);
    return rc ? -1 : 0;
}

/* Decodes one block's authenticated plaintext pt[0..len) (schema s; block `index` of
 * `count`) straight into rows of the scan's columns, obliviously (obliv/decode.h: the
 * branchy batch decoder never sees it), and appends them to out. Only the ONE bit "the block
 * is valid" is declassified (and the v1 section boundaries, docs/security.md); an invalid
 * block fails the query with a message naming the block and column, never a value. */
static int scan_raw(const mc2_pnode *n, const mc2_schema *s, const uint8_t *pt, size_t len,
                    uint32_t rows, uint64_t index, uint64_t count, struct obliv_rows *out,
                    mc2_err *err)
{
    uint64_t ok[1 + OBLIV_MAX_COLS];
    struct obliv_rows part = {0};
    if (obliv_rows_alloc(&part, &out->lay, rows, err)) return -1;
    int rc = obliv_decode_v1(&part, 0, s, n->cols, pt, len, rows, ok, err);
    return scan_block_done(n, s, &part, rc, ok, index, count, out, err);
}

/* Decodes the authenticated chunks of one version-2 block (pt[j] for scan column j of the
 * scan's distinct columns ucols[0..nu)) into rows of the scan's columns, obliviously, with the
 * one declassified bit per block; appends them to out. */
static int scan_raw2(const mc2_pnode *n, const mc2_schema *s, const unsigned *ucols, size_t nu,
                     const uint8_t *const *pt, const size_t *len, uint32_t rows, uint64_t index,
                     uint64_t count, const uint8_t **chunk, size_t *clen, struct obliv_rows *out,
                     mc2_err *err)
{
    uint64_t ok[1 + OBLIV_MAX_COLS];
    struct obliv_rows part = {0};
    for (size_t j = 0; j < nu; j++) {
        chunk[ucols[j]] = pt[j];
        clen[ucols[j]] = len[j];
    }
    if (obliv_rows_alloc(&part, &out->lay, rows, err)) return -1;
    int rc = obliv_decode_v2(&part, 0, s, n->cols, chunk, clen, rows, ok, err);
    return scan_block_done(n, s, &part, rc, ok, index, count, out, err);
}

/* A SCAN of a source (a streaming input, or a format-2 table under a reader): a scan of the
 * scan's distinct columns (format 2 reads only their chunks; format 1 whole blocks), every
 * block in order, decoded obliviously. The scan's own read-ahead and which blocks it reads are
 * functions of public sizes only (no block is skipped). */
static int scan_tsrc(const mc2_pnode *n, mc2_tsrc *src, struct obliv_rows *out, mc2_err *err)
{
    const mc2_thdr *h = mc2_tsrc_header(src);
    const mc2_schema *s = h->schema;
    unsigned ucols[OBLIV_MAX_COLS];
    size_t nu = 0;
    if (scan_check(n, s, err)) return -1;
    for (size_t k = 0; k < n->schema.ncols; k++) {
        size_t j = 0;
        while (j < nu && ucols[j] != n->cols[k]) j++;
        if (j == nu) ucols[nu++] = n->cols[k];
    }
    const uint8_t **chunk = mc2_calloc(s->ncols ? s->ncols : 1, sizeof *chunk);
    size_t *clen = mc2_calloc(s->ncols ? s->ncols : 1, sizeof *clen);
    mc2_tscan *sc = NULL;
    int rc = -1;
    if (!chunk || !clen) {
        mc2_err_set(err, MC2_E_NOMEM, "oblivious mode: out of memory");
        goto out;
    }
    if (mc2_tscan_open(src, ucols, nu, 3, NULL, NULL, &sc, err)) goto out;
    for (;;) {
        const uint8_t *pt[OBLIV_MAX_COLS];
        size_t len[OBLIV_MAX_COLS];
        uint64_t index;
        uint32_t rows;
        int slot;
        int got = mc2_tscan_next_raw(sc, pt, len, &index, &rows, &slot, err);
        if (got < 0) goto out;
        if (got == 0) break;
        int r = h->version == 2
                    ? scan_raw2(n, s, ucols, nu, pt, len, rows, index, h->block_count, chunk, clen,
                                out, err)
                    : scan_raw(n, s, pt[0], len[0], rows, index, h->block_count, out, err);
        mc2_tscan_release(sc, slot);
        if (r) goto out;
    }
    rc = 0;
out:
    mc2_tscan_free(sc);
    mc2_free(chunk);
    mc2_free(clen);
    return rc;
}

/* A SCAN, block by block; VALUES (constants from the query: public) through the vectorized
 * executor. */
static int run_source(ox *x, const mc2_pnode *n, struct obliv_rows *out, mc2_err *err)
{
    mc2_exec *e = NULL;
    mc2_batch *b = NULL;
    struct obliv_rows part = {0};
    int rc = -1;
    struct obliv_layout lay;
    if (n->schema.ncols > OBLIV_MAX_COLS) return unsupported(err, "more than 62 columns");
    if (obliv_layout_from_schema(&lay, &n->schema, err) || obliv_rows_alloc(out, &lay, 0, err))
        return -1;
    if (n->kind == MC2_PN_SCAN) {
        if (n->input >= x->nin) {
            mc2_err_set(err, MC2_E_USAGE, "the plan scans input %u of %zu", n->input, x->nin);
            goto done;
        }
        const mc2_exec_input *in = &x->in[n->input];
        if (in->src) {
            if (scan_tsrc(n, in->src, out, err)) goto done;
        } else if (in->reader) { /* read again through its source: every scan from the start */
            if (scan_tsrc(n, mc2_treader_source(in->reader), out, err)) goto done;
        } else {
            for (size_t i = 0; i < in->nbatches; i++)
                if (scan_block(n, in->batches[i], out, err)) goto done;
        }
        rc = 0;
        goto done;
    }
    /* never a scan here; and were it one, it would read every block (docs/security.md) */
    static const mc2_exec_opts read_all = {.read_all_blocks = true};
    if (mc2_exec_open(x->p, (mc2_pnode *)n, x->in, x->nin, &read_all, &e, err) ||
        !(b = mc2_batch_new(&n->schema, SCAN_ROWS, err)))
        goto done;
    for (;;) {
        int got = mc2_exec_next(e, b, err);
        if (got < 0) goto done;
        if (got == 0) break;
        if (obliv_rows_from_batch(&part, b, err) || obliv_rows_append(out, &part, err)) goto done;
        obliv_rows_free(&part);
    }
    rc = 0;
done:
    obliv_rows_free(&part);
    mc2_batch_free(b);
    mc2_exec_free(e);
    if (rc) obliv_rows_free(out);
    return rc;
}

/* Under OBLIV_PAD an operator's output has dummies; after appending two such outputs the
 * real rows are moved to the front again (a filter on TRUE does exactly that, then the
 * policy). Under OBLIV_REVEAL every row is real already. */
static int compact_true(struct obliv_rows *r, const struct obliv_opts *o, mc2_err *err)
{
    static const struct obliv_xins t = {.op = OX_CONST, .k = 1};
    struct obliv_expr e = {&t, 1};
    return obliv_filter(r, &e, o, err);
}

static int settle(ox *x, struct obliv_rows *r, mc2_err *err)
{
    return x->oo.leak == OBLIV_PAD ? compact_true(r, &x->oo, err) : 0;
}

/* A SUBSTRING bound (>= 0, checked by is_substr) as uint32; beyond is as good as "to the end". */
static uint32_t clamp_u32(int64_t v)
{
    return v > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

/* Projects the SUBSTRINGs collected in g into extra columns after in's columns. */
static int add_subs(const oprog *g, const struct obliv_rows *in, struct obliv_rows *out,
                    mc2_err *err)
{
    struct obliv_proj it[OBLIV_MAX_COLS];
    size_t k = 0;
    if (in->lay.ncols + g->nsub > OBLIV_MAX_COLS) return unsupported(err, "this many columns");
    for (size_t c = 0; c < in->lay.ncols; c++) it[k++] = (struct obliv_proj){.col = (uint32_t)c};
    for (size_t i = 0; i < g->nsub; i++) {
        const mc2_pexpr *e = g->sub[i];
        it[k++] =
            (struct obliv_proj){.kind = OBLIV_PROJ_SUBSTR,
                                .col = map_col(g, e->args[0]->col),
                                .start = clamp_u32(e->args[1]->val.i),
                                .count = e->nargs > 2 ? clamp_u32(e->args[2]->val.i) : UINT32_MAX,
                                .type = e->type};
    }
    return obliv_project(in, it, k, out, err);
}

static int run_filter(ox *x, const mc2_pnode *n, struct obliv_rows *r, mc2_err *err)
{
    oprog g;
    prog_init(&g, (uint32_t)r->lay.ncols);
    struct obliv_rows wide = {0}, back = {0};
    struct obliv_expr e;
    int rc = -1;
    if (collect_subs(&g, n->exprs[0], err)) goto done;
    if (g.nsub == 0) {
        rc = compile(&g, n->exprs[0], &r->lay, &e, err) || obliv_filter(r, &e, &x->oo, err);
        goto done;
    }
    if (add_subs(&g, r, &wide, err) || compile(&g, n->exprs[0], &wide.lay, &e, err) ||
        obliv_filter(&wide, &e, &x->oo, err))
        goto done;
    struct obliv_proj it[OBLIV_MAX_COLS];
    for (size_t c = 0; c < r->lay.ncols; c++) it[c] = (struct obliv_proj){.col = (uint32_t)c};
    if (obliv_project(&wide, it, r->lay.ncols, &back, err)) goto done;
    obliv_rows_free(r);
    *r = back;
    back = (struct obliv_rows){0};
    rc = 0;
done:
    obliv_rows_free(&wide);
    obliv_rows_free(&back);
    prog_free(&g);
    return rc;
}

static int run_project(const mc2_pnode *n, struct obliv_rows *r, mc2_err *err)
{
    if (n->nexprs > OBLIV_MAX_COLS) return unsupported(err, "this many columns");
    oprog g[1];
    prog_init(g, (uint32_t)r->lay.ncols);
    struct obliv_proj it[OBLIV_MAX_COLS];
    struct obliv_rows wide = {0}, res = {0};
    const struct obliv_rows *src = r;
    int rc = -1;
    for (size_t i = 0; i < n->nexprs; i++)
        if (collect_subs(g, n->exprs[i], err)) goto done;
    if (g->nsub) {
        if (add_subs(g, r, &wide, err)) goto done;
        src = &wide;
    }
    size_t used = 0;
    for (size_t i = 0; i < n->nexprs; i++) {
        const mc2_pexpr *e = n->exprs[i];
        uint32_t c;
        if (e->type.id == MC2_T_VARCHAR) {
            if (e->kind == MC2_PX_CONST) {
                rc = unsupported(err, "a VARCHAR constant as an output column");
                goto done;
            }
            if (str_col(g, e, &c)) {
                rc = unsupported(err, "this VARCHAR output column");
                goto done;
            }
            it[i] = (struct obliv_proj){.col = c};
            continue;
        }
        if (e->kind == MC2_PX_COL) {
            it[i] = (struct obliv_proj){.col = map_col(g, e->col)};
            continue;
        }
        /* Every item's program goes into g's one instruction array, item after item. */
        size_t start = g->n = used;
        if (cx(g, e, err)) goto done;
        used = g->n;
        it[i] = (struct obliv_proj){
            .is_expr = 1, .expr = {g->ins + start, g->n - start}, .type = e->type};
        if (obliv_expr_check(&it[i].expr, &src->lay, err)) {
            mc2_err_set(err, MC2_E_INPUT, "not supported in oblivious mode: %s", err->msg);
            goto done;
        }
    }
    if (obliv_project(src, it, n->nexprs, &res, err)) goto done;
    obliv_rows_free(r);
    *r = res;
    res = (struct obliv_rows){0};
    rc = 0;
done:
    obliv_rows_free(&wide);
    obliv_rows_free(&res);
    prog_free(g);
    return rc;
}

/* ---- joins ------------------------------------------------------------------------------- */

static int pick(const struct obliv_rows *in, uint32_t from, uint32_t count, struct obliv_rows *out,
                mc2_err *err)
{
    struct obliv_proj it[OBLIV_MAX_COLS];
    for (uint32_t c = 0; c < count; c++) it[c] = (struct obliv_proj){.col = from + c};
    return obliv_project(in, it, count, out, err);
}

/* out = in's columns and a row-id column (INT64, the row's index: public). */
static int add_rowid(const struct obliv_rows *in, struct obliv_rows *out, mc2_err *err)
{
    mc2_coltype types[OBLIV_MAX_COLS];
    size_t nc = in->lay.ncols;
    if (nc + 1 > OBLIV_MAX_COLS) return unsupported(err, "this many columns");
    for (size_t c = 0; c < nc; c++) types[c] = in->lay.col[c].type;
    types[nc] = (mc2_coltype){.id = MC2_T_INT64};
    struct obliv_layout lay;
    if (obliv_layout_init(&lay, types, nc + 1, err) || obliv_rows_alloc(out, &lay, in->n, err))
        return -1;
    for (size_t i = 0; i < in->n; i++) {
        uint64_t *o = obliv_row(out, i);
        memcpy(o, obliv_row(in, i), in->lay.width * 8);
        o[lay.col[nc].word] = i;
    }
    return 0;
}

/* Rows of `keep` (no row-id) widened with NULL columns of layout `other`: keep's columns
 * first if keep_left, else after other's. valid copied. */
static int pad_nulls(const struct obliv_rows *keep, int keep_left, const struct obliv_layout *other,
                     struct obliv_rows *out, mc2_err *err)
{
    struct obliv_layout lay;
    if ((keep_left ? obliv_layout_concat(&lay, &keep->lay, other, err)
                   : obliv_layout_concat(&lay, other, &keep->lay, err)) ||
        obliv_rows_alloc(out, &lay, keep->n, err))
        return -1;
    size_t kc = keep->lay.ncols, oc = other->ncols, off = keep_left ? 0 : oc;
    uint64_t other_nulls = 0;
    for (size_t c = 0; c < oc; c++) other_nulls |= (uint64_t)1 << (keep_left ? kc + c : c);
    for (size_t i = 0; i < keep->n; i++) {
        const uint64_t *k = obliv_row(keep, i);
        uint64_t *o = obliv_row(out, i);
        o[OBLIV_W_VALID] = k[OBLIV_W_VALID];
        o[OBLIV_W_NULLS] = (k[OBLIV_W_NULLS] << off) | other_nulls;
        for (size_t c = 0; c < kc; c++)
            memcpy(o + lay.col[off + c].word, k + keep->lay.col[c].word,
                   keep->lay.col[c].nwords * 8);
    }
    return 0;
}

/* The equi-join of l and r when the planner knows one side is unique on the keys
 * (mc2_pn_join_set_unique): the PK-FK join, its output (the unique side's columns first)
 * put back in l ++ r order. */
static int pkfk_match(ox *x, const mc2_pnode *n, const struct obliv_rows *l,
                      const struct obliv_rows *r, struct obliv_rows *out, mc2_err *err)
{
    const uint32_t *lk = (const uint32_t *)n->lkeys, *rk = (const uint32_t *)n->rkeys;
    if (n->unique_side == 1) return obliv_pkfk_join(l, lk, r, rk, n->nkeys, out, &x->oo, err);
    size_t nl = l->lay.ncols, nr = r->lay.ncols;
    if (nl + nr > OBLIV_MAX_COLS) return unsupported(err, "this many columns");
    struct obliv_rows t = {0};
    if (obliv_pkfk_join(r, rk, l, lk, n->nkeys, &t, &x->oo, err)) return -1;
    struct obliv_proj it[OBLIV_MAX_COLS];
    for (size_t c = 0; c < nl; c++) it[c] = (struct obliv_proj){.col = (uint32_t)(nr + c)};
    for (size_t c = 0; c < nr; c++) it[nl + c] = (struct obliv_proj){.col = (uint32_t)c};
    int rc = obliv_project(&t, it, nl + nr, out, err);
    obliv_rows_free(&t);
    return rc;
}

/* Pairs of matching rows: the equi-join on the node's keys plus its residual, or the cross
 * join on its condition. The residual/condition's columns are shifted past a row-id column
 * at shift_from (UINT32_MAX: none). */
static int match(ox *x, const mc2_pnode *n, const mc2_pexpr *cond, const struct obliv_rows *l,
                 const struct obliv_rows *r, uint32_t shift_from, struct obliv_rows *out,
                 mc2_err *err)
{
    oprog g;
    prog_init(&g, 0);
    g.shift_from = shift_from;
    struct obliv_expr e;
    struct obliv_layout lay;
    int rc = -1;
    if (cond && collect_subs(&g, cond, err)) goto done;
    if (g.nsub) {
        rc = unsupported(err, "SUBSTRING in a join condition");
        goto done;
    }
    if (obliv_layout_concat(&lay, &l->lay, &r->lay, err)) goto done;
    if (cond && compile(&g, cond, &lay, &e, err)) goto done;
    if (n->kind == MC2_PN_HASH_JOIN) {
        rc = (n->unique_side
                  ? pkfk_match(x, n, l, r, out, err)
                  : obliv_equi_join(l, (const uint32_t *)n->lkeys, r, (const uint32_t *)n->rkeys,
                                    n->nkeys, out, &x->oo, err)) ||
                     (cond && obliv_filter(out, &e, &x->oo, err))
                 ? -1
                 : 0;
    } else {
        rc = obliv_cross_join(l, r, cond ? &e : NULL, out, &x->oo, err);
    }
done:
    prog_free(&g);
    return rc;
}

static void swap_rows(struct obliv_rows *a, struct obliv_rows *b)
{
    struct obliv_rows t = *a;
    *a = *b;
    *b = t;
}

/* Is every column e references >= nl (the right side's)? */
static bool right_only(const mc2_pexpr *e, unsigned nl)
{
    if (e->kind == MC2_PX_COL) return e->col >= nl;
    for (unsigned i = 0; i < e->nargs; i++)
        if (!right_only(e->args[i], nl)) return false;
    return true;
}

/* The join condition's conjuncts that read only the right side are applied to r before the
 * join (valid for INNER, LEFT, SEMI and ANTI joins: a right row failing them matches
 * nothing); *rest gets the remaining condition, or NULL. */
static int push_right(ox *x, const mc2_pnode *n, uint32_t nl, struct obliv_rows *r,
                      const mc2_pexpr **rest, mc2_err *err)
{
    const mc2_pexpr *c = n->exprs[0];
    *rest = c;
    if (n->jt == MC2_JOIN_RIGHT || n->jt == MC2_JOIN_FULL || n->null_aware) return 0;
    mc2_pexpr *const *args = c->kind == MC2_PX_AND ? c->args : (mc2_pexpr *const *)&c;
    unsigned na = c->kind == MC2_PX_AND ? c->nargs : 1, nkeep = 0, npush = 0;
    mc2_pexpr *keep[64], *push[64];
    if (na > 64) return 0;
    for (unsigned i = 0; i < na; i++) {
        if (right_only(args[i], nl))
            push[npush++] = args[i];
        else
            keep[nkeep++] = args[i];
    }
    if (npush == 0) return 0;
    mc2_pexpr *pe = npush == 1 ? push[0] : mc2_px_and(x->p, push, npush);
    *rest = nkeep == 0 ? NULL : nkeep == 1 ? keep[0] : mc2_px_and(x->p, keep, nkeep);
    if (!pe || (nkeep > 1 && !*rest))
        return mc2_err_set(err, MC2_E_NOMEM, "oblivious mode: out of memory for a condition");
    oprog g;
    prog_init(&g, (uint32_t)r->lay.ncols);
    g.drop = nl;
    struct obliv_expr e;
    int rc = collect_subs(&g, pe, err);
    if (rc == 0 && g.nsub) rc = unsupported(err, "SUBSTRING in a join condition");
    if (rc == 0) rc = compile(&g, pe, &r->lay, &e, err) || obliv_filter(r, &e, &x->oo, err);
    prog_free(&g);
    return rc ? -1 : 0;
}

static int run_join(ox *x, const mc2_pnode *n, struct obliv_rows *out, mc2_err *err)
{
    struct obliv_rows l = {0}, r = {0}, kept = {0}, m = {0}, ids = {0}, u = {0}, t = {0};
    int rc = -1;
    enum mc2_join_type jt = n->jt;
    bool hash = n->kind == MC2_PN_HASH_JOIN;
    const mc2_pexpr *cond = NULL;
    if (run(x, n->left, &l, err) || run(x, n->right, &r, err)) goto done;
    uint32_t nl = (uint32_t)l.lay.ncols, nr = (uint32_t)r.lay.ncols;
    if (n->nexprs && push_right(x, n, nl, &r, &cond, err)) goto done;
    if (jt == MC2_JOIN_INNER) {
        rc = match(x, n, cond, &l, &r, UINT32_MAX, out, err);
        goto done;
    }
    if (hash && !cond && jt != MC2_JOIN_RIGHT && jt != MC2_JOIN_FULL) {
        /* SEMI/ANTI, and LEFT's unmatched rows, straight from the keys */
        rc = obliv_semi_join(&l, (const uint32_t *)n->lkeys, &r, (const uint32_t *)n->rkeys,
                             n->nkeys, jt != MC2_JOIN_SEMI, n->null_aware,
                             jt == MC2_JOIN_LEFT ? &t : out, &x->oo, err);
        if (rc || jt != MC2_JOIN_LEFT) goto done;
        rc = -1;
        if (match(x, n, NULL, &l, &r, UINT32_MAX, out, err) || pad_nulls(&t, 1, &r.lay, &u, err) ||
            obliv_union_all(out, &u, err) || settle(x, out, err))
            goto done;
        rc = 0;
        goto done;
    }
    if (n->null_aware) {
        rc = unsupported(err, "NOT IN with a correlated condition");
        goto done;
    }
    if (jt == MC2_JOIN_FULL) {
        rc = unsupported(err, "FULL OUTER JOIN");
        goto done;
    }
    /* The preserved side gets a row id; the matches tell which of its rows matched. */
    bool right = jt == MC2_JOIN_RIGHT;
    uint32_t nk = right ? nr : nl, ridcol = right ? nl + nr : nl;
    if (right ? add_rowid(&r, &kept, err) : add_rowid(&l, &kept, err)) goto done;
    if (right ? match(x, n, cond, &l, &kept, UINT32_MAX, &m, err)
              : match(x, n, cond, &kept, &r, nl, &m, err))
        goto done;
    if (pick(&m, ridcol, 1, &ids, err)) goto done;
    int anti = jt != MC2_JOIN_SEMI;
    if (obliv_semi_join(&kept, &nk, &ids, &(uint32_t){0}, 1, anti, 0, &u, &x->oo, err) ||
        pick(&u, 0, nk, &t, err))
        goto done;
    if (jt == MC2_JOIN_SEMI || jt == MC2_JOIN_ANTI) {
        swap_rows(out, &t);
        rc = 0;
        goto done;
    }
    /* LEFT/RIGHT: the matches without the row id, then the unmatched rows padded. */
    struct obliv_proj it[OBLIV_MAX_COLS];
    size_t k = 0;
    for (uint32_t c = 0; c < nl + nr + 1; c++)
        if (c != ridcol) it[k++] = (struct obliv_proj){.col = c};
    obliv_rows_free(&u);
    if (obliv_project(&m, it, k, out, err) ||
        pad_nulls(&t, !right, right ? &l.lay : &r.lay, &u, err) || obliv_union_all(out, &u, err) ||
        settle(x, out, err))
        goto done;
    rc = 0;
done:
    if (rc) obliv_rows_free(out);
    obliv_rows_free(&l);
    obliv_rows_free(&r);
    obliv_rows_free(&kept);
    obliv_rows_free(&m);
    obliv_rows_free(&ids);
    obliv_rows_free(&u);
    obliv_rows_free(&t);
    return rc;
}

/* ---- aggregation ------------------------------------------------------------------------- */

static int run_agg(ox *x, const mc2_pnode *n, struct obliv_rows *out, mc2_err *err)
{
    struct obliv_rows r = {0}, pre = {0}, g = {0};
    struct obliv_agg ag[OBLIV_MAX_COLS];
    struct obliv_proj post[OBLIV_MAX_COLS];
    struct obliv_xins prog[OBLIV_MAX_COLS][3];
    uint32_t keys[OBLIV_MAX_COLS];
    size_t na = 0, nk = n->nkeys;
    int rc = -1, need_post = 0;
    if (nk + 2 * n->naggs > OBLIV_MAX_COLS) return unsupported(err, "this many aggregates");
    if (run(x, n->left, &r, err)) return -1;
    for (size_t i = 0; i < nk; i++) keys[i] = (uint32_t)i;
    if (n->naggs == 0) { /* DISTINCT: the keys, then obliv_distinct */
        struct obliv_proj it[OBLIV_MAX_COLS];
        for (size_t i = 0; i < nk; i++) it[i] = (struct obliv_proj){.col = n->keys[i]};
        rc = obliv_project(&r, it, nk, out, err) || obliv_distinct(out, &x->oo, err) ? -1 : 0;
        goto done;
    }
    /* Aggregates over DISTINCT values: all on one column c, computed over DISTINCT (keys, c). */
    bool distinct = n->aggs[0].distinct;
    for (size_t i = 0; i < n->naggs; i++)
        if (n->aggs[i].distinct != distinct || (distinct && n->aggs[i].col != n->aggs[0].col)) {
            rc = unsupported(err, "DISTINCT and non-DISTINCT aggregates (or DISTINCT over "
                                  "different columns) in one query block");
            goto done;
        }
    /* pre: the keys, then each aggregate's input column (DISTINCT: the one column, and
     * DISTINCT applied to (keys, column)). */
    struct obliv_proj it[OBLIV_MAX_COLS];
    for (size_t i = 0; i < nk; i++) it[i] = (struct obliv_proj){.col = n->keys[i]};
    size_t np = nk;
    if (distinct) it[np++] = (struct obliv_proj){.col = n->aggs[0].col};
    for (size_t i = 0; i < n->naggs; i++) {
        const mc2_pagg *a = &n->aggs[i];
        uint32_t col = (uint32_t)nk;
        if (!distinct && a->fn != MC2_AGG_COUNT_STAR) {
            col = (uint32_t)np;
            it[np++] = (struct obliv_proj){.col = a->col};
        }
        static const enum obliv_aggfn fn[] = {0,      OA_COUNT_STAR, OA_COUNT, OA_SUM,
                                              OA_AVG, OA_MIN,        OA_MAX};
        ag[na++] = (struct obliv_agg){fn[a->fn], a->fn == MC2_AGG_COUNT_STAR ? 0 : col};
        post[nk + i] = (struct obliv_proj){.col = (uint32_t)(nk + i)};
    }
    for (size_t i = 0; i < nk; i++) post[i] = (struct obliv_proj){.col = (uint32_t)i};
    if (obliv_project(&r, it, np, &pre, err) || (distinct && obliv_distinct(&pre, &x->oo, err)))
        goto done;
    /* Types now known: MIN/MAX of VARCHAR, and AVG of DECIMAL as SUM / COUNT. */
    size_t na2 = na;
    for (size_t i = 0; i < n->naggs; i++) {
        struct obliv_agg *a = &ag[i];
        if (a->fn == OA_COUNT_STAR) continue;
        const mc2_coltype *t = &pre.lay.col[a->col].type;
        if ((a->fn == OA_MIN || a->fn == OA_MAX) && t->id == MC2_T_VARCHAR) {
            rc = unsupported(err, "MIN or MAX of a VARCHAR");
            goto done;
        }
        if ((a->fn == OA_SUM || a->fn == OA_AVG) && t->id == MC2_T_VARCHAR) {
            rc = unsupported(err, "SUM or AVG of a VARCHAR");
            goto done;
        }
        if (a->fn == OA_AVG && mc2_type_is_decimal(t->id)) {
            /* encryption mode: round(sum * 10^(out - in) / count), half away from zero */
            unsigned os = n->schema.cols[nk + i].type.scale, is = t->scale;
            a->fn = OA_SUM;
            ag[na2] = (struct obliv_agg){OA_COUNT, a->col};
            prog[i][0] = (struct obliv_xins){.op = OX_COL, .col = (uint32_t)(nk + i)};
            prog[i][1] = (struct obliv_xins){.op = OX_COL, .col = (uint32_t)(nk + na2)};
            prog[i][2] = (struct obliv_xins){.op = OX_DIV, .k = pow10s(os - is)};
            post[nk + i] = (struct obliv_proj){
                .is_expr = 1, .expr = {prog[i], 3}, .type = n->schema.cols[nk + i].type};
            na2++;
            need_post = 1;
        }
    }
    if (obliv_group_by(&pre, keys, nk, ag, na2, need_post ? &g : out, &x->oo, err)) goto done;
    if (need_post && obliv_project(&g, post, nk + n->naggs, out, err)) goto done;
    rc = 0;
done:
    if (rc) obliv_rows_free(out);
    obliv_rows_free(&r);
    obliv_rows_free(&pre);
    obliv_rows_free(&g);
    return rc;
}

/* ---- the walk ---------------------------------------------------------------------------- */

static int run_node(ox *x, const mc2_pnode *n, struct obliv_rows *out, mc2_err *err)
{
    switch (n->kind) {
    case MC2_PN_SCAN:
    case MC2_PN_VALUES:
        return run_source(x, n, out, err);
    case MC2_PN_FILTER:
        if (run(x, n->left, out, err)) return -1;
        return run_filter(x, n, out, err);
    case MC2_PN_PROJECT:
        if (run(x, n->left, out, err)) return -1;
        return run_project(n, out, err);
    case MC2_PN_HASH_JOIN:
        /* a prefilter only drops rows early (mc2_pn_join_set_prefilter): run without it */
        if (n->prefilter) return run(x, n->left, out, err);
        return run_join(x, n, out, err);
    case MC2_PN_NL_JOIN:
        return run_join(x, n, out, err);
    case MC2_PN_AGG:
        return run_agg(x, n, out, err);
    case MC2_PN_SORT: {
        struct obliv_sortkey k[OBLIV_MAX_COLS];
        if (n->nsort > OBLIV_MAX_COLS) return unsupported(err, "this many sort keys");
        for (size_t i = 0; i < n->nsort; i++)
            k[i] = (struct obliv_sortkey){n->sort[i].col, n->sort[i].desc, n->sort[i].nulls_first};
        return run(x, n->left, out, err) || obliv_order_by(out, k, n->nsort, &x->oo, err) ? -1 : 0;
    }
    case MC2_PN_LIMIT: {
        size_t lim = n->limit < 0 ? SIZE_MAX : (size_t)n->limit;
        return run(x, n->left, out, err) || obliv_limit(out, (size_t)n->offset, lim, &x->oo, err)
                   ? -1
                   : 0;
    }
    case MC2_PN_SETOP: {
        if (n->setop != MC2_SETOP_UNION) return unsupported(err, "INTERSECT or EXCEPT");
        struct obliv_rows r = {0};
        int rc = run(x, n->left, out, err) || run(x, n->right, &r, err) ||
                 relabel(out, &n->schema, err) || relabel(&r, &n->schema, err) ||
                 (n->all ? obliv_union_all(out, &r, err) || settle(x, out, err)
                         : obliv_union(out, &r, &x->oo, err));
        obliv_rows_free(&r);
        return rc ? -1 : 0;
    }
    }
    return mc2_err_set(err, MC2_E_INTERNAL, "oblivious mode: unknown operator");
}

static int run(ox *x, const mc2_pnode *n, struct obliv_rows *out, mc2_err *err)
{
    *out = (struct obliv_rows){0};
    if (run_node(x, n, out, err)) {
        obliv_rows_free(out);
        return -1;
    }
    return relabel(out, &n->schema, err);
}

/* ---- checking a plan without data -------------------------------------------------------- */

static int check_expr(const mc2_pexpr *e, uint32_t base, mc2_err *err)
{
    oprog g;
    prog_init(&g, base);
    int rc = collect_subs(&g, e, err);
    if (rc == 0 && e->type.id == MC2_T_VARCHAR) {
        uint32_t c;
        if (e->kind == MC2_PX_CONST || str_col(&g, e, &c))
            rc = unsupported(err, "this VARCHAR output column");
    } else if (rc == 0) {
        rc = compile(&g, e, NULL, &(struct obliv_expr){0}, err);
    }
    prog_free(&g);
    return rc;
}

int mc2_oexec_check(const mc2_pnode *n, mc2_err *err)
{
    if (n->kind == MC2_PN_HASH_JOIN && n->prefilter) return mc2_oexec_check(n->left, err);
    uint32_t base = n->left ? (uint32_t)n->left->schema.ncols : 0;
    if (n->kind == MC2_PN_HASH_JOIN || n->kind == MC2_PN_NL_JOIN)
        base += (uint32_t)n->right->schema.ncols;
    if (n->kind != MC2_PN_VALUES)
        for (size_t i = 0; i < n->nexprs; i++)
            if (check_expr(n->exprs[i], base, err)) return -1;
    switch (n->kind) {
    case MC2_PN_HASH_JOIN:
    case MC2_PN_NL_JOIN:
        if (n->jt == MC2_JOIN_FULL) return unsupported(err, "FULL OUTER JOIN");
        for (size_t i = 0; n->kind == MC2_PN_HASH_JOIN && i < n->nkeys; i++) {
            const mc2_coltype *a = &n->left->schema.cols[n->lkeys[i]].type,
                              *b = &n->right->schema.cols[n->rkeys[i]].type;
            if (a->id == MC2_T_VARCHAR && a->length != b->length)
                return unsupported(err, "a join on VARCHAR columns of different lengths");
        }
        if (n->null_aware && n->nexprs)
            return unsupported(err, "NOT IN with a correlated condition");
        break;
    case MC2_PN_SETOP:
        if (n->setop != MC2_SETOP_UNION) return unsupported(err, "INTERSECT or EXCEPT");
        break;
    case MC2_PN_AGG:
        for (size_t i = 0; i < n->naggs; i++) {
            const mc2_pagg *a = &n->aggs[i];
            if (a->distinct != n->aggs[0].distinct || (a->distinct && a->col != n->aggs[0].col))
                return unsupported(err, "DISTINCT and non-DISTINCT aggregates (or DISTINCT over "
                                        "different columns) in one query block");
            if (a->fn != MC2_AGG_COUNT_STAR && a->fn != MC2_AGG_COUNT &&
                n->left->schema.cols[a->col].type.id == MC2_T_VARCHAR)
                return unsupported(err, "MIN, MAX, SUM or AVG of a VARCHAR");
        }
        break;
    default:
        break;
    }
    if (n->schema.ncols > OBLIV_MAX_COLS) return unsupported(err, "more than 62 columns");
    if (n->left && mc2_oexec_check(n->left, err)) return -1;
    if (n->right && mc2_oexec_check(n->right, err)) return -1;
    return 0;
}

/* ---- entry ------------------------------------------------------------------------------- */

static int oexec_run(mc2_plan *p, mc2_pnode *root, const mc2_exec_input *inputs, size_t ninputs,
                     const mc2_oexec_opts *opts, size_t max_rows, mc2_batch **out, mc2_err *err);

int mc2_oexec_run(mc2_plan *p, mc2_pnode *root, const mc2_exec_input *inputs, size_t ninputs,
                  const mc2_oexec_opts *opts, size_t max_rows, mc2_batch **out, mc2_err *err)
{
    size_t cap = opts ? opts->mem_cap : 0, prev = 0;
    if (cap) prev = mc2_alloc_set_cap(cap);
    int rc = oexec_run(p, root, inputs, ninputs, opts, max_rows, out, err);
    if (cap) {
        bool hit = mc2_alloc_cap_hit();
        mc2_alloc_set_cap(prev);
        if (rc && hit) {
            mc2_err_clear(err);
            mc2_err_set(err, MC2_E_LIMIT,
                        "oblivious mode: the query needs more memory than the enclave's budget "
                        "of %zu MiB (mc2 start --budget-mb)",
                        cap >> 20);
        }
    }
    return rc;
}

static int oexec_run(mc2_plan *p, mc2_pnode *root, const mc2_exec_input *inputs, size_t ninputs,
                     const mc2_oexec_opts *opts, size_t max_rows, mc2_batch **out, mc2_err *err)
{
    *out = NULL;
    if (mc2_plan_error(p)) return mc2_err_set(err, MC2_E_USAGE, "the plan has an error");
    if (mc2_oexec_check(root, err)) return -1;
    /* Every scan of an input reads it through a source from its start (a scan of its own): an
     * input scanned twice is read twice, never held whole. */
    mc2_exec_input *in = mc2_calloc(ninputs ? ninputs : 1, sizeof *in);
    int rc = -1;
    struct obliv_rows r = {0};
    if (!in) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        goto done;
    }
    if (ninputs > MC2_OEXEC_MAX_INPUTS) {
        mc2_err_set(err, MC2_E_LIMIT, "oblivious mode: more than %d inputs", MC2_OEXEC_MAX_INPUTS);
        goto done;
    }
    if (ninputs) memcpy(in, inputs, ninputs * sizeof *in);
    ox x = {.p = p, .in = in, .nin = ninputs};
    x.oo.leak = opts ? opts->leak : OBLIV_REVEAL;
    x.oo.bound = opts ? opts->pad_rows : 0;
    x.oo.threads = opts && opts->threads ? opts->threads : 2;
    if (run(&x, root, &r, err)) goto done;
    /* The result holds its real rows only: under OBLIV_PAD its size is revealed here. */
    struct obliv_opts fin = x.oo;
    fin.leak = OBLIV_REVEAL;
    if (x.oo.leak == OBLIV_PAD && compact_true(&r, &fin, err)) goto done;
    if (r.n > max_rows) {
        rc = mc2_err_set(err, MC2_E_LIMIT, "the result has more than %zu rows", max_rows);
        goto done;
    }
    mc2_batch *b = mc2_batch_new(&root->schema, r.n ? r.n : 1, err);
    if (!b) goto done;
    for (size_t c = 0; c < root->schema.ncols; c++)
        if (root->schema.cols[c].type.id == MC2_T_VARCHAR &&
            mc2_batch_reserve_chars(b, c, r.n * 4 * (size_t)root->schema.cols[c].type.length + 1,
                                    err)) {
            mc2_batch_free(b);
            goto done;
        }
    if (obliv_rows_to_batch(&r, b, err)) {
        mc2_batch_free(b);
        goto done;
    }
    *out = b;
    rc = 0;
done:
    obliv_rows_free(&r);
    mc2_free(in);
    return rc;
}
