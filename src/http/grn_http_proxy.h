/*
 * grn_http_proxy.h: the router group's forwarding, both ends.
 *
 * A listener that several apps share is accepted by the C-only router group. A router worker
 * parses and routes each request with the same HTTP engine as app workers, then forwards it to
 * the chosen app's internal unix socket (grn_http_proxy.c) as one forwarding line followed by
 * an ordinary HTTP/1.1 request (grn_http_forward.c). App workers accept that socket besides
 * their own listeners and trust the forwarding line only there: on any other listener the same
 * bytes are an invalid request. docs/architecture.md gives the wire format and its reasons.
 */

#ifndef GRN_HTTP_PROXY_H
#define GRN_HTTP_PROXY_H

#include "grn_http.h"

/* The longest forwarding line an app worker reads; the router never writes a longer one. */
#define GRN_HTTP_FWD_MAX_LINE   640

/* What the forwarding line said about the request that follows it (app side). */
typedef struct {
    uint64_t               cycle_id;      /* the router's generation */
    grn_uint_t             srv;           /* index in the generation's servers */
    grn_uint_t             loc;           /* index in the generation's locations */
    grn_uint_t             server_port;
    grn_str_t              server_name;
    grn_http_tls_t        *tls;          /* the client's TLS facts (a GRNT line), or NULL */
    unsigned               https:1;
} grn_http_forwarded_t;

/* grn_http_forward.c */

/*
 * Router side: writes r's forwarding line into buf (GRN_HTTP_FWD_MAX_LINE bytes, and
 * GRN_HTTP_SSL_FWD_MAX_LINE more for the TLS line of a request that came over TLS); the length.
 */
size_t grn_http_forward_line(grn_http_request_t *r, grn_cycle_t *cycle, char *buf);

/* App side, at accept on an internal socket: whether the peer is the router's user. */
grn_int_t grn_http_forward_peer_ok(int fd, grn_http_worker_t *w);

/*
 * App side, before the head: reads the forwarding line at hc->buf + hc->parsed into hc->fwd and
 * the connection's remote address. GRN_OK (consumed), GRN_AGAIN (incomplete), GRN_ERROR
 * (malformed: the caller answers 400).
 */
grn_int_t grn_http_forward_preamble(grn_http_conn_t *hc);

/*
 * App side, at the end of the head: the server, location, server name and port and scheme the
 * router chose. Returns 0, or the status to refuse the request with (*reason says why).
 */
grn_uint_t grn_http_forward_route(grn_http_conn_t *hc, const char **reason);

/* grn_http_proxy.c (router side) */

/*
 * Forwards hc's complete request to its location's app. GRN_AGAIN: forwarded, the connection
 * waits in GRN_HTTP_UPSTREAM for the answer; GRN_OK: r->response holds an error page (502).
 */
grn_int_t grn_http_proxy_start(grn_http_conn_t *hc);

/*
 * request_buffering off: more of the client's body may be read (its socket is readable): move
 * it on to the app. May run the connection (an early answer, a failure); touch hc no more.
 */
void grn_http_proxy_forward(grn_http_conn_t *hc);

/* The client took the last batch: the next one from the app. GRN_OK, GRN_AGAIN, GRN_ERROR. */
grn_int_t grn_http_proxy_next(grn_http_conn_t *hc);

/* The client connection ends before the app's answer did: the app connection is closed. */
void grn_http_proxy_abort(grn_http_request_t *r);

/* At worker exit: closes pooled app connections and frees them. */
void grn_http_proxy_done(grn_http_worker_t *w);

#endif /* GRN_HTTP_PROXY_H */
