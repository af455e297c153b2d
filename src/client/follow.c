/* follow.c - following a job until it ends: the progress line on a terminal, --wait, and
 * what a failure or a job still running means for the exit code. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "client/session.h"

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Whether a job in state st is still to end: queued, running or (if approvals) waiting. */
static bool busy(const char *st, bool approvals)
{
    return strncmp(st, "running", 7) == 0 || strncmp(st, "queued", 6) == 0 ||
           (approvals && strncmp(st, "waiting", 7) == 0);
}

int cli_job_follow(cli_session *cs, uint64_t id, bool approvals, uint64_t wait_s, mc2_buf *state,
                   mc2_err *err)
{
    mc2_buf text = {0};
    bool tty = isatty(STDERR_FILENO), drawn = false;
    uint64_t deadline = mono_ms() + wait_s * 1000u, last_draw = 0;
    long pause_us = 1000;
    int rc;
    for (;;) {
        if ((rc = mc2_job_state(&cs->es, id, &text, state, err)) != 0) break;
        const char *st = (const char *)state->data;
        uint64_t now = mono_ms();
        if (!busy(st, approvals) || now >= deadline) break;
        /* Redrawn at most every 200 ms, on one line: control characters (a reason can name
         * a column another party chose) are shown as '?'. */
        if (tty && now - last_draw >= 200) {
            char line[121];
            size_t k = 0;
            for (; st[k] && k < sizeof line - 1; k++)
                line[k] = (unsigned char)st[k] < 0x20 || st[k] == 0x7f ? '?' : st[k];
            line[k] = '\0';
            fprintf(stderr, "\r\033[Kjob %llu %s", (unsigned long long)id, line);
            fflush(stderr);
            drawn = true;
            last_draw = now;
        }
        uint64_t left = deadline - now;
        long us = pause_us < (long)(left * 1000u) ? pause_us : (long)(left * 1000u);
        struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
        nanosleep(&ts, NULL);
        pause_us = pause_us * 2 > 200000 ? 200000 : pause_us * 2;
    }
    if (drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
    mc2_buf_free(&text);
    return rc;
}

int cli_job_outcome(uint64_t id, const char *what, const char *st, const char *fetch, mc2_err *err)
{
    if (strncmp(st, "done", 4) == 0) return 0;
    if (strncmp(st, "failed", 6) == 0)
        return mc2_err_set(err, MC2_E_INPUT, "%s job %llu failed%s%s", what, (unsigned long long)id,
                           st[6] == ':' ? ":" : "",
                           st[6] == ':' ? st + 7 : " (only its parties see why)");
    printf("job %llu is %s\n", (unsigned long long)id, st);
    printf("see how it does: mc2 job %llu; when it is done: %s\n", (unsigned long long)id, fetch);
    return 1;
}
