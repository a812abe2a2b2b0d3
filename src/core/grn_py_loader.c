/*
 * grn_py_loader.c: loading greenc_python.so, the Python half of greenc, into the processes
 * that run Python, and the core's side of the grn_py.h API, which forwards to it.
 *
 * The binary is not linked with libpython: the master and the router workers never map it
 * (smaller, and no interpreter's code where none runs). The module travels inside the binary
 * (grn_py_image.c); the master copies it once into a sealed memfd that every worker inherits,
 * and an app worker dlopen()s that at grn_py_init(), after it dropped privileges. A binary
 * therefore always loads its own build of the module, whether it was copied, renamed, or
 * replaced on disk by an upgrade while it runs. `greenc -t` and -V make their own memfd.
 *
 * RTLD_GLOBAL: Python's extension modules (_json, _ssl, ...) are not linked with libpython
 * and find its symbols in the global scope.
 */

#include "grn_core.h"
#include "grn_cycle.h"
#include "grn_process.h"
#include "grn_py.h"

#include <dlfcn.h>
#include <sys/resource.h>
#include <sys/mman.h>

extern const char  grn_py_image[];
extern const char  grn_py_image_end[];

static const grn_py_module_t  *grn_py_mod;
static int                      grn_py_memfd = -1;

grn_int_t
grn_py_image_prepare(grn_log_t *log)
{
    int          fd;
    size_t       size, done;
    ssize_t      n;

    if (grn_py_memfd != -1) {
        return GRN_OK;
    }

    /* CLOEXEC: forked workers keep it; a new binary (upgrade) brings its own. */
    fd = memfd_create(GRN_PY_MODULE_NAME, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd == -1) {
        grn_log_error(GRN_LOG_EMERG, log, errno, "memfd_create() for the Python module failed");
        return GRN_ERROR;
    }
    size = (size_t) (grn_py_image_end - grn_py_image);
    for (done = 0; done < size; done += (size_t) n) {
        n = write(fd, grn_py_image + done, size - done);
        if (n <= 0) {
            if (n == -1 && errno == EINTR) {
                n = 0;
                continue;
            }
            grn_log_error(GRN_LOG_EMERG, log, errno, "write() of the Python module failed");
            close(fd);
            return GRN_ERROR;
        }
    }
    (void) fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
    grn_py_memfd = fd;
    return GRN_OK;
}

/*
 * LeakSanitizer (the sanitizer test builds): the embedded interpreter and the libraries it
 * loads (libcrypto for hashlib and ssl, ...) allocate for the life of the process and are
 * never finalized, so what they allocate while Python runs is not a leak of greenc's. Leak
 * checking is off in the calling thread for every call into the Python module, and only
 * then: greenc's own C code in an app worker (connections, bodies, buffers) is still checked.
 * The declarations are weak: in a normal build the functions do not exist and nothing runs.
 */
void __lsan_disable(void) __attribute__((weak));
void __lsan_enable(void) __attribute__((weak));

static void
grn_py_lsan_off(void)
{
    if (__lsan_disable) {
        __lsan_disable();
    }
}

static void
grn_py_lsan_on(void)
{
    if (__lsan_enable) {
        __lsan_enable();
    }
}

static grn_int_t
grn_py_load(grn_log_t *log)
{
    char                     path[64];
    void                    *handle;
    grn_uint_t               i;
    const size_t             sizes[] = GRN_PY_MODULE_SIZES;
    const grn_py_module_t   *mod;

    if (grn_py_mod) {
        return GRN_OK;
    }
    if (grn_py_image_prepare(log) != GRN_OK) {
        return GRN_ERROR;
    }
    snprintf(path, sizeof(path), "/proc/self/fd/%d", grn_py_memfd);

    grn_py_lsan_off();
    handle = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
    grn_py_lsan_on();
    if (handle == NULL) {
        /*
         * An error, not an emergency: this worker fails to boot and the master backs off. The
         * usual cause is an app's limit_as too small to map libpython: say so.
         */
        struct rlimit  rl;

        if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
            grn_log_error(GRN_LOG_ERR, log, 0, "cannot load the Python module: %s (this "
                          "worker's address space is limited to %llu bytes: is the app's "
                          "\"limit_as\" too small?)", dlerror(),
                          (unsigned long long) rl.rlim_cur);
        } else {
            grn_log_error(GRN_LOG_ERR, log, 0, "cannot load the Python module: %s", dlerror());
        }
        return GRN_ERROR;
    }
    mod = dlsym(handle, GRN_PY_MODULE_SYMBOL);
    if (mod == NULL) {
        grn_log_error(GRN_LOG_EMERG, log, 0, "the Python module has no table: %s", dlerror());
        dlclose(handle);
        return GRN_ERROR;
    }
    for (i = 0; i < grn_nelems(sizes); i++) {
        if (mod->sizes[i] != sizes[i]) {
            break;
        }
    }
    if (strcmp(mod->version, GREENC_VERSION) != 0 || i < grn_nelems(sizes)) {
        /* Cannot happen with the image built in; a guard for a mixed-up build tree. */
        grn_log_error(GRN_LOG_EMERG, log, 0, "the Python module comes from another build of "
                      "greenc (version %s, this binary is %s)", mod->version, GREENC_VERSION);
        dlclose(handle);
        return GRN_ERROR;
    }
    grn_py_mod = mod;

    /* The mapping stays; the descriptor is not the app's business. */
    close(grn_py_memfd);
    grn_py_memfd = -1;
    return GRN_OK;
}

grn_int_t
grn_py_init(grn_cycle_t *cycle, grn_app_conf_t *app)
{
    grn_int_t  rc;

    if (grn_py_load(cycle->log) != GRN_OK) {
        return GRN_ERROR;
    }
    grn_py_lsan_off();
    rc = grn_py_mod->init(cycle, app);
    grn_py_lsan_on();
    return rc;
}

/* The app may run for long: the calling thread's gate is open meanwhile (grn_worker.c). */
grn_int_t
grn_py_call(grn_http_request_t *r)
{
    grn_int_t  rc;

    if (grn_py_mod == NULL) {
        return GRN_ERROR;
    }
    grn_worker_app_enter();
    grn_py_lsan_off();
    rc = grn_py_mod->call(r);
    grn_py_lsan_on();
    grn_worker_app_leave();
    return rc;
}

grn_int_t
grn_py_next(grn_http_request_t *r)
{
    grn_int_t  rc;

    if (grn_py_mod == NULL) {
        return GRN_ERROR;
    }
    grn_worker_app_enter();
    grn_py_lsan_off();
    rc = grn_py_mod->next(r);
    grn_py_lsan_on();
    grn_worker_app_leave();
    return rc;
}

void
grn_py_abort(grn_http_request_t *r)
{
    if (grn_py_mod) {
        grn_worker_app_enter();
        grn_py_lsan_off();
        grn_py_mod->abort(r);
        grn_py_lsan_on();
        grn_worker_app_leave();
    }
}

void
grn_py_done(void)
{
    if (grn_py_mod) {
        grn_py_lsan_off();
        grn_py_mod->done();
        grn_py_lsan_on();
    }
}

void
grn_py_thread_done(void)
{
    if (grn_py_mod) {
        grn_py_lsan_off();
        grn_py_mod->thread_done();
        grn_py_lsan_on();
    }
}

grn_int_t
grn_py_check(grn_cycle_t *cycle, grn_app_conf_t *app)
{
    grn_int_t  rc;

    if (grn_py_load(cycle->log) != GRN_OK) {
        return GRN_ERROR;
    }
    grn_py_lsan_off();
    rc = grn_py_mod->check(cycle, app);
    grn_py_lsan_on();
    return rc;
}

const char *
grn_py_version(void)
{
    grn_log_t    log;
    const char  *v;

    memset(&log, 0, sizeof(log));
    log.fd = STDERR_FILENO;
    log.level = GRN_LOG_ERR;
    if (grn_py_load(&log) != GRN_OK) {
        return "(unknown: the Python module cannot be loaded)";
    }
    grn_py_lsan_off();
    v = grn_py_mod->version_string();
    grn_py_lsan_on();
    return v;
}
