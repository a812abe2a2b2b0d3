/*
 * grn_systemd.c: systemd's readiness protocol and socket activation, without libsystemd.
 *
 * Readiness (Type=notify): systemd passes a datagram socket in $NOTIFY_SOCKET (a path, or an
 * abstract name written with a leading '@'); the master sends it "READY=1" once every group
 * of the current generation has all its workers ready (apps imported) or is failing to boot
 * (then STATUS says so: waiting forever would only make systemd time the start out),
 * "RELOADING=1" when a HUP starts a reload and "READY=1" again when it is done or refused,
 * and "STOPPING=1" when it stops. Each READY carries MAINPID: after a binary upgrade the new
 * master announces itself, and a master that takes over again after a rollback does too, so
 * systemd follows the process that holds the listeners (the unit needs NotifyAccess=all).
 * The variable stays in the master's environment for a new binary, and is removed in workers:
 * an app must not speak for the service.
 *
 * Socket activation: LISTEN_PID names this process and LISTEN_FDS counts the sockets from fd 3
 * on. They are adopted by address, as sockets inherited over an upgrade are; sockets the
 * config does not listen on are closed.
 */

#include "grn_core.h"

#include <sys/un.h>

#include "grn_process.h"

#define GRN_SD_LISTEN_FDS_START  3

static int                 grn_sd_fd = -1;
static struct sockaddr_un  grn_sd_addr;
static socklen_t           grn_sd_addr_len;
static uint64_t            grn_sd_ready_generation;   /* the generation announced, 0: none */
static grn_flag_t          grn_sd_reloading;

void
grn_systemd_init(grn_log_t *log)
{
    size_t       len;
    const char  *path = getenv("NOTIFY_SOCKET");

    if (path == NULL || path[0] == '\0') {
        return;
    }

    len = strlen(path);
    if ((path[0] != '/' && path[0] != '@') || len >= sizeof(grn_sd_addr.sun_path)) {
        grn_log_error(GRN_LOG_WARN, log, 0, "NOTIFY_SOCKET=\"%s\" is not a socket path; "
                      "systemd will not hear of readiness", path);
        return;
    }

    grn_sd_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (grn_sd_fd == -1) {
        grn_log_error(GRN_LOG_ALERT, log, errno, "socket(AF_UNIX) for NOTIFY_SOCKET failed");
        return;
    }

    memset(&grn_sd_addr, 0, sizeof(grn_sd_addr));
    grn_sd_addr.sun_family = AF_UNIX;
    memcpy(grn_sd_addr.sun_path, path, len);
    if (path[0] == '@') {
        grn_sd_addr.sun_path[0] = '\0';     /* abstract namespace: no terminating NUL */
    }
    grn_sd_addr_len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + len
                                   + (path[0] == '@' ? 0 : 1));
}

static void
grn_systemd_send(grn_log_t *log, const char *fmt, ...)
{
    int      n;
    char     msg[256];
    va_list  args;

    if (grn_sd_fd == -1) {
        return;
    }

    va_start(args, fmt);
    n = vsnprintf(msg, sizeof(msg), fmt, args);
    va_end(args);

    if (n < 0 || (size_t) n >= sizeof(msg)) {
        return;
    }

    if (sendto(grn_sd_fd, msg, (size_t) n, MSG_NOSIGNAL, (struct sockaddr *) &grn_sd_addr,
               grn_sd_addr_len) == -1)
    {
        grn_log_error(GRN_LOG_WARN, log, errno, "sendto() NOTIFY_SOCKET failed");
    }
}

/* Called each turn of the master's loop: announces a generation once it serves. */
void
grn_systemd_check_ready(grn_cycle_t *cycle)
{
    grn_uint_t    i, failing = 0;
    grn_group_t  *g;

    if (grn_sd_fd == -1 || (grn_sd_ready_generation == cycle->generation && !grn_sd_reloading)) {
        return;
    }

    if (grn_sd_ready_generation != cycle->generation) {
        g = cycle->groups.elts;
        for (i = 0; i < cycle->groups.nelts; i++) {
            if (g[i].boot_failures) {
                failing++;
            } else if (g[i].ready < g[i].workers) {
                return;
            }
        }
    }

    grn_sd_ready_generation = cycle->generation;
    grn_sd_reloading = 0;

    if (failing) {
        grn_systemd_send(cycle->log, "READY=1\nMAINPID=%d\nSTATUS=generation %lu: %lu app(s) "
                         "failing to boot, see the error log", (int) getpid(),
                         (unsigned long) cycle->generation, (unsigned long) failing);
    } else {
        grn_systemd_send(cycle->log, "READY=1\nMAINPID=%d\nSTATUS=serving, generation %lu",
                         (int) getpid(), (unsigned long) cycle->generation);
    }
}

void
grn_systemd_reloading(grn_log_t *log)
{
    struct timespec  ts;

    if (grn_sd_fd == -1) {
        return;
    }
    (void) clock_gettime(CLOCK_MONOTONIC, &ts);
    grn_systemd_send(log, "RELOADING=1\nMONOTONIC_USEC=%llu",
                     (unsigned long long) ts.tv_sec * 1000000ULL
                     + (unsigned long long) ts.tv_nsec / 1000ULL);
    grn_sd_reloading = 1;
}

void
grn_systemd_stopping(grn_log_t *log)
{
    grn_systemd_send(log, "STOPPING=1");
}

/* This master serves again after the new binary it started went away (a rollback). */
void
grn_systemd_main_again(grn_log_t *log)
{
    grn_systemd_send(log, "MAINPID=%d\nREADY=1\nSTATUS=serving again after a binary upgrade "
                     "was rolled back", (int) getpid());
}

grn_int_t
grn_systemd_adopt(grn_cycle_t *cycle, grn_log_t *log)
{
    int          fd, n;
    char        *end;
    const char  *pid_var = getenv("LISTEN_PID"), *fds_var = getenv("LISTEN_FDS");

    if (pid_var == NULL || fds_var == NULL) {
        return GRN_OK;
    }

    if (strtol(pid_var, &end, 10) != (long) getpid() || *end != '\0') {
        /* For another process (a shell that exec'd us would have the same pid). */
        return GRN_OK;
    }

    n = (int) strtol(fds_var, &end, 10);
    if (*end != '\0' || n < 0 || n > 1024) {
        grn_log_error(GRN_LOG_EMERG, log, 0, "invalid LISTEN_FDS=\"%s\"", fds_var);
        return GRN_ERROR;
    }

    grn_log_error(GRN_LOG_NOTICE, log, 0, "using %d socket(s) passed by systemd", n);

    for (fd = GRN_SD_LISTEN_FDS_START; fd < GRN_SD_LISTEN_FDS_START + n; fd++) {
        if (grn_listening_adopt(cycle, fd, log) != GRN_OK) {
            grn_log_error(GRN_LOG_NOTICE, log, 0, "socket %d passed by systemd is not in the "
                          "configuration; closing it", fd);
            close(fd);
        }
    }

    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    return GRN_OK;
}

/* In a worker: the service speaks through the master only. */
void
grn_systemd_worker(void)
{
    if (grn_sd_fd != -1) {
        close(grn_sd_fd);
        grn_sd_fd = -1;
    }
    unsetenv("NOTIFY_SOCKET");
}
