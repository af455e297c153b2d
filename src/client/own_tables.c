/* own_tables.c - which table a job reads: this party's own tables from its catalog (what it
 * uploaded, mc2/catalog.h), never from the service's listing, which only the host vouches
 * for; other parties' tables from that listing, checked later by their owners' approvals.
 * Also the explanations when the two disagree (rollback, swap, interrupted upload). */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/hex.h"
#include "client/session.h"
#include "table/tsrc.h"
#include "wire/proto.h"

const char *cli_time(uint64_t t, char *buf, size_t len)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (t > (1ull << 40) || !gmtime_r(&tt, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M UTC", &tm))
        snprintf(buf, len, "%llu s after 1970", (unsigned long long)t);
    return buf;
}

/* ---- the service's listing ------------------------------------------------------------------ */

/* A decimal u64 without sign or leading zeros in s[0..n). */
static int decimal(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0 || n > 20 || (s[0] == '0' && n > 1)) return -1;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9' || __builtin_mul_overflow(v, 10, &v) ||
            __builtin_add_overflow(v, (uint64_t)(s[i] - '0'), &v))
            return -1;
    *out = v;
    return 0;
}

/* Parses "OWNER/NAME ID ROWS BLOCKS BYTES VERSION" (l[0..n), no LF) into t. */
static int listed_parse(const char *l, size_t n, cli_listed *t)
{
    const char *f[6];
    size_t fl[6], k = 0, start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && l[i] != ' ') continue;
        if (i == start || k == 6) return -1;
        f[k] = l + start;
        fl[k++] = i - start;
        start = i + 1;
    }
    const char *slash = k == 6 ? memchr(f[0], '/', fl[0]) : NULL;
    if (!slash) return -1;
    size_t ol = (size_t)(slash - f[0]), nl = fl[0] - ol - 1;
    char hex[33];
    if (ol >= sizeof t->owner || nl >= sizeof t->name || fl[1] != 32 || memchr(l, '\0', n))
        return -1;
    memcpy(t->owner, f[0], ol);
    t->owner[ol] = '\0';
    memcpy(t->name, slash + 1, nl);
    t->name[nl] = '\0';
    memcpy(hex, f[1], 32);
    hex[32] = '\0';
    if (mc2_name_check(t->owner, NULL) || mc2_table_name_check(t->name, NULL) ||
        mc2_hex_decode(hex, t->id, sizeof t->id) || decimal(f[2], fl[2], &t->rows) ||
        decimal(f[3], fl[3], &t->blocks) || decimal(f[4], fl[4], &t->bytes) ||
        decimal(f[5], fl[5], &t->version))
        return -1;
    return 0;
}

int cli_listing_get(cli_session *cs, const cli_listing **out, mc2_err *err)
{
    if (cs->have_listing) {
        *out = &cs->listing;
        return 0;
    }
    mc2_frame reply = {0};
    cli_listing l = {0};
    int fd = mc2_dial(cs->service, err), rc = -1;
    if (fd < 0) return -1;
    if (mc2_host_call(fd, HAPI_TABLES, NULL, 0, &reply, NULL, NULL, err)) goto out;
    const char *p = (const char *)reply.payload.data, *end = p + reply.payload.len;
    size_t lines = 0;
    for (const char *q = p; q < end; q++) lines += *q == '\n';
    l.t = mc2_calloc(lines ? lines : 1, sizeof *l.t);
    if (!l.t) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        goto out;
    }
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl || listed_parse(p, (size_t)(nl - p), &l.t[l.n])) {
            mc2_err_set(err, MC2_E_INPUT,
                        "the service sent a malformed table listing (line %zu); is it an mc2d "
                        "of this version?",
                        l.n + 1);
            goto out;
        }
        l.n++;
        p = nl + 1;
    }
    cs->listing = l;
    l.t = NULL;
    cs->have_listing = 1;
    *out = &cs->listing;
    rc = 0;
out:
    mc2_free(l.t);
    close(fd);
    mc2_frame_free(&reply);
    return rc;
}

const cli_listed *cli_listing_find(const cli_listing *l, const char *owner, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->t[i].owner, owner) == 0 && strcmp(l->t[i].name, name) == 0) return &l->t[i];
    return NULL;
}

int cli_catalog(cli_session *cs, const mc2_catalog **out, mc2_err *err)
{
    if (!cs->have_cat) {
        if (mc2_catalog_load(cs->id.home, &cs->cat, err)) return -1;
        cs->have_cat = 1;
    }
    *out = &cs->cat;
    return 0;
}

/* ---- explanations ---------------------------------------------------------------------------- */

int cli_explain_other_copy(cli_session *cs, enum cli_copy_source source, const char *name,
                           const uint8_t id[MC2_TABLE_ID_LEN], uint64_t version,
                           const mc2_catalog_entry *latest, mc2_err *err)
{
    const mc2_catalog *cat;
    if (cli_catalog(cs, &cat, err)) return -1;
    const mc2_catalog_entry *known = mc2_catalog_find_id(cat, cs->policy->hash, id);
    const char *who = source == CLI_JOB_NAMES ? "the job names" : "the service holds";
    char act[400], hid[33], lid[33], t1[40], t2[40], lat[200];
    if (source == CLI_JOB_NAMES)
        snprintf(act, sizeof act,
                 "Refusing to approve it: a job must name your latest upload. The submitter's "
                 "client takes it from the service's listing; if that still shows another copy "
                 "(`mc2 tables`), the service replaced your table: upload '%s' again",
                 name);
    else
        snprintf(act, sizeof act,
                 "Refusing to use it: upload the table again (`mc2 upload ... --as %s`) and "
                 "tell the service's operator",
                 name);
    mc2_hex_encode(id, MC2_TABLE_ID_LEN, hid);
    if (latest) {
        mc2_hex_encode(latest->table_id, MC2_TABLE_ID_LEN, lid);
        snprintf(lat, sizeof lat, "your latest upload is version %llu (table id %s, %s)",
                 (unsigned long long)latest->version, lid, cli_time(latest->time, t2, sizeof t2));
    } else {
        snprintf(lat, sizeof lat, "your catalog has no confirmed upload of it");
    }
    if (known && strcmp(known->name, name) == 0 && known->state == MC2_CAT_PENDING &&
        known->version == version)
        return mc2_err_set(err, MC2_E_AUTH,
                           "%s version %llu of your table '%s' (table id %s), sent by an upload "
                           "of yours started %s that did not finish (the service's confirmation "
                           "was never recorded), but %s. If the service holds it, `mc2 tables "
                           "--adopt %s` records it (safe: it is the table you sent); or upload "
                           "again",
                           who, (unsigned long long)version, name, hid,
                           cli_time(known->time, t1, sizeof t1), lat, name);
    if (known && strcmp(known->name, name) == 0 && known->version == version)
        return mc2_err_set(err, MC2_E_AUTH,
                           "%s version %llu of your table '%s' (table id %s, %s) but %s: an "
                           "older copy (a rollback). %s",
                           who, (unsigned long long)version, name, hid,
                           cli_time(known->time, t1, sizeof t1), lat, act);
    if (known && strcmp(known->name, name) == 0)
        return mc2_err_set(err, MC2_E_AUTH,
                           "%s table id %s of your table '%s' as version %llu, but you uploaded "
                           "that table id as version %llu, and %s. %s",
                           who, hid, name, (unsigned long long)version,
                           (unsigned long long)known->version, lat, act);
    if (known)
        return mc2_err_set(err, MC2_E_AUTH,
                           "%s your table '%s' (version %llu, table id %s) under the name '%s': "
                           "another of your tables in its place, and for '%s' %s. %s",
                           who, known->name, (unsigned long long)known->version, hid, name, name,
                           lat, act);
    return mc2_err_set(err, MC2_E_AUTH,
                       "%s version %llu of your table '%s' with table id %s, which your catalog "
                       "does not know; %s. If you uploaded it yourself (from another home, or "
                       "an upload was cut short), check it with `mc2 tables` and record it with "
                       "`mc2 tables --adopt %s` (this trusts the service's copy once); "
                       "otherwise the service substituted it. %s",
                       who, (unsigned long long)version, name, hid, lat, name, act);
}

/* ---- resolving inputs ----------------------------------------------------------------------- */

int cli_own_table(cli_session *cs, const char *name, const mc2_catalog_entry **out, mc2_err *err)
{
    const mc2_catalog *cat;
    const cli_listing *l;
    if (cli_catalog(cs, &cat, err) || cli_listing_get(cs, &l, err)) return -1;
    const mc2_catalog_entry *latest = mc2_catalog_latest(cat, cs->policy->hash, name);
    const cli_listed *t = cli_listing_find(l, cs->id.name, name);
    if (!latest && t && mc2_catalog_find_id(cat, cs->policy->hash, t->id))
        return cli_explain_other_copy(cs, CLI_SERVICE_HOLDS, name, t->id, t->version, NULL, err);
    if (!latest && t)
        return mc2_err_set(err, MC2_E_NOTFOUND,
                           "your catalog (%s/%s) has no upload of table '%s' in consortium '%s', "
                           "and mc2 uses only the tables you recorded. The service lists %s/%s "
                           "(version %llu): if you uploaded it (before mc2 kept a catalog, or "
                           "from another home), check and record it with `mc2 tables --adopt "
                           "%s` (this trusts the service's copy once); else upload it",
                           cs->id.home, MC2_CATALOG_FILE, name, cs->policy->consortium, cs->id.name,
                           name, (unsigned long long)t->version, name);
    if (!latest)
        return mc2_err_set(err, MC2_E_NOTFOUND,
                           "you have no table %s/%s in consortium '%s': upload it with `mc2 "
                           "upload --schema S.yaml --in DATA --as %s`",
                           cs->id.name, name, cs->policy->consortium, name);
    if (!t) {
        char lid[33], tm[40];
        mc2_hex_encode(latest->table_id, MC2_TABLE_ID_LEN, lid);
        return mc2_err_set(err, MC2_E_NOTFOUND,
                           "the service does not list your table '%s' (your latest upload is "
                           "version %llu, table id %s, %s): it lost or withholds it; upload it "
                           "again",
                           name, (unsigned long long)latest->version, lid,
                           cli_time(latest->time, tm, sizeof tm));
    }
    if (memcmp(t->id, latest->table_id, MC2_TABLE_ID_LEN) != 0 || t->version != latest->version)
        return cli_explain_other_copy(cs, CLI_SERVICE_HOLDS, name, t->id, t->version, latest, err);
    *out = latest;
    return 0;
}

int cli_resolve_input(cli_session *cs, mc2_job_input *in, mc2_err *err)
{
    if (strcmp(in->owner, cs->id.name) == 0) {
        const mc2_catalog_entry *e;
        if (cli_own_table(cs, in->table, &e, err)) return -1;
        memcpy(in->table_id, e->table_id, MC2_TABLE_ID_LEN);
        in->version = e->version;
        return 0;
    }
    const cli_listing *l;
    if (cli_listing_get(cs, &l, err)) return -1;
    const cli_listed *t = cli_listing_find(l, in->owner, in->table);
    if (!t)
        return mc2_err_set(err, MC2_E_NOTFOUND,
                           "the service has no table %s/%s (see `mc2 tables`; the owner uploads "
                           "it with `mc2 upload`)",
                           in->owner, in->table);
    memcpy(in->table_id, t->id, MC2_TABLE_ID_LEN);
    in->version = t->version;
    return 0;
}

int cli_check_own_input(cli_session *cs, const mc2_job_input *in, mc2_err *err)
{
    const mc2_catalog *cat;
    if (cli_catalog(cs, &cat, err)) return -1;
    const mc2_catalog_entry *latest = mc2_catalog_latest(cat, cs->policy->hash, in->table);
    if (latest && memcmp(latest->table_id, in->table_id, MC2_TABLE_ID_LEN) == 0 &&
        latest->version == in->version)
        return 0;
    return cli_explain_other_copy(cs, CLI_JOB_NAMES, in->table, in->table_id, in->version, latest,
                                  err);
}

int cli_describe_table(const char *path, const uint8_t key[MC2_KEY_LEN], mc2_catalog_entry *e,
                       mc2_err *err)
{
    mc2_tio io;
    mc2_tsrc *src = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc = -1;
    if (fd < 0) return mc2_err_set(err, MC2_E_IO, "cannot open '%s'", path);
    if (mc2_tio_fd(fd, &io, err) == 0 && mc2_tsrc_open(&io, key, 256u << 20, &src, err) == 0) {
        const mc2_thdr *h = mc2_tsrc_header(src);
        memcpy(e->table_id, h->table_id, MC2_TABLE_ID_LEN);
        memcpy(e->schema_hash, h->schema_hash, MC2_SHA256_LEN);
        e->version = h->table_version;
        e->rows = h->row_count;
        e->blocks = h->block_count;
        e->bytes = io.size;
        rc = 0;
    }
    mc2_tsrc_free(src);
    close(fd);
    return rc;
}
