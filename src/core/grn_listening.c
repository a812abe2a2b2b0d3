/*
 * grn_listening.c: opening listening sockets.
 *
 * Only the master opens them, before any worker exists; workers inherit them across fork, and
 * reload and binary upgrade pass them on, so an address that stays in the config is never
 * closed and never refuses a connection.
 */

#include "grn_core.h"
#include "grn_cycle.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/stat.h>

#define GRN_LISTENING_DEFER_SECONDS  60    /* as client_header_timeout's default */

/*
 * A unix socket file left by a server that died is removed; one that still accepts
 * connections belongs to a running server: that is an error, said plainly, rather than
 * bind()'s "Address already in use". A file that is not a socket is never removed.
 */
static grn_int_t
grn_listening_remove_stale(grn_listening_t *ls, grn_log_t *log)
{
    int          fd;
    struct stat  st;

    if (lstat(ls->u.sun.sun_path, &st) == -1) {
        return GRN_OK;
    }
    if (!S_ISSOCK(st.st_mode)) {
        grn_log_error(GRN_LOG_EMERG, log, 0, "\"%s\" exists and is not a socket; remove it or "
                      "choose another path for \"listen %.*s\"", ls->u.sun.sun_path,
                      (int) ls->addr_text.len, ls->addr_text.data);
        return GRN_ERROR;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd == -1) {
        return GRN_OK;
    }
    if (connect(fd, &ls->u.sockaddr, ls->socklen) == 0) {
        close(fd);
        grn_log_error(GRN_LOG_EMERG, log, 0, "another server is listening on \"%s\"; stop it "
                      "or choose another path for \"listen %.*s\"", ls->u.sun.sun_path,
                      (int) ls->addr_text.len, ls->addr_text.data);
        return GRN_ERROR;
    }
    if (errno == ECONNREFUSED && unlink(ls->u.sun.sun_path) == 0) {
        grn_log_error(GRN_LOG_NOTICE, log, 0, "removed the stale socket file \"%s\"",
                      ls->u.sun.sun_path);
    }
    close(fd);
    return GRN_OK;
}

grn_int_t
grn_listening_open(grn_listening_t *ls, grn_log_t *log)
{
    int  fd, on = 1;

    fd = socket(ls->u.sockaddr.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd == -1) {
        grn_log_error(GRN_LOG_EMERG, log, errno, "socket() for %.*s failed",
                      (int) ls->addr_text.len, ls->addr_text.data);
        return GRN_ERROR;
    }

    if (ls->u.sockaddr.sa_family != AF_UNIX) {
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1) {
            grn_log_error(GRN_LOG_EMERG, log, errno, "setsockopt(SO_REUSEADDR) for %.*s failed",
                          (int) ls->addr_text.len, ls->addr_text.data);
            goto failed;
        }
#if (GRN_HAVE_SO_REUSEPORT)
        if (ls->reuseport
            && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) == -1)
        {
            grn_log_error(GRN_LOG_EMERG, log, errno, "setsockopt(SO_REUSEPORT) for %.*s failed",
                          (int) ls->addr_text.len, ls->addr_text.data);
            goto failed;
        }
#endif
    }

    if (ls->u.sockaddr.sa_family == AF_INET6) {
        /* As nginx: "[::]:80" means IPv6 only unless ipv6only=off, so 0.0.0.0:80 can coexist. */
        int  only = ls->ipv6only;

        if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &only, sizeof(only)) == -1) {
            grn_log_error(GRN_LOG_WARN, log, errno, "setsockopt(IPV6_V6ONLY) for %.*s failed",
                          (int) ls->addr_text.len, ls->addr_text.data);
        }
    }

    /* An abstract socket (sun_path starts with NUL) has no file: nothing stale, no mode. */
    if (ls->u.sockaddr.sa_family == AF_UNIX && ls->u.sun.sun_path[0] != '\0') {
        if (grn_listening_remove_stale(ls, log) != GRN_OK) {
            goto failed;
        }
    }

    if (bind(fd, &ls->u.sockaddr, ls->socklen) == -1) {
        grn_log_error(GRN_LOG_EMERG, log, errno, "bind() to %.*s failed",
                      (int) ls->addr_text.len, ls->addr_text.data);
        goto failed;
    }

    /*
     * Permissions and owner before listen(), so no client can connect while the file still has
     * bind()'s umask-derived mode. Without mode=, anyone may connect (0666), as before.
     */
    if (ls->u.sockaddr.sa_family == AF_UNIX && ls->u.sun.sun_path[0] != '\0') {
        mode_t  mode = ls->mode >= 0 ? (mode_t) ls->mode : 0666;

        if (ls->owner_uid != (uid_t) -1
            && chown(ls->u.sun.sun_path, ls->owner_uid, ls->owner_gid) == -1)
        {
            grn_log_error(GRN_LOG_EMERG, log, errno, "chown() of \"%s\" to %d:%d failed "
                          "(owner= needs greenc started as root)", ls->u.sun.sun_path,
                          (int) ls->owner_uid, (int) ls->owner_gid);
            goto failed;
        }
        if (chmod(ls->u.sun.sun_path, mode) == -1) {
            grn_log_error(GRN_LOG_EMERG, log, errno, "chmod() of \"%s\" failed",
                          ls->u.sun.sun_path);
            goto failed;
        }
    }

    if (listen(fd, ls->backlog) == -1) {
        grn_log_error(GRN_LOG_EMERG, log, errno, "listen() on %.*s failed",
                      (int) ls->addr_text.len, ls->addr_text.data);
        goto failed;
    }

#ifdef TCP_DEFER_ACCEPT
    if (ls->deferred) {
        /*
         * The kernel hands the connection over only once the client has sent something, so a
         * silent connection costs no worker a slot; it is dropped after this many seconds.
         */
        int  secs = GRN_LISTENING_DEFER_SECONDS;

        if (setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs, sizeof(secs)) == -1) {
            grn_log_error(GRN_LOG_EMERG, log, errno, "setsockopt(TCP_DEFER_ACCEPT) for %.*s "
                          "failed", (int) ls->addr_text.len, ls->addr_text.data);
            goto failed;
        }
    }
#endif

    ls->fd = fd;
    return GRN_OK;

failed:

    close(fd);
    return GRN_ERROR;
}

grn_uint_t
grn_listening_port(grn_listening_t *ls)
{
    switch (ls->u.sockaddr.sa_family) {
    case AF_INET:
        return ntohs(ls->u.sin.sin_port);
    case AF_INET6:
        return ntohs(ls->u.sin6.sin6_port);
    default:
        return 0;
    }
}

/*
 * getsockname() of a unix socket gives a length that ends at its path's NUL (or, abstract,
 * at the name's end) while the config's address is a whole sockaddr_un: compare the names.
 */
static grn_flag_t
grn_listening_same(grn_listening_t *ls, struct sockaddr_storage *sa, socklen_t len)
{
    size_t                    off = offsetof(struct sockaddr_un, sun_path);
    const struct sockaddr_un *sun = (const struct sockaddr_un *) sa;

    if (sa->ss_family != AF_UNIX || ls->u.sockaddr.sa_family != AF_UNIX) {
        return ls->socklen == len && memcmp(&ls->u.storage, sa, len) == 0;
    }
    if (len <= off) {
        return 0;
    }
    if (sun->sun_path[0] == '\0') {
        /* Abstract: the name is exactly len - off bytes, NULs included. */
        return ls->u.sun.sun_path[0] == '\0' && ls->socklen == len
               && memcmp(ls->u.sun.sun_path, sun->sun_path, len - off) == 0;
    }
    return strncmp(ls->u.sun.sun_path, sun->sun_path, sizeof(sun->sun_path)) == 0;
}

/*
 * A listening socket handed over by a previous binary or by systemd: it becomes the fd of the
 * configured listener with the same address. GRN_DECLINED when no listener has that address
 * (the caller closes it), GRN_ERROR when the fd is not a socket.
 */
grn_int_t
grn_listening_adopt(grn_cycle_t *cycle, int fd, grn_log_t *log)
{
    socklen_t                len;
    grn_uint_t               i;
    grn_listening_t         *ls = cycle->listening.elts;
    struct sockaddr_storage  sa;

    len = sizeof(sa);
    if (getsockname(fd, (struct sockaddr *) &sa, &len) == -1) {
        grn_log_error(GRN_LOG_ALERT, log, errno, "getsockname() of inherited socket %d failed; "
                      "ignored", fd);
        return GRN_ERROR;
    }

    for (i = 0; i < cycle->listening.nelts; i++) {
        if (ls[i].fd == -1 && grn_listening_same(&ls[i], &sa, len)) {
            ls[i].fd = fd;
            ls[i].inherited = 1;
            (void) fcntl(fd, F_SETFD, FD_CLOEXEC);
            return GRN_OK;
        }
    }

    return GRN_DECLINED;
}
