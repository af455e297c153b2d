/* mc2/table.h - typed schemas, column batches, and the encrypted table format (.mc2t).
 * The format is specified in docs/format.md; this header is its C contract. */
#ifndef MC2_TABLE_H
#define MC2_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mc2/crypto.h"
#include "mc2/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- types and schemas ------------------------------------------------------------------- */

enum mc2_type {
    MC2_T_INT64 = 1, /* int64_t */
    MC2_T_DOUBLE,    /* IEEE 754 binary64; NaN and infinities are rejected on input */
    MC2_T_DECIMAL,   /* exact: int64_t holding value * 10^scale; precision 1..18 */
    MC2_T_DATE,    /* int32_t days since 1970-01-01, proleptic Gregorian, 0001-01-01..9999-12-31 */
    MC2_T_BOOL,    /* uint8_t 0 or 1 */
    MC2_T_VARCHAR, /* UTF-8, at most `length` code points (1..MC2_VARCHAR_MAX) */
    MC2_T_DEC128   /* exact DECIMAL(p,s) with 19 <= p <= 38: mc2_i128 holding value * 10^scale.
                    * Shown and declared as DECIMAL(p,s); a distinct id so that code written
                    * for the 64-bit DECIMAL never reads a wide value by mistake. */
};

/* The 128-bit integer of wide DECIMAL values. Declared 8-byte aligned so that a value array
 * may sit at any 8-byte boundary (arena blocks, slices); the compiler then never assumes 16. */
__extension__ typedef __int128 mc2_i128 __attribute__((aligned(8)));

#define MC2_MAX_COLUMNS           1024
#define MC2_MAX_NAME              128 /* bytes in a column or table name */
#define MC2_MAX_LABEL             256 /* bytes in a column's display label */
#define MC2_VARCHAR_MAX           65535
#define MC2_DECIMAL_MAX_PRECISION 18 /* MC2_T_DECIMAL; MC2_T_DEC128 goes beyond */
#define MC2_DEC128_MAX_PRECISION  38

/* DECIMAL of either width (MC2_T_DECIMAL or MC2_T_DEC128). */
static inline int mc2_type_is_decimal(enum mc2_type t)
{
    return t == MC2_T_DECIMAL || t == MC2_T_DEC128;
}

typedef struct mc2_coltype {
    enum mc2_type id;
    uint8_t precision; /* DECIMAL only */
    uint8_t scale;     /* DECIMAL only, 0..precision */
    uint32_t length;   /* VARCHAR only: maximum length in code points */
} mc2_coltype;

typedef struct mc2_column_def {
    char *name; /* [A-Za-z_][A-Za-z0-9_]*, unique in the schema ignoring case */
    mc2_coltype type;
    bool nullable;
} mc2_column_def;

#define MC2_MAX_KEY_COLUMNS 16 /* columns in one primary or foreign key */

/* A foreign key: columns cols[0..ncols) of this table take only values found in columns
 * ref_cols[0..ncols) of table ref_table (names as that table's schema spells them). */
typedef struct mc2_fkey {
    size_t ncols;    /* 1..MC2_MAX_KEY_COLUMNS */
    unsigned *cols;  /* column indices in this schema, distinct */
    char *ref_table; /* a valid name */
    char **ref_cols; /* valid names, distinct ignoring case */
} mc2_fkey;

/* A table's schema. Declared keys (primary_key, foreign_keys in the schema file) are facts
 * the data owner states about the data; they are public, like row counts, and the SQL
 * planner relies on them (docs/sql.md, "Join order"). A schema without keys has npk = nfk =
 * 0 (code that builds schemas by hand leaves them so). */
typedef struct mc2_schema {
    char *name; /* table name from the schema file, or NULL */
    size_t ncols;
    mc2_column_def *cols;
    size_t npk; /* primary key columns pk[0..npk), distinct and NOT NULL; 0: none */
    unsigned *pk;
    size_t nfk; /* foreign keys fk[0..nfk) */
    mc2_fkey *fk;
    /* NULL, or ncols labels: labels[i] is the name to show for column i when that is not its
     * name, else NULL. A SQL result's columns are labelled as the query names them
     * ("sum(balance)", docs/format.md "Labels"): 1..MC2_MAX_LABEL bytes of UTF-8 without
     * control characters, not equal to the name; labels may repeat. Schema files have none. */
    char **labels;
} mc2_schema;

/* The name to show for column i of s: its label, else its name. */
static inline const char *mc2_col_display(const mc2_schema *s, size_t i)
{
    return s->labels && s->labels[i] ? s->labels[i] : s->cols[i].name;
}

/* Parses a schema file (YAML; see docs/format.md) from memory. `what` names it in errors,
 * which give line and column ("orders.yaml line 4 column 11: unknown type 'VARCHR' (did you
 * mean VARCHAR(n)?)"). */
int mc2_schema_parse(const char *what, const char *text, size_t len, mc2_schema **out,
                     mc2_err *err) MC2_WUR;
/* Reads and parses a schema file (at most 1 MiB). */
int mc2_schema_load(const char *path, mc2_schema **out, mc2_err *err) MC2_WUR;
void mc2_schema_free(mc2_schema *s);
/* Canonical binary encoding (the bytes that are hashed and sealed in a table header).
 * *out is malloc'd. */
int mc2_schema_encode(const mc2_schema *s, uint8_t **out, size_t *out_len, mc2_err *err) MC2_WUR;
/* Decodes and fully validates an encoding (hostile input: every length and enum checked). */
int mc2_schema_decode(const uint8_t *p, size_t n, mc2_schema **out, mc2_err *err) MC2_WUR;
/* SHA-256 of the canonical encoding. */
int mc2_schema_hash(const mc2_schema *s, uint8_t out[MC2_SHA256_LEN], mc2_err *err) MC2_WUR;
/* Writes the schema as YAML that mc2_schema_parse reads back to an equal schema. */
int mc2_schema_to_yaml(const mc2_schema *s, char **out, mc2_err *err) MC2_WUR;
/* Index of the column named `name` (case-insensitive), or -1. */
long mc2_schema_find(const mc2_schema *s, const char *name);
/* Formats a type as in schema files: "INT64", "DECIMAL(15,2)", "VARCHAR(25)". */
void mc2_type_format(const mc2_coltype *t, char *buf, size_t buflen);

/* ---- column batches ---------------------------------------------------------------------- */

/* One column of a batch. Fixed-width values live in the union array (a NULL row holds 0);
 * VARCHAR values are bytes data[off[i] .. off[i+1]). nulls[i] is 1 for NULL (nulls is NULL
 * for a non-nullable column). */
typedef struct mc2_col {
    uint8_t *nulls;
    union {
        int64_t *i64;   /* INT64, DECIMAL */
        mc2_i128 *i128; /* DEC128 */
        double *f64;    /* DOUBLE */
        int32_t *i32;   /* DATE */
        uint8_t *b;     /* BOOL */
    } v;
    uint32_t *off; /* VARCHAR: nrows + 1 offsets, off[0] = 0 */
    char *data;    /* VARCHAR bytes */
    size_t data_cap;
} mc2_col;

/* A column-major batch of up to `cap` rows of a schema (which must outlive it). */
typedef struct mc2_batch {
    const mc2_schema *schema;
    size_t nrows;
    size_t cap;
    mc2_col *cols;
} mc2_batch;

mc2_batch *mc2_batch_new(const mc2_schema *s, size_t cap, mc2_err *err);
/* Wipes the values and frees. NULL is a no-op. */
void mc2_batch_free(mc2_batch *b);
/* Empties the batch (nrows = 0), keeping its memory. */
void mc2_batch_clear(mc2_batch *b);
/* Makes room for `extra` more bytes in VARCHAR column c's data. */
int mc2_batch_reserve_chars(mc2_batch *b, size_t c, size_t extra, mc2_err *err) MC2_WUR;

/* Encodes rows [0, nrows) as a block plaintext (docs/format.md, "block payload"). *out is
 * appended to (mc2_buf from base/buf.h is internal, so this takes raw pointers): the
 * result is malloc'd in *out with length *out_len. */
int mc2_batch_encode(const mc2_batch *b, uint8_t **out, size_t *out_len, mc2_err *err) MC2_WUR;
/* Replaces b's rows with a decoded block payload holding exactly `expect_rows` rows.
 * Validates everything (lengths, offsets, UTF-8 and declared lengths, NULL flags on non-null
 * columns, booleans, date range, decimal precision): a block from another party is hostile
 * even when it authenticates. Grows b if needed. */
int mc2_batch_decode(mc2_batch *b, const uint8_t *p, size_t n, size_t expect_rows,
                     mc2_err *err) MC2_WUR;

/* ---- the encrypted table format ---------------------------------------------------------- */

#define MC2_TABLE_ID_LEN     16
#define MC2_FORMAT_VERSION   1 /* of the v1 functions below; version 2: table/tfile2.h */
#define MC2_TFILE_PREFIX_LEN 48

/* What a table header holds once authenticated. */
typedef struct mc2_thdr {
    uint16_t version;       /* format version: 1 or 2 */
    uint64_t table_version; /* v2: the owner's version number of this table; 0 in v1 */
    uint8_t table_id[MC2_TABLE_ID_LEN];
    uint64_t row_count;
    uint64_t block_count;
    uint32_t rows_per_block;
    uint8_t schema_hash[MC2_SHA256_LEN];
    mc2_schema *schema; /* owned */
} mc2_thdr;

/* Frees the schema inside h. */
void mc2_thdr_clear(mc2_thdr *h);

/* Derives the per-table AES-256-GCM key: HKDF-SHA256(ikm = data key, salt = "mc2 table key
 * v1", info = table id). */
int mc2_table_key(const uint8_t data_key[MC2_KEY_LEN], const uint8_t table_id[MC2_TABLE_ID_LEN],
                  uint8_t out[MC2_KEY_LEN], mc2_err *err) MC2_WUR;

/* Number of rows block `index` holds under header h (all blocks hold rows_per_block except
 * the last). index must be < block_count. */
uint32_t mc2_thdr_block_rows(const mc2_thdr *h, uint64_t index);

/* Fills h for a new table: fresh random table id, the row count and rows_per_block given,
 * block_count and schema_hash computed; takes a copy of the schema. */
int mc2_thdr_init(mc2_thdr *h, const mc2_schema *s, uint64_t row_count, uint32_t rows_per_block,
                  mc2_err *err) MC2_WUR;

/* Writes prefix + sealed header for h with the table key's AEAD context.
 * Output is malloc'd in *out. */
int mc2_thdr_seal(const mc2_thdr *h, mc2_aead *table_aead, uint8_t **out, size_t *out_len,
                  mc2_err *err) MC2_WUR;

/* Reads the 48-byte prefix; returns in *hdr_len the total header length (prefix + sealed
 * header) the caller must supply to mc2_thdr_open. Checks magic, version and sizes. */
int mc2_thdr_peek(const uint8_t *p, size_t n, size_t *hdr_len, mc2_err *err) MC2_WUR;

/* Authenticates and decodes a header of exactly hdr_len bytes with the data key; fills h
 * and returns in *table_aead a context keyed with the table key (free with mc2_aead_free).
 * Wrong key and tampering both give MC2_E_AUTH. */
int mc2_thdr_open(const uint8_t *p, size_t n, const uint8_t data_key[MC2_KEY_LEN], mc2_thdr *h,
                  mc2_aead **table_aead, mc2_err *err) MC2_WUR;

#define MC2_BLOCK_FRAME_OVERHEAD (16 + MC2_TAG_LEN) /* index u64, rows u32, len u32, tag */
#define MC2_BLOCK_MAX_PAYLOAD    (64u << 20)        /* a sealed block is at most 64 MiB */

/* Seals block payload pt[0..n) as block `index` of the table h and appends the frame
 * (docs/format.md) to *out (malloc'd / grown with realloc; *out_len updated). */
int mc2_tblock_seal(mc2_aead *table_aead, const mc2_thdr *h, uint64_t index, const uint8_t *pt,
                    size_t n, uint8_t **out, size_t *out_len, mc2_err *err) MC2_WUR;

/* Reads a frame's 16-byte head: the payload length in *ct_len, after checking that the
 * frame claims to be block `index` with the expected row count (specific errors for
 * reordered, dropped or duplicated blocks). The full frame is 16 + ct_len + 16 bytes. */
int mc2_tblock_peek(const mc2_thdr *h, uint64_t index, const uint8_t head[16], size_t *ct_len,
                    mc2_err *err) MC2_WUR;

/* Authenticates and decrypts the frame of block `index` (frame_len bytes) into pt, which
 * holds at least ct_len bytes. On failure pt is wiped and MC2_E_AUTH returned. */
int mc2_tblock_open(mc2_aead *table_aead, const mc2_thdr *h, uint64_t index, const uint8_t *frame,
                    size_t frame_len, uint8_t *pt, mc2_err *err) MC2_WUR;

/* ---- whole files ------------------------------------------------------------------------- */

enum mc2_textfmt {
    MC2_FMT_CSV, /* RFC 4180 with a header row */
    MC2_FMT_TBL  /* '|'-delimited, trailing '|', no header (TPC-H dbgen) */
};

typedef struct mc2_encrypt_opts {
    enum mc2_textfmt format;
    unsigned threads;        /* 0: one per core */
    uint32_t rows_per_block; /* 0: chosen from the schema (about 1 MiB of payload) */
    /* Called now and then with bytes of input consumed and the total; may be NULL. */
    void (*progress)(void *ctx, uint64_t done, uint64_t total);
    void *progress_ctx;
    unsigned format_version; /* 0 or 2: column chunks (format v2); 1: the version-1 layout */
    uint64_t table_version;  /* v2: the owner's version number of this table name */
} mc2_encrypt_opts;

typedef struct mc2_table_stats {
    uint64_t rows;
    uint64_t blocks;
    uint64_t in_bytes;
    uint64_t out_bytes;
} mc2_table_stats;

/* Encrypts a CSV or .tbl file into an .mc2t file under the data key. Atomic: on any error
 * no file appears at out_path (and nothing is overwritten unless the write succeeds). Bad
 * input errors name the file, line and column. stats may be NULL. */
int mc2_table_encrypt_file(const char *in_path, const mc2_schema *s,
                           const uint8_t data_key[MC2_KEY_LEN], const char *out_path,
                           const mc2_encrypt_opts *opts, mc2_table_stats *stats,
                           mc2_err *err) MC2_WUR;

/* Decrypts an .mc2t file to CSV (or .tbl). Every block is authenticated before its rows are
 * written; on any failure the output file does not appear. */
int mc2_table_decrypt_file(const char *in_path, const uint8_t data_key[MC2_KEY_LEN],
                           const char *out_path, enum mc2_textfmt out_format,
                           mc2_table_stats *stats, mc2_err *err) MC2_WUR;
/* The same from an open file (read with pread; not closed); errors name it `in_name`. */
int mc2_table_decrypt_fd(int fd, const char *in_name, const uint8_t data_key[MC2_KEY_LEN],
                         const char *out_path, enum mc2_textfmt out_format, mc2_table_stats *stats,
                         mc2_err *err) MC2_WUR;

#ifdef __cplusplus
}
#endif
#endif
