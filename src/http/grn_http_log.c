/*
 * grn_http_log.c: the access log, and the request context of error log lines.
 *
 * A log_format is compiled once, when the config is read, into a list of parts: literal text
 * or a variable. Writing a line walks the parts into one buffer. Values are escaped as nginx
 * does: by default `"`, `\` and bytes outside printable ASCII become \xHH; with escape=json
 * they become JSON escapes; escape=none writes them as they are.
 *
 * Unbuffered, each line is one write(2) to a file opened with O_APPEND, so the lines of all
 * workers interleave whole. With `buffer=SIZE`, each worker thread collects lines in a buffer
 * of its own (no lock on the hot path) and writes it with one write(2) when the next line
 * would not fit, when `flush=TIME` has passed since its first line (a timer on the thread's
 * event loop), on USR1 before the file is reopened, and when the thread exits (drain,
 * graceful stop, max_requests). A fast stop (INT) or a SIGKILL loses what is buffered.
 *
 * The same module formats the context that error log lines about a connection end with
 * (client, server, request, host, request id), so a line in the error log can be matched
 * with the access log line of the same request.
 */

#include "grn_core.h"
#include "grn_http.h"

#include <ctype.h>

#define GRN_HTTP_LOG_LINE  16384         /* longer lines are cut */

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
    GRN_LOG_VAR_SCHEME,
    GRN_LOG_VAR_STATUS,
    GRN_LOG_VAR_BODY_BYTES_SENT,
    GRN_LOG_VAR_BYTES_SENT,
    GRN_LOG_VAR_REQUEST_TIME,
    GRN_LOG_VAR_REQUEST_LENGTH,
    GRN_LOG_VAR_REQUEST_ID,
    GRN_LOG_VAR_HOST,
    GRN_LOG_VAR_SERVER_NAME,
    GRN_LOG_VAR_SERVER_PORT,
    GRN_LOG_VAR_PID,
    GRN_LOG_VAR_CONNECTION,
    GRN_LOG_VAR_CONNECTION_REQUESTS,
    GRN_LOG_VAR_APP,
    GRN_LOG_VAR_CAPTURE,                 /* $1..$9: of the regex that matched */
    GRN_LOG_VAR_NAMED_CAPTURE,           /* $name: a named capture (?<name>...) */
    GRN_LOG_VAR_HTTP,                    /* $http_NAME: a request header */
    GRN_LOG_VAR_SENT_HTTP                /* $sent_http_NAME: a response header, as sent */
} grn_log_var_e;

typedef struct {
    grn_log_var_e   kind;
    grn_str_t       text;                /* literal, the header name for $http_, capture name */
    grn_uint_t      capture;             /* N of $N */
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
    { "document_uri", GRN_LOG_VAR_URI },
    { "args", GRN_LOG_VAR_ARGS },
    { "query_string", GRN_LOG_VAR_ARGS },
    { "server_protocol", GRN_LOG_VAR_SERVER_PROTOCOL },
    { "scheme", GRN_LOG_VAR_SCHEME },
    { "status", GRN_LOG_VAR_STATUS },
    { "body_bytes_sent", GRN_LOG_VAR_BODY_BYTES_SENT },
    { "bytes_sent", GRN_LOG_VAR_BYTES_SENT },
    { "request_time", GRN_LOG_VAR_REQUEST_TIME },
    { "request_length", GRN_LOG_VAR_REQUEST_LENGTH },
    { "request_id", GRN_LOG_VAR_REQUEST_ID },
    { "host", GRN_LOG_VAR_HOST },
    { "server_name", GRN_LOG_VAR_SERVER_NAME },
    { "server_port", GRN_LOG_VAR_SERVER_PORT },
    { "pid", GRN_LOG_VAR_PID },
    { "connection", GRN_LOG_VAR_CONNECTION },
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

static const char *
grn_log_where(grn_http_log_format_t *fmt)
{
    return fmt->directive ? "the directive" : "log_format";
}

static grn_int_t
grn_log_capture_ref(grn_conf_t *cf, char *name, size_t len)
{
    grn_http_main_conf_t    *hmcf = cf->cycle->http;
    grn_http_capture_ref_t  *ref;

    if (hmcf->capture_refs == NULL) {
        hmcf->capture_refs = grn_array_create(cf->pool, 4, sizeof(grn_http_capture_ref_t));
        if (hmcf->capture_refs == NULL) {
            return GRN_ERROR;
        }
    }
    ref = grn_array_push(hmcf->capture_refs);
    if (ref == NULL) {
        return GRN_ERROR;
    }
    ref->name.data = name;
    ref->name.len = len;
    ref->file = cf->conf_file->name;
    ref->line = cf->conf_file->line;
    return GRN_OK;
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
                                   "in %s \"%.*s\"", grn_log_where(fmt), (int) fmt->name.len,
                                   fmt->name.data);
                return GRN_ERROR;
            }
            p++;
        }
        if (len == 0) {
            grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "invalid variable name in %s \"%.*s\"",
                               grn_log_where(fmt), (int) fmt->name.len, fmt->name.data);
            return GRN_ERROR;
        }

        if (len > 5 && strncmp(start, "http_", 5) == 0) {
            part->kind = GRN_LOG_VAR_HTTP;
            part->text.data = start + 5;
            part->text.len = len - 5;
            continue;
        }
        if (len > 10 && strncmp(start, "sent_http_", 10) == 0) {
            part->kind = GRN_LOG_VAR_SENT_HTTP;
            part->text.data = start + 10;
            part->text.len = len - 10;
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
        if (i < grn_nelems(grn_log_vars)) {
            continue;
        }

        /* $1..$9, as nginx; $0 too: the whole match */
        if (len == 1 && start[0] >= '0' && start[0] <= '9') {
            part->kind = GRN_LOG_VAR_CAPTURE;
            part->capture = (grn_uint_t) (start[0] - '0');
            continue;
        }

        /*
         * Any other name must be a named capture of some server_name or location regex; the
         * regexes may come later in the file, so the check waits for the end of the http
         * block (grn_http_conf_finish), which names this place if none defines it.
         */
        if (grn_log_capture_ref(cf, start, len) != GRN_OK) {
            return GRN_ERROR;
        }
        part->kind = GRN_LOG_VAR_NAMED_CAPTURE;
        part->text.data = start;
        part->text.len = len;
    }

    return GRN_OK;
}


/* Writing values. */

/* Besides the log_format escapes: RAW is for if= conditions (no escaping, no "-"). */
#define GRN_LOG_ESCAPE_RAW  100

typedef struct {
    char      *data;
    size_t     len;
    size_t     size;
    grn_uint_t escape;
} grn_log_buf_t;

static void
grn_log_put(grn_log_buf_t *b, const char *data, size_t len)
{
    if (b->len + len > b->size) {
        len = b->size - b->len;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
}

static const char  grn_log_hex[] = "0123456789ABCDEF";

/* A value from the request or response: escaped; "-" when empty (as nginx) except in JSON. */
static void
grn_log_put_value(grn_log_buf_t *b, const char *data, size_t len)
{
    char           esc[8];
    size_t         i, run;
    unsigned char  ch;

    if (len == 0) {
        if (b->escape == GRN_HTTP_LOG_ESCAPE_DEFAULT || b->escape == GRN_HTTP_LOG_ESCAPE_NONE) {
            grn_log_put(b, "-", 1);
        }
        return;
    }
    if (b->escape == GRN_HTTP_LOG_ESCAPE_NONE || b->escape == GRN_LOG_ESCAPE_RAW) {
        grn_log_put(b, data, len);
        return;
    }

    for (i = 0; i < len; i += run) {
        /* Copy runs of bytes that need no escape at once: most values are all such bytes. */
        for (run = 0; i + run < len; run++) {
            ch = (unsigned char) data[i + run];
            if (ch == '"' || ch == '\\' || ch < 0x20
                || (ch > 0x7e && b->escape == GRN_HTTP_LOG_ESCAPE_DEFAULT))
            {
                break;
            }
        }
        if (run) {
            grn_log_put(b, data + i, run);
            continue;
        }

        ch = (unsigned char) data[i];
        run = 1;
        if (b->escape == GRN_HTTP_LOG_ESCAPE_JSON) {
            esc[0] = '\\';
            if (ch == '"' || ch == '\\') {
                esc[1] = (char) ch;
                grn_log_put(b, esc, 2);
            } else {
                memcpy(esc + 1, "u00", 3);
                esc[4] = grn_log_hex[ch >> 4];
                esc[5] = grn_log_hex[ch & 0xf];
                grn_log_put(b, esc, 6);
            }
        } else {
            esc[0] = '\\';
            esc[1] = 'x';
            esc[2] = grn_log_hex[ch >> 4];
            esc[3] = grn_log_hex[ch & 0xf];
            grn_log_put(b, esc, 4);
        }
    }
}

static void
grn_log_put_uint(grn_log_buf_t *b, uint64_t n)
{
    char   num[24], *p = num + sizeof(num);

    do {
        *--p = (char) ('0' + n % 10);
        n /= 10;
    } while (n);
    grn_log_put(b, p, (size_t) (num + sizeof(num) - p));
}

/* "S.mmm": nginx's $request_time and $msec. */
static void
grn_log_put_msec(grn_log_buf_t *b, uint64_t ms)
{
    char  frac[4];

    grn_log_put_uint(b, ms / 1000);
    frac[0] = '.';
    frac[1] = (char) ('0' + ms / 100 % 10);
    frac[2] = (char) ('0' + ms / 10 % 10);
    frac[3] = (char) ('0' + ms % 10);
    grn_log_put(b, frac, 4);
}

/* `name` from a log variable matches a header name: '_' stands for '-', case does not count. */
static grn_flag_t
grn_log_header_is(const grn_str_t *header, const grn_str_t *name)
{
    size_t  k;

    if (header->len != name->len) {
        return 0;
    }
    for (k = 0; k < name->len; k++) {
        char  a = header->data[k] | 0x20, c = name->data[k] | 0x20;

        if (a != c && !(c == ('_' | 0x20) && a == '-')) {
            return 0;
        }
    }
    return 1;
}

static void
grn_log_put_header(grn_log_buf_t *b, grn_http_request_t *r, grn_str_t *name)
{
    size_t              i;
    grn_http_header_t  *h;

    h = r->headers.elts;
    for (i = 0; i < r->headers.nelts; i++) {
        if (grn_log_header_is(&h[i].name, name)) {
            grn_log_put_value(b, h[i].value.data, h[i].value.len);
            return;
        }
    }
    grn_log_put_value(b, NULL, 0);
}

/*
 * $sent_http_NAME reads the head as it went on the wire, so the headers greenc adds (Server,
 * Date, Content-Length, Transfer-Encoding, Connection) are there as well as the app's.
 */
static void
grn_log_put_sent_header(grn_log_buf_t *b, grn_http_conn_t *hc, grn_str_t *name)
{
    char       *p, *eol, *colon;
    grn_str_t   field;

    p = hc->head;
    if (p == NULL) {
        grn_log_put_value(b, NULL, 0);
        return;
    }

    /*
     * The head is not NUL-terminated, but every line of it ends with CRLF and the last one is
     * empty: scanning line by line for '\n' never leaves it.
     */
    while (*p != '\n') {
        p++;
    }
    for (p++; *p != '\r'; p = eol + 1) {
        for (eol = p; *eol != '\n'; eol++) {
            /* void */
        }
        colon = memchr(p, ':', (size_t) (eol - p));
        if (colon) {
            field.data = p;
            field.len = (size_t) (colon - p);
            if (grn_log_header_is(&field, name)) {
                colon++;
                while (colon < eol && *colon == ' ') {
                    colon++;
                }
                grn_log_put_value(b, colon, (size_t) (eol - 1 - colon));
                return;
            }
        }
    }
    grn_log_put_value(b, NULL, 0);
}

/* $time_local and $time_iso8601, formatted once a second per thread. */
static __thread time_t  grn_log_cached_sec = -1;
static __thread char    grn_log_time_local[40];
static __thread char    grn_log_time_iso[40];
static __thread size_t  grn_log_time_local_len, grn_log_time_iso_len;

static void
grn_log_time_update(void)
{
    time_t     now;
    struct tm  tm;

    now = time(NULL);
    if (now == grn_log_cached_sec) {
        return;
    }
    grn_log_cached_sec = now;
    localtime_r(&now, &tm);
    grn_log_time_local_len = strftime(grn_log_time_local, sizeof(grn_log_time_local),
                                      "%d/%b/%Y:%H:%M:%S %z", &tm);
    grn_log_time_iso_len = strftime(grn_log_time_iso, sizeof(grn_log_time_iso),
                                    "%Y-%m-%dT%H:%M:%S", &tm);
    /* ISO 8601 wants "+01:00", strftime's %z gives "+0100". */
    grn_log_time_iso_len += strftime(grn_log_time_iso + grn_log_time_iso_len,
                                     sizeof(grn_log_time_iso) - grn_log_time_iso_len, "%z", &tm);
    if (grn_log_time_iso_len >= 5 && grn_log_time_iso_len + 1 < sizeof(grn_log_time_iso)) {
        char  *mm = grn_log_time_iso + grn_log_time_iso_len - 2;

        memmove(mm + 1, mm, 2);
        *mm = ':';
        grn_log_time_iso_len++;
    }
}

static __thread pid_t  grn_log_pid;    /* workers are forked before any line is written */

static void
grn_log_put_var(grn_log_buf_t *b, grn_http_request_t *r, grn_log_part_t *part,
    off_t body_sent)
{
    grn_str_t        *s;
    grn_http_conn_t  *hc = r->connection->data;

    switch (part->kind) {
    case GRN_LOG_VAR_TEXT:
        grn_log_put(b, part->text.data, part->text.len);
        break;
    case GRN_LOG_VAR_REMOTE_ADDR:
        grn_log_put_value(b, r->connection->remote_addr.data, r->connection->remote_addr.len);
        break;
    case GRN_LOG_VAR_REMOTE_PORT:
        grn_log_put_uint(b, r->connection->remote_port);
        break;
    case GRN_LOG_VAR_REMOTE_USER:
        grn_log_put_value(b, NULL, 0);
        break;
    case GRN_LOG_VAR_TIME_LOCAL:
        grn_log_time_update();
        grn_log_put(b, grn_log_time_local, grn_log_time_local_len);
        break;
    case GRN_LOG_VAR_TIME_ISO8601:
        grn_log_time_update();
        grn_log_put(b, grn_log_time_iso, grn_log_time_iso_len);
        break;
    case GRN_LOG_VAR_MSEC: {
        struct timespec  ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        grn_log_put_msec(b, (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000);
        break;
    }
    case GRN_LOG_VAR_REQUEST:
        if (r->method.len) {
            grn_log_put_value(b, r->method.data, r->method.len);
            grn_log_put(b, " ", 1);
            grn_log_put_value(b, r->uri.data, r->uri.len);
            grn_log_put(b, " ", 1);
            grn_log_put_value(b, r->protocol.data, r->protocol.len);
        } else {
            grn_log_put_value(b, NULL, 0);
        }
        break;
    case GRN_LOG_VAR_REQUEST_METHOD:
        grn_log_put_value(b, r->method.data, r->method.len);
        break;
    case GRN_LOG_VAR_REQUEST_URI:
        grn_log_put_value(b, r->uri.data, r->uri.len);
        break;
    case GRN_LOG_VAR_URI:
        grn_log_put_value(b, r->path.data, r->path.len);
        break;
    case GRN_LOG_VAR_ARGS:
        grn_log_put_value(b, r->query.data, r->query.len);
        break;
    case GRN_LOG_VAR_SERVER_PROTOCOL:
        grn_log_put_value(b, r->protocol.data, r->protocol.len);
        break;
    case GRN_LOG_VAR_SCHEME:
        grn_log_put(b, r->https ? "https" : "http", r->https ? 5 : 4);
        break;
    case GRN_LOG_VAR_STATUS: {
        char  st[3];

        st[0] = (char) ('0' + r->response.status / 100 % 10);
        st[1] = (char) ('0' + r->response.status / 10 % 10);
        st[2] = (char) ('0' + r->response.status % 10);
        grn_log_put(b, st, 3);
        break;
    }
    case GRN_LOG_VAR_BODY_BYTES_SENT:
        grn_log_put_uint(b, (uint64_t) body_sent);
        break;
    case GRN_LOG_VAR_BYTES_SENT:
        grn_log_put_uint(b, (uint64_t) hc->bytes_sent);
        break;
    case GRN_LOG_VAR_REQUEST_TIME: {
        /* A fresh clock: the loop's is from before the app ran. */
        grn_msec_t  now = grn_monotonic_msec();

        grn_log_put_msec(b, now > r->start_msec ? (uint64_t) (now - r->start_msec) : 0);
        break;
    }
    case GRN_LOG_VAR_REQUEST_LENGTH:
        grn_log_put_uint(b, (uint64_t) hc->request_length);
        break;
    case GRN_LOG_VAR_REQUEST_ID:
        s = grn_http_request_id(r);
        grn_log_put_value(b, s->data, s->len);
        break;
    case GRN_LOG_VAR_HOST: {
        /* nginx's $host is lower-case; the name is checked and short (a Host header). */
        char    low[256];
        size_t  k, n = grn_min(r->server_name.len, sizeof(low));

        for (k = 0; k < n; k++) {
            low[k] = (char) tolower((unsigned char) r->server_name.data[k]);
        }
        grn_log_put_value(b, low, n);
        break;
    }
    case GRN_LOG_VAR_SERVER_NAME:
        if (r->srv && r->srv->names.nelts) {
            s = &((grn_http_server_name_t *) r->srv->names.elts)[0].name;
            grn_log_put_value(b, s->data, s->len);
        } else {
            grn_log_put_value(b, NULL, 0);
        }
        break;
    case GRN_LOG_VAR_SERVER_PORT:
        grn_log_put_uint(b, r->server_port ? r->server_port : r->connection->local_port);
        break;
    case GRN_LOG_VAR_PID:
        if (grn_log_pid == 0) {
            grn_log_pid = getpid();
        }
        grn_log_put_uint(b, (uint64_t) grn_log_pid);
        break;
    case GRN_LOG_VAR_CONNECTION:
        grn_log_put_uint(b, r->connection->number);
        break;
    case GRN_LOG_VAR_CONNECTION_REQUESTS:
        grn_log_put_uint(b, r->connection->requests + 1);
        break;
    case GRN_LOG_VAR_APP:
        if (r->loc && r->loc->app) {
            grn_log_put_value(b, r->loc->app->name.data, r->loc->app->name.len);
        } else {
            grn_log_put_value(b, NULL, 0);
        }
        break;
    case GRN_LOG_VAR_CAPTURE:
    case GRN_LOG_VAR_NAMED_CAPTURE: {
        grn_str_t  v;

        grn_http_capture(r, part->capture,
                         part->kind == GRN_LOG_VAR_CAPTURE ? NULL : &part->text, &v);
        grn_log_put_value(b, v.data, v.len);
        break;
    }
    case GRN_LOG_VAR_HTTP:
        grn_log_put_header(b, r, &part->text);
        break;
    case GRN_LOG_VAR_SENT_HTTP:
        grn_log_put_sent_header(b, hc, &part->text);
        break;
    }
}

static void
grn_log_render(grn_log_buf_t *b, grn_http_request_t *r, grn_http_log_format_t *fmt,
    off_t body_sent)
{
    size_t           i;
    grn_log_part_t  *part = fmt->parts.elts;

    for (i = 0; i < fmt->parts.nelts; i++) {
        grn_log_put_var(b, r, &part[i], body_sent);
    }
}

grn_int_t
grn_http_vars_compile(grn_conf_t *cf, grn_str_t *text, const char *directive,
    grn_http_log_format_t **out)
{
    grn_http_log_format_t  *fmt;

    *out = NULL;
    if (text->len == 0 || memchr(text->data, '$', text->len) == NULL) {
        return GRN_OK;
    }
    fmt = grn_pcalloc(cf->pool, sizeof(grn_http_log_format_t));
    if (fmt == NULL) {
        return GRN_ERROR;
    }
    fmt->name.data = (char *) directive;
    fmt->name.len = strlen(directive);
    fmt->format = *text;
    fmt->escape = GRN_LOG_ESCAPE_RAW;
    fmt->directive = 1;
    if (grn_http_log_compile(cf, fmt) != GRN_OK) {
        return GRN_ERROR;
    }
    *out = fmt;
    return GRN_OK;
}

/* Values are as they are (no escaping, no "-"), cut at 8 KB, copied into the request's pool. */
grn_int_t
grn_http_vars_render(grn_http_request_t *r, grn_http_log_format_t *fmt, grn_str_t *out)
{
    static __thread char  buf[8192];
    grn_log_buf_t         b = { buf, 0, sizeof(buf), GRN_LOG_ESCAPE_RAW };

    grn_log_render(&b, r, fmt, 0);
    out->data = grn_pnalloc(r->pool, b.len + 1);
    if (out->data == NULL) {
        return GRN_ERROR;
    }
    memcpy(out->data, buf, b.len);
    out->data[b.len] = '\0';
    out->len = b.len;
    return GRN_OK;
}

/* if=CONDITION: as nginx, the line is skipped when the condition is empty or "0". */
static grn_flag_t
grn_log_condition(grn_http_request_t *r, grn_http_log_format_t *cond, off_t body_sent)
{
    char           value[256];
    grn_log_buf_t  b = { value, 0, sizeof(value), GRN_LOG_ESCAPE_RAW };

    grn_log_render(&b, r, cond, body_sent);
    return !(b.len == 0 || (b.len == 1 && value[0] == '0'));
}


/* Writing lines: directly, or through the thread's buffer. */

struct grn_http_log_buf_s {
    grn_timer_t                  timer;      /* flush= */
    grn_http_worker_t           *worker;
    grn_http_log_buffer_conf_t  *conf;
    char                        *data;       /* conf->size bytes, allocated at the first line */
    size_t                       len;
};

static void
grn_log_write_all(grn_open_file_t *file, const char *data, size_t len, grn_log_t *log)
{
    ssize_t  n;

    while (len) {
        n = write(file->fd, data, len);
        if (n == -1) {
            if (errno == EINTR) {
                continue;
            }
            grn_log_error(GRN_LOG_ALERT, log, errno, "write() to \"%s\" failed",
                          file->name.data);
            return;
        }
        data += n;
        len -= (size_t) n;
    }
}

static void
grn_log_buf_flush(grn_http_log_buf_t *lb)
{
    if (lb->len) {
        grn_log_write_all(lb->conf->file, lb->data, lb->len, lb->worker->log);
        lb->len = 0;
    }
    if (grn_timer_is_set(&lb->timer)) {
        grn_timer_del(lb->worker->loop, &lb->timer);
    }
}

static void
grn_log_buf_timer(grn_timer_t *timer)
{
    grn_log_buf_flush(timer->data);
}

static grn_http_log_buf_t *
grn_log_worker_buf(grn_http_worker_t *w, grn_int_t index)
{
    grn_uint_t             i;
    grn_http_log_buf_t    *lb;
    grn_http_main_conf_t  *hmcf = w->cycle->http;

    if (w->log_bufs == NULL) {
        w->log_bufs = grn_calloc(sizeof(grn_http_log_buf_t) * hmcf->log_buffers.nelts, w->log);
        if (w->log_bufs == NULL) {
            return NULL;
        }
        w->nlog_bufs = hmcf->log_buffers.nelts;
        for (i = 0; i < w->nlog_bufs; i++) {
            lb = &w->log_bufs[i];
            grn_timer_init(&lb->timer, grn_log_buf_timer, lb);
            lb->worker = w;
            lb->conf = &((grn_http_log_buffer_conf_t *) hmcf->log_buffers.elts)[i];
        }
    }

    lb = &w->log_bufs[index];
    if (lb->data == NULL) {
        lb->data = grn_alloc(lb->conf->size, w->log);
    }
    return lb->data ? lb : NULL;
}

static void
grn_log_emit(grn_http_worker_t *w, grn_http_access_log_t *log, const char *line, size_t len)
{
    grn_http_log_buf_t  *lb;

    lb = log->buffer >= 0 ? grn_log_worker_buf(w, log->buffer) : NULL;
    if (lb == NULL) {
        grn_log_write_all(log->file, line, len, w->log);
        return;
    }

    if (lb->len + len > lb->conf->size) {
        grn_log_buf_flush(lb);
    }
    if (len > lb->conf->size) {
        grn_log_write_all(log->file, line, len, w->log);
        return;
    }
    memcpy(lb->data + lb->len, line, len);
    lb->len += len;
    if (lb->conf->flush && !grn_timer_is_set(&lb->timer)) {
        grn_timer_add(w->loop, &lb->timer, lb->conf->flush);
    }
}

void
grn_http_log_request(grn_http_request_t *r, grn_msec_t now GRN_UNUSED, off_t body_sent)
{
    char                    line[GRN_HTTP_LOG_LINE];
    size_t                  i;
    grn_array_t            *logs;
    grn_log_buf_t           b;
    grn_http_conn_t        *hc = r->connection->data;
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
        if (log[i].file->fd == -1
            || (log[i].condition && !grn_log_condition(r, log[i].condition, body_sent)))
        {
            continue;
        }
        b.data = line;
        b.len = 0;
        b.size = sizeof(line) - 1;
        b.escape = log[i].format->escape;
        grn_log_render(&b, r, log[i].format, body_sent);
        line[b.len++] = '\n';
        grn_log_emit(hc->worker, &log[i], line, b.len);
    }
}

void
grn_http_log_flush(grn_http_worker_t *w)
{
    grn_uint_t  i;

    for (i = 0; i < w->nlog_bufs; i++) {
        grn_log_buf_flush(&w->log_bufs[i]);
    }
}

void
grn_http_log_worker_done(grn_http_worker_t *w)
{
    grn_uint_t  i;

    grn_http_log_flush(w);
    for (i = 0; i < w->nlog_bufs; i++) {
        free(w->log_bufs[i].data);
    }
    free(w->log_bufs);
    w->log_bufs = NULL;
    w->nlog_bufs = 0;
}


/* The error log's context. */

size_t
grn_http_log_context(grn_http_connection_t *c, grn_http_request_t *r, char *buf, size_t size)
{
    grn_str_t            *name;
    grn_log_buf_t         b = { buf, 0, size - 1, GRN_HTTP_LOG_ESCAPE_DEFAULT };
    grn_http_srv_conf_t  *srv;

    grn_log_put(&b, ", client: ", 10);
    if (c->remote_addr.len) {
        grn_log_put_value(&b, c->remote_addr.data, c->remote_addr.len);
    } else {
        grn_log_put(&b, "unix:", 5);
    }

    srv = r && r->srv ? r->srv
                      : ((grn_http_addr_t *) c->listening->servers)->default_server;
    if (srv && srv->names.nelts) {
        name = &((grn_http_server_name_t *) srv->names.elts)[0].name;
        grn_log_put(&b, ", server: ", 10);
        grn_log_put_value(&b, name->data, name->len);
    }

    if (r && r->method.len) {
        grn_log_put(&b, ", request: \"", 12);
        grn_log_put_value(&b, r->method.data, r->method.len);
        grn_log_put(&b, " ", 1);
        grn_log_put_value(&b, r->uri.data, r->uri.len);
        if (r->protocol.len) {
            grn_log_put(&b, " ", 1);
            grn_log_put_value(&b, r->protocol.data, r->protocol.len);
        }
        grn_log_put(&b, "\"", 1);
    }
    if (r && r->host.len) {
        grn_log_put(&b, ", host: \"", 9);
        grn_log_put_value(&b, r->host.data, r->host.len);
        grn_log_put(&b, "\"", 1);
    }
    if (r) {
        name = grn_http_request_id(r);
        if (name->len) {
            grn_log_put(&b, ", request_id: ", 14);
            grn_log_put_value(&b, name->data, name->len);
        }
    }

    buf[b.len] = '\0';
    return b.len;
}

void
grn_http_conn_log(grn_uint_t level, grn_http_conn_t *hc, int err, const char *fmt, ...)
{
    int         n;
    char        msg[GRN_LOG_MAX_LINE], ctx[1024], text[128];
    size_t      len;
    va_list     args;
    grn_log_t  *l;

    for (l = hc->worker->log; l; l = l->next) {
        if (level <= l->level) {
            break;
        }
    }
    if (l == NULL) {
        return;                         /* nobody wants the line: do not format the context */
    }

    va_start(args, fmt);
    n = vsnprintf(msg, sizeof(msg), fmt, args);
    va_end(args);
    len = n < 0 ? 0 : grn_min((size_t) n, sizeof(msg) - 1);

    /* As nginx: "recv() failed (104: Connection reset by peer), client: ..." */
    if (err) {
        n = snprintf(msg + len, sizeof(msg) - len, " (%d: %s)", err,
                     strerror_r(err, text, sizeof(text)));
        len = n < 0 ? len : grn_min(len + (size_t) n, sizeof(msg) - 1);
    }

    (void) grn_http_log_context(&hc->c, hc->r, ctx, sizeof(ctx));
    grn_log_error(level, hc->worker->log, 0, "%.*s%s", (int) len, msg, ctx);
}
