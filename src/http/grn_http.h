/*
 * grn_http.h: the HTTP engine inside a worker thread.
 *
 * One grn_http_worker_t per event-loop thread owns that thread's connections. A connection
 * reads into one buffer, which llhttp parses in place: the request's method, target and
 * headers are spans of that buffer, so the head is never copied. The parser is paused at the
 * end of the head (to note where the body starts) and at the end of each message (so that a
 * pipelined request waits in the buffer until the response before it is written).
 *
 * Module layout: grn_http_connection.c (accept, read, write, keep-alive, close),
 * grn_http_parse.c (llhttp callbacks and the policy checks on top of them),
 * grn_http_body.c (the request body: memory, temp file, or streamed to the app),
 * grn_http_route.c (server and location selection), grn_http_response.c (response head,
 * error pages, `return`), grn_http_static.c (static files), grn_http_cond.c (dates, entity
 * tags and ranges), grn_http_conf.c (directives).
 */

#ifndef GRN_HTTP_H
#define GRN_HTTP_H

#include <sys/uio.h>
#include <llhttp.h>

#include "grn_event.h"
#include "grn_http_request.h"

/* A response body buffer up to this size is kept by the thread for its next response. */
#define GRN_HTTP_SPARE_BODY_MAX  (64 * 1024)

typedef struct grn_http_worker_s   grn_http_worker_t;
typedef struct grn_http_conn_s     grn_http_conn_t;
typedef struct grn_http_log_buf_s  grn_http_log_buf_t;

/* Where a connection is in its life. */
typedef enum {
    GRN_HTTP_IDLE = 0,      /* keep-alive, waiting for the next request */
    GRN_HTTP_READING,       /* a request head or body is arriving */
    GRN_HTTP_WRITING,       /* the response is going out */
    GRN_HTTP_LINGERING,     /* answered and half-closed; draining what the client still sends */
    GRN_HTTP_UPSTREAM       /* router: forwarded, waiting for the app's answer */
} grn_http_state_e;

/* The request body as it is received; see grn_http_body.c. */
typedef struct {
    char                  *mem;          /* the body, a temp file's write buffer, or (streamed)
                                            what was received and not yet read */
    size_t                 mem_len;
    size_t                 mem_size;
    off_t                  mem_start;    /* body offset of mem[0] */
    off_t                  received;     /* body bytes received so far */
    int                    fd;           /* the temp file, -1 when none */
    grn_uint_t             error;        /* a failed streamed read: the status to answer */
    unsigned               in_file:1;
    unsigned               streamed:1;   /* the app reads it from the socket */
    unsigned               forward:1;    /* router, request_buffering off: mem is a window the
                                            app's connection empties as the body arrives */
    unsigned               complete:1;
    unsigned               expect_continue:1;   /* "100 Continue" goes out at the first read */
} grn_http_body_t;

typedef struct {
    grn_event_t            ev;           /* first: epoll dispatch */
    grn_listening_t       *listening;
    grn_http_worker_t     *worker;
    unsigned               active:1;     /* registered in epoll */
} grn_http_listener_t;

struct grn_http_conn_s {
    grn_event_t            ev;           /* first: epoll dispatch */
    grn_http_connection_t  c;
    grn_http_worker_t     *worker;
    grn_timer_t            timer;
    grn_http_state_e       state;

    llhttp_t               parser;
    char                  *buf;          /* read buffer, NULL while idle and empty */
    size_t                 buf_size;
    size_t                 buf_len;      /* bytes in buf */
    size_t                 parsed;       /* bytes of buf given to the parser */
    size_t                 head_end;     /* end of the head's last span in buf */

    grn_pool_t            *pool;         /* the current request's pool; NULL while idle */
    grn_http_request_t    *r;

    /* Request head being parsed. */
    grn_str_t              method;       /* a method llhttp does not know (see parse.c) */
    grn_str_t              field;        /* current header name span */
    grn_str_t              value;        /* current header value span */
    grn_uint_t             nheaders;
    grn_uint_t             status;       /* an error to answer: 400, 413, 414, 431, ... */
    grn_uint_t             host_count;
    size_t                 host_name_len;   /* Host without its port */
    grn_http_body_t        body;

    /* Response being written: head, chunk size line, body, chunk end / last chunk. */
    struct iovec           iov[4];
    struct iovec          *iovp;         /* the first entry not yet fully written */
    int                    iovcnt;
    char                   chunk_line[24];
    char                  *head;         /* serialized response head (in the request pool) */
    off_t                  body_sent;    /* body bytes of the response, for the access log */
    off_t                  bytes_sent;   /* head, framing and body written: $bytes_sent */
    off_t                  request_length;   /* bytes parsed for this request: $request_length */

    unsigned               read_ready:1;
    unsigned               write_ready:1;
    unsigned               head_done:1;  /* the parser passed the end of the head */
    unsigned               head_handled:1;  /* the connection did its once-per-head work */
    unsigned               msg_done:1;   /* the parser reached the end of the message */
    unsigned               close:1;      /* close after this response */
    unsigned               eof:1;        /* the client closed its side */
    unsigned               rdhup:1;      /* the client shut its sending side */
    unsigned               logged:1;     /* the request's access log line is written */
    unsigned               proxy_protocol:1;   /* the PROXY header is still to be read */
    unsigned               realip:1;     /* remote_addr came from real_ip_header */
    unsigned               counted:1;    /* the request is counted in the scoreboard */

    void                  *fwd;          /* internal socket: grn_http_forwarded_t, per request */
    void                  *ssl;          /* SSL *: an ssl listener's, from the first byte */
    const char            *error_detail; /* a sentence for the error page, or NULL */
    unsigned               handshaking:1;   /* TLS: before the first request */
    unsigned               plain_http:1;    /* plain HTTP sent to an ssl listener */
    unsigned               ssl_read_wants_write:1;
    unsigned               ssl_write_wants_read:1;
    unsigned               ktls:1;          /* files go out by sendfile through kernel TLS */
    unsigned               ssl_client_order:1;  /* TLS 1.3 offered: the client's cipher order */

    grn_http_conn_t       *next;         /* free list */
    grn_uint_t             all_index;    /* position in the worker's list of open ones */
};

struct grn_http_worker_s {
    grn_event_loop_t      *loop;
    grn_cycle_t           *cycle;
    grn_group_t           *group;
    grn_log_t             *log;
    grn_http_listener_t   *listeners;
    grn_uint_t             nlisteners;
    grn_uint_t             connections;  /* open connections */
    grn_uint_t             max_connections;
    grn_http_conn_t      **all;          /* every open connection, for draining */
    grn_uint_t             nall;
    grn_timer_t            accept_timer; /* resumes accepting after EMFILE */
    grn_msec_t             limit_logged; /* when "worker_connections reached" was logged */
    grn_http_conn_t       *free_conns;
    char                  *free_bufs[32];
    size_t                 free_buf_size;
    grn_uint_t             nfree_bufs;
    grn_pool_t            *free_pools[32];  /* request pools of connections now idle */
    grn_uint_t             nfree_pools;
    char                  *spare_body;   /* the last response's body buffer, kept for the next */
    size_t                 spare_body_size;
    void                 (*on_request)(grn_http_worker_t *w);   /* after each app response */
    void                 (*on_accept)(grn_http_worker_t *w);    /* after each accept */
    /* May hand an accepted fd to another thread (GRN_OK) or decline (GRN_DECLINED). */
    grn_int_t            (*dispatch)(grn_http_worker_t *w, int fd, grn_listening_t *ls);
    void                  *data;
    grn_http_log_buf_t    *log_bufs;     /* this thread's buffered access logs (grn_http_log.c) */
    grn_uint_t             nlog_bufs;
    void                  *proxy;        /* router: connections to the apps (grn_http_proxy.c) */
    void                  *static_bases; /* root and alias directories kept open (static.c) */
    unsigned               draining:1;   /* stop accepting, close when idle */
    unsigned               paused:1;     /* listeners removed: at max_connections */
};

/* grn_http_connection.c: the worker-facing API. */
grn_int_t grn_http_worker_init(grn_http_worker_t *w, grn_event_loop_t *loop, grn_cycle_t *cycle,
    grn_group_t *group);
/* Accepts one connection from each listener if one is queued (EAGAIN is quiet). */
void grn_http_worker_accept(grn_http_worker_t *w);
/* Takes over a connection another thread of the process accepted (see `dispatch`). */
void grn_http_worker_adopt(grn_http_worker_t *w, int fd, grn_listening_t *ls);
/* Graceful stop: no new connections, idle keep-alive ones closed, busy ones closed when done. */
void grn_http_worker_drain(grn_http_worker_t *w);
void grn_http_worker_done(grn_http_worker_t *w);
/* For the router's forwarding: r->response is filled, send it; go on after waiting; give up. */
void grn_http_conn_respond(grn_http_conn_t *hc);
void grn_http_conn_resume(grn_http_conn_t *hc);
void grn_http_conn_abort(grn_http_conn_t *hc);
/*
 * Router, request_buffering off: one step of the client's body while it is forwarded (parse
 * what is buffered, or read once). GRN_OK: progress; GRN_AGAIN: nothing now; GRN_DONE: the
 * connection is gone, or answers an invalid body; either way its app connection is closed.
 */
grn_int_t grn_http_conn_read_body(grn_http_conn_t *hc);

/* grn_http_parse.c */
extern const llhttp_settings_t  grn_http_parser_settings;
/* Parses the buffered bytes; GRN_ERROR with hc->status set (and logged) on bad input. */
grn_int_t grn_http_execute(grn_http_conn_t *hc);
/* Percent-decodes the path of the target into pool memory. */
grn_int_t grn_http_parse_target(grn_http_request_t *r);

/* grn_http_body.c: on_body and on_message_complete return 0, or -1 with hc->status set. */
void grn_http_body_start(grn_http_conn_t *hc);
int grn_http_body_append(grn_http_conn_t *hc, const char *data, size_t len);
int grn_http_body_complete(grn_http_conn_t *hc);
/* Points r->body at the body when it is all in memory (else leaves it empty). */
void grn_http_body_set_request(grn_http_conn_t *hc);
void grn_http_body_free(grn_http_conn_t *hc);

/* grn_http_route.c */
/* Selection; a regex that matches leaves its captures in r (r->srv_captures, loc_captures). */
grn_http_srv_conf_t *grn_http_find_server(grn_http_request_t *r, grn_http_addr_t *addr,
    grn_str_t *host);
grn_http_loc_conf_t *grn_http_find_location(grn_http_request_t *r, grn_http_srv_conf_t *srv,
    grn_str_t *path);
/* The value of $N (name NULL) or of a named capture; len 0 when the request has none. */
void grn_http_capture(grn_http_request_t *r, grn_uint_t n, const grn_str_t *name,
    grn_str_t *value);
/* Runs the location's action; the response is in r->response afterwards. */
void grn_http_handle_request(grn_http_conn_t *hc);

/* grn_http_access.c: allow/deny; a denied request is logged here */
grn_flag_t grn_http_access_denied(grn_http_request_t *r, grn_http_loc_conf_t *loc);

/* grn_http_status.c: the status page (`greenc -s status`: grn_process.h) */
grn_int_t grn_http_status_handler(grn_http_request_t *r, grn_http_loc_conf_t *loc);

/* grn_http_static.c: root, alias, index, try_files, types, disable_symlinks */
/*
 * Once a server's settings are merged: checks that every root and alias exists (file:line when
 * not), resolves try_files' "@name" fallbacks, and gives try_files locations their action.
 */
grn_int_t grn_http_static_finish(grn_conf_t *cf, grn_http_srv_conf_t *srv);
/*
 * Serves r->path from loc's root or alias, trying loc's try_files first. GRN_OK: the response
 * is in r->response (a file to send, an error page, a redirect); GRN_DECLINED: an internal
 * redirect set r->loc (and perhaps r->path and r->query), whose action runs next.
 */
grn_int_t grn_http_static_handler(grn_http_request_t *r, grn_http_loc_conf_t *loc);
/* At worker exit: closes the directories the thread kept open. */
void grn_http_static_done(grn_http_worker_t *w);

/* grn_http_cond.c: HTTP dates, entity-tag lists, byte ranges */
/* An HTTP-date in any of its three forms (IMF-fixdate, RFC 850, asctime); -1 when invalid. */
time_t grn_http_parse_time(const grn_str_t *value);
/* IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") into buf (30 bytes); returns its length. */
size_t grn_http_format_time(char *buf, time_t t);
/*
 * Whether an If-Match / If-None-Match list ("*" or entity tags) holds etag (with its quotes).
 * weak: W/"x" matches "x" (If-None-Match); otherwise a weak tag never matches (If-Match).
 */
grn_flag_t grn_http_etag_match(const grn_str_t *list, const char *etag, size_t etag_len,
    grn_flag_t weak);
/*
 * A Range header for `size` bytes. GRN_AGAIN: one satisfiable range [*start, *end);
 * GRN_DECLINED: unsatisfiable (416); GRN_OK: nothing to honour: not "bytes=", invalid (ignored,
 * RFC 9110 14.2), or several ranges (answered with the whole representation).
 */
grn_int_t grn_http_parse_range(const grn_str_t *value, off_t size, off_t *start, off_t *end);

/* grn_http_log.c */
extern const char  grn_http_log_combined[];
/* Compiles fmt->format into fmt->parts; GRN_ERROR (logged with file:line) on a bad variable. */
grn_int_t grn_http_log_compile(grn_conf_t *cf, grn_http_log_format_t *fmt);
/*
 * The text of a directive (`return`, `root`) with $variables and regex captures: *out is NULL
 * when it has none, else compiled once here; grn_http_vars_render() gives the request's value,
 * in its pool.
 */
grn_int_t grn_http_vars_compile(grn_conf_t *cf, grn_str_t *text, const char *directive,
    grn_http_log_format_t **out);
grn_int_t grn_http_vars_render(grn_http_request_t *r, grn_http_log_format_t *fmt,
    grn_str_t *out);
/* Writes the request's access log lines (or buffers them: `buffer=`). */
void grn_http_log_request(grn_http_request_t *r, grn_msec_t now, off_t body_sent);
/* Writes out what the thread's access log buffers hold (USR1, drain); _done also frees them. */
void grn_http_log_flush(grn_http_worker_t *w);
void grn_http_log_worker_done(grn_http_worker_t *w);
/*
 * An error log line about a connection, with nginx's context after the message: client,
 * server, and once a request has begun its request line, host and request id.
 */
void grn_http_conn_log(grn_uint_t level, grn_http_conn_t *hc, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* grn_http_realip.c */
/* Compiles the server's own set_real_ip_from list (before the merge); GRN_ERROR on failure. */
grn_int_t grn_http_realip_compile(grn_pool_t *pool, grn_http_srv_conf_t *srv);
/* The connection's peer (the socket's, or the PROXY header's, address) is in set_real_ip_from. */
grn_flag_t grn_http_realip_peer_trusted(grn_http_srv_conf_t *srv, grn_http_connection_t *c);
/*
 * Once the request's server is known: a trusted peer's client address (real_ip_header) and
 * scheme (X-Forwarded-Proto) replace the connection's for this request.
 */
void grn_http_realip(grn_http_conn_t *hc, grn_http_request_t *r);
/* Before each request: the connection's address is the peer's again. */
void grn_http_realip_reset(grn_http_conn_t *hc);

/* grn_http_proxy_protocol.c */
/*
 * Reads the PROXY protocol header (v1 or v2) at hc->buf + hc->parsed. GRN_OK: read (the
 * connection's address is the one it names), GRN_AGAIN: incomplete, GRN_ERROR: not a valid
 * header (logged at info; the caller closes the connection).
 */
grn_int_t grn_http_proxy_protocol_read(grn_http_conn_t *hc);

/* grn_http_request_id.c */
/* Sets up the connection counter shared by the workers. */
grn_int_t grn_http_request_id_conf(grn_conf_t *cf, grn_http_main_conf_t *hmcf);
/* A serial number for a new connection, unique across the workers: $connection. */
grn_uint_t grn_http_next_connection_number(void);

/* grn_http_response.c */
/* Serializes the head of r->response into hc->head and points hc->iov at head and body. */
grn_int_t grn_http_response_prepare(grn_http_conn_t *hc);
/* Points hc->iov (from entry n on) at the body now buffered, framed as the response needs. */
void grn_http_response_body_iov(grn_http_conn_t *hc, int n);
/* Replaces whatever response was started with a small HTML error page. */
grn_int_t grn_http_error_page(grn_http_request_t *r, grn_uint_t status);
void grn_http_response_free(grn_http_request_t *r);
/* The status line and Date header are cached per second. */
void grn_http_time_update(void);

#endif /* GRN_HTTP_H */
