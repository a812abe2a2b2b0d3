/*
 * grn_py_input.c: wsgi.input, a read-only byte stream over the request body.
 *
 * The body comes from the HTTP layer (grn_http_body.c) in one of three forms. Most requests
 * have it entirely in memory: reads then copy straight out of it, the GIL held (a memcpy is
 * cheaper than giving the GIL up). A large buffered body sits in a temp file, and a streamed
 * one (request_buffering off, Expect: 100-continue) still has to come from the socket: those
 * reads go through grn_http_body_read() with the GIL released, since they may block. Every
 * form ends at the body's end (Content-Length or the last chunk), which is what
 * wsgi.input_terminated promises.
 *
 * Each thread reuses one object from request to request (grn_py_wsgi.c takes a fresh one when
 * an app kept a reference to the previous one); after its request the object points at no
 * request, so a stale reference reads b"" instead of freed memory.
 */

#include "grn_py_internal.h"

typedef struct {
    PyObject_HEAD grn_http_request_t *r;    /* NULL when no request is being served */
    const char                       *mem;  /* the body, when `in_memory` */
    size_t                            len;
    int                               in_memory;  /* else read with grn_http_body_read() */
    off_t                             pos;  /* bytes of the body read so far */
} grn_py_input_t;

static PyTypeObject grn_py_input_type;

/* The reads the app makes in a block: large enough to amortize giving up the GIL. */
#define GRN_PY_INPUT_BLOCK  65536

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

/*
 * Body bytes at the current position, not consumed: up to size of them copied into buf.
 * Returns the count, 0 at the body's end, -1 with OSError set.
 */
static Py_ssize_t
grn_py_input_peek(grn_py_input_t *self, char *buf, size_t size)
{
    ssize_t     n;
    grn_uint_t  status;

    if (self->in_memory) {
        n = (ssize_t) grn_min(size, self->len - (size_t) self->pos);
        memcpy(buf, self->mem + self->pos, (size_t) n);
        return n;
    }

    Py_BEGIN_ALLOW_THREADS
    n = grn_http_body_read(self->r, self->pos, buf, size);
    Py_END_ALLOW_THREADS

    if (n >= 0) {
        return n;
    }

    status = grn_http_body_error(self->r);
    PyErr_Format(PyExc_OSError, "reading the request body failed: %s",
                 status == 408 ? "the client timed out sending it"
                 : status == 413 ? "it is larger than client_max_body_size"
                 : status == 500 ? "a server error (see the error log)"
                                 : "the client sent an invalid body or went away");
    return -1;
}

/* read(size): at most size bytes, fewer only at the body's end; size < 0 reads it all. */
static PyObject *
grn_py_input_read_size(grn_py_input_t *self, Py_ssize_t size)
{
    char       *data;
    off_t       length;
    PyObject   *bytes;
    Py_ssize_t  want, have, n;

    if (self->r == NULL) {
        return PyBytes_FromStringAndSize(NULL, 0);
    }

    if (self->in_memory) {
        have = (Py_ssize_t) (self->len - (size_t) self->pos);
        if (size >= 0 && size < have) {
            have = size;
        }
        bytes = PyBytes_FromStringAndSize(self->mem + self->pos, have);
        if (bytes != NULL) {
            self->pos += have;
        }
        return bytes;
    }

    want = size;
    if (want < 0) {
        /* All of it: its length when known, else a block at a time. */
        length = grn_http_body_length(self->r);
        want = length >= 0 ? (Py_ssize_t) (length - self->pos) : GRN_PY_INPUT_BLOCK;
    }

    bytes = PyBytes_FromStringAndSize(NULL, want);
    if (bytes == NULL) {
        return NULL;
    }

    have = 0;

    for ( ;; ) {
        if (have == want) {
            if (size >= 0 || grn_http_body_length(self->r) == self->pos) {
                break;
            }
            /* read() of a body of unknown length: grow and go on. */
            want *= 2;
            if (_PyBytes_Resize(&bytes, want) != 0) {
                return NULL;
            }
        }

        data = PyBytes_AS_STRING(bytes);
        n = grn_py_input_peek(self, data + have, (size_t) (want - have));
        if (n < 0) {
            Py_DECREF(bytes);
            return NULL;
        }
        if (n == 0) {
            break;
        }
        have += n;
        self->pos += n;
    }

    if (have != want && _PyBytes_Resize(&bytes, have) != 0) {
        return NULL;
    }
    return bytes;
}

/* One line, newline included, at most size bytes (size < 0: no limit). */
static PyObject *
grn_py_input_readline_size(grn_py_input_t *self, Py_ssize_t size)
{
    char        block[8192];
    const char *nl;
    PyObject   *line, *part;
    Py_ssize_t  n, take;

    if (self->r == NULL) {
        return PyBytes_FromStringAndSize(NULL, 0);
    }

    if (self->in_memory) {
        take = (Py_ssize_t) (self->len - (size_t) self->pos);
        if (size >= 0 && size < take) {
            take = size;
        }
        nl = take ? memchr(self->mem + self->pos, '\n', (size_t) take) : NULL;
        if (nl != NULL) {
            take = nl - (self->mem + self->pos) + 1;
        }
        line = PyBytes_FromStringAndSize(self->mem + self->pos, take);
        if (line != NULL) {
            self->pos += take;
        }
        return line;
    }

    line = PyBytes_FromStringAndSize(NULL, 0);

    while (line != NULL && (size < 0 || PyBytes_GET_SIZE(line) < size)) {
        take = (Py_ssize_t) sizeof(block);
        if (size >= 0 && size - PyBytes_GET_SIZE(line) < take) {
            take = size - PyBytes_GET_SIZE(line);
        }

        n = grn_py_input_peek(self, block, (size_t) take);
        if (n <= 0) {
            if (n < 0) {
                Py_CLEAR(line);
            }
            break;
        }

        nl = memchr(block, '\n', (size_t) n);
        take = nl ? nl - block + 1 : n;

        part = PyBytes_FromStringAndSize(block, take);
        PyBytes_ConcatAndDel(&line, part);
        if (line == NULL) {
            break;
        }
        self->pos += take;

        if (nl != NULL) {
            break;
        }
    }

    return line;
}

static PyObject *
grn_py_input_read(PyObject *obj, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t size;

    if (grn_py_input_size(args, nargs, "read", &size) != 0) {
        return NULL;
    }

    return grn_py_input_read_size((grn_py_input_t *) obj, size);
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

    while (hint <= 0 || total < hint) {
        line = grn_py_input_readline_size(self, -1);

        if (line == NULL) {
            Py_DECREF(list);
            return NULL;
        }

        if (PyBytes_GET_SIZE(line) == 0) {
            Py_DECREF(line);
            break;
        }

        if (PyList_Append(list, line) != 0) {
            Py_DECREF(line);
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
    Py_buffer       buf;
    Py_ssize_t      have, n;
    grn_py_input_t *self = (grn_py_input_t *) obj;

    if (PyObject_GetBuffer(arg, &buf, PyBUF_WRITABLE) != 0) {
        return NULL;
    }

    /* Like a raw file's readinto(): what is there, blocking only while nothing is. */
    have = 0;
    if (buf.len > 0) {
        n = grn_py_input_peek(self, buf.buf, (size_t) buf.len);
        if (n < 0) {
            PyBuffer_Release(&buf);
            return NULL;
        }
        self->pos += n;
        have = n;
    }

    PyBuffer_Release(&buf);

    return PyLong_FromSsize_t(have);
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
    PyObject *line = grn_py_input_readline_size((grn_py_input_t *) obj, -1);

    if (line != NULL && PyBytes_GET_SIZE(line) == 0) {
        Py_DECREF(line);
        return NULL; /* StopIteration, without setting it */
    }

    return line;
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
        self->r = NULL;
        self->mem = NULL;
        self->len = 0;
        self->pos = 0;
        self->in_memory = 1;
    }

    return (PyObject *) self;
}

void
grn_py_input_reset(PyObject *input, grn_http_request_t *r)
{
    grn_py_input_t *self = (grn_py_input_t *) input;

    self->r = r;
    self->pos = 0;
    self->mem = (r != NULL) ? r->body.data : NULL;
    self->len = (r != NULL) ? r->body.len : 0;
    /* No body at all counts as an empty one in memory; else it is in a file or still to come. */
    self->in_memory = (r == NULL || self->mem != NULL || grn_http_body_length(r) == 0);
}
