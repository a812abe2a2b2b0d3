/*
 * grn_py_file.c: wsgi.file_wrapper.
 *
 * environ["wsgi.file_wrapper"](filelike, block_size=8192) returns an iterable that reads the
 * file in blocks and whose close() closes it (PEP 3333, "Optional Platform-Specific File
 * Handling"). For now the blocks go through the ordinary response path; the wrapper keeps the
 * file-like object in `filelike` so that a later version can recognize its own wrapper in the
 * app's result and send a real file with sendfile(2) instead.
 */

#include "grn_py_internal.h"

#include <structmember.h>
#include <sys/stat.h>

typedef struct {
    PyObject_HEAD PyObject *filelike;
    Py_ssize_t              block_size;
} grn_py_file_t;

static PyObject *grn_py_str_read;
static PyObject *grn_py_str_close;

static int
grn_py_file_init_object(PyObject *obj, PyObject *args, PyObject *kwargs)
{
    PyObject      *filelike;
    Py_ssize_t     block_size = 8192;
    grn_py_file_t *self = (grn_py_file_t *) obj;
    static char   *names[] = {"filelike", "block_size", NULL};

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|n:file_wrapper", names, &filelike,
                                     &block_size)) {
        return -1;
    }

    if (block_size <= 0) {
        PyErr_SetString(PyExc_ValueError, "file_wrapper() block_size must be positive");
        return -1;
    }

    Py_XSETREF(self->filelike, Py_NewRef(filelike));
    self->block_size = block_size;

    return 0;
}

static PyObject *
grn_py_file_iter(PyObject *obj)
{
    return Py_NewRef(obj);
}

static PyObject *
grn_py_file_next(PyObject *obj)
{
    PyObject      *data, *size;
    grn_py_file_t *self = (grn_py_file_t *) obj;

    if (self->filelike == NULL) {
        return NULL;
    }

    size = PyLong_FromSsize_t(self->block_size);
    if (size == NULL) {
        return NULL;
    }

    data = PyObject_CallMethodOneArg(self->filelike, grn_py_str_read, size);
    Py_DECREF(size);

    if (data == NULL) {
        return NULL;
    }

    /* An empty block ends the file; the response loop rejects anything but bytes. */
    if (PyBytes_Check(data) && PyBytes_GET_SIZE(data) == 0) {
        Py_DECREF(data);
        return NULL;
    }

    return data;
}

static PyObject *
grn_py_file_close(PyObject *obj, PyObject *unused GRN_UNUSED)
{
    PyObject      *close, *res;
    grn_py_file_t *self = (grn_py_file_t *) obj;

    if (self->filelike == NULL) {
        Py_RETURN_NONE;
    }

    if (grn_py_lookup_attr(self->filelike, grn_py_str_close, &close) < 0) {
        return NULL;
    }

    if (close == NULL) {
        Py_RETURN_NONE;
    }

    res = PyObject_CallNoArgs(close);
    Py_DECREF(close);

    return res;
}

static int
grn_py_file_traverse(PyObject *obj, visitproc visit, void *arg)
{
    Py_VISIT(((grn_py_file_t *) obj)->filelike);
    return 0;
}

static int
grn_py_file_clear(PyObject *obj)
{
    Py_CLEAR(((grn_py_file_t *) obj)->filelike);
    return 0;
}

static void
grn_py_file_dealloc(PyObject *obj)
{
    PyObject_GC_UnTrack(obj);
    grn_py_file_clear(obj);
    Py_TYPE(obj)->tp_free(obj);
}

static PyMethodDef grn_py_file_methods[] = {
    {"close", grn_py_file_close, METH_NOARGS, "Close the file-like object if it can be."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef grn_py_file_members[] = {
    {"filelike", T_OBJECT, offsetof(grn_py_file_t, filelike), READONLY, NULL},
    {"block_size", T_PYSSIZET, offsetof(grn_py_file_t, block_size), READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

/* clang-format off: the macro ends with a comma that clang-format does not see */
static PyTypeObject grn_py_file_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "greenc.FileWrapper",
    .tp_doc = "wsgi.file_wrapper(filelike, block_size=8192): a file as a response iterable.",
    .tp_basicsize = sizeof(grn_py_file_t),
    .tp_dealloc = grn_py_file_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_traverse = grn_py_file_traverse,
    .tp_clear = grn_py_file_clear,
    .tp_iter = grn_py_file_iter,
    .tp_iternext = grn_py_file_next,
    .tp_methods = grn_py_file_methods,
    .tp_members = grn_py_file_members,
    .tp_init = grn_py_file_init_object,
    .tp_new = PyType_GenericNew,
};
/* clang-format on */

grn_int_t
grn_py_file_init(void)
{
    grn_py_str_read = PyUnicode_InternFromString("read");
    grn_py_str_close = PyUnicode_InternFromString("close");

    if (grn_py_str_read == NULL || grn_py_str_close == NULL) {
        return GRN_ERROR;
    }

    return (PyType_Ready(&grn_py_file_type) < 0) ? GRN_ERROR : GRN_OK;
}

PyObject *
grn_py_file_wrapper_type(void)
{
    return (PyObject *) &grn_py_file_type;
}

int
grn_py_file_regular(PyObject *result, off_t *offset, off_t *size)
{
    int             fd, dupfd;
    long long       pos;
    PyObject       *res;
    struct stat     st;
    grn_py_file_t  *self = (grn_py_file_t *) result;

    if (Py_TYPE(result) != (PyTypeObject *) grn_py_file_wrapper_type()
        || self->filelike == NULL)
    {
        return -1;
    }

    res = PyObject_CallMethod(self->filelike, "fileno", NULL);
    if (res == NULL) {
        PyErr_Clear();                  /* not a real file: it is read in blocks instead */
        return -1;
    }
    fd = (int) PyLong_AsLong(res);
    Py_DECREF(res);
    if (fd < 0 || PyErr_Occurred()) {
        PyErr_Clear();
        return -1;
    }
    if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
        return -1;
    }

    /* tell() knows what a buffered reader has consumed; the OS offset may be ahead of it. */
    res = PyObject_CallMethod(self->filelike, "tell", NULL);
    if (res != NULL) {
        pos = PyLong_AsLongLong(res);
        Py_DECREF(res);
    } else {
        pos = -1;
    }
    if (pos < 0 || PyErr_Occurred()) {
        PyErr_Clear();
        pos = lseek(fd, 0, SEEK_CUR);
        if (pos < 0) {
            return -1;
        }
    }

    /* Our own descriptor: the app's close() of the file may come before the last byte. */
    dupfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dupfd == -1) {
        return -1;
    }
    *offset = (off_t) pos;
    *size = st.st_size;
    return dupfd;
}
