/* fault.c - the relay's fault hook, TEST BUILDS ONLY (relay.h, "TEST BUILDS ONLY"): the host
 * misbehaving on purpose so that tests can show every such act fails the job. Linked only
 * into the target mc2_mpirelay_fault. */
#include "mpirelay/fault.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/bytes.h"
#include "mesh/mesh.h"

#define ANY UINT32_MAX

enum kind { K_DROP, K_DUP, K_REPLAY, K_REORDER, K_FLIP, K_SENDER, K_N };
static const char *kind_name[K_N] = {"drop", "dup", "replay", "reorder", "flip", "sender"};

struct relay_fault {
    enum kind kind;
    uint32_t stage, from, to, self, n;
    uint32_t job; /* 0: the first job (replay records there), 1: the one altered */
    bool done;    /* this job's message was recorded or altered */
    uint8_t *record;
    size_t record_len;
    uint8_t *held[MC2_MESH_MAX_RANKS]; /* one message per sender delivered before MPI's next */
    size_t held_len[MC2_MESH_MAX_RANKS];
    char desc[128];
};

static int parse_u32(const char *s, char **end, uint32_t *out)
{
    unsigned long v = strtoul(s, end, 10);
    if (*end == s || v > 1000000) return -1;
    *out = (uint32_t)v;
    return 0;
}

relay_fault *relay_fault_new(uint32_t self, uint32_t n, int *active, mc2_err *err)
{
    const char *spec = getenv("MC2_RELAY_FAULT");
    *active = spec && *spec;
    if (!*active) return NULL;
    relay_fault *f = calloc(1, sizeof *f);
    if (!f) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        return NULL;
    }
    const char *colon = strchr(spec, ':');
    char *end = NULL;
    int k = 0;
    while (k < K_N && (!colon || strlen(kind_name[k]) != (size_t)(colon - spec) ||
                       strncmp(spec, kind_name[k], (size_t)(colon - spec)) != 0))
        k++;
    f->to = ANY;
    if (k == K_N || parse_u32(colon + 1, &end, &f->stage) || *end != ':' ||
        parse_u32(end + 1, &end, &f->from) || f->from >= n ||
        (*end == ':' && (parse_u32(end + 1, &end, &f->to) || f->to >= n)) || *end) {
        free(f);
        mc2_err_set(err, MC2_E_USAGE,
                    "MC2_RELAY_FAULT='%.40s': want KIND:STAGE:FROM[:TO], KIND one of drop, dup, "
                    "replay, reorder, flip, sender, ranks below %u",
                    spec, n);
        return NULL;
    }
    f->kind = (enum kind)k;
    f->self = self;
    f->n = n;
    snprintf(f->desc, sizeof f->desc, "%s of a message of stage %u from rank %u to %s",
             kind_name[k], f->stage, f->from, f->to == ANY ? "any rank" : "rank");
    if (f->to != ANY) {
        size_t l = strlen(f->desc);
        snprintf(f->desc + l, sizeof f->desc - l, " %u", f->to);
    }
    return f;
}

void relay_fault_free(relay_fault *f)
{
    if (!f) return;
    free(f->record);
    for (size_t i = 0; i < MC2_MESH_MAX_RANKS; i++) free(f->held[i]);
    free(f);
}

void relay_fault_next_job(relay_fault *f)
{
    f->job++;
    f->done = false;
    for (size_t i = 0; i < MC2_MESH_MAX_RANKS; i++) {
        free(f->held[i]);
        f->held[i] = NULL;
    }
}

const char *relay_fault_desc(const relay_fault *f)
{
    return f->desc;
}

static uint8_t *copy(const uint8_t *b, size_t n)
{
    uint8_t *c = malloc(n ? n : 1);
    if (c) memcpy(c, b, n);
    return c;
}

/* Is this (the first) message the hook is after, in a job it acts in? */
static bool chosen(const relay_fault *f, uint32_t from, const uint8_t *b, size_t n)
{
    return f->job <= 1 && !f->done && from == f->from && (f->to == ANY || f->to == f->self) &&
           n >= MC2_MESH_HDR_LEN && mc2_le32_get(b + 32) == f->stage;
}

int relay_fault_recv(relay_fault *f, mc2_mpirelay *r, uint32_t from, uint8_t *buf, size_t cap,
                     size_t *len, mc2_err *err)
{
    if (from < MC2_MESH_MAX_RANKS && f->held[from]) {
        if (f->held_len[from] > cap)
            return mc2_err_set(err, MC2_E_INPUT, "fault hook: held message too long");
        memcpy(buf, f->held[from], f->held_len[from]);
        *len = f->held_len[from];
        free(f->held[from]);
        f->held[from] = NULL;
        return 0;
    }
    if (mc2_mpirelay_raw_recv(r, from, buf, cap, len, err)) return -1;
    if (!chosen(f, from, buf, *len) || (f->job == 0 && f->kind != K_REPLAY)) return 0;
    f->done = true;
    if (f->job == 0) { /* replay: the host keeps this message of the first job */
        free(f->record);
        if (!(f->record = copy(buf, *len))) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        f->record_len = *len;
        return 0;
    }
    fprintf(stderr, "mpirelay (TEST BUILD fault hook): rank %u: %s\n", f->self, f->desc);
    switch (f->kind) {
    case K_DROP:
        return mc2_mpirelay_raw_recv(r, from, buf, cap, len, err);
    case K_DUP:
        if (!(f->held[from] = copy(buf, *len))) return mc2_err_set(err, MC2_E_NOMEM, "oom");
        f->held_len[from] = *len;
        return 0;
    case K_REPLAY:
        if (!f->record || f->record_len > cap)
            return mc2_err_set(err, MC2_E_USAGE,
                               "fault hook: nothing recorded to replay (the first job had no "
                               "such message)");
        memcpy(buf, f->record, f->record_len);
        *len = f->record_len;
        return 0;
    case K_REORDER: {
        uint8_t *first = copy(buf, *len);
        size_t first_len = *len;
        if (!first) return mc2_err_set(err, MC2_E_NOMEM, "oom");
        if (mc2_mpirelay_raw_recv(r, from, buf, cap, len, err)) {
            free(first);
            return -1;
        }
        f->held[from] = first;
        f->held_len[from] = first_len;
        return 0;
    }
    case K_FLIP:
        buf[*len - 1] ^= 0x04;
        return 0;
    case K_SENDER:
        mc2_le32_put(buf + 36, (from + 1) % f->n);
        return 0;
    default:
        return 0;
    }
}
