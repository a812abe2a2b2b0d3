/*
 * grn_py_internal.h: what the files of src/python share and nobody else sees.
 *
 * The embedding is split as NGINX Unit splits it: grn_py_interp.c owns the interpreter's life
 * cycle (init, app loading, per-thread states, finalization), grn_py_wsgi.c builds the environ
 * and runs the app, and one file per Python-visible I/O object: wsgi.input (grn_py_input.c),
 * wsgi.errors with traceback logging (grn_py_errors.c) and wsgi.file_wrapper (grn_py_file.c).
 *
 * Python.h must come first in every file of src/python (it sets feature macros), so this header
 * includes it before greenc's own headers.
 */

#ifndef GRN_PY_INTERNAL_H
#define GRN_PY_INTERNAL_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <ctype.h>
#include <signal.h>

#include "grn_core.h"
#include "grn_py.h"

/* The process-wide state of the embedding: one interpreter and one app per worker. */
typedef struct {
    grn_cycle_t    *cycle;
    grn_app_conf_t *app;
    grn_log_t      *log;
    PyObject       *application; /* the WSGI callable */
    PyThreadState  *main_tstate; /* of the thread that ran grn_py_init() */
    unsigned        initialized : 1;
} grn_py_main_t;

/*
 * What each thread that calls the app keeps from one request to the next. Created at the
 * thread's first request (the init thread's at grn_py_init()), so the hot path neither creates
 * thread states nor allocates the per-request objects unless an app kept the previous ones.
 */
typedef struct {
    PyThreadState *tstate;
    PyObject      *responder;   /* start_response, see grn_py_wsgi.c */
    PyObject      *input;       /* wsgi.input */
    /*
     * Values the next request most likely repeats (the same keep-alive connection, the same
     * server), kept as str so that it reuses them instead of building them again.
     */
    grn_uint_t     server_port; /* SERVER_PORT */
    PyObject      *server_port_str;
    grn_uint_t     remote_port; /* REMOTE_PORT */
    PyObject      *remote_port_str;
    PyObject      *remote_addr; /* REMOTE_ADDR */
    PyObject      *server_name; /* SERVER_NAME */
} grn_py_thread_t;

extern grn_py_main_t grn_py;

/* getattr(obj, name, None) without raising: 1 found, 0 missing, -1 error. */
static inline int
grn_py_lookup_attr(PyObject *obj, PyObject *name, PyObject **result)
{
#if PY_VERSION_HEX >= 0x030d0000
    return PyObject_GetOptionalAttr(obj, name, result);
#else
    return _PyObject_LookupAttr(obj, name, result);
#endif
}

/* grn_py_interp.c: the calling thread's state with the GIL taken, and back. */
grn_py_thread_t *grn_py_thread_enter(void);
void             grn_py_thread_leave(grn_py_thread_t *t);

/* grn_py_wsgi.c */
extern __thread grn_http_request_t *grn_py_request;   /* the app runs for it; or NULL */
/* The error log context of a request (", client: ..., request: ..."), in thread storage. */
const char *grn_py_request_context(grn_http_request_t *r);
grn_int_t grn_py_wsgi_init(void);
void      grn_py_wsgi_done(void);
void      grn_py_wsgi_thread_done(grn_py_thread_t *t);

/* grn_py_input.c: wsgi.input over the request's body; reset(NULL) detaches it after use. */
grn_int_t grn_py_input_init(void);
PyObject *grn_py_input_new(void);
void      grn_py_input_reset(PyObject *input, grn_http_request_t *r);

/* grn_py_errors.c */
grn_int_t grn_py_errors_init(void);
void      grn_py_errors_done(void);
PyObject *grn_py_errors_object(void); /* the worker's one wsgi.errors (borrowed) */

/*
 * Logs `app "NAME": <fmt>` followed by a newline and the pending exception's traceback as one
 * message, then clears the exception. Takes the GIL for granted and releases it around the
 * write(2).
 */
void grn_py_log_exception(grn_uint_t level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* grn_py_file.c: wsgi.file_wrapper (the type itself is the callable apps get). */
grn_int_t grn_py_file_init(void);
PyObject *grn_py_file_wrapper_type(void); /* borrowed */

/*
 * When `result` is our file_wrapper around a regular file: a new descriptor for it (the caller
 * closes it), its current offset and size, for sendfile(2). -1 otherwise, no exception set.
 */
int grn_py_file_regular(PyObject *result, off_t *offset, off_t *size);

#endif /* GRN_PY_INTERNAL_H */
