/* tls.c - TLS 1.3 endpoints over memory BIOs. */
#include "wire/tls.h"

#include <limits.h>
#include <openssl/err.h>

#include "base/alloc.h"

struct mc2_tls {
    SSL *ssl;
    BIO *in;  /* ciphertext from the peer (owned by ssl) */
    BIO *out; /* ciphertext for the peer (owned by ssl) */
};

/* Accept any certificate during the handshake: the application checks it afterwards
 * against attestation evidence or the consortium policy before trusting the channel. */
static int accept_any(int ok, X509_STORE_CTX *c)
{
    (void)ok;
    (void)c;
    return 1;
}

static int ossl_err(mc2_err *err, enum mc2_code code, const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    return mc2_err_set(err, code, "%s: %s", what, e ? buf : "unknown TLS error");
}

SSL_CTX *mc2_tls_ctx(int server, EVP_PKEY *key, X509 *cert, mc2_err *err)
{
    SSL_CTX *c = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (!c) {
        ossl_err(err, MC2_E_CRYPTO, "cannot create a TLS context");
        return NULL;
    }
    if (!SSL_CTX_set_min_proto_version(c, TLS1_3_VERSION) ||
        !SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION) || !SSL_CTX_use_certificate(c, cert) ||
        !SSL_CTX_use_PrivateKey(c, key) || !SSL_CTX_check_private_key(c)) {
        ossl_err(err, MC2_E_CRYPTO, "cannot set up the TLS context");
        SSL_CTX_free(c);
        return NULL;
    }
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER | (server ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
                       accept_any);
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
    /* CLEANSE_PLAINTEXT: OpenSSL otherwise keeps decrypted application data (key grants,
     * result keys) in its record buffers after handing it over, and frees them unwiped. */
    SSL_CTX_set_options(c, SSL_OP_NO_TICKET | SSL_OP_CLEANSE_PLAINTEXT);
    SSL_CTX_set_num_tickets(c, 0); /* no cache, so TLS 1.3 tickets could never be used */
    return c;
}

mc2_tls *mc2_tls_new(SSL_CTX *ctx, int server, mc2_err *err)
{
    mc2_tls *t = mc2_calloc(1, sizeof *t);
    if (!t) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        return NULL;
    }
    t->ssl = SSL_new(ctx);
    t->in = BIO_new(BIO_s_mem());
    t->out = BIO_new(BIO_s_mem());
    if (!t->ssl || !t->in || !t->out) {
        ossl_err(err, MC2_E_CRYPTO, "cannot create a TLS endpoint");
        BIO_free(t->in);
        BIO_free(t->out);
        t->in = t->out = NULL;
        mc2_tls_free(t);
        return NULL;
    }
    BIO_set_mem_eof_return(t->in, -1); /* empty means "wait for more", not end of stream */
    SSL_set_bio(t->ssl, t->in, t->out);
    if (server)
        SSL_set_accept_state(t->ssl);
    else
        SSL_set_connect_state(t->ssl);
    return t;
}

void mc2_tls_free(mc2_tls *t)
{
    if (!t) return;
    SSL_free(t->ssl); /* frees both BIOs */
    mc2_free(t);
}

int mc2_tls_feed(mc2_tls *t, const void *p, size_t n, mc2_err *err)
{
    const char *q = p;
    while (n > 0) {
        int chunk = n > INT_MAX ? INT_MAX : (int)n;
        int w = BIO_write(t->in, q, chunk);
        if (w <= 0) return ossl_err(err, MC2_E_NOMEM, "cannot buffer TLS input");
        q += w;
        n -= (size_t)w;
    }
    return 0;
}

int mc2_tls_drain(mc2_tls *t, mc2_buf *out, mc2_err *err)
{
    for (;;) {
        size_t pending = BIO_ctrl_pending(t->out);
        if (pending == 0) return 0;
        if (mc2_buf_reserve(out, pending, err)) return -1;
        int r =
            BIO_read(t->out, out->data + out->len, (int)(pending > INT_MAX ? INT_MAX : pending));
        if (r <= 0) return 0;
        out->len += (size_t)r;
    }
}

int mc2_tls_handshake(mc2_tls *t, mc2_err *err)
{
    int r = SSL_do_handshake(t->ssl);
    if (r == 1) return 1;
    int e = SSL_get_error(t->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 0;
    return ossl_err(err, MC2_E_AUTH, "TLS handshake failed");
}

int mc2_tls_write(mc2_tls *t, const void *p, size_t n, mc2_err *err)
{
    const char *q = p;
    while (n > 0) {
        int chunk = n > (1 << 14) ? (1 << 14) : (int)n;
        int w = SSL_write(t->ssl, q, chunk);
        if (w <= 0) return ossl_err(err, MC2_E_IO, "TLS write failed");
        q += w;
        n -= (size_t)w;
    }
    return 0;
}

long mc2_tls_read(mc2_tls *t, mc2_buf *out, int *closed, mc2_err *err)
{
    long total = 0;
    *closed = 0;
    for (;;) {
        if (mc2_buf_reserve(out, 16384, err)) return -1;
        int r = SSL_read(t->ssl, out->data + out->len, 16384);
        if (r > 0) {
            out->len += (size_t)r;
            total += r;
            continue;
        }
        int e = SSL_get_error(t->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return total;
        if (e == SSL_ERROR_ZERO_RETURN) {
            *closed = 1;
            return total;
        }
        return ossl_err(err, MC2_E_AUTH, "TLS read failed");
    }
}

X509 *mc2_tls_peer(mc2_tls *t)
{
    return SSL_get0_peer_certificate(t->ssl);
}

void mc2_tls_close(mc2_tls *t)
{
    SSL_shutdown(t->ssl);
}
