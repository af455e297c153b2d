/* mc2/catalog.h - a party's own record of the tables it uploaded ($MC2_HOME/catalog), so that
 * its jobs name the exact upload it made and never what the host lists: per consortium
 * (policy hash) and table name, the versions it uploaded, each with its random table id,
 * schema hash, row and block counts, size and time. The host can put an older upload back
 * or another table of the same owner in its place (both authenticate under the owner's key);
 * only a record the owner keeps itself tells them apart. docs/format.md ("Table catalog")
 * specifies the file; this header is its C contract.
 *
 * Concurrency: several mc2 processes of one party may run at once. Every change is a
 * read-modify-write under an exclusive lock (mc2_catalog_update) and replaces the file
 * atomically (the previous content is kept in catalog.prev); readers (mc2_catalog_load) take
 * no lock and see either the old or the new file. An upload also holds the lock of its table
 * name (mc2_catalog_lock_table) from choosing its version until it is recorded, so uploads
 * of one name never interleave while uploads of different names run side by side.
 *
 * A catalog that does not parse is never changed or replaced: every function that would
 * write it fails, naming the file and what to do. */
#ifndef MC2_CATALOG_H
#define MC2_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include "mc2/crypto.h"
#include "mc2/err.h"
#include "mc2/job.h"
#include "mc2/table.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MC2_CATALOG_FILE        "catalog"
#define MC2_CATALOG_MAX_BYTES   (4u << 20)   /* the file */
#define MC2_CATALOG_MAX_ENTRIES 8192         /* lines */
#define MC2_CATALOG_KEEP        16           /* versions kept per consortium and name */
#define MC2_CATALOG_NUM_MAX     (1ull << 62) /* versions, counts, sizes and times */

/* How an entry came to be. */
enum mc2_catalog_state {
    MC2_CAT_UPLOADED = 1, /* uploaded by this party; the service confirmed it */
    MC2_CAT_ADOPTED,      /* the service's copy, recorded by `mc2 tables --adopt` (trusted once) */
    MC2_CAT_PENDING       /* an upload under way, or interrupted before it was confirmed */
};

typedef struct mc2_catalog_entry {
    uint8_t consortium[MC2_SHA256_LEN]; /* the consortium policy's hash */
    char name[MC2_TABLE_NAME_MAX + 1];
    uint64_t version; /* the table_version sealed in the table (0: a format-1 table) */
    uint8_t table_id[MC2_TABLE_ID_LEN];
    uint8_t schema_hash[MC2_SHA256_LEN];
    uint64_t rows, blocks, bytes;
    uint64_t time; /* when it was recorded, seconds since 1970 (UTC) */
    enum mc2_catalog_state state;
} mc2_catalog_entry;

/* Entries sorted by consortium, name (bytewise) and version, each (consortium, name,
 * version) once. */
typedef struct mc2_catalog {
    size_t n, cap;
    mc2_catalog_entry *e;
} mc2_catalog;

/* Parses catalog text (hostile input: every field, the order and the limits are checked, and
 * the text must be canonical: formatting the result gives back the same bytes). `what` names
 * the text in errors ("FILE line N: ..."). On failure *c is empty. */
int mc2_catalog_parse(const char *what, const char *text, size_t n, mc2_catalog *c,
                      mc2_err *err) MC2_WUR;
/* The canonical text of c (which must be sorted as above); *out is malloc'd and
 * NUL-terminated, *len excludes the NUL. */
int mc2_catalog_format(const mc2_catalog *c, char **out, size_t *len, mc2_err *err) MC2_WUR;
void mc2_catalog_free(mc2_catalog *c);

/* The latest uploaded or adopted entry of (consortium, name), or NULL. */
const mc2_catalog_entry *mc2_catalog_latest(const mc2_catalog *c,
                                            const uint8_t consortium[MC2_SHA256_LEN],
                                            const char *name);
/* The entry of consortium with this table id (any name, any state), or NULL. */
const mc2_catalog_entry *mc2_catalog_find_id(const mc2_catalog *c,
                                             const uint8_t consortium[MC2_SHA256_LEN],
                                             const uint8_t table_id[MC2_TABLE_ID_LEN]);
/* The version a new upload of (consortium, name) takes: one more than any entry's of that
 * name (pending ones included), 1 for the first. Fails with MC2_E_LIMIT at
 * MC2_CATALOG_NUM_MAX. */
int mc2_catalog_next_version(const mc2_catalog *c, const uint8_t consortium[MC2_SHA256_LEN],
                             const char *name, uint64_t *version, mc2_err *err) MC2_WUR;
/* Records e (all fields valid). Its version must exceed that of every entry of its name,
 * except a pending entry with the same version and table id, which e replaces (the upload
 * was confirmed). Recording a non-pending entry drops the pending entries of its name below
 * it (interrupted uploads it superseded). Beyond MC2_CATALOG_KEEP entries of one name the
 * oldest are dropped. MC2_E_EXISTS if the version is taken; MC2_E_LIMIT if the catalog is
 * full. */
int mc2_catalog_put(mc2_catalog *c, const mc2_catalog_entry *e, mc2_err *err) MC2_WUR;

/* ---- the file in a party's home ------------------------------------------------------------ */

/* Reads home/catalog (a missing file is an empty catalog). Refuses a file that group or
 * others may write, a catalog larger than MC2_CATALOG_MAX_BYTES, and one that does not
 * parse: the error names the file and says how to recover. */
int mc2_catalog_load(const char *home, mc2_catalog *c, mc2_err *err) MC2_WUR;

/* A change: called with the catalog as it is now; returns 0 to write c back, 1 to leave the
 * file as it is, -1 with *err set to fail. */
typedef int (*mc2_catalog_edit_fn)(mc2_catalog *c, void *ctx, mc2_err *err);

/* Applies fn under the catalog's exclusive lock (home/catalog.lock, waiting for it): loads,
 * calls fn, writes the result atomically with mode 0600 (the previous content, if any, to
 * home/catalog.prev first) and unlocks. Nothing is written if loading or fn fails. */
int mc2_catalog_update(const char *home, mc2_catalog_edit_fn fn, void *ctx, mc2_err *err) MC2_WUR;

/* Takes the lock of table name `name` in consortium (a byte range of home/catalog.lock, an
 * open-file-description lock: released when *fd is closed or the process ends). If another
 * process holds it, calls waiting(ctx) once (may be NULL) and waits. */
int mc2_catalog_lock_table(const char *home, const uint8_t consortium[MC2_SHA256_LEN],
                           const char *name, void (*waiting)(void *ctx), void *ctx, int *fd,
                           mc2_err *err) MC2_WUR;
/* Releases a lock from mc2_catalog_lock_table (fd < 0: nothing). */
void mc2_catalog_unlock(int fd);

/* "uploaded", "adopted", "pending". */
const char *mc2_catalog_state_name(enum mc2_catalog_state s);

#ifdef __cplusplus
}
#endif
#endif
