/* test_platform_idle.c - sessions time out inside the enclave (issue 13), against a real mc2d
 * started with --session-timeout 2 (and its own connection idle timeout left at 300 s, so
 * the host does not close anything): bank-a's authenticated session stays silent for 4 s
 * while bank-b's asks something every second. bank-a's session is then ended by the enclave
 * (its next request fails, the service log says why) and its slot is free, while bank-b's
 * session, active all along, still answers, and a new session of bank-a opens. */
#include "../tools/pfix.h"
#include "conn/conn.h"
#include "test.h"

static pfix F;
static mc2_identity A, B;

/* True if the log of mc2d (and its enclave) contains s. */
static bool log_has(const char *s)
{
    mc2_buf b = {0};
    mc2_err err;
    bool has = mc2_file_read_all(F.log, 64u << 20, &b, &err) == 0 &&
               mc2_buf_append(&b, "", 1, &err) == 0 && strstr((const char *)b.data, s) != NULL;
    mc2_buf_free(&b);
    return has;
}

int main(void)
{
    mc2_err err;
    char msg[600];
    signal(SIGPIPE, SIG_IGN); /* writing to the session the enclave ended */
    pfix_init(&F, "idle");
    pfix_party(&F, "bank-a", &A);
    pfix_party(&F, "bank-b", &B);
    mc2_identity ids[2] = {A, B};
    bool rcpt[2] = {true, true};
    pfix_policy(&F, ids, 2, rcpt);
    const char *args[] = {"--session-timeout", "2", NULL};
    if (pfix_start_args(&F, args, msg, sizeof msg)) {
        fprintf(stderr, "mc2d: %s\n", msg);
        return 1;
    }
    mc2_esession sa, sb;
    if (mc2_esession_open(F.service, &A, F.pol, &sa, &err) ||
        mc2_esession_open(F.service, &B, F.pol, &sb, &err))
        pfix_die("session", &err);
    CHECK(mc2_esession_hello(&sa, F.pol, &err) == 0);
    for (int i = 0; i < 4; i++) { /* bank-b keeps asking; bank-a is silent */
        pfix_sleep_ms(1000);
        int rc = mc2_esession_hello(&sb, F.pol, &err);
        CHECK_MSG(rc == 0, "bank-b's active session, after %d s: %s", i + 1, err.msg);
    }
    CHECK_MSG(mc2_esession_hello(&sa, F.pol, &err) != 0,
              "bank-a's session, silent for 4 s, still answers");
    CHECK_MSG(log_has("idle for longer than the session timeout"),
              "the service log does not say why the session ended (%s)", F.log);
    CHECK_MSG(mc2_esession_hello(&sb, F.pol, &err) == 0, "bank-b: %s", err.msg);
    mc2_esession sa2;
    int rc = mc2_esession_open(F.service, &A, F.pol, &sa2, &err);
    CHECK_MSG(rc == 0, "a new session of bank-a: %s", err.msg);
    if (rc == 0) {
        CHECK(mc2_esession_hello(&sa2, F.pol, &err) == 0);
        mc2_esession_close(&sa2);
    }
    mc2_esession_close(&sa);
    mc2_esession_close(&sb);
    return test_done("test_platform_idle");
}
