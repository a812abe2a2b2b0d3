/*
 * grn_py_errors.c: wsgi.errors, and the logging of Python tracebacks.
 *
 * Everything an app says about its failures ends up in greenc's error log, tagged with the
 * app's name: the text it writes to environ["wsgi.errors"] (one log message per completed
 * write, partial lines wait for their newline or a flush()), and the traceback of any exception
 * that escapes the app, its import or its factory.
 *
 * One wsgi.errors object serves the whole worker: it has no per-request state but the pending
 * partial line, and sharing it keeps it out of the per-request work.
 */

#include "grn_py_internal.h"

/* A partial line longer than this is logged as it is rather than buffered further. */
#define GRN_PY_ERRORS_MAX_PENDING 8192

typedef struct {
    PyObject_HEAD char *pending; /* the partial line, without a newline */
    size_t              len;
    size_t              size;
} grn_py_errors_t;

static PyObject *grn_py_format_exception; /* traceback.format_exception */
static PyObject *grn_py_errors;           /* the worker's wsgi.errors */

/*
 * Writes to the error log with the GIL released: a log write is a syscall that can block (a
 * full disk, a pipe to a slow logger), and other threads may run Python meanwhile.
 */
static void
grn_py_log_text(grn_uint_t level, const char *text, size_t len)
{
    grn_app_conf_t *app = grn_py.app;

    const char     *ctx = grn_py_request_context(grn_py_request);

    Py_BEGIN_ALLOW_THREADS grn_log_error(level, grn_py.log, 0, "app \"%.*s\": %.*s%s",
                                         (int) app->name.len, app->name.data, (int) len, text,
                                         ctx);
    Py_END_ALLOW_THREADS
}

/* Logs `len` bytes taken from the start of the pending buffer and drops them from it. */
static void
grn_py_errors_emit(grn_py_errors_t *self, size_t len, size_t skip)
{
    char stack[1024], *copy;

    /* Another thread may write to the shared buffer while the GIL is released: log a copy. */
    copy = (len <= sizeof(stack)) ? stack : malloc(len);

    if (copy != NULL) {
        memcpy(copy, self->pending, len);
    }

    self->len -= len + skip;
    memmove(self->pending, self->pending + len + skip, self->len);

    if (copy == NULL) {
        grn_log_error(GRN_LOG_ERR, grn_py.log, errno, "malloc(%zu) failed", len);
        return;
    }

    grn_py_log_text(GRN_LOG_ERR, copy, len);

    if (copy != stack) {
        free(copy);
    }
}

static grn_int_t
grn_py_errors_append(grn_py_errors_t *self, const char *data, size_t len)
{
    size_t size;
    char  *p;

    if (self->len + len > self->size) {
        size = grn_max(self->size * 2, self->len + len);
        size = grn_max(size, 256);

        p = realloc(self->pending, size);
        if (p == NULL) {
            PyErr_NoMemory();
            return GRN_ERROR;
        }

        self->pending = p;
        self->size = size;
    }

    memcpy(self->pending + self->len, data, len);
    self->len += len;

    return GRN_OK;
}

static PyObject *
grn_py_errors_write(PyObject *obj, PyObject *arg)
{
    char            *last;
    PyObject        *bytes;
    grn_int_t        rc;
    const char      *data;
    Py_ssize_t       len;
    grn_py_errors_t *self = (grn_py_errors_t *) obj;

    if (!PyUnicode_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "wsgi.errors.write() argument must be str, not %.100s",
                     Py_TYPE(arg)->tp_name);
        return NULL;
    }

    bytes = NULL;
    data = PyUnicode_AsUTF8AndSize(arg, &len);

    if (data == NULL) {
        /* Lone surrogates (os.fsdecode() of a bad file name): log them escaped, not fail. */
        PyErr_Clear();

        bytes = PyUnicode_AsEncodedString(arg, "utf-8", "backslashreplace");
        if (bytes == NULL) {
            return NULL;
        }

        data = PyBytes_AS_STRING(bytes);
        len = PyBytes_GET_SIZE(bytes);
    }

    rc = grn_py_errors_append(self, data, len);
    Py_XDECREF(bytes);

    if (rc != GRN_OK) {
        return NULL;
    }

    last = (self->len > 0) ? memrchr(self->pending, '\n', self->len) : NULL;

    if (last != NULL) {
        grn_py_errors_emit(self, last - self->pending, 1);

    } else if (self->len > GRN_PY_ERRORS_MAX_PENDING) {
        grn_py_errors_emit(self, self->len, 0);
    }

    return PyLong_FromSsize_t(PyUnicode_GET_LENGTH(arg));
}

static PyObject *
grn_py_errors_writelines(PyObject *obj, PyObject *lines)
{
    PyObject *iter, *line, *res;

    iter = PyObject_GetIter(lines);
    if (iter == NULL) {
        return NULL;
    }

    while ((line = PyIter_Next(iter)) != NULL) {
        res = grn_py_errors_write(obj, line);
        Py_DECREF(line);

        if (res == NULL) {
            Py_DECREF(iter);
            return NULL;
        }

        Py_DECREF(res);
    }

    Py_DECREF(iter);

    if (PyErr_Occurred()) {
        return NULL;
    }

    Py_RETURN_NONE;
}

static PyObject *
grn_py_errors_flush(PyObject *obj, PyObject *unused GRN_UNUSED)
{
    grn_py_errors_t *self = (grn_py_errors_t *) obj;

    if (self->len > 0) {
        grn_py_errors_emit(self, self->len, 0);
    }

    Py_RETURN_NONE;
}

static void
grn_py_errors_dealloc(PyObject *obj)
{
    grn_py_errors_t *self = (grn_py_errors_t *) obj;

    free(self->pending);
    Py_TYPE(obj)->tp_free(obj);
}

static PyMethodDef grn_py_errors_methods[] = {
    {"write", grn_py_errors_write, METH_O, "Write text to the error log."},
    {"writelines", grn_py_errors_writelines, METH_O, "Write each string of an iterable."},
    {"flush", grn_py_errors_flush, METH_NOARGS, "Log a pending partial line."},
    {NULL, NULL, 0, NULL},
};

/* clang-format off: the macro ends with a comma that clang-format does not see */
static PyTypeObject grn_py_errors_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "greenc.ErrorLog",
    .tp_doc = "wsgi.errors: text written here goes to greenc's error log.",
    .tp_basicsize = sizeof(grn_py_errors_t),
    .tp_dealloc = grn_py_errors_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_methods = grn_py_errors_methods,
};
/* clang-format on */

grn_int_t
grn_py_errors_init(void)
{
    if (PyType_Ready(&grn_py_errors_type) < 0) {
        return GRN_ERROR;
    }

    grn_py_errors = PyObject_New(PyObject, &grn_py_errors_type);
    if (grn_py_errors == NULL) {
        return GRN_ERROR;
    }

    ((grn_py_errors_t *) grn_py_errors)->pending = NULL;
    ((grn_py_errors_t *) grn_py_errors)->len = 0;
    ((grn_py_errors_t *) grn_py_errors)->size = 0;

    return GRN_OK;
}

/*
 * traceback.format_exception, imported at the first exception to log: importing it at boot
 * brought re, enum, tokenize and textwrap into every worker, 1.1 MB of RSS that an app
 * which never fails (or imports them itself) does not need.
 */
static PyObject *
grn_py_format_exception_get(void)
{
    PyObject *traceback;

    if (grn_py_format_exception != NULL) {
        return grn_py_format_exception;
    }

    traceback = PyImport_ImportModule("traceback");
    if (traceback != NULL) {
        grn_py_format_exception = PyObject_GetAttrString(traceback, "format_exception");
        Py_DECREF(traceback);
    }
    if (grn_py_format_exception == NULL) {
        PyErr_Clear();
    }

    return grn_py_format_exception;
}

void
grn_py_errors_done(void)
{
    PyObject *res;

    if (grn_py_errors != NULL) {
        res = grn_py_errors_flush(grn_py_errors, NULL);
        Py_XDECREF(res);
    }

    Py_CLEAR(grn_py_errors);
    Py_CLEAR(grn_py_format_exception);
}

PyObject *
grn_py_errors_object(void)
{
    return grn_py_errors;
}

/* The traceback of an exception as UTF-8 bytes; NULL (and no exception set) when that fails. */
static PyObject *
grn_py_traceback_text(PyObject *type, PyObject *value, PyObject *tb)
{
    PyObject *format, *lines, *sep, *text, *bytes;

    format = grn_py_format_exception_get();
    if (format == NULL) {
        return NULL;
    }

    lines = PyObject_CallFunctionObjArgs(format, type, value ? value : Py_None,
                                         tb ? tb : Py_None, NULL);
    if (lines == NULL) {
        PyErr_Clear();
        return NULL;
    }

    sep = PyUnicode_FromStringAndSize(NULL, 0);
    text = (sep != NULL) ? PyUnicode_Join(sep, lines) : NULL;
    Py_XDECREF(sep);
    Py_DECREF(lines);

    if (text == NULL) {
        PyErr_Clear();
        return NULL;
    }

    /* Lone surrogates (from os.fsdecode and friends) must not make the traceback vanish. */
    bytes = PyUnicode_AsEncodedString(text, "utf-8", "backslashreplace");
    Py_DECREF(text);

    if (bytes == NULL) {
        PyErr_Clear();
    }

    return bytes;
}

void
grn_py_log_exception(grn_uint_t level, const char *fmt, ...)
{
    char        what[512], fallback[256], hint[128];
    size_t      len;
    va_list     args;
    PyObject   *type, *value, *tb, *text;
    const char *tb_data;

    va_start(args, fmt);
    vsnprintf(what, sizeof(what), fmt, args);
    va_end(args);

    PyErr_Fetch(&type, &value, &tb);

    text = NULL;

    if (type != NULL) {
        PyErr_NormalizeException(&type, &value, &tb);

        if (tb != NULL && value != NULL) {
            PyException_SetTraceback(value, tb);
        }

        text = grn_py_traceback_text(type, value, tb);
    }

    if (text != NULL) {
        tb_data = PyBytes_AS_STRING(text);
        len = PyBytes_GET_SIZE(text);

        while (len > 0 && tb_data[len - 1] == '\n') {
            len--;
        }

    } else if (type != NULL) {
        /* Out of memory, formatting fails too: the type's name needs no allocation. */
        snprintf(fallback, sizeof(fallback), "%s (the traceback could not be formatted)",
                 PyExceptionClass_Check(type) ? ((PyTypeObject *) type)->tp_name : "?");
        tb_data = fallback;
        len = strlen(tb_data);

    } else {
        tb_data = "";
        len = 0;
    }

    /* A MemoryError under the app's own address-space limit: name the directive to raise. */
    hint[0] = '\0';
    if (type != NULL && PyErr_GivenExceptionMatches(type, PyExc_MemoryError)
        && grn_py.app->limit_as != GRN_CONF_UNSET)
    {
        snprintf(hint, sizeof(hint), "\n(out of memory within the app's limit_as of %lld "
                 "bytes: raise \"limit_as\" if the app needs more)",
                 (long long) grn_py.app->limit_as);
    }

    Py_BEGIN_ALLOW_THREADS grn_log_error(level, grn_py.log, 0, "app \"%.*s\": %s%s%.*s%s",
                                         (int) grn_py.app->name.len, grn_py.app->name.data, what,
                                         len ? "\n" : "", (int) len, tb_data, hint);
    Py_END_ALLOW_THREADS

        Py_XDECREF(text);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
}
