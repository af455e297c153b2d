/* test_witness.c - the client's witness of the enclave's sealed-state generation
 * (src/conn/witness.c): it records the highest generation per consortium policy, refuses a
 * lower one with the rollback error, keeps policies apart, and refuses a malformed file
 * instead of forgetting what it saw. */
#include <stdlib.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/file.h"
#include "conn/conn.h"
#include "test.h"

int main(void)
{
    char dir[] = "/tmp/mc2-witness.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    uint8_t p1[32], p2[32];
    memset(p1, 1, sizeof p1);
    memset(p2, 2, sizeof p2);
    mc2_err err;
    CHECK(mc2_witness_check(dir, p1, 3, &err) == 0);
    CHECK(mc2_witness_check(dir, p1, 3, &err) == 0); /* the same generation again */
    CHECK(mc2_witness_check(dir, p1, 7, &err) == 0);
    CHECK(mc2_witness_check(dir, p1, 6, &err) == -1 && err.code == MC2_E_AUTH);
    CHECK_MSG(strstr(err.msg, "the service's sealed state was rolled back: generation 6 < 7 "
                              "seen earlier") != NULL,
              "%s", err.msg);
    CHECK(mc2_witness_check(dir, p2, 1, &err) == 0); /* another policy: its own record */
    CHECK(mc2_witness_check(dir, p1, 2, &err) == -1);
    CHECK(mc2_witness_check(dir, p2, 0, &err) == -1);
    CHECK(mc2_witness_check(dir, p1, 8, &err) == 0 && mc2_witness_check(dir, p1, 7, &err) == -1);
    char *path = mc2_path_join(dir, "witness"), *lock = mc2_path_join(dir, "witness.lock");
    CHECK(mc2_file_write_atomic(path, "garbage\n", 8, 0600, 0, &err) == 0);
    CHECK(mc2_witness_check(dir, p1, 9, &err) == -1 && strstr(err.msg, "not a witness file"));
    unlink(path);
    unlink(lock);
    rmdir(dir);
    mc2_free(path);
    mc2_free(lock);
    printf("test_witness: %lu checks, %lu failed\n", t_checks, t_failures);
    return t_failures || !t_checks;
}
