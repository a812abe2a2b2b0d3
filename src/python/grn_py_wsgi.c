/*
 * grn_py_wsgi.c: one WSGI call (PEP 3333): the environ, start_response, and the response.
 *
 * This is the hot path of every request, so the work that does not depend on the request is done
 * once per worker: every environ key is interned at init; the constant part of the environ
 * (wsgi.version, wsgi.errors, SERVER_SOFTWARE, the wsgi.* flags) sits in a template dict that
 * each request copies (a dict copy of a clean table is a memcpy plus increfs); the usual methods,
 * protocols and header names map to cached str objects. Per request, Python sees one dict, the
 * str values of the request, and the thread's reused start_response and wsgi.input objects.
 *
 * The response is buffered in this version: start_response stores the status and headers in
 * r->response, each body chunk is appended to r->response.body, and the HTTP layer sends it all
 * when grn_py_call() returns. "Headers sent" (PEP 3333's exc_info rule) means what it will mean
 * once responses stream: a non-empty body chunk has been produced.
 */

#include "grn_py_internal.h"
#include "grn_http_ssl.h"

enum {
    GRN_PY_REQUEST_METHOD = 0,
    GRN_PY_SCRIPT_NAME,
    GRN_PY_PATH_INFO,
    GRN_PY_QUERY_STRING,
    GRN_PY_CONTENT_TYPE,
    GRN_PY_CONTENT_LENGTH,
    GRN_PY_SERVER_NAME,
    GRN_PY_SERVER_PORT,
    GRN_PY_SERVER_PROTOCOL,
    GRN_PY_REMOTE_ADDR,
    GRN_PY_REMOTE_PORT,
    GRN_PY_REQUEST_URI,
    GRN_PY_RAW_URI,
    GRN_PY_SERVER_SOFTWARE,
    GRN_PY_WSGI_VERSION,
    GRN_PY_WSGI_URL_SCHEME,
    GRN_PY_WSGI_INPUT,
    GRN_PY_WSGI_ERRORS,
    GRN_PY_WSGI_MULTITHREAD,
    GRN_PY_WSGI_MULTIPROCESS,
    GRN_PY_WSGI_RUN_ONCE,
    GRN_PY_WSGI_INPUT_TERMINATED,
    GRN_PY_WSGI_FILE_WRAPPER,
    GRN_PY_CLOSE,
    GRN_PY_REQUEST_ID,
    GRN_PY_HTTPS,
    GRN_PY_SSL_PROTOCOL,
    GRN_PY_SSL_CIPHER,
    GRN_PY_SSL_SERVER_NAME,
    GRN_PY_SSL_CLIENT_VERIFY,
    GRN_PY_SSL_CLIENT_S_DN,
    GRN_PY_SSL_CLIENT_I_DN,
    GRN_PY_SSL_CLIENT_SERIAL,
    GRN_PY_SSL_CLIENT_CERT,
    GRN_PY_NKEYS
};

static const char *grn_py_key_names[GRN_PY_NKEYS] = {
    "REQUEST_METHOD",  "SCRIPT_NAME",           "PATH_INFO",         "QUERY_STRING",
    "CONTENT_TYPE",    "CONTENT_LENGTH",        "SERVER_NAME",       "SERVER_PORT",
    "SERVER_PROTOCOL", "REMOTE_ADDR",           "REMOTE_PORT",       "REQUEST_URI",
    "RAW_URI",         "SERVER_SOFTWARE",       "wsgi.version",      "wsgi.url_scheme",
    "wsgi.input",      "wsgi.errors",           "wsgi.multithread",  "wsgi.multiprocess",
    "wsgi.run_once",   "wsgi.input_terminated", "wsgi.file_wrapper", "close",
    "REQUEST_ID",      "HTTPS",                 "SSL_PROTOCOL",      "SSL_CIPHER",
    "SSL_SERVER_NAME", "SSL_CLIENT_VERIFY",     "SSL_CLIENT_S_DN",   "SSL_CLIENT_I_DN",
    "SSL_CLIENT_SERIAL", "SSL_CLIENT_CERT",
};

static PyObject *grn_py_keys[GRN_PY_NKEYS];

/* A str value or environ key chosen by comparing request bytes, without allocating. */
typedef struct {
    grn_str_t name;
    PyObject *value;
} grn_py_cached_t;

static grn_py_cached_t grn_py_methods[] = {
    {grn_string("GET"), NULL},     {grn_string("POST"), NULL},   {grn_string("HEAD"), NULL},
    {grn_string("PUT"), NULL},     {grn_string("DELETE"), NULL}, {grn_string("PATCH"), NULL},
    {grn_string("OPTIONS"), NULL},
};

static grn_py_cached_t grn_py_protocols[] = {
    {grn_string("HTTP/1.1"), NULL},
    {grn_string("HTTP/1.0"), NULL},
};

/* Header names (lower case) whose HTTP_ key is interned once: what browsers and proxies send. */
static grn_py_cached_t grn_py_header_keys[] = {
    {grn_string("host"), NULL},
    {grn_string("user-agent"), NULL},
    {grn_string("accept"), NULL},
    {grn_string("accept-encoding"), NULL},
    {grn_string("accept-language"), NULL},
    {grn_string("connection"), NULL},
    {grn_string("cookie"), NULL},
    {grn_string("referer"), NULL},
    {grn_string("cache-control"), NULL},
    {grn_string("pragma"), NULL},
    {grn_string("origin"), NULL},
    {grn_string("authorization"), NULL},
    {grn_string("if-modified-since"), NULL},
    {grn_string("if-none-match"), NULL},
    {grn_string("upgrade-insecure-requests"), NULL},
    {grn_string("dnt"), NULL},
    {grn_string("x-forwarded-for"), NULL},
    {grn_string("x-forwarded-proto"), NULL},
    {grn_string("x-forwarded-host"), NULL},
    {grn_string("x-real-ip"), NULL},
    {grn_string("x-requested-with"), NULL},
    {grn_string("keep-alive"), NULL},
    {grn_string("sec-fetch-dest"), NULL},
    {grn_string("sec-fetch-mode"), NULL},
    {grn_string("sec-fetch-site"), NULL},
    {grn_string("sec-fetch-user"), NULL},
    {grn_string("range"), NULL},
    {grn_string("expect"), NULL},
};

#define GRN_PY_COOKIE_KEY 6 /* index of "cookie" above: repeated cookies join with "; " */

#define GRN_PY_ENVIRON_SIZE 40

static PyObject *grn_py_environ_template;
static PyObject *grn_py_https;

/* RFC 9110 tchar: the bytes allowed in a header name. */
static uint8_t grn_py_tchar[256];

/*
 * start_response. The object itself is the callable (vectorcall, no bound-method object per
 * request) and keeps the `write` callable it hands out. Each thread reuses its responder from
 * request to request unless the app kept a reference to it or to its write.
 */
typedef struct {
    PyObject_HEAD vectorcallfunc vectorcall;
    grn_http_request_t          *r;           /* NULL outside of its request */
    PyObject                    *write;       /* bound to this object: a cycle broken by hand */
    grn_uint_t                   nheaders;    /* response headers that were there before the app */
    unsigned                     started : 1; /* start_response() succeeded */
    unsigned                     sent : 1;    /* a non-empty body chunk was produced */
} grn_py_responder_t;

/*
 * A response whose body is still being pulled from the app's iterable. The start_response
 * object and wsgi.input belong to the request while it streams, so they are taken away from
 * the thread (which meanwhile serves other connections with fresh ones).
 */
/* ", client: 127.0.0.1, server: ..., request: "GET / HTTP/1.1", ..." after a message. */
#define GRN_PY_REQ_FMT  "%s"
#define GRN_PY_REQ_ARGS(r)  grn_py_request_context(r)

/* The request the calling thread is running the app for: wsgi.errors lines name it. */
__thread grn_http_request_t  *grn_py_request;

const char *
grn_py_request_context(grn_http_request_t *r)
{
    static __thread char  ctx[1024];

    if (r == NULL || r->connection == NULL) {
        return "";
    }
    (void) grn_http_log_context(r->connection, r, ctx, sizeof(ctx));
    return ctx;
}

/*
 * The app raised, with the exception set. When its read of the request body failed because
 * the client did (went away, timed out, sent a bad chunk), that is the client's doing: one
 * info line instead of an error with a traceback, and the client gets its 4xx.
 */
static void
grn_py_log_app_exception(grn_http_request_t *r)
{
    if (grn_http_body_error(r)) {
        PyErr_Clear();
        grn_log_error(GRN_LOG_INFO, grn_py.log, 0, "the application stopped: the client failed "
                      "to send the request body" GRN_PY_REQ_FMT, GRN_PY_REQ_ARGS(r));
        return;
    }
    grn_py_log_exception(GRN_LOG_ERR, "unhandled exception in WSGI application" GRN_PY_REQ_FMT,
                         GRN_PY_REQ_ARGS(r));
}

typedef struct {
    PyObject  *result;      /* what the app returned: its close() is called at the end */
    PyObject  *iter;
    PyObject  *responder;
    PyObject  *input;
} grn_py_stream_t;

static PyTypeObject grn_py_responder_type;

static grn_int_t
grn_py_cache_init(grn_py_cached_t *cache, size_t n, const char *prefix)
{
    char   buf[64];
    size_t i, j, len;

    for (i = 0; i < n; i++) {
        len = snprintf(buf, sizeof(buf), "%s%.*s", prefix, (int) cache[i].name.len,
                       cache[i].name.data);

        if (*prefix != '\0') {
            for (j = 0; j < len; j++) {
                buf[j] = (buf[j] == '-') ? '_' : (char) toupper((unsigned char) buf[j]);
            }
        }

        cache[i].value = PyUnicode_InternFromString(buf);
        if (cache[i].value == NULL) {
            return GRN_ERROR;
        }
    }

    return GRN_OK;
}

static void
grn_py_cache_done(grn_py_cached_t *cache, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        Py_CLEAR(cache[i].value);
    }
}

static PyObject *
grn_py_cache_find(grn_py_cached_t *cache, size_t n, const grn_str_t *s)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (grn_str_eq(&cache[i].name, s)) {
            return cache[i].value;
        }
    }

    return NULL;
}

static grn_int_t
grn_py_template_init(void)
{
    int             rc;
    grn_int_t       workers;
    grn_app_conf_t *app = grn_py.app;
    PyObject       *t, *version, *software, *empty, *http;

    /*
     * PyDict_Copy() clones the template's whole key table, so a table sized for a full environ
     * (the CGI keys and a browser's worth of headers) spares every request its resizes.
     */
    t = _PyDict_NewPresized(GRN_PY_ENVIRON_SIZE);
    if (t == NULL) {
        return GRN_ERROR;
    }

    version = Py_BuildValue("(ii)", 1, 0);
    software = PyUnicode_InternFromString(GREENC_VER);
    empty = PyUnicode_FromStringAndSize(NULL, 0);
    http = PyUnicode_InternFromString("http");

    workers = app->workers;
    if (workers == GRN_WORKERS_AUTO) {
        workers = (grn_py.cycle->ncpu != 1) ? 2 : 1;
    }

    rc = (version == NULL || software == NULL || empty == NULL || http == NULL) ||
         PyDict_SetItem(t, grn_py_keys[GRN_PY_SERVER_SOFTWARE], software) ||
         PyDict_SetItem(t, grn_py_keys[GRN_PY_SCRIPT_NAME], empty) ||
         PyDict_SetItem(t, grn_py_keys[GRN_PY_QUERY_STRING], empty) ||
         PyDict_SetItem(t, grn_py_keys[GRN_PY_WSGI_VERSION], version) ||
         PyDict_SetItem(t, grn_py_keys[GRN_PY_WSGI_URL_SCHEME], http) ||
         PyDict_SetItem(t, grn_py_keys[GRN_PY_WSGI_ERRORS], grn_py_errors_object()) ||
         PyDict_SetItem(t, grn_py_keys[GRN_PY_WSGI_MULTITHREAD],
                        app->threads > 1 ? Py_True : Py_False) ||
         PyDict_SetItem(t, grn_py_keys[GRN_PY_WSGI_MULTIPROCESS],
                        workers > 1 ? Py_True : Py_False) ||
         PyDict_SetItem(t, grn_py_keys[GRN_PY_WSGI_RUN_ONCE], Py_False) ||
         PyDict_SetItem(t, grn_py_keys[GRN_PY_WSGI_INPUT_TERMINATED], Py_True) ||
         PyDict_SetItem(t, grn_py_keys[GRN_PY_WSGI_FILE_WRAPPER], grn_py_file_wrapper_type());

    Py_XDECREF(version);
    Py_XDECREF(software);
    Py_XDECREF(empty);
    Py_XDECREF(http);

    if (rc != 0) {
        Py_DECREF(t);
        return GRN_ERROR;
    }

    grn_py_environ_template = t;

    return GRN_OK;
}

grn_int_t
grn_py_wsgi_init(void)
{
    int         c;
    size_t      i;
    const char *tchar = "!#$%&'*+-.^_`|~";

    for (c = 0; c < 256; c++) {
        grn_py_tchar[c] = isalnum(c) || (c != 0 && strchr(tchar, c) != NULL);
    }

    for (i = 0; i < GRN_PY_NKEYS; i++) {
        grn_py_keys[i] = PyUnicode_InternFromString(grn_py_key_names[i]);
        if (grn_py_keys[i] == NULL) {
            return GRN_ERROR;
        }
    }

    grn_py_https = PyUnicode_InternFromString("https");

    if (grn_py_https == NULL ||
        grn_py_cache_init(grn_py_methods, grn_nelems(grn_py_methods), "") != GRN_OK ||
        grn_py_cache_init(grn_py_protocols, grn_nelems(grn_py_protocols), "") != GRN_OK ||
        grn_py_cache_init(grn_py_header_keys, grn_nelems(grn_py_header_keys), "HTTP_") != GRN_OK ||
        grn_py_template_init() != GRN_OK) {
        return GRN_ERROR;
    }

    return (PyType_Ready(&grn_py_responder_type) < 0) ? GRN_ERROR : GRN_OK;
}

void
grn_py_wsgi_done(void)
{
    size_t i;

    for (i = 0; i < GRN_PY_NKEYS; i++) {
        Py_CLEAR(grn_py_keys[i]);
    }

    grn_py_cache_done(grn_py_methods, grn_nelems(grn_py_methods));
    grn_py_cache_done(grn_py_protocols, grn_nelems(grn_py_protocols));
    grn_py_cache_done(grn_py_header_keys, grn_nelems(grn_py_header_keys));
    Py_CLEAR(grn_py_https);
    Py_CLEAR(grn_py_environ_template);
}


/* The environ. */

static int
grn_py_set_str(PyObject *env, int key, const char *data, size_t len)
{
    int       rc;
    PyObject *value;

    value = PyUnicode_DecodeLatin1(data, len, NULL);
    if (value == NULL) {
        return -1;
    }

    rc = PyDict_SetItem(env, grn_py_keys[key], value);
    Py_DECREF(value);

    return rc;
}

static PyObject *
grn_py_uint_str(grn_uint_t n)
{
    char buf[24], *p;

    p = buf + sizeof(buf);

    do {
        *--p = (char) ('0' + n % 10);
        n /= 10;
    } while (n != 0);

    return PyUnicode_DecodeLatin1(p, buf + sizeof(buf) - p, NULL);
}

static int
grn_py_set_uint(PyObject *env, int key, grn_uint_t n)
{
    int       rc;
    PyObject *value;

    value = grn_py_uint_str(n);
    if (value == NULL) {
        return -1;
    }

    rc = PyDict_SetItem(env, grn_py_keys[key], value);
    Py_DECREF(value);

    return rc;
}

/* Sets key to the str in *cached when it has these bytes, else to a new one kept there. */
static int
grn_py_set_cached_str(PyObject *env, int key, PyObject **cached, const char *data, size_t len)
{
    PyObject  *s = *cached;

    if (s == NULL || (size_t) PyUnicode_GET_LENGTH(s) != len
        || memcmp(PyUnicode_DATA(s), data, len) != 0)
    {
        s = PyUnicode_DecodeLatin1(data, len, NULL);
        if (s == NULL) {
            return -1;
        }
        Py_XSETREF(*cached, s);
    }

    return PyDict_SetItem(env, grn_py_keys[key], s);
}

/* The same for a number: *cached_n is the number *cached spells. */
static int
grn_py_set_cached_uint(PyObject *env, int key, PyObject **cached, grn_uint_t *cached_n,
                       grn_uint_t n)
{
    PyObject  *s;

    if (*cached == NULL || *cached_n != n) {
        s = grn_py_uint_str(n);
        if (s == NULL) {
            return -1;
        }
        Py_XSETREF(*cached, s);
        *cached_n = n;
    }

    return PyDict_SetItem(env, grn_py_keys[key], *cached);
}

/* Joins a repeated header's value to the one already in the environ. */
static int
grn_py_join_header(PyObject *env, PyObject *key, PyObject *old, grn_str_t *value, int cookie)
{
    int         rc;
    char        stack[1024], *buf;
    size_t      old_len, sep_len, len;
    PyObject   *joined;
    const char *sep;

    sep = cookie ? "; " : ",";
    sep_len = cookie ? 2 : 1;
    old_len = PyUnicode_GET_LENGTH(old);
    len = old_len + sep_len + value->len;

    buf = (len <= sizeof(stack)) ? stack : PyMem_Malloc(len);
    if (buf == NULL) {
        PyErr_NoMemory();
        return -1;
    }

    /* Every header value here came from PyUnicode_DecodeLatin1(): one byte per character. */
    memcpy(buf, PyUnicode_DATA(old), old_len);
    memcpy(buf + old_len, sep, sep_len);
    memcpy(buf + old_len + sep_len, value->data, value->len);

    joined = PyUnicode_DecodeLatin1(buf, len, NULL);

    if (buf != stack) {
        PyMem_Free(buf);
    }

    if (joined == NULL) {
        return -1;
    }

    rc = PyDict_SetItem(env, key, joined);
    Py_DECREF(joined);

    return rc;
}

/*
 * HTTP_* keys. A header whose name contains "_" is dropped, as nginx and Gunicorn do: both
 * "X-User" and "X_User" would become HTTP_X_USER, so a client could forge a header that a
 * proxy in front set (or deleted) under its dashed name. Content-Type and Content-Length are
 * CONTENT_TYPE and CONTENT_LENGTH only.
 */
static int
grn_py_set_headers(PyObject *env, grn_http_request_t *r)
{
    int                cookie;
    char               lower[32];
    size_t             i, j;
    Py_UCS1           *p;
    PyObject          *key, *value, *old;
    grn_str_t          name;
    grn_http_header_t *h;

    h = r->headers.elts;

    for (i = 0; i < r->headers.nelts; i++) {
        if (h[i].name.len == 0 || memchr(h[i].name.data, '_', h[i].name.len) != NULL) {
            continue;
        }

        key = NULL;
        cookie = 0;

        if (h[i].name.len <= sizeof(lower)) {
            for (j = 0; j < h[i].name.len; j++) {
                lower[j] = (char) tolower((unsigned char) h[i].name.data[j]);
            }

            name.data = lower;
            name.len = h[i].name.len;

            if (grn_str_eq_lit(&name, "content-type") || grn_str_eq_lit(&name, "content-length")) {
                continue;
            }

            key = grn_py_cache_find(grn_py_header_keys, grn_nelems(grn_py_header_keys), &name);

            if (key != NULL) {
                Py_INCREF(key);
                cookie = (key == grn_py_header_keys[GRN_PY_COOKIE_KEY].value);
            }
        }

        if (key == NULL) {
            key = PyUnicode_New(5 + h[i].name.len, 127);
            if (key == NULL) {
                return -1;
            }

            p = PyUnicode_1BYTE_DATA(key);
            memcpy(p, "HTTP_", 5);
            p += 5;

            for (j = 0; j < h[i].name.len; j++) {
                p[j] = (Py_UCS1) toupper((unsigned char) h[i].name.data[j]);

                if (p[j] == '-') {
                    p[j] = '_';

                } else if (p[j] >= 0x80) {
                    break; /* not a token: the HTTP layer should not have let it in */
                }
            }

            if (j < h[i].name.len) {
                Py_DECREF(key);
                continue;
            }
        }

        value = PyUnicode_DecodeLatin1(h[i].value.data, h[i].value.len, NULL);
        if (value == NULL) {
            Py_DECREF(key);
            return -1;
        }

        old = PyDict_SetDefault(env, key, value); /* borrowed */

        if (old != value &&
            (old == NULL || grn_py_join_header(env, key, old, &h[i].value, cookie) != 0)) {
            Py_DECREF(value);
            Py_DECREF(key);
            return -1;
        }

        Py_DECREF(value);
        Py_DECREF(key);
    }

    return 0;
}

static int
grn_py_set_tls(PyObject *env, grn_http_tls_t *tls)
{
    grn_uint_t  i;
    struct {
        grn_uint_t  key;
        grn_str_t  *value;
    } vars[] = {
        { GRN_PY_SSL_PROTOCOL, &tls->protocol },
        { GRN_PY_SSL_CIPHER, &tls->cipher },
        { GRN_PY_SSL_SERVER_NAME, &tls->server_name },
        { GRN_PY_SSL_CLIENT_VERIFY, &tls->verify },
        { GRN_PY_SSL_CLIENT_S_DN, &tls->s_dn },
        { GRN_PY_SSL_CLIENT_I_DN, &tls->i_dn },
        { GRN_PY_SSL_CLIENT_SERIAL, &tls->serial },
        { GRN_PY_SSL_CLIENT_CERT, &tls->cert },
    };

    for (i = 0; i < grn_nelems(vars); i++) {
        if (vars[i].value->len
            && grn_py_set_str(env, vars[i].key, vars[i].value->data, vars[i].value->len) != 0)
        {
            return -1;
        }
    }
    return 0;
}

static PyObject *
grn_py_environ(grn_py_thread_t *t, grn_http_request_t *r)
{
    size_t                 sn_len;
    PyObject              *env, *value;
    grn_str_t             *sn, *rid;
    grn_http_tls_t        *tls;
    grn_http_connection_t *c = r->connection;

    env = PyDict_Copy(grn_py_environ_template);
    if (env == NULL) {
        return NULL;
    }

    value = grn_py_cache_find(grn_py_methods, grn_nelems(grn_py_methods), &r->method);

    if (value != NULL) {
        if (PyDict_SetItem(env, grn_py_keys[GRN_PY_REQUEST_METHOD], value) != 0) {
            goto failed;
        }

    } else if (grn_py_set_str(env, GRN_PY_REQUEST_METHOD, r->method.data, r->method.len) != 0) {
        goto failed;
    }

    /*
     * SCRIPT_NAME is the location's mount point when the path is under it ("/api" for "/api"
     * and "/api/x", not for "/apix"); PATH_INFO is the rest of the decoded path.
     */
    sn_len = 0;
    sn = (r->loc != NULL) ? &r->loc->script_name : NULL;

    if (sn != NULL && sn->len > 0) {
        sn_len = sn->len;

        while (sn_len > 0 && sn->data[sn_len - 1] == '/') {
            sn_len--;
        }

        if (sn_len > r->path.len || memcmp(r->path.data, sn->data, sn_len) != 0 ||
            (r->path.len > sn_len && r->path.data[sn_len] != '/')) {
            sn_len = 0;
        }

        if (sn_len > 0 && grn_py_set_str(env, GRN_PY_SCRIPT_NAME, sn->data, sn_len) != 0) {
            goto failed;
        }
    }

    if (r->query.len > 0 &&
        grn_py_set_str(env, GRN_PY_QUERY_STRING, r->query.data, r->query.len) != 0) {
        goto failed;
    }

    if (r->content_type.len > 0 &&
        grn_py_set_str(env, GRN_PY_CONTENT_TYPE, r->content_type.data, r->content_type.len) != 0) {
        goto failed;
    }

    /*
     * A buffered chunked body has been received whole, so its length is known: giving it as
     * CONTENT_LENGTH serves the apps (Django) that read only that many bytes and ignore
     * wsgi.input_terminated. A streamed chunked body has none yet.
     */
    if (r->content_length >= 0 || r->chunked) {
        off_t  length = grn_http_body_length(r);

        if (length >= 0 && grn_py_set_uint(env, GRN_PY_CONTENT_LENGTH, (grn_uint_t) length) != 0) {
            goto failed;
        }
    }

    if (grn_py_set_cached_str(env, GRN_PY_SERVER_NAME, &t->server_name, r->server_name.data,
                              r->server_name.len) != 0
        || grn_py_set_cached_uint(env, GRN_PY_SERVER_PORT, &t->server_port_str, &t->server_port,
                                  r->server_port) != 0)
    {
        goto failed;
    }

    value = grn_py_cache_find(grn_py_protocols, grn_nelems(grn_py_protocols), &r->protocol);

    if (value != NULL) {
        if (PyDict_SetItem(env, grn_py_keys[GRN_PY_SERVER_PROTOCOL], value) != 0) {
            goto failed;
        }

    } else if (grn_py_set_str(env, GRN_PY_SERVER_PROTOCOL, r->protocol.data, r->protocol.len) !=
               0) {
        goto failed;
    }

    if (c != NULL
        && (grn_py_set_cached_str(env, GRN_PY_REMOTE_ADDR, &t->remote_addr, c->remote_addr.data,
                                  c->remote_addr.len) != 0
            || grn_py_set_cached_uint(env, GRN_PY_REMOTE_PORT, &t->remote_port_str,
                                      &t->remote_port, c->remote_port) != 0))
    {
        goto failed;
    }

    value = PyUnicode_DecodeLatin1(r->uri.data, r->uri.len, NULL);

    if (value == NULL || PyDict_SetItem(env, grn_py_keys[GRN_PY_REQUEST_URI], value) != 0 ||
        PyDict_SetItem(env, grn_py_keys[GRN_PY_RAW_URI], value) != 0) {
        Py_XDECREF(value);
        goto failed;
    }

    /* Most targets need no decoding and have no query: PATH_INFO is then the same str. */
    if (sn_len == 0 && r->path.len == r->uri.len
        && memcmp(r->path.data, r->uri.data, r->uri.len) == 0)
    {
        if (PyDict_SetItem(env, grn_py_keys[GRN_PY_PATH_INFO], value) != 0) {
            Py_DECREF(value);
            goto failed;
        }

    } else if (grn_py_set_str(env, GRN_PY_PATH_INFO, r->path.data + sn_len,
                              r->path.len - sn_len) != 0)
    {
        Py_DECREF(value);
        goto failed;
    }

    Py_DECREF(value);

    if (r->https
        && (PyDict_SetItem(env, grn_py_keys[GRN_PY_WSGI_URL_SCHEME], grn_py_https) != 0
            || grn_py_set_str(env, GRN_PY_HTTPS, "on", 2) != 0))
    {
        goto failed;
    }

    /* TLS: as mod_ssl and nginx Unit name them; the client certificate's only when sent. */
    tls = grn_http_ssl_info(r);
    if (tls != NULL && grn_py_set_tls(env, tls) != 0) {
        goto failed;
    }

    /* The id the access and error logs give this request (HTTP_X_REQUEST_ID is the client's). */
    rid = grn_http_request_id(r);
    if (rid->len && grn_py_set_str(env, GRN_PY_REQUEST_ID, rid->data, rid->len) != 0) {
        goto failed;
    }

    /* The thread's wsgi.input, unless the last app kept it (then it stays empty and is theirs). */
    if (t->input == NULL || Py_REFCNT(t->input) != 1) {
        Py_XSETREF(t->input, grn_py_input_new());

        if (t->input == NULL) {
            goto failed;
        }
    }

    grn_py_input_reset(t->input, r);

    if (PyDict_SetItem(env, grn_py_keys[GRN_PY_WSGI_INPUT], t->input) != 0) {
        goto failed;
    }

    if (grn_py_set_headers(env, r) != 0) {
        goto failed;
    }

    return env;

failed:

    Py_DECREF(env);
    return NULL;
}


/* start_response and write. */

static void
grn_py_response_reset(grn_http_request_t *r, grn_uint_t nheaders)
{
    r->response.status = 0;
    grn_str_null(&r->response.status_line);
    r->response.headers.nelts = nheaders;
    r->response.content_length = -1;
    r->response.body_len = 0;
}

/* The one-byte-per-character content of a str, or NULL with ValueError/TypeError set. */
static const char *
grn_py_latin1(PyObject *s, size_t *len, const char *what)
{
    if (!PyUnicode_Check(s)) {
        PyErr_Format(PyExc_TypeError, "%s must be str, not %.100s", what, Py_TYPE(s)->tp_name);
        return NULL;
    }

    if (PyUnicode_KIND(s) != PyUnicode_1BYTE_KIND) {
        PyErr_Format(PyExc_ValueError, "%s must contain only latin-1 characters: %R", what, s);
        return NULL;
    }

    *len = PyUnicode_GET_LENGTH(s);

    return (const char *) PyUnicode_1BYTE_DATA(s);
}

/* Characters that must not appear in a status line or a header value: CR, LF, NUL, other CTLs. */
static int
grn_py_has_ctl(const char *data, size_t len)
{
    size_t        i;
    unsigned char c;

    for (i = 0; i < len; i++) {
        c = (unsigned char) data[i];

        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            return 1;
        }
    }

    return 0;
}

static int
grn_py_is_hop_by_hop(const char *name, size_t len)
{
    static const grn_str_t hop[] = {
        grn_string("connection"), grn_string("keep-alive"), grn_string("transfer-encoding"),
        grn_string("upgrade"),    grn_string("te"),         grn_string("trailer"),
        grn_string("trailers"),
    };

    size_t i;

    if (len > 6 && strncasecmp(name, "proxy-", 6) == 0) {
        return 1;
    }

    for (i = 0; i < grn_nelems(hop); i++) {
        if (len == hop[i].len && strncasecmp(name, hop[i].data, len) == 0) {
            return 1;
        }
    }

    return 0;
}

static int
grn_py_set_status(grn_http_request_t *r, PyObject *status)
{
    size_t      len;
    const char *s;

    s = grn_py_latin1(status, &len, "status");
    if (s == NULL) {
        return -1;
    }

    if (len < 4 || s[0] < '1' || s[0] > '9' || s[1] < '0' || s[1] > '9' || s[2] < '0' ||
        s[2] > '9' || s[3] != ' ' || grn_py_has_ctl(s, len)) {
        PyErr_Format(PyExc_ValueError,
                     "status must be a 3-digit code, a space and a reason "
                     "phrase without control characters, like \"200 OK\"; got %R",
                     status);
        return -1;
    }

    if (grn_http_response_set_status(r, (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0'), s,
                                     len) != GRN_OK) {
        PyErr_NoMemory();
        return -1;
    }

    return 0;
}

static int
grn_py_add_header(grn_http_request_t *r, PyObject *header)
{
    size_t      name_len, value_len, i;
    off_t       length;
    PyObject   *name_obj, *value_obj;
    const char *name, *value;

    if (!(PyTuple_Check(header) && PyTuple_GET_SIZE(header) == 2)) {
        PyErr_Format(PyExc_TypeError,
                     "each header must be a (name, value) tuple of two str, "
                     "not %R",
                     header);
        return -1;
    }

    name_obj = PyTuple_GET_ITEM(header, 0);
    value_obj = PyTuple_GET_ITEM(header, 1);

    name = grn_py_latin1(name_obj, &name_len, "header name");
    if (name == NULL) {
        return -1;
    }

    value = grn_py_latin1(value_obj, &value_len, "header value");
    if (value == NULL) {
        return -1;
    }

    for (i = 0; i < name_len; i++) {
        if (!grn_py_tchar[(unsigned char) name[i]]) {
            break;
        }
    }

    if (name_len == 0 || i < name_len) {
        PyErr_Format(PyExc_ValueError, "header name %R is not a valid HTTP token", name_obj);
        return -1;
    }

    if (grn_py_has_ctl(value, value_len)) {
        PyErr_Format(PyExc_ValueError,
                     "value of header %R contains a control character "
                     "(CR, LF, NUL, ...): %R",
                     name_obj, value_obj);
        return -1;
    }

    if (grn_py_is_hop_by_hop(name, name_len)) {
        PyErr_Format(PyExc_ValueError,
                     "hop-by-hop header %R is not allowed in a WSGI response "
                     "(PEP 3333): the server manages the connection",
                     name_obj);
        return -1;
    }

    if (name_len == 14 && strncasecmp(name, "content-length", 14) == 0) {
        length = (off_t) grn_atoi(value, value_len);

        if (value_len == 0 || length < 0 ||
            (r->response.content_length >= 0 && r->response.content_length != length)) {
            PyErr_Format(PyExc_ValueError, "invalid Content-Length header: %R", value_obj);
            return -1;
        }

        r->response.content_length = length;
    }

    if (grn_http_response_add_header(r, name, name_len, value, value_len) != GRN_OK) {
        PyErr_NoMemory();
        return -1;
    }

    return 0;
}

static int
grn_py_set_response_head(grn_http_request_t *r, grn_uint_t nheaders, PyObject *status,
                         PyObject *headers)
{
    Py_ssize_t i, n;
    PyObject **items;

    if (!PyList_Check(headers) && !PyTuple_Check(headers)) {
        PyErr_Format(PyExc_TypeError,
                     "headers must be a list of (name, value) tuples, not "
                     "%.100s",
                     Py_TYPE(headers)->tp_name);
        return -1;
    }

    grn_py_response_reset(r, nheaders);

    if (grn_py_set_status(r, status) != 0) {
        goto failed;
    }

    /* No Python code runs in the loop, so the list cannot change under it. */
    n = PySequence_Fast_GET_SIZE(headers);
    items = PySequence_Fast_ITEMS(headers);

    for (i = 0; i < n; i++) {
        if (grn_py_add_header(r, items[i]) != 0) {
            goto failed;
        }
    }

    return 0;

failed:

    grn_py_response_reset(r, nheaders);
    return -1;
}

static PyObject *
grn_py_start_response(PyObject *obj, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    size_t              nargs;
    Py_ssize_t          i, nkw;
    PyObject           *arg[3], *exc_info;
    const char         *kw;
    grn_http_request_t *r;
    grn_py_responder_t *self = (grn_py_responder_t *) obj;

    nargs = PyVectorcall_NARGS(nargsf);
    nkw = (kwnames != NULL) ? PyTuple_GET_SIZE(kwnames) : 0;

    if (nargs > 3) {
        PyErr_Format(PyExc_TypeError,
                     "start_response() takes from 2 to 3 positional "
                     "arguments but %zu were given",
                     nargs);
        return NULL;
    }

    arg[0] = arg[1] = arg[2] = NULL;

    for (i = 0; i < (Py_ssize_t) nargs; i++) {
        arg[i] = args[i];
    }

    for (i = 0; i < nkw; i++) {
        kw = PyUnicode_AsUTF8(PyTuple_GET_ITEM(kwnames, i));
        if (kw == NULL) {
            return NULL;
        }

        if (strcmp(kw, "status") == 0 && arg[0] == NULL) {
            arg[0] = args[nargs + i];

        } else if (strcmp(kw, "headers") == 0 && arg[1] == NULL) {
            arg[1] = args[nargs + i];

        } else if (strcmp(kw, "exc_info") == 0 && arg[2] == NULL) {
            arg[2] = args[nargs + i];

        } else {
            PyErr_Format(PyExc_TypeError,
                         "start_response() got an unexpected or repeated "
                         "keyword argument '%s'",
                         kw);
            return NULL;
        }
    }

    if (arg[0] == NULL || arg[1] == NULL) {
        PyErr_SetString(PyExc_TypeError, "start_response() missing required argument "
                                         "'status' or 'headers'");
        return NULL;
    }

    r = self->r;

    if (r == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "start_response() called after its request ended");
        return NULL;
    }

    exc_info = (arg[2] != NULL && arg[2] != Py_None) ? arg[2] : NULL;

    if (exc_info == NULL) {
        if (self->started) {
            PyErr_SetString(PyExc_RuntimeError, "start_response() called a second time "
                                                "without exc_info");
            return NULL;
        }

    } else if (self->started && (self->sent || r->response.body_len > 0)) {
        /* The headers are out (PEP 3333): re-raise the app's exception. */
        if (!PyTuple_Check(exc_info) || PyTuple_GET_SIZE(exc_info) != 3) {
            PyErr_SetString(PyExc_TypeError, "exc_info must be a (type, value, traceback) "
                                             "tuple as returned by sys.exc_info()");
            return NULL;
        }

        PyErr_Restore(
            Py_NewRef(PyTuple_GET_ITEM(exc_info, 0)), Py_NewRef(PyTuple_GET_ITEM(exc_info, 1)),
            PyTuple_GET_ITEM(exc_info, 2) == Py_None ? NULL
                                                     : Py_NewRef(PyTuple_GET_ITEM(exc_info, 2)));
        return NULL;
    }

    /* First call, or an error page replacing headers that have not gone out. */

    self->started = 0;

    if (grn_py_set_response_head(r, self->nheaders, arg[0], arg[1]) != 0) {
        return NULL;
    }

    self->started = 1;

    return Py_NewRef(self->write);
}

static PyObject *
grn_py_write(PyObject *obj, PyObject *data)
{
    grn_py_responder_t *self = (grn_py_responder_t *) obj;

    if (self->r == NULL || !self->started) {
        PyErr_SetString(PyExc_RuntimeError, "write() called outside of its response");
        return NULL;
    }

    if (!PyBytes_Check(data)) {
        PyErr_Format(PyExc_TypeError, "write() argument must be bytes, not %.100s",
                     Py_TYPE(data)->tp_name);
        return NULL;
    }

    if (grn_http_response_append(self->r, PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data)) !=
        GRN_OK) {
        return PyErr_NoMemory();
    }
    if (PyBytes_GET_SIZE(data) > 0) {
        self->sent = 1;
    }

    Py_RETURN_NONE;
}

static PyMethodDef grn_py_write_def = {"write", grn_py_write, METH_O,
                                       "write(data): append bytes to the response body."};

static void
grn_py_responder_dealloc(PyObject *obj)
{
    /* self->write, holding a reference to us, is gone by now: see grn_py_responder_drop(). */
    PyObject_Free(obj);
}

/* clang-format off: the macro ends with a comma that clang-format does not see */
static PyTypeObject grn_py_responder_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "greenc.StartResponse",
    .tp_doc = "start_response(status, headers, exc_info=None)",
    .tp_basicsize = sizeof(grn_py_responder_t),
    .tp_dealloc = grn_py_responder_dealloc,
    .tp_vectorcall_offset = offsetof(grn_py_responder_t, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL,
};
/* clang-format on */

static PyObject *
grn_py_responder_new(void)
{
    grn_py_responder_t *self;

    self = PyObject_New(grn_py_responder_t, &grn_py_responder_type);
    if (self == NULL) {
        return NULL;
    }

    self->vectorcall = grn_py_start_response;
    self->r = NULL;
    self->nheaders = 0;
    self->started = 0;

    self->write = PyCFunction_NewEx(&grn_py_write_def, (PyObject *) self, NULL);
    if (self->write == NULL) {
        Py_DECREF(self);
        return NULL;
    }

    return (PyObject *) self;
}

/* Breaks the responder/write cycle and drops the thread's reference. */
static void
grn_py_responder_drop(PyObject **responder)
{
    grn_py_responder_t *self = (grn_py_responder_t *) *responder;

    if (self == NULL) {
        return;
    }

    *responder = NULL;
    Py_CLEAR(self->write);
    Py_DECREF(self);
}

void
grn_py_wsgi_thread_done(grn_py_thread_t *t)
{
    grn_py_responder_drop(&t->responder);
    Py_CLEAR(t->input);
    Py_CLEAR(t->server_port_str);
    Py_CLEAR(t->remote_port_str);
    Py_CLEAR(t->remote_addr);
    Py_CLEAR(t->server_name);
}


/* The call. */

static int
grn_py_append_chunk(grn_py_responder_t *resp, PyObject *item)
{
    if (!PyBytes_Check(item)) {
        PyErr_Format(PyExc_TypeError,
                     "the WSGI response iterable must yield bytes, not "
                     "%.100s",
                     Py_TYPE(item)->tp_name);
        return -1;
    }

    if (PyBytes_GET_SIZE(item) == 0) {
        return 0;
    }

    if (!resp->started) {
        PyErr_SetString(PyExc_RuntimeError, "the WSGI application produced body data before "
                                            "calling start_response()");
        return -1;
    }

    if (grn_http_response_append(resp->r, PyBytes_AS_STRING(item), PyBytes_GET_SIZE(item)) !=
        GRN_OK) {
        PyErr_NoMemory();
        return -1;
    }

    resp->sent = 1;
    return 1;
}

/*
 * Pulls items until one is non-empty (1: it is in the response body and more may follow) or
 * the iterator ends (0). -1 with an exception set.
 */
static int
grn_py_pull(grn_py_responder_t *resp, PyObject *iter)
{
    int        rc;
    PyObject  *item;

    while ((item = PyIter_Next(iter)) != NULL) {
        rc = grn_py_append_chunk(resp, item);
        Py_DECREF(item);
        if (rc != 0) {
            return rc;
        }
    }

    return PyErr_Occurred() ? -1 : 0;
}

/*
 * Takes the body from what the app returned. A list or tuple is taken whole (0). Any other
 * iterable is pulled up to its first non-empty chunk, which goes out with the headers; when
 * more may follow, 1 is returned and *iterp holds the iterator: the HTTP layer pulls the rest
 * as the socket drains. -1 with an exception set.
 */
static int
grn_py_collect(grn_py_responder_t *resp, PyObject *result, PyObject **iterp)
{
    int         rc;
    Py_ssize_t  i, n;
    PyObject   *iter;

    *iterp = NULL;

    /* The usual `return [body]`: no iterator object. */
    if (PyList_CheckExact(result) || PyTuple_CheckExact(result)) {
        n = PySequence_Fast_GET_SIZE(result);

        for (i = 0; i < n; i++) {
            if (grn_py_append_chunk(resp, PySequence_Fast_GET_ITEM(result, i)) < 0) {
                return -1;
            }

            /* A list cannot change here: appending runs no Python code. */
        }

        return 0;
    }

    iter = PyObject_GetIter(result);
    if (iter == NULL) {
        return -1;
    }

    rc = grn_py_pull(resp, iter);
    if (rc == 1) {
        *iterp = iter;
        return 1;
    }

    Py_DECREF(iter);
    return rc;
}

/* The iterable's close(), on every path (PEP 3333); 0, or -1 with an exception set. */
static int
grn_py_close(PyObject *result)
{
    PyObject *close, *res;

    if (PyList_CheckExact(result) || PyTuple_CheckExact(result)) {
        return 0;
    }

    if (grn_py_lookup_attr(result, grn_py_keys[GRN_PY_CLOSE], &close) < 0) {
        return -1;
    }

    if (close == NULL) {
        return 0;
    }

    res = PyObject_CallNoArgs(close);
    Py_DECREF(close);

    if (res == NULL) {
        return -1;
    }

    Py_DECREF(res);

    return 0;
}

static grn_int_t
grn_py_wsgi_run(grn_py_thread_t *t, grn_http_request_t *r)
{
    grn_int_t           rc;
    PyObject           *environ, *result, *args[2];
    grn_py_responder_t *resp;

    /* A fresh start_response when the app kept the last one (or its write) alive. */
    resp = (grn_py_responder_t *) t->responder;

    if (resp == NULL || Py_REFCNT(resp) != 2 || Py_REFCNT(resp->write) != 1) {
        grn_py_responder_drop(&t->responder);

        t->responder = grn_py_responder_new();
        if (t->responder == NULL) {
            grn_py_log_exception(GRN_LOG_ERR, "cannot create start_response");
            return GRN_ERROR;
        }

        resp = (grn_py_responder_t *) t->responder;
    }

    environ = grn_py_environ(t, r);
    if (environ == NULL) {
        grn_py_log_exception(GRN_LOG_ERR, "cannot build the WSGI environ");

        if (t->input != NULL) {
            grn_py_input_reset(t->input, NULL);
        }

        return GRN_ERROR;
    }

    resp->r = r;
    resp->started = 0;
    resp->sent = 0;
    resp->nheaders = r->response.headers.nelts;

    args[0] = environ;
    args[1] = (PyObject *) resp;

    rc = GRN_OK;

    result = PyObject_Vectorcall(grn_py.application, args, 2, NULL);

    if (result == NULL) {
        rc = GRN_ERROR;
        grn_py_log_app_exception(r);

    } else {
        PyObject  *iter = NULL;
        int        collected;
        off_t      offset, size;
        int        fd = resp->started ? grn_py_file_regular(result, &offset, &size) : -1;

        if (fd != -1) {
            /* wsgi.file_wrapper around a regular file: the kernel sends it (sendfile). */
            off_t  len = grn_max(size - offset, 0);

            if (r->response.content_length >= 0 && r->response.content_length < len) {
                len = r->response.content_length;
            } else if (r->response.content_length < 0) {
                char  num[32];
                int   n = snprintf(num, sizeof(num), "%lld", (long long) len);

                if (grn_http_response_add_header(r, "Content-Length", 14, num, (size_t) n)
                    != GRN_OK)
                {
                    close(fd);
                    fd = -1;
                    PyErr_NoMemory();
                }
            }
            if (fd != -1) {
                r->response.file_fd = fd;
                r->response.file_pos = offset;
                r->response.file_end = offset + len;
                r->response.file = 1;
                resp->sent = 1;
                collected = 1;
                goto stream;
            }
            collected = -1;
        } else {
            collected = grn_py_collect(resp, result, &iter);
        }

    stream:
        if (collected == 1) {
            grn_py_stream_t  *stream = grn_palloc(r->pool, sizeof(grn_py_stream_t));

            if (stream != NULL) {
                /* The rest of the body is pulled as the socket drains: see grn_py_next(). */
                stream->result = result;
                stream->iter = iter;
                stream->responder = t->responder;
                stream->input = t->input;
                t->responder = NULL;
                t->input = NULL;
                resp->r = NULL;
                r->response.stream = stream;
                r->response.more = 1;
                Py_DECREF(environ);
                return GRN_AGAIN;
            }
            Py_XDECREF(iter);
            PyErr_NoMemory();
            collected = -1;
        }

        if (collected != 0) {
            rc = GRN_ERROR;
            grn_py_log_app_exception(r);
        }

        if (grn_py_close(result) != 0) {
            rc = GRN_ERROR;
            grn_py_log_app_exception(r);
        }

        Py_DECREF(result);

        if (rc == GRN_OK && !resp->started) {
            rc = GRN_ERROR;
            PyErr_SetString(PyExc_RuntimeError, "the WSGI application returned without "
                                                "calling start_response()");
            grn_py_log_app_exception(r);
        }
    }

    if (rc != GRN_OK) {
        grn_py_response_reset(r, resp->nheaders);
    }

    /* Objects the app may have kept must not reach the request's memory after this. */
    resp->r = NULL;
    resp->started = 0;
    grn_py_input_reset(t->input, NULL);

    Py_DECREF(environ);

    return rc;
}

static void
grn_py_stream_end(grn_http_request_t *r, grn_py_stream_t *stream)
{
    grn_py_responder_t  *resp = (grn_py_responder_t *) stream->responder;

    resp->r = NULL;
    Py_CLEAR(stream->iter);
    Py_CLEAR(stream->result);
    grn_py_responder_drop(&stream->responder);
    if (stream->input) {
        grn_py_input_reset(stream->input, NULL);
        Py_CLEAR(stream->input);
    }
    r->response.stream = NULL;
    r->response.more = 0;
}

grn_int_t
grn_py_next(grn_http_request_t *r)
{
    int                  pulled;
    grn_int_t            rc;
    grn_py_thread_t     *t;
    grn_py_stream_t     *stream = r->response.stream;
    grn_py_responder_t  *resp;

    if (stream == NULL) {
        return GRN_OK;
    }

    t = grn_py_thread_enter();
    if (t == NULL) {
        return GRN_ERROR;
    }

    resp = (grn_py_responder_t *) stream->responder;
    resp->r = r;
    grn_py_request = r;

    pulled = stream->iter ? grn_py_pull(resp, stream->iter) : 0;
    if (pulled == 1) {
        resp->r = NULL;
        grn_py_request = NULL;
        grn_py_thread_leave(t);
        return GRN_AGAIN;
    }

    rc = GRN_OK;
    if (pulled < 0) {
        rc = GRN_ERROR;
        grn_py_log_exception(GRN_LOG_ERR, "unhandled exception in WSGI application after the "
                             "response headers were sent; closing the connection" GRN_PY_REQ_FMT,
                             GRN_PY_REQ_ARGS(r));
    }
    if (grn_py_close(stream->result) != 0) {
        rc = GRN_ERROR;
        grn_py_log_exception(GRN_LOG_ERR, "exception in close() of the WSGI response"
                             GRN_PY_REQ_FMT, GRN_PY_REQ_ARGS(r));
    }

    grn_py_stream_end(r, stream);
    grn_py_request = NULL;
    grn_py_thread_leave(t);
    return rc;
}

void
grn_py_abort(grn_http_request_t *r)
{
    grn_py_thread_t  *t;
    grn_py_stream_t  *stream = r->response.stream;

    if (stream == NULL) {
        return;
    }

    t = grn_py_thread_enter();
    if (t == NULL) {
        return;
    }

    /* PEP 3333: close() is called on every path, a client that went away included. */
    grn_py_request = r;
    if (grn_py_close(stream->result) != 0) {
        grn_py_log_exception(GRN_LOG_ERR, "exception in close() of the WSGI response"
                             GRN_PY_REQ_FMT, GRN_PY_REQ_ARGS(r));
    }
    grn_py_stream_end(r, stream);
    grn_py_request = NULL;
    grn_py_thread_leave(t);
}

grn_int_t
grn_py_call(grn_http_request_t *r)
{
    grn_int_t        rc;
    grn_py_thread_t *t;

    t = grn_py_thread_enter();
    if (t == NULL) {
        return GRN_ERROR;
    }

    grn_py_request = r;
    rc = grn_py_wsgi_run(t, r);
    grn_py_request = NULL;

    grn_py_thread_leave(t);

    return rc;
}
