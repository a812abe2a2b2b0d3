/*
 * grn_core_conf.c: the directives of the main context and of app { } blocks, and the checks
 * and defaults applied to them once the whole file is read.
 */

#include "grn_core.h"
#include "grn_cycle.h"

#include <grp.h>
#include <pwd.h>

static char *grn_core_error_log(grn_conf_t *cf, const grn_command_t *cmd, void *conf);
static char *grn_core_user(grn_conf_t *cf, const grn_command_t *cmd, void *conf);
static char *grn_core_app(grn_conf_t *cf, const grn_command_t *cmd, void *conf);
static char *grn_app_wsgi(grn_conf_t *cf, const grn_command_t *cmd, void *conf);
static char *grn_app_workers(grn_conf_t *cf, const grn_command_t *cmd, void *conf);
static char *grn_app_max_requests(grn_conf_t *cf, const grn_command_t *cmd, void *conf);
static char *grn_core_router_workers(grn_conf_t *cf, const grn_command_t *cmd, void *conf);

static const grn_conf_num_bounds_t  grn_threads_bounds = { 1, 256 };
static const grn_conf_num_bounds_t  grn_connections_bounds = { 16, 1000000 };
static const grn_conf_num_bounds_t  grn_nofile_bounds = { 16, 16777216 };

const grn_command_t grn_core_commands[] = {

    { grn_string("daemon"), GRN_MAIN_CONF | GRN_CONF_FLAG,
      grn_conf_set_flag_slot, GRN_CONF_CTX_CORE, offsetof(grn_core_conf_t, daemon), NULL },

    { grn_string("pid"), GRN_MAIN_CONF | GRN_CONF_TAKE1,
      grn_conf_set_path_slot, GRN_CONF_CTX_CORE, offsetof(grn_core_conf_t, pid), NULL },

    { grn_string("error_log"), GRN_MAIN_CONF | GRN_CONF_TAKE12,
      grn_core_error_log, GRN_CONF_CTX_CORE, 0, NULL },

    { grn_string("user"), GRN_MAIN_CONF | GRN_CONF_TAKE12,
      grn_core_user, GRN_CONF_CTX_CORE, offsetof(grn_core_conf_t, user), NULL },

    { grn_string("allow_root_workers"), GRN_MAIN_CONF | GRN_CONF_FLAG,
      grn_conf_set_flag_slot, GRN_CONF_CTX_CORE,
      offsetof(grn_core_conf_t, allow_root_workers), NULL },

    { grn_string("graceful_timeout"), GRN_MAIN_CONF | GRN_CONF_TAKE1,
      grn_conf_set_msec_slot, GRN_CONF_CTX_CORE,
      offsetof(grn_core_conf_t, graceful_timeout), NULL },

    { grn_string("env"), GRN_MAIN_CONF | GRN_CONF_TAKE1,
      grn_conf_set_keyval_slot, GRN_CONF_CTX_CORE, offsetof(grn_core_conf_t, env), NULL },

    { grn_string("worker_connections"), GRN_MAIN_CONF | GRN_CONF_TAKE1,
      grn_conf_set_num_slot, GRN_CONF_CTX_CORE,
      offsetof(grn_core_conf_t, worker_connections), &grn_connections_bounds },

    { grn_string("router_workers"), GRN_MAIN_CONF | GRN_CONF_TAKE1,
      grn_core_router_workers, GRN_CONF_CTX_CORE, 0, NULL },

    { grn_string("app"), GRN_MAIN_CONF | GRN_CONF_BLOCK | GRN_CONF_TAKE1,
      grn_core_app, GRN_CONF_CTX_CORE, 0, NULL },

    grn_null_command
};

const grn_command_t grn_app_commands[] = {

    { grn_string("wsgi"), GRN_APP_CONF | GRN_CONF_TAKE1,
      grn_app_wsgi, GRN_CONF_CTX_APP, 0, NULL },

    { grn_string("python_path"), GRN_APP_CONF | GRN_CONF_TAKE1,
      grn_conf_set_path_array_slot, GRN_CONF_CTX_APP,
      offsetof(grn_app_conf_t, python_path), NULL },

    { grn_string("home"), GRN_APP_CONF | GRN_CONF_TAKE1,
      grn_conf_set_path_slot, GRN_CONF_CTX_APP, offsetof(grn_app_conf_t, home), NULL },

    { grn_string("chdir"), GRN_APP_CONF | GRN_CONF_TAKE1,
      grn_conf_set_path_slot, GRN_CONF_CTX_APP, offsetof(grn_app_conf_t, chdir), NULL },

    { grn_string("env"), GRN_APP_CONF | GRN_CONF_TAKE1,
      grn_conf_set_keyval_slot, GRN_CONF_CTX_APP, offsetof(grn_app_conf_t, env), NULL },

    { grn_string("workers"), GRN_APP_CONF | GRN_CONF_TAKE1,
      grn_app_workers, GRN_CONF_CTX_APP, 0, NULL },

    { grn_string("threads"), GRN_APP_CONF | GRN_CONF_TAKE1,
      grn_conf_set_num_slot, GRN_CONF_CTX_APP, offsetof(grn_app_conf_t, threads),
      &grn_threads_bounds },

    { grn_string("timeout"), GRN_APP_CONF | GRN_CONF_TAKE1,
      grn_conf_set_msec_slot, GRN_CONF_CTX_APP, offsetof(grn_app_conf_t, timeout), NULL },

    { grn_string("max_requests"), GRN_APP_CONF | GRN_CONF_TAKE12,
      grn_app_max_requests, GRN_CONF_CTX_APP, 0, NULL },

    { grn_string("user"), GRN_APP_CONF | GRN_CONF_TAKE12,
      grn_core_user, GRN_CONF_CTX_APP, offsetof(grn_app_conf_t, user), NULL },

    { grn_string("limit_nofile"), GRN_APP_CONF | GRN_CONF_TAKE1,
      grn_conf_set_num_slot, GRN_CONF_CTX_APP, offsetof(grn_app_conf_t, limit_nofile),
      &grn_nofile_bounds },

    { grn_string("limit_as"), GRN_APP_CONF | GRN_CONF_TAKE1,
      grn_conf_set_off_slot, GRN_CONF_CTX_APP, offsetof(grn_app_conf_t, limit_as), NULL },

    grn_null_command
};

static char *
grn_core_error_log(grn_conf_t *cf, const grn_command_t *cmd GRN_UNUSED, void *conf)
{
    grn_int_t         level;
    grn_str_t        *value = cf->args->elts, path;
    grn_core_conf_t  *ccf = conf;
    grn_log_t        *log = cf->cycle->log;

    if (ccf->error_log_set) {
        return "is duplicate";
    }
    ccf->error_log_set = 1;

    if (grn_str_eq_lit(&value[1], "stderr")) {
        log->path = NULL;
        log->fd = STDERR_FILENO;

    } else {
        path = value[1];
        if (grn_conf_full_name(cf->cycle, &path) != GRN_OK) {
            return GRN_CONF_ERROR;
        }
        log->path = path.data;
        log->fd = -1;
    }

    if (cf->args->nelts == 3) {
        level = grn_log_level_parse(&value[2]);
        if (level <= 0) {
            grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "invalid value \"%.*s\" in \"error_log\" "
                               "directive, it must be one of debug, info, notice, warn, error, "
                               "crit, alert, emerg", (int) value[2].len, value[2].data);
            return GRN_CONF_ERROR;
        }
        log->level = (grn_uint_t) level;
    }

    return GRN_CONF_OK;
}

/* `user NAME [GROUP]` in main and app contexts: the field after `user` is `group`. */
static char *
grn_core_user(grn_conf_t *cf, const grn_command_t *cmd, void *conf)
{
    grn_str_t  *value = cf->args->elts;
    grn_str_t  *user = (grn_str_t *) ((char *) conf + cmd->offset);
    grn_str_t  *group = user + 1;

    if (user->data) {
        return "is duplicate";
    }

    *user = value[1];
    if (cf->args->nelts == 3) {
        *group = value[2];
    }
    return GRN_CONF_OK;
}

static char *
grn_core_app(grn_conf_t *cf, const grn_command_t *cmd GRN_UNUSED, void *conf GRN_UNUSED)
{
    char             *rv;
    grn_str_t        *value = cf->args->elts;
    grn_uint_t        i;
    grn_conf_t        save;
    grn_app_conf_t   *app, **papp;

    for (i = 0; i < value[1].len; i++) {
        char  ch = value[1].data[i];

        if (!(ch == '_' || ch == '-' || ch == '.' || (ch >= '0' && ch <= '9')
              || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')))
        {
            grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "invalid app name \"%.*s\", it may hold "
                               "letters, digits, \"_\", \"-\" and \".\"",
                               (int) value[1].len, value[1].data);
            return GRN_CONF_ERROR;
        }
    }
    if (value[1].len == 0 || grn_str_eq_lit(&value[1], "router")) {
        grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "invalid app name \"%.*s\"",
                           (int) value[1].len, value[1].data);
        return GRN_CONF_ERROR;
    }

    if (grn_cycle_find_app(cf->cycle, &value[1])) {
        grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "duplicate app \"%.*s\"",
                           (int) value[1].len, value[1].data);
        return GRN_CONF_ERROR;
    }

    app = grn_pcalloc(cf->pool, sizeof(grn_app_conf_t));
    if (app == NULL) {
        return GRN_CONF_ERROR;
    }
    app->name = value[1];
    app->factory = GRN_CONF_UNSET;
    app->python_path = GRN_CONF_UNSET_PTR;
    app->env = GRN_CONF_UNSET_PTR;
    app->workers = GRN_CONF_UNSET;
    app->threads = GRN_CONF_UNSET;
    app->timeout = GRN_CONF_UNSET_MSEC;
    app->max_requests = GRN_CONF_UNSET;
    app->max_requests_jitter = GRN_CONF_UNSET;
    app->limit_nofile = GRN_CONF_UNSET;
    app->limit_as = GRN_CONF_UNSET;
    app->file = cf->conf_file->name;
    app->line = cf->conf_file->line;
    app->index = cf->cycle->apps.nelts;

    papp = grn_array_push(&cf->cycle->apps);
    if (papp == NULL) {
        return GRN_CONF_ERROR;
    }
    *papp = app;

    save = *cf;
    cf->ctx[GRN_CONF_CTX_APP] = app;
    cf->cmd_type = GRN_APP_CONF;

    rv = grn_conf_parse(cf, NULL);

    *cf = save;
    return rv;
}

static grn_flag_t
grn_app_is_dotted_name(const char *p, size_t len)
{
    size_t  i;

    if (len == 0 || p[0] == '.' || p[len - 1] == '.') {
        return 0;
    }
    for (i = 0; i < len; i++) {
        char  ch = p[i];

        if (ch == '.') {
            if (p[i + 1] == '.' || (p[i + 1] >= '0' && p[i + 1] <= '9')) {
                return 0;
            }
            continue;
        }
        if (!(ch == '_' || (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z')
              || (ch >= 'A' && ch <= 'Z') || (unsigned char) ch >= 0x80))
        {
            return 0;
        }
    }
    return !(p[0] >= '0' && p[0] <= '9');
}

/*
 * "module:callable", "module:factory()", "module:factory('prod', debug=True)" (literal
 * arguments, checked when the app loads), or "module" (callable "application", as Gunicorn).
 */
static char *
grn_app_wsgi(grn_conf_t *cf, const grn_command_t *cmd GRN_UNUSED, void *conf)
{
    char            *colon;
    grn_str_t       *value = cf->args->elts, module, callable;
    grn_app_conf_t  *app = conf;

    if (app->wsgi.data) {
        return "is duplicate";
    }

    colon = memchr(value[1].data, ':', value[1].len);
    if (colon) {
        module.data = value[1].data;
        module.len = colon - value[1].data;
        callable.data = colon + 1;
        callable.len = value[1].data + value[1].len - callable.data;
    } else {
        module = value[1];
        grn_str_set(&callable, "application");
    }

    app->factory = 0;
    if (callable.len > 2 && callable.data[callable.len - 1] == ')') {
        char  *open = memchr(callable.data, '(', callable.len);

        if (open != NULL) {
            grn_str_t  args;

            app->factory = 1;
            args.data = open + 1;
            args.len = callable.data + callable.len - 1 - args.data;
            callable.len = open - callable.data;
            if (args.len) {
                app->factory_args.data = grn_pstrdup(cf->pool, &args);
                app->factory_args.len = args.len;
                if (app->factory_args.data == NULL) {
                    return GRN_CONF_ERROR;
                }
            }
        }
    }

    if (!grn_app_is_dotted_name(module.data, module.len)
        || !grn_app_is_dotted_name(callable.data, callable.len))
    {
        grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "invalid value \"%.*s\" in \"wsgi\" directive, "
                           "it must be module:callable or module:factory(args)",
                           (int) value[1].len, value[1].data);
        return GRN_CONF_ERROR;
    }

    app->wsgi = value[1];
    app->module.data = grn_pstrdup(cf->pool, &module);
    app->module.len = module.len;
    app->callable.data = grn_pstrdup(cf->pool, &callable);
    app->callable.len = callable.len;
    if (app->module.data == NULL || app->callable.data == NULL) {
        return GRN_CONF_ERROR;
    }
    return GRN_CONF_OK;
}

static char *
grn_app_workers(grn_conf_t *cf, const grn_command_t *cmd GRN_UNUSED, void *conf)
{
    grn_int_t        n;
    grn_str_t       *value = cf->args->elts;
    grn_app_conf_t  *app = conf;

    if (app->workers != GRN_CONF_UNSET) {
        return "is duplicate";
    }

    if (grn_str_eq_lit(&value[1], "auto")) {
        app->workers = GRN_WORKERS_AUTO;
        return GRN_CONF_OK;
    }

    n = grn_atoi(value[1].data, value[1].len);
    if (n < 1 || n > 1024) {
        grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "invalid value \"%.*s\" in \"workers\" "
                           "directive, it must be a number from 1 to 1024 or \"auto\"",
                           (int) value[1].len, value[1].data);
        return GRN_CONF_ERROR;
    }
    app->workers = n;
    return GRN_CONF_OK;
}

/* router_workers N | auto: the C-only group that accepts listeners shared by several apps. */
static char *
grn_core_router_workers(grn_conf_t *cf, const grn_command_t *cmd GRN_UNUSED, void *conf)
{
    grn_int_t         n;
    grn_str_t        *value = cf->args->elts;
    grn_core_conf_t  *ccf = conf;

    if (ccf->router_workers != GRN_CONF_UNSET) {
        return "is duplicate";
    }
    if (grn_str_eq_lit(&value[1], "auto")) {
        ccf->router_workers = GRN_WORKERS_AUTO;
        return GRN_CONF_OK;
    }
    n = grn_atoi(value[1].data, value[1].len);
    if (n < 1 || n > 64) {
        grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "invalid value \"%.*s\" in \"router_workers\" "
                           "directive, it must be a number from 1 to 64 or \"auto\"",
                           (int) value[1].len, value[1].data);
        return GRN_CONF_ERROR;
    }
    ccf->router_workers = n;
    return GRN_CONF_OK;
}

static char *
grn_app_max_requests(grn_conf_t *cf, const grn_command_t *cmd GRN_UNUSED, void *conf)
{
    grn_int_t        n, jitter;
    grn_str_t       *value = cf->args->elts;
    grn_app_conf_t  *app = conf;

    if (app->max_requests != GRN_CONF_UNSET) {
        return "is duplicate";
    }

    n = grn_atoi(value[1].data, value[1].len);
    jitter = 0;
    if (cf->args->nelts == 3) {
        jitter = grn_atoi(value[2].data, value[2].len);
    }
    if (n < 0 || jitter < 0) {
        grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "invalid value \"%.*s\" in \"max_requests\" "
                           "directive", (int) value[n < 0 ? 1 : 2].len,
                           value[n < 0 ? 1 : 2].data);
        return GRN_CONF_ERROR;
    }
    app->max_requests = n;
    app->max_requests_jitter = jitter;
    return GRN_CONF_OK;
}

static grn_int_t
grn_core_check_user(grn_log_t *log, grn_str_t *user, grn_str_t *group, grn_str_t *file,
    grn_uint_t line)
{
    struct passwd  *pw;

    pw = user->data ? getpwnam(user->data) : NULL;
    if (user->data && pw == NULL) {
        grn_log_error(GRN_LOG_EMERG, log, 0, "user \"%s\" does not exist in %.*s:%lu",
                      user->data, (int) file->len, file->data, (unsigned long) line);
        return GRN_ERROR;
    }
    if (group->data && getgrnam(group->data) == NULL) {
        grn_log_error(GRN_LOG_EMERG, log, 0, "group \"%s\" does not exist in %.*s:%lu",
                      group->data, (int) file->len, file->data, (unsigned long) line);
        return GRN_ERROR;
    }
    if (pw != NULL && pw->pw_uid == 0 && geteuid() == 0) {
        return GRN_DECLINED;            /* root: the caller decides (allow_root_workers) */
    }
    return GRN_OK;
}

grn_int_t
grn_core_conf_finish(grn_cycle_t *cycle, grn_log_t *log)
{
    grn_uint_t        i;
    grn_app_conf_t  **apps, *app;
    grn_core_conf_t  *ccf = cycle->core;

    grn_conf_init_value(ccf->daemon, 0);
    grn_conf_init_value(ccf->allow_root_workers, 0);
    grn_conf_init_value(ccf->worker_connections, 1024);
    /* The router is pure C and never blocks: one process per core uses the machine. */
    if (ccf->router_workers == GRN_CONF_UNSET || ccf->router_workers == GRN_WORKERS_AUTO) {
        ccf->router_workers = (grn_int_t) cycle->ncpu;
    }
    if (ccf->graceful_timeout == GRN_CONF_UNSET_MSEC) {
        ccf->graceful_timeout = 30000;
    }
    if (ccf->env == GRN_CONF_UNSET_PTR) {
        ccf->env = NULL;
    }
    if (ccf->pid.data == NULL) {
        grn_str_set(&ccf->pid, GRN_PID_PATH);
        if (grn_conf_full_name(cycle, &ccf->pid) != GRN_OK) {
            return GRN_ERROR;
        }
    }

    apps = cycle->apps.elts;
    for (i = 0; i < cycle->apps.nelts; i++) {
        app = apps[i];

        if (app->wsgi.data == NULL) {
            grn_log_error(GRN_LOG_EMERG, log, 0,
                          "app \"%.*s\" has no \"wsgi\" directive in %.*s:%lu",
                          (int) app->name.len, app->name.data, (int) app->file.len,
                          app->file.data, (unsigned long) app->line);
            return GRN_ERROR;
        }

        if (app->workers == GRN_CONF_UNSET) {
            app->workers = 1;
        } else if (app->workers == GRN_WORKERS_AUTO) {
            app->workers = (grn_int_t) cycle->ncpu;
        }
        grn_conf_init_value(app->threads, 1);
        if (app->timeout == GRN_CONF_UNSET_MSEC) {
            app->timeout = 30000;
        }
        grn_conf_init_value(app->max_requests, 0);
        grn_conf_init_value(app->max_requests_jitter, 0);
        if (app->python_path == GRN_CONF_UNSET_PTR) {
            app->python_path = NULL;
        }
        if (app->env == GRN_CONF_UNSET_PTR) {
            app->env = NULL;
        }
        if (app->user.data == NULL) {
            app->user = ccf->user;
            app->group = ccf->group;
        }

        /*
         * An app that would run as root because the config says "user root" (in its block or
         * in the main context) is refused unless allow_root_workers confirms it: app code as
         * root turns any bug in it into the machine's. Without any "user" the master only
         * warns at start-up (greenc.c), so that a quick start as root still runs.
         */
        switch (grn_core_check_user(log, &app->user, &app->group, &app->file, app->line)) {
        case GRN_OK:
            break;
        case GRN_DECLINED:
            if (ccf->allow_root_workers) {
                break;
            }
            grn_log_error(GRN_LOG_EMERG, log, 0, "app \"%.*s\" in %.*s:%lu would run as root "
                          "(user \"%s\"): set another \"user\", or \"allow_root_workers on;\" "
                          "in the main context if the app must run as root",
                          (int) app->name.len, app->name.data, (int) app->file.len,
                          app->file.data, (unsigned long) app->line, app->user.data);
            return GRN_ERROR;
        default:
            return GRN_ERROR;
        }
    }

    return GRN_OK;
}
