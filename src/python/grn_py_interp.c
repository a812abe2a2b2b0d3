/*
 * grn_py_interp.c: the interpreter's life cycle in an app worker.
 *
 * A worker process embeds one interpreter for one app. grn_py_init() runs after fork and after
 * privileges are dropped: it sets the process environment and cwd the app block asks for, starts
 * CPython (in the app's virtualenv when `home` is set), puts `python_path` in front of sys.path,
 * imports the app's module and resolves its callable, then releases the GIL. From then on a
 * thread holds the GIL only while the app runs (grn_py_thread_enter/leave around each call).
 *
 * Each OS thread that calls the app gets its own PyThreadState, created at its first request and
 * kept: PyGILState_Ensure/Release would create and destroy one per request on threads Python
 * did not start. PyThreadState_New also registers the state as the thread's "GIL state", so C
 * extensions that use PyGILState_Ensure inside a request find it.
 */

#include "grn_py_internal.h"

grn_py_main_t grn_py;

static __thread grn_py_thread_t *grn_py_thread;

#define grn_py_array_is_set(a) ((a) != NULL && (a) != GRN_CONF_UNSET_PTR && (a)->nelts > 0)

/* A NUL-terminated malloc'd copy, for the APIs that need one; NULL (logged) on failure. */
static char *
grn_py_strdup(const grn_str_t *s)
{
    char *p;

    p = malloc(s->len + 1);
    if (p == NULL) {
        grn_log_error(GRN_LOG_ERR, grn_py.log, errno, "malloc(%zu) failed", s->len + 1);
        return NULL;
    }

    memcpy(p, s->data, s->len);
    p[s->len] = '\0';

    return p;
}

static grn_int_t
grn_py_set_env(grn_array_t *env)
{
    char      *kv, *eq;
    grn_str_t *vars;
    grn_uint_t i;

    if (!grn_py_array_is_set(env)) {
        return GRN_OK;
    }

    vars = env->elts;

    for (i = 0; i < env->nelts; i++) {
        kv = grn_py_strdup(&vars[i]);
        if (kv == NULL) {
            return GRN_ERROR;
        }

        eq = strchr(kv, '=');
        if (eq != NULL) {
            *eq = '\0';
        }

        if (setenv(kv, eq ? eq + 1 : "", 1) != 0) {
            grn_log_error(GRN_LOG_ERR, grn_py.log, errno, "app \"%.*s\": setenv(\"%s\") failed",
                          (int) grn_py.app->name.len, grn_py.app->name.data, kv);
            free(kv);
            return GRN_ERROR;
        }

        free(kv);
    }

    return GRN_OK;
}

/*
 * `home` is normally a virtualenv. CPython finds one the way the venv's own python does: it
 * looks for pyvenv.cfg next to or above its executable, so naming HOME/bin/python3 as the
 * program is enough for sys.prefix, site-packages and include-system-site-packages to come out
 * as if that python ran the app. A `home` without pyvenv.cfg is taken as a Python installation
 * prefix (PYTHONHOME), as uWSGI does.
 */
static grn_int_t
grn_py_config_home(PyConfig *config, grn_app_conf_t *app)
{
    char    *path;
    size_t   len;
    PyStatus status;

    len = app->home.len + sizeof("/bin/python3");

    path = malloc(len);
    if (path == NULL) {
        grn_log_error(GRN_LOG_ERR, grn_py.log, errno, "malloc(%zu) failed", len);
        return GRN_ERROR;
    }

    snprintf(path, len, "%.*s/pyvenv.cfg", (int) app->home.len, app->home.data);

    if (access(path, F_OK) == 0) {
        snprintf(path, len, "%.*s/bin/python3", (int) app->home.len, app->home.data);
        status = PyConfig_SetBytesString(config, &config->program_name, path);

    } else {
        snprintf(path, len, "%.*s", (int) app->home.len, app->home.data);
        status = PyConfig_SetBytesString(config, &config->home, path);
    }

    free(path);

    if (PyStatus_Exception(status)) {
        grn_log_error(GRN_LOG_ERR, grn_py.log, 0, "app \"%.*s\": cannot use home \"%.*s\": %s",
                      (int) app->name.len, app->name.data, (int) app->home.len, app->home.data,
                      status.err_msg ? status.err_msg : "error");
        return GRN_ERROR;
    }

    return GRN_OK;
}

static grn_int_t
grn_py_start(grn_app_conf_t *app)
{
    PyConfig config;
    PyStatus status;

    PyConfig_InitPythonConfig(&config);

    /* The worker's event loop owns the signals; the app gets no argv to parse. */
    config.install_signal_handlers = 0;
    config.parse_argv = 0;
    config.configure_c_stdio = 0;

    if (app->home.len > 0 && grn_py_config_home(&config, app) != GRN_OK) {
        PyConfig_Clear(&config);
        return GRN_ERROR;
    }

    status = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);

    if (PyStatus_Exception(status)) {
        grn_log_error(GRN_LOG_ERR, grn_py.log, 0, "app \"%.*s\": cannot initialize Python%s%s: %s",
                      (int) app->name.len, app->name.data, status.func ? " in " : "",
                      status.func ? status.func : "", status.err_msg ? status.err_msg : "error");
        return GRN_ERROR;
    }

    return GRN_OK;
}

/* Prepends the app's python_path entries to sys.path, keeping their order. */
static grn_int_t
grn_py_set_path(grn_app_conf_t *app)
{
    PyObject  *sys_path, *entry;
    grn_str_t *paths;
    grn_uint_t i;

    if (!grn_py_array_is_set(app->python_path)) {
        return GRN_OK;
    }

    sys_path = PySys_GetObject("path"); /* borrowed */

    if (sys_path == NULL || !PyList_Check(sys_path)) {
        PyErr_SetString(PyExc_RuntimeError, "sys.path is not a list");
        return GRN_ERROR;
    }

    paths = app->python_path->elts;

    for (i = 0; i < app->python_path->nelts; i++) {
        entry = PyUnicode_DecodeFSDefaultAndSize(paths[i].data, paths[i].len);

        if (entry == NULL || PyList_Insert(sys_path, i, entry) != 0) {
            Py_XDECREF(entry);
            return GRN_ERROR;
        }

        Py_DECREF(entry);
    }

    return GRN_OK;
}

/*
 * The steps grn_py_init() and grn_py_check() share: environment, cwd, interpreter, sys.path and
 * the error machinery. On success the GIL is held.
 */
static grn_int_t
grn_py_prepare(grn_cycle_t *cycle, grn_app_conf_t *app)
{
    char *dir;

    grn_py.cycle = cycle;
    grn_py.app = app;
    grn_py.log = cycle->log;

    /* Before Py_Initialize: the app's PYTHON* variables take effect, os.environ sees all. */
    if (grn_py_set_env(cycle->core ? cycle->core->env : NULL) != GRN_OK ||
        grn_py_set_env(app->env) != GRN_OK) {
        return GRN_ERROR;
    }

    if (app->chdir.len > 0) {
        dir = grn_py_strdup(&app->chdir);
        if (dir == NULL) {
            return GRN_ERROR;
        }

        if (chdir(dir) != 0) {
            grn_log_error(GRN_LOG_ERR, grn_py.log, errno, "app \"%.*s\": chdir(\"%s\") failed",
                          (int) app->name.len, app->name.data, dir);
            free(dir);
            return GRN_ERROR;
        }

        free(dir);
    }

    if (grn_py_start(app) != GRN_OK) {
        return GRN_ERROR;
    }

    grn_py.initialized = 1;

    if (grn_py_errors_init() != GRN_OK) {
        grn_py_log_exception(GRN_LOG_ERR, "cannot set up wsgi.errors");
        return GRN_ERROR;
    }

    if (grn_py_set_path(app) != GRN_OK) {
        grn_py_log_exception(GRN_LOG_ERR, "cannot set sys.path");
        return GRN_ERROR;
    }

    return GRN_OK;
}

/*
 * Calls factory(ARGS) where ARGS is the text between the parentheses of the wsgi directive.
 * Only literals are accepted (ast.literal_eval, as Gunicorn does): the config names an app,
 * it does not run code.
 */
static PyObject *
grn_py_call_factory(PyObject *factory, grn_str_t *args)
{
    PyObject  *globals, *res, *fn, *text;

    static const char  code[] =
        "import ast\n"
        "def call(factory, text):\n"
        "    node = ast.parse('f(' + text + ')', mode='eval').body\n"
        "    if not isinstance(node, ast.Call) or any(isinstance(a, ast.Starred)"
        " for a in node.args) or any(k.arg is None for k in node.keywords):\n"
        "        raise ValueError('the factory arguments must be literals: ' + text)\n"
        "    args = [ast.literal_eval(a) for a in node.args]\n"
        "    kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords}\n"
        "    return factory(*args, **kwargs)\n";

    globals = PyDict_New();
    if (globals == NULL) {
        return NULL;
    }
    if (PyDict_SetItemString(globals, "__builtins__", PyEval_GetBuiltins()) != 0) {
        Py_DECREF(globals);
        return NULL;
    }
    res = PyRun_String(code, Py_file_input, globals, globals);
    if (res == NULL) {
        Py_DECREF(globals);
        return NULL;
    }
    Py_DECREF(res);

    fn = PyDict_GetItemString(globals, "call");
    text = PyUnicode_FromStringAndSize(args->data, (Py_ssize_t) args->len);
    res = (fn && text) ? PyObject_CallFunctionObjArgs(fn, factory, text, NULL) : NULL;
    Py_XDECREF(text);
    Py_DECREF(globals);
    return res;
}

/*
 * The master sends SIGUSR2 to a worker whose request overran the app's `timeout`, just before
 * it kills it. faulthandler writes every thread's traceback from the signal handler itself, so
 * it works while the stuck thread holds the GIL: the error log shows where the request was.
 */
static grn_int_t
grn_py_register_timeout_dump(void)
{
    int        fd = grn_py.log->fd >= 0 ? grn_py.log->fd : STDERR_FILENO;
    PyObject  *fh, *res;

    fh = PyImport_ImportModule("faulthandler");
    if (fh == NULL) {
        return GRN_ERROR;
    }
    res = PyObject_CallMethod(fh, "register", "iiii", SIGUSR2, fd, 1, 0);
    Py_DECREF(fh);
    if (res == NULL) {
        return GRN_ERROR;
    }
    Py_DECREF(res);
    return GRN_OK;
}

/* Imports the module, resolves the (dotted) callable, calls the factory; a new reference. */
static PyObject *
grn_py_load(grn_app_conf_t *app)
{
    char     *name, *dot;
    PyObject *module_name, *obj, *attr, *app_obj;
    grn_str_t part, *callable = &app->callable;

    module_name = PyUnicode_FromStringAndSize(app->module.data, app->module.len);
    if (module_name == NULL) {
        return NULL;
    }

    obj = PyImport_Import(module_name);
    Py_DECREF(module_name);

    if (obj == NULL) {
        return NULL;
    }

    /* "obj.app" in "pkg.mod:obj.app": one getattr per component. */
    name = callable->data;

    while (name < callable->data + callable->len) {
        dot = memchr(name, '.', callable->data + callable->len - name);

        part.data = name;
        part.len = (dot ? dot : callable->data + callable->len) - name;

        attr = PyUnicode_FromStringAndSize(part.data, part.len);
        if (attr == NULL) {
            Py_DECREF(obj);
            return NULL;
        }

        Py_SETREF(obj, PyObject_GetAttr(obj, attr));
        Py_DECREF(attr);

        if (obj == NULL) {
            return NULL;
        }

        name += part.len + 1;
    }

    if (app->factory > 0 && app->factory_args.len) {
        app_obj = grn_py_call_factory(obj, &app->factory_args);
        Py_DECREF(obj);

        if (app_obj == NULL) {
            return NULL;
        }

        obj = app_obj;

    } else if (app->factory > 0) {
        app_obj = PyObject_CallNoArgs(obj);
        Py_DECREF(obj);

        if (app_obj == NULL) {
            return NULL;
        }

        obj = app_obj;
    }

    if (!PyCallable_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "the WSGI application %R is not callable", obj);
        Py_DECREF(obj);
        return NULL;
    }

    return obj;
}

grn_int_t
grn_py_init(grn_cycle_t *cycle, grn_app_conf_t *app)
{
    grn_py_thread_t *t;

    if (grn_py_prepare(cycle, app) != GRN_OK) {
        goto failed;
    }

    if (grn_py_input_init() != GRN_OK || grn_py_file_init() != GRN_OK ||
        grn_py_wsgi_init() != GRN_OK) {
        grn_py_log_exception(GRN_LOG_ERR, "cannot set up the WSGI objects");
        goto failed;
    }

    grn_py.application = grn_py_load(app);

    if (grn_py.application == NULL) {
        grn_py_log_exception(GRN_LOG_ERR, "cannot load \"%.*s\"", (int) app->wsgi.len,
                             app->wsgi.data);
        goto failed;
    }

    t = calloc(1, sizeof(grn_py_thread_t));
    if (t == NULL) {
        grn_log_error(GRN_LOG_ERR, grn_py.log, errno, "calloc(%zu) failed",
                      sizeof(grn_py_thread_t));
        goto failed;
    }

    t->tstate = PyThreadState_Get();
    grn_py_thread = t;

    if (grn_py_register_timeout_dump() != GRN_OK) {
        grn_py_log_exception(GRN_LOG_WARN, "cannot register the timeout traceback dump");
    }

    grn_log_error(GRN_LOG_INFO, grn_py.log, 0, "app \"%.*s\": loaded \"%.*s\" with Python %s",
                  (int) app->name.len, app->name.data, (int) app->wsgi.len, app->wsgi.data,
                  grn_py_version());

    grn_py.main_tstate = PyEval_SaveThread();

    return GRN_OK;

failed:

    /* Leave the GIL released, as after success, so that grn_py_done() works either way. */
    if (grn_py.initialized) {
        grn_py.main_tstate = PyEval_SaveThread();
    }

    return GRN_ERROR;
}

grn_py_thread_t *
grn_py_thread_enter(void)
{
    grn_py_thread_t *t;

    t = grn_py_thread;

    if (t != NULL) {
        PyEval_RestoreThread(t->tstate);
        return t;
    }

    /* The first request on a thread other than the one that ran grn_py_init(). */

    t = calloc(1, sizeof(grn_py_thread_t));
    if (t == NULL) {
        grn_log_error(GRN_LOG_ERR, grn_py.log, errno, "calloc(%zu) failed",
                      sizeof(grn_py_thread_t));
        return NULL;
    }

    t->tstate = PyThreadState_New(PyThreadState_GetInterpreter(grn_py.main_tstate));
    if (t->tstate == NULL) {
        grn_log_error(GRN_LOG_ERR, grn_py.log, 0, "app \"%.*s\": cannot create a thread state",
                      (int) grn_py.app->name.len, grn_py.app->name.data);
        free(t);
        return NULL;
    }

    PyEval_RestoreThread(t->tstate);
    grn_py_thread = t;

    return t;
}

void
grn_py_thread_leave(grn_py_thread_t *t GRN_UNUSED)
{
    (void) PyEval_SaveThread();
}

void
grn_py_thread_done(void)
{
    grn_py_thread_t *t = grn_py_thread;

    if (t == NULL || !grn_py.initialized || t->tstate == grn_py.main_tstate) {
        return;
    }

    PyEval_RestoreThread(t->tstate);
    grn_py_wsgi_thread_done(t);
    PyThreadState_Clear(t->tstate);
    PyThreadState_DeleteCurrent();

    grn_py_thread = NULL;
    free(t);
}

void
grn_py_done(void)
{
    grn_py_thread_t *t = grn_py_thread;

    if (!grn_py.initialized) {
        return;
    }

    PyEval_RestoreThread(t ? t->tstate : grn_py.main_tstate);

    if (t != NULL) {
        grn_py_wsgi_thread_done(t);
    }

    Py_CLEAR(grn_py.application);
    grn_py_wsgi_done();
    grn_py_errors_done();

    if (Py_FinalizeEx() < 0) {
        grn_log_error(GRN_LOG_WARN, grn_py.log, 0,
                      "app \"%.*s\": Python could not flush its buffered output at exit",
                      (int) grn_py.app->name.len, grn_py.app->name.data);
    }

    grn_py.initialized = 0;
    grn_py.main_tstate = NULL;
    grn_py_thread = NULL;
    free(t);
}

grn_int_t
grn_py_check(grn_cycle_t *cycle, grn_app_conf_t *app)
{
    grn_int_t rc;
    PyObject *util, *name, *spec;

    if (grn_py_prepare(cycle, app) != GRN_OK) {
        return GRN_ERROR;
    }

    /*
     * find_spec() locates the module without running it; for "pkg.mod" it imports "pkg" (a
     * package's submodules are found through its __path__), which is acceptable here.
     */
    spec = NULL;
    util = PyImport_ImportModule("importlib.util");
    name = PyUnicode_FromStringAndSize(app->module.data, app->module.len);

    if (util != NULL && name != NULL) {
        spec = PyObject_CallMethod(util, "find_spec", "O", name);
    }

    Py_XDECREF(util);
    Py_XDECREF(name);

    if (spec == NULL && PyErr_ExceptionMatches(PyExc_ModuleNotFoundError)) {
        PyErr_Clear();
        spec = Py_NewRef(Py_None);
    }

    if (spec == NULL) {
        grn_py_log_exception(GRN_LOG_ERR, "cannot look for module \"%.*s\"", (int) app->module.len,
                             app->module.data);
        rc = GRN_ERROR;

    } else if (spec == Py_None) {
        grn_log_error(GRN_LOG_ERR, grn_py.log, 0, "app \"%.*s\": module \"%.*s\" not found",
                      (int) app->name.len, app->name.data, (int) app->module.len,
                      app->module.data);
        rc = GRN_ERROR;

    } else {
        rc = GRN_OK;
    }

    Py_XDECREF(spec);

    /*
     * The interpreter stays up: the caller is a child that exits now, and finalizing could wait
     * forever for a thread that an imported parent package started.
     */
    return rc;
}

const char *
grn_py_version(void)
{
    size_t      len;
    const char *version;
    static char buf[32];

    if (buf[0] == '\0') {
        version = Py_GetVersion();
        len = strcspn(version, " ");
        len = grn_min(len, sizeof(buf) - 1);

        memcpy(buf, version, len);
        buf[len] = '\0';
    }

    return buf;
}
