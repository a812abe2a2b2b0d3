/*
 * grn_http_response.c: building responses and serializing their heads.
 *
 * Actions fill r->response (status, headers, body); grn_http_response_prepare() then writes the
 * whole head in one piece of the request's pool, adding Server, Date, Content-Length and
 * Connection, and points the connection's iovec at head and body so that both leave in a
 * single writev().
 */

#include "grn_core.h"
#include "grn_http.h"
#include "grn_http_proxy.h"
#include "grn_py.h"

typedef struct {
    grn_uint_t    status;
    const char   *line;
} grn_http_status_t;

static const grn_http_status_t  grn_http_statuses[] = {
    { 100, "100 Continue" },
    { 101, "101 Switching Protocols" },
    { 200, "200 OK" },
    { 201, "201 Created" },
    { 202, "202 Accepted" },
    { 203, "203 Non-Authoritative Information" },
    { 204, "204 No Content" },
    { 205, "205 Reset Content" },
    { 206, "206 Partial Content" },
    { 300, "300 Multiple Choices" },
    { 301, "301 Moved Permanently" },
    { 302, "302 Found" },
    { 303, "303 See Other" },
    { 304, "304 Not Modified" },
    { 307, "307 Temporary Redirect" },
    { 308, "308 Permanent Redirect" },
    { 400, "400 Bad Request" },
    { 401, "401 Unauthorized" },
    { 402, "402 Payment Required" },
    { 403, "403 Forbidden" },
    { 404, "404 Not Found" },
    { 405, "405 Method Not Allowed" },
    { 406, "406 Not Acceptable" },
    { 408, "408 Request Timeout" },
    { 409, "409 Conflict" },
    { 410, "410 Gone" },
    { 411, "411 Length Required" },
    { 412, "412 Precondition Failed" },
    { 413, "413 Content Too Large" },
    { 414, "414 URI Too Long" },
    { 415, "415 Unsupported Media Type" },
    { 416, "416 Range Not Satisfiable" },
    { 417, "417 Expectation Failed" },
    { 421, "421 Misdirected Request" },
    { 422, "422 Unprocessable Content" },
    { 426, "426 Upgrade Required" },
    { 428, "428 Precondition Required" },
    { 429, "429 Too Many Requests" },
    { 431, "431 Request Header Fields Too Large" },
    { 500, "500 Internal Server Error" },
    { 501, "501 Not Implemented" },
    { 502, "502 Bad Gateway" },
    { 503, "503 Service Unavailable" },
    { 504, "504 Gateway Timeout" },
    { 505, "505 HTTP Version Not Supported" },
};

/* Per-second caches: "Date: ...\r\n" as it goes on the wire. */
static __thread time_t  grn_http_cached_sec = -1;
static __thread char    grn_http_date[64];
static __thread size_t  grn_http_date_len;

/* The rest of a streamed body will not be sent: stop whoever produces it. */
static void
grn_http_stream_abort(grn_http_request_t *r)
{
    if (r->upstream) {
        grn_http_proxy_abort(r);
    } else {
        grn_py_abort(r);
    }
    r->response.more = 0;
}

const char *
grn_http_status_line(grn_uint_t status)
{
    size_t  lo = 0, hi = grn_nelems(grn_http_statuses);

    while (lo < hi) {
        size_t  mid = (lo + hi) / 2;

        if (grn_http_statuses[mid].status == status) {
            return grn_http_statuses[mid].line;
        }
        if (grn_http_statuses[mid].status < status) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}

void
grn_http_time_update(void)
{
    time_t     now;
    struct tm  tm;

    now = time(NULL);
    if (now == grn_http_cached_sec) {
        return;
    }
    grn_http_cached_sec = now;
    gmtime_r(&now, &tm);
    grn_http_date_len = strftime(grn_http_date, sizeof(grn_http_date),
                                 "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
}

grn_int_t
grn_http_response_set_status(grn_http_request_t *r, grn_uint_t status, const char *line,
    size_t len)
{
    r->response.status = status;

    if (line == NULL) {
        r->response.status_line.data = NULL;
        r->response.status_line.len = 0;
        return GRN_OK;
    }

    r->response.status_line.data = grn_pnalloc(r->pool, len);
    if (r->response.status_line.data == NULL) {
        return GRN_ERROR;
    }
    memcpy(r->response.status_line.data, line, len);
    r->response.status_line.len = len;
    return GRN_OK;
}

grn_int_t
grn_http_response_add_header(grn_http_request_t *r, const char *name, size_t name_len,
    const char *value, size_t value_len)
{
    char               *p;
    grn_int_t           n;
    grn_http_header_t  *h;

    h = grn_array_push(&r->response.headers);
    p = grn_pnalloc(r->pool, name_len + value_len);
    if (h == NULL || p == NULL) {
        return GRN_ERROR;
    }
    memcpy(p, name, name_len);
    memcpy(p + name_len, value, value_len);
    h->name.data = p;
    h->name.len = name_len;
    h->value.data = p + name_len;
    h->value.len = value_len;

    if (name_len == 14 && strncasecmp(name, "content-length", 14) == 0) {
        n = grn_atoi(value, value_len);
        r->response.content_length = (n >= 0) ? (off_t) n : -1;
    }
    return GRN_OK;
}

grn_int_t
grn_http_response_append(grn_http_request_t *r, const char *data, size_t len)
{
    char                 *body;
    size_t                size;
    grn_http_worker_t    *w;
    grn_http_response_t  *resp = &r->response;

    if (len == 0) {
        return GRN_OK;
    }

    if (resp->body == NULL) {
        w = ((grn_http_conn_t *) r->connection->data)->worker;
        if (w->spare_body && w->spare_body_size >= len) {
            resp->body = w->spare_body;
            resp->body_size = w->spare_body_size;
            w->spare_body = NULL;
        }
    }

    if (resp->body_len + len > resp->body_size) {
        size = grn_max(resp->body_size * 2, resp->body_len + len);
        size = grn_max(size, 1024);
        body = realloc(resp->body, size);
        if (body == NULL) {
            grn_log_error(GRN_LOG_ALERT, grn_pool_log(r->pool), errno,
                          "realloc(%zu) for a response body failed", size);
            return GRN_ERROR;
        }
        resp->body = body;
        resp->body_size = size;
    }

    memcpy(resp->body + resp->body_len, data, len);
    resp->body_len += len;
    return GRN_OK;
}

void
grn_http_response_free(grn_http_request_t *r)
{
    grn_http_worker_t  *w = ((grn_http_conn_t *) r->connection->data)->worker;

    /*
     * One buffer of a modest size is kept for the next response of this thread: a malloc()
     * and a free() per request were a tenth of the C side's cost of a hello world.
     */
    if (r->response.body && w->spare_body == NULL
        && r->response.body_size <= GRN_HTTP_SPARE_BODY_MAX)
    {
        w->spare_body = r->response.body;
        w->spare_body_size = r->response.body_size;
    } else {
        free(r->response.body);
    }
    r->response.body = NULL;
    r->response.body_len = 0;
    r->response.body_size = 0;
}

grn_int_t
grn_http_error_page(grn_http_request_t *r, grn_uint_t status)
{
    int          n;
    char         page[640];
    const char  *line, *detail;

    line = grn_http_status_line(status);
    if (line == NULL) {
        line = "500 Internal Server Error";
        status = 500;
    }

    r->response.headers.nelts = 0;
    r->response.content_length = -1;
    r->response.body_len = 0;
    r->response.status = status;
    r->response.status_line.data = NULL;
    r->response.status_line.len = 0;

    /* A sentence that says more than the status (a plain HTTP request on a TLS port). */
    detail = ((grn_http_conn_t *) r->connection->data)->error_detail;

    n = snprintf(page, sizeof(page),
                 "<!DOCTYPE html>\n<html><head><title>%s</title></head>\n"
                 "<body><h1>%s</h1>%s%s%s<hr><p>greenc</p></body></html>\n", line, line,
                 detail ? "\n<p>" : "", detail ? detail : "", detail ? "</p>\n" : "");

    if (grn_http_response_add_header(r, "Content-Type", 12, "text/html; charset=utf-8", 24)
        != GRN_OK)
    {
        return GRN_ERROR;
    }
    return grn_http_response_append(r, page, (size_t) n);
}

/*
 * add_request_id_header: the name the id goes back under (request_id_header's, else
 * X-Request-ID); len 0 when the app set that header itself, which then wins.
 */
static void
grn_http_response_request_id(grn_http_request_t *r, grn_str_t *name)
{
    grn_uint_t             i;
    grn_http_header_t     *h = r->response.headers.elts;
    grn_http_main_conf_t  *hmcf = ((grn_http_conn_t *) r->connection->data)->worker->cycle->http;

    if (hmcf->request_id_header.len) {
        *name = hmcf->request_id_header;
    } else {
        grn_str_set(name, "X-Request-ID");
    }
    for (i = 0; i < r->response.headers.nelts; i++) {
        if (h[i].name.len == name->len
            && strncasecmp(h[i].name.data, name->data, name->len) == 0)
        {
            name->len = 0;
            return;
        }
    }
}

static grn_flag_t
grn_http_status_has_body(grn_uint_t status)
{
    return !(status < 200 || status == 204 || status == 304);
}

void
grn_http_response_body_iov(grn_http_conn_t *hc, int n)
{
    size_t                len;
    grn_http_request_t   *r = hc->r;
    grn_http_response_t  *resp = &r->response;

    len = grn_http_status_has_body(resp->status) && !r->head ? resp->body_len : 0;

    /*
     * The app's own Content-Length is a promise about the body: a longer body is cut to it and
     * the connection closed; a shorter one closes the connection after it, so the client never
     * misreads the framing.
     */
    if (resp->content_length >= 0 && !r->head && grn_http_status_has_body(resp->status)) {
        if (resp->sent + (off_t) len > resp->content_length) {
            len = (size_t) (resp->content_length - resp->sent);
            hc->close = 1;
            if (resp->more) {
                grn_http_stream_abort(r);
            }
        }
        if (!resp->more && !resp->file && resp->sent + (off_t) len < resp->content_length) {
            hc->close = 1;
        }
    }

    if (resp->chunked) {
        if (len) {
            hc->iov[n].iov_base = hc->chunk_line;
            hc->iov[n++].iov_len = (size_t) sprintf(hc->chunk_line, "%zx\r\n", len);
            hc->iov[n].iov_base = resp->body;
            hc->iov[n++].iov_len = len;
            hc->iov[n].iov_base = (char *) (resp->more ? "\r\n" : "\r\n0\r\n\r\n");
            hc->iov[n++].iov_len = resp->more ? 2 : 7;
        } else if (!resp->more) {
            hc->iov[n].iov_base = (char *) "0\r\n\r\n";
            hc->iov[n++].iov_len = 5;
        }
    } else if (len) {
        hc->iov[n].iov_base = resp->body;
        hc->iov[n++].iov_len = len;
    }

    resp->sent += (off_t) len;
    hc->body_sent += (off_t) len;
    hc->iovp = hc->iov;
    hc->iovcnt = n;
}

grn_int_t
grn_http_response_prepare(grn_http_conn_t *hc)
{
    int                   n;
    char                 *p;
    size_t                len;
    grn_uint_t            i;
    grn_flag_t            has_body, streamed;
    const char           *line;
    char                  status_buf[16];
    grn_str_t             status, rid_name, *rid;
    grn_http_request_t   *r = hc->r;
    grn_http_header_t    *h;
    grn_http_response_t  *resp = &r->response;
    grn_http_loc_conf_t  *loc = r->loc ? r->loc : (r->srv ? r->srv->loc : NULL);

    if (resp->status == 0) {
        resp->status = 200;
    }

    if (resp->status_line.len) {
        status = resp->status_line;
    } else {
        line = grn_http_status_line(resp->status);
        if (line) {
            status.data = (char *) line;
            status.len = strlen(line);
        } else {
            n = snprintf(status_buf, sizeof(status_buf), "%03u ", (unsigned) resp->status);
            status.data = status_buf;
            status.len = (size_t) n;
        }
    }

    has_body = grn_http_status_has_body(resp->status);
    streamed = resp->more;

    if (resp->more && (r->head || !has_body)) {
        /* Nothing of the body goes out: the app's iterable is closed now. */
        if (resp->file) {
            close(resp->file_fd);
            resp->file = 0;
        }
        grn_http_stream_abort(r);

    } else if (resp->more && resp->content_length < 0) {
        /* The length is unknown: chunked for HTTP/1.1, the connection's end for HTTP/1.0. */
        if (r->http_version >= 1001) {
            resp->chunked = 1;
        } else {
            hc->close = 1;
        }
    }

    if (!r->keepalive || hc->worker->draining
        || (r->srv && hc->c.requests + 1 >= (grn_uint_t) r->srv->keepalive_requests))
    {
        hc->close = 1;
    }

    grn_http_time_update();

    len = sizeof("HTTP/1.1 \r\n") - 1 + status.len
          + sizeof("Server: " GREENC_VER "\r\n") - 1
          + grn_http_date_len
          + sizeof("Content-Length: 18446744073709551615\r\n") - 1
          + sizeof("Transfer-Encoding: chunked\r\n") - 1
          + sizeof("Connection: keep-alive\r\n") - 1
          + 2;
    h = resp->headers.elts;
    for (i = 0; i < resp->headers.nelts; i++) {
        len += h[i].name.len + 2 + h[i].value.len + 2;
    }

    rid = NULL;
    if (loc && loc->add_request_id_header) {
        grn_http_response_request_id(r, &rid_name);
        if (rid_name.len) {
            rid = grn_http_request_id(r);
            len += rid_name.len + 2 + rid->len + 2;
        }
    }

    p = grn_pnalloc(r->pool, len);
    if (p == NULL) {
        return GRN_ERROR;
    }
    hc->head = p;

    p = memcpy(p, "HTTP/1.1 ", 9) + 9;
    p = memcpy(p, status.data, status.len) + status.len;
    *p++ = '\r'; *p++ = '\n';

    if (loc == NULL || loc->server_tokens) {
        p = memcpy(p, "Server: " GREENC_VER "\r\n", sizeof("Server: " GREENC_VER "\r\n") - 1)
            + sizeof("Server: " GREENC_VER "\r\n") - 1;
    } else {
        p = memcpy(p, "Server: greenc\r\n", 16) + 16;
    }

    p = memcpy(p, grn_http_date, grn_http_date_len) + grn_http_date_len;

    for (i = 0; i < resp->headers.nelts; i++) {
        p = memcpy(p, h[i].name.data, h[i].name.len) + h[i].name.len;
        *p++ = ':'; *p++ = ' ';
        p = memcpy(p, h[i].value.data, h[i].value.len) + h[i].value.len;
        *p++ = '\r'; *p++ = '\n';
    }

    if (rid) {
        p = memcpy(p, rid_name.data, rid_name.len) + rid_name.len;
        *p++ = ':'; *p++ = ' ';
        p = memcpy(p, rid->data, rid->len) + rid->len;
        *p++ = '\r'; *p++ = '\n';
    }

    if (resp->chunked) {
        p = memcpy(p, "Transfer-Encoding: chunked\r\n", 28) + 28;

    } else if (resp->content_length < 0 && !streamed && (has_body || r->head)) {
        p += sprintf(p, "Content-Length: %zu\r\n", has_body ? resp->body_len : (size_t) 0);
    }

    if (hc->close) {
        p = memcpy(p, "Connection: close\r\n", 19) + 19;
    } else if (r->http_version == 1000) {
        p = memcpy(p, "Connection: keep-alive\r\n", 24) + 24;
    }
    *p++ = '\r'; *p++ = '\n';

    hc->iov[0].iov_base = hc->head;
    hc->iov[0].iov_len = p - hc->head;
    hc->body_sent = 0;
    hc->bytes_sent = 0;
    resp->sent = 0;
    grn_http_response_body_iov(hc, 1);

    return GRN_OK;
}
