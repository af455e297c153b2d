/* api.c - UNTRUSTED: mc2d's host API (docs/wire-protocol.md §2): status, uploads, downloads,
 * listings, and turning a connection into a relay to the enclave. Replies are queued on the
 * connection (c->out), never written here; a download is streamed a chunk at a time by
 * srv_get_refill as the client drains its queue, so a slow reader holds no more than
 * SRV_OUT_LOW plus one chunk. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "base/hex.h"
#include "mc2/job.h"
#include "policy/upload.h"
#include "server/server.h"
#include "wire/proto.h"

#define LOG(...) fprintf(stderr, "mc2d: " __VA_ARGS__)

static int reply(srv_conn *c, uint16_t type, const void *p, size_t n)
{
    mc2_err err;
    return srv_outq_frame(&c->out, type, 0, p, n, &err);
}

static int reply_err(srv_conn *c, const mc2_err *e)
{
    return reply(c, HAPI_ERR, e->msg, strlen(e->msg));
}

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
    for (size_t i = 0; i < SRV_MAX_CONNS; i++) nsess += s->conns[i].fd >= 0 && s->conns[i].relay;
    int rc = mc2_buf_printf(&b, &err,
                            "service: mc2d (pid %d)\nenclave: running, backend %s "
                            "(%s)\nmeasurement: %s\nsigner: "
                            "%s\nproduct_id: %u\nsvn: %u\npolicy: %s\nconsortium: %s\ntables: "
                            "%zu\njobs: %zu\nsessions: %zu\n",
                            (int)getpid(), s->tee.ops->name, s->tee.ops->banner, m, sg,
                            s->enclave.product_id, s->enclave.svn, ph, s->policy->consortium,
                            ntables, s->njobs, nsess);
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
    char *path = srv_object_path(s->store, obj, &err);
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

/* Opens the object a HAPI_GET or HAPI_SIZE names (payload: name LV); -1 with *err. */
static int open_object(server *s, const mc2_frame *f, mc2_err *err)
{
    mc2_rd r = mc2_rd_init(f->payload.data, f->payload.len);
    size_t nl;
    const uint8_t *n = mc2_rd_lv(&r, &nl);
    char name[310];
    if (r.bad || mc2_rd_left(&r) || nl >= sizeof name)
        return mc2_err_set(err, MC2_E_INPUT, "malformed download request");
    memcpy(name, n, nl);
    name[nl] = '\0';
    char *path = srv_object_path(s->store, name, err);
    if (!path) return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    mc2_free(path);
    if (fd < 0) return mc2_err_set(err, MC2_E_NOTFOUND, "no object '%s'", name);
    return fd;
}

static int api_get(server *s, srv_conn *c, const mc2_frame *f)
{
    mc2_err err;
    int fd = open_object(s, f, &err);
    if (fd < 0) return reply_err(c, &err);
    c->getting = true;
    c->get_fd = fd;
    return srv_get_refill(s, c);
}

static int api_size(server *s, srv_conn *c, const mc2_frame *f)
{
    mc2_err err;
    struct stat st;
    int fd = open_object(s, f, &err);
    if (fd < 0) return reply_err(c, &err);
    int ok = fstat(fd, &st) == 0;
    close(fd);
    if (!ok) {
        mc2_err_set(&err, MC2_E_IO, "cannot read the object (a storage error on the service)");
        return reply_err(c, &err);
    }
    uint8_t sz[8];
    mc2_le64_put(sz, (uint64_t)st.st_size);
    return reply(c, HAPI_OK, sz, sizeof sz);
}

int srv_get_refill(server *s, srv_conn *c)
{
    mc2_err err;
    ssize_t got = read(c->get_fd, s->io, sizeof s->io);
    if (got > 0) return reply(c, HAPI_DATA, s->io, (size_t)got);
    close(c->get_fd);
    c->get_fd = -1;
    c->getting = false;
    if (got == 0) return reply(c, HAPI_OK, NULL, 0);
    mc2_err_set(&err, MC2_E_IO, "cannot read the object (a storage error on the service)");
    return reply_err(c, &err);
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

int srv_api(server *s, srv_conn *c, const mc2_frame *f)
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
    case HAPI_SIZE:
        return api_size(s, c, f);
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
        return srv_to_enclave(s, EIF_OPEN, c->sid, f->payload.data, 32);
    default:
        mc2_err_set(&err, MC2_E_USAGE, "unknown request %u", f->type);
        return reply_err(c, &err);
    }
}
