/*
 * grn_http_parse.c: llhttp's callbacks, and the checks greenc adds on top of llhttp.
 *
 * Callbacks record spans of the connection's buffer. A span may arrive in pieces when the head
 * arrives in several reads; the buffer is never moved while a head is being parsed, so the
 * pieces are contiguous and a span is simply extended. The parser pauses at the end of each
 * message so that bytes of a pipelined request stay unparsed until the response before it
 * has been written.
 */

#include "grn_core.h"
#include "grn_http.h"

#define GRN_HTTP_MAX_HEADERS   100

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
    return r;
}

/*
 * Extends a span and remembers where the head's spans end: the body may later be compacted
 * down to that point, since nothing after it is referenced.
 */
#define grn_http_span(hc, span, at, length)                                                \
    do {                                                                                   \
        if ((span)->data == NULL) {                                                        \
            (span)->data = (char *) (at);                                                  \
            (span)->len = (length);                                                        \
        } else {                                                                           \
            (span)->len += (length);                                                       \
        }                                                                                  \
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
    hc->field.data = NULL;
    hc->value.data = NULL;
    hc->nheaders = 0;
    hc->host_count = 0;
    return 0;
}

static int
grn_http_on_method(llhttp_t *p, const char *at, size_t len)
{
    grn_http_conn_t  *hc = p->data;

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
grn_http_on_version(llhttp_t *p, const char *at, size_t len)
{
    grn_http_conn_t  *hc = p->data;

    hc->head_end = (size_t) (at + len - hc->buf);
    return 0;
}

static int
grn_http_on_header_field(llhttp_t *p, const char *at, size_t len)
{
    grn_http_conn_t  *hc = p->data;

    grn_http_span(hc, &hc->field, at, len);
    return 0;
}

static int
grn_http_on_header_value(llhttp_t *p, const char *at, size_t len)
{
    grn_http_conn_t  *hc = p->data;

    grn_http_span(hc, &hc->value, at, len);
    return 0;
}

static int
grn_http_on_header_value_complete(llhttp_t *p)
{
    grn_http_conn_t     *hc = p->data;
    grn_http_request_t  *r = hc->r;
    grn_http_header_t   *h;

    if (++hc->nheaders > GRN_HTTP_MAX_HEADERS) {
        hc->status = 431;
        return -1;
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
    hc->field.data = NULL;
    hc->value.data = NULL;

    switch (h->name.len) {
    case 4:
        if (strncasecmp(h->name.data, "host", 4) == 0) {
            hc->host_count++;
            r->host = h->value;
        }
        break;
    case 12:
        if (strncasecmp(h->name.data, "content-type", 12) == 0) {
            r->content_type = h->value;
        }
        break;
    }

    return 0;
}

static int
grn_http_on_headers_complete(llhttp_t *p)
{
    grn_http_conn_t     *hc = p->data;
    grn_http_request_t  *r = hc->r;

    r->http_version = p->http_major * 1000 + p->http_minor;
    r->keepalive = llhttp_should_keep_alive(p) ? 1 : 0;
    r->chunked = (p->flags & F_CHUNKED) ? 1 : 0;
    if (p->flags & F_CONTENT_LENGTH) {
        r->content_length = (off_t) p->content_length;
    }
    r->head = (p->method == HTTP_HEAD);

    hc->head_done = 1;
    return 0;
}

static int
grn_http_on_body(llhttp_t *p, const char *at, size_t len)
{
    char                 *body;
    size_t                size;
    grn_http_conn_t      *hc = p->data;
    grn_http_loc_conf_t  *loc = hc->r->loc;

    if (loc && loc->client_max_body_size
        && (off_t) (hc->body_len + len) > loc->client_max_body_size)
    {
        hc->status = 413;
        return -1;
    }

    if (hc->body_len + len > hc->body_size) {
        size = grn_max(hc->body_size * 2, hc->body_len + len);
        size = grn_max(size, 4096);
        body = realloc(hc->body, size);
        if (body == NULL) {
            grn_log_error(GRN_LOG_ALERT, hc->worker->log, errno,
                          "realloc(%zu) for a request body failed", size);
            hc->status = 500;
            return -1;
        }
        hc->body = body;
        hc->body_size = size;
    }

    memcpy(hc->body + hc->body_len, at, len);
    hc->body_len += len;
    return 0;
}

static int
grn_http_on_message_complete(llhttp_t *p)
{
    grn_http_conn_t  *hc = p->data;

    hc->msg_done = 1;
    return HPE_PAUSED;
}

const llhttp_settings_t  grn_http_parser_settings = {
    .on_message_begin = grn_http_on_message_begin,
    .on_method = grn_http_on_method,
    .on_url = grn_http_on_url,
    .on_version = grn_http_on_version,
    .on_header_field = grn_http_on_header_field,
    .on_header_value = grn_http_on_header_value,
    .on_header_value_complete = grn_http_on_header_value_complete,
    .on_headers_complete = grn_http_on_headers_complete,
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

grn_int_t
grn_http_parse_target(grn_http_request_t *r)
{
    int     hi, lo;
    char   *p, *end, *q, *path, *dst;

    p = r->uri.data;
    end = p + r->uri.len;

    /* absolute-form (RFC 9112 3.2.2): the path starts after the authority */
    if (r->uri.len > 7 && (strncasecmp(p, "http://", 7) == 0 || strncasecmp(p, "https://", 8) == 0))
    {
        p = memchr(p + 7, '/', end - p - 7);
        if (p == NULL) {
            p = end;
        }
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
    if (*p != '/' && !(end - p == 1 && *p == '*')) {
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

grn_int_t
grn_http_process_head(grn_http_conn_t *hc)
{
    char                 *colon;
    grn_http_request_t   *r = hc->r;
    grn_listening_t      *ls = hc->c.listening;
    grn_http_srv_conf_t  *srv;

    r->protocol.data = (char *) (r->http_version == 1000 ? "HTTP/1.0" : "HTTP/1.1");
    r->protocol.len = 8;
    if (r->http_version != 1000 && r->http_version != 1001) {
        hc->status = 505;
        return GRN_ERROR;
    }

    /* RFC 9112 3.2: exactly one Host on HTTP/1.1; never more than one. */
    if (hc->host_count > 1 || (hc->host_count == 0 && r->http_version == 1001)) {
        hc->status = 400;
        return GRN_ERROR;
    }
    if (r->chunked && r->http_version == 1000) {
        hc->status = 400;
        return GRN_ERROR;
    }

    /* Each line must fit one of large_client_header_buffers' buffers (the head may take N). */
    {
        grn_uint_t          i;
        size_t              limit;
        grn_http_header_t  *h = r->headers.elts;

        limit = ((grn_http_addr_t *) ls->servers)->default_server
                    ->large_client_header_buffer_size;
        if (r->method.len + r->uri.len + 12 > limit) {
            hc->status = 414;
            return GRN_ERROR;
        }
        for (i = 0; i < r->headers.nelts; i++) {
            if (h[i].name.len + h[i].value.len + 4 > limit) {
                hc->status = 431;
                return GRN_ERROR;
            }
        }
    }

    if (grn_http_parse_target(r) != GRN_OK) {
        hc->status = 400;
        return GRN_ERROR;
    }

    srv = grn_http_find_server(ls->servers, &r->host);
    r->srv = srv;
    r->server_port = grn_listening_port(ls);

    if (r->host.len) {
        r->server_name = r->host;
        if (r->host.data[0] == '[') {
            colon = memchr(r->host.data, ']', r->host.len);
            if (colon) {
                r->server_name.len = colon + 1 - r->host.data;
            }
        } else {
            colon = memchr(r->host.data, ':', r->host.len);
            if (colon) {
                r->server_name.len = colon - r->host.data;
            }
        }
    } else if (srv->names.nelts) {
        r->server_name = ((grn_http_server_name_t *) srv->names.elts)[0].name;
    } else {
        r->server_name = hc->c.local_addr;
    }

    r->loc = grn_http_find_location(srv, &r->path);

    if (r->loc && r->loc->client_max_body_size
        && r->content_length > r->loc->client_max_body_size)
    {
        hc->status = 413;
        return GRN_ERROR;
    }

    return GRN_OK;
}
