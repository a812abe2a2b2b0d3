/*
 * grn_py.h: the embedded Python interpreter as an app worker uses it.
 *
 * Python is initialized only in app workers, after fork and after privileges are dropped, never
 * in the master. grn_py_init() sets up the interpreter for one app (virtualenv, sys.path, cwd,
 * environment), imports the app and releases the GIL; grn_py_call() takes the GIL only for the
 * time the app runs.
 */

#ifndef GRN_PY_H
#define GRN_PY_H

#include "grn_http_request.h"

/*
 * Initializes CPython for `app` and imports its callable. On failure the traceback is in the
 * error log and GRN_ERROR is returned: the worker then exits with GRN_EXIT_BOOT_FAILED.
 */
grn_int_t grn_py_init(grn_cycle_t *cycle, grn_app_conf_t *app);

/*
 * Calls the app for a routed request and fills r->response (status, headers, body).
 * GRN_OK: the response is complete. GRN_AGAIN: it streams (see grn_py_next()). GRN_ERROR: the
 * app failed before its headers could go out; the traceback is logged and the caller answers
 * 500.
 */
grn_int_t grn_py_call(grn_http_request_t *r);

/*
 * Streaming: when grn_py_call() returns GRN_AGAIN, the app's iterable has more to give after
 * the body now in r->response (r->response.more is set). grn_py_next() pulls the next
 * non-empty chunk into r->response: GRN_AGAIN (more may follow), GRN_OK (the iterable ended and
 * its close() was called), GRN_ERROR (an exception, logged; the connection must be closed).
 * grn_py_abort() ends a stream early (client gone): close() is called, nothing is sent.
 */
grn_int_t grn_py_next(grn_http_request_t *r);
void grn_py_abort(grn_http_request_t *r);

/*
 * Finalizes the interpreter at worker exit. Call it from the thread that called grn_py_init(),
 * after the other threads that called grn_py_call() have stopped.
 */
void grn_py_done(void);

/*
 * ADDED by the src/python helper (for the lead to review): a worker thread other than the one
 * that called grn_py_init() calls this before it exits, to free the Python thread state that
 * its first grn_py_call() created. Not needed for the thread that called grn_py_init().
 */
void grn_py_thread_done(void);

/*
 * For `greenc -t`: in a child process, initializes Python as grn_py_init() would and checks that
 * the app's module can be found, without importing it. GRN_OK or GRN_ERROR (logged).
 */
grn_int_t grn_py_check(grn_cycle_t *cycle, grn_app_conf_t *app);

/* The version of the linked libpython ("3.11.2"), without initializing it. */
const char *grn_py_version(void);

/*
 * The Python half of greenc is a shared object, greenc_python.so, carried inside the binary
 * and dlopen()ed from a memfd by app workers only (and by `greenc -t`, -V): the master and the
 * router never map libpython. The functions above are what the core calls; in the binary they
 * forward to the module's table (src/core/grn_py_loader.c), in the module they are the
 * implementations, kept private by -fvisibility=hidden so that the table is the module's only
 * exported symbol.
 */
#define GRN_PY_MODULE_NAME      "greenc_python.so"
#define GRN_PY_MODULE_SYMBOL    "grn_py_module"

/* In the master before it forks: the module's memfd, which workers inherit. */
grn_int_t grn_py_image_prepare(grn_log_t *log);

typedef struct {
    const char    *version;             /* GREENC_VERSION of the build */
    size_t         sizes[5];            /* of the structs both halves share */
    grn_int_t    (*init)(grn_cycle_t *cycle, grn_app_conf_t *app);
    grn_int_t    (*call)(grn_http_request_t *r);
    grn_int_t    (*next)(grn_http_request_t *r);
    void         (*abort)(grn_http_request_t *r);
    void         (*done)(void);
    void         (*thread_done)(void);
    grn_int_t    (*check)(grn_cycle_t *cycle, grn_app_conf_t *app);
    const char  *(*version_string)(void);
} grn_py_module_t;

#define GRN_PY_MODULE_SIZES                                                                \
    { sizeof(grn_cycle_t), sizeof(grn_app_conf_t), sizeof(grn_http_request_t),             \
      sizeof(grn_http_response_t), sizeof(grn_http_connection_t) }

#endif /* GRN_PY_H */
