/*
 * grn_http_parse.c: llhttp's callbacks, and the policy greenc adds on top of llhttp.
 *
 * Callbacks record spans of the connection's buffer. A span may arrive in pieces when the head
 * arrives in several reads; the buffer is never moved while a head is being parsed, so the
 * pieces are contiguous and a span is simply extended. The parser pauses at the end of each
 * message so that bytes of a pipelined request stay unparsed until the response before it
 * has been written.
 *
 * llhttp runs in strict mode and refuses most malformed input by itself. What it lets through
 * is refused here, each with one `info` line that names the client and the reason (clients'
 * mistakes are not the server's): empty field names, obsolete line folding, a second Host or
 * Content-Type, a Host or absolute-form authority that is not uri-host [":" port], a fragment
 * in the target, protocols other than HTTP (llhttp also speaks RTSP and ICE), HTTP versions
 * other than 1.x, Transfer-Encoding on HTTP/1.0, "*" with a method other than OPTIONS, CONNECT,
 * and trailer fields that would change framing, routing or the content's meaning.
 *
 * The head is checked and routed as soon as it is complete (in on_headers_complete), so the
 * body that follows it in the same read is already held to the location's
 * client_max_body_size: a declared length over it is refused before the body is read, a
 * chunked body as soon as a chunk header says it would pass the limit.
 *
 * Trailer fields of a chunked body are checked and dropped: they never reach the request's
 * headers, so a trailer cannot pose as a header the app trusts.
 */

#include "grn_core.h"
#include "grn_http.h"
#include "grn_http_ssl.h"
#include "grn_http_proxy.h"

#include <arpa/inet.h>
#include <ctype.h>

#define GRN_HTTP_TRAILER_NAME  20      /* longest trailer name compared with the forbidden */

/*
 * Trailer fields refused (RFC 9110 6.5.1): those of framing, routing and connection control,
 * which would say something else about the message than its head did. Others are dropped.
 */
static const char  *grn_http_forbidden_trailers[] = {
    "content-length", "transfer-encoding", "host", "trailer", "connection", "keep-alive",
    "te", "upgrade", "expect", NULL
};

/*
 * Refuses the request being parsed: one `info` line, and the status the connection answers
 * before it closes. Returns -1, what a callback returns to stop llhttp.
 */
static int
grn_http_refuse(grn_http_conn_t *hc, grn_uint_t status, const char *reason)
{
    grn_http_conn_log(GRN_LOG_INFO, hc, 0, "client %s; answering %u", reason, (unsigned) status);
    hc->status = status;
    return -1;
}

static grn_http_request_t *
grn_http_create_request(grn_http_conn_t *hc)
{
    grn_http_request_t  *r;

    r = grn_pcalloc(hc->pool, sizeof(grn_http_request_t));
    if (r == NULL) {
        return NULL;
    }
    if (grn_array_init(&r->headers, hc->pool, 16, sizeof(grn_http_header_t)) != GRN_OK
        || grn_array_init(&r->response.headers, hc->pool, 8, sizeof(grn_http_header_t))
           != GRN_OK)
    {
        return NULL;
    }
    r->connection = &hc->c;
    r->pool = hc->pool;
    r->content_length = -1;
    r->response.content_length = -1;
    r->https = hc->c.listening->ssl;
    if (!hc->c.listening->internal) {
        grn_http_realip_reset(hc);
    }
    return r;
}

/*
 * Extends a span and remembers where the head's spans end: the body may later be compacted
 * down to that point, since nothing after it is referenced.
 */
#define grn_http_span(hc, span, at, length)                                                \
    do {                                                                                   \
        grn_str_extend(span, at, length);                                                  \
        (hc)->head_end = (size_t) ((at) + (length) - (hc)->buf);                           \
    } while (0)

static int
grn_http_on_message_begin(llhttp_t *p)
{
    grn_http_conn_t  *hc = p->data;

    hc->r = grn_http_create_request(hc);
    if (hc->r == NULL) {
        hc->status = 500;
        return -1;
    }
    hc->r->start_msec = hc->worker->loop->now;
    hc->r->start_usec = grn_monotonic_usec();
    hc->field.data = NULL;
    hc->value.data = NULL;
    hc->nheaders = 0;
    hc->host_count = 0;

    /*
     * llhttp's strict version check refuses HTTP/1.2 with 400 and answers nothing useful for
     * HTTP/2.0; with it off any DIGIT.DIGIT passes and on_headers_complete decides (RFC 9110
     * 2.5: a higher 1.x minor is served as HTTP/1.1; other majors get 505). The flag exists
     * in every llhttp greenc builds with, the setter only from 9.x on.
     */
    p->lenient_flags |= LENIENT_VERSION;
    return 0;
}

static int
grn_http_on_method(llhttp_t *p, const char *at, size_t len)
{
    grn_http_conn_t  *hc = p->data;

    if (hc->method.data) {
        /*
         * llhttp was shown a stand-in (grn_http_unknown_method()): the real name is here. The
         * stand-in's span may end in either of the two executes, so this may run twice.
         */
        hc->r->method = hc->method;
        hc->head_end = (size_t) (hc->method.data + hc->method.len - hc->buf);
        return 0;
    }
    grn_http_span(hc, &hc->r->method, at, len);
    return 0;
}

static int
grn_http_on_url(llhttp_t *p, const char *at, size_t len)
{
    grn_http_conn_t  *hc = p->data;

    grn_http_span(hc, &hc->r->uri, at, len);
    return 0;
}

static int
grn_http_on_url_complete(llhttp_t *p)
{
    grn_http_conn_t  *hc = p->data;

    /* RFC 9112 3.2: a request target has no fragment; refuse before the head is complete. */
    if (hc->r->uri.len && memchr(hc->r->uri.data, '#', hc->r->uri.len) != NULL) {
        return grn_http_refuse(hc, 400, "sent a fragment (#) in the request target");
    }
    return 0;
}

static int
grn_http_on_version(llhttp_t *p, const char *at, size_t len)
{
    grn_http_conn_t  *hc = p->data;

    /*
     * llhttp also parses RTSP/x.x and ICE/x.x request lines; greenc speaks HTTP only. The
     * version's first piece follows the protocol name in the (unmoved) head buffer.
     */
    if (hc->r->protocol.data == NULL) {
        if (at - hc->buf < 5 || memcmp(at - 5, "HTTP/", 5) != 0) {
            return grn_http_refuse(hc, 400, "sent a request line for a protocol other than "
                                   "HTTP");
        }
        /* Not a span: the head buffer may still grow (and move). The version comes later. */
        grn_str_set(&hc->r->protocol, "HTTP/1.1");
    }
    hc->head_end = (size_t) (at + len - hc->buf);
    return 0;
}

/* The size of one header buffer: no line of the head may be longer (nginx's semantics). */
static size_t
grn_http_line_limit(grn_http_conn_t *hc)
{
    grn_http_addr_t  *addr = hc->c.listening->servers;

    return addr->default_server->large_client_header_buffer_size;
}

static int
grn_http_on_version_complete(llhttp_t *p)
{
    grn_http_conn_t  *hc = p->data;

    /* The buffer may have grown past one buffer's size before the line ended. */
    if (hc->head_end - (size_t) (hc->r->method.data - hc->buf) + 2 > grn_http_line_limit(hc)) {
        return grn_http_refuse(hc, 414, "sent a request line longer than a header buffer");
    }
    return 0;
}

static int
grn_http_on_header_field(llhttp_t *p, const char *at, size_t len)
{
    size_t            n;
    grn_http_conn_t  *hc = p->data;

    if (!hc->head_done) {
        grn_http_span(hc, &hc->field, at, len);
        return 0;
    }

    /*
     * A trailer field: the body before it may be compacted away between reads, so its name
     * is copied (lower case, enough of it to compare with the forbidden names) to the pool.
     */
    if (hc->field.data == NULL) {
        hc->field.data = grn_pnalloc(hc->pool, GRN_HTTP_TRAILER_NAME);
        if (hc->field.data == NULL) {
            hc->status = 500;
            return -1;
        }
        hc->field.len = 0;
    }
    for (n = 0; n < len; n++, hc->field.len++) {
        if (hc->field.len < GRN_HTTP_TRAILER_NAME) {
            hc->field.data[hc->field.len] = (char) tolower((unsigned char) at[n]);
        }
    }
    return 0;
}

static int
grn_http_on_header_value(llhttp_t *p, const char *at, size_t len)
{
    grn_http_conn_t  *hc = p->data;

    if (!hc->head_done) {
        grn_http_span(hc, &hc->value, at, len);
    }
    /* A trailer's value is checked by llhttp (no CTLs) and dropped. */
    return 0;
}

static int
grn_http_on_trailer_complete(grn_http_conn_t *hc)
{
    const char  **name;

    for (name = grn_http_forbidden_trailers; *name; name++) {
        if (hc->field.len == strlen(*name) && memcmp(hc->field.data, *name, hc->field.len) == 0)
        {
            return grn_http_refuse(hc, 400, "sent a framing or routing field (Content-Length, "
                                   "Host, ...) as a trailer");
        }
    }
    hc->field.data = NULL;
    hc->value.data = NULL;
    return 0;
}

/*
 * Host is uri-host [":" port] (RFC 9110 7.2, RFC 3986 3.2.2): an IP-literal in brackets that
 * inet_pton accepts, or a reg-name (unreserved, sub-delims, pct-encoded; bytes over 0x7f are
 * let through, as raw UTF-8 names are common), then digits for the port. *host_len gets the
 * length without the port.
 */
static grn_int_t
grn_http_check_host(const char *p, size_t len, size_t *host_len)
{
    char             text[INET6_ADDRSTRLEN];
    size_t           n;
    const char      *end = p + len, *h;
    struct in6_addr  addr;

    if (len && *p == '[') {
        h = memchr(p, ']', len);
        if (h == NULL) {
            return GRN_ERROR;
        }
        n = (size_t) (h - p - 1);
        if (n == 0 || n >= sizeof(text)) {
            return GRN_ERROR;
        }
        memcpy(text, p + 1, n);
        text[n] = '\0';
        if (inet_pton(AF_INET6, text, &addr) != 1) {
            return GRN_ERROR;
        }
        h++;

    } else {
        for (h = p; h < end && *h != ':'; h++) {
            unsigned char  ch = (unsigned char) *h;

            if (ch >= 0x80 || (ch >= '0' && ch <= '9') || ((ch | 0x20) >= 'a'
                                                          && (ch | 0x20) <= 'z'))
            {
                continue;
            }
            switch (ch) {
            case '-': case '.': case '_': case '~': case '%':
            case '!': case '$': case '&': case '\'': case '(': case ')':
            case '*': case '+': case ',': case ';': case '=':
                continue;
            }
            return GRN_ERROR;
        }
    }

    *host_len = (size_t) (h - p);

    if (h < end) {
        if (*h != ':') {
            return GRN_ERROR;
        }
        for (h++; h < end; h++) {
            if (*h < '0' || *h > '9') {
                return GRN_ERROR;
            }
        }
    }
    return GRN_OK;
}

static int
grn_http_on_header_value_complete(llhttp_t *p)
{
    size_t               host_len;
    grn_http_conn_t     *hc = p->data;
    grn_http_request_t  *r = hc->r;
    grn_http_header_t   *h;

    /* Before a server is chosen, the address's default server sets the limits of the head. */
    if (++hc->nheaders
        > (grn_uint_t) ((grn_http_addr_t *) hc->c.listening->servers)->default_server
                       ->limit_request_fields)
    {
        return grn_http_refuse(hc, 431, "sent too many header fields");
    }

    if (hc->head_done) {
        return grn_http_on_trailer_complete(hc);
    }

    if (hc->field.data == NULL || hc->field.len == 0) {
        return grn_http_refuse(hc, 400, "sent a header field with an empty name");
    }

    if (hc->head_end - (size_t) (hc->field.data - hc->buf) + 2 > grn_http_line_limit(hc)) {
        return grn_http_refuse(hc, 431, "sent a header line longer than a header buffer");
    }

    /*
     * llhttp strict mode accepts obs-fold (a line starting with SP or HTAB continues the
     * value) and reports the value with the line break in it: RFC 9112 5.2 lets a server
     * refuse it, and greenc does, as one more way to read a head two ways.
     */
    if (hc->value.data
        && (memchr(hc->value.data, '\n', hc->value.len) != NULL
            || memchr(hc->value.data, '\r', hc->value.len) != NULL))
    {
        return grn_http_refuse(hc, 400, "sent a header field folded over several lines "
                               "(obsolete line folding)");
    }

    h = grn_array_push(&r->headers);
    if (h == NULL) {
        hc->status = 500;
        return -1;
    }
    h->name = hc->field;
    h->value = hc->value;
    if (h->value.data == NULL) {
        /* An empty value: no span was reported. */
        h->value.data = hc->field.data + hc->field.len;
        h->value.len = 0;
    }
    /* RFC 9112 5: OWS around the value is not part of it; llhttp drops only the leading. */
    while (h->value.len
           && (h->value.data[h->value.len - 1] == ' ' || h->value.data[h->value.len - 1] == '\t'))
    {
        h->value.len--;
    }
    hc->field.data = NULL;
    hc->value.data = NULL;

    switch (h->name.len) {
    case 4:
        if (strncasecmp(h->name.data, "host", 4) == 0) {
            /* RFC 9112 3.2: never more than one Host, and a well-formed one. */
            if (++hc->host_count > 1) {
                return grn_http_refuse(hc, 400, "sent more than one Host header");
            }
            if (grn_http_check_host(h->value.data, h->value.len, &host_len) != GRN_OK) {
                return grn_http_refuse(hc, 400, "sent an invalid Host header");
            }
            r->host = h->value;
            hc->host_name_len = host_len;
        }
        break;
    case 17:
        /*
         * llhttp 8.1 lets an empty Transfer-Encoding through without noting it, so it would
         * pass next to a Content-Length (one head, two framings): refuse it.
         */
        if (h->value.len == 0 && strncasecmp(h->name.data, "transfer-encoding", 17) == 0) {
            return grn_http_refuse(hc, 400, "sent an empty Transfer-Encoding header");
        }
        break;
    case 12:
        if (strncasecmp(h->name.data, "content-type", 12) == 0) {
            /* CONTENT_TYPE holds one value: a second one would be read two ways. */
            if (r->content_type.data != NULL) {
                return grn_http_refuse(hc, 400, "sent more than one Content-Type header");
            }
            r->content_type = h->value;
        }
        break;
    }

    return 0;
}

/*
 * "OPTIONS *" asks about the server, not a resource: it goes to the location that serves "/",
 * whose app sees PATH_INFO "*".
 */
static grn_str_t  grn_http_root = grn_string("/");

#define grn_http_asterisk(r)  ((r)->path.len == 1 && (r)->path.data[0] == '*')

/* Refuses a declared or chunk-announced body over the location's limit. */
static int
grn_http_check_body_size(grn_http_conn_t *hc, off_t size)
{
    grn_http_loc_conf_t  *loc = hc->r->loc;

    if (loc && loc->client_max_body_size && size > loc->client_max_body_size) {
        return grn_http_refuse(hc, 413, "intended to send a body larger than "
                               "client_max_body_size");
    }
    return 0;
}

/*
 * The head is complete: version and framing rules, the target, server and location, and what
 * the app will see of them. Done here rather than after llhttp_execute() returns, because
 * llhttp goes on into the body in the same call and the body must already be held to the
 * location's limit.
 */
static int
grn_http_on_headers_complete(llhttp_t *p)
{
    grn_str_t             name;
    grn_http_conn_t      *hc = p->data;
    grn_http_request_t   *r = hc->r;
    grn_listening_t      *ls = hc->c.listening;
    grn_http_srv_conf_t  *srv;

    if (p->http_major != 1) {
        return grn_http_refuse(hc, p->http_major >= 2 ? 505 : 400,
                               p->http_major >= 2 ? "sent a request for an HTTP version other "
                               "than 1.x" : "sent an invalid HTTP version");
    }
    /* RFC 9110 2.5: HTTP/1.2 and later minors are served as the highest 1.x greenc speaks. */
    r->http_version = p->http_minor == 0 ? 1000 : 1001;

    r->keepalive = llhttp_should_keep_alive(p) ? 1 : 0;
    r->chunked = (p->flags & F_CHUNKED) ? 1 : 0;
    if (p->flags & F_CONTENT_LENGTH) {
        r->content_length = (off_t) p->content_length;
    }
    r->head = (p->method == HTTP_HEAD);
    hc->head_done = 1;

    /* RFC 9112 6.1: Transfer-Encoding on HTTP/1.0 is faulty framing. */
    if ((p->flags & F_TRANSFER_ENCODING) && r->http_version == 1000) {
        return grn_http_refuse(hc, 400, "sent Transfer-Encoding on an HTTP/1.0 request");
    }

    /* RFC 9112 3.2: exactly one Host on HTTP/1.1 (more than one was refused already). */
    if (hc->host_count == 0 && r->http_version == 1001) {
        return grn_http_refuse(hc, 400, "sent an HTTP/1.1 request without a Host header");
    }

    if (p->method == HTTP_CONNECT) {
        /* CONNECT asks for a tunnel, which an origin server does not offer (as nginx). */
        return grn_http_refuse(hc, 405, "sent CONNECT, which greenc does not serve");
    }
    if (p->upgrade) {
        /* No protocol switch is offered: the request is served, then the connection closed. */
        r->keepalive = 0;
    }

    if (grn_http_parse_target(r) != GRN_OK) {
        return grn_http_refuse(hc, 400, "sent an invalid request target");
    }
    if (grn_http_asterisk(r) && p->method != HTTP_OPTIONS) {
        /* RFC 9112 3.2.4: the asterisk form is for OPTIONS only. */
        return grn_http_refuse(hc, 400, "sent the target \"*\" with a method other than "
                               "OPTIONS");
    }

    /*
     * The name that selects the server: the authority of an absolute-form target (RFC 9112
     * 3.2.2 says it wins over Host), already in r->server_name, else Host without its port.
     */
    if (r->server_name.data == NULL && r->host.len) {
        r->server_name.data = r->host.data;
        r->server_name.len = hc->host_name_len;
    }

    /* What the app sees as the protocol the client spoke. */
    r->protocol.data = (char *) (r->http_version == 1000 ? "HTTP/1.0" : "HTTP/1.1");
    r->protocol.len = 8;

    if (ls->internal) {
        /* Forwarded by the router, which routed it already (grn_http_forward.c). */
        const char  *reason;
        grn_uint_t   status = grn_http_forward_route(hc, &reason);

        if (status) {
            return grn_http_refuse(hc, status, reason);
        }
        if (grn_http_check_body_size(hc, r->content_length) != 0) {
            return -1;
        }
        /* request_buffering off: the router streams the body, so the app reads it as it comes */
        grn_http_body_start(hc);
        return 0;
    }

    name = r->server_name;
    srv = grn_http_find_server(r, ls->servers, &name);
    r->srv = srv;
    r->loc = grn_http_asterisk(r) ? grn_http_find_location(r, srv, &grn_http_root)
                                  : grn_http_find_location(r, srv, &r->path);

    /* The client behind a trusted proxy, now that the server (and its trust) is known. */
    grn_http_realip(hc, r);

    if (ls->ssl) {
        /* Plain HTTP on a TLS port, a client certificate ssl_verify_client refuses. */
        const char  *reason;
        grn_uint_t   status = grn_http_ssl_check_request(hc, r, &reason);

        if (status) {
            return grn_http_refuse(hc, status, reason);
        }
    }

    /* What the app sees as SERVER_NAME and SERVER_PORT. */
    r->server_port = grn_listening_port(ls);
    if (r->server_name.len == 0) {
        if (srv->names.nelts) {
            r->server_name = ((grn_http_server_name_t *) srv->names.elts)[0].name;
        } else {
            r->server_name = hc->c.local_addr;
        }
    }

    if (grn_http_check_body_size(hc, r->content_length) != 0) {
        return -1;
    }
    grn_http_body_start(hc);
    return 0;
}

static int
grn_http_on_chunk_header(llhttp_t *p)
{
    grn_http_conn_t  *hc = p->data;

    /* A chunk that would pass the limit is refused before its data is read. */
    return grn_http_check_body_size(hc, hc->body.received + (off_t) p->content_length);
}

static int
grn_http_on_body(llhttp_t *p, const char *at, size_t len)
{
    grn_http_conn_t  *hc = p->data;

    if (grn_http_check_body_size(hc, hc->body.received + (off_t) len) != 0) {
        return -1;
    }
    return grn_http_body_append(hc, at, len);
}

static int
grn_http_on_message_complete(llhttp_t *p)
{
    grn_http_conn_t  *hc = p->data;

    hc->msg_done = 1;
    if (grn_http_body_complete(hc) != 0) {
        return -1;
    }
    return HPE_PAUSED;
}

/*
 * Runs llhttp over the buffered bytes not parsed yet. The parser pauses at the end of a
 * message, so `parsed` stops there and a pipelined request waits. GRN_ERROR with hc->status
 * set when the bytes are not HTTP (logged here unless a policy check did it already).
 */
/* A byte of a method name as nginx takes it: upper-case letters, digits, '-' and '_'. */
static grn_flag_t
grn_http_method_char(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_';
}

#define GRN_HTTP_MAX_METHOD  32

/*
 * llhttp knows a fixed list of methods and refuses the others, but HTTP's methods are open
 * (RFC 9110 9.1): a method nginx and Gunicorn take (an upper-case token of at most 32 bytes)
 * must reach the app, which answers 405 if it wants. So when llhttp refuses a method, the
 * parser is started again and shown "POST" in its place (a method that changes nothing in the
 * framing), then the rest of the request line as it is in the buffer; on_method gives the
 * request the real name. Returns llhttp's verdict on the request, or HPE_INVALID_METHOD when
 * the name is not such a token; *wait is set when the name is not complete yet.
 */
static llhttp_errno_t
grn_http_unknown_method(grn_http_conn_t *hc, grn_flag_t *wait)
{
    char            *start, *sp, *end = hc->buf + hc->buf_len;
    llhttp_errno_t   err;

    start = (char *) llhttp_get_error_pos(&hc->parser);
    if (start < hc->buf || start > end) {
        return HPE_INVALID_METHOD;
    }
    while (start > hc->buf && grn_http_method_char(start[-1])) {
        start--;
    }
    /* The name starts the message: the buffer's start or the line before ended. */
    if (start > hc->buf && start[-1] != '\n') {
        return HPE_INVALID_METHOD;
    }
    for (sp = start; sp < end && grn_http_method_char(*sp); sp++) {
        /* void */
    }
    if (sp == start || sp - start > GRN_HTTP_MAX_METHOD || (sp < end && *sp != ' ')) {
        return HPE_INVALID_METHOD;             /* llhttp's reason stays for the log line */
    }

    llhttp_init(&hc->parser, HTTP_REQUEST, &grn_http_parser_settings);
    hc->parser.data = hc;

    if (sp == end) {
        /* Only part of the name has come: parse again from its start with more bytes. */
        hc->parsed = (size_t) (start - hc->buf);
        *wait = 1;
        return HPE_OK;
    }

    hc->method.data = start;
    hc->method.len = (size_t) (sp - start);
    err = llhttp_execute(&hc->parser, "POST", 4);
    if (err == HPE_OK) {
        err = llhttp_execute(&hc->parser, sp, (size_t) (end - sp));
    }
    hc->method.data = NULL;
    return err;
}

grn_int_t
grn_http_execute(grn_http_conn_t *hc)
{
    size_t          before = hc->parsed;
    grn_flag_t      wait = 0;
    llhttp_errno_t  err;

    err = llhttp_execute(&hc->parser, hc->buf + hc->parsed, hc->buf_len - hc->parsed);

    if (err == HPE_INVALID_METHOD && hc->status == 0 && !hc->head_done) {
        err = grn_http_unknown_method(hc, &wait);
        if (wait) {
            return GRN_OK;
        }
    }

    if (err == HPE_OK) {
        hc->parsed = hc->buf_len;

    } else if (err == HPE_PAUSED) {
        hc->parsed = (size_t) (llhttp_get_error_pos(&hc->parser) - hc->buf);

    } else {
        if (hc->status == 0) {
            hc->status = 400;
            grn_http_conn_log(GRN_LOG_INFO, hc, 0, "client sent an invalid request%s: %s",
                              hc->head_done ? " body" : "", llhttp_get_error_reason(&hc->parser));
        }
        return GRN_ERROR;
    }

    hc->request_length += (off_t) (hc->parsed - before);
    return GRN_OK;
}

const llhttp_settings_t  grn_http_parser_settings = {
    .on_message_begin = grn_http_on_message_begin,
    .on_method = grn_http_on_method,
    .on_url = grn_http_on_url,
    .on_url_complete = grn_http_on_url_complete,
    .on_version = grn_http_on_version,
    .on_version_complete = grn_http_on_version_complete,
    .on_header_field = grn_http_on_header_field,
    .on_header_value = grn_http_on_header_value,
    .on_header_value_complete = grn_http_on_header_value_complete,
    .on_headers_complete = grn_http_on_headers_complete,
    .on_chunk_header = grn_http_on_chunk_header,
    .on_body = grn_http_on_body,
    .on_message_complete = grn_http_on_message_complete,
};

static int
grn_http_hex(char ch)
{
    if (ch >= '0' && ch <= '9') {
        return ch - '0';
    }
    ch |= 0x20;
    if (ch >= 'a' && ch <= 'f') {
        return ch - 'a' + 10;
    }
    return -1;
}

/*
 * The authority of an absolute-form target: [userinfo "@"] host [":" port], with a host that
 * is not empty (RFC 9110 4.2.1). Its host becomes r->server_name.
 */
static grn_int_t
grn_http_parse_authority(grn_http_request_t *r, char *p, char *end)
{
    char    *at;
    size_t   host_len;

    at = p;
    for (char *q = p; q < end; q++) {
        if (*q == '@') {
            at = q + 1;
        }
    }
    if (grn_http_check_host(at, (size_t) (end - at), &host_len) != GRN_OK || host_len == 0) {
        return GRN_ERROR;
    }
    r->server_name.data = at;
    r->server_name.len = host_len;
    return GRN_OK;
}

grn_int_t
grn_http_parse_target(grn_http_request_t *r)
{
    int     hi, lo;
    size_t  scheme;
    char   *p, *end, *q, *path, *dst;

    p = r->uri.data;
    end = p + r->uri.len;

    /* absolute-form (RFC 9112 3.2.2): the path starts after the authority */
    scheme = 0;
    if (r->uri.len > 7 && strncasecmp(p, "http://", 7) == 0) {
        scheme = 7;
    } else if (r->uri.len > 8 && strncasecmp(p, "https://", 8) == 0) {
        scheme = 8;
    }
    if (scheme) {
        for (q = p + scheme; q < end && *q != '/' && *q != '?'; q++) { /* void */ }
        if (grn_http_parse_authority(r, p + scheme, q) != GRN_OK) {
            return GRN_ERROR;
        }
        p = q;
    }

    q = memchr(p, '?', end - p);
    if (q) {
        r->query.data = q + 1;
        r->query.len = end - q - 1;
        end = q;
    } else {
        r->query.data = end;
        r->query.len = 0;
    }

    if (p == end) {
        grn_str_set(&r->path, "/");
        return GRN_OK;
    }
    if (*p != '/' && !(end - p == 1 && *p == '*' && scheme == 0 && r->query.len == 0)) {
        return GRN_ERROR;
    }

    /* Percent-decoding only shrinks, so one pass into a buffer of the same size does it. */
    if (memchr(p, '%', end - p) == NULL) {
        r->path.data = p;
        r->path.len = end - p;
        return GRN_OK;
    }

    path = grn_pnalloc(r->pool, end - p + 1);
    if (path == NULL) {
        return GRN_ERROR;
    }
    for (dst = path; p < end; p++) {
        if (*p != '%') {
            *dst++ = *p;
            continue;
        }
        if (end - p < 3 || (hi = grn_http_hex(p[1])) < 0 || (lo = grn_http_hex(p[2])) < 0) {
            return GRN_ERROR;
        }
        *dst = (char) (hi << 4 | lo);
        if (*dst == '\0') {
            return GRN_ERROR;
        }
        dst++;
        p += 2;
    }
    *dst = '\0';
    r->path.data = path;
    r->path.len = dst - path;
    return GRN_OK;
}
