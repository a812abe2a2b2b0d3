/*
 * test_log.c: the error log's line format, levels, chaining, long lines and reopen.
 */

#include "grn_core.h"
#include "grn_test.h"

#include <regex.h>
#include <sys/stat.h>

static char  t_path[64];
static char  t_path2[80];
static char  t_buf[65536];


static int
t_open(const char *path)
{
    return open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
}


static const char *
t_read(const char *path)
{
    int      fd;
    ssize_t  n;

    t_buf[0] = '\0';

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        return t_buf;
    }

    n = read(fd, t_buf, sizeof(t_buf) - 1);
    t_buf[n > 0 ? n : 0] = '\0';
    close(fd);

    return t_buf;
}


static int
t_matches(const char *text, const char *pattern)
{
    int      rc;
    regex_t  re;

    if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0) {
        return 0;
    }

    rc = regexec(&re, text, 0, NULL, 0);
    regfree(&re);

    if (rc != 0) {
        printf("  %s\n  does not match %s\n", text, pattern);
    }

    return rc == 0;
}


GRN_TEST(log_line_has_time_level_pid_tid_and_errno)
{
    grn_log_t  log = { GRN_LOG_INFO, -1, NULL, 0, NULL };
    char       pattern[256];

    log.fd = t_open(t_path);
    grn_log_tid = 3;

    grn_log_error(GRN_LOG_ERR, &log, 0, "hello %s", "world");
    grn_log_error(GRN_LOG_WARN, &log, ENOENT, "open() \"%s\" failed", "/x");
    grn_log_error(GRN_LOG_DEBUG, &log, 0, "dropped");
    grn_log_debug(&log, "dropped too");

    snprintf(pattern, sizeof(pattern),
             "^[0-9]{4}/[0-9]{2}/[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} \\[error\\] %d#3: "
             "hello world\n"
             "[0-9]{4}/[0-9]{2}/[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} \\[warn\\] %d#3: "
             "open\\(\\) \"/x\" failed \\(2: No such file or directory\\)\n$",
             (int) getpid(), (int) getpid());

    grn_expect(t_matches(t_read(t_path), pattern));

    grn_log_tid = 0;
    close(log.fd);
}


GRN_TEST(plain_log_and_chain_write_the_same_line_in_their_own_mode)
{
    grn_log_t  second = { GRN_LOG_DEBUG, -1, NULL, 0, NULL };
    grn_log_t  first = { GRN_LOG_NOTICE, -1, NULL, 1, NULL };

    first.fd = t_open(t_path);
    second.fd = t_open(t_path2);
    first.next = &second;

    grn_log_error(GRN_LOG_EMERG, &first, 0, "bad %d", 42);
    grn_log_error(GRN_LOG_INFO, &first, 0, "only the second");

    grn_expect(strcmp(t_read(t_path), "greenc: [emerg] bad 42\n") == 0);
    grn_expect(t_matches(t_read(t_path2), "^[0-9/: ]+ \\[emerg\\] [0-9]+#0: bad 42\n"
                                           "[0-9/: ]+ \\[info\\] [0-9]+#0: only the second\n$"));

    close(first.fd);
    close(second.fd);
}


GRN_TEST(long_messages_are_written_whole)
{
    grn_log_t    log = { GRN_LOG_DEBUG, -1, NULL, 1, NULL };
    static char  big[20000];
    const char  *got;

    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 2] = 'E';

    log.fd = t_open(t_path);
    grn_log_error(GRN_LOG_ERR, &log, EACCES, "%s", big);

    got = t_read(t_path);
    grn_expect(strlen(got) == sizeof("greenc: [error] ") - 1 + sizeof(big) - 1
                              + sizeof(" (13: Permission denied)\n") - 1);
    grn_expect(strstr(got, "xE (13: Permission denied)\n") != NULL);

    close(log.fd);
}


GRN_TEST(levels_parse_by_name)
{
    grn_str_t  s;

    grn_str_set(&s, "emerg");
    grn_expect(grn_log_level_parse(&s) == GRN_LOG_EMERG);
    grn_str_set(&s, "error");
    grn_expect(grn_log_level_parse(&s) == GRN_LOG_ERR);
    grn_str_set(&s, "warn");
    grn_expect(grn_log_level_parse(&s) == GRN_LOG_WARN);
    grn_str_set(&s, "debug");
    grn_expect(grn_log_level_parse(&s) == GRN_LOG_DEBUG);
    grn_str_set(&s, "err");
    grn_expect(grn_log_level_parse(&s) == -1);
    grn_str_set(&s, "stderr");
    grn_expect(grn_log_level_parse(&s) == -1);
    grn_expect(strcmp(grn_log_levels[GRN_LOG_NOTICE], "notice") == 0);

    grn_expect(grn_log_init()->plain && grn_log_init()->fd == STDERR_FILENO
               && grn_log_init()->level == GRN_LOG_NOTICE);
}


GRN_TEST(reopen_keeps_the_descriptor_number)
{
    int        fd;
    char       moved[96];
    grn_log_t  log = { GRN_LOG_DEBUG, -1, NULL, 1, NULL };

    unlink(t_path);
    log.path = t_path;
    grn_expect(grn_log_open(&log) == GRN_OK);
    fd = log.fd;

    grn_log_error(GRN_LOG_ERR, &log, 0, "before");

    snprintf(moved, sizeof(moved), "%s.1", t_path);
    grn_expect(rename(t_path, moved) == 0);

    grn_expect(grn_log_reopen(&log) == GRN_OK);
    grn_expect(log.fd == fd);
    grn_expect((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);

    grn_log_error(GRN_LOG_ERR, &log, 0, "after");

    grn_expect(strcmp(t_read(moved), "greenc: [error] before\n") == 0);
    grn_expect(strcmp(t_read(t_path), "greenc: [error] after\n") == 0);

    close(log.fd);
    unlink(moved);
    unlink(t_path);
    unlink(t_path2);

    log.path = "/nonexistent/dir/x.log";
    log.fd = -1;
    grn_expect(grn_log_open(&log) == GRN_ERROR);
}


GRN_TEST(prepare)
{
    snprintf(t_path, sizeof(t_path), "/tmp/grn_test_log.%d", (int) getpid());
    snprintf(t_path2, sizeof(t_path2), "%s.second", t_path);
    grn_expect(1);
}


GRN_TEST_MAIN(
    GRN_TEST_ENTRY(prepare),
    GRN_TEST_ENTRY(log_line_has_time_level_pid_tid_and_errno),
    GRN_TEST_ENTRY(plain_log_and_chain_write_the_same_line_in_their_own_mode),
    GRN_TEST_ENTRY(long_messages_are_written_whole),
    GRN_TEST_ENTRY(levels_parse_by_name),
    GRN_TEST_ENTRY(reopen_keeps_the_descriptor_number)
)
