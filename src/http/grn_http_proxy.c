/*
 * grn_http_proxy.c: the router worker's side of forwarding: connections to the apps' internal
 * sockets, sending a request, and relaying the app's response to the client.
 *
 * The client's request is parsed, checked and routed by the same code as on a direct
 * listener, body included (limits, timeouts, strictness all apply here first). The router then
 * writes the forwarding line, the head (hop-by-hop fields removed, the body's length stated)
 * and the body to a connection to the app's internal socket, taken from a small per-app pool
 * of idle ones or opened anew. The app worker's response is parsed with llhttp and rebuilt by
 * grn_http_response_prepare() for this client (keep-alive, HEAD, chunking for HTTP/1.1 or the
 * connection's end for HTTP/1.0), so one client connection can carry requests for several apps.
 *
 * Backpressure: the body is read from the app one buffer (GRN_HTTP_PROXY_BUF) at a time, and
 * the next read happens only once the client's socket took the previous batch. A slow client
 * thus holds one buffer here and stops the app through the internal socket's own buffers; the
 * app worker in turn pulls its iterator only as that socket drains.
 *
 * request_buffering off (the location's, as on a direct listener): the head goes to the app
 * as soon as it is parsed, and the body follows as it arrives. The client's connection keeps
 * decoding it with its own parser (limits and strictness as ever) into a window of at most
 * GRN_HTTP_PROXY_WINDOW bytes, and the app connection empties the window into its socket.
 * The client is read only while the window has room, so an app that reads slowly stops the
 * client through TCP, and a client that sends slowly holds one window here. A body with a
 * Content-Length goes on with that length; a chunked one goes on chunked, one chunk per
 * window's worth (trailers dropped): its length is not known before it ends, and the app
 * worker decodes chunked bodies anyway. A client that leaves mid-body closes the app
 * connection, which the app sees as a short read of wsgi.input. An app that answers before the
 * body is through stops the forwarding; the client's connection closes after that answer.
 * A connection that took body bytes is never retried.
 *
 * Errors: no app worker accepting (the scoreboard says so), a connection refused or reset, a
 * malformed answer: 502, logged at error with the app's name. No descriptor for a connection to
 * the app (EMFILE and the like) or the app's accept queue full (EAGAIN): 503, the router or the
 * app is overloaded for now and a retry may succeed. No answer within the app's
 * `timeout`: 504. A pooled connection the app closed just as it was reused (keep-alive race,
 * an app worker draining) is retried once on a fresh one when the request cannot have been
 * processed (the write failed or the connection was reset) or its method is idempotent.
 */

#include "grn_core.h"
#include "grn_http_proxy.h"
#include "grn_http_ssl.h"
#include "grn_scoreboard.h"

#include <sys/sendfile.h>

#define GRN_HTTP_PROXY_BUF       16384   /* a response head, then one body batch */
#define GRN_HTTP_PROXY_MAX_IDLE  64      /* pooled connections per app and router thread */
#define GRN_HTTP_PROXY_WINDOW    65536   /* request_buffering off: body held for the app */

typedef struct grn_http_upstream_s  grn_http_upstream_t;

typedef struct {
    grn_app_conf_t        *app;
    uint64_t               key;            /* grn_hash_name() of the app's name */
    grn_http_upstream_t   *idle;
    grn_uint_t             nidle;
} grn_http_peer_t;

typedef struct {
    grn_http_peer_t       *peers;          /* by the app's index in the cycle */
    grn_uint_t             npeers;
    grn_http_upstream_t   *free;
    grn_http_upstream_t   *allocated;      /* every one, for grn_http_proxy_done() */
} grn_http_proxy_t;

struct grn_http_upstream_s {
    grn_event_t            ev;             /* first: epoll dispatch */
    grn_http_worker_t     *worker;
    grn_http_peer_t       *peer;
    grn_http_conn_t       *hc;             /* the client served; NULL while pooled */
    grn_timer_t            timer;
    llhttp_t               parser;
    char                  *buf;
    size_t                 len;
    size_t                 parsed;

    /* The request going out: forwarding line and head, then the client's body. */
    struct iovec           iov[2];
    struct iovec          *iovp;
    int                    iovcnt;
    int                    file_fd;        /* the client's body in a temp file, or -1 */
    off_t                  file_pos;
    off_t                  file_end;
    char                  *head;
    size_t                 head_len;

    /* request_buffering off: the client's body, sent from its window as it arrives. */
    char                   frame[24];      /* chunk framing still to send */
    size_t                 frame_pos;
    size_t                 frame_len;
    size_t                 chunk_left;     /* window bytes of the current chunk still to send */
    off_t                  body_sent;      /* body bytes the app's socket took */

    /* The response head being parsed: spans of buf, which does not move until it is done. */
    grn_str_t              reason;
    grn_str_t              field;
    grn_str_t              value;
    grn_uint_t             seen;           /* GRN_HTTP_PROXY_SEEN_*: Server, Date dropped */
    int                    err;            /* errno of a failure, 0 for a clean close */

    unsigned               read_ready:1;
    unsigned               write_ready:1;
    unsigned               reused:1;       /* taken from the pool for this request */
    unsigned               got_bytes:1;    /* the app has begun its answer */
    unsigned               head_done:1;
    unsigned               msg_done:1;
    unsigned               want:1;         /* the client waits for the next batch */
    unsigned               eof:1;
    unsigned               rdhup:1;        /* the app shut its side: read until EOF */
    unsigned               broken:1;       /* must not be reused */
    unsigned               idle:1;         /* in the peer's pool */
    unsigned               forward:1;      /* the client's body is still being forwarded */
    unsigned               last_chunk:1;   /* its "0" chunk is framed */

    grn_http_upstream_t   *next;           /* pool or free list */
    grn_http_upstream_t   *all_next;
};

#define grn_http_upstream_sending(u)  ((u)->iovcnt || (u)->file_fd != -1 || (u)->forward)

#define GRN_HTTP_PROXY_SEEN_SERVER  1
#define GRN_HTTP_PROXY_SEEN_DATE    2

static void grn_http_upstream_handler(grn_event_t *ev, uint32_t events);
static void grn_http_upstream_timer(grn_timer_t *timer);
static void grn_http_upstream_close(grn_http_upstream_t *u);
static void grn_http_upstream_run(grn_http_upstream_t *u);
static const llhttp_settings_t  grn_http_upstream_settings;

/* The app's `timeout` bounds each wait for its answer (504, or the client closed, beyond). */
static void
grn_http_upstream_arm(grn_http_upstream_t *u)
{
    if (u->peer->app->timeout > 0) {
        grn_timer_add(u->worker->loop, &u->timer, u->peer->app->timeout);
    }
}

/* From the app connection's handler: the response is ready, write it now. */
static void
grn_http_proxy_respond(grn_http_conn_t *hc)
{
    if (hc->body.forward && !hc->msg_done) {
        /* An answer before the whole body came: the rest of it is never read. */
        hc->r->keepalive = 0;
        hc->close = 1;
    }
    grn_http_conn_respond(hc);
    if (hc->state == GRN_HTTP_WRITING) {
        grn_http_conn_resume(hc);
    }
}

static grn_int_t grn_http_upstream_writev(grn_http_upstream_t *u);

static grn_http_proxy_t *
grn_http_proxy_get(grn_http_worker_t *w)
{
    grn_uint_t         i;
    grn_app_conf_t   **apps;
    grn_http_proxy_t  *proxy = w->proxy;

    if (proxy) {
        return proxy;
    }
    proxy = grn_calloc(sizeof(grn_http_proxy_t), w->log);
    if (proxy == NULL) {
        return NULL;
    }
    proxy->npeers = w->cycle->apps.nelts;
    proxy->peers = grn_calloc(sizeof(grn_http_peer_t) * grn_max(proxy->npeers, 1), w->log);
    if (proxy->peers == NULL) {
        free(proxy);
        return NULL;
    }
    apps = w->cycle->apps.elts;
    for (i = 0; i < proxy->npeers; i++) {
        proxy->peers[i].app = apps[i];
        proxy->peers[i].key = grn_hash_name(apps[i]->name.data, apps[i]->name.len);
    }
    w->proxy = proxy;
    return proxy;
}

static grn_http_upstream_t *
grn_http_upstream_alloc(grn_http_worker_t *w, grn_http_proxy_t *proxy)
{
    grn_http_upstream_t  *u = proxy->free;

    if (u) {
        proxy->free = u->next;
        return u;
    }
    u = grn_calloc(sizeof(grn_http_upstream_t), w->log);
    if (u == NULL) {
        return NULL;
    }
    u->buf = grn_alloc(GRN_HTTP_PROXY_BUF, w->log);
    if (u->buf == NULL) {
        free(u);
        return NULL;
    }
    u->all_next = proxy->allocated;
    proxy->allocated = u;
    return u;
}

/* Errors that say "too busy for now" rather than "broken": 503, not 502. */
static grn_uint_t
grn_http_upstream_status(int err)
{
    switch (err) {
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
    case EAGAIN:
        return 503;
    default:
        return 502;
    }
}

/*
 * A new connection to the app's internal socket; NULL (logged) when the app cannot be had,
 * with *status the answer to give (502 or 503).
 */
static grn_http_upstream_t *
grn_http_upstream_connect(grn_http_worker_t *w, grn_http_proxy_t *proxy, grn_http_peer_t *peer,
    grn_uint_t *status)
{
    int                   fd, err;
    grn_listening_t      *ls = peer->app->internal;
    grn_http_upstream_t  *u;

    *status = 502;

    /*
     * The master holds the socket open even when no worker of the app runs: while the app
     * boots, a connection waits in the accept queue as on a direct listener; when it fails to
     * boot, nobody would take it. Ask the scoreboard first.
     */
    if (!grn_sb_app_accepting(peer->key) && grn_sb_app_down(peer->key)) {
        grn_log_error(GRN_LOG_ERR, w->log, 0, "app \"%.*s\" is down (its workers fail to "
                      "boot); answering 502", (int) peer->app->name.len, peer->app->name.data);
        return NULL;
    }

    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd == -1) {
        err = errno;
        *status = grn_http_upstream_status(err);
        grn_log_error(GRN_LOG_ERR, w->log, err, "socket() for app \"%.*s\" failed; "
                      "answering %u", (int) peer->app->name.len, peer->app->name.data,
                      (unsigned) *status);
        return NULL;
    }
    /* A unix socket connects at once or not at all (EAGAIN: its accept queue is full). */
    if (connect(fd, &ls->u.sockaddr, ls->socklen) == -1) {
        err = errno;
        *status = grn_http_upstream_status(err);
        grn_log_error(GRN_LOG_ERR, w->log, err, "connect() to app \"%.*s\" at %.*s failed; "
                      "answering %u", (int) peer->app->name.len, peer->app->name.data,
                      (int) ls->addr_text.len, ls->addr_text.data, (unsigned) *status);
        close(fd);
        return NULL;
    }

    u = grn_http_upstream_alloc(w, proxy);
    if (u == NULL) {
        *status = 503;
        close(fd);
        return NULL;
    }
    u->ev.handler = grn_http_upstream_handler;
    u->ev.fd = fd;
    u->worker = w;
    u->peer = peer;
    u->read_ready = 0;
    u->write_ready = 1;
    u->iovcnt = 0;
    u->file_fd = -1;
    u->eof = 0;
    u->rdhup = 0;
    u->broken = 0;
    u->idle = 0;
    u->forward = 0;
    grn_timer_init(&u->timer, grn_http_upstream_timer, u);

    if (grn_event_add(w->loop, &u->ev, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET) != GRN_OK) {
        grn_http_upstream_close(u);
        return NULL;
    }
    return u;
}

/* Closes the connection; the struct goes to the free list (events still queued see fd -1). */
static void
grn_http_upstream_close(grn_http_upstream_t *u)
{
    grn_http_proxy_t  *proxy = u->worker->proxy;

    grn_timer_del(u->worker->loop, &u->timer);
    if (u->ev.fd != -1) {
        close(u->ev.fd);
        u->ev.fd = -1;
    }
    u->hc = NULL;
    u->next = proxy->free;
    proxy->free = u;
}

/* Takes u out of the client's request; the connection is pooled when it can serve again. */
static void
grn_http_upstream_release(grn_http_upstream_t *u)
{
    grn_http_peer_t  *peer = u->peer;

    if (u->hc && u->hc->r) {
        u->hc->r->upstream = NULL;
    }
    u->hc = NULL;
    grn_timer_del(u->worker->loop, &u->timer);

    if (u->broken || u->eof || !u->msg_done || grn_http_upstream_sending(u)
        || !llhttp_should_keep_alive(&u->parser)
        || u->worker->draining || peer->nidle >= GRN_HTTP_PROXY_MAX_IDLE)
    {
        grn_http_upstream_close(u);
        return;
    }
    u->idle = 1;
    u->read_ready = 0;                  /* from now on, any read event means it closed */
    u->next = peer->idle;
    peer->idle = u;
    peer->nidle++;
}

static void
grn_http_upstream_unpool(grn_http_upstream_t *u)
{
    grn_http_upstream_t  **p;

    for (p = &u->peer->idle; *p; p = &(*p)->next) {
        if (*p == u) {
            *p = u->next;
            u->peer->nidle--;
            break;
        }
    }
    u->idle = 0;
}

/* A field the router's own response head carries, or one about this hop only. */
static grn_flag_t
grn_http_proxy_hop(const grn_str_t *name)
{
    static const char  *hop[] = {
        "connection", "keep-alive", "transfer-encoding", "content-length", "te", "upgrade",
        "expect", "proxy-connection", NULL
    };
    const char  **h;

    for (h = hop; *h; h++) {
        if (name->len == strlen(*h) && strncasecmp(name->data, *h, name->len) == 0) {
            return 1;
        }
    }
    return 0;
}

/*
 * The forwarding line and the client's head as the app receives them: the same request line
 * and fields, without those about the client's connection, with the body's length stated (a
 * chunked body has been read whole by now, unless it is forwarded as it arrives: then it goes
 * on chunked). An HTTP/1.0 request asks for keep-alive so that the connection to the app can
 * serve again.
 */
static grn_int_t
grn_http_proxy_build_head(grn_http_conn_t *hc, grn_http_upstream_t *u)
{
    char                *p;
    size_t               size;
    grn_uint_t           i;
    grn_http_request_t  *r = hc->r;
    grn_http_header_t   *h = r->headers.elts;

    size = GRN_HTTP_FWD_MAX_LINE + (hc->ssl ? GRN_HTTP_SSL_FWD_MAX_LINE : 0)
           + r->method.len + 1 + r->uri.len + 1 + r->protocol.len + 2
           + sizeof("Content-Length: 18446744073709551615\r\n")
           + sizeof("Connection: keep-alive\r\n") + 2;
    for (i = 0; i < r->headers.nelts; i++) {
        size += h[i].name.len + 2 + h[i].value.len + 2;
    }

    p = grn_pnalloc(hc->pool, size);
    if (p == NULL) {
        return GRN_ERROR;
    }
    u->head = p;

    size = grn_http_forward_line(r, hc->worker->cycle, p);
    if (size == 0) {
        return GRN_ERROR;
    }
    p += size;
    p = memcpy(p, r->method.data, r->method.len) + r->method.len;
    *p++ = ' ';
    p = memcpy(p, r->uri.data, r->uri.len) + r->uri.len;
    *p++ = ' ';
    p = memcpy(p, r->protocol.data, r->protocol.len) + r->protocol.len;
    *p++ = '\r'; *p++ = '\n';

    for (i = 0; i < r->headers.nelts; i++) {
        if (grn_http_proxy_hop(&h[i].name)) {
            continue;
        }
        p = memcpy(p, h[i].name.data, h[i].name.len) + h[i].name.len;
        *p++ = ':'; *p++ = ' ';
        p = memcpy(p, h[i].value.data, h[i].value.len) + h[i].value.len;
        *p++ = '\r'; *p++ = '\n';
    }
    if (hc->body.forward) {
        if (r->chunked) {
            p = memcpy(p, "Transfer-Encoding: chunked\r\n", 28) + 28;
        } else {
            p += sprintf(p, "Content-Length: %lld\r\n", (long long) r->content_length);
        }
    } else if (hc->body.received || r->content_length >= 0 || r->chunked) {
        p += sprintf(p, "Content-Length: %lld\r\n", (long long) hc->body.received);
    }
    if (r->http_version == 1000) {
        p = memcpy(p, "Connection: keep-alive\r\n", 24) + 24;
    }
    *p++ = '\r'; *p++ = '\n';

    u->head_len = (size_t) (p - u->head);
    return GRN_OK;
}

/* Sends what is left of the request: GRN_OK, GRN_AGAIN, GRN_ERROR (u->err). */
static grn_int_t
grn_http_upstream_write(grn_http_upstream_t *u)
{
    ssize_t  n;

    if (grn_http_upstream_writev(u) != GRN_OK) {
        return u->err ? GRN_ERROR : GRN_AGAIN;
    }

    /* A body in a temp file goes from the page cache to the socket. */
    while (u->file_fd != -1 && u->file_pos < u->file_end) {
        n = sendfile(u->ev.fd, u->file_fd, &u->file_pos,
                     (size_t) grn_min(u->file_end - u->file_pos, 1 << 30));
        if (n > 0) {
            continue;
        }
        if (n == -1 && errno == EAGAIN) {
            u->write_ready = 0;
            return GRN_AGAIN;
        }
        if (n == -1 && errno == EINTR) {
            continue;
        }
        u->err = n == 0 ? EPIPE : errno;
        return GRN_ERROR;
    }
    u->file_fd = -1;
    return GRN_OK;
}

/*
 * One writev() on the app's socket: the bytes it took, or GRN_AGAIN (the socket is full: wait
 * for EPOLLOUT) or GRN_ERROR (u->err says why).
 */
static ssize_t
grn_http_upstream_send(grn_http_upstream_t *u, const struct iovec *iov, int cnt)
{
    ssize_t  n;

    for ( ;; ) {
        n = writev(u->ev.fd, iov, cnt);
        if (n >= 0) {
            return n;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno == EAGAIN) {
            u->write_ready = 0;
            return GRN_AGAIN;
        }
        u->err = errno;
        return GRN_ERROR;
    }
}

/* The head and a body in memory: GRN_OK when all is sent; else u->err says if it failed. */
static grn_int_t
grn_http_upstream_writev(grn_http_upstream_t *u)
{
    ssize_t  n;

    while (u->iovcnt) {
        if (!u->write_ready) {
            return GRN_AGAIN;
        }
        n = grn_http_upstream_send(u, u->iovp, u->iovcnt);
        if (n < 0) {
            return (grn_int_t) n;
        }
        while (n > 0 && u->iovcnt) {
            if ((size_t) n >= u->iovp->iov_len) {
                n -= (ssize_t) u->iovp->iov_len;
                u->iovp++;
                u->iovcnt--;
            } else {
                u->iovp->iov_base = (char *) u->iovp->iov_base + n;
                u->iovp->iov_len -= (size_t) n;
                n = 0;
            }
        }
    }
    return GRN_OK;
}

/*
 * request_buffering off: sends what the client's body window holds, framed as chunks when the
 * client's body is chunked. GRN_OK: the window is empty (u->forward is cleared once the whole
 * body is out); GRN_AGAIN: the socket is full; GRN_ERROR: u->err.
 */
static grn_int_t
grn_http_upstream_send_window(grn_http_upstream_t *u)
{
    int               cnt;
    size_t            k;
    ssize_t           n;
    struct iovec      iov[2];
    grn_http_body_t  *b = &u->hc->body;
    grn_flag_t        chunked = u->hc->r->chunked;
    const char       *crlf;

    for ( ;; ) {
        if (u->frame_pos == u->frame_len && u->chunk_left == 0) {
            /* The last chunk's data is out: what comes next, if anything yet. */
            crlf = u->body_sent ? "\r\n" : "";
            u->frame_pos = 0;
            u->frame_len = 0;
            if (b->mem_len) {
                u->chunk_left = b->mem_len;
                if (chunked) {
                    u->frame_len = (size_t) sprintf(u->frame, "%s%zx\r\n", crlf, b->mem_len);
                }
            } else if (chunked && b->complete && !u->last_chunk) {
                u->frame_len = (size_t) sprintf(u->frame, "%s0\r\n\r\n", crlf);
                u->last_chunk = 1;
            } else {
                if (b->complete) {
                    u->forward = 0;
                }
                return GRN_OK;
            }
        }

        if (!u->write_ready) {
            return GRN_AGAIN;
        }

        cnt = 0;
        if (u->frame_pos < u->frame_len) {
            iov[cnt].iov_base = u->frame + u->frame_pos;
            iov[cnt++].iov_len = u->frame_len - u->frame_pos;
        }
        if (u->chunk_left) {
            iov[cnt].iov_base = b->mem;
            iov[cnt++].iov_len = u->chunk_left;
        }

        n = grn_http_upstream_send(u, iov, cnt);
        if (n < 0) {
            return (grn_int_t) n;
        }

        k = grn_min((size_t) n, u->frame_len - u->frame_pos);
        u->frame_pos += k;
        k = (size_t) n - k;
        if (k) {
            /* The window's front is out: what came after it moves up. */
            memmove(b->mem, b->mem + k, b->mem_len - k);
            b->mem_len -= k;
            b->mem_start += (off_t) k;
            u->chunk_left -= k;
            u->body_sent += (off_t) k;
        }
    }
}

/*
 * request_buffering off: the head, then the client's body as it arrives. The client is read
 * only while the window has room: a slow app stops the client, and a slow client holds one
 * window. The app's timeout runs while it has bytes to take or an answer to give; the client's
 * client_body_timeout while we wait for its bytes. GRN_OK: waiting, or the body is all out;
 * GRN_ERROR: the app's socket failed (u->err); GRN_DONE: the client connection is gone or
 * answers an invalid body, and u is closed.
 */
static grn_int_t
grn_http_upstream_pump(grn_http_upstream_t *u)
{
    grn_int_t             rc;
    grn_http_conn_t      *hc = u->hc;
    grn_http_loc_conf_t  *loc = hc->r->loc;
    grn_event_loop_t     *loop = u->worker->loop;

    for ( ;; ) {
        rc = grn_http_upstream_writev(u);
        if (rc == GRN_OK) {
            rc = grn_http_upstream_send_window(u);
        }
        if (rc == GRN_ERROR) {
            return GRN_ERROR;
        }
        if (!u->forward || hc->state != GRN_HTTP_UPSTREAM || hc->msg_done
            || hc->body.mem_len >= GRN_HTTP_PROXY_WINDOW)
        {
            break;
        }
        rc = grn_http_conn_read_body(hc);
        if (rc == GRN_DONE) {
            return GRN_DONE;
        }
        if (rc == GRN_AGAIN) {
            break;
        }
    }

    if (!u->forward || hc->msg_done || hc->body.mem_len >= GRN_HTTP_PROXY_WINDOW) {
        grn_timer_del(loop, &hc->timer);
    } else if (!grn_timer_is_set(&hc->timer)) {
        grn_timer_add(loop, &hc->timer, loc->client_body_timeout);
    }
    if (!u->forward || hc->body.mem_len || u->iovcnt) {
        grn_http_upstream_arm(u);
    } else {
        grn_timer_del(loop, &u->timer);         /* nothing for the app to do but wait */
    }
    return GRN_OK;
}

static grn_flag_t
grn_http_proxy_idempotent(grn_http_request_t *r)
{
    static const char  *methods[] = { "GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE", NULL };
    const char        **m;

    for (m = methods; *m; m++) {
        if (r->method.len == strlen(*m) && memcmp(r->method.data, *m, r->method.len) == 0) {
            return 1;
        }
    }
    return 0;
}

/*
 * Gets a connection to the location's app and sends the request, retrying on a fresh
 * connection when a pooled one turns out closed. GRN_AGAIN: sent or being sent, the answer
 * will come through the handler; GRN_OK: no app to be had, r->response holds a 502 or 503
 * page.
 */
static grn_int_t
grn_http_proxy_send(grn_http_conn_t *hc, char *head, size_t head_len)
{
    grn_int_t             rc;
    grn_uint_t            status;
    grn_http_peer_t      *peer;
    grn_http_proxy_t     *proxy;
    grn_http_request_t   *r = hc->r;
    grn_app_conf_t       *app = r->loc->app;
    grn_http_upstream_t  *u;

    proxy = grn_http_proxy_get(hc->worker);
    if (proxy == NULL || app->index >= proxy->npeers || app->internal == NULL) {
        return grn_http_error_page(r, 502) == GRN_OK ? GRN_OK : GRN_ERROR;
    }
    peer = &proxy->peers[app->index];

    for ( ;; ) {
        u = peer->idle;
        if (u) {
            peer->idle = u->next;
            peer->nidle--;
            u->idle = 0;
            u->reused = 1;
        } else {
            u = grn_http_upstream_connect(hc->worker, proxy, peer, &status);
            if (u == NULL) {
                return grn_http_error_page(r, status) == GRN_OK ? GRN_OK : GRN_ERROR;
            }
            u->reused = 0;
        }

        u->hc = hc;
        r->upstream = u;
        u->len = 0;
        u->parsed = 0;
        u->err = 0;
        u->seen = 0;
        u->got_bytes = 0;
        u->head_done = 0;
        u->msg_done = 0;
        u->want = 0;
        u->reason.data = NULL;
        u->field.data = NULL;
        u->value.data = NULL;
        llhttp_init(&u->parser, HTTP_RESPONSE, &grn_http_upstream_settings);
        u->parser.data = u;

        if (head == NULL) {
            if (grn_http_proxy_build_head(hc, u) != GRN_OK) {
                r->upstream = NULL;
                grn_http_upstream_release(u);
                return GRN_ERROR;
            }
            head = u->head;
            head_len = u->head_len;
        }
        u->head = head;
        u->head_len = head_len;
        u->iov[0].iov_base = head;
        u->iov[0].iov_len = head_len;
        /* The body is in memory, or beyond client_body_buffer_size in a temp file. */
        u->iovp = u->iov;
        u->iovcnt = 1;
        u->file_fd = -1;
        u->forward = 0;
        u->body_sent = 0;
        if (hc->body.forward) {
            /* grn_http_upstream_pump() sends the body after the head, as it arrives */
            u->forward = 1;
            u->last_chunk = 0;
            u->frame_pos = 0;
            u->frame_len = 0;
            u->chunk_left = 0;
        } else if (hc->body.in_file) {
            u->file_fd = hc->body.fd;
            u->file_pos = 0;
            u->file_end = hc->body.received;
        } else if (hc->body.mem_len) {
            u->iov[1].iov_base = hc->body.mem;
            u->iov[1].iov_len = hc->body.mem_len;
            u->iovcnt = 2;
        }

        grn_http_upstream_arm(u);

        rc = grn_http_upstream_write(u);
        if (rc != GRN_ERROR) {
            return GRN_AGAIN;
        }

        /* A pooled connection the app closed meanwhile took nothing: try a fresh one. */
        r->upstream = NULL;
        u->hc = NULL;
        rc = u->reused;
        grn_http_upstream_close(u);
        if (!rc) {
            grn_log_error(GRN_LOG_ERR, hc->worker->log, u->err, "sending a request to app "
                          "\"%.*s\" failed; answering 502",
                          (int) app->name.len, app->name.data);
            return grn_http_error_page(r, 502) == GRN_OK ? GRN_OK : GRN_ERROR;
        }
    }
}

grn_int_t
grn_http_proxy_start(grn_http_conn_t *hc)
{
    grn_int_t  rc;

    rc = grn_http_proxy_send(hc, NULL, 0);
    if (rc == GRN_AGAIN) {
        /* The client's timers rest while the app works; the app connection has its own. */
        hc->state = GRN_HTTP_UPSTREAM;
        grn_timer_del(hc->worker->loop, &hc->timer);
    }
    return rc;
}

/*
 * The app's answer failed before anything of it went to the client: retry on a fresh
 * connection when that is safe, else answer `status` (502, 504).
 */
static void
grn_http_upstream_fail(grn_http_upstream_t *u, grn_uint_t status, const char *what)
{
    int                  err = u->err;
    char                *head = u->head;
    size_t               head_len = u->head_len;
    grn_app_conf_t      *app = u->peer->app;
    grn_http_conn_t     *hc = u->hc;
    grn_http_request_t  *r = hc->r;
    grn_flag_t           retry;

    retry = status == 502 && u->reused && !u->got_bytes
            && u->body_sent == 0                      /* a forwarded body's bytes are gone */
            && (err == EPIPE || err == ECONNRESET || grn_http_proxy_idempotent(r));

    r->upstream = NULL;
    u->hc = NULL;
    grn_http_upstream_close(u);

    if (retry) {
        grn_log_error(GRN_LOG_INFO, hc->worker->log, err, "app \"%.*s\" closed a pooled "
                      "connection as it was reused; retrying on a new one",
                      (int) app->name.len, app->name.data);
        if (grn_http_proxy_send(hc, head, head_len) == GRN_AGAIN) {
            return;
        }
    } else {
        grn_log_error(GRN_LOG_ERR, hc->worker->log, err, "app \"%.*s\" %s; answering %u",
                      (int) app->name.len, app->name.data, what, (unsigned) status);
        (void) grn_http_error_page(r, status);
    }
    grn_http_proxy_respond(hc);
}

/*
 * Reads from the app and parses, once (body phase) or until the head is complete. Body bytes
 * are appended to r->response.body. GRN_OK: progress; GRN_AGAIN: nothing to read now;
 * GRN_ERROR: closed or malformed (u->err, `what` says which).
 */
static grn_int_t
grn_http_upstream_read(grn_http_upstream_t *u, const char **what)
{
    ssize_t         n;
    llhttp_errno_t  rc;

    if (u->head_done) {
        u->len = 0;
        u->parsed = 0;
    } else if (u->len == GRN_HTTP_PROXY_BUF) {
        *what = "sent a response head larger than the router's buffer";
        return GRN_ERROR;
    }

    if (!u->read_ready) {
        return GRN_AGAIN;
    }

    n = recv(u->ev.fd, u->buf + u->len, GRN_HTTP_PROXY_BUF - u->len, 0);

    if (n == -1) {
        if (errno == EAGAIN) {
            u->read_ready = 0;
            return GRN_AGAIN;
        }
        if (errno == EINTR) {
            return GRN_OK;
        }
        u->err = errno;
        *what = "reset the connection";
        return GRN_ERROR;
    }

    if (n == 0) {
        u->eof = 1;
        /* A body that ends with the connection (HTTP/1.0 client, unknown length) ends here. */
        rc = llhttp_finish(&u->parser);
        if ((rc == HPE_OK || rc == HPE_PAUSED) && u->msg_done) {
            return GRN_OK;
        }
        *what = u->got_bytes ? "closed the connection in the middle of its response"
                             : "closed the connection without answering";
        return GRN_ERROR;
    }

    if ((size_t) n < GRN_HTTP_PROXY_BUF - u->len && !u->rdhup) {
        u->read_ready = 0;
    }
    u->got_bytes = 1;
    u->len += (size_t) n;

    rc = llhttp_execute(&u->parser, u->buf + u->parsed, u->len - u->parsed);
    if (rc == HPE_PAUSED) {
        /* The message ended: anything after it is not HTTP the app may send. */
        if ((size_t) (llhttp_get_error_pos(&u->parser) - u->buf) != u->len) {
            u->broken = 1;
        }
    } else if (rc != HPE_OK) {
        *what = "sent an invalid response";
        u->broken = 1;
        return GRN_ERROR;
    }
    u->parsed = u->len;
    return GRN_OK;
}

/*
 * Body phase: one more batch for the client. GRN_OK: r->response has it (and `more` says if
 * it is the last; the connection is released then); GRN_AGAIN; GRN_ERROR.
 */
static grn_int_t
grn_http_upstream_fill(grn_http_upstream_t *u)
{
    grn_int_t            rc;
    const char          *what = NULL;
    grn_http_request_t  *r = u->hc->r;

    for ( ;; ) {
        rc = grn_http_upstream_read(u, &what);
        if (rc == GRN_ERROR) {
            grn_log_error(GRN_LOG_ERR, u->worker->log, u->err, "app \"%.*s\" %s",
                          (int) u->peer->app->name.len, u->peer->app->name.data, what);
            return GRN_ERROR;
        }
        if (rc == GRN_AGAIN && !u->msg_done) {
            return GRN_AGAIN;
        }
        if (u->msg_done) {
            u->want = 0;
            r->response.more = 0;
            grn_http_upstream_release(u);
            return GRN_OK;
        }
        if (r->response.body_len) {
            u->want = 0;
            r->response.more = 1;
            return GRN_OK;
        }
    }
}

grn_int_t
grn_http_proxy_next(grn_http_conn_t *hc)
{
    grn_int_t             rc;
    grn_http_upstream_t  *u = hc->r->upstream;

    if (u == NULL) {
        return GRN_ERROR;
    }
    u->want = 1;
    rc = grn_http_upstream_fill(u);
    if (rc == GRN_AGAIN) {
        grn_http_upstream_arm(u);
    } else if (rc == GRN_ERROR) {
        hc->r->upstream = NULL;
        u->hc = NULL;
        grn_http_upstream_close(u);
    }
    return rc;
}

void
grn_http_proxy_forward(grn_http_conn_t *hc)
{
    grn_http_upstream_t  *u = hc->r->upstream;

    if (u->forward) {
        grn_http_upstream_run(u);
    }
}

void
grn_http_proxy_abort(grn_http_request_t *r)
{
    grn_http_upstream_t  *u = r->upstream;

    r->upstream = NULL;
    r->response.more = 0;
    if (u) {
        u->hc = NULL;
        grn_http_upstream_close(u);
    }
}

/* The app connection is ready: send, read, and move the client on. */
static void
grn_http_upstream_run(grn_http_upstream_t *u)
{
    grn_int_t             rc;
    const char           *what = NULL;
    grn_http_conn_t      *hc = u->hc;
    grn_http_request_t   *r = hc->r;
    grn_http_loc_conf_t  *loc;

    if (u->forward) {
        rc = grn_http_upstream_pump(u);
        if (rc == GRN_DONE) {
            return;
        }
    } else {
        rc = grn_http_upstream_sending(u) ? grn_http_upstream_write(u) : GRN_OK;
    }

    if (rc == GRN_ERROR) {
        /* The app may have answered already (an early 413): read that first. */
        u->iovcnt = 0;
        u->file_fd = -1;
        u->forward = 0;
        u->broken = 1;
        if (!u->read_ready) {
            grn_http_upstream_fail(u, 502, "closed the connection while the request was sent");
            return;
        }
    }

    if (!u->head_done) {
        do {
            rc = grn_http_upstream_read(u, &what);
        } while (rc == GRN_OK && !u->head_done);

        if (rc == GRN_ERROR) {
            grn_http_upstream_fail(u, 502, what);
            return;
        }
        if (!u->head_done) {
            return;
        }

        if (grn_http_upstream_sending(u)) {
            /* It answered before taking the whole request: this connection is done after. */
            u->iovcnt = 0;
            u->file_fd = -1;
            u->forward = 0;
            u->broken = 1;
        }

        grn_timer_del(u->worker->loop, &u->timer);
        if (u->msg_done) {
            r->response.more = 0;
            grn_http_upstream_release(u);
        } else {
            r->response.more = 1;
        }
        grn_http_proxy_respond(hc);
        return;
    }

    if (!u->want) {
        return;                         /* the client has not taken the last batch yet */
    }

    rc = grn_http_upstream_fill(u);
    if (rc == GRN_AGAIN) {
        return;
    }
    if (rc == GRN_ERROR) {
        r->upstream = NULL;
        u->hc = NULL;
        grn_http_upstream_close(u);
        grn_http_conn_abort(hc);
        return;
    }

    grn_timer_del(u->worker->loop, &u->timer);
    grn_http_response_body_iov(hc, 0);
    loc = r->loc ? r->loc : r->srv->loc;
    grn_timer_add(hc->worker->loop, &hc->timer, loc->send_timeout);
    grn_http_conn_resume(hc);
}

static void
grn_http_upstream_handler(grn_event_t *ev, uint32_t events)
{
    grn_http_upstream_t  *u = (grn_http_upstream_t *) ev;

    if (ev->fd == -1) {
        return;                         /* closed earlier in this round of events */
    }
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        u->read_ready = 1;
    }
    if (events & (EPOLLRDHUP | EPOLLHUP)) {
        /* Its edge must not be lost to a short read that follows. */
        u->rdhup = 1;
    }
    if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) {
        u->write_ready = 1;
    }

    if (u->hc == NULL) {
        /* Pooled: the app worker closed it (keep-alive timeout, drain) or sent junk. */
        if (u->read_ready && u->idle) {
            grn_http_upstream_unpool(u);
            grn_http_upstream_close(u);
        }
        return;
    }
    grn_http_upstream_run(u);
}

static void
grn_http_upstream_timer(grn_timer_t *timer)
{
    grn_http_upstream_t  *u = timer->data;
    grn_http_conn_t      *hc = u->hc;
    grn_app_conf_t       *app = u->peer->app;

    if (hc == NULL) {
        return;
    }
    u->broken = 1;
    if (!u->head_done) {
        u->err = 0;
        u->reused = 0;                  /* no retry: the app has the request */
        grn_http_upstream_fail(u, 504, "did not answer within its timeout");
        return;
    }
    grn_log_error(GRN_LOG_ERR, u->worker->log, 0, "app \"%.*s\" sent nothing more of its "
                  "response within its timeout; closing the client connection",
                  (int) app->name.len, app->name.data);
    hc->r->upstream = NULL;
    u->hc = NULL;
    grn_http_upstream_close(u);
    grn_http_conn_abort(hc);
}

void
grn_http_proxy_done(grn_http_worker_t *w)
{
    grn_http_proxy_t     *proxy = w->proxy;
    grn_http_upstream_t  *u, *next;

    if (proxy == NULL) {
        return;
    }
    for (u = proxy->allocated; u; u = next) {
        next = u->all_next;
        grn_timer_del(w->loop, &u->timer);
        if (u->ev.fd != -1) {
            close(u->ev.fd);
        }
        free(u->buf);
        free(u);
    }
    free(proxy->peers);
    free(proxy);
    w->proxy = NULL;
}


/* llhttp callbacks for the app's response. */

static int
grn_http_upstream_on_status(llhttp_t *p, const char *at, size_t len)
{
    grn_http_upstream_t  *u = p->data;

    grn_str_extend(&u->reason, at, len);
    return 0;
}

static int
grn_http_upstream_on_header_field(llhttp_t *p, const char *at, size_t len)
{
    grn_http_upstream_t  *u = p->data;

    if (u->head_done) {
        return 0;                       /* a trailer: dropped */
    }
    grn_str_extend(&u->field, at, len);
    return 0;
}

static int
grn_http_upstream_on_header_value(llhttp_t *p, const char *at, size_t len)
{
    grn_http_upstream_t  *u = p->data;

    if (u->head_done) {
        return 0;
    }
    grn_str_extend(&u->value, at, len);
    return 0;
}

static int
grn_http_upstream_on_header_value_complete(llhttp_t *p)
{
    grn_str_t             name, value;
    grn_http_upstream_t  *u = p->data;
    grn_http_request_t   *r = u->hc->r;

    if (u->head_done) {
        return 0;
    }
    name = u->field;
    value = u->value;
    u->field.data = NULL;
    u->value.data = NULL;
    if (name.data == NULL) {
        return -1;
    }
    if (value.data == NULL) {
        value.data = name.data;
        value.len = 0;
    }
    while (value.len && (value.data[value.len - 1] == ' ' || value.data[value.len - 1] == '\t')) {
        value.len--;
    }

    /* The router writes its own Server and Date (the app worker's come first), and framing. */
    if (!(u->seen & GRN_HTTP_PROXY_SEEN_SERVER) && name.len == 6
        && strncasecmp(name.data, "server", 6) == 0)
    {
        u->seen |= GRN_HTTP_PROXY_SEEN_SERVER;
        return 0;
    }
    if (!(u->seen & GRN_HTTP_PROXY_SEEN_DATE) && name.len == 4
        && strncasecmp(name.data, "date", 4) == 0)
    {
        u->seen |= GRN_HTTP_PROXY_SEEN_DATE;
        return 0;
    }
    if (grn_http_proxy_hop(&name)
        && !(name.len == 14 && strncasecmp(name.data, "content-length", 14) == 0))
    {
        return 0;
    }
    return grn_http_response_add_header(r, name.data, name.len, value.data, value.len)
           == GRN_OK ? 0 : -1;
}

static int
grn_http_upstream_on_headers_complete(llhttp_t *p)
{
    int                   n;
    char                  line[128];
    grn_http_upstream_t  *u = p->data;
    grn_http_request_t   *r = u->hc->r;

    if (p->status_code < 200) {
        return -1;                      /* the router asked for no interim response */
    }
    n = snprintf(line, sizeof(line), "%03u %.*s", (unsigned) p->status_code,
                 u->reason.data ? (int) grn_min(u->reason.len, 100) : 0,
                 u->reason.data ? u->reason.data : "");
    if (grn_http_response_set_status(r, p->status_code, line, (size_t) n) != GRN_OK) {
        return -1;
    }
    u->head_done = 1;

    /* The answer to HEAD has a Content-Length but no body (llhttp: 1 = no body follows). */
    return r->head ? 1 : 0;
}

static int
grn_http_upstream_on_body(llhttp_t *p, const char *at, size_t len)
{
    grn_http_upstream_t  *u = p->data;

    return grn_http_response_append(u->hc->r, at, len) == GRN_OK ? 0 : -1;
}

static int
grn_http_upstream_on_message_complete(llhttp_t *p)
{
    grn_http_upstream_t  *u = p->data;

    u->msg_done = 1;
    return HPE_PAUSED;
}

static const llhttp_settings_t  grn_http_upstream_settings = {
    .on_status = grn_http_upstream_on_status,
    .on_header_field = grn_http_upstream_on_header_field,
    .on_header_value = grn_http_upstream_on_header_value,
    .on_header_value_complete = grn_http_upstream_on_header_value_complete,
    .on_headers_complete = grn_http_upstream_on_headers_complete,
    .on_body = grn_http_upstream_on_body,
    .on_message_complete = grn_http_upstream_on_message_complete,
};
