/*
 * grn_http_ssl.h: TLS on listeners (OpenSSL): grn_http_ssl_conf.c makes the contexts,
 * grn_http_ssl.c runs connections through them.
 *
 * The master builds one SSL_CTX per server that stands on a `listen ... ssl` address, while
 * it reads the config: certificates and private keys are read before any worker drops its
 * privileges, and the workers inherit the contexts (with their session ticket keys) by fork.
 * A reload builds new contexts, so certificates are read again and ticket keys rotate.
 *
 * On a connection the TLS layer stands between the socket and the HTTP engine: the handshake
 * runs in the event loop before the first request, and the connection's reads and writes go
 * through grn_http_ssl_recv(), grn_http_ssl_writev() and grn_http_ssl_sendfile(), which
 * answer like recv(2), writev(2) and sendfile(2) (-1 with errno EAGAIN when they must wait).
 */

#ifndef GRN_HTTP_SSL_H
#define GRN_HTTP_SSL_H

#include "grn_http.h"

/* Settings start unset (create) and are inherited from the http level (merge). */
void grn_http_ssl_init_conf(grn_http_ssl_conf_t *conf);
void grn_http_ssl_merge_conf(grn_http_ssl_conf_t *conf, grn_http_ssl_conf_t *prev);

/*
 * Once the listeners are assembled: a context for every server on an ssl listener (file:line
 * of what is wrong when a certificate or key cannot be used), the shared session caches.
 */
grn_int_t grn_http_ssl_finish(grn_conf_t *cf, grn_cycle_t *cycle);
/* A worker thread that ends frees what the SNI callback keeps per thread. */
void grn_http_ssl_thread_done(void);

/* OpenSSL's error queue as one text ("error:...:reason; error:..."), and cleared. */
const char *grn_http_ssl_errors(char *buf, size_t size);

/*
 * Drives the handshake of a connection on an ssl listener. GRN_OK: done; GRN_AGAIN: wait for
 * the socket (read_ready or write_ready cleared); GRN_DECLINED: the client speaks plain HTTP
 * (hc->plain_http is set, the request is answered with 400); GRN_ERROR: failed (logged at
 * info), close the connection.
 */
grn_int_t grn_http_ssl_handshake(grn_http_conn_t *hc);

ssize_t grn_http_ssl_recv(grn_http_conn_t *hc, char *buf, size_t size);
ssize_t grn_http_ssl_writev(grn_http_conn_t *hc, const struct iovec *iov, int iovcnt);
/* Sends [*pos, *pos + size) of a file: kernel TLS with sendfile where the kernel offers it. */
ssize_t grn_http_ssl_sendfile(grn_http_conn_t *hc, int fd, off_t *pos, size_t size);
/* Writes a small message whole (100 Continue), waiting for the socket at most `timeout`. */
grn_int_t grn_http_ssl_send_small(grn_http_conn_t *hc, const char *data, size_t len,
    grn_msec_t timeout);

/* Sends close_notify (best effort, never waits) before the connection closes or lingers. */
void grn_http_ssl_shutdown(grn_http_conn_t *hc);
void grn_http_ssl_free(grn_http_conn_t *hc);

/*
 * Once the request's server is known: a client certificate that ssl_verify_client refuses,
 * or a Host that names a server other than the one the handshake's SNI chose while either
 * verifies clients, gives the status to answer (400, 421); 0 when the request may go on.
 */
grn_uint_t grn_http_ssl_check_request(grn_http_conn_t *hc, grn_http_request_t *r,
    const char **reason);

/*
 * The TLS facts of the request's connection, for the environ and the router's forwarding
 * (made once per request in its pool; a forwarded request's come from the router). NULL when
 * the request did not come over TLS.
 */
grn_http_tls_t *grn_http_ssl_info(grn_http_request_t *r);

/*
 * The router's forwarding of a TLS request: the line that carries its TLS facts (0 when it
 * came in plain, or does not fit in size), and the app worker's reading of that line.
 */
#define GRN_HTTP_SSL_FWD_MAX_LINE  4608
size_t grn_http_ssl_forward_line(grn_http_request_t *r, char *buf, size_t size);
grn_int_t grn_http_ssl_forward_parse(grn_pool_t *pool, const char *line, size_t len,
    grn_http_tls_t **out);

/* Whether this connection sends files with kernel TLS (for tests and the status page). */
grn_flag_t grn_http_ssl_ktls(grn_http_conn_t *hc);

/* The connection's reads: through TLS on an ssl listener, else straight from the socket. */
static inline ssize_t
grn_http_conn_recv(grn_http_conn_t *hc, char *buf, size_t size)
{
    return hc->ssl ? grn_http_ssl_recv(hc, buf, size) : recv(hc->c.fd, buf, size, 0);
}

/* "100 Continue" (RFC 9110 10.1.1), which the client awaits before it sends the body. */
static inline void
grn_http_conn_send_continue(grn_http_conn_t *hc, grn_msec_t timeout)
{
    static const char  line[] = "HTTP/1.1 100 Continue\r\n\r\n";

    if (hc->ssl) {
        (void) grn_http_ssl_send_small(hc, line, sizeof(line) - 1, timeout);
    } else {
        (void) send(hc->c.fd, line, sizeof(line) - 1, MSG_NOSIGNAL);
    }
}

#endif /* GRN_HTTP_SSL_H */
