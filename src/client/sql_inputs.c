/* sql_inputs.c - which tables `mc2 sql` passes to its job: the table names its query reads
 * (parsed here, before anything is sent), each this party's own table from its catalog, or
 * one of the --input tables it was given; errors name the table, where the query reads it,
 * and the --input options or the spelling that would work (sql_inputs.h). */
#include "client/sql_inputs.h"

#include <assert.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sql/lexer.h"
#include "sql/parser.h"

/* The parser's arena: as much as the enclave allows the same text when it checks a job. */
#define REFS_ARENA (16u << 20)

int cli_sql_refs_parse(const char *file, const char *query, cli_sql_refs *r, mc2_err *err)
{
    memset(r, 0, sizeof *r);
    r->file = file;
    mc2_arena_init(&r->arena, REFS_ARENA);
    mc2_sql_stmt *s;
    int rc = mc2_sql_parse(query, strlen(query), &r->arena, &s, err);
    r->explain = rc == 0 && s->kind == MC2_SQL_S_EXPLAIN;
    if (rc == 0 && mc2_sql_table_refs(s, MC2_JOB_MAX_INPUTS, &r->arena, &r->t, &r->n, err)) {
        char msg[MC2_ERR_MSG_MAX];
        memcpy(msg, err->msg, sizeof msg);
        rc = mc2_err_set(err, err->code, "%s; a job reads at most %d tables", msg,
                         MC2_JOB_MAX_INPUTS);
    }
    if (rc && file) mc2_err_prefix(err, "%s: ", file);
    return rc;
}

void cli_sql_refs_free(cli_sql_refs *r)
{
    mc2_arena_free(&r->arena);
}

/* "FILE: line L, column C" (or without "FILE: ") where the query first reads table i. */
static const char *where(const cli_sql_refs *r, size_t i, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s%sline %u, column %u", r->file ? r->file : "", r->file ? ": " : "",
             r->t[i].pos.line, r->t[i].pos.col);
    return buf;
}

/* Appends to buf[0..cap) (*len so far), silently truncating. */
static void __attribute__((format(printf, 4, 5)))
append(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = *len < cap ? vsnprintf(buf + *len, cap - *len, fmt, ap) : 0;
    va_end(ap);
    if (k > 0) *len = *len + (size_t)k < cap ? *len + (size_t)k : cap;
}

/* ---- did you mean ---------------------------------------------------------------------------- */

/* The known name nearest to `want` ignoring case, if within a third of its length (as the
 * binder suggests: at most 3, none for names of 1-2 letters). */
typedef struct near {
    const char *want;
    unsigned lim, dist;
    const char *best, *owner; /* owner: NULL for this party's own, else whose */
} near;

static void near_init(near *s, const char *want)
{
    size_t n = strlen(want);
    s->want = want;
    s->lim = n <= 2 ? 0 : n / 3 < 1 ? 1 : n / 3 > 3 ? 3 : (unsigned)(n / 3);
    s->dist = s->lim + 1;
    s->best = s->owner = NULL;
}

static void near_try(near *s, const char *cand, const char *owner)
{
    unsigned d = mc2_sql_lex_distance(s->want, strlen(s->want), cand, s->lim);
    if (d < s->dist) {
        s->dist = d;
        s->best = cand;
        s->owner = owner;
    }
}

/* ---- with --input ---------------------------------------------------------------------------- */

int cli_sql_check_named(const cli_sql_refs *r, const char *const *sql, size_t n, mc2_err *err)
{
    for (size_t i = 0; i < r->n; i++) {
        const char *name = r->t[i].name;
        bool found = false;
        near s;
        near_init(&s, name);
        for (size_t k = 0; k < n && !found; k++) {
            found = strcasecmp(sql[k], name) == 0;
            near_try(&s, sql[k], NULL);
        }
        if (found) continue;
        char at[300], hint[200] = "";
        if (s.best) snprintf(hint, sizeof hint, " (did you mean '%s'?)", s.best);
        return mc2_err_set(err, MC2_E_USAGE,
                           "%s: the query reads table '%s', which no --input names%s: add "
                           "--input OWNER/%s (with --input, name every table the query reads)",
                           where(r, i, at, sizeof at), name, hint, name);
    }
    return 0;
}

/* ---- without --input: this party's own tables ------------------------------------------------ */

/* What a name the query reads is here: this party's table (own: its spelling, exact or else
 * the one matching ignoring case; own2: a second spelling matching ignoring case), and how
 * many other parties the service lists with a table of that name (first: one of them). */
typedef struct tclass {
    const char *own, *own2;
    bool exact;
    const cli_listed *first;
    size_t nothers;
} tclass;

static void own_try(tclass *c, const char *cand, const char *name)
{
    if (c->exact || strcasecmp(cand, name) != 0) return;
    if (strcmp(cand, name) == 0) {
        c->own = cand;
        c->exact = true;
    } else if (!c->own) {
        c->own = cand;
    } else if (strcmp(c->own, cand) != 0) {
        c->own2 = cand;
    }
}

/* Looks name up in this party's catalog (this consortium) and the service's listing. */
static void classify(cli_session *cs, const mc2_catalog *cat, const cli_listing *l,
                     const char *name, tclass *c)
{
    memset(c, 0, sizeof *c);
    for (size_t k = 0; k < cat->n; k++)
        if (memcmp(cat->e[k].consortium, cs->policy->hash, MC2_SHA256_LEN) == 0)
            own_try(c, cat->e[k].name, name);
    for (size_t k = 0; k < l->n; k++) {
        if (strcmp(l->t[k].owner, cs->id.name) == 0) {
            own_try(c, l->t[k].name, name);
        } else if (strcasecmp(l->t[k].name, name) == 0) {
            c->first = c->nothers ? c->first : &l->t[k];
            c->nothers++;
        }
    }
}

/* The error for table i of the query, which other parties have but this one does not: the
 * --input options that would run the query when each table it reads is this party's or
 * only one other party's, else what to name. */
static int not_yours(cli_session *cs, const cli_listing *l, const cli_sql_refs *r, const tclass *c,
                     size_t i, mc2_err *err)
{
    const char *name = r->t[i].name;
    char at[300], who[300] = "", run[600] = "", act[800];
    size_t wl = 0, rl = 0;
    bool complete = true;
    for (size_t k = 0; k < l->n; k++)
        if (strcmp(l->t[k].owner, cs->id.name) != 0 && strcasecmp(l->t[k].name, name) == 0)
            append(who, sizeof who, &wl, "%s%s", wl ? ", " : "", l->t[k].owner);
    for (size_t k = 0; k < r->n && complete; k++) {
        complete = c[k].own || c[k].nothers == 1;
        if (complete)
            append(run, sizeof run, &rl, " --input %s/%s",
                   c[k].own ? cs->id.name : c[k].first->owner,
                   c[k].own ? c[k].own : c[k].first->name);
    }
    if (c[i].nothers > 1)
        snprintf(act, sizeof act, "name the one the query reads with --input OWNER/%s", name);
    else if (complete)
        snprintf(act, sizeof act, "run with%s", run);
    else
        snprintf(act, sizeof act, "use --input %s/%s", c[i].first->owner, c[i].first->name);
    return mc2_err_set(err, MC2_E_USAGE,
                       "%s: table '%s' is not one of yours (%s); %s %s a table "
                       "'%s': %s%s",
                       where(r, i, at, sizeof at), name, cs->id.name, who,
                       c[i].nothers > 1 ? "have" : "has", name, act,
                       r->n > 1 ? " (with --input, name every table the query reads)" : "");
}

/* The error for table i of the query, which nobody has. */
static int unknown(cli_session *cs, const mc2_catalog *cat, const cli_listing *l,
                   const cli_sql_refs *r, size_t i, mc2_err *err)
{
    const char *name = r->t[i].name;
    char at[300], hint[700] = "";
    near s;
    near_init(&s, name);
    for (size_t k = 0; k < cat->n; k++)
        if (memcmp(cat->e[k].consortium, cs->policy->hash, MC2_SHA256_LEN) == 0)
            near_try(&s, cat->e[k].name, NULL);
    for (size_t k = 0; k < l->n; k++)
        near_try(&s, l->t[k].name, strcmp(l->t[k].owner, cs->id.name) ? l->t[k].owner : NULL);
    if (s.best && !s.owner) snprintf(hint, sizeof hint, " (did you mean '%s'?)", s.best);
    if (s.best && s.owner)
        snprintf(hint, sizeof hint, " (did you mean %s's table '%s'? name it with --input %s/%s)",
                 s.owner, s.best, s.owner, s.best);
    return mc2_err_set(err, MC2_E_NOTFOUND,
                       "%s: no table '%s': you (%s) have none of that name, nor does the service "
                       "list one%s. `mc2 tables` shows yours and the service's",
                       where(r, i, at, sizeof at), name, cs->id.name, hint);
}

int cli_sql_own_inputs(cli_session *cs, const cli_sql_refs *r, mc2_job *j, mc2_err *err)
{
    const mc2_catalog *cat;
    const cli_listing *l;
    tclass c[MC2_JOB_MAX_INPUTS];
    char at[300];
    assert(r->n <= MC2_JOB_MAX_INPUTS && j->ninputs == 0);
    if (cli_catalog(cs, &cat, err) || cli_listing_get(cs, &l, err)) return -1;
    for (size_t i = 0; i < r->n; i++) {
        classify(cs, cat, l, r->t[i].name, &c[i]);
        if (c[i].own2 && !c[i].exact)
            return mc2_err_set(err, MC2_E_USAGE,
                               "%s: table '%s' matches two of your tables, '%s' and '%s', which "
                               "differ only in case: name the one the query reads with --input "
                               "%s=%s/TABLE",
                               where(r, i, at, sizeof at), r->t[i].name, c[i].own, c[i].own2,
                               r->t[i].name, cs->id.name);
    }
    for (size_t i = 0; i < r->n; i++)
        if (!c[i].own)
            return c[i].nothers ? not_yours(cs, l, r, c, i, err) : unknown(cs, cat, l, r, i, err);
    for (size_t i = 0; i < r->n; i++) {
        mc2_job_input *in = &j->inputs[j->ninputs++];
        snprintf(in->owner, sizeof in->owner, "%s", cs->id.name);
        snprintf(in->table, sizeof in->table, "%s", c[i].own);
        if (cli_resolve_input(cs, in, err)) return -1;
    }
    return 0;
}
