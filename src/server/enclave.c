/* enclave.c - UNTRUSTED: mc2d's side of the host interface (docs/enclave-interface.md §2-4).
 * Frames for the enclave are queued (s->enclave_out) and written when the channel takes
 * them. The enclave's messages are relayed output and ended sessions (queued on the client
 * connection), job lines, and storage requests. Every request gets exactly one
 * EIF_STORE_REPLY on its channel: 0 done, 1 failed, 2 unsupported (a type mc2d does not
 * know, so an enclave waiting for the answer fails its job instead of waiting forever). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "server/server.h"
#include "wire/proto.h"

#define LOG(...) fprintf(stderr, "mc2d: " __VA_ARGS__)

enum {
    STORE_OK = SRV_STORE_OK,
    STORE_FAILED = SRV_STORE_FAILED,
    STORE_UNSUPPORTED = SRV_STORE_UNSUPPORTED,
    STORE_NOTFOUND = SRV_STORE_NOTFOUND
};

int srv_to_enclave(server *s, uint16_t type, uint32_t ch, const void *p, size_t n)
{
    mc2_err err;
    if (srv_outq_frame(&s->enclave_out, type, ch, p, n, &err)) {
        s->fatal = "out of memory for the enclave channel";
        return -1;
    }
    return 0;
}

/* A reply of `type` on channel ch: u32 status | p[0..n). */
static int status_reply(server *s, uint16_t type, uint32_t ch, uint32_t status, const void *p,
                        size_t n)
{
    mc2_buf b = {0};
    mc2_err err;
    int rc = mc2_buf_put_u32(&b, status, &err) || mc2_buf_append(&b, p, n, &err) ||
                     srv_to_enclave(s, type, ch, b.data, b.len)
                 ? -1
                 : 0;
    mc2_buf_free(&b);
    return rc;
}

static int store_reply(server *s, uint32_t req, uint32_t status, const void *p, size_t n)
{
    return status_reply(s, EIF_STORE_REPLY, req, status, p, n);
}

/* EIF_EVIDENCE_REQ for session sid: the backend's device makes evidence over the enclave's
 * report data (it takes as long as the device does: a TPM quote, a firmware report). Any
 * failure is answered with status 1 and logged here; the enclave then ends that session. */
static int enclave_evidence(server *s, const mc2_frame *f)
{
    mc2_buf ev = {0};
    mc2_err err;
    mc2_err_clear(&err);
    int bad = 1, rc;
    if (f->payload.len != MC2_REPORT_DATA_LEN)
        mc2_err_set(&err, MC2_E_INPUT, "malformed evidence request");
    else if (!s->tee.ops->evidence)
        mc2_err_set(&err, MC2_E_INPUT, "the %s backend makes no evidence on the host",
                    s->tee.ops->name);
    else
        bad = s->tee.ops->evidence(s->tee.ctx, f->payload.data, &ev, &err) != 0;
    if (bad) {
        LOG("session %u: no evidence: %s\n", f->channel, err.msg);
        rc = status_reply(s, EIF_EVIDENCE, f->channel, 1, err.msg, strlen(err.msg));
    } else {
        rc = status_reply(s, EIF_EVIDENCE, f->channel, 0, ev.data, ev.len);
    }
    mc2_buf_free(&ev);
    return rc;
}

/* EIF_STORE_SIZE and EIF_STORE_READ (r is positioned after the name). A read's bytes go from
 * the file to the channel (srv_outq_file), behind the reply's header and status. */
static int store_read(server *s, const mc2_frame *f, const char *path, mc2_rd *r)
{
    if (srv_store_answer_read(&s->enclave_out, f->type, f->channel, path, r) == 0) return 0;
    s->fatal = "out of memory for the enclave channel";
    return -1;
}

/* ---- objects being written --------------------------------------------------------------
 *
 * An object is written by one or more EIF_STORE_PUTs of its name, in order: each appends to a
 * temporary file beside the object (mc2_afile), and the one with last = 1 commits it
 * atomically (fsync, rename): until then nothing exists under the real name. Only results
 * and spilled runs are written. Several objects may be in the middle of being written at
 * once (an SQL job streams its result while it spills runs), at most SRV_MAX_PUTS: a put that
 * would start one more fails (status 1). An unfinished object is abandoned, its temporary
 * file removed, when a put of it fails, when the enclave drops it (EIF_STORE_DROP: the job
 * writing it failed), when the enclave reports that the job its name belongs to has ended
 * (EIF_JOB done or failed: a backstop, as the enclave's drop is best effort) and when mc2d
 * stops. A crash leaves the temporary file; the next start removes it (srv_store_recover). */

static srv_put *put_find(server *s, const char *name)
{
    for (size_t i = 0; i < SRV_MAX_PUTS; i++)
        if (s->puts[i].used && strcmp(s->puts[i].name, name) == 0) return &s->puts[i];
    return NULL;
}

static void put_abort(srv_put *p, const char *why)
{
    LOG("abandoned the unfinished object %s (%llu bytes written): %s\n", p->name,
        (unsigned long long)p->f.written, why);
    mc2_afile_abort(&p->f);
    p->used = false;
}

void srv_puts_abort(server *s)
{
    for (size_t i = 0; i < SRV_MAX_PUTS; i++)
        if (s->puts[i].used) put_abort(&s->puts[i], "mc2d is stopping");
}

/* Job `id` ended: abandons the objects of that job still unfinished. */
static void puts_job_ended(server *s, unsigned long long id)
{
    char res[64], spill[64];
    int rl = snprintf(res, sizeof res, "results/job-%llu-", id);
    int sl = snprintf(spill, sizeof spill, "spill/job-%llu-", id);
    for (size_t i = 0; i < SRV_MAX_PUTS; i++) {
        srv_put *p = &s->puts[i];
        if (p->used &&
            (strncmp(p->name, res, (size_t)rl) == 0 || strncmp(p->name, spill, (size_t)sl) == 0))
            put_abort(p, "its job has ended");
    }
}

/* EIF_STORE_PUT: appends a chunk to the object; the last one commits it. */
static int store_put(server *s, const mc2_frame *f, const char *name, const char *path, mc2_rd *r)
{
    mc2_err err;
    uint8_t last = mc2_rd_u8(r);
    size_t left = mc2_rd_left(r);
    const uint8_t *data = mc2_rd_take(r, left);
    bool spill = strncmp(name, "spill/", 6) == 0, state = strcmp(name, SRV_STATE_OBJECT) == 0;
    if (r->bad || (!spill && !state && strncmp(name, "results/", 8) != 0))
        return store_reply(s, f->channel, STORE_FAILED, NULL, 0);
    srv_put *p = put_find(s, name);
    if (!p) {
        for (size_t i = 0; i < SRV_MAX_PUTS && !p; i++)
            if (!s->puts[i].used) p = &s->puts[i];
        if (!p) {
            LOG("refused to write %s: the enclave is already writing %d objects\n", name,
                SRV_MAX_PUTS);
            return store_reply(s, f->channel, STORE_FAILED, NULL, 0);
        }
        char *dir = mc2_path_join(s->store, spill ? "spill" : state ? "enclave" : "results");
        if (!dir) mc2_err_set(&err, MC2_E_NOMEM, "out of memory");
        int ok = dir && mc2_mkdir(dir, 0700, &err) == 0 &&
                 mc2_afile_open(&p->f, path, 0600, 0, &err) == 0;
        mc2_free(dir);
        if (!ok) {
            LOG("cannot write %s: %s\n", name, err.msg);
            return store_reply(s, f->channel, STORE_FAILED, NULL, 0);
        }
        p->used = true;
        snprintf(p->name, sizeof p->name, "%s", name);
    }
    int ok = mc2_afile_write(&p->f, data, left, &err) == 0;
    if (!ok) {
        put_abort(p, err.msg);
    } else if (last) {
        p->used = false;
        ok = mc2_afile_commit(&p->f, &err) == 0; /* on failure it removes the file */
        if (ok && !state) /* the sealed state is saved after every change: not logged */
            LOG("stored %s\n", name);
        else if (!ok)
            LOG("cannot store %s: %s\n", name, err.msg);
    }
    return store_reply(s, f->channel, ok ? STORE_OK : STORE_FAILED, NULL, 0);
}

/* EIF_STORE_DROP: abandons an unfinished object, or removes a spilled run. */
static int store_drop(server *s, const mc2_frame *f, const char *name, const char *path)
{
    srv_put *p = put_find(s, name);
    bool ok;
    if (p) {
        put_abort(p, "the enclave dropped it");
        ok = true;
    } else {
        ok = strncmp(name, "spill/", 6) == 0 && unlink(path) == 0;
    }
    return store_reply(s, f->channel, ok ? STORE_OK : STORE_FAILED, NULL, 0);
}

/* A storage request: name LV first, then per type. Answered with exactly one reply. */
static int enclave_store(server *s, const mc2_frame *f)
{
    mc2_err err;
    mc2_rd r = mc2_rd_init(f->payload.data, f->payload.len);
    char name[310];
    if (srv_store_req_name(&r, name)) return store_reply(s, f->channel, STORE_FAILED, NULL, 0);
    char *path = srv_object_path(s->store, name, &err);
    if (!path) return store_reply(s, f->channel, STORE_FAILED, NULL, 0);
    int rc;
    if (f->type == EIF_STORE_DROP)
        rc = store_drop(s, f, name, path);
    else if (f->type == EIF_STORE_PUT)
        rc = store_put(s, f, name, path, &r);
    else
        rc = store_read(s, f, path, &r);
    mc2_free(path);
    return rc;
}

/* EIF_COUNTER: u8 op (0 read, 1 increment) -> u64 value of the sim monotonic counter. */
static int enclave_counter(server *s, const mc2_frame *f)
{
    mc2_err err;
    uint64_t v;
    uint8_t b[8];
    if (f->payload.len != 1 || f->payload.data[0] > 1)
        return store_reply(s, f->channel, STORE_FAILED, NULL, 0);
    if (!s->tee.ops->counter) {
        LOG("the %s backend keeps no monotonic counter for the enclave\n", s->tee.ops->name);
        return store_reply(s, f->channel, STORE_UNSUPPORTED, NULL, 0);
    }
    if (s->tee.ops->counter(s->tee.ctx, f->payload.data[0] == 1, &v, &err)) {
        LOG("cannot %s the enclave's counter: %s\n", f->payload.data[0] ? "increment" : "read",
            err.msg);
        return store_reply(s, f->channel, STORE_FAILED, NULL, 0);
    }
    mc2_le64_put(b, v);
    return store_reply(s, f->channel, STORE_OK, b, sizeof b);
}

static int enclave_job(server *s, const mc2_frame *f)
{
    char line[1200];
    size_t n = f->payload.len < sizeof line - 1 ? f->payload.len : sizeof line - 1;
    memcpy(line, f->payload.data, n);
    line[n] = '\0';
    for (size_t i = 0; i < n; i++)
        if (line[i] == '\n' || line[i] == '\r') line[i] = ' ';
    unsigned long long id = strtoull(line, NULL, 10);
    const char *state = strchr(line, ' ');
    state = state ? strchr(state + 1, ' ') : NULL; /* "<id> <kind> <state> <status>" */
    if (state && (strncmp(state + 1, "done", 4) == 0 || strncmp(state + 1, "failed", 6) == 0))
        puts_job_ended(s, id);
    for (size_t i = 0; i < s->njobs; i++)
        if (s->jobs[i].id == id) {
            char *l = mc2_strdup(line);
            if (!l) return 0;
            mc2_free(s->jobs[i].line);
            s->jobs[i].line = l;
            return 0;
        }
    srv_job *nj = mc2_realloc(s->jobs, (s->njobs + 1) * sizeof *nj);
    if (!nj) return 0;
    s->jobs = nj;
    s->jobs[s->njobs].id = id;
    s->jobs[s->njobs].line = mc2_strdup(line);
    if (s->jobs[s->njobs].line) s->njobs++;
    return 0;
}

/* Relayed output for session sid: queued on its connection, which is closed if it lets
 * more than SRV_OUT_LIMIT pile up. */
static void enclave_out(server *s, const mc2_frame *f)
{
    srv_conn *c = srv_by_sid(s, f->channel);
    mc2_err err;
    if (!c || c->ended) return;
    if (srv_outq_put(&c->out, f->payload.data, f->payload.len, &err))
        srv_conn_drop(s, c, "closed: out of memory for its output");
    else if (srv_outq_pending(&c->out) > SRV_OUT_LIMIT)
        srv_conn_drop(s, c,
                      "closed: it does not read what it asked for (unsent output over the limit)");
}

/* Handles one message from the enclave; -1 is fatal. */
static int enclave_msg(server *s, const mc2_frame *f)
{
    srv_conn *c;
    switch (f->type) {
    case EIF_OUT:
        enclave_out(s, f);
        return 0;
    case EIF_END: /* close once what the enclave sent before it has gone out */
        c = srv_by_sid(s, f->channel);
        if (c) {
            c->ended = true;
            if (srv_outq_pending(&c->out) == 0) srv_conn_drop(s, c, NULL);
        }
        return 0;
    case EIF_STORE_READ:
    case EIF_STORE_SIZE:
    case EIF_STORE_PUT:
    case EIF_STORE_DROP:
        return enclave_store(s, f);
    case EIF_JOB:
        return enclave_job(s, f);
    case EIF_EVIDENCE_REQ:
        return enclave_evidence(s, f);
    case EIF_COUNTER:
        return enclave_counter(s, f);
    case EIF_MESH_LAUNCH:
    case EIF_MESH_HELLO:
    case EIF_MESH_SEND:
    case EIF_MESH_END:
        return srv_mesh_from_enclave(s, f);
    case EIF_READY: /* a notification (it came once already at start-up) */
        return 0;
    case EIF_FATAL:
        LOG("the enclave stopped: %.*s\n", (int)(f->payload.len < 800 ? f->payload.len : 800),
            f->payload.data);
        return -1;
    default:
        /* Perhaps a request of a newer enclave: answer it, or the enclave would wait for
         * the reply forever. */
        LOG("unsupported message type %u from the enclave: answered with status 2\n", f->type);
        return store_reply(s, f->channel, STORE_UNSUPPORTED, NULL, 0);
    }
}

int srv_enclave_startup(void *ctx, int fd, const mc2_frame *f, mc2_err *err)
{
    server *s = ctx;
    if (f->type == EIF_FATAL) return mc2_err_set(err, MC2_E_INTERNAL, "the enclave stopped");
    if (enclave_msg(s, f)) return mc2_err_set(err, MC2_E_IO, "%s", s->fatal ? s->fatal : "failed");
    while (srv_outq_pending(&s->enclave_out))
        if (srv_outq_flush(&s->enclave_out, fd, err) < 0)
            return mc2_err_prefix(err, "the enclave failed to start: ");
    return 0;
}

int srv_enclave_readable(server *s, mc2_err *err)
{
    if (mc2_buf_reserve(&s->enclave_in, SRV_CHUNK, err)) return -1;
    ssize_t r = read(s->enclave.fd, s->enclave_in.data + s->enclave_in.len, SRV_CHUNK);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return 0;
    if (r <= 0) return mc2_err_set(err, MC2_E_IO, "the enclave exited");
    s->enclave_in.len += (size_t)r;
    size_t off = 0;
    mc2_frame f = {0};
    int rc = 0;
    for (;;) {
        long used = mc2_frame_parse(s->enclave_in.data + off, s->enclave_in.len - off,
                                    MC2_FRAME_MAX + 64, &f, err);
        if (used < 0) rc = -1;
        if (used <= 0) break;
        off += (size_t)used;
        if (enclave_msg(s, &f)) {
            rc = mc2_err_set(err, MC2_E_IO, "the enclave failed");
            break;
        }
    }
    mc2_frame_free(&f);
    memmove(s->enclave_in.data, s->enclave_in.data + off, s->enclave_in.len - off);
    s->enclave_in.len -= off;
    return rc;
}
