/*
 * grn_py_input.c: wsgi.input, a read-only byte stream over the request body.
 *
 * The HTTP layer hands the app a request whose body is already entirely in memory (the
 * Content-Length or chunked framing is undone), so the stream is a cursor over r->body: reads
 * copy out of it into new bytes objects and end at the body's end, which is what
 * wsgi.input_terminated promises. Nothing here blocks, so the GIL is never released.
 *
 * Each thread reuses one object from request to request (grn_py_wsgi.c takes a fresh one when
 * an app kept a reference to the previous one); after its request the cursor points at nothing,
 * so a stale reference reads b"" instead of freed memory.
 */

#include "grn_py_internal.h"

typedef struct {
    PyObject_HEAD const char *pos;
    const char               *end;
} grn_py_input_t;

static PyTypeObject grn_py_input_type;

/* The optional size argument of read() and readline(): None or negative means "all". */
static int
grn_py_input_size(PyObject *const *args, Py_ssize_t nargs, const char *name, Py_ssize_t *size)
{
    if (nargs > 1) {
        PyErr_Format(PyExc_TypeError, "%s() takes at most 1 argument (%zd given)", name, nargs);
        return -1;
    }

    *size = -1;

    if (nargs == 0 || args[0] == Py_None) {
        return 0;
    }

    if (!PyIndex_Check(args[0])) {
        PyErr_Format(PyExc_TypeError, "%s() argument must be int or None, not %.100s", name,
                     Py_TYPE(args[0])->tp_name);
        return -1;
    }

    *size = PyNumber_AsSsize_t(args[0], PyExc_OverflowError);

    if (*size == -1 && PyErr_Occurred()) {
        return -1;
    }

    return 0;
}

static PyObject *
grn_py_input_take(grn_py_input_t *self, size_t len)
{
    PyObject *bytes;

    if (len == 0) {
        return PyBytes_FromStringAndSize(NULL, 0);
    }

    bytes = PyBytes_FromStringAndSize(self->pos, len);

    if (bytes != NULL) {
        self->pos += len;
    }

    return bytes;
}

static PyObject *
grn_py_input_readline_size(grn_py_input_t *self, Py_ssize_t size)
{
    size_t      avail;
    const char *nl;

    avail = self->end - self->pos;

    if (size >= 0 && (size_t) size < avail) {
        avail = size;
    }

    if (avail == 0) {
        return PyBytes_FromStringAndSize(NULL, 0);
    }

    nl = memchr(self->pos, '\n', avail);

    return grn_py_input_take(self, nl ? (size_t) (nl - self->pos + 1) : avail);
}

static PyObject *
grn_py_input_read(PyObject *obj, PyObject *const *args, Py_ssize_t nargs)
{
    size_t          avail;
    Py_ssize_t      size;
    grn_py_input_t *self = (grn_py_input_t *) obj;

    if (grn_py_input_size(args, nargs, "read", &size) != 0) {
        return NULL;
    }

    avail = self->end - self->pos;

    if (size >= 0 && (size_t) size < avail) {
        avail = size;
    }

    return grn_py_input_take(self, avail);
}

static PyObject *
grn_py_input_readline(PyObject *obj, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t size;

    if (grn_py_input_size(args, nargs, "readline", &size) != 0) {
        return NULL;
    }

    return grn_py_input_readline_size((grn_py_input_t *) obj, size);
}

static PyObject *
grn_py_input_readlines(PyObject *obj, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t      hint, total;
    PyObject       *list, *line;
    grn_py_input_t *self = (grn_py_input_t *) obj;

    if (grn_py_input_size(args, nargs, "readlines", &hint) != 0) {
        return NULL;
    }

    list = PyList_New(0);
    if (list == NULL) {
        return NULL;
    }

    total = 0;

    while (self->pos < self->end && (hint <= 0 || total < hint)) {
        line = grn_py_input_readline_size(self, -1);

        if (line == NULL || PyList_Append(list, line) != 0) {
            Py_XDECREF(line);
            Py_DECREF(list);
            return NULL;
        }

        total += PyBytes_GET_SIZE(line);
        Py_DECREF(line);
    }

    return list;
}

/* readinto(buffer): lets io-based wrappers (Werkzeug's LimitedStream) skip a copy. */
static PyObject *
grn_py_input_readinto(PyObject *obj, PyObject *arg)
{
    size_t          len;
    Py_buffer       buf;
    grn_py_input_t *self = (grn_py_input_t *) obj;

    if (PyObject_GetBuffer(arg, &buf, PyBUF_WRITABLE) != 0) {
        return NULL;
    }

    len = grn_min((size_t) buf.len, (size_t) (self->end - self->pos));

    if (len > 0) {
        memcpy(buf.buf, self->pos, len);
        self->pos += len;
    }

    PyBuffer_Release(&buf);

    return PyLong_FromSize_t(len);
}

static PyObject *
grn_py_input_readable(PyObject *obj GRN_UNUSED, PyObject *unused GRN_UNUSED)
{
    Py_RETURN_TRUE;
}

static PyObject *
grn_py_input_iter(PyObject *obj)
{
    return Py_NewRef(obj);
}

static PyObject *
grn_py_input_next(PyObject *obj)
{
    grn_py_input_t *self = (grn_py_input_t *) obj;

    if (self->pos >= self->end) {
        return NULL; /* StopIteration, without setting it */
    }

    return grn_py_input_readline_size(self, -1);
}

static void
grn_py_input_dealloc(PyObject *obj)
{
    PyObject_Free(obj);
}

static PyMethodDef grn_py_input_methods[] = {
    {"read", (PyCFunction) (void (*)(void)) grn_py_input_read, METH_FASTCALL,
     "read(size=-1): up to size bytes; all that is left without size."},
    {"readline", (PyCFunction) (void (*)(void)) grn_py_input_readline, METH_FASTCALL,
     "readline(size=-1): one line, newline included, at most size bytes."},
    {"readlines", (PyCFunction) (void (*)(void)) grn_py_input_readlines, METH_FASTCALL,
     "readlines(hint=-1): the remaining lines, stopping once hint bytes were read."},
    {"readinto", grn_py_input_readinto, METH_O,
     "readinto(buffer): fills the buffer, returns the number of bytes."},
    {"readable", grn_py_input_readable, METH_NOARGS, "Always True."},
    {NULL, NULL, 0, NULL},
};

/* clang-format off: the macro ends with a comma that clang-format does not see */
static PyTypeObject grn_py_input_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "greenc.Input",
    .tp_doc = "wsgi.input: the request body as a read-only byte stream.",
    .tp_basicsize = sizeof(grn_py_input_t),
    .tp_dealloc = grn_py_input_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_iter = grn_py_input_iter,
    .tp_iternext = grn_py_input_next,
    .tp_methods = grn_py_input_methods,
};
/* clang-format on */

grn_int_t
grn_py_input_init(void)
{
    return (PyType_Ready(&grn_py_input_type) < 0) ? GRN_ERROR : GRN_OK;
}

PyObject *
grn_py_input_new(void)
{
    grn_py_input_t *self;

    self = PyObject_New(grn_py_input_t, &grn_py_input_type);

    if (self != NULL) {
        self->pos = NULL;
        self->end = NULL;
    }

    return (PyObject *) self;
}

void
grn_py_input_reset(PyObject *input, const char *data, size_t len)
{
    grn_py_input_t *self = (grn_py_input_t *) input;

    self->pos = data;
    self->end = (data != NULL) ? data + len : NULL;
}
