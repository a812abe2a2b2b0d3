/*
 * greenc.c: the command line and start-up.
 *
 * greenc [-c file] [-p prefix] [-g 'directives;'] [-t] [-T] [-s signal] [-v] [-V] [-h]
 *
 * main() reads the config into the first generation, and either tests it (-t, -T), signals a
 * running master (-s), or becomes the master: open listeners and logs, write the pid file,
 * then hand over to grn_master_process(). Until the error log is open, messages go to stderr
 * as "greenc: [level] ...".
 */

#include "grn_core.h"
#include "grn_process.h"
#include "grn_py.h"

#include <libgen.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <llhttp.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#if (GRN_HAVE_OPENSSL)
#include <openssl/crypto.h>
#endif

typedef struct {
    const char  *conf_file;
    const char  *prefix;
    const char  *conf_param;
    const char  *signal;
    unsigned     test:1;
    unsigned     dump:1;
    unsigned     version:1;
    unsigned     build_info:1;
    unsigned     help:1;
    unsigned     directives:1;
} grn_options_t;

static void
grn_usage(void)
{
    fprintf(stderr,
        "Usage: greenc [-?hvVtTL] [-s signal] [-p prefix] [-c filename] [-g directives]\n\n"
        "Options:\n"
        "  -h, -?        : this help\n"
        "  -v            : show version and exit\n"
        "  -V            : show version, build options and library versions, and exit\n"
        "  -t            : test configuration (and that each app's module exists) and exit\n"
        "  -T            : test configuration, dump it and exit\n"
        "  -L            : list every directive with the blocks it may stand in, and exit\n"
        "  -s signal     : send signal to the master process: stop, quit, reopen, reload;\n"
        "                  status: print a summary of the running server\n"
        "  -p prefix     : set prefix path (default: the parent of the config file's "
        "directory,\n"
        "                  or " GRN_PREFIX "/ without -c)\n"
        "  -c filename   : set configuration file (default: " GRN_CONF_PATH ")\n"
        "  -g directives : set global directives out of configuration file\n\n"
        "Signals to the master: TERM/QUIT graceful stop, INT fast stop, HUP reload,\n"
        "USR1 reopen logs, WINCH stop workers, TTIN/TTOU one more/fewer worker per app.\n");
}

static int
grn_get_options(int argc, char **argv, grn_options_t *o)
{
    int    i;
    char  *p;

    for (i = 1; i < argc; i++) {
        p = argv[i];
        if (*p++ != '-') {
            grn_log_stderr(0, "invalid option: \"%s\"", argv[i]);
            return GRN_ERROR;
        }

        while (*p) {
            switch (*p++) {
            case '?':
            case 'h':
                o->help = 1;
                break;
            case 'v':
                o->version = 1;
                break;
            case 'V':
                o->version = 1;
                o->build_info = 1;
                break;
            case 't':
                o->test = 1;
                break;
            case 'T':
                o->test = 1;
                o->dump = 1;
                break;
            case 'L':
                o->directives = 1;
                break;

            case 'c':
            case 'p':
            case 'g':
            case 's': {
                char         opt = p[-1];
                const char  *arg;

                if (*p) {
                    arg = p;
                } else if (argv[++i]) {
                    arg = argv[i];
                } else {
                    grn_log_stderr(0, "option \"-%c\" requires %s", opt,
                                   opt == 'c' ? "file name" : opt == 'p' ? "directory name"
                                   : opt == 'g' ? "parameter" : "signal");
                    return GRN_ERROR;
                }
                if (opt == 'c') {
                    o->conf_file = arg;
                } else if (opt == 'p') {
                    o->prefix = arg;
                } else if (opt == 'g') {
                    o->conf_param = arg;
                } else {
                    if (grn_signal_by_name(arg) == 0 && strcmp(arg, "status") != 0) {
                        grn_log_stderr(0, "invalid option: \"-s %s\"", arg);
                        return GRN_ERROR;
                    }
                    o->signal = arg;
                }
                goto next;
            }

            default:
                grn_log_stderr(0, "invalid option: \"%c\"", p[-1]);
                return GRN_ERROR;
            }
        }
    next:
        continue;
    }
    return GRN_OK;
}

static void
grn_show_version(grn_flag_t build_info)
{
    char  pcre2_version[64];

    fprintf(stderr, "greenc version: " GREENC_VER "\n");
    if (!build_info) {
        return;
    }

    pcre2_version[0] = '\0';
    pcre2_config(PCRE2_CONFIG_VERSION, pcre2_version);

    fprintf(stderr, "built by " GRN_CC_VERSION "\n");
    fprintf(stderr, "built with Python %s (interpreter " GRN_PYTHON_EXECUTABLE ")\n",
            grn_py_version());
#if (GRN_HAVE_OPENSSL)
    fprintf(stderr, "built with %s\n", OpenSSL_version(OPENSSL_VERSION));
#else
    fprintf(stderr, "built without OpenSSL (TLS disabled)\n");
#endif
    fprintf(stderr, "built with PCRE2 %s\n", pcre2_version);
    fprintf(stderr, "built with llhttp %d.%d.%d%s\n", LLHTTP_VERSION_MAJOR,
            LLHTTP_VERSION_MINOR, LLHTTP_VERSION_PATCH,
#if (GRN_LLHTTP_BUNDLED)
            " (compiled from sources, strict mode)"
#else
            ""
#endif
            );
    fprintf(stderr, "configure arguments:%s%s\n", GRN_CONFIGURE_ARGS[0] ? " " : "",
            GRN_CONFIGURE_ARGS);
}

/* An absolute copy of `path` (relative to the cwd), with a trailing '/' when `dir`. */
static char *
grn_absolute(const char *path, grn_flag_t dir)
{
    char    cwd[PATH_MAX], *s;
    size_t  len;

    if (path[0] == '/') {
        cwd[0] = '\0';
    } else if (getcwd(cwd, sizeof(cwd)) == NULL) {
        grn_log_stderr(errno, "getcwd() failed");
        return NULL;
    }

    len = strlen(cwd) + 1 + strlen(path) + 2;
    s = malloc(len);
    if (s == NULL) {
        return NULL;
    }
    snprintf(s, len, "%s%s%s", cwd, cwd[0] ? "/" : "", path);
    if (dir && s[strlen(s) - 1] != '/') {
        strcat(s, "/");
    }
    return s;
}

/* The file name of a process's executable, without a " (deleted)" left by an upgrade. */
static grn_int_t
grn_exe_name(const char *link, char *name, size_t size)
{
    char     path[PATH_MAX], *base, *deleted;
    ssize_t  n;

    n = readlink(link, path, sizeof(path) - 1);
    if (n <= 0) {
        return GRN_ERROR;
    }
    path[n] = '\0';
    deleted = strstr(path, " (deleted)");
    if (deleted) {
        *deleted = '\0';
    }
    base = strrchr(path, '/');
    snprintf(name, size, "%s", base ? base + 1 : path);
    return GRN_OK;
}

/*
 * A pid file can outlive its master, and the pid can since belong to anything: signal it only
 * when that process runs a binary of our name.
 */
static grn_int_t
grn_is_greenc(long pid)
{
    char  link[64], theirs[PATH_MAX], ours[PATH_MAX];

    snprintf(link, sizeof(link), "/proc/%ld/exe", pid);
    if (grn_exe_name(link, theirs, sizeof(theirs)) != GRN_OK
        || grn_exe_name("/proc/self/exe", ours, sizeof(ours)) != GRN_OK)
    {
        /* No /proc, or not ours to read: fall back to the kill() checks. */
        return 1;
    }
    return strcmp(theirs, ours) == 0;
}

static int
grn_signal_process(grn_cycle_t *cycle, const char *name)
{
    int      fd, signo;
    char     buf[32];
    ssize_t  n;
    long     pid;

    signo = grn_signal_by_name(name);

    fd = open(cycle->core->pid.data, O_RDONLY);
    if (fd == -1) {
        grn_log_stderr(errno, "open() \"%s\" failed; is greenc running?", cycle->core->pid.data);
        return 1;
    }
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) {
        grn_log_stderr(0, "invalid PID number in \"%s\"", cycle->core->pid.data);
        return 1;
    }
    buf[n] = '\0';
    pid = strtol(buf, NULL, 10);
    if (pid <= 0) {
        grn_log_stderr(0, "invalid PID number \"%s\" in \"%s\"", buf, cycle->core->pid.data);
        return 1;
    }
    if (kill((pid_t) pid, 0) == -1 && errno == ESRCH) {
        grn_log_stderr(0, "no process %ld: \"%s\" is stale; is greenc running?", pid,
                       cycle->core->pid.data);
        return 1;
    }
    if (!grn_is_greenc(pid)) {
        grn_log_stderr(0, "process %ld named by \"%s\" is not greenc; no signal sent", pid,
                       cycle->core->pid.data);
        return 1;
    }
    if (signo == 0) {
        /* -s status: not a signal but a look at the running master's status page. */
        return grn_http_status_client(cycle, (pid_t) pid);
    }
    if (kill((pid_t) pid, signo) == -1) {
        grn_log_stderr(errno, "kill(%ld, %d) failed", pid, signo);
        return 1;
    }
    return 0;
}

/* -t: each app's module must be findable; checked in a child, so no Python in this process. */
static grn_int_t
grn_test_apps(grn_cycle_t *cycle)
{
    int               status;
    pid_t             pid;
    grn_uint_t        i;
    grn_int_t         rc = GRN_OK;
    grn_app_conf_t  **apps = cycle->apps.elts;

    for (i = 0; i < cycle->apps.nelts; i++) {
        fflush(stderr);
        pid = fork();
        if (pid == -1) {
            grn_log_stderr(errno, "fork() failed");
            return GRN_ERROR;
        }
        if (pid == 0) {
            _exit(grn_py_check(cycle, apps[i]) == GRN_OK ? 0 : 1);
        }
        if (waitpid(pid, &status, 0) == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            rc = GRN_ERROR;
        }
    }
    return rc;
}

/*
 * Written beside the pid file, then renamed over it: whoever reads the pid file (greenc -s,
 * systemd, a deploy script) sees the old content or the whole new pid, never an empty file.
 */
static grn_int_t
grn_write_pid(grn_cycle_t *cycle)
{
    int   fd, n;
    char  buf[32], tmp[PATH_MAX];

    n = snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", cycle->core->pid.data, (long) getpid());
    if (n <= 0 || (size_t) n >= sizeof(tmp)) {
        grn_log_error(GRN_LOG_EMERG, cycle->log, 0, "the pid file path \"%s\" is too long",
                      cycle->core->pid.data);
        return GRN_ERROR;
    }
    /*
     * A fresh file, never one left behind (whose mode or owner could be anything) and never
     * through a symlink: the pid file is 0644 (less with a stricter umask), written by root.
     */
    (void) unlink(tmp);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd == -1) {
        grn_log_error(GRN_LOG_EMERG, cycle->log, errno, "open() \"%s\" failed", tmp);
        return GRN_ERROR;
    }
    n = snprintf(buf, sizeof(buf), "%ld\n", (long) getpid());
    if (write(fd, buf, (size_t) n) != n) {
        grn_log_error(GRN_LOG_EMERG, cycle->log, errno, "write() to \"%s\" failed", tmp);
        close(fd);
        (void) unlink(tmp);
        return GRN_ERROR;
    }
    close(fd);
    if (rename(tmp, cycle->core->pid.data) == -1) {
        grn_log_error(GRN_LOG_EMERG, cycle->log, errno, "rename() \"%s\" to \"%s\" failed",
                      tmp, cycle->core->pid.data);
        (void) unlink(tmp);
        return GRN_ERROR;
    }
    return GRN_OK;
}

/* The parent exits; the child goes on. */
static grn_int_t
grn_fork_to_background(grn_log_t *log)
{
    switch (fork()) {
    case -1:
        grn_log_error(GRN_LOG_EMERG, log, errno, "fork() failed");
        return GRN_ERROR;
    case 0:
        return GRN_OK;
    default:
        _exit(0);
    }
}

static grn_int_t
grn_daemonize(grn_log_t *log)
{
    int  fd;

    if (grn_fork_to_background(log) != GRN_OK) {
        return GRN_ERROR;
    }

    if (setsid() == -1) {
        grn_log_error(GRN_LOG_EMERG, log, errno, "setsid() failed");
        return GRN_ERROR;
    }

    /* Once more: a session leader that opened a terminal would get it as its controlling one. */
    if (grn_fork_to_background(log) != GRN_OK) {
        return GRN_ERROR;
    }
    umask(0);

    fd = open("/dev/null", O_RDWR);
    if (fd == -1) {
        grn_log_error(GRN_LOG_EMERG, log, errno, "open(\"/dev/null\") failed");
        return GRN_ERROR;
    }
    dup2(fd, STDIN_FILENO);
    dup2(fd, STDOUT_FILENO);
    if (log->fd != STDERR_FILENO) {
        dup2(fd, STDERR_FILENO);
    }
    if (fd > STDERR_FILENO) {
        close(fd);
    }
    return GRN_OK;
}

int
main(int argc, char **argv)
{
    int              rc;
    char            *conf_path, *prefix_path, *dir;
    grn_str_t        conf_file, prefix, conf_param;
    grn_uint_t       i;
    grn_flag_t       inherited;
    grn_log_t       *log;
    grn_cycle_t     *cycle;
    grn_options_t    o;
    grn_conf_dump_t *dump;

    memset(&o, 0, sizeof(o));
    log = grn_log_init();
    grn_upgrade_save_argv(argv);

    if (grn_get_options(argc, argv, &o) != GRN_OK) {
        return 1;
    }
    if (o.version) {
        grn_show_version(o.build_info);
    }
    if (o.help) {
        grn_usage();
    }
    if (o.directives) {
        grn_cycle_list_directives(stdout);
    }
    if (o.version || o.help || o.directives) {
        return 0;
    }

    /* The prefix: -p, else the parent of the config file's directory, else the built-in one. */
    if (o.prefix) {
        prefix_path = grn_absolute(o.prefix, 1);
    } else if (o.conf_file) {
        char  *abs = grn_absolute(o.conf_file, 0);

        if (abs == NULL) {
            return 1;
        }
        dir = dirname(dirname(abs));
        prefix_path = grn_absolute(dir, 1);
        free(abs);
    } else {
        prefix_path = grn_absolute(GRN_PREFIX, 1);
    }
    if (prefix_path == NULL) {
        return 1;
    }

    if (o.conf_file) {
        conf_path = grn_absolute(o.conf_file, 0);
    } else if (GRN_CONF_PATH[0] == '/') {
        conf_path = grn_absolute(GRN_CONF_PATH, 0);
    } else {
        size_t  len = strlen(prefix_path) + strlen(GRN_CONF_PATH) + 1;

        conf_path = malloc(len);
        if (conf_path) {
            snprintf(conf_path, len, "%s%s", prefix_path, GRN_CONF_PATH);
        }
    }
    if (conf_path == NULL) {
        free(prefix_path);
        return 1;
    }

    conf_file.data = conf_path;
    conf_file.len = strlen(conf_path);
    prefix.data = prefix_path;
    prefix.len = strlen(prefix_path);
    conf_param.data = (char *) (o.conf_param ? o.conf_param : "");
    conf_param.len = strlen(conf_param.data);

    rc = 1;
    cycle = grn_cycle_init(NULL, log, &conf_file, &prefix, &conf_param);
    if (cycle == NULL) {
        if (o.test) {
            grn_log_stderr(0, "configuration file %s test failed", conf_path);
        }
        goto done;
    }

    if (o.signal) {
        rc = grn_signal_process(cycle, o.signal);
        goto done;
    }

    if (o.test) {
        /* The error log is not opened by a test: what the app check finds goes to stderr. */
        cycle->log = log;
        grn_log_stderr(0, "the configuration file %s syntax is ok", conf_path);
        if (grn_test_apps(cycle) != GRN_OK) {
            grn_log_stderr(0, "configuration file %s test failed", conf_path);
            goto done;
        }
        grn_log_stderr(0, "configuration file %s test is successful", conf_path);

        if (o.dump) {
            dump = cycle->config_dump.elts;
            for (i = 0; i < cycle->config_dump.nelts; i++) {
                printf("# configuration file %.*s:\n%.*s%s", (int) dump[i].name.len,
                       dump[i].name.data, (int) dump[i].content.len, dump[i].content.data,
                       (dump[i].content.len && dump[i].content.data[dump[i].content.len - 1]
                        == '\n') ? "\n" : "\n\n");
            }
            fflush(stdout);
        }
        rc = 0;
        goto done;
    }

    if (cycle->groups.nelts == 0) {
        grn_log_error(GRN_LOG_EMERG, log, 0, "nothing to serve: the configuration has no "
                      "\"listen\" in any server");
        goto done;
    }

    /* Start-up errors go to the terminal as well as to the error log. */
    if (grn_cycle_open_files(cycle) != GRN_OK) {
        goto done;
    }
    if (cycle->log->fd != STDERR_FILENO) {
        cycle->log->next = log;
    }

    inherited = grn_upgrade_inherited();
    grn_systemd_init(cycle->log);
    if (grn_upgrade_adopt(cycle, cycle->log) != GRN_OK
        || grn_systemd_adopt(cycle, cycle->log) != GRN_OK
        || grn_cycle_open_listening(cycle) != GRN_OK)
    {
        goto done;
    }

    /* A master started by an upgrade is already where its parent put it (as in nginx). */
    if (cycle->core->daemon && !inherited && grn_daemonize(cycle->log) != GRN_OK) {
        goto done;
    }

    if (grn_write_pid(cycle) != GRN_OK) {
        goto done;
    }

    if (geteuid() == 0) {
        grn_app_conf_t  **apps = cycle->apps.elts;

        for (i = 0; i < cycle->apps.nelts; i++) {
            if (apps[i]->user.data == NULL) {
                grn_log_error(GRN_LOG_WARN, cycle->log, 0, "app \"%.*s\" runs as root: set "
                              "\"user\" in its block or in the main context",
                              (int) apps[i]->name.len, apps[i]->name.data);
            }
        }
    }

    cycle->log->next = NULL;

    /* The master takes the cycle over: reloads replace it, and it frees the last one. */
    rc = grn_master_process(cycle);
    cycle = NULL;

done:

    /*
     * Everything is freed on the way out (a leak check at exit must find nothing); a cycle
     * that failed half-way is only freed: its listeners and files close with the process.
     */
    if (cycle != NULL) {
        grn_destroy_pool(cycle->pool);
    }
    free(conf_path);
    free(prefix_path);
    return rc;
}
