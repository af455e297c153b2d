/* loop.c - UNTRUSTED: mc2d's event loop. One thread, poll(2): the listening socket, the
 * enclave channel and up to SRV_MAX_CONNS client connections. A client connection speaks
 * the host API until it sends HAPI_ENCLAVE; from then on its bytes are relayed, unread, to
 * an enclave session and back. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "base/hex.h"
#include "conn/conn.h"
#include "mc2/job.h"
#include "server/server.h"
#include "wire/proto.h"

#define LOG(...) fprintf(stderr, "mc2d: " __VA_ARGS__)

static void conn_close(srv_conn *c)
{
    if (c->uploading) {
        mc2_afile_abort(&c->up);
        mc2_sha256_free(c->up_hash);
        c->up_hash = NULL;
        c->uploading = false;
    }
    close(c->fd);
    mc2_buf_free(&c->in);
    memset(c, 0, sizeof *c);
    c->fd = -1;
}

static int reply(srv_conn *c, uint16_t type, const void *p, size_t n)
{
    mc2_err err;
    return mc2_frame_write_fd(c->fd, type, 0, p, n, &err);
}

static int reply_err(srv_conn *c, const mc2_err *e)
{
    return reply(c, HAPI_ERR, e->msg, strlen(e->msg));
}

static int to_enclave(server *s, uint16_t type, uint32_t ch, const void *p, size_t n)
{
    mc2_err err;
    if (mc2_frame_write_fd(s->enclave.fd, type, ch, p, n, &err)) {
        LOG("lost the enclave channel: %s\n", err.msg);
        return -1;
    }
    return 0;
}

/* ---- host API ------------------------------------------------------------------------- */

static int api_status(server *s, srv_conn *c)
{
    mc2_buf b = {0}, t = {0};
    mc2_err err;
    char m[65], sg[65], ph[65];
    mc2_hex_encode(s->enclave.measurement, 32, m);
    mc2_hex_encode(s->enclave.signer, 32, sg);
    mc2_hex_encode(s->policy->hash, 32, ph);
    size_t ntables = 0;
    if (srv_list_tables(s, &t, &err) == 0)
        for (size_t i = 0; i < t.len; i++) ntables += t.data[i] == '\n';
    size_t nsess = 0;
    for (size_t i = 0; i < SRV_MAX_CONNS; i++) nsess += s->conns[i].fd > 0 && s->conns[i].relay;
    int rc = mc2_buf_printf(&b, &err,
                            "service: mc2d (pid %d)\nenclave: running, backend sim "
                            "(SIMULATION: no hardware protection)\nmeasurement: %s\nsigner: "
                            "%s\nproduct_id: %u\nsvn: %u\npolicy: %s\nconsortium: %s\ntables: "
                            "%zu\njobs: %zu\nsessions: %zu\n",
                            (int)getpid(), m, sg, s->enclave.product_id, s->enclave.svn, ph,
                            s->policy->consortium, ntables, s->njobs, nsess);
    if (rc == 0) rc = reply(c, HAPI_OK, b.data, b.len);
    mc2_buf_free(&b);
    mc2_buf_free(&t);
    return rc;
}

static int api_put(server *s, srv_conn *c, const mc2_frame *f)
{
    mc2_err err;
    mc2_rd r = mc2_rd_init(f->payload.data, f->payload.len);
    size_t ol, nl;
    const uint8_t *o = mc2_rd_lv(&r, &ol), *n = mc2_rd_lv(&r, &nl);
    uint64_t size = mc2_rd_u64(&r);
    const uint8_t *sig = mc2_rd_take(&r, 64);
    if (r.bad || mc2_rd_left(&r) || ol == 0 || ol > 64 || nl == 0 || nl > 128 || c->uploading) {
        mc2_err_set(&err, MC2_E_INPUT, "malformed upload request");
        return reply_err(c, &err);
    }
    memcpy(c->up_owner, o, ol);
    c->up_owner[ol] = '\0';
    memcpy(c->up_name, n, nl);
    c->up_name[nl] = '\0';
    if (mc2_name_check(c->up_owner, &err) || mc2_table_name_check(c->up_name, &err))
        return reply_err(c, &err);
    if (!mc2_policy_party(s->policy, c->up_owner)) {
        mc2_err_set(&err, MC2_E_AUTH, "'%s' is not a party of this consortium", c->up_owner);
        return reply_err(c, &err);
    }
    char obj[300];
    snprintf(obj, sizeof obj, "tables/%s/%s.mc2t", c->up_owner, c->up_name);
    char *path = srv_object_path(s, obj, &err);
    if (!path) return reply_err(c, &err);
    char *dir = mc2_path_join(s->store, "tables");
    char *odir = dir ? mc2_path_join(dir, c->up_owner) : NULL;
    int rc = -1;
    if (!odir || mc2_mkdir(odir, 0700, &err) || mc2_afile_open(&c->up, path, 0600, 0, &err) ||
        !(c->up_hash = mc2_sha256_new(&err))) {
        if (c->up.fd > 0) mc2_afile_abort(&c->up);
        rc = reply_err(c, &err);
    } else {
        memcpy(c->up_sig, sig, 64);
        c->up_size = size;
        c->up_got = 0;
        c->uploading = true;
        rc = reply(c, HAPI_OK, NULL, 0);
    }
    mc2_free(odir);
    mc2_free(dir);
    mc2_free(path);
    return rc;
}

static int api_put_data(srv_conn *c, const mc2_frame *f)
{
    mc2_err err;
    if (!c->uploading || c->up_got + f->payload.len > c->up_size) return -1; /* protocol abuse */
    if (mc2_afile_write(&c->up, f->payload.data, f->payload.len, &err) ||
        mc2_sha256_update(c->up_hash, f->payload.data, f->payload.len, &err)) {
        LOG("upload failed: %s\n", err.msg);
        return -1;
    }
    c->up_got += f->payload.len;
    return 0;
}

static int api_put_end(server *s, srv_conn *c)
{
    mc2_err err;
    uint8_t h[32];
    if (!c->uploading) return -1;
    c->uploading = false;
    int ok = c->up_got == c->up_size && mc2_sha256_final(c->up_hash, h, &err) == 0;
    c->up_hash = NULL;
    const mc2_party *p = mc2_policy_party(s->policy, c->up_owner);
    if (!ok) {
        mc2_afile_abort(&c->up);
        mc2_err_set(&err, MC2_E_INPUT, "upload incomplete");
        return reply_err(c, &err);
    }
    if (mc2_upload_verify(p->pub, c->up_owner, c->up_name, h, c->up_sig, &err)) {
        mc2_afile_abort(&c->up);
        mc2_err_set(&err, MC2_E_AUTH, "the upload is not signed by %s", c->up_owner);
        return reply_err(c, &err);
    }
    if (mc2_afile_commit(&c->up, &err)) return reply_err(c, &err);
    LOG("stored table %s/%s (%llu bytes)\n", c->up_owner, c->up_name,
        (unsigned long long)c->up_size);
    return reply(c, HAPI_OK, NULL, 0);
}

static int api_get(server *s, srv_conn *c, const mc2_frame *f)
{
    mc2_err err;
    mc2_rd r = mc2_rd_init(f->payload.data, f->payload.len);
    size_t nl;
    const uint8_t *n = mc2_rd_lv(&r, &nl);
    char name[310];
    if (r.bad || mc2_rd_left(&r) || nl >= sizeof name) {
        mc2_err_set(&err, MC2_E_INPUT, "malformed download request");
        return reply_err(c, &err);
    }
    memcpy(name, n, nl);
    name[nl] = '\0';
    char *path = srv_object_path(s, name, &err);
    if (!path) return reply_err(c, &err);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    mc2_free(path);
    if (fd < 0) {
        mc2_err_set(&err, MC2_E_NOTFOUND, "no object '%s'", name);
        return reply_err(c, &err);
    }
    static uint8_t chunk[1 << 20];
    ssize_t got;
    int rc = 0;
    while (rc == 0 && (got = read(fd, chunk, sizeof chunk)) > 0)
        rc = reply(c, HAPI_DATA, chunk, (size_t)got);
    close(fd);
    return rc ? rc : reply(c, HAPI_OK, NULL, 0);
}

static int api_list_jobs(server *s, srv_conn *c)
{
    mc2_buf b = {0};
    mc2_err err;
    int rc = 0;
    for (size_t i = 0; i < s->njobs && rc == 0; i++)
        rc = mc2_buf_printf(&b, &err, "%s\n", s->jobs[i].line);
    if (rc == 0) rc = reply(c, HAPI_OK, b.data, b.len);
    mc2_buf_free(&b);
    return rc;
}

/* Handles one host-API frame; -1 closes the connection. */
static int api(server *s, srv_conn *c, const mc2_frame *f)
{
    mc2_err err;
    mc2_buf b = {0};
    int rc;
    switch (f->type) {
    case HAPI_STATUS:
        return api_status(s, c);
    case HAPI_PUT:
        return api_put(s, c, f);
    case HAPI_PUT_DATA:
        return api_put_data(c, f);
    case HAPI_PUT_END:
        return api_put_end(s, c);
    case HAPI_GET:
        return api_get(s, c, f);
    case HAPI_TABLES:
        rc = srv_list_tables(s, &b, &err) ? reply_err(c, &err) : reply(c, HAPI_OK, b.data, b.len);
        mc2_buf_free(&b);
        return rc;
    case HAPI_JOBS:
        return api_list_jobs(s, c);
    case HAPI_ENCLAVE:
        if (f->payload.len != 32) return -1;
        c->relay = true;
        c->sid = ++s->next_sid;
        return to_enclave(s, EIF_OPEN, c->sid, f->payload.data, 32) ? -2 : 0;
    default:
        mc2_err_set(&err, MC2_E_USAGE, "unknown request %u", f->type);
        return reply_err(c, &err);
    }
}

/* Reads what the client sent and acts on it; -1 closes the connection, -2 is fatal. */
static int conn_readable(server *s, srv_conn *c)
{
    mc2_err err;
    if (mc2_buf_reserve(&c->in, 1 << 20, &err)) return -1;
    ssize_t r = read(c->fd, c->in.data + c->in.len, 1 << 20);
    if (r <= 0) return -1;
    c->in.len += (size_t)r;
    size_t off = 0;
    int rc = 0;
    mc2_frame f = {0};
    while (rc == 0 && off < c->in.len) {
        if (c->relay) {
            rc = to_enclave(s, EIF_DATA, c->sid, c->in.data + off, c->in.len - off) ? -2 : 0;
            off = c->in.len;
            break;
        }
        long used = mc2_frame_parse(c->in.data + off, c->in.len - off, MC2_FRAME_MAX, &f, &err);
        if (used < 0) rc = -1;
        if (used <= 0) break;
        off += (size_t)used;
        rc = api(s, c, &f);
    }
    mc2_frame_free(&f);
    memmove(c->in.data, c->in.data + off, c->in.len - off);
    c->in.len -= off;
    return rc;
}

/* ---- the enclave's requests --------------------------------------------------------------
 * Every request (EIF_STORE_READ, _SIZE, _PUT, _DROP, and any type mc2d does not know) gets
 * exactly one EIF_STORE_REPLY on its channel: status 0 done, 1 failed, 2 unsupported. */

static srv_conn *by_sid(server *s, uint32_t sid)
{
    for (size_t i = 0; i < SRV_MAX_CONNS; i++)
        if (s->conns[i].fd > 0 && s->conns[i].relay && s->conns[i].sid == sid) return &s->conns[i];
    return NULL;
}

static int store_reply(server *s, uint32_t req, uint32_t status, const void *p, size_t n)
{
    mc2_buf b = {0};
    mc2_err err;
    int rc = mc2_buf_put_u32(&b, status, &err) || mc2_buf_append(&b, p, n, &err) ||
                     to_enclave(s, EIF_STORE_REPLY, req, b.data, b.len)
                 ? -1
                 : 0;
    mc2_buf_free(&b);
    return rc;
}

static int enclave_store(server *s, const mc2_frame *f)
{
    mc2_err err;
    mc2_rd r = mc2_rd_init(f->payload.data, f->payload.len);
    size_t nl;
    const uint8_t *n = mc2_rd_lv(&r, &nl);
    char name[310];
    if (r.bad || nl >= sizeof name) return store_reply(s, f->channel, 1, NULL, 0);
    memcpy(name, n, nl);
    name[nl] = '\0';
    char *path = srv_object_path(s, name, &err);
    if (!path) return store_reply(s, f->channel, 1, NULL, 0);
    int rc = 0;
    if (f->type == EIF_STORE_DROP) { /* only spilled runs may be dropped */
        rc = store_reply(s, f->channel,
                         strncmp(name, "spill/", 6) == 0 && unlink(path) == 0 ? 0 : 1, NULL, 0);
    } else if (f->type == EIF_STORE_SIZE || f->type == EIF_STORE_READ) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) != 0) {
            rc = store_reply(s, f->channel, 1, NULL, 0);
        } else if (f->type == EIF_STORE_SIZE) {
            uint8_t sz[8];
            mc2_le64_put(sz, (uint64_t)st.st_size);
            rc = store_reply(s, f->channel, 0, sz, 8);
        } else {
            uint64_t off = mc2_rd_u64(&r);
            uint32_t len = mc2_rd_u32(&r);
            uint8_t *buf = len <= (1u << 24) ? mc2_malloc(len) : NULL;
            ssize_t got = buf && !r.bad ? pread(fd, buf, len, (off_t)off) : -1;
            rc = got == (ssize_t)len ? store_reply(s, f->channel, 0, buf, len)
                                     : store_reply(s, f->channel, 1, NULL, 0);
            mc2_free(buf);
        }
        if (fd >= 0) close(fd);
    } else { /* EIF_STORE_PUT */
        uint8_t last = mc2_rd_u8(&r);
        size_t left = mc2_rd_left(&r);
        const uint8_t *data = mc2_rd_take(&r, left);
        int ok = !r.bad;
        if (ok && !s->putting) {
            char *dir =
                mc2_path_join(s->store, strncmp(name, "spill/", 6) == 0 ? "spill" : "results");
            ok = dir && mc2_mkdir(dir, 0700, &err) == 0 &&
                 mc2_afile_open(&s->put, path, 0600, 0, &err) == 0;
            mc2_free(dir);
            if (ok) {
                s->putting = true;
                snprintf(s->put_name, sizeof s->put_name, "%s", name);
            }
        }
        ok =
            ok && strcmp(s->put_name, name) == 0 && mc2_afile_write(&s->put, data, left, &err) == 0;
        if (ok && last) {
            s->putting = false;
            ok = mc2_afile_commit(&s->put, &err) == 0;
            if (ok) LOG("stored %s\n", name);
        }
        if (!ok && s->putting) {
            mc2_afile_abort(&s->put);
            s->putting = false;
        }
        rc = store_reply(s, f->channel, ok ? 0 : 1, NULL, 0);
    }
    mc2_free(path);
    return rc;
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

/* Handles one message from the enclave; -1 is fatal. */
static int enclave_msg(server *s, const mc2_frame *f)
{
    srv_conn *c;
    mc2_err err;
    switch (f->type) {
    case EIF_OUT:
        c = by_sid(s, f->channel);
        if (c && mc2_write_all(c->fd, f->payload.data, f->payload.len, &err)) conn_close(c);
        return 0;
    case EIF_END:
        c = by_sid(s, f->channel);
        if (c) conn_close(c);
        return 0;
    case EIF_STORE_READ:
    case EIF_STORE_SIZE:
    case EIF_STORE_PUT:
    case EIF_STORE_DROP:
        return enclave_store(s, f);
    case EIF_JOB:
        return enclave_job(s, f);
    case EIF_READY: /* a notification (it came once already at start-up) */
        return 0;
    case EIF_FATAL:
        LOG("the enclave stopped: %.*s\n", (int)(f->payload.len < 800 ? f->payload.len : 800),
            f->payload.data);
        return -1;
    default:
        /* Perhaps a request of a newer enclave: answer it (status 2, unsupported), or the
         * enclave would wait for the reply forever. */
        LOG("unsupported message type %u from the enclave: answered with status 2\n", f->type);
        return store_reply(s, f->channel, 2, NULL, 0);
    }
}

static int enclave_readable(server *s, mc2_err *err)
{
    if (mc2_buf_reserve(&s->enclave_in, 1 << 20, err)) return -1;
    ssize_t r = read(s->enclave.fd, s->enclave_in.data + s->enclave_in.len, 1 << 20);
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

int srv_run(server *s, mc2_err *err)
{
    static struct pollfd pf[SRV_MAX_CONNS + 2];
    for (size_t i = 0; i < SRV_MAX_CONNS; i++) s->conns[i].fd = -1;
    for (;;) {
        size_t n = 0;
        pf[n++] = (struct pollfd){s->listen_fd, POLLIN, 0};
        pf[n++] = (struct pollfd){s->enclave.fd, POLLIN, 0};
        int map[SRV_MAX_CONNS];
        for (size_t i = 0; i < SRV_MAX_CONNS; i++)
            if (s->conns[i].fd >= 0) {
                map[n - 2] = (int)i;
                pf[n++] = (struct pollfd){s->conns[i].fd, POLLIN, 0};
            }
        if (poll(pf, n, -1) < 0) {
            if (errno == EINTR) continue;
            return mc2_err_set(err, MC2_E_IO, "poll: %s", strerror(errno));
        }
        if (pf[1].revents) {
            if (enclave_readable(s, err)) return -1;
        }
        for (size_t k = 2; k < n; k++) {
            if (!pf[k].revents) continue;
            srv_conn *c = &s->conns[map[k - 2]];
            if (c->fd != pf[k].fd) continue; /* closed meanwhile */
            int r = conn_readable(s, c);
            if (r == -2) return mc2_err_set(err, MC2_E_IO, "lost the enclave channel");
            if (r < 0) {
                if (c->relay) (void)to_enclave(s, EIF_CLOSE, c->sid, NULL, 0);
                conn_close(c);
            }
        }
        if (pf[0].revents & POLLIN) {
            int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
            if (fd < 0) continue;
            srv_conn *c = NULL;
            for (size_t i = 0; i < SRV_MAX_CONNS && !c; i++)
                if (s->conns[i].fd < 0) c = &s->conns[i];
            if (!c) {
                close(fd);
                continue;
            }
            memset(c, 0, sizeof *c);
            c->fd = fd;
        }
    }
}
