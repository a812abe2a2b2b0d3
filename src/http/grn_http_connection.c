/*
 * grn_http_connection.c: accepting connections and driving each one through read, parse,
 * handle, write and keep-alive.
 *
 * A connection is registered once, edge-triggered for both directions, and keeps its own
 * read/write readiness flags. grn_http_conn_run() is a loop over the connection's state that
 * runs until the connection has to wait for the network; pipelined requests are served by the
 * same loop, never by recursion. One timer per connection covers whichever timeout applies in
 * the current state (header, body, send, keep-alive, lingering close).
 */

#include "grn_core.h"
#include "grn_http.h"
#include "grn_http_proxy.h"
#include "grn_http_ssl.h"
#include "grn_py.h"
#include "grn_scoreboard.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/sendfile.h>

#define GRN_HTTP_LINGERING_TIMEOUT  2000
#define GRN_HTTP_ACCEPT_RETRY       1000     /* ms to wait after EMFILE before accepting again */
#define GRN_HTTP_LIMIT_LOG_EVERY    60000    /* ms between "worker_connections reached" lines */

static void grn_http_accept_handler(grn_event_t *ev, uint32_t events);
static void grn_http_conn_open(grn_http_worker_t *w, int fd, grn_listening_t *ls,
    struct sockaddr_storage *peer);
static void grn_http_conn_handler(grn_event_t *ev, uint32_t events);
static void grn_http_conn_timer(grn_timer_t *timer);
static void grn_http_conn_run(grn_http_conn_t *hc);
static void grn_http_close(grn_http_conn_t *hc);
static void grn_http_linger(grn_http_conn_t *hc);
static void grn_http_resume_accepting(grn_timer_t *timer);
static void grn_http_put_buf(grn_http_worker_t *w, char *buf, size_t size);

static grn_http_srv_conf_t *
grn_http_default_srv(grn_http_conn_t *hc)
{
    return ((grn_http_addr_t *) hc->c.listening->servers)->default_server;
}

static void
grn_http_listeners_enable(grn_http_worker_t *w, grn_flag_t on)
{
    grn_uint_t  i;

    for (i = 0; i < w->nlisteners; i++) {
        grn_http_listener_t  *l = &w->listeners[i];

        if (on && !l->active && l->ev.fd != -1) {
            if (grn_event_add(w->loop, &l->ev, EPOLLIN | EPOLLEXCLUSIVE) == GRN_OK) {
                l->active = 1;
            }
        } else if (!on && l->active) {
            grn_event_del(w->loop, &l->ev);
            l->active = 0;
        }
    }
}

grn_int_t
grn_http_worker_init(grn_http_worker_t *w, grn_event_loop_t *loop, grn_cycle_t *cycle,
    grn_group_t *group)
{
    grn_uint_t         i;
    grn_listening_t  **ls;

    memset(w, 0, sizeof(*w));
    w->loop = loop;
    w->cycle = cycle;
    w->group = group;
    w->log = cycle->log;
    w->max_connections = (grn_uint_t) cycle->core->worker_connections;

    w->listeners = grn_calloc(sizeof(grn_http_listener_t) * grn_max(group->listening.nelts, 1),
                              w->log);
    w->all = grn_calloc(sizeof(grn_http_conn_t *) * w->max_connections, w->log);
    if (w->listeners == NULL || w->all == NULL) {
        return GRN_ERROR;
    }
    grn_timer_init(&w->accept_timer, grn_http_resume_accepting, w);

    ls = group->listening.elts;
    for (i = 0; i < group->listening.nelts; i++) {
        w->listeners[i].ev.handler = grn_http_accept_handler;
        w->listeners[i].ev.fd = ls[i]->fd;
        w->listeners[i].listening = ls[i];
        w->listeners[i].worker = w;
    }
    w->nlisteners = group->listening.nelts;

    grn_http_listeners_enable(w, 1);
    return GRN_OK;
}

static void
grn_http_resume_accepting(grn_timer_t *timer)
{
    grn_http_worker_t  *w = timer->data;

    w->paused = 0;
    if (!w->draining && w->connections < w->max_connections) {
        grn_http_listeners_enable(w, 1);
    }
}

void
grn_http_worker_accept(grn_http_worker_t *w)
{
    grn_uint_t  i;

    for (i = 0; i < w->nlisteners; i++) {
        if (w->listeners[i].active) {
            grn_http_accept_handler(&w->listeners[i].ev, EPOLLIN);
        }
    }
}

void
grn_http_worker_drain(grn_http_worker_t *w)
{
    grn_uint_t  i;

    if (w->draining) {
        return;
    }

    /*
     * With EPOLLEXCLUSIVE this worker may hold the only wakeup for connections already queued:
     * take them now (their first request is served, then they close), so none is stranded.
     */
    for (i = 0; i < w->nlisteners; i++) {
        grn_uint_t  before;

        do {
            before = w->connections;
            grn_http_accept_handler(&w->listeners[i].ev, EPOLLIN);
        } while (w->connections > before && w->connections < w->max_connections);
    }

    /*
     * Out of this thread's epoll only: the fd is shared by the process's threads, and the
     * master keeps the socket open for the next generation anyway.
     */
    w->draining = 1;
    grn_http_listeners_enable(w, 0);

    /*
     * Idle keep-alive connections go now; busy ones close after their response. A connection
     * whose first request has not arrived yet is not idle: its client is about to send it.
     */
    for (i = w->nall; i-- > 0; ) {
        if (w->all[i]->state == GRN_HTTP_IDLE && w->all[i]->c.requests > 0) {
            grn_http_close(w->all[i]);
        }
    }
}

void
grn_http_worker_done(grn_http_worker_t *w)
{
    grn_uint_t        i;
    grn_http_conn_t  *hc;

    while (w->nall) {
        grn_http_close(w->all[w->nall - 1]);
    }
    grn_http_log_worker_done(w);
    grn_http_proxy_done(w);
    grn_http_static_done(w);
    grn_http_ssl_thread_done();
    while ((hc = w->free_conns) != NULL) {
        w->free_conns = hc->next;
        free(hc);
    }
    for (i = 0; i < w->nfree_bufs; i++) {
        free(w->free_bufs[i]);
    }
    w->nfree_bufs = 0;
    for (i = 0; i < w->nfree_pools; i++) {
        grn_destroy_pool(w->free_pools[i]);
    }
    w->nfree_pools = 0;
    free(w->spare_body);
    w->spare_body = NULL;
    free(w->listeners);
    free(w->all);
    w->all = NULL;
}

static void
grn_http_addr_text(struct sockaddr *sa, grn_str_t *text, size_t size, grn_uint_t *port)
{
    char           *p;
    grn_uint_t      i, octet;
    const uint8_t  *a;

    switch (sa->sa_family) {
    case AF_INET:
        /*
         * By hand: glibc's inet_ntop() formats IPv4 with sprintf(), about 1,500 instructions,
         * and every accepted connection formats two addresses (peer and local).
         */
        a = (const uint8_t *) &((struct sockaddr_in *) sa)->sin_addr;
        p = text->data;
        for (i = 0; i < 4; i++) {
            octet = a[i];
            if (octet >= 100) {
                *p++ = (char) ('0' + octet / 100);
            }
            if (octet >= 10) {
                *p++ = (char) ('0' + octet / 10 % 10);
            }
            *p++ = (char) ('0' + octet % 10);
            *p++ = (i < 3) ? '.' : '\0';
        }
        *port = ntohs(((struct sockaddr_in *) sa)->sin_port);
        break;
    case AF_INET6:
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *) sa)->sin6_addr, text->data,
                  (socklen_t) size);
        *port = ntohs(((struct sockaddr_in6 *) sa)->sin6_port);
        break;
    case AF_UNIX:
        /* As nginx's $remote_addr: a unix-socket client has no address of its own. */
        memcpy(text->data, "unix:", 6);
        *port = 0;
        break;
    default:
        text->data[0] = '\0';
        *port = 0;
    }
    text->len = strlen(text->data);
}

/* Storage for the address texts lives in the connection, after the struct. */
typedef struct {
    grn_http_conn_t  hc;
    char             remote[INET6_ADDRSTRLEN];
    char             peer[INET6_ADDRSTRLEN];
    char             local[INET6_ADDRSTRLEN];
} grn_http_conn_block_t;

static void
grn_http_accept_handler(grn_event_t *ev, uint32_t events GRN_UNUSED)
{
    int                      fd;
    socklen_t                len;
    grn_http_worker_t       *w;
    grn_http_listener_t     *l = (grn_http_listener_t *) ev;
    struct sockaddr_storage  sa;

    w = l->worker;
    if (w->draining) {
        return;
    }

    len = sizeof(sa);
    fd = accept4(ev->fd, (struct sockaddr *) &sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd == -1) {
        switch (errno) {
        case EAGAIN:
        case EINTR:
        case ECONNABORTED:
        case EPROTO:
            return;
        case EMFILE:
        case ENFILE:
        case ENOBUFS:
        case ENOMEM:
            /* Out of descriptors or memory: stop accepting for a moment, never spin or crash. */
            grn_log_error(GRN_LOG_CRIT, w->log, errno,
                          "accept4() on %.*s failed; pausing accepts for %dms",
                          (int) l->listening->addr_text.len, l->listening->addr_text.data,
                          GRN_HTTP_ACCEPT_RETRY);
            grn_http_listeners_enable(w, 0);
            w->paused = 1;
            grn_timer_add(w->loop, &w->accept_timer, GRN_HTTP_ACCEPT_RETRY);
            return;
        default:
            grn_log_error(GRN_LOG_ALERT, w->log, errno, "accept4() on %.*s failed",
                          (int) l->listening->addr_text.len, l->listening->addr_text.data);
            return;
        }
    }

    if (l->listening->internal && grn_http_forward_peer_ok(fd, w) != GRN_OK) {
        close(fd);
        return;
    }

    if (w->dispatch && w->dispatch(w, fd, l->listening) == GRN_OK) {
        return;                 /* a sibling thread with fewer connections takes it */
    }

    grn_http_conn_open(w, fd, l->listening, &sa);
}

/* A connection that a sibling thread accepted and handed over: its peer is asked again. */
void
grn_http_worker_adopt(grn_http_worker_t *w, int fd, grn_listening_t *ls)
{
    socklen_t                len = sizeof(struct sockaddr_storage);
    struct sockaddr_storage  sa;

    if (getpeername(fd, (struct sockaddr *) &sa, &len) == -1) {
        close(fd);              /* the client is gone already */
        return;
    }
    grn_http_conn_open(w, fd, ls, &sa);
}

/*
 * At worker_connections a thread stops accepting: new connections wait in the listen queue
 * (nginx would accept and drop them). Say so, at most once a minute per thread: a server held
 * at its limit would otherwise log a line per connection.
 */
static void
grn_http_limit_reached(grn_http_worker_t *w)
{
    grn_msec_t  now = grn_monotonic_msec();

    if (w->limit_logged != 0 && now - w->limit_logged < GRN_HTTP_LIMIT_LOG_EVERY) {
        return;
    }
    w->limit_logged = now;
    grn_log_error(GRN_LOG_WARN, w->log, 0, "worker_connections %u reached: new connections "
                  "wait in the listen queue until one closes; raise \"worker_connections\" "
                  "or add workers", (unsigned) w->max_connections);
}

/* Sets up an accepted connection in this thread's loop and starts reading its request. */
static void
grn_http_conn_open(grn_http_worker_t *w, int fd, grn_listening_t *ls,
    struct sockaddr_storage *peer)
{
    int                      one = 1;
    socklen_t                len;
    grn_http_conn_t         *hc;
    grn_http_conn_block_t   *block;
    struct sockaddr_storage  sa = *peer, local;

    hc = w->free_conns;
    if (hc) {
        w->free_conns = hc->next;
    } else {
        block = grn_calloc(sizeof(grn_http_conn_block_t), w->log);
        if (block == NULL) {
            close(fd);
            return;
        }
        hc = &block->hc;
        hc->c.remote_addr.data = block->remote;
        hc->c.peer_addr.data = block->peer;
        hc->c.local_addr.data = block->local;
        hc->body.fd = -1;
    }
    block = (grn_http_conn_block_t *) hc;

    hc->ev.handler = grn_http_conn_handler;
    hc->ev.fd = fd;
    hc->worker = w;
    hc->state = GRN_HTTP_IDLE;
    hc->c.fd = fd;
    hc->c.listening = ls;
    hc->c.requests = 0;
    hc->c.number = grn_http_next_connection_number();
    hc->c.data = hc;
    grn_timer_init(&hc->timer, grn_http_conn_timer, hc);
    grn_sb_conn_add(ls->sb_index, 1, 1, 1);

    grn_http_addr_text((struct sockaddr *) &sa, &hc->c.remote_addr, sizeof(block->remote),
                       &hc->c.remote_port);
    memcpy(hc->c.peer_addr.data, hc->c.remote_addr.data, hc->c.remote_addr.len + 1);
    hc->c.peer_addr.len = hc->c.remote_addr.len;
    hc->c.peer_port = hc->c.remote_port;
    hc->proxy_protocol = ls->proxy_protocol;
    hc->realip = 0;
    hc->handshaking = ls->ssl;

    if (sa.ss_family == AF_INET || sa.ss_family == AF_INET6) {
        /*
         * So that a response (or streamed chunk) following another is not held back by Nagle.
         * Setting it only once a second write follows was measured (contrib/bench, 6
         * interleaved runs): no gain for Connection: close, 0.8 us more per keep-alive request.
         * `tcp_nodelay off` lets Nagle merge a fast generator's small chunks into fewer
         * segments (half the CPU of the bench's stream workload), at up to a delayed ACK's
         * wait for a chunk that follows an unacknowledged one.
         */
        if (((grn_http_addr_t *) ls->servers)->default_server->tcp_nodelay) {
            (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        }
        len = sizeof(local);
        if (getsockname(fd, (struct sockaddr *) &local, &len) == 0) {
            grn_http_addr_text((struct sockaddr *) &local, &hc->c.local_addr,
                               sizeof(block->local), &hc->c.local_port);
        } else {
            hc->c.local_addr.len = 0;
            hc->c.local_port = 0;
        }
    } else {
        hc->c.local_addr.len = 0;
        hc->c.local_port = 0;
    }

    llhttp_init(&hc->parser, HTTP_REQUEST, &grn_http_parser_settings);
    hc->parser.data = hc;

    if (grn_event_add(w->loop, &hc->ev, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET) != GRN_OK) {
        close(fd);
        hc->next = w->free_conns;
        w->free_conns = hc;
        return;
    }

    hc->all_index = w->nall;
    w->all[w->nall++] = hc;
    if (w->on_accept) {
        w->on_accept(w);
    }
    /* Sibling threads read the count to pick where a connection goes (grn_worker.c). */
    __atomic_store_n(&w->connections, w->connections + 1, __ATOMIC_RELAXED);
    if (w->connections >= w->max_connections && !w->paused) {
        grn_http_listeners_enable(w, 0);
        grn_http_limit_reached(w);
    }

    /* On loopback the request usually arrived with the handshake: read without waiting. */
    hc->read_ready = 1;
    hc->write_ready = 1;
    grn_timer_add(w->loop, &hc->timer, grn_http_default_srv(hc)->client_header_timeout);
    grn_http_conn_run(hc);
}

static void
grn_http_conn_handler(grn_event_t *ev, uint32_t events)
{
    grn_http_conn_t  *hc = (grn_http_conn_t *) ev;

    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        hc->read_ready = 1;
    }
    if (events & (EPOLLRDHUP | EPOLLHUP)) {
        /* The client will send nothing more: its edge must not be lost to a short read. */
        hc->rdhup = 1;
    }
    if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) {
        hc->write_ready = 1;
        if (hc->ssl_read_wants_write) {
            hc->read_ready = 1;         /* TLS: a read waited for the socket to drain */
        }
    }
    if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) && hc->ssl_write_wants_read) {
        hc->write_ready = 1;            /* TLS: a write waited for the peer's bytes */
    }
    grn_http_conn_run(hc);
}

/* Read buffers of the usual size are cached per thread; grown ones are freed. */
static char *
grn_http_get_buf(grn_http_worker_t *w, size_t size)
{
    if (w->nfree_bufs && w->free_buf_size == size) {
        return w->free_bufs[--w->nfree_bufs];
    }
    return grn_alloc(size, w->log);
}

static void
grn_http_put_buf(grn_http_worker_t *w, char *buf, size_t size)
{
    if (w->nfree_bufs == 0) {
        w->free_buf_size = size;
    }
    if (size == w->free_buf_size && w->nfree_bufs < grn_nelems(w->free_bufs)) {
        w->free_bufs[w->nfree_bufs++] = buf;
    } else {
        free(buf);
    }
}

/*
 * A connection holds a request pool only while a request is in progress: an idle keep-alive
 * connection costs its struct and nothing else, and the pools circulate through a small cache.
 */
static grn_int_t
grn_http_get_pool(grn_http_conn_t *hc)
{
    grn_http_worker_t  *w = hc->worker;

    if (hc->pool) {
        return GRN_OK;
    }
    if (w->nfree_pools) {
        hc->pool = w->free_pools[--w->nfree_pools];
        return GRN_OK;
    }
    hc->pool = grn_create_pool(4096, w->log);
    return hc->pool ? GRN_OK : GRN_ERROR;
}

/* The pool must be reset (no request in it) before it goes back. */
static void
grn_http_put_pool(grn_http_conn_t *hc)
{
    grn_http_worker_t  *w = hc->worker;

    if (hc->pool == NULL) {
        return;
    }
    if (w->nfree_pools < grn_nelems(w->free_pools)) {
        w->free_pools[w->nfree_pools++] = hc->pool;
    } else {
        grn_destroy_pool(hc->pool);
    }
    hc->pool = NULL;
}

/* Forget the current request; keep unparsed bytes (a pipelined request) at the buffer's start. */
static void
grn_http_reset_request(grn_http_conn_t *hc)
{
    if (hc->r) {
        if (hc->r->response.file) {
            close(hc->r->response.file_fd);
            hc->r->response.file = 0;
        }
        if (hc->r->upstream) {
            /* The router's client went away before the app's answer was through. */
            grn_http_proxy_abort(hc->r);
        } else if (hc->r->response.more) {
            /* The client went away (or we gave up on it) in the middle of a stream. */
            grn_py_abort(hc->r);
        }
        grn_http_response_free(hc->r);
    }
    grn_http_body_free(hc);
    hc->r = NULL;
    hc->fwd = NULL;
    hc->status = 0;
    hc->error_detail = NULL;
    hc->head_done = 0;
    hc->head_handled = 0;
    hc->msg_done = 0;
    hc->iovcnt = 0;
    hc->head = NULL;
    hc->request_length = 0;
    hc->logged = 0;
    hc->counted = 0;
    if (hc->pool) {
        grn_reset_pool(hc->pool);
    }

    if (hc->buf) {
        if (hc->parsed < hc->buf_len) {
            memmove(hc->buf, hc->buf + hc->parsed, hc->buf_len - hc->parsed);
        }
        hc->buf_len -= hc->parsed;
        hc->parsed = 0;
        hc->head_end = 0;
    }
}

/* Starts writing an error response, then closes (lingering when the client may still send). */
static void
grn_http_fail(grn_http_conn_t *hc, grn_uint_t status)
{
    grn_http_request_t  *r;

    if (hc->r == NULL) {
        /* The error came before the request line was complete (e.g. junk as the method). */
        if (grn_http_get_pool(hc) != GRN_OK) {
            grn_http_close(hc);
            return;
        }
        grn_reset_pool(hc->pool);
        r = grn_pcalloc(hc->pool, sizeof(grn_http_request_t));
        if (r == NULL
            || grn_array_init(&r->response.headers, hc->pool, 4, sizeof(grn_http_header_t))
               != GRN_OK)
        {
            grn_http_close(hc);
            return;
        }
        r->connection = &hc->c;
        r->pool = hc->pool;
        r->response.content_length = -1;
        r->http_version = 1001;
        r->start_msec = hc->worker->loop->now;
        r->start_usec = grn_monotonic_usec();
        hc->r = r;
    }
    r = hc->r;
    r->keepalive = 0;
    r->head = 0;
    if (r->srv == NULL) {
        r->srv = grn_http_default_srv(hc);
    }
    hc->close = 1;

    if (grn_http_error_page(r, status) != GRN_OK || grn_http_response_prepare(hc) != GRN_OK) {
        grn_http_close(hc);
        return;
    }
    hc->state = GRN_HTTP_WRITING;
    grn_timer_add(hc->worker->loop, &hc->timer, GRN_HTTP_LINGERING_TIMEOUT * 5);
}

/*
 * The request is complete, or its head is and the app streams the body: route it, run its
 * action, start writing the response.
 */
static void
grn_http_run_request(grn_http_conn_t *hc)
{
    grn_http_body_set_request(hc);
    grn_http_handle_request(hc);

    if (hc->state == GRN_HTTP_UPSTREAM) {
        return;                         /* the router forwarded it; the app answers later */
    }

    if (hc->body.forward && !hc->msg_done) {
        /* Not forwarded after all (502): the rest of the body is never read. */
        hc->r->keepalive = 0;
        hc->close = 1;
    }

    if (hc->body.streamed) {
        /*
         * The app read from the socket behind the event loop's back: let the loop look again.
         * A body it did not read to the end (or that failed) leaves the connection unusable
         * for another request, so it closes after the response.
         */
        hc->read_ready = 1;
        if (!hc->msg_done || hc->body.error) {
            hc->r->keepalive = 0;
            hc->close = 1;
        }
    }
    grn_http_conn_respond(hc);
}

/* r->response is ready: serialize its head and start writing. */
void
grn_http_conn_respond(grn_http_conn_t *hc)
{
    grn_http_loc_conf_t  *loc;

    if (grn_http_response_prepare(hc) != GRN_OK) {
        grn_http_close(hc);
        return;
    }

    loc = hc->r->loc ? hc->r->loc : hc->r->srv->loc;
    hc->state = GRN_HTTP_WRITING;
    grn_timer_add(hc->worker->loop, &hc->timer, loc->send_timeout);
}

/* Parses what is buffered. Returns GRN_AGAIN to read more, GRN_OK when the state changed. */
static grn_int_t
grn_http_parse(grn_http_conn_t *hc)
{
    /* A `proxy_protocol` listener: the balancer's header comes first, once per connection. */
    if (hc->proxy_protocol) {
        grn_int_t  rc = grn_http_proxy_protocol_read(hc);

        if (rc == GRN_AGAIN) {
            return GRN_AGAIN;
        }
        if (rc != GRN_OK) {
            grn_http_close(hc);
            return GRN_DONE;
        }
        hc->proxy_protocol = 0;
        if (hc->parsed == hc->buf_len) {
            return GRN_AGAIN;
        }
    }

    /* On an app's internal socket each request comes after the router's forwarding line. */
    if (hc->c.listening->internal && hc->fwd == NULL && hc->r == NULL) {
        grn_int_t  rc = grn_http_forward_preamble(hc);

        if (rc == GRN_AGAIN) {
            return GRN_AGAIN;
        }
        if (rc != GRN_OK) {
            grn_log_error(GRN_LOG_ERR, hc->worker->log, 0,
                          "the router sent an invalid forwarding line on %.*s",
                          (int) hc->c.listening->addr_text.len,
                          hc->c.listening->addr_text.data);
            grn_http_fail(hc, 400);
            return GRN_OK;
        }
    }

    if (grn_http_execute(hc) != GRN_OK) {
        grn_http_fail(hc, hc->status);
        return GRN_OK;
    }

    /*
     * Once per head (checked and routed by the parser): the body's timer, or the app at once
     * when it reads the body from the socket itself.
     */
    if (hc->head_done && !hc->head_handled) {
        hc->head_handled = 1;

        if (!hc->msg_done) {
            grn_http_loc_conf_t  *loc = hc->r->loc ? hc->r->loc : hc->r->srv->loc;

            if (hc->body.streamed) {
                /* Decided by the parser at the end of the head (grn_http_body_start()). */
                grn_http_run_request(hc);
                return GRN_OK;
            }

            if (hc->body.forward) {
                /*
                 * The router with request_buffering off: the head goes to the app now, the
                 * body after it as it arrives (grn_http_proxy.c pulls it from here).
                 */
                if (hc->body.expect_continue) {
                    hc->body.expect_continue = 0;
                    grn_http_conn_send_continue(hc, loc->send_timeout);
                }
                grn_http_run_request(hc);
                return GRN_OK;
            }

            grn_timer_add(hc->worker->loop, &hc->timer, loc->client_body_timeout);

            if (hc->body.expect_continue) {
                /* Buffered for an action without an app: the body is wanted now. */
                hc->body.expect_continue = 0;
                grn_http_conn_send_continue(hc, loc->send_timeout);
            }
        }
    }

    if (hc->msg_done) {
        grn_http_run_request(hc);
        return GRN_OK;
    }

    if (hc->head_done && hc->head_end < hc->parsed) {
        /* Body bytes before `parsed` are copied out already: make room for more. */
        memmove(hc->buf + hc->head_end, hc->buf + hc->parsed, hc->buf_len - hc->parsed);
        hc->buf_len -= hc->parsed - hc->head_end;
        hc->parsed = hc->head_end;
    }

    return GRN_AGAIN;
}

#define grn_http_rebase(p, old, size, new)                                                 \
    if ((p) && (uintptr_t) (p) >= (uintptr_t) (old)                                       \
        && (uintptr_t) (p) <= (uintptr_t) (old) + (size))                                  \
    {                                                                                      \
        (p) = (new) + ((p) - (old));                                                       \
    }

/*
 * The buffer is full and the head is not complete. As in nginx's large_client_header_buffers:
 * a request line longer than one buffer is 414, a header line longer than one buffer is 431,
 * and the whole head may take N buffers. Growing moves the head, so its spans are moved too.
 * Returns 0 when there is room again, else the status to answer.
 */
static grn_uint_t
grn_http_grow_head(grn_http_conn_t *hc, grn_http_srv_conf_t *srv)
{
    char                *buf, *nl, *old = hc->buf;
    size_t               i, line, max, limit = srv->large_client_header_buffer_size;
    grn_http_request_t  *r = hc->r;
    grn_http_header_t   *h;

    if (hc->head_done) {
        return 413;                     /* cannot happen: body bytes are compacted away */
    }

    nl = memchr(hc->buf, '\n', hc->buf_len);
    if (nl == NULL || (size_t) (nl - hc->buf) + 1 > limit) {
        return 414;
    }
    nl = memrchr(hc->buf, '\n', hc->buf_len);
    line = hc->buf_len - (size_t) (nl + 1 - hc->buf);
    if (line >= limit) {
        return 431;
    }

    max = limit * (size_t) srv->large_client_header_buffers;
    if (hc->buf_size >= max) {
        return 431;
    }

    buf = grn_alloc(max, hc->worker->log);
    if (buf == NULL) {
        return 500;
    }
    memcpy(buf, old, hc->buf_len);

    if (r) {
        grn_http_rebase(r->method.data, old, hc->buf_size, buf);
        grn_http_rebase(r->uri.data, old, hc->buf_size, buf);
        grn_http_rebase(r->host.data, old, hc->buf_size, buf);
        grn_http_rebase(r->content_type.data, old, hc->buf_size, buf);
        h = r->headers.elts;
        for (i = 0; i < r->headers.nelts; i++) {
            grn_http_rebase(h[i].name.data, old, hc->buf_size, buf);
            grn_http_rebase(h[i].value.data, old, hc->buf_size, buf);
        }
    }
    grn_http_rebase(hc->field.data, old, hc->buf_size, buf);
    grn_http_rebase(hc->value.data, old, hc->buf_size, buf);

    grn_http_put_buf(hc->worker, old, hc->buf_size);
    hc->buf = buf;
    hc->buf_size = max;
    return 0;
}

/* Reads once. GRN_OK: got bytes; GRN_AGAIN: nothing now; GRN_DONE: the connection is gone. */
static grn_int_t
grn_http_read(grn_http_conn_t *hc)
{
    ssize_t               n;
    size_t                size;
    grn_http_srv_conf_t  *srv;

    srv = grn_http_default_srv(hc);
    size = srv->large_client_header_buffer_size;

    if (hc->buf == NULL) {
        hc->buf = grn_http_get_buf(hc->worker, size);
        if (hc->buf == NULL || grn_http_get_pool(hc) != GRN_OK) {
            grn_http_close(hc);
            return GRN_DONE;
        }
        hc->buf_size = size;
        hc->buf_len = 0;
        hc->parsed = 0;
    }

    if (hc->buf_len == hc->buf_size) {
        grn_uint_t  status = grn_http_grow_head(hc, srv);

        if (status) {
            grn_http_fail(hc, status);
            return GRN_OK;
        }
    }

    n = grn_http_conn_recv(hc, hc->buf + hc->buf_len, hc->buf_size - hc->buf_len);

    if (n > 0) {
        /* A short TLS read is one record: more may wait in the socket or in OpenSSL. */
        if ((size_t) n < hc->buf_size - hc->buf_len && !hc->rdhup && hc->ssl == NULL) {
            hc->read_ready = 0;
        }
        hc->buf_len += (size_t) n;
        if (hc->state == GRN_HTTP_IDLE) {
            hc->state = GRN_HTTP_READING;
            grn_sb_conn_add(hc->c.listening->sb_index, 0, 0, -1);
            grn_timer_add(hc->worker->loop, &hc->timer, srv->client_header_timeout);
        } else if (hc->head_done) {
            grn_http_loc_conf_t  *loc = hc->r->loc ? hc->r->loc : hc->r->srv->loc;

            grn_timer_add(hc->worker->loop, &hc->timer, loc->client_body_timeout);
        }
        return GRN_OK;
    }

    if (n == 0) {
        hc->eof = 1;
        if (hc->state == GRN_HTTP_READING && hc->buf_len > hc->parsed) {
            grn_http_conn_log(GRN_LOG_INFO, hc, 0,
                              "client closed the connection in the middle of a request");
        } else if (hc->state == GRN_HTTP_UPSTREAM && hc->body.forward && !hc->msg_done) {
            grn_http_conn_log(GRN_LOG_INFO, hc, 0, "client closed the connection in the middle "
                              "of the request body (%lld bytes received), which was being "
                              "forwarded to app \"%.*s\"; closing the app's connection",
                              (long long) hc->body.received, (int) hc->r->loc->app->name.len,
                              hc->r->loc->app->name.data);
        }
        grn_http_close(hc);
        return GRN_DONE;
    }

    if (errno == EAGAIN) {
        hc->read_ready = 0;
        return GRN_AGAIN;
    }
    if (errno == EINTR) {
        return GRN_OK;
    }
    if (errno != ECONNRESET) {
        grn_http_conn_log(GRN_LOG_INFO, hc, errno, "recv() failed");
    }
    grn_http_close(hc);
    return GRN_DONE;
}

/* The response is written: keep the connection for the next request, or close it. */
static grn_int_t
grn_http_finalize(grn_http_conn_t *hc)
{
    grn_http_srv_conf_t  *srv;

    /* A forwarded request is logged once, by the router that took it from the client. */
    if (hc->r && !hc->c.listening->internal) {
        grn_http_log_request(hc->r, hc->worker->loop->now, hc->body_sent);
        hc->logged = 1;
    }
    if (hc->r && !hc->counted) {
        grn_sb_request_done(hc->r->response.status,
                            (int64_t) (grn_monotonic_usec() - hc->r->start_usec));
        hc->counted = 1;
    }
    hc->c.requests++;
    if (hc->worker->on_request && hc->r && hc->r->loc
        && hc->r->loc->action == GRN_HTTP_ACTION_PASS)
    {
        hc->worker->on_request(hc->worker);
    }
    srv = hc->r && hc->r->srv ? hc->r->srv : grn_http_default_srv(hc);

    if (hc->close || hc->worker->draining
        || hc->c.requests >= (grn_uint_t) srv->keepalive_requests)
    {
        if (hc->status || hc->buf_len > hc->parsed || hc->read_ready) {
            grn_http_linger(hc);
        } else {
            grn_http_close(hc);
        }
        return GRN_DONE;
    }

    grn_http_reset_request(hc);
    llhttp_resume(&hc->parser);

    if (hc->buf_len) {
        hc->state = GRN_HTTP_READING;
        grn_timer_add(hc->worker->loop, &hc->timer, srv->client_header_timeout);
    } else {
        hc->state = GRN_HTTP_IDLE;
        grn_sb_conn_add(hc->c.listening->sb_index, 0, 0, 1);
        grn_http_put_buf(hc->worker, hc->buf, hc->buf_size);
        hc->buf = NULL;
        grn_http_put_pool(hc);
        grn_timer_add(hc->worker->loop, &hc->timer, srv->keepalive_timeout);
    }
    return GRN_OK;
}

/* Writes what it can. GRN_OK: all sent; GRN_AGAIN: wait; GRN_DONE: the connection is gone. */
static grn_int_t
grn_http_write(grn_http_conn_t *hc)
{
    ssize_t  n;

    while (hc->iovcnt) {
        n = hc->ssl ? grn_http_ssl_writev(hc, hc->iovp, hc->iovcnt)
                    : writev(hc->c.fd, hc->iovp, hc->iovcnt);

        if (n == -1) {
            if (errno == EAGAIN) {
                hc->write_ready = 0;
                return GRN_AGAIN;
            }
            if (errno == EINTR) {
                continue;
            }
            if (errno != EPIPE && errno != ECONNRESET) {
                grn_http_conn_log(GRN_LOG_INFO, hc, errno, "writev() failed");
            }
            grn_http_close(hc);
            return GRN_DONE;
        }

        hc->bytes_sent += n;

        while (n > 0 && hc->iovcnt) {
            if ((size_t) n >= hc->iovp->iov_len) {
                n -= (ssize_t) hc->iovp->iov_len;
                hc->iovp++;
                hc->iovcnt--;
            } else {
                hc->iovp->iov_base = (char *) hc->iovp->iov_base + n;
                hc->iovp->iov_len -= (size_t) n;
                n = 0;
            }
        }
    }
    return GRN_OK;
}

/* The kernel copies the file to the socket: GRN_OK when all is sent, GRN_AGAIN, GRN_DONE. */
static grn_int_t
grn_http_send_file(grn_http_conn_t *hc)
{
    off_t                 start;
    ssize_t               n;
    grn_http_response_t  *resp = &hc->r->response;

    start = resp->file_pos;

    while (resp->file_pos < resp->file_end) {
        size_t  size = (size_t) grn_min(resp->file_end - resp->file_pos, 1 << 30);

        n = hc->ssl ? grn_http_ssl_sendfile(hc, resp->file_fd, &resp->file_pos, size)
                    : sendfile(hc->c.fd, resp->file_fd, &resp->file_pos, size);
        if (n > 0) {
            continue;
        }
        if (n == -1 && errno == EAGAIN) {
            hc->write_ready = 0;
            resp->sent += resp->file_pos - start;
            hc->body_sent += resp->file_pos - start;
            hc->bytes_sent += resp->file_pos - start;
            if (resp->file_pos > start) {
                /* send_timeout runs between two writes, not over the whole file */
                grn_timer_add(hc->worker->loop, &hc->timer,
                              (hc->r->loc ? hc->r->loc : hc->r->srv->loc)->send_timeout);
            }
            return GRN_AGAIN;
        }
        if (n == -1 && errno == EINTR) {
            continue;
        }
        if (n == 0) {
            grn_http_conn_log(GRN_LOG_ERR, hc, 0,
                              "a file being sent ended before its length: it was cut "
                              "while it was sent");
        } else if (errno != EPIPE && errno != ECONNRESET) {
            grn_http_conn_log(GRN_LOG_INFO, hc, errno, "sendfile() failed");
        }
        grn_http_close(hc);
        return GRN_DONE;
    }

    resp->sent += resp->file_pos - start;
    hc->body_sent += resp->file_pos - start;
    hc->bytes_sent += resp->file_pos - start;
    close(resp->file_fd);
    resp->file = 0;
    return GRN_OK;
}

/*
 * The socket took the last batch of a streaming response: pull the next one from the app.
 * Pulling only now is the backpressure: a slow reader holds one batch, never the whole body.
 */
static grn_int_t
grn_http_next_chunk(grn_http_conn_t *hc)
{
    grn_int_t             rc;
    grn_http_request_t   *r = hc->r;
    grn_http_loc_conf_t  *loc = r->loc ? r->loc : r->srv->loc;

    r->response.body_len = 0;
    if (r->upstream) {
        /* Forwarded: the app's next bytes, read only now that the client took the last. */
        rc = grn_http_proxy_next(hc);
        if (rc == GRN_AGAIN) {
            return GRN_AGAIN;
        }
    } else {
        grn_sb_busy(grn_log_tid, hc->worker->loop->now);
        rc = grn_py_next(r);
        grn_sb_idle(grn_log_tid);
    }
    if (rc == GRN_ERROR) {
        /* The headers are out: all that is left to say is that the body is incomplete. */
        grn_http_close(hc);
        return GRN_DONE;
    }

    grn_http_response_body_iov(hc, 0);
    grn_timer_add(hc->worker->loop, &hc->timer, loc->send_timeout);
    return GRN_OK;
}

static void
grn_http_conn_run(grn_http_conn_t *hc)
{
    grn_int_t  rc;

    for ( ;; ) {
        switch (hc->state) {

        case GRN_HTTP_IDLE:
        case GRN_HTTP_READING:
            if (hc->handshaking) {
                if (!hc->read_ready && !hc->write_ready) {
                    return;
                }
                rc = grn_http_ssl_handshake(hc);
                if (rc == GRN_AGAIN) {
                    return;
                }
                if (rc == GRN_ERROR) {
                    grn_http_close(hc);
                    return;
                }
                continue;
            }
            if (hc->buf && hc->parsed < hc->buf_len && !hc->msg_done) {
                rc = grn_http_parse(hc);
                if (rc == GRN_DONE) {
                    return;
                }
                if (rc == GRN_OK) {
                    continue;
                }
            }
            if (!hc->read_ready) {
                return;
            }
            if (grn_http_read(hc) == GRN_DONE) {
                return;
            }
            if (!hc->read_ready && !(hc->buf && hc->parsed < hc->buf_len)) {
                return;
            }
            continue;

        case GRN_HTTP_WRITING:
            if (!hc->write_ready) {
                return;
            }
            rc = grn_http_write(hc);
            if (rc != GRN_OK) {
                return;
            }
            if (hc->r && hc->r->response.file) {
                if (grn_http_send_file(hc) != GRN_OK) {
                    return;
                }
            }
            if (hc->r && hc->r->response.more) {
                if (grn_http_next_chunk(hc) != GRN_OK) {
                    return;
                }
                continue;
            }
            if (grn_http_finalize(hc) != GRN_OK) {
                return;
            }
            if (hc->worker->draining && hc->state == GRN_HTTP_IDLE) {
                grn_http_close(hc);
                return;
            }
            continue;

        case GRN_HTTP_UPSTREAM:
            if (hc->body.forward && hc->r->upstream) {
                /*
                 * The body goes on to the app as it arrives; this runs right after the head
                 * was forwarded too, for the body bytes that came with it (this may run the
                 * connection: touch it no more).
                 */
                grn_http_proxy_forward(hc);
            }
            /* Pipelined bytes wait in the socket; the app connection's events resume us. */
            return;

        case GRN_HTTP_LINGERING:
            for ( ;; ) {
                char     scratch[4096];
                ssize_t  n = recv(hc->c.fd, scratch, sizeof(scratch), 0);

                if (n > 0) {
                    continue;
                }
                if (n == -1 && errno == EAGAIN) {
                    hc->read_ready = 0;
                    return;
                }
                if (n == -1 && errno == EINTR) {
                    continue;
                }
                grn_http_close(hc);
                return;
            }
        }
    }
}

/* Half-close after the last response and swallow what the client still sends, so the kernel
 * does not answer it with a reset that could destroy the response in flight. */
static void
grn_http_linger(grn_http_conn_t *hc)
{
    /* TLS: close_notify first; what the client still sends is then swallowed raw. */
    grn_http_ssl_shutdown(hc);
    if (shutdown(hc->c.fd, SHUT_WR) == -1) {
        grn_http_close(hc);
        return;
    }
    hc->state = GRN_HTTP_LINGERING;
    grn_timer_add(hc->worker->loop, &hc->timer, GRN_HTTP_LINGERING_TIMEOUT);
    hc->read_ready = 1;
}

static void
grn_http_conn_timer(grn_timer_t *timer)
{
    grn_http_conn_t  *hc = timer->data;

    switch (hc->state) {
    case GRN_HTTP_READING:
        grn_http_conn_log(GRN_LOG_INFO, hc, 0, "client timed out sending %s",
                          hc->head_done ? "the request body" : "the request head");
        grn_http_fail(hc, 408);
        grn_http_conn_run(hc);
        break;

    case GRN_HTTP_WRITING:
        grn_http_conn_log(GRN_LOG_INFO, hc, 0, "client timed out reading the response");
        grn_http_close(hc);
        break;

    case GRN_HTTP_UPSTREAM:
        if (hc->body.forward && !hc->msg_done) {
            grn_http_conn_log(GRN_LOG_INFO, hc, 0, "client timed out sending the request body "
                              "(%lld bytes received and forwarded); closing the app's "
                              "connection", (long long) hc->body.received);
        }
        grn_http_close(hc);
        break;

    default:
        if (hc->handshaking) {
            grn_http_conn_log(GRN_LOG_INFO, hc, 0, "client timed out in the TLS handshake");
        }
        grn_http_close(hc);
        break;
    }
}

static void
grn_http_close(grn_http_conn_t *hc)
{
    grn_http_worker_t  *w = hc->worker;

    grn_timer_del(w->loop, &hc->timer);

    /*
     * A response cut short (the client went away, send_timeout) is logged as nginx does: with
     * its status and the bytes that did go out. The body count is of bytes queued; the bytes
     * written are the better bound for it.
     */
    if (hc->state == GRN_HTTP_WRITING && hc->r && !hc->logged && !hc->c.listening->internal) {
        grn_http_log_request(hc->r, w->loop->now, grn_min(hc->body_sent, hc->bytes_sent));
    }
    if (hc->state == GRN_HTTP_WRITING && hc->r && !hc->counted) {
        grn_sb_request_done(hc->r->response.status,
                            (int64_t) (grn_monotonic_usec() - hc->r->start_usec));
    }
    grn_sb_conn_add(hc->c.listening->sb_index, 0, -1, hc->state == GRN_HTTP_IDLE ? -1 : 0);

    grn_http_ssl_free(hc);

    /* close() also removes the socket from epoll: it is in no other process. */
    close(hc->c.fd);
    hc->c.fd = -1;
    hc->ev.fd = -1;

    hc->parsed = hc->buf_len;
    grn_http_reset_request(hc);
    grn_http_put_pool(hc);
    if (hc->buf) {
        grn_http_put_buf(w, hc->buf, hc->buf_size);
        hc->buf = NULL;
    }
    hc->buf_len = 0;
    hc->parsed = 0;
    hc->close = 0;
    hc->eof = 0;
    hc->rdhup = 0;
    hc->read_ready = 0;
    hc->write_ready = 0;
    hc->state = GRN_HTTP_IDLE;

    /* Out of the open list: the last entry takes this one's place. */
    w->all[hc->all_index] = w->all[--w->nall];
    w->all[hc->all_index]->all_index = hc->all_index;

    hc->next = w->free_conns;
    w->free_conns = hc;

    __atomic_store_n(&w->connections, w->connections - 1, __ATOMIC_RELAXED);
    if (!w->draining && !w->paused && w->connections + 1 == w->max_connections) {
        grn_http_listeners_enable(w, 1);
    }
}

void
grn_http_conn_resume(grn_http_conn_t *hc)
{
    grn_http_conn_run(hc);
}

void
grn_http_conn_abort(grn_http_conn_t *hc)
{
    grn_http_close(hc);
}

grn_int_t
grn_http_conn_read_body(grn_http_conn_t *hc)
{
    grn_int_t  rc;

    if (hc->head_end < hc->parsed) {
        /* Parsed body bytes are in the window: what follows them moves up behind the head. */
        memmove(hc->buf + hc->head_end, hc->buf + hc->parsed, hc->buf_len - hc->parsed);
        hc->buf_len -= hc->parsed - hc->head_end;
        hc->parsed = hc->head_end;
    }

    if (hc->parsed < hc->buf_len) {
        if (grn_http_execute(hc) != GRN_OK) {
            /* The app has the head and part of the body: it is told by the closed socket. */
            grn_http_proxy_abort(hc->r);
            grn_http_fail(hc, hc->status);
            grn_http_conn_run(hc);
            return GRN_DONE;
        }
        return GRN_OK;
    }

    if (!hc->read_ready) {
        return GRN_AGAIN;
    }
    if (hc->buf_len == hc->buf_size) {
        grn_http_conn_log(GRN_LOG_INFO, hc, 0, "client sent a head that leaves no room for "
                          "the body");
        grn_http_proxy_abort(hc->r);
        grn_http_fail(hc, 413);
        grn_http_conn_run(hc);
        return GRN_DONE;
    }

    rc = grn_http_read(hc);
    return rc == GRN_DONE ? GRN_DONE : rc == GRN_AGAIN ? GRN_AGAIN : GRN_OK;
}
