/*
 * grn_http_log.c: the access log.
 *
 * A log_format is compiled once, when the config is read, into a list of parts: literal text
 * or a variable. Writing a line walks the parts into one buffer and issues one write(2) with
 * O_APPEND, so the lines of all workers interleave whole. Values are escaped as nginx does:
 * by default `"`, `\` and bytes outside printable ASCII become \xHH; with escape=json they
 * become JSON escapes.
 */

#include "grn_core.h"
#include "grn_http.h"

typedef enum {
    GRN_LOG_VAR_TEXT = 0,
    GRN_LOG_VAR_REMOTE_ADDR,
    GRN_LOG_VAR_REMOTE_PORT,
    GRN_LOG_VAR_REMOTE_USER,
    GRN_LOG_VAR_TIME_LOCAL,
    GRN_LOG_VAR_TIME_ISO8601,
    GRN_LOG_VAR_MSEC,
    GRN_LOG_VAR_REQUEST,
    GRN_LOG_VAR_REQUEST_METHOD,
    GRN_LOG_VAR_REQUEST_URI,
    GRN_LOG_VAR_URI,
    GRN_LOG_VAR_ARGS,
    GRN_LOG_VAR_SERVER_PROTOCOL,
    GRN_LOG_VAR_STATUS,
    GRN_LOG_VAR_BODY_BYTES_SENT,
    GRN_LOG_VAR_REQUEST_TIME,
    GRN_LOG_VAR_REQUEST_LENGTH,
    GRN_LOG_VAR_HOST,
    GRN_LOG_VAR_SERVER_NAME,
    GRN_LOG_VAR_SERVER_PORT,
    GRN_LOG_VAR_PID,
    GRN_LOG_VAR_CONNECTION_REQUESTS,
    GRN_LOG_VAR_APP,
    GRN_LOG_VAR_HTTP                     /* $http_NAME: a request header */
} grn_log_var_e;

typedef struct {
    grn_log_var_e   kind;
    grn_str_t       text;                /* literal, or the header name for $http_ */
} grn_log_part_t;

static const struct {
    const char     *name;
    grn_log_var_e   kind;
} grn_log_vars[] = {
    { "remote_addr", GRN_LOG_VAR_REMOTE_ADDR },
    { "remote_port", GRN_LOG_VAR_REMOTE_PORT },
    { "remote_user", GRN_LOG_VAR_REMOTE_USER },
    { "time_local", GRN_LOG_VAR_TIME_LOCAL },
    { "time_iso8601", GRN_LOG_VAR_TIME_ISO8601 },
    { "msec", GRN_LOG_VAR_MSEC },
    { "request", GRN_LOG_VAR_REQUEST },
    { "request_method", GRN_LOG_VAR_REQUEST_METHOD },
    { "request_uri", GRN_LOG_VAR_REQUEST_URI },
    { "uri", GRN_LOG_VAR_URI },
    { "args", GRN_LOG_VAR_ARGS },
    { "query_string", GRN_LOG_VAR_ARGS },
    { "server_protocol", GRN_LOG_VAR_SERVER_PROTOCOL },
    { "status", GRN_LOG_VAR_STATUS },
    { "body_bytes_sent", GRN_LOG_VAR_BODY_BYTES_SENT },
    { "request_time", GRN_LOG_VAR_REQUEST_TIME },
    { "request_length", GRN_LOG_VAR_REQUEST_LENGTH },
    { "host", GRN_LOG_VAR_HOST },
    { "server_name", GRN_LOG_VAR_SERVER_NAME },
    { "server_port", GRN_LOG_VAR_SERVER_PORT },
    { "pid", GRN_LOG_VAR_PID },
    { "connection_requests", GRN_LOG_VAR_CONNECTION_REQUESTS },
    { "app", GRN_LOG_VAR_APP },
};

const char  grn_http_log_combined[] =
    "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent "
    "\"$http_referer\" \"$http_user_agent\"";

static grn_flag_t
grn_log_var_char(char ch)
{
    return ch == '_' || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
           || (ch >= '0' && ch <= '9');
}

grn_int_t
grn_http_log_compile(grn_conf_t *cf, grn_http_log_format_t *fmt)
{
    char            *p, *end, *start;
    size_t           i, len;
    grn_flag_t       braces;
    grn_log_part_t  *part;

    if (grn_array_init(&fmt->parts, cf->pool, 8, sizeof(grn_log_part_t)) != GRN_OK) {
        return GRN_ERROR;
    }

    p = fmt->format.data;
    end = p + fmt->format.len;

    while (p < end) {
        part = grn_array_push(&fmt->parts);
        if (part == NULL) {
            return GRN_ERROR;
        }

        if (*p != '$') {
            start = p;
            while (p < end && *p != '$') {
                p++;
            }
            part->kind = GRN_LOG_VAR_TEXT;
            part->text.data = start;
            part->text.len = p - start;
            continue;
        }

        p++;
        braces = (p < end && *p == '{');
        if (braces) {
            p++;
        }
        start = p;
        while (p < end && grn_log_var_char(*p)) {
            p++;
        }
        len = p - start;
        if (braces) {
            if (p == end || *p != '}') {
                grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "missing closing \"}\" of a variable "
                                   "in log_format \"%.*s\"", (int) fmt->name.len,
                                   fmt->name.data);
                return GRN_ERROR;
            }
            p++;
        }
        if (len == 0) {
            grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "invalid variable name in log_format "
                               "\"%.*s\"", (int) fmt->name.len, fmt->name.data);
            return GRN_ERROR;
        }

        if (len > 5 && strncmp(start, "http_", 5) == 0) {
            part->kind = GRN_LOG_VAR_HTTP;
            part->text.data = start + 5;
            part->text.len = len - 5;
            continue;
        }

        for (i = 0; i < grn_nelems(grn_log_vars); i++) {
            if (strlen(grn_log_vars[i].name) == len
                && strncmp(grn_log_vars[i].name, start, len) == 0)
            {
                part->kind = grn_log_vars[i].kind;
                break;
            }
        }
        if (i == grn_nelems(grn_log_vars)) {
            grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "unknown \"%.*s\" variable in log_format "
                               "\"%.*s\"", (int) len, start, (int) fmt->name.len,
                               fmt->name.data);
            return GRN_ERROR;
        }
    }

    return GRN_OK;
}

typedef struct {
    char     *data;
    size_t    len;
    size_t    size;
    unsigned  overflow:1;
} grn_log_buf_t;

static void
grn_log_put(grn_log_buf_t *b, const char *data, size_t len)
{
    if (b->len + len > b->size) {
        len = b->size - b->len;
        b->overflow = 1;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
}

/* A value from the request: escaped, "-" when empty (as nginx). */
static void
grn_log_put_value(grn_log_buf_t *b, const char *data, size_t len, grn_flag_t json)
{
    char           esc[8];
    size_t         i;
    unsigned char  ch;

    if (len == 0) {
        if (!json) {
            grn_log_put(b, "-", 1);
        }
        return;
    }

    for (i = 0; i < len; i++) {
        ch = (unsigned char) data[i];
        if (json) {
            if (ch == '"' || ch == '\\') {
                esc[0] = '\\';
                esc[1] = (char) ch;
                grn_log_put(b, esc, 2);
            } else if (ch < 0x20) {
                grn_log_put(b, esc, (size_t) snprintf(esc, sizeof(esc), "\\u%04x", ch));
            } else {
                grn_log_put(b, (char *) &ch, 1);
            }
        } else if (ch == '"' || ch == '\\' || ch < 0x20 || ch > 0x7e) {
            grn_log_put(b, esc, (size_t) snprintf(esc, sizeof(esc), "\\x%02X", ch));
        } else {
            grn_log_put(b, (char *) &ch, 1);
        }
    }
}

static void
grn_log_put_number(grn_log_buf_t *b, const char *fmt, ...)
{
    int      n;
    char     num[64];
    va_list  args;

    va_start(args, fmt);
    n = vsnprintf(num, sizeof(num), fmt, args);
    va_end(args);
    grn_log_put(b, num, (size_t) n);
}

static void
grn_log_put_header(grn_log_buf_t *b, grn_http_request_t *r, grn_str_t *name, grn_flag_t json)
{
    size_t              i, k;
    grn_http_header_t  *h;

    h = r->headers.elts;
    for (i = 0; i < r->headers.nelts; i++) {
        if (h[i].name.len != name->len) {
            continue;
        }
        /* $http_user_agent names the header User-Agent: '_' stands for '-' */
        for (k = 0; k < name->len; k++) {
            char  a = h[i].name.data[k] | 0x20, c = name->data[k] | 0x20;

            if (a != c && !(c == ('_' | 0x20) && a == '-')) {
                break;
            }
        }
        if (k == name->len) {
            grn_log_put_value(b, h[i].value.data, h[i].value.len, json);
            return;
        }
    }
    grn_log_put_value(b, NULL, 0, json);
}

static void
grn_log_write_line(grn_http_request_t *r, grn_http_access_log_t *log, grn_msec_t now,
    off_t body_sent)
{
    char             line[4096], timebuf[64];
    time_t           sec;
    size_t           i;
    struct tm        tm;
    grn_flag_t       json = log->format->escape_json;
    grn_log_buf_t    b;
    grn_log_part_t  *part;

    b.data = line;
    b.len = 0;
    b.size = sizeof(line) - 1;
    b.overflow = 0;

    part = log->format->parts.elts;
    for (i = 0; i < log->format->parts.nelts; i++) {
        switch (part[i].kind) {
        case GRN_LOG_VAR_TEXT:
            grn_log_put(&b, part[i].text.data, part[i].text.len);
            break;
        case GRN_LOG_VAR_REMOTE_ADDR:
            grn_log_put_value(&b, r->connection->remote_addr.data,
                              r->connection->remote_addr.len, json);
            break;
        case GRN_LOG_VAR_REMOTE_PORT:
            grn_log_put_number(&b, "%lu", (unsigned long) r->connection->remote_port);
            break;
        case GRN_LOG_VAR_REMOTE_USER:
            grn_log_put_value(&b, NULL, 0, json);
            break;
        case GRN_LOG_VAR_TIME_LOCAL:
        case GRN_LOG_VAR_TIME_ISO8601:
            sec = time(NULL);
            localtime_r(&sec, &tm);
            grn_log_put(&b, timebuf, strftime(timebuf, sizeof(timebuf),
                                               part[i].kind == GRN_LOG_VAR_TIME_LOCAL
                                               ? "%d/%b/%Y:%H:%M:%S %z" : "%Y-%m-%dT%H:%M:%S%z",
                                               &tm));
            break;
        case GRN_LOG_VAR_MSEC: {
            struct timespec  ts;

            clock_gettime(CLOCK_REALTIME, &ts);
            grn_log_put_number(&b, "%ld.%03ld", (long) ts.tv_sec, ts.tv_nsec / 1000000);
            break;
        }
        case GRN_LOG_VAR_REQUEST:
            if (r->method.len) {
                grn_log_put_value(&b, r->method.data, r->method.len, json);
                grn_log_put(&b, " ", 1);
                grn_log_put_value(&b, r->uri.data, r->uri.len, json);
                grn_log_put(&b, " ", 1);
                grn_log_put_value(&b, r->protocol.data, r->protocol.len, json);
            } else {
                grn_log_put_value(&b, NULL, 0, json);
            }
            break;
        case GRN_LOG_VAR_REQUEST_METHOD:
            grn_log_put_value(&b, r->method.data, r->method.len, json);
            break;
        case GRN_LOG_VAR_REQUEST_URI:
            grn_log_put_value(&b, r->uri.data, r->uri.len, json);
            break;
        case GRN_LOG_VAR_URI:
            grn_log_put_value(&b, r->path.data, r->path.len, json);
            break;
        case GRN_LOG_VAR_ARGS:
            grn_log_put_value(&b, r->query.data, r->query.len, json);
            break;
        case GRN_LOG_VAR_SERVER_PROTOCOL:
            grn_log_put_value(&b, r->protocol.data, r->protocol.len, json);
            break;
        case GRN_LOG_VAR_STATUS:
            grn_log_put_number(&b, "%03u", (unsigned) r->response.status);
            break;
        case GRN_LOG_VAR_BODY_BYTES_SENT:
            grn_log_put_number(&b, "%lld", (long long) body_sent);
            break;
        case GRN_LOG_VAR_REQUEST_TIME: {
            grn_msec_t  ms = now - r->start_msec;

            grn_log_put_number(&b, "%lld.%03lld", (long long) (ms / 1000),
                               (long long) (ms % 1000));
            break;
        }
        case GRN_LOG_VAR_REQUEST_LENGTH:
            grn_log_put_number(&b, "%zu", r->body.len);
            break;
        case GRN_LOG_VAR_HOST:
            grn_log_put_value(&b, r->server_name.data, r->server_name.len, json);
            break;
        case GRN_LOG_VAR_SERVER_NAME:
            if (r->srv && r->srv->names.nelts) {
                grn_str_t  *n = &((grn_http_server_name_t *) r->srv->names.elts)[0].name;

                grn_log_put_value(&b, n->data, n->len, json);
            } else {
                grn_log_put_value(&b, NULL, 0, json);
            }
            break;
        case GRN_LOG_VAR_SERVER_PORT:
            grn_log_put_number(&b, "%lu", (unsigned long) r->server_port);
            break;
        case GRN_LOG_VAR_PID:
            grn_log_put_number(&b, "%ld", (long) getpid());
            break;
        case GRN_LOG_VAR_CONNECTION_REQUESTS:
            grn_log_put_number(&b, "%lu", (unsigned long) r->connection->requests + 1);
            break;
        case GRN_LOG_VAR_APP:
            if (r->loc && r->loc->app) {
                grn_log_put_value(&b, r->loc->app->name.data, r->loc->app->name.len, json);
            } else {
                grn_log_put_value(&b, NULL, 0, json);
            }
            break;
        case GRN_LOG_VAR_HTTP:
            grn_log_put_header(&b, r, &part[i].text, json);
            break;
        }
    }

    line[b.len++] = '\n';
    if (write(log->file->fd, line, b.len) == -1) {
        /* Nowhere better to report it than the error log; once per failure is enough. */
        grn_log_error(GRN_LOG_ALERT, grn_pool_log(r->pool), errno, "write() to \"%s\" failed",
                      log->file->name.data);
    }
}

void
grn_http_log_request(grn_http_request_t *r, grn_msec_t now, off_t body_sent)
{
    size_t                  i;
    grn_array_t            *logs;
    grn_http_loc_conf_t    *loc;
    grn_http_access_log_t  *log;

    loc = r->loc ? r->loc : (r->srv ? r->srv->loc : NULL);
    if (loc == NULL) {
        return;
    }
    logs = loc->access_logs;
    if (logs == NULL || logs == GRN_CONF_UNSET_PTR) {
        return;
    }

    log = logs->elts;
    for (i = 0; i < logs->nelts; i++) {
        if (log[i].file->fd != -1) {
            grn_log_write_line(r, &log[i], now, body_sent);
        }
    }
}
