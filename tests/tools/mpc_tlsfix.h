/* mpc_tlsfix.h - tests: the configurations of an n-party TLS run (mpc/net.h mpc_net_tls) on
 * loopback, with a fresh identity (Ed25519 key, self-signed certificate) per party and
 * free ports. cfg[i] is party i's; a test may change it (another identity, a relay's
 * address) before the parties start. Header-only (static functions). */
#ifndef MC2_TESTS_MPC_TLSFIX_H
#define MC2_TESTS_MPC_TLSFIX_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/buf.h"
#include "crypto/pki.h"
#include "mc2/crypto.h"
#include "mpc/net.h"

typedef struct mpc_tident {
    uint8_t sec[32];
    mc2_buf pem; /* NUL-terminated */
} mpc_tident;

typedef struct mpc_tlsfix {
    uint32_t n;
    mpc_tident id[MPC_MAX_PARTIES];
    char addr[MPC_MAX_PARTIES][MPC_MAX_PARTIES][32]; /* [party][peer] */
    mpc_net_tls_cfg cfg[MPC_MAX_PARTIES];
} mpc_tlsfix;

/* A fresh identity named name; -1 on failure. */
static int mpc_tident_make(mpc_tident *id, const char *name)
{
    mc2_err err;
    memset(id, 0, sizeof *id);
    return mc2_random(id->sec, 32, &err) ||
                   mc2_x509_self_signed(id->sec, name, 1, &id->pem, &err) ||
                   mc2_buf_put_u8(&id->pem, 0, &err)
               ? -1
               : 0;
}

/* A loopback port free a moment ago (the test binds it soon after). */
static unsigned mpc_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &l) != 0)
        abort();
    close(fd);
    return ntohs(a.sin_port);
}

static void mpc_tlsfix_free(mpc_tlsfix *f)
{
    for (uint32_t i = 0; i < f->n; i++) mc2_buf_free(&f->id[i].pem);
}

/* n parties named names[i], timeout_ms for every wait (0: the default); -1 on failure. */
static int mpc_tlsfix_init(mpc_tlsfix *f, uint32_t n, const char *const *names, unsigned timeout_ms)
{
    unsigned port[MPC_MAX_PARTIES];
    memset(f, 0, sizeof *f);
    f->n = n;
    for (uint32_t i = 0; i < n; i++) {
        port[i] = mpc_free_port();
        if (mpc_tident_make(&f->id[i], names[i])) return -1;
    }
    for (uint32_t i = 0; i < n; i++) {
        f->cfg[i] =
            (mpc_net_tls_cfg){.self = i, .n = n, .timeout_ms = timeout_ms, .key = f->id[i].sec};
        for (uint32_t j = 0; j < n; j++) {
            snprintf(f->addr[i][j], sizeof f->addr[i][j], "127.0.0.1:%u", port[j]);
            f->cfg[i].addr[j] = f->addr[i][j];
            f->cfg[i].name[j] = names[j];
            f->cfg[i].cert_pem[j] = (const char *)f->id[j].pem.data;
        }
    }
    return 0;
}

#endif
