/*
 * grn_http_request.h: connections, requests and responses as the rest of greenc sees them.
 *
 * The HTTP layer fills a request from llhttp's callbacks (spans into the connection's read
 * buffer, no copies), routes it to a location, and hands it to an action. An action that
 * produces a response fills r->response through the functions below; the HTTP layer then
 * serializes the head (adding Date, Server, Content-Length and Connection) and writes it.
 */

#ifndef GRN_HTTP_REQUEST_H
#define GRN_HTTP_REQUEST_H

#include "grn_http_conf.h"

typedef struct grn_http_connection_s  grn_http_connection_t;
typedef struct grn_http_request_s     grn_http_request_t;

typedef struct {
    grn_str_t              name;
    grn_str_t              value;
} grn_http_header_t;

typedef struct {
    grn_uint_t             status;          /* 200 */
    grn_str_t              status_line;     /* "200 OK", or empty: derived from status */
    grn_array_t            headers;         /* of grn_http_header_t, in the request's pool */
    off_t                  content_length;  /* from a Content-Length header; -1 when none */
    char                  *body;            /* the buffered body (malloc'd, freed with r) */
    size_t                 body_len;
    size_t                 body_size;
    void                  *stream;          /* the app's iterable while `more` (grn_py.h) */
    off_t                  sent;            /* body bytes handed to the socket so far */
    int                    file_fd;         /* with `file`: the rest is sent with sendfile() */
    off_t                  file_pos;
    off_t                  file_end;
    unsigned               file:1;
    unsigned               more:1;          /* the body continues after what is buffered */
    unsigned               chunked:1;       /* sent with Transfer-Encoding: chunked */
} grn_http_response_t;

/* The TLS facts of a request (grn_http_ssl.c), as the app sees them in its environ. */
typedef struct {
    grn_str_t              protocol;        /* SSL_PROTOCOL: "TLSv1.3" */
    grn_str_t              cipher;          /* SSL_CIPHER: "TLS_AES_256_GCM_SHA384" */
    grn_str_t              server_name;     /* SSL_SERVER_NAME: the SNI name; len 0: none */
    grn_str_t              verify;          /* SSL_CLIENT_VERIFY: NONE, SUCCESS, FAILED:why */
    grn_str_t              s_dn;            /* SSL_CLIENT_S_DN (RFC 2253); len 0: no cert */
    grn_str_t              i_dn;            /* SSL_CLIENT_I_DN */
    grn_str_t              serial;          /* SSL_CLIENT_SERIAL, hex */
    grn_str_t              cert;            /* SSL_CLIENT_CERT, PEM */
} grn_http_tls_t;

struct grn_http_connection_s {
    int                    fd;
    grn_listening_t       *listening;
    grn_str_t              remote_addr;     /* the client: "127.0.0.1", "::1", "unix:" for
                                               unix sockets, or a trusted proxy's idea of it
                                               (real_ip_header) for the current request */
    grn_uint_t             remote_port;
    grn_str_t              peer_addr;       /* the socket's peer, or the PROXY header's */
    grn_uint_t             peer_port;
    grn_str_t              local_addr;
    grn_uint_t             local_port;
    grn_uint_t             requests;        /* served on this connection so far */
    grn_uint_t             number;          /* serial number across the workers: $connection */
    void                  *data;            /* the HTTP layer's state */
};

typedef struct {
    pcre2_code            *re;
    pcre2_match_data      *md;
    const char            *subject;
    int                    rc;              /* pcre2_match(): 1 + the highest pair set */
} grn_http_captures_t;

struct grn_http_request_s {
    grn_http_connection_t *connection;
    grn_pool_t            *pool;            /* freed when the request is done */

    grn_str_t              method;          /* as received: "GET" */
    grn_str_t              uri;             /* the raw request target */
    grn_str_t              path;            /* the target's path, percent-decoded */
    grn_str_t              query;           /* after '?', without it; len 0 when none */
    grn_str_t              protocol;        /* "HTTP/1.1" */
    grn_uint_t             http_version;    /* 1000 * major + minor: 1001 for HTTP/1.1 */

    grn_array_t            headers;         /* of grn_http_header_t, names as sent */
    grn_str_t              host;            /* the Host header; len 0 when none */
    grn_str_t              content_type;    /* len 0 when none */
    off_t                  content_length;  /* -1 when not sent */
    grn_str_t              body;            /* the whole body when it is in memory, else
                                               empty: read it with grn_http_body_read() */

    grn_str_t              server_name;     /* Host without port, or the server's first name */
    grn_uint_t             server_port;     /* the listener's port */

    grn_http_srv_conf_t   *srv;
    grn_http_loc_conf_t   *loc;

    /*
     * Regex captures, for $1..$9 and named captures in return, root and log_format: of the
     * server_name regex and of the location regex that matched (NULL re: none). The match
     * data and the copied subject live in the request's pool.
     */
    grn_http_captures_t    srv_captures;
    grn_http_captures_t    loc_captures;

    grn_http_response_t    response;
    void                  *upstream;        /* router: the app connection answering it */
    grn_msec_t             start_msec;      /* the loop's clock when the request began */
    uint64_t               start_usec;      /* grn_monotonic_usec() then, for the status page */
    grn_str_t              request_id;      /* len 0 until grn_http_request_id() is called */
    grn_http_tls_t        *tls;             /* grn_http_ssl_info(): NULL until asked */

    unsigned               keepalive:1;     /* the connection stays open after this request */
    unsigned               head:1;          /* HEAD: no body goes out */
    unsigned               chunked:1;       /* the request body came chunked */
    unsigned               https:1;
};

/*
 * Response building, for actions (return, the WSGI layer, errors). Each copies what it is
 * given into the request's pool or body buffer; GRN_ERROR on allocation failure.
 */
grn_int_t grn_http_response_set_status(grn_http_request_t *r, grn_uint_t status,
    const char *line, size_t len);
grn_int_t grn_http_response_add_header(grn_http_request_t *r, const char *name, size_t name_len,
    const char *value, size_t value_len);
grn_int_t grn_http_response_append(grn_http_request_t *r, const char *data, size_t len);

/*
 * The request body for the app (grn_http_body.c). read() copies up to size bytes from body
 * offset pos, which never goes back before an earlier read's pos: > 0 bytes, 0 at the end,
 * -1 when the client failed (grn_http_body_error() then says the status to answer). It may
 * block, on a temp file or on the socket when the body is streamed: call it without the GIL.
 * length() is -1 when not known yet (a chunked body being streamed).
 */
ssize_t grn_http_body_read(grn_http_request_t *r, off_t pos, char *buf, size_t size);
off_t grn_http_body_length(grn_http_request_t *r);
grn_uint_t grn_http_body_error(grn_http_request_t *r);

/*
 * $request_id: 32 hex digits, made at the first call (or taken from a trusted peer's
 * request_id_header); the same for the access log, the error log, the app and the response.
 */
grn_str_t *grn_http_request_id(grn_http_request_t *r);

/*
 * nginx's error log context for a connection and its request (r may be NULL):
 * ", client: ADDR, server: NAME, request: \"GET / HTTP/1.1\", host: \"HOST\", request_id: ID".
 * Unusual bytes are escaped as \xHH. Returns the length written (the text is NUL-terminated).
 */
size_t grn_http_log_context(grn_http_connection_t *c, grn_http_request_t *r, char *buf,
    size_t size);

/* "404 Not Found" for a status code; NULL for codes without a standard reason. */
const char *grn_http_status_line(grn_uint_t status);

#endif /* GRN_HTTP_REQUEST_H */
