/*
 * grn_upgrade.c: binary upgrade on USR2, the nginx procedure.
 *
 * The old master renames its pid file to "<pid>.oldbin", then forks a child that execs the
 * binary (the same path it was started with, which may now hold a new build) with the
 * listening sockets' fds in the GREENC environment variable ("fd;fd;..."). The new master
 * adopts those sockets by address instead of binding, starts its own workers, and both
 * generations accept on the same sockets: no connection is refused. The operator then sends
 * WINCH (drain the old workers) and QUIT (commit) to the old master, or HUP to the old master
 * and QUIT to the new one (roll back). A failed exec, or a new master that exits, gives the pid
 * file back to the old master.
 */

#include "grn_core.h"
#include "grn_process.h"

static char   **grn_upgrade_argv;
static char    *grn_upgrade_oldbin;       /* the renamed pid file while an upgrade runs */
static pid_t    grn_upgrade_pid;          /* the new master, 0 when none */
static pid_t    grn_upgrade_parent;       /* the old master, in a master an upgrade started */

void
grn_upgrade_save_argv(char **argv)
{
    grn_upgrade_argv = argv;
}

pid_t
grn_upgrade_new_master(void)
{
    return grn_upgrade_pid;
}

/* In a master an upgrade started: the old master still runs (it is still our parent). */
static grn_flag_t
grn_upgrade_old_master_runs(void)
{
    return grn_upgrade_parent > 1 && getppid() == grn_upgrade_parent
           && kill(grn_upgrade_parent, 0) == 0;
}

/* Clears or sets FD_CLOEXEC on every listening socket: they cross execve() only for this. */
static void
grn_upgrade_cloexec(grn_cycle_t *cycle, grn_flag_t on)
{
    int               flags;
    grn_uint_t        i;
    grn_listening_t  *ls = cycle->listening.elts;

    for (i = 0; i < cycle->listening.nelts; i++) {
        if (ls[i].fd == -1) {
            continue;
        }
        flags = fcntl(ls[i].fd, F_GETFD);
        if (flags != -1) {
            (void) fcntl(ls[i].fd, F_SETFD, on ? (flags | FD_CLOEXEC) : (flags & ~FD_CLOEXEC));
        }
    }
}

void
grn_upgrade_start(grn_cycle_t *cycle)
{
    char             *env, *p;
    size_t            len;
    pid_t             pid;
    grn_uint_t        i;
    grn_listening_t  *ls = cycle->listening.elts;

    if (grn_upgrade_pid) {
        grn_log_error(GRN_LOG_ERR, cycle->log, 0, "USR2 ignored: a binary upgrade is already "
                      "under way (new master %d); QUIT one of the two masters first",
                      (int) grn_upgrade_pid);
        return;
    }
    if (grn_upgrade_old_master_runs()) {
        /* As nginx: a third master would rename our pid file over the old master's .oldbin. */
        grn_log_error(GRN_LOG_ERR, cycle->log, 0, "USR2 ignored: this is the new master of a "
                      "binary upgrade and the old master %d still runs; QUIT one of the two "
                      "masters first", (int) grn_upgrade_parent);
        return;
    }
    if (grn_upgrade_argv == NULL || grn_upgrade_argv[0] == NULL) {
        grn_log_error(GRN_LOG_ERR, cycle->log, 0, "USR2 ignored: the binary's path is unknown");
        return;
    }

    len = strlen(cycle->core->pid.data) + sizeof(".oldbin");
    grn_upgrade_oldbin = malloc(len);
    if (grn_upgrade_oldbin == NULL) {
        return;
    }
    snprintf(grn_upgrade_oldbin, len, "%s.oldbin", cycle->core->pid.data);

    if (rename(cycle->core->pid.data, grn_upgrade_oldbin) == -1) {
        grn_log_error(GRN_LOG_ALERT, cycle->log, errno, "rename() \"%s\" to \"%s\" failed; "
                      "binary upgrade cancelled", cycle->core->pid.data, grn_upgrade_oldbin);
        free(grn_upgrade_oldbin);
        grn_upgrade_oldbin = NULL;
        return;
    }

    /* "GREENC=3;4;5;" */
    len = sizeof(GREENC_VAR "=") + cycle->listening.nelts * 12;
    env = malloc(len);
    if (env == NULL) {
        goto failed;
    }
    p = env + sprintf(env, GREENC_VAR "=");
    for (i = 0; i < cycle->listening.nelts; i++) {
        if (ls[i].fd != -1) {
            p += sprintf(p, "%d;", ls[i].fd);
        }
    }

    grn_log_error(GRN_LOG_NOTICE, cycle->log, 0, "binary upgrade: starting \"%s\" with %s",
                  grn_upgrade_argv[0], env);

    grn_upgrade_cloexec(cycle, 0);
    pid = fork();

    if (pid == 0) {
        sigset_t  none;

        /* A clean slate for the new master: no blocked signals, no inherited handlers. */
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        putenv(env);
        if (strchr(grn_upgrade_argv[0], '/')) {
            execv(grn_upgrade_argv[0], grn_upgrade_argv);
        } else {
            execvp(grn_upgrade_argv[0], grn_upgrade_argv);
        }
        grn_log_error(GRN_LOG_ALERT, cycle->log, errno, "execv(\"%s\") failed",
                      grn_upgrade_argv[0]);
        _exit(2);
    }

    grn_upgrade_cloexec(cycle, 1);
    free(env);

    if (pid == -1) {
        grn_log_error(GRN_LOG_ALERT, cycle->log, errno, "fork() failed");
        goto failed;
    }

    grn_upgrade_pid = pid;
    return;

failed:

    if (rename(grn_upgrade_oldbin, cycle->core->pid.data) == -1) {
        grn_log_error(GRN_LOG_ALERT, cycle->log, errno, "rename() back to \"%s\" failed",
                      cycle->core->pid.data);
    }
    free(grn_upgrade_oldbin);
    grn_upgrade_oldbin = NULL;
}

/* The new master exited: the upgrade is over (rolled back, or it failed); the pid file is ours. */
void
grn_upgrade_reaped(grn_cycle_t *cycle, int status)
{
    grn_log_error(GRN_LOG_NOTICE, cycle->log, 0, "the new master %d exited (status %d); "
                  "this master serves on and takes its pid file back", (int) grn_upgrade_pid,
                  status);
    grn_upgrade_pid = 0;
    grn_systemd_main_again(cycle->log);

    if (grn_upgrade_oldbin) {
        if (rename(grn_upgrade_oldbin, cycle->core->pid.data) == -1) {
            grn_log_error(GRN_LOG_ALERT, cycle->log, errno, "rename() \"%s\" to \"%s\" failed",
                          grn_upgrade_oldbin, cycle->core->pid.data);
        }
        free(grn_upgrade_oldbin);
        grn_upgrade_oldbin = NULL;
    }
}

/* The pid file this master owns now: "<pid>.oldbin" while a new master runs. */
const char *
grn_upgrade_pid_path(grn_cycle_t *cycle)
{
    return grn_upgrade_oldbin ? grn_upgrade_oldbin : cycle->core->pid.data;
}

/*
 * In a master started by an upgrade: adopt the sockets named in GREENC for the listeners of
 * the same address; close the ones the new config no longer has. The variable is removed so
 * workers and later upgrades do not see stale fds.
 */
grn_int_t
grn_upgrade_adopt(grn_cycle_t *cycle, grn_log_t *log)
{
    int         fd;
    char       *var, *p, *end;
    grn_int_t   rc;

    var = getenv(GREENC_VAR);
    if (var == NULL) {
        return GRN_OK;
    }

    grn_log_error(GRN_LOG_NOTICE, log, 0, "using inherited sockets from \"%s\"", var);
    grn_upgrade_parent = getppid();

    for (p = var; *p; p = end) {
        fd = (int) strtol(p, &end, 10);
        if (end == p || (*end != ';' && *end != '\0') || fd < 0) {
            grn_log_error(GRN_LOG_EMERG, log, 0, "invalid socket number in %s=\"%s\"",
                          GREENC_VAR, var);
            return GRN_ERROR;
        }
        if (*end == ';') {
            end++;
        }

        rc = grn_listening_adopt(cycle, fd, log);
        if (rc == GRN_DECLINED) {
            grn_log_error(GRN_LOG_NOTICE, log, 0, "inherited socket %d is not in the new "
                          "configuration; closing it", fd);
            close(fd);
        }
    }

    unsetenv(GREENC_VAR);
    return GRN_OK;
}

grn_flag_t
grn_upgrade_inherited(void)
{
    return getenv(GREENC_VAR) != NULL;
}

/*
 * A unix socket file is shared with the other master of an upgrade: the old one must not
 * remove it when QUIT commits the upgrade, nor the new one when QUIT rolls it back, or the
 * master that stays would serve a socket nobody can reach by its path.
 */
grn_flag_t
grn_upgrade_socket_files_shared(void)
{
    return grn_upgrade_pid != 0 || grn_upgrade_old_master_runs();
}
