/*
 * grn_log.c: the error log.
 *
 * Every line is built in memory and handed to the kernel with one write(2): the master and
 * its workers share the log file (opened with O_APPEND), and a line written in pieces could be
 * split by another process's line. Messages longer than GRN_LOG_MAX_LINE (Python tracebacks)
 * are built in a heap buffer so that they, too, go out whole.
 */

#include "grn_core.h"

/* Room for the time, level, pid, tid and errno text around the message. */
#define GRN_LOG_EXTRA     256

const char *grn_log_levels[] = {
    "stderr",
    "emerg",
    "alert",
    "crit",
    "error",
    "warn",
    "notice",
    "info",
    "debug",
    NULL
};

__thread grn_uint_t  grn_log_tid;

static grn_log_t  grn_log_stderr_log = {
    .level = GRN_LOG_NOTICE,
    .fd = STDERR_FILENO,
    .path = NULL,
    .plain = 1,
    .next = NULL
};


static void
grn_log_write(int fd, const char *buf, size_t len)
{
    ssize_t  n;

    /*
     * One write normally takes the whole line; a pipe may take less when the line is longer
     * than PIPE_BUF, and then the rest follows.
     */
    while (len) {
        n = write(fd, buf, len);

        if (n == -1) {
            if (errno == EINTR) {
                continue;
            }
            return;
        }

        buf += n;
        len -= (size_t) n;
    }
}


/* Appends " (ERRNO: text)"; returns the number of bytes written into buf. */
static size_t
grn_log_errno(char *buf, size_t size, int err)
{
    int    n;
    char   text[128];
    char  *s;

    s = strerror_r(err, text, sizeof(text));

    n = snprintf(buf, size, " (%d: %s)", err, s);
    if (n < 0) {
        return 0;
    }

    return grn_min((size_t) n, size - 1);
}


static size_t
grn_log_prefix(char *buf, size_t size, const grn_log_t *log, grn_uint_t level)
{
    int         n;
    time_t      now;
    struct tm   tm;

    if (level >= grn_nelems(grn_log_levels) - 1) {
        level = GRN_LOG_DEBUG;
    }

    if (log->plain) {
        n = snprintf(buf, size, "greenc: [%s] ", grn_log_levels[level]);

    } else {
        now = time(NULL);

        if (localtime_r(&now, &tm) == NULL) {
            memset(&tm, 0, sizeof(struct tm));
        }

        n = snprintf(buf, size, "%04d/%02d/%02d %02d:%02d:%02d [%s] %d#%" PRIuPTR ": ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec,
                     grn_log_levels[level], (int) getpid(), grn_log_tid);
    }

    if (n < 0) {
        return 0;
    }

    return grn_min((size_t) n, size - 1);
}


/*
 * Builds "prefix message (errno)\n" for one log and writes it. The message is formatted once
 * by the caller; only the prefix differs between the logs of a chain.
 */
static void
grn_log_line(const grn_log_t *log, grn_uint_t level, int err, const char *msg, size_t len)
{
    char    stack[GRN_LOG_MAX_LINE + GRN_LOG_EXTRA];
    char   *buf, *p;
    size_t  size;

    size = len + GRN_LOG_EXTRA;
    buf = stack;

    if (size > sizeof(stack)) {
        buf = malloc(size);

        if (buf == NULL) {
            /* Better a cut line than none. */
            buf = stack;
            size = sizeof(stack);
            len = grn_min(len, GRN_LOG_MAX_LINE);
        }
    }

    p = buf + grn_log_prefix(buf, size, log, level);

    memcpy(p, msg, len);
    p += len;

    if (err) {
        p += grn_log_errno(p, size - (size_t) (p - buf) - 1, err);
    }

    *p++ = '\n';

    grn_log_write(log->fd, buf, (size_t) (p - buf));

    if (buf != stack) {
        free(buf);
    }
}


void
grn_log_error(grn_uint_t level, grn_log_t *log, int err, const char *fmt, ...)
{
    int         n;
    char        stack[GRN_LOG_MAX_LINE];
    char       *msg;
    size_t      len;
    va_list     args;
    grn_log_t  *l;

    if (log == NULL) {
        log = &grn_log_stderr_log;
    }

    for (l = log; l; l = l->next) {
        if (level <= l->level) {
            break;
        }
    }

    if (l == NULL) {
        return;
    }

    va_start(args, fmt);
    n = vsnprintf(stack, sizeof(stack), fmt, args);
    va_end(args);

    if (n < 0) {
        return;
    }

    msg = stack;
    len = (size_t) n;

    if (len >= sizeof(stack)) {
        msg = malloc(len + 1);

        if (msg != NULL) {
            va_start(args, fmt);
            n = vsnprintf(msg, len + 1, fmt, args);
            va_end(args);

            if (n < 0) {
                free(msg);
                return;
            }

        } else {
            msg = stack;
            len = sizeof(stack) - 1;
        }
    }

    for ( /* void */ ; l; l = l->next) {
        if (level <= l->level && l->fd != -1) {
            grn_log_line(l, level, err, msg, len);
        }
    }

    if (msg != stack) {
        free(msg);
    }
}


void
grn_log_stderr(int err, const char *fmt, ...)
{
    char     buf[GRN_LOG_MAX_LINE + GRN_LOG_EXTRA];
    char    *p, *last;
    int      n;
    va_list  args;

    p = buf;
    last = buf + GRN_LOG_MAX_LINE + GRN_LOG_EXTRA;

    memcpy(p, "greenc: ", sizeof("greenc: ") - 1);
    p += sizeof("greenc: ") - 1;

    va_start(args, fmt);
    n = vsnprintf(p, GRN_LOG_MAX_LINE, fmt, args);
    va_end(args);

    if (n < 0) {
        return;
    }

    p += grn_min((size_t) n, GRN_LOG_MAX_LINE - 1);

    if (err) {
        p += grn_log_errno(p, (size_t) (last - p) - 1, err);
    }

    *p++ = '\n';

    grn_log_write(STDERR_FILENO, buf, (size_t) (p - buf));
}


grn_log_t *
grn_log_init(void)
{
    return &grn_log_stderr_log;
}


grn_int_t
grn_log_open(grn_log_t *log)
{
    int  fd;

    if (log->path == NULL) {
        log->fd = STDERR_FILENO;
        return GRN_OK;
    }

    fd = open(log->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd == -1) {
        grn_log_error(GRN_LOG_EMERG, grn_log_init(), errno,
                      "open() \"%s\" failed", log->path);
        return GRN_ERROR;
    }

    log->fd = fd;

    return GRN_OK;
}


/*
 * The new file takes over the old descriptor's number, so every copy of that number (the
 * workers' inherited fds, stderr when it was redirected there) writes to the new file.
 */
grn_int_t
grn_log_reopen(grn_log_t *log)
{
    int  fd, err, flags;

    if (log->path == NULL || log->fd == STDERR_FILENO) {
        return GRN_OK;
    }

    fd = open(log->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd == -1) {
        grn_log_error(GRN_LOG_ALERT, log, errno, "open() \"%s\" failed", log->path);
        return GRN_ERROR;
    }

    if (log->fd == -1) {
        log->fd = fd;
        return GRN_OK;
    }

    /* dup2() clears close-on-exec on the old number; keep what it had. */
    flags = fcntl(log->fd, F_GETFD);

    if (dup2(fd, log->fd) == -1) {
        err = errno;
        (void) close(fd);
        grn_log_error(GRN_LOG_ALERT, log, err, "dup2() \"%s\" failed", log->path);
        return GRN_ERROR;
    }

    if (flags != -1 && (flags & FD_CLOEXEC)
        && fcntl(log->fd, F_SETFD, flags) == -1)
    {
        grn_log_error(GRN_LOG_ALERT, log, errno, "fcntl(FD_CLOEXEC) \"%s\" failed",
                      log->path);
    }

    if (close(fd) == -1) {
        grn_log_error(GRN_LOG_ALERT, log, errno, "close() \"%s\" failed", log->path);
    }

    return GRN_OK;
}


grn_int_t
grn_log_level_parse(const grn_str_t *name)
{
    grn_uint_t  i;

    for (i = GRN_LOG_EMERG; grn_log_levels[i]; i++) {
        if (name->len == strlen(grn_log_levels[i])
            && memcmp(name->data, grn_log_levels[i], name->len) == 0)
        {
            return (grn_int_t) i;
        }
    }

    return -1;
}
