/* conn_io.c - UNTRUSTED: mc2d's input buffers per connection (the output queues are
 * outq.c): they hold at most one max-size frame per connection and SRV_IN_TOTAL for all
 * connections together, so a peer that sends part of a large frame and stops costs bounded
 * memory (server.h). */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "server/server.h"

#define KEEP_SMALL ((size_t)64 << 10) /* buffers up to this size are kept for reuse */

/* ---- input buffers ------------------------------------------------------------------------ */

static void in_resize(server *s, srv_conn *c, uint8_t *data, size_t cap)
{
    s->in_total = s->in_total - c->in.cap + cap;
    c->in.data = data;
    c->in.cap = cap;
}

int srv_in_append(server *s, srv_conn *c, const uint8_t *p, size_t n)
{
    size_t need = c->in.len + n;
    if (need > SRV_IN_MAX) return -1; /* the caller's read size prevents this */
    if (need > c->in.cap) {
        size_t ncap = c->in.cap < 4096 ? 4096 : c->in.cap * 2;
        if (ncap > SRV_IN_MAX) ncap = SRV_IN_MAX;
        if (ncap < need) ncap = need;
        /* Over the overall limit: close whoever holds the most, until this fits. */
        while (s->in_total - c->in.cap + ncap > SRV_IN_TOTAL) {
            srv_conn *big = c;
            for (size_t i = 0; i < SRV_MAX_CONNS; i++)
                if (s->conns[i].fd >= 0 && s->conns[i].in.cap > big->in.cap) big = &s->conns[i];
            if (big == c) return -1;
            srv_conn_drop(s, big,
                          "closed: buffered partial frames reached mc2d's limit, and this "
                          "connection held the largest");
        }
        uint8_t *nd = mc2_realloc(c->in.data, ncap);
        if (!nd) return -1;
        in_resize(s, c, nd, ncap);
    }
    memcpy(c->in.data + c->in.len, p, n);
    c->in.len = need;
    return 0;
}

void srv_in_consume(server *s, srv_conn *c, size_t used)
{
    memmove(c->in.data, c->in.data + used, c->in.len - used);
    c->in.len -= used;
    if (c->in.cap <= KEEP_SMALL || c->in.len > c->in.cap / 4) return;
    if (c->in.len == 0) {
        mc2_free(c->in.data);
        in_resize(s, c, NULL, 0);
        return;
    }
    size_t ncap = c->in.len * 2 > KEEP_SMALL ? c->in.len * 2 : KEEP_SMALL;
    uint8_t *nd = mc2_realloc(c->in.data, ncap);
    if (nd) in_resize(s, c, nd, ncap);
}

void srv_in_free(server *s, srv_conn *c)
{
    mc2_free(c->in.data);
    in_resize(s, c, NULL, 0);
    c->in.len = 0;
}
