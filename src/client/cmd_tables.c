/* cmd_tables.c - `mc2 tables`: the service's listing of stored tables (the host's word) and,
 * beside it, this party's catalog of its own uploads (mc2/catalog.h), with every difference
 * flagged; `mc2 tables --adopt NAME` records the service's current copy of one of this
 * party's tables in its catalog. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/hex.h"
#include "cli.h"
#include "client/session.h"
#include "table/tsrc.h"

static const char TABLES_HELP[] =
    "usage: mc2 tables [--home DIR] [--service HOST:PORT] [--policy FILE]\n"
    "       mc2 tables --adopt NAME [--yes] [--home DIR] [--service ...] [--policy FILE]\n\n"
    "Lists the encrypted tables the service stores (public facts only, and only the host's\n"
    "word: owner/name, table id, version, rows, blocks, bytes), then your catalog of uploads\n"
    "in this consortium ($MC2_HOME/catalog) beside it, flagging each difference (DIFFERS):\n"
    "an older copy of your table put back, another of your tables in its place, an upload\n"
    "that did not finish, a table of yours you have no record of.\n\n"
    "--adopt NAME records the service's current copy of your table NAME in your catalog,\n"
    "after showing what it is (authenticated with your data key: table id, version, rows,\n"
    "schema). If it is the table an unfinished upload of yours sent, nothing is trusted.\n"
    "Otherwise adopting trusts the service once: for tables uploaded before mc2 kept a\n"
    "catalog (format-1 tables are version 0) or from another home. A copy older than your\n"
    "latest upload, or another of your tables, is refused. Asks first, unless --yes.\n";

static void print_listing(const cli_listing *l)
{
    printf("tables on the service (the host's word):\n");
    if (l->n == 0)
        printf("(none)\n");
    else
        printf("OWNER/NAME TABLE-ID VERSION ROWS BLOCKS BYTES\n");
    for (size_t i = 0; i < l->n; i++) {
        const cli_listed *t = &l->t[i];
        char hex[33];
        mc2_hex_encode(t->id, sizeof t->id, hex);
        printf("%s/%s %s %llu %llu %llu %llu\n", t->owner, t->name, hex,
               (unsigned long long)t->version, (unsigned long long)t->rows,
               (unsigned long long)t->blocks, (unsigned long long)t->bytes);
    }
}

/* One table name's entries [lo, hi) of the catalog against the service's copy t (or NULL). */
static void compare_one(cli_session *cs, const mc2_catalog *cat, size_t lo, size_t hi,
                        const cli_listed *t)
{
    const char *name = cat->e[lo].name;
    const mc2_catalog_entry *latest = mc2_catalog_latest(cat, cs->policy->hash, name),
                            *last = &cat->e[hi - 1];
    char when[40], hex[33];
    printf("  %s: ", name);
    if (latest)
        printf("version %llu, %llu rows, %s %s: ", (unsigned long long)latest->version,
               (unsigned long long)latest->rows, mc2_catalog_state_name(latest->state),
               cli_time(latest->time, when, sizeof when));
    if (last->state == MC2_CAT_PENDING) {
        /* The newest entry is an upload that was not confirmed. */
        bool holds = t && memcmp(t->id, last->table_id, 16) == 0;
        printf("%sversion %llu was being uploaded %s but not confirmed: ", holds ? "DIFFERS: " : "",
               (unsigned long long)last->version, cli_time(last->time, when, sizeof when));
        if (holds)
            printf("the service holds it; `mc2 tables --adopt %s` records it (safe: it is the "
                   "table you sent)\n",
                   name);
        else
            printf("the service does not hold it%s", latest ? "; " : "\n");
        if (holds || !latest) return;
    }
    if (!t) {
        mc2_hex_encode(latest->table_id, 16, hex);
        printf("DIFFERS: the service does not list it (it lost or withholds table id %s)\n", hex);
    } else if (memcmp(t->id, latest->table_id, 16) == 0 && t->version == latest->version) {
        printf("ok, the service holds this upload\n");
    } else {
        mc2_err why;
        (void)cli_explain_other_copy(cs, CLI_SERVICE_HOLDS, name, t->id, t->version, latest, &why);
        printf("DIFFERS: %s\n", why.msg);
    }
}

/* The catalog beside the listing: each of this party's table names in either. */
static int compare(cli_session *cs, const cli_listing *l, mc2_err *err)
{
    const mc2_catalog *cat;
    if (cli_catalog(cs, &cat, err)) return -1;
    printf("\nyour uploads in consortium '%s' (your catalog, %s/%s):\n", cs->policy->consortium,
           cs->id.home, MC2_CATALOG_FILE);
    size_t shown = 0;
    for (size_t lo = 0, hi; lo < cat->n; lo = hi) {
        for (hi = lo + 1;
             hi < cat->n && memcmp(cat->e[hi].consortium, cat->e[lo].consortium, 32) == 0 &&
             strcmp(cat->e[hi].name, cat->e[lo].name) == 0;
             hi++)
            ;
        if (memcmp(cat->e[lo].consortium, cs->policy->hash, 32) != 0) continue;
        compare_one(cs, cat, lo, hi, cli_listing_find(l, cs->id.name, cat->e[lo].name));
        shown++;
    }
    for (size_t i = 0; i < l->n; i++) {
        const cli_listed *t = &l->t[i];
        bool known = false;
        for (size_t k = 0; k < cat->n && !known; k++)
            known = memcmp(cat->e[k].consortium, cs->policy->hash, 32) == 0 &&
                    strcmp(cat->e[k].name, t->name) == 0;
        if (strcmp(t->owner, cs->id.name) != 0 || known) continue;
        char hex[33];
        mc2_hex_encode(t->id, 16, hex);
        printf("  %s: DIFFERS: not in your catalog; the service holds version %llu (table id %s). "
               "If you uploaded it (before mc2 kept a catalog, or from another home), `mc2 tables "
               "--adopt %s` records it (this trusts the service's copy once)\n",
               t->name, (unsigned long long)t->version, hex, t->name);
        shown++;
    }
    if (shown == 0) printf("  (none)\n");
    return 0;
}

/* ---- --adopt -------------------------------------------------------------------------------- */

static int put_entry(mc2_catalog *c, void *ctx, mc2_err *err)
{
    return mc2_catalog_put(c, ctx, err);
}

static void adopt_waits(void *ctx)
{
    fprintf(stderr, "mc2: waiting for your upload of '%s' to finish\n", (const char *)ctx);
}

/* Asks on the terminal; without one, --yes is needed. */
static int confirm(const char *name, uint64_t version, int yes, mc2_err *err)
{
    if (yes) return 0;
    if (!isatty(STDIN_FILENO))
        return mc2_err_set(err, MC2_E_USAGE,
                           "not recorded: check what is shown above, then run `mc2 tables "
                           "--adopt %s --yes` to record it",
                           name);
    printf("record it in your catalog as version %llu of '%s'? [y/N] ", (unsigned long long)version,
           name);
    fflush(stdout);
    char line[16];
    if (fgets(line, sizeof line, stdin) && (line[0] == 'y' || line[0] == 'Y')) return 0;
    return mc2_err_set(err, MC2_E_USAGE, "not recorded");
}

/* Shows the service's copy h of table `name` (bytes long). */
static int show_copy(const char *name, const mc2_thdr *h, uint64_t bytes, mc2_err *err)
{
    char *yaml = NULL, hex[33];
    if (mc2_schema_to_yaml(h->schema, &yaml, err)) return -1;
    mc2_hex_encode(h->table_id, 16, hex);
    printf("the service's copy of your table '%s' (authenticated with your data key):\n"
           "  table id:   %s\n  version:    %llu%s\n  rows:       %llu\n  blocks:     %llu\n"
           "  bytes:      %llu\n  schema:\n",
           name, hex, (unsigned long long)h->table_version,
           h->version == 1 ? " (a format-1 table)" : "", (unsigned long long)h->row_count,
           (unsigned long long)h->block_count, (unsigned long long)bytes);
    for (char *p = yaml; *p;) {
        char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p + 1) : strlen(p);
        printf("    %.*s", (int)n, p);
        p += n;
    }
    mc2_free(yaml);
    return 0;
}

/* Decides about the service's copy e (table id, version, counts filled) of `name` against the
 * catalog: 1 if already recorded, 0 with e->state set to what to record, -1 if refused. */
static int adopt_decide(cli_session *cs, const mc2_catalog *cat, mc2_catalog_entry *e, mc2_err *err)
{
    const uint8_t *cons = cs->policy->hash;
    const mc2_catalog_entry *latest = mc2_catalog_latest(cat, cons, e->name),
                            *known = mc2_catalog_find_id(cat, cons, e->table_id);
    char hex[33], when[40];
    mc2_hex_encode(e->table_id, 16, hex);
    if (latest && latest == known && latest->version == e->version) {
        printf("already recorded: the service holds your latest upload of '%s' (version %llu, "
               "table id %s)\n",
               e->name, (unsigned long long)e->version, hex);
        return 1;
    }
    if (known && known->state == MC2_CAT_PENDING && strcmp(known->name, e->name) == 0 &&
        known->version == e->version) {
        printf("this is the table your upload of %s sent (version %llu, table id %s): its record "
               "is completed; nothing about it is taken on the service's word\n",
               cli_time(known->time, when, sizeof when), (unsigned long long)e->version, hex);
        e->state = MC2_CAT_UPLOADED;
        return 0;
    }
    if (known) {
        (void)cli_explain_other_copy(cs, CLI_SERVICE_HOLDS, e->name, e->table_id, e->version,
                                     latest, err);
        return mc2_err_prefix(err, "not adopting: ");
    }
    if (latest && e->version <= latest->version) {
        char lid[33];
        mc2_hex_encode(latest->table_id, 16, lid);
        return mc2_err_set(err, MC2_E_AUTH,
                           "not adopting: the service's copy of '%s' is version %llu (table id "
                           "%s), but your catalog already has version %llu (table id %s): an "
                           "older or conflicting copy. Upload the table again instead",
                           e->name, (unsigned long long)e->version, hex,
                           (unsigned long long)latest->version, lid);
    }
    fflush(stdout); /* the warning follows what was shown */
    fprintf(stderr,
            "mc2: WARNING: you have no record of this upload. Adopting it trusts the service "
            "once: if it ever put an older copy of '%s' back, or another table made with your "
            "key in its place, you would adopt that copy. Check the rows and schema above "
            "against what you uploaded.\n",
            e->name);
    e->state = MC2_CAT_ADOPTED;
    return 0;
}

static int adopt(cli_session *cs, const char *name, int yes, mc2_err *err)
{
    const cli_listing *l;
    mc2_catalog cat = {0};
    mc2_buf data = {0};
    mc2_tsrc *src = NULL;
    mc2_catalog_entry e;
    char object[200];
    int rc = -1, lock = -1;
    memset(&e, 0, sizeof e);
    if (mc2_table_name_check(name, err) ||
        mc2_catalog_lock_table(cs->id.home, cs->policy->hash, name, adopt_waits, (void *)name,
                               &lock, err) ||
        cli_listing_get(cs, &l, err))
        goto out;
    if (!cli_listing_find(l, cs->id.name, name)) {
        mc2_err_set(err, MC2_E_NOTFOUND, "the service lists no table '%s' of yours", name);
        goto out;
    }
    snprintf(object, sizeof object, "tables/%s/%s.mc2t", cs->id.name, name);
    mc2_tio io;
    if (mc2_host_download(cs->service, object, &data, err)) goto out;
    io = mc2_tio_mem(data.data, data.len);
    if (mc2_tsrc_open(&io, cs->id.data_key, data.len, &src, err)) {
        mc2_err_prefix(err,
                       "not adopting: the service's copy of '%s' is not a table made with "
                       "your data key: ",
                       name);
        goto out;
    }
    const mc2_thdr *h = mc2_tsrc_header(src);
    memcpy(e.consortium, cs->policy->hash, 32);
    snprintf(e.name, sizeof e.name, "%s", name);
    e.version = h->table_version;
    memcpy(e.table_id, h->table_id, 16);
    memcpy(e.schema_hash, h->schema_hash, 32);
    e.rows = h->row_count;
    e.blocks = h->block_count;
    e.bytes = data.len;
    e.time = (uint64_t)time(NULL);
    if (show_copy(name, h, data.len, err) || mc2_catalog_load(cs->id.home, &cat, err)) goto out;
    int d = adopt_decide(cs, &cat, &e, err);
    if (d != 0) {
        rc = d > 0 ? 0 : -1;
        goto out;
    }
    if ((e.state == MC2_CAT_ADOPTED && confirm(name, e.version, yes, err)) ||
        mc2_catalog_update(cs->id.home, put_entry, &e, err))
        goto out;
    printf("recorded '%s' version %llu in your catalog (%s)\n", name, (unsigned long long)e.version,
           mc2_catalog_state_name(e.state));
    rc = 0;
out:
    mc2_catalog_unlock(lock);
    mc2_tsrc_free(src);
    mc2_buf_free(&data);
    mc2_catalog_free(&cat);
    return rc;
}

int cmd_tables(int argc, char **argv)
{
    const char *service = NULL, *home = NULL, *policy = NULL, *name = NULL;
    int yes = 0, code;
    cli_opt opts[] = {CLI_VAL("service", &service), CLI_VAL("home", &home),
                      CLI_VAL("policy", &policy),   CLI_VAL("adopt", &name),
                      CLI_FLAG("yes", &yes),        CLI_END};
    if (cli_parse("tables", TABLES_HELP, argc, argv, opts, NULL, 0, &code)) return code;
    if (yes && !name) return cli_usage("tables", "--yes goes with --adopt NAME");
    mc2_err err;
    mc2_err_clear(&err);
    cli_session cs;
    const cli_listing *l;
    int rc = CLI_FAIL;
    if (cli_party_load(&cs, home, service, policy, &err)) {
        if (name) return cli_fail(&err);
        /* Without an identity or a policy there is no catalog to compare: the listing alone. */
        mc2_err why = err;
        memset(&cs, 0, sizeof cs);
        cs.service = cli_service(service, home);
        if (!cs.service || cli_listing_get(&cs, &l, &err)) goto fail;
        print_listing(l);
        printf("\n(your catalog is not shown: %s)\n", why.msg);
        rc = CLI_OK;
        goto out;
    }
    if (name) {
        rc = adopt(&cs, name, yes, &err) ? cli_fail(&err) : CLI_OK;
        goto out;
    }
    if (cli_listing_get(&cs, &l, &err)) goto fail;
    print_listing(l);
    if (compare(&cs, l, &err)) goto fail;
    rc = CLI_OK;
    goto out;
fail:
    rc = cli_fail(&err);
out:
    cli_session_close(&cs);
    return rc;
}
