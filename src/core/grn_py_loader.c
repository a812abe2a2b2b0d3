/*
 * grn_py_loader.c: loading greenc_python.so, the Python half of greenc, into the processes
 * that run Python, and the core's side of the grn_py.h API, which forwards to it.
 *
 * The binary is not linked with libpython: the master and the router workers never map it
 * (smaller, and no interpreter's code where none runs). An app worker loads the module at
 * grn_py_init(), after it dropped privileges; `greenc -t` loads it in the child that checks an
 * app, and -V to print the version. The module is looked for next to the binary (the build
 * tree, a self-contained install), then in <prefix>/modules.
 *
 * RTLD_GLOBAL: Python's extension modules (_json, _ssl, ...) are not linked with libpython
 * and find its symbols in the global scope.
 */

#include "grn_core.h"
#include "grn_cycle.h"
#include "grn_py.h"

#include <dlfcn.h>

static const grn_py_module_t  *grn_py_mod;

static grn_int_t
grn_py_load(grn_log_t *log)
{
    char                     path[PATH_MAX], *slash;
    void                    *handle;
    ssize_t                  n;
    grn_uint_t               i;
    const size_t             sizes[] = GRN_PY_MODULE_SIZES;
    const grn_py_module_t   *mod;

    if (grn_py_mod) {
        return GRN_OK;
    }

    n = readlink("/proc/self/exe", path, sizeof(path) - sizeof(GRN_PY_MODULE_NAME) - 1);
    slash = n > 0 ? memrchr(path, '/', (size_t) n) : NULL;
    if (slash) {
        memcpy(slash + 1, GRN_PY_MODULE_NAME, sizeof(GRN_PY_MODULE_NAME));
    }
    if (slash == NULL || access(path, R_OK) != 0) {
        snprintf(path, sizeof(path), "%s/modules/" GRN_PY_MODULE_NAME, GRN_PREFIX);
    }

    handle = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
    if (handle == NULL) {
        grn_log_error(GRN_LOG_EMERG, log, 0, "cannot load the Python module: %s "
                      "(it is built and installed with the greenc binary)", dlerror());
        return GRN_ERROR;
    }
    mod = dlsym(handle, GRN_PY_MODULE_SYMBOL);
    if (mod == NULL) {
        grn_log_error(GRN_LOG_EMERG, log, 0, "\"%s\" is not greenc's Python module: %s",
                      path, dlerror());
        dlclose(handle);
        return GRN_ERROR;
    }
    for (i = 0; i < grn_nelems(sizes); i++) {
        if (mod->sizes[i] != sizes[i]) {
            break;
        }
    }
    if (strcmp(mod->version, GREENC_VERSION) != 0 || i < grn_nelems(sizes)) {
        grn_log_error(GRN_LOG_EMERG, log, 0, "\"%s\" comes from another build of greenc "
                      "(version %s, this binary is %s); install the module built with this "
                      "binary", path, mod->version, GREENC_VERSION);
        dlclose(handle);
        return GRN_ERROR;
    }
    grn_py_mod = mod;
    return GRN_OK;
}

grn_int_t
grn_py_init(grn_cycle_t *cycle, grn_app_conf_t *app)
{
    if (grn_py_load(cycle->log) != GRN_OK) {
        return GRN_ERROR;
    }
    return grn_py_mod->init(cycle, app);
}

grn_int_t
grn_py_call(grn_http_request_t *r)
{
    return grn_py_mod ? grn_py_mod->call(r) : GRN_ERROR;
}

grn_int_t
grn_py_next(grn_http_request_t *r)
{
    return grn_py_mod ? grn_py_mod->next(r) : GRN_ERROR;
}

void
grn_py_abort(grn_http_request_t *r)
{
    if (grn_py_mod) {
        grn_py_mod->abort(r);
    }
}

void
grn_py_done(void)
{
    if (grn_py_mod) {
        grn_py_mod->done();
    }
}

void
grn_py_thread_done(void)
{
    if (grn_py_mod) {
        grn_py_mod->thread_done();
    }
}

grn_int_t
grn_py_check(grn_cycle_t *cycle, grn_app_conf_t *app)
{
    if (grn_py_load(cycle->log) != GRN_OK) {
        return GRN_ERROR;
    }
    return grn_py_mod->check(cycle, app);
}

const char *
grn_py_version(void)
{
    grn_log_t  log;

    memset(&log, 0, sizeof(log));
    log.fd = STDERR_FILENO;
    log.level = GRN_LOG_ERR;
    if (grn_py_load(&log) != GRN_OK) {
        return "(unknown: the Python module cannot be loaded)";
    }
    return grn_py_mod->version_string();
}
