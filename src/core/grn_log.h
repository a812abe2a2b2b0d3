/*
 * grn_log.h: the error log.
 *
 * Lines look like "2026/11/20 22:55:25 [error] 1234#0: message" and are written with one
 * write(2) so that the processes sharing a log file do not interleave. Before the error log of
 * the config is open (command line, config errors at start), a log in "plain" mode writes
 * "greenc: [emerg] message" to stderr instead.
 */

#ifndef GRN_LOG_H
#define GRN_LOG_H

#define GRN_LOG_STDERR   0
#define GRN_LOG_EMERG    1
#define GRN_LOG_ALERT    2
#define GRN_LOG_CRIT     3
#define GRN_LOG_ERR      4
#define GRN_LOG_WARN     5
#define GRN_LOG_NOTICE   6
#define GRN_LOG_INFO     7
#define GRN_LOG_DEBUG    8

#define GRN_LOG_MAX_LINE 4096   /* longer messages (tracebacks) are written in one piece too */

struct grn_log_s {
    grn_uint_t   level;      /* messages above this level are dropped */
    int          fd;         /* STDERR_FILENO for "stderr" */
    char        *path;       /* NUL-terminated full path, NULL for stderr */
    unsigned     plain:1;    /* "greenc: [level] msg" without time and pid */
    grn_log_t   *next;       /* a second log that gets the same lines (e.g. stderr at start) */
};

void grn_log_error(grn_uint_t level, grn_log_t *log, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define grn_log_debug(log, ...)                                                            \
    do {                                                                                   \
        if ((log)->level >= GRN_LOG_DEBUG) {                                               \
            grn_log_error(GRN_LOG_DEBUG, log, 0, __VA_ARGS__);                            \
        }                                                                                  \
    } while (0)

/* "greenc: " + message to stderr, for the command line. */
void grn_log_stderr(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The log used until the config's error_log is open: plain, to stderr, level NOTICE. */
grn_log_t *grn_log_init(void);

/* Opens (O_WRONLY|O_APPEND|O_CREAT|O_CLOEXEC, 0644) log->path into log->fd. */
grn_int_t grn_log_open(grn_log_t *log);

/* Opens log->path again and dup2()s it onto log->fd (USR1, logrotate); stderr logs stay. */
grn_int_t grn_log_reopen(grn_log_t *log);

/* "emerg" .. "debug" to GRN_LOG_*; -1 when unknown. */
grn_int_t grn_log_level_parse(const grn_str_t *name);
extern const char *grn_log_levels[];   /* indexed by GRN_LOG_* */

/* Thread number shown after the pid ("1234#0"); worker threads set their own. */
extern __thread grn_uint_t grn_log_tid;

#endif /* GRN_LOG_H */
