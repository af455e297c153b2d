/* test_platform_crash.c - mc2d killed with SIGKILL in the middle of uploads: no partial
 * table may appear under its real name (a new table stays absent, a table being replaced
 * keeps its old, complete content), the enclave of the killed service goes away too, and
 * after a restart on the same state directory the leftover temporary files are gone, only
 * complete tables are listed, and the table stored before the crash still downloads,
 * decrypts and runs in a job exactly as before.
 *
 * The uploads are driven by hand with the host-API frames (HAPI_PUT, some HAPI_PUT_DATA,
 * never HAPI_PUT_END), and the kill happens only once mc2d has written every byte sent so
 * far to its temporary file, so the crash is provably mid-upload. */
#include <dirent.h>
#include <sys/stat.h>

#include "../tools/pfix.h"
#include "base/bytes.h"
#include "conn/conn.h"
#include "policy/upload.h"
#include "mc2/job.h"
#include "test.h"
#include "wire/proto.h"

static pfix F;
static mc2_identity A; /* bank-a */

/* Begins uploading the file at path as table `name` and sends its first `upto` bytes.
 * Returns the connection (left open: the upload is unfinished), or -1. */
static int upload_part(const char *name, const char *path, size_t upto, mc2_err *err)
{
    mc2_buf file = {0}, req = {0};
    mc2_frame reply = {0};
    uint8_t hash[32], sig[64];
    int fd = -1;
    if (mc2_file_read_all(path, 1 << 30, &file, err) || upto > file.len ||
        mc2_sha256(file.data, file.len, hash, err) ||
        mc2_upload_sign(A.sec, A.name, name, hash, sig, err) ||
        (fd = mc2_dial(F.service, err)) < 0 || mc2_buf_put_lv(&req, A.name, strlen(A.name), err) ||
        mc2_buf_put_lv(&req, name, strlen(name), err) || mc2_buf_put_u64(&req, file.len, err) ||
        mc2_buf_append(&req, sig, 64, err) ||
        mc2_host_call(fd, HAPI_PUT, req.data, req.len, &reply, NULL, NULL, err))
        goto fail;
    for (size_t off = 0; off < upto;) {
        size_t n = upto - off > 65536 ? 65536 : upto - off;
        if (mc2_frame_write_fd(fd, HAPI_PUT_DATA, 0, file.data + off, n, err)) goto fail;
        off += n;
    }
    mc2_buf_free(&file);
    mc2_buf_free(&req);
    mc2_frame_free(&reply);
    return fd;
fail:
    if (fd >= 0) close(fd);
    mc2_buf_free(&file);
    mc2_buf_free(&req);
    mc2_frame_free(&reply);
    return -1;
}

/* Counts the temporary files of table `name` ("" for any) in bank-a's store directory;
 * *size gets the size of the last one found. */
static int count_tmp(const char *name, off_t *size)
{
    char dir[400], prefix[200];
    snprintf(dir, sizeof dir, "%s/store/tables/bank-a", F.state);
    snprintf(prefix, sizeof prefix, ".%s%s", name, name[0] ? ".mc2t.tmp-" : "");
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0 || !strstr(e->d_name, ".tmp-"))
            continue;
        char p[700];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (size && stat(p, &st) == 0) *size = st.st_size;
        n++;
    }
    if (d) closedir(d);
    return n;
}

/* Waits (up to 20 s) until mc2d has written `want` bytes of table `name` to its temporary
 * file. */
static int wait_tmp(const char *name, off_t want)
{
    double end = pfix_now() + 20;
    off_t size = -1;
    while (pfix_now() < end) {
        if (count_tmp(name, &size) == 1 && size == want) return 1;
        pfix_sleep_ms(20);
    }
    fprintf(stderr, "temporary file of '%s': %lld bytes, wanted %lld\n", name, (long long)size,
            (long long)want);
    return 0;
}

/* The enclave pid mc2d logged last ("enclave pid N"). */
static pid_t logged_enclave_pid(void)
{
    mc2_buf b = {0};
    mc2_err err;
    pid_t pid = 0;
    if (mc2_file_read_all(F.log, 1 << 20, &b, &err) || mc2_buf_append(&b, "", 1, &err)) return 0;
    for (const char *p = (const char *)b.data; (p = strstr(p, "enclave pid ")) != NULL; p++)
        pid = (pid_t)atoi(p + 12);
    mc2_buf_free(&b);
    return pid;
}

/* As the test is a child subreaper, the killed service's orphaned enclave becomes our
 * child: reap it, waiting up to 10 s. */
static int reaped(pid_t pid)
{
    double end = pfix_now() + 10;
    while (pfix_now() < end) {
        /* reaped here (it was handed to us when mc2d died), or already by mc2d itself (a
         * SIGTERM lets mc2d stop and reap its enclave before it exits) */
        if (waitpid(pid, NULL, WNOHANG) == pid || (kill(pid, 0) != 0 && errno == ESRCH)) return 1;
        pfix_sleep_ms(20);
    }
    return 0;
}

static int file_equals(const char *path, const mc2_buf *want)
{
    mc2_buf b = {0};
    mc2_err err;
    int eq = mc2_file_read_all(path, 1 << 30, &b, &err) == 0 && b.len == want->len &&
             memcmp(b.data, want->data, b.len) == 0;
    mc2_buf_free(&b);
    return eq;
}

/* A rowcount job over bank-a's table `name` for bank-a; returns the decrypted result. */
static int rowcount(const char *name, const uint8_t tid[16], mc2_buf *csv, mc2_err *err)
{
    mc2_esession s;
    mc2_job j;
    mc2_result_ref res[4];
    size_t nres = 0;
    uint64_t id;
    char out[400];
    int rc = -1;
    memset(&j, 0, sizeof j);
    snprintf(j.kind, sizeof j.kind, "rowcount");
    j.ninputs = 1;
    snprintf(j.inputs[0].owner, sizeof j.inputs[0].owner, "%s", A.name);
    snprintf(j.inputs[0].table, sizeof j.inputs[0].table, "%s", name);
    memcpy(j.inputs[0].table_id, tid, 16);
    j.nrecipients = 1;
    snprintf(j.recipients[0], sizeof j.recipients[0], "%s", A.name);
    snprintf(out, sizeof out, "%s/rowcount.csv", F.work);
    if (mc2_esession_open(F.service, &A, F.pol, &s, err)) return -1;
    if (mc2_esession_grant(&s, &A, F.pol, err) ||
        mc2_job_submit(&s, &A, F.pol, &j, &id, NULL, err) ||
        mc2_esession_results(&s, id, res, 4, &nres, err))
        goto out;
    if (nres != 1) {
        mc2_err_set(err, MC2_E_INPUT, "%zu results, wanted 1", nres);
        goto out;
    }
    rc = mc2_fetch_table(F.service, res[0].name, res[0].key, F.work, out, MC2_FMT_CSV, NULL, err) ||
                 mc2_file_read_all(out, 1 << 20, csv, err) || mc2_buf_append(csv, "", 1, err)
             ? -1
             : 0;
out:
    mc2_wipe(res, sizeof res);
    mc2_esession_close(&s);
    return rc;
}

int main(void)
{
    mc2_err err;
    char msg[600];
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    pfix_init(&F, "test-crash");
    pfix_party(&F, "bank-a", &A);
    const bool recipient[1] = {true};
    pfix_policy(&F, &A, 1, recipient);
    if (pfix_start(&F, msg, sizeof msg)) {
        fprintf(stderr, "mc2d did not start: %s\n", msg);
        return 1;
    }

    /* A complete table, uploaded before the crash. */
    char keep[300], keep2[300], fresh[300], got[300], csvout[300];
    snprintf(keep, sizeof keep, "%s/keep.mc2t", F.work);
    snprintf(keep2, sizeof keep2, "%s/keep2.mc2t", F.work);
    snprintf(fresh, sizeof fresh, "%s/fresh.mc2t", F.work);
    snprintf(got, sizeof got, "%s/got.mc2t", F.work);
    snprintf(csvout, sizeof csvout, "%s/got.csv", F.work);
    uint8_t tid_keep[16], tid_keep2[16], tid_fresh[16];
    char *csv_keep = pfix_csv(5, "kept"), *csv_keep2 = pfix_csv(30000, "replacement"),
         *csv_fresh = pfix_csv(30000, "fresh");
    if (pfix_encrypt(&A, csv_keep, keep, tid_keep, &err) ||
        pfix_encrypt(&A, csv_keep2, keep2, tid_keep2, &err) ||
        pfix_encrypt(&A, csv_fresh, fresh, tid_fresh, &err))
        pfix_die("encrypt", &err);
    mc2_buf keep_bytes = {0}, keep2_bytes = {0}, fresh_bytes = {0};
    if (mc2_file_read_all(keep, 1 << 30, &keep_bytes, &err) ||
        mc2_file_read_all(keep2, 1 << 30, &keep2_bytes, &err) ||
        mc2_file_read_all(fresh, 1 << 30, &fresh_bytes, &err))
        pfix_die("read", &err);
    CHECK(mc2_host_upload(F.service, &A, "keep", keep, NULL, NULL, &err) == 0);

    /* Two uploads in flight: half of a new table, and all of a replacement for "keep" but
     * without its HAPI_PUT_END. */
    size_t half = fresh_bytes.len / 2;
    int fd_fresh = upload_part("fresh", fresh, half, &err);
    CHECK_MSG(fd_fresh >= 0, "%s", err.msg);
    int fd_keep = upload_part("keep", keep2, keep2_bytes.len, &err);
    CHECK_MSG(fd_keep >= 0, "%s", err.msg);
    CHECK(wait_tmp("fresh", (off_t)half));
    CHECK(wait_tmp("keep", (off_t)keep2_bytes.len));
    printf("uploads in flight: fresh %zu of %zu bytes, keep (replacement) %zu of %zu bytes\n", half,
           fresh_bytes.len, keep2_bytes.len, keep2_bytes.len);

    pid_t enclave = logged_enclave_pid();
    CHECK(enclave > 0);
    pfix_stop(&F, SIGKILL);
    printf("mc2d killed with SIGKILL mid-upload\n");
    char path[600];
    snprintf(path, sizeof path, "%s/store/tables/bank-a/fresh.mc2t", F.state);
    CHECK_MSG(!mc2_file_exists(path), "a partial upload appeared under its real name");
    snprintf(path, sizeof path, "%s/store/tables/bank-a/keep.mc2t", F.state);
    CHECK_MSG(file_equals(path, &keep_bytes), "the table being replaced lost its old content");
    int left = count_tmp("", NULL);
    printf("temporary files left by the crash: %d\n", left);
    CHECK(left == 2);
    CHECK_MSG(enclave > 0 && reaped(enclave),
              "the enclave of the killed mc2d (pid %d) is still "
              "running",
              (int)enclave);
    if (fd_fresh >= 0) close(fd_fresh);
    if (fd_keep >= 0) close(fd_keep);

    /* Restart on the same state directory. */
    if (pfix_start(&F, msg, sizeof msg)) {
        fprintf(stderr, "mc2d did not restart: %s\n", msg);
        return 1;
    }
    CHECK_MSG(count_tmp("", NULL) == 0, "temporary files survived the restart");
    int fd = mc2_dial(F.service, &err);
    mc2_frame reply = {0};
    CHECK(fd >= 0 && mc2_host_call(fd, HAPI_TABLES, NULL, 0, &reply, NULL, NULL, &err) == 0);
    if (fd >= 0) close(fd);
    char want[200], hex[33];
    mc2_hex_encode(tid_keep, 16, hex);
    snprintf(want, sizeof want, "bank-a/keep %s 5 ", hex);
    printf("tables after the restart:\n%.*s", (int)reply.payload.len,
           (const char *)reply.payload.data);
    size_t lines = 0;
    for (size_t i = 0; i < reply.payload.len; i++) lines += reply.payload.data[i] == '\n';
    CHECK_MSG(lines == 1 && reply.payload.len > strlen(want) &&
                  memcmp(reply.payload.data, want, strlen(want)) == 0,
              "the listing should be exactly the complete table '%s...'", want);
    mc2_frame_free(&reply);

    /* The table stored before the crash: the same bytes, decrypting to the same rows, and
     * usable by the enclave. */
    mc2_buf dl = {0}, csv = {0};
    CHECK(mc2_host_download(F.service, "tables/bank-a/keep.mc2t", &dl, &err) == 0);
    CHECK(dl.len == keep_bytes.len && memcmp(dl.data, keep_bytes.data, dl.len) == 0);
    CHECK(mc2_file_write_atomic(got, dl.data, dl.len, 0600, 0, &err) == 0);
    CHECK(mc2_table_decrypt_file(got, A.data_key, csvout, MC2_FMT_CSV, NULL, &err) == 0);
    CHECK(mc2_file_read_all(csvout, 1 << 20, &csv, &err) == 0 && csv.len == strlen(csv_keep) &&
          memcmp(csv.data, csv_keep, csv.len) == 0);
    mc2_buf_free(&csv);
    int rc = rowcount("keep", tid_keep, &csv, &err);
    CHECK_MSG(rc == 0, "rowcount job after the restart: %s", err.msg);
    CHECK(rc != 0 || strstr((const char *)csv.data, "bank-a/keep,5\n") != NULL);
    mc2_buf_free(&csv);

    /* And the interrupted upload can now be made in full. */
    CHECK_MSG(mc2_host_upload(F.service, &A, "fresh", fresh, NULL, NULL, &err) == 0, "%s", err.msg);
    rc = rowcount("fresh", tid_fresh, &csv, &err);
    CHECK_MSG(rc == 0, "rowcount job on the re-uploaded table: %s", err.msg);
    CHECK(rc != 0 || strstr((const char *)csv.data, "bank-a/fresh,30000\n") != NULL);
    mc2_buf_free(&csv);

    enclave = logged_enclave_pid();
    pfix_stop(&F, SIGTERM);
    CHECK_MSG(enclave > 0 && reaped(enclave), "the enclave did not stop with mc2d");
    mc2_buf_free(&dl);
    mc2_buf_free(&keep_bytes);
    mc2_buf_free(&keep2_bytes);
    mc2_buf_free(&fresh_bytes);
    mc2_free(csv_keep);
    mc2_free(csv_keep2);
    mc2_free(csv_fresh);
    mc2_policy_free(F.pol);
    mc2_identity_free(&A);
    return test_done("test_platform_crash");
}
