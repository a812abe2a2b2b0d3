/*
 * grn_cycle.c: building a generation from the config, and handing listeners from one
 * generation to the next.
 *
 * grn_cycle_init() parses into a fresh pool and validates everything before anything outside
 * the new cycle is touched, so a bad config on reload leaves the running generation as it was.
 * A listener whose address is unchanged keeps its fd: the new cycle takes it over, and
 * grn_cycle_release() closes only the old sockets nobody took.
 */

#include "grn_core.h"
#include "grn_cycle.h"
#include "grn_http_conf.h"

#include <pwd.h>
#include <sys/random.h>

static const grn_command_t *const grn_cycle_commands[] = {
    grn_core_commands,
    grn_app_commands,
    grn_http_commands,
    grn_http_static_commands,
    grn_http_access_commands,
    grn_http_ssl_commands,
    NULL
};

static grn_int_t grn_cycle_make_groups(grn_cycle_t *cycle, grn_log_t *log);

/*
 * "name<TAB>block block ..." for every directive, in table order: what `greenc -L` prints, so
 * that the man page test and editor syntax files follow the tables instead of a copied list.
 * A name valid in several tables (env, user) appears once per table.
 */
void
grn_cycle_list_directives(FILE *out)
{
    grn_uint_t                    i, j;
    const grn_command_t          *cmd;
    static const struct {
        grn_uint_t   mask;
        const char  *name;
    }                             blocks[] = {
        { GRN_MAIN_CONF, "main" }, { GRN_APP_CONF, "app" }, { GRN_HTTP_CONF, "http" },
        { GRN_SRV_CONF, "server" }, { GRN_LOC_CONF, "location" },
    };

    for (i = 0; grn_cycle_commands[i]; i++) {
        for (cmd = grn_cycle_commands[i]; cmd->name.len; cmd++) {
            fprintf(out, "%.*s\t", (int) cmd->name.len, cmd->name.data);
            for (j = 0; j < grn_nelems(blocks); j++) {
                if (cmd->type & blocks[j].mask) {
                    fprintf(out, " %s", blocks[j].name);
                }
            }
            fputc('\n', out);
        }
    }
}

static grn_int_t
grn_cycle_copy_str(grn_pool_t *pool, grn_str_t *dst, const grn_str_t *src)
{
    dst->len = src->len;
    dst->data = grn_pstrdup(pool, src);
    return dst->data ? GRN_OK : GRN_ERROR;
}

grn_cycle_t *
grn_cycle_init(grn_cycle_t *old_cycle, grn_log_t *log, const grn_str_t *conf_file,
    const grn_str_t *prefix, const grn_str_t *conf_param)
{
    long              ncpu;
    grn_uint_t        i, j;
    grn_pool_t       *pool;
    grn_conf_t        cf;
    grn_cycle_t      *cycle;
    grn_core_conf_t  *ccf;
    grn_listening_t  *ls, *old;

    pool = grn_create_pool(GRN_POOL_DEFAULT_SIZE, log);
    if (pool == NULL) {
        return NULL;
    }
    memset(&cf, 0, sizeof(cf));

    cycle = grn_pcalloc(pool, sizeof(grn_cycle_t));
    if (cycle == NULL) {
        goto failed;
    }
    cycle->pool = pool;
    cycle->old_cycle = old_cycle;
    cycle->generation = old_cycle ? old_cycle->generation + 1 : 1;

    /* Forwarded requests name their generation by this, not by a counter a new binary resets. */
    if (getrandom(&cycle->id, sizeof(cycle->id), GRND_NONBLOCK) != sizeof(cycle->id)) {
        cycle->id = (uint64_t) time(NULL) << 20 ^ (uint64_t) getpid() << 8 ^ cycle->generation;
    }

    ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    cycle->ncpu = ncpu > 0 ? (grn_uint_t) ncpu : 1;

    if (grn_cycle_copy_str(pool, &cycle->conf_file, conf_file) != GRN_OK
        || grn_cycle_copy_str(pool, &cycle->prefix, prefix) != GRN_OK
        || grn_cycle_copy_str(pool, &cycle->conf_param, conf_param) != GRN_OK)
    {
        goto failed;
    }

    if (grn_array_init(&cycle->apps, pool, 4, sizeof(grn_app_conf_t *)) != GRN_OK
        || grn_array_init(&cycle->listening, pool, 4, sizeof(grn_listening_t)) != GRN_OK
        || grn_array_init(&cycle->groups, pool, 4, sizeof(grn_group_t)) != GRN_OK
        || grn_array_init(&cycle->open_files, pool, 4, sizeof(grn_open_file_t)) != GRN_OK
        || grn_array_init(&cycle->config_dump, pool, 2, sizeof(grn_conf_dump_t)) != GRN_OK)
    {
        goto failed;
    }

    cycle->log = grn_pcalloc(pool, sizeof(grn_log_t));
    if (cycle->log == NULL) {
        goto failed;
    }
    cycle->log->level = GRN_LOG_ERR;
    cycle->log->fd = -1;

    ccf = grn_pcalloc(pool, sizeof(grn_core_conf_t));
    if (ccf == NULL) {
        goto failed;
    }
    ccf->daemon = GRN_CONF_UNSET;
    ccf->graceful_timeout = GRN_CONF_UNSET_MSEC;
    ccf->env = GRN_CONF_UNSET_PTR;
    ccf->worker_connections = GRN_CONF_UNSET;
    ccf->router_workers = GRN_CONF_UNSET;
    ccf->allow_root_workers = GRN_CONF_UNSET;
    cycle->core = ccf;

    cf.temp_pool = grn_create_pool(GRN_POOL_DEFAULT_SIZE, log);
    if (cf.temp_pool == NULL) {
        goto failed;
    }
    cf.args = grn_array_create(cf.temp_pool, 8, sizeof(grn_str_t));
    if (cf.args == NULL) {
        goto failed;
    }
    cf.cycle = cycle;
    cf.pool = pool;
    cf.log = log;
    cf.ctx[GRN_CONF_CTX_CORE] = ccf;
    cf.cmd_type = GRN_MAIN_CONF;
    cf.commands = grn_cycle_commands;

    if (conf_param->len && grn_conf_param(&cf, &cycle->conf_param) != GRN_CONF_OK) {
        goto failed;
    }
    if (grn_conf_parse(&cf, &cycle->conf_file) != GRN_CONF_OK) {
        goto failed;
    }

    if (!ccf->error_log_set) {
        grn_str_t  path = grn_string(GRN_ERROR_LOG_PATH);

        if (grn_conf_full_name(cycle, &path) != GRN_OK) {
            goto failed;
        }
        cycle->log->path = path.data;
    }

    if (grn_core_conf_finish(cycle, log) != GRN_OK
        || grn_http_conf_finish(&cf, cycle) != GRN_OK
        || grn_cycle_make_groups(cycle, log) != GRN_OK)
    {
        goto failed;
    }

    /* Same address as in the running generation: keep its socket, refuse nothing. */
    if (old_cycle) {
        ls = cycle->listening.elts;
        old = old_cycle->listening.elts;
        for (i = 0; i < cycle->listening.nelts; i++) {
            for (j = 0; j < old_cycle->listening.nelts; j++) {
                if (old[j].fd != -1 && old[j].socklen == ls[i].socklen
                    && memcmp(&old[j].u, &ls[i].u, ls[i].socklen) == 0)
                {
                    ls[i].fd = old[j].fd;
                    ls[i].inherited = 1;
                    break;
                }
            }
        }
    }

    grn_destroy_pool(cf.temp_pool);
    return cycle;

failed:

    if (cf.temp_pool) {
        grn_destroy_pool(cf.temp_pool);
    }
    grn_destroy_pool(pool);
    return NULL;
}

/*
 * One group per app that some listener leads to, in config order, then the C-only router
 * group for listeners that lead to no app (return and static locations only).
 */
static grn_int_t
grn_cycle_make_groups(grn_cycle_t *cycle, grn_log_t *log)
{
    grn_uint_t         i, j;
    grn_group_t       *group;
    grn_app_conf_t   **apps;
    grn_listening_t   *ls, **pls;
    struct passwd     *pw;

    apps = cycle->apps.elts;
    ls = cycle->listening.elts;

    /* The listeners are all added by now, so pointers into the array stay valid. */
    for (j = 0; j < cycle->listening.nelts; j++) {
        if (ls[j].internal) {
            ((grn_app_conf_t *) ls[j].app)->internal = &ls[j];
        }
    }

    /* Router workers run as `user` when the master is root (grn_worker.c), else as we do. */
    cycle->router_uid = geteuid();
    if (cycle->router_uid == 0 && cycle->core->user.data) {
        pw = getpwnam(cycle->core->user.data);
        if (pw) {
            cycle->router_uid = pw->pw_uid;
        }
    }

    for (i = 0; i <= cycle->apps.nelts; i++) {
        grn_app_conf_t  *app = (i < cycle->apps.nelts) ? apps[i] : NULL;

        group = NULL;
        for (j = 0; j < cycle->listening.nelts; j++) {
            if (ls[j].app != app) {
                continue;
            }
            if (group == NULL) {
                group = grn_array_push(&cycle->groups);
                if (group == NULL) {
                    return GRN_ERROR;
                }
                memset(group, 0, sizeof(*group));
                group->index = cycle->groups.nelts - 1;
                if (grn_array_init(&group->listening, cycle->pool, 2,
                                   sizeof(grn_listening_t *)) != GRN_OK)
                {
                    return GRN_ERROR;
                }
                if (app) {
                    group->name = app->name;
                    group->app = app;
                    group->workers = (grn_uint_t) app->workers;
                    group->threads = (grn_uint_t) app->threads;
                } else {
                    grn_str_set(&group->name, "router");
                    group->workers = (grn_uint_t) cycle->core->router_workers;
                    group->threads = 1;
                }
            }
            pls = grn_array_push(&group->listening);
            if (pls == NULL) {
                return GRN_ERROR;
            }
            *pls = &ls[j];
            ls[j].group = group;
        }

        if (group == NULL && app) {
            grn_log_error(GRN_LOG_WARN, log, 0,
                          "app \"%.*s\" is not used by any location: no workers start for it "
                          "(%.*s:%lu)", (int) app->name.len, app->name.data,
                          (int) app->file.len, app->file.data, (unsigned long) app->line);
        }
    }

    return GRN_OK;
}

grn_int_t
grn_cycle_open_listening(grn_cycle_t *cycle)
{
    grn_uint_t        i;
    grn_listening_t  *ls;

    ls = cycle->listening.elts;
    for (i = 0; i < cycle->listening.nelts; i++) {
        if (ls[i].fd != -1) {
            continue;
        }
        if (grn_listening_open(&ls[i], cycle->log) != GRN_OK) {
            return GRN_ERROR;
        }
    }
    return GRN_OK;
}

/* Closes the listeners this cycle opened itself (a failed reload gives back nothing else). */
void
grn_cycle_close_new_listening(grn_cycle_t *cycle)
{
    grn_uint_t        i;
    grn_listening_t  *ls;

    ls = cycle->listening.elts;
    for (i = 0; i < cycle->listening.nelts; i++) {
        if (ls[i].fd != -1 && !ls[i].inherited) {
            close(ls[i].fd);
            if (ls[i].u.sockaddr.sa_family == AF_UNIX) {
                unlink(ls[i].u.sun.sun_path);
            }
        }
        ls[i].fd = -1;
    }
}

void
grn_cycle_release(grn_cycle_t *old_cycle, grn_cycle_t *new_cycle)
{
    grn_uint_t        i, j;
    grn_open_file_t  *file;
    grn_listening_t  *old, *ls;

    old = old_cycle->listening.elts;
    for (i = 0; i < old_cycle->listening.nelts; i++) {
        if (old[i].fd == -1) {
            continue;
        }
        if (new_cycle) {
            ls = new_cycle->listening.elts;
            for (j = 0; j < new_cycle->listening.nelts; j++) {
                if (ls[j].fd == old[i].fd) {
                    break;
                }
            }
            if (j < new_cycle->listening.nelts) {
                continue;
            }
        }
        close(old[i].fd);
        if (old[i].u.sockaddr.sa_family == AF_UNIX) {
            unlink(old[i].u.sun.sun_path);
        }
    }

    file = old_cycle->open_files.elts;
    for (i = 0; i < old_cycle->open_files.nelts; i++) {
        if (file[i].fd != -1) {
            close(file[i].fd);
        }
    }
    if (old_cycle->log->fd != -1 && old_cycle->log->fd != STDERR_FILENO
        && (new_cycle == NULL || new_cycle->log->fd != old_cycle->log->fd))
    {
        close(old_cycle->log->fd);
    }

    grn_destroy_pool(old_cycle->pool);
}

grn_open_file_t *
grn_cycle_add_open_file(grn_cycle_t *cycle, const grn_str_t *name)
{
    grn_uint_t        i;
    grn_open_file_t  *file;

    file = cycle->open_files.elts;
    for (i = 0; i < cycle->open_files.nelts; i++) {
        if (grn_str_eq(&file[i].name, name)) {
            return &file[i];
        }
    }

    file = grn_array_push(&cycle->open_files);
    if (file == NULL) {
        return NULL;
    }
    file->fd = -1;
    if (grn_cycle_copy_str(cycle->pool, &file->name, name) != GRN_OK) {
        return NULL;
    }
    return file;
}

grn_int_t
grn_cycle_open_files(grn_cycle_t *cycle)
{
    grn_uint_t        i;
    grn_open_file_t  *file;

    if (cycle->log->path && grn_log_open(cycle->log) != GRN_OK) {
        return GRN_ERROR;
    }

    file = cycle->open_files.elts;
    for (i = 0; i < cycle->open_files.nelts; i++) {
        file[i].fd = open(file[i].name.data, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (file[i].fd == -1) {
            grn_log_error(GRN_LOG_EMERG, cycle->log, errno, "open() \"%s\" failed",
                          file[i].name.data);
            return GRN_ERROR;
        }
    }
    return GRN_OK;
}

void
grn_cycle_reopen_files(grn_cycle_t *cycle)
{
    int               fd;
    grn_uint_t        i;
    grn_open_file_t  *file;

    if (cycle->log->path) {
        (void) grn_log_reopen(cycle->log);
    }

    file = cycle->open_files.elts;
    for (i = 0; i < cycle->open_files.nelts; i++) {
        fd = open(file[i].name.data, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd == -1) {
            grn_log_error(GRN_LOG_ALERT, cycle->log, errno, "open() \"%s\" failed",
                          file[i].name.data);
            continue;
        }
        /* dup2 keeps the fd number that every worker already holds valid. */
        if (dup2(fd, file[i].fd) == -1) {
            grn_log_error(GRN_LOG_ALERT, cycle->log, errno, "dup2() of \"%s\" failed",
                          file[i].name.data);
        }
        close(fd);
    }
}

grn_app_conf_t *
grn_cycle_find_app(grn_cycle_t *cycle, const grn_str_t *name)
{
    grn_uint_t        i;
    grn_app_conf_t  **apps;

    apps = cycle->apps.elts;
    for (i = 0; i < cycle->apps.nelts; i++) {
        if (grn_str_eq(&apps[i]->name, name)) {
            return apps[i];
        }
    }
    return NULL;
}
