/*
 * grn_conf_file.c: the config language: tokenizer, statement dispatch, include, and the
 * generic setters.
 *
 * A file is read into the generation's pool in one piece and split into statements
 * (`name args;` and `name args {`). Each statement goes to the grn_command_t row of its name in
 * the tables of cf->commands; the row's setter stores the value into the context struct the
 * row names. Block directives parse their own body by calling grn_conf_parse(cf, NULL), which
 * continues in the same file until the matching "}". The parser itself only knows `include`.
 *
 * Every token is copied into the pool NUL-terminated (and unescaped), so that what a setter
 * keeps outlives the file buffer's meaning and can be passed to C APIs as it is; the file buffer
 * stays untouched for `greenc -T`.
 */

#include "grn_core.h"
#include "grn_cycle.h"

#include <glob.h>
#include <sys/stat.h>

/* What the tokenizer found at the end of a statement (besides GRN_OK for ";"). */
#define GRN_CONF_BLOCK_START   1
#define GRN_CONF_BLOCK_DONE    2
#define GRN_CONF_FILE_DONE     3

typedef enum {
    GRN_CONF_PARSE_FILE,
    GRN_CONF_PARSE_BLOCK,
    GRN_CONF_PARSE_PARAM
} grn_conf_parse_type_e;

static const grn_uint_t  grn_conf_argument_number[] = {
    GRN_CONF_NOARGS,
    GRN_CONF_TAKE1,
    GRN_CONF_TAKE2,
    GRN_CONF_TAKE3,
    GRN_CONF_TAKE4,
    GRN_CONF_TAKE5,
    GRN_CONF_TAKE6,
    GRN_CONF_TAKE7
};

/* The file name of -g; compared by address so that no real file can pass for it. */
static char  grn_conf_param_name[] = "command line";

static char *grn_conf_parse_body(grn_conf_t *cf, grn_conf_parse_type_e type);
static grn_int_t grn_conf_read_token(grn_conf_t *cf);
static char *grn_conf_handler(grn_conf_t *cf, grn_int_t last);
static char *grn_conf_include(grn_conf_t *cf, grn_int_t last);

/*
 * Deeper than any real layout (conf.d/ files that include snippets are two or three levels
 * deep; main, http, server and a few nested locations are five or six blocks). The bounds are
 * there because both nest by recursion: a file that includes itself, directly or through
 * others, or a config of thousands of nested blocks, recursed until the stack overflowed, and
 * on a reload that is the master's.
 */
#define GRN_CONF_MAX_INCLUDE_DEPTH  16
#define GRN_CONF_MAX_BLOCK_DEPTH    32


char *
grn_conf_parse(grn_conf_t *cf, const grn_str_t *filename)
{
    int               fd;
    char             *buf, *rv;
    size_t            size, len;
    ssize_t           n;
    grn_str_t         name;
    struct stat       st;
    grn_conf_file_t   file, *prev;
    grn_conf_dump_t  *dump;

    if (cf->args == NULL) {
        cf->args = grn_array_create(cf->temp_pool ? cf->temp_pool : cf->pool, 8,
                                    sizeof(grn_str_t));
        if (cf->args == NULL) {
            return GRN_CONF_ERROR;
        }
    }

    if (filename == NULL) {
        if (cf->conf_file == NULL) {
            grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "a block is parsed outside of any file");
            return GRN_CONF_ERROR;
        }

        /* Each block is a recursion: 50,000 nested locations overflowed the stack. */
        if (cf->block_depth >= GRN_CONF_MAX_BLOCK_DEPTH) {
            grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "blocks nest more than %d deep",
                               GRN_CONF_MAX_BLOCK_DEPTH);
            return GRN_CONF_ERROR;
        }
        cf->block_depth++;
        rv = grn_conf_parse_body(cf, GRN_CONF_PARSE_BLOCK);
        cf->block_depth--;
        return rv;
    }

    name.len = filename->len;
    name.data = grn_pstrdup(cf->pool, filename);
    if (name.data == NULL) {
        return GRN_CONF_ERROR;
    }

    fd = open(name.data, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        grn_conf_log_error(GRN_LOG_EMERG, cf, errno, "open() \"%s\" failed", name.data);
        return GRN_CONF_ERROR;
    }

    if (fstat(fd, &st) == -1) {
        grn_conf_log_error(GRN_LOG_EMERG, cf, errno, "fstat() \"%s\" failed", name.data);
        goto failed;
    }

    size = (size_t) st.st_size;

    buf = grn_pnalloc(cf->pool, size + 1);
    if (buf == NULL) {
        goto failed;
    }

    for (len = 0; len < size; len += (size_t) n) {
        n = read(fd, buf + len, size - len);

        if (n == -1) {
            if (errno == EINTR) {
                n = 0;
                continue;
            }

            grn_conf_log_error(GRN_LOG_EMERG, cf, errno, "read() \"%s\" failed", name.data);
            goto failed;
        }

        if (n == 0) {
            break;      /* the file shrank while we read it: take what is there */
        }
    }

    buf[len] = '\0';

    if (close(fd) == -1) {
        grn_conf_log_error(GRN_LOG_ALERT, cf, errno, "close() \"%s\" failed", name.data);
    }

    if (cf->cycle && cf->cycle->config_dump.elts != NULL) {
        dump = grn_array_push(&cf->cycle->config_dump);
        if (dump == NULL) {
            return GRN_CONF_ERROR;
        }

        dump->name = name;
        dump->content.len = len;
        dump->content.data = buf;
    }

    file.name = name;
    file.start = buf;
    file.pos = buf;
    file.end = buf + len;
    file.line = 1;
    file.scan_line = 1;

    prev = cf->conf_file;
    cf->conf_file = &file;

    rv = grn_conf_parse_body(cf, GRN_CONF_PARSE_FILE);

    cf->conf_file = prev;

    return rv;

failed:

    (void) close(fd);

    return GRN_CONF_ERROR;
}


char *
grn_conf_param(grn_conf_t *cf, const grn_str_t *param)
{
    char             *rv;
    grn_conf_file_t   file, *prev;

    if (param->len == 0) {
        return GRN_CONF_OK;
    }

    if (cf->args == NULL) {
        cf->args = grn_array_create(cf->temp_pool ? cf->temp_pool : cf->pool, 8,
                                    sizeof(grn_str_t));
        if (cf->args == NULL) {
            return GRN_CONF_ERROR;
        }
    }

    file.name.len = sizeof(grn_conf_param_name) - 1;
    file.name.data = grn_conf_param_name;
    file.start = param->data;
    file.pos = param->data;
    file.end = param->data + param->len;
    file.line = 1;
    file.scan_line = 1;

    prev = cf->conf_file;
    cf->conf_file = &file;

    rv = grn_conf_parse_body(cf, GRN_CONF_PARSE_PARAM);

    cf->conf_file = prev;

    return rv;
}


static char *
grn_conf_parse_body(grn_conf_t *cf, grn_conf_parse_type_e type)
{
    char       *rv;
    grn_int_t   rc;
    grn_str_t  *name;

    for ( ;; ) {
        rc = grn_conf_read_token(cf);

        if (rc == GRN_ERROR) {
            return GRN_CONF_ERROR;
        }

        if (rc == GRN_CONF_BLOCK_DONE) {
            if (type != GRN_CONF_PARSE_BLOCK) {
                grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "unexpected \"}\"");
                return GRN_CONF_ERROR;
            }

            return GRN_CONF_OK;
        }

        if (rc == GRN_CONF_FILE_DONE) {
            if (type == GRN_CONF_PARSE_BLOCK) {
                grn_conf_log_error(GRN_LOG_EMERG, cf, 0,
                                   "unexpected end of file, expecting \"}\"");
                return GRN_CONF_ERROR;
            }

            return GRN_CONF_OK;
        }

        /* a statement: GRN_OK (ended by ";") or GRN_CONF_BLOCK_START */

        name = cf->args->elts;

        if (grn_str_eq_lit(name, "include")) {
            rv = grn_conf_include(cf, rc);

        } else if (cf->handler) {
            /* inside types { }: every line is data for the block's handler */

            if (rc == GRN_CONF_BLOCK_START) {
                grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "unexpected \"{\"");
                return GRN_CONF_ERROR;
            }

            rv = cf->handler(cf, NULL, cf->handler_conf);

            if (rv != GRN_CONF_OK && rv != GRN_CONF_ERROR) {
                grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "%s", rv);
                rv = GRN_CONF_ERROR;
            }

        } else {
            rv = grn_conf_handler(cf, rc);
        }

        if (rv != GRN_CONF_OK) {
            return GRN_CONF_ERROR;
        }
    }
}


static char *
grn_conf_handler(grn_conf_t *cf, grn_int_t last)
{
    char                        *rv;
    void                        *conf;
    grn_uint_t                   line, nargs, found;
    grn_str_t                    name;
    const grn_command_t         *cmd;
    const grn_command_t *const  *table;

    name = ((grn_str_t *) cf->args->elts)[0];
    line = cf->conf_file->line;
    nargs = cf->args->nelts;
    found = 0;

    for (table = cf->commands; table && *table; table++) {
        for (cmd = *table; cmd->name.len; cmd++) {

            if (!grn_str_eq(&name, &cmd->name)) {
                continue;
            }

            found = 1;

            /* the same name may be defined for other contexts in another table */
            if (!(cmd->type & cf->cmd_type)) {
                continue;
            }

            if (!(cmd->type & GRN_CONF_BLOCK) && last != GRN_OK) {
                grn_conf_log_error(GRN_LOG_EMERG, cf, 0,
                                   "directive \"%s\" is not terminated by \";\"", name.data);
                return GRN_CONF_ERROR;
            }

            if ((cmd->type & GRN_CONF_BLOCK) && last != GRN_CONF_BLOCK_START) {
                grn_conf_log_error(GRN_LOG_EMERG, cf, 0,
                                   "directive \"%s\" has no opening \"{\"", name.data);
                return GRN_CONF_ERROR;
            }

            if (cmd->type & GRN_CONF_ANY) {
                /* any number */

            } else if (cmd->type & GRN_CONF_FLAG) {
                if (nargs != 2) {
                    goto invalid;
                }

            } else if (cmd->type & GRN_CONF_1MORE) {
                if (nargs < 2) {
                    goto invalid;
                }

            } else if (cmd->type & GRN_CONF_2MORE) {
                if (nargs < 3) {
                    goto invalid;
                }

            } else if (nargs > GRN_CONF_MAX_ARGS) {
                goto invalid;

            } else if (!(cmd->type & grn_conf_argument_number[nargs - 1])) {
                goto invalid;
            }

            conf = cmd->conf < GRN_CONF_NCTX ? cf->ctx[cmd->conf] : NULL;

            if (conf == NULL) {
                break;
            }

            rv = cmd->set(cf, cmd, conf);

            if (rv == GRN_CONF_OK) {
                return GRN_CONF_OK;
            }

            if (rv == GRN_CONF_ERROR) {
                return GRN_CONF_ERROR;
            }

            /* a block's body moved the line on; the message is about the directive */
            cf->conf_file->line = line;

            grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "\"%s\" directive %s", name.data, rv);

            return GRN_CONF_ERROR;
        }
    }

    if (found) {
        grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "\"%s\" directive is not allowed here",
                           name.data);
        return GRN_CONF_ERROR;
    }

    grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "unknown directive \"%s\"", name.data);

    return GRN_CONF_ERROR;

invalid:

    grn_conf_log_error(GRN_LOG_EMERG, cf, 0,
                       "invalid number of arguments in \"%s\" directive", name.data);

    return GRN_CONF_ERROR;
}


static char *
grn_conf_include_file(grn_conf_t *cf, const grn_str_t *name)
{
    char  *rv;

    if (cf->include_depth >= GRN_CONF_MAX_INCLUDE_DEPTH) {
        grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "\"include\" of \"%s\" nests files more than "
                           "%d deep: does a file include itself?", name->data,
                           GRN_CONF_MAX_INCLUDE_DEPTH);
        return GRN_CONF_ERROR;
    }
    cf->include_depth++;
    rv = grn_conf_parse(cf, name);
    cf->include_depth--;
    return rv;
}

/*
 * include PATTERN: a pattern with wildcards may match nothing (an empty conf.d is fine), a
 * plain name must exist. glob(3) sorts its matches, so the order of files is stable.
 */
static char *
grn_conf_include(grn_conf_t *cf, grn_int_t last)
{
    int         rc;
    char       *rv;
    size_t      i;
    glob_t      gl;
    grn_str_t   pattern, name;

    if (last != GRN_OK) {
        grn_conf_log_error(GRN_LOG_EMERG, cf, 0,
                           "directive \"include\" is not terminated by \";\"");
        return GRN_CONF_ERROR;
    }

    if (cf->args->nelts != 2) {
        grn_conf_log_error(GRN_LOG_EMERG, cf, 0,
                           "invalid number of arguments in \"include\" directive");
        return GRN_CONF_ERROR;
    }

    pattern = ((grn_str_t *) cf->args->elts)[1];

    if (cf->cycle && grn_conf_full_name(cf->cycle, &pattern) != GRN_OK) {
        return GRN_CONF_ERROR;
    }

    if (strpbrk(pattern.data, "*?[") == NULL) {
        return grn_conf_include_file(cf, &pattern);
    }

    rc = glob(pattern.data, 0, NULL, &gl);

    if (rc == GLOB_NOMATCH) {
        return GRN_CONF_OK;
    }

    if (rc != 0) {
        grn_conf_log_error(GRN_LOG_EMERG, cf, rc == GLOB_ABORTED ? errno : 0,
                           "glob() \"%s\" failed", pattern.data);
        globfree(&gl);
        return GRN_CONF_ERROR;
    }

    rv = GRN_CONF_OK;

    for (i = 0; i < gl.gl_pathc; i++) {
        name.data = gl.gl_pathv[i];
        name.len = strlen(name.data);

        rv = grn_conf_include_file(cf, &name);
        if (rv != GRN_CONF_OK) {
            break;
        }
    }

    globfree(&gl);

    return rv;
}


static int
grn_conf_is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}


/* Copies a token into the pool, NUL-terminated, resolving the escapes nginx knows. */
static grn_int_t
grn_conf_push_arg(grn_conf_t *cf, const char *src, size_t len, int escaped)
{
    char       *dst, *p;
    size_t      i;
    grn_str_t  *arg;

    arg = grn_array_push(cf->args);
    if (arg == NULL) {
        return GRN_ERROR;
    }

    dst = grn_pnalloc(cf->pool, len + 1);
    if (dst == NULL) {
        return GRN_ERROR;
    }

    if (!escaped) {
        memcpy(dst, src, len);
        dst[len] = '\0';

        arg->len = len;
        arg->data = dst;

        return GRN_OK;
    }

    p = dst;

    for (i = 0; i < len; i++) {
        if (src[i] != '\\' || i + 1 == len) {
            *p++ = src[i];
            continue;
        }

        i++;

        switch (src[i]) {
        case '"':
        case '\'':
        case '\\':
            *p++ = src[i];
            break;
        case 't':
            *p++ = '\t';
            break;
        case 'r':
            *p++ = '\r';
            break;
        case 'n':
            *p++ = '\n';
            break;
        default:
            /* kept as written: regexes such as "\.php$" need their backslashes */
            *p++ = '\\';
            *p++ = src[i];
        }
    }

    *p = '\0';

    arg->len = (size_t) (p - dst);
    arg->data = dst;

    return GRN_OK;
}


/*
 * Reads one statement into cf->args. Returns GRN_OK (ended by ";"), GRN_CONF_BLOCK_START,
 * GRN_CONF_BLOCK_DONE ("}"), GRN_CONF_FILE_DONE or GRN_ERROR (logged). On return
 * cf->conf_file->line is the line of the statement's name, or of the lone "}" or the error.
 */
static grn_int_t
grn_conf_read_token(grn_conf_t *cf)
{
    char             ch, quote, *start;
    int              escaped;
    grn_conf_file_t *f;

    f = cf->conf_file;
    cf->args->nelts = 0;

    for ( ;; ) {

        if (f->pos >= f->end) {
            f->line = f->scan_line;

            if (cf->args->nelts > 0) {
                goto eof;
            }

            return GRN_CONF_FILE_DONE;
        }

        ch = *f->pos;

        switch (ch) {

        case '\n':
            f->scan_line++;
            /* fall through */
        case ' ':
        case '\t':
        case '\r':
            f->pos++;
            continue;

        case '#':
            while (f->pos < f->end && *f->pos != '\n') {
                f->pos++;
            }
            continue;

        case ';':
        case '{':
            f->pos++;

            if (cf->args->nelts == 0) {
                f->line = f->scan_line;
                grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "unexpected \"%c\"", ch);
                return GRN_ERROR;
            }

            return ch == ';' ? GRN_OK : GRN_CONF_BLOCK_START;

        case '}':
            f->pos++;
            f->line = f->scan_line;

            if (cf->args->nelts > 0) {
                grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "unexpected \"}\"");
                return GRN_ERROR;
            }

            return GRN_CONF_BLOCK_DONE;
        }

        /* a token: the statement's line is where its first token starts */

        if (cf->args->nelts == 0) {
            f->line = f->scan_line;
        }

        escaped = 0;

        if (ch == '"' || ch == '\'') {
            quote = ch;
            start = ++f->pos;

            for ( ;; ) {
                if (f->pos >= f->end) {
                    goto eof;
                }

                ch = *f->pos;

                if (ch == '\\' && f->pos + 1 < f->end) {
                    escaped = 1;
                    if (f->pos[1] == '\n') {
                        f->scan_line++;
                    }
                    f->pos += 2;
                    continue;
                }

                if (ch == quote) {
                    break;
                }

                if (ch == '\n') {
                    f->scan_line++;
                }

                f->pos++;
            }

            if (grn_conf_push_arg(cf, start, (size_t) (f->pos - start), escaped) != GRN_OK) {
                return GRN_ERROR;
            }

            f->pos++;

            if (f->pos < f->end) {
                ch = *f->pos;

                if (!grn_conf_is_space(ch) && ch != ';' && ch != '{' && ch != '}') {
                    f->line = f->scan_line;
                    grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "unexpected \"%c\"", ch);
                    return GRN_ERROR;
                }
            }

            continue;
        }

        start = f->pos;

        while (f->pos < f->end) {
            ch = *f->pos;

            if (ch == '\\' && f->pos + 1 < f->end) {
                escaped = 1;
                if (f->pos[1] == '\n') {
                    f->scan_line++;
                }
                f->pos += 2;
                continue;
            }

            if (grn_conf_is_space(ch) || ch == ';' || ch == '{' || ch == '}') {
                break;
            }

            f->pos++;
        }

        if (grn_conf_push_arg(cf, start, (size_t) (f->pos - start), escaped) != GRN_OK) {
            return GRN_ERROR;
        }
    }

eof:

    f->line = f->scan_line;
    grn_conf_log_error(GRN_LOG_EMERG, cf, 0,
                       "unexpected end of file, expecting \";\" or \"}\"");

    return GRN_ERROR;
}


void
grn_conf_log_error(grn_uint_t level, grn_conf_t *cf, int err, const char *fmt, ...)
{
    int               n;
    char              buf[GRN_LOG_MAX_LINE], text[128], *s;
    size_t            len;
    va_list           args;
    grn_log_t        *log;
    grn_conf_file_t  *f;

    va_start(args, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, args);
    va_end(args);

    if (n < 0) {
        return;
    }

    len = grn_min((size_t) n, sizeof(buf) - 1);

    if (err) {
        s = strerror_r(err, text, sizeof(text));
        n = snprintf(buf + len, sizeof(buf) - len, " (%d: %s)", err, s);
        if (n > 0) {
            len = grn_min(len + (size_t) n, sizeof(buf) - 1);
        }
    }

    f = cf->conf_file;

    if (f != NULL) {
        if (f->name.data == grn_conf_param_name) {
            n = snprintf(buf + len, sizeof(buf) - len, " in command line");

        } else {
            n = snprintf(buf + len, sizeof(buf) - len, " in %.*s:%" PRIuPTR,
                         (int) f->name.len, f->name.data, f->line);
        }

        if (n > 0) {
            len = grn_min(len + (size_t) n, sizeof(buf) - 1);
        }
    }

    log = cf->log;

    if (log == NULL && cf->cycle) {
        log = cf->cycle->log;
    }

    grn_log_error(level, log, 0, "%.*s", (int) len, buf);
}


grn_int_t
grn_conf_full_name(grn_cycle_t *cycle, grn_str_t *name)
{
    char       *p;
    size_t      plen, len;
    grn_uint_t  slash;

    plen = 0;
    slash = 0;

    if (name->len == 0 || name->data[0] != '/') {
        plen = cycle->prefix.len;

        if (plen && cycle->prefix.data[plen - 1] != '/') {
            slash = 1;
        }
    }

    len = plen + slash + name->len;

    p = grn_pnalloc(cycle->pool, len + 1);
    if (p == NULL) {
        return GRN_ERROR;
    }

    if (plen) {
        memcpy(p, cycle->prefix.data, plen);
    }

    if (slash) {
        p[plen] = '/';
    }

    if (name->len) {
        memcpy(p + plen + slash, name->data, name->len);
    }

    p[len] = '\0';

    name->len = len;
    name->data = p;

    return GRN_OK;
}


/* The generic setters. Each finds its field at conf + cmd->offset. */

static char *
grn_conf_invalid_value(grn_conf_t *cf, const grn_command_t *cmd, const grn_str_t *value)
{
    grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "invalid value \"%s\" in \"%s\" directive",
                       value->data, cmd->name.data);

    return GRN_CONF_ERROR;
}


char *
grn_conf_set_flag_slot(grn_conf_t *cf, const grn_command_t *cmd, void *conf)
{
    grn_str_t   *value;
    grn_flag_t  *fp;

    fp = (grn_flag_t *) ((char *) conf + cmd->offset);

    if (*fp != GRN_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 2 && strncasecmp(value[1].data, "on", 2) == 0) {
        *fp = 1;

    } else if (value[1].len == 3 && strncasecmp(value[1].data, "off", 3) == 0) {
        *fp = 0;

    } else {
        grn_conf_log_error(GRN_LOG_EMERG, cf, 0,
                           "invalid value \"%s\" in \"%s\" directive, "
                           "it must be \"on\" or \"off\"",
                           value[1].data, cmd->name.data);
        return GRN_CONF_ERROR;
    }

    return GRN_CONF_OK;
}


char *
grn_conf_set_str_slot(grn_conf_t *cf, const grn_command_t *cmd, void *conf)
{
    grn_str_t  *field, *value;

    field = (grn_str_t *) ((char *) conf + cmd->offset);

    if (field->data) {
        return "is duplicate";
    }

    value = cf->args->elts;
    *field = value[1];

    return GRN_CONF_OK;
}


/* The array a list setter appends to, created on first use (the field is NULL or UNSET). */
static grn_array_t *
grn_conf_list(grn_conf_t *cf, const grn_command_t *cmd, void *conf)
{
    grn_array_t  **ap;

    ap = (grn_array_t **) ((char *) conf + cmd->offset);

    if (*ap == NULL || *ap == GRN_CONF_UNSET_PTR) {
        *ap = grn_array_create(cf->pool, 4, sizeof(grn_str_t));
    }

    return *ap;
}


char *
grn_conf_set_str_array_slot(grn_conf_t *cf, const grn_command_t *cmd, void *conf)
{
    grn_uint_t    i;
    grn_str_t    *value, *s;
    grn_array_t  *a;

    a = grn_conf_list(cf, cmd, conf);
    if (a == NULL) {
        return GRN_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        s = grn_array_push(a);
        if (s == NULL) {
            return GRN_CONF_ERROR;
        }

        *s = value[i];
    }

    return GRN_CONF_OK;
}


char *
grn_conf_set_keyval_slot(grn_conf_t *cf, const grn_command_t *cmd, void *conf)
{
    char         *eq;
    grn_uint_t    i;
    grn_str_t    *value, *s;
    grn_array_t  *a;

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        eq = memchr(value[i].data, '=', value[i].len);

        if (eq == NULL || eq == value[i].data) {
            grn_conf_log_error(GRN_LOG_EMERG, cf, 0,
                               "invalid value \"%s\" in \"%s\" directive, "
                               "it must be KEY=VALUE",
                               value[i].data, cmd->name.data);
            return GRN_CONF_ERROR;
        }
    }

    a = grn_conf_list(cf, cmd, conf);
    if (a == NULL) {
        return GRN_CONF_ERROR;
    }

    for (i = 1; i < cf->args->nelts; i++) {
        s = grn_array_push(a);
        if (s == NULL) {
            return GRN_CONF_ERROR;
        }

        *s = value[i];
    }

    return GRN_CONF_OK;
}


char *
grn_conf_set_num_slot(grn_conf_t *cf, const grn_command_t *cmd, void *conf)
{
    grn_int_t                     *np, n;
    grn_str_t                     *value;
    const grn_conf_num_bounds_t   *bounds;

    np = (grn_int_t *) ((char *) conf + cmd->offset);

    if (*np != GRN_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    n = grn_atoi(value[1].data, value[1].len);
    if (n == -1) {
        return grn_conf_invalid_value(cf, cmd, &value[1]);
    }

    bounds = cmd->post;

    if (bounds && (n < bounds->low || n > bounds->high)) {
        grn_conf_log_error(GRN_LOG_EMERG, cf, 0,
                           "\"%s\" directive value must be between %" PRIdPTR " and %" PRIdPTR,
                           cmd->name.data, bounds->low, bounds->high);
        return GRN_CONF_ERROR;
    }

    *np = n;

    return GRN_CONF_OK;
}


char *
grn_conf_set_size_slot(grn_conf_t *cf, const grn_command_t *cmd, void *conf)
{
    off_t       n;
    size_t     *sp;
    grn_str_t  *value;

    sp = (size_t *) ((char *) conf + cmd->offset);

    if (*sp != GRN_CONF_UNSET_SIZE) {
        return "is duplicate";
    }

    value = cf->args->elts;

    n = grn_parse_size(&value[1]);
    if (n == -1 || (uint64_t) n >= (uint64_t) SIZE_MAX) {
        return grn_conf_invalid_value(cf, cmd, &value[1]);
    }

    *sp = (size_t) n;

    return GRN_CONF_OK;
}


char *
grn_conf_set_off_slot(grn_conf_t *cf, const grn_command_t *cmd, void *conf)
{
    off_t      *op, n;
    grn_str_t  *value;

    op = (off_t *) ((char *) conf + cmd->offset);

    if (*op != (off_t) GRN_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    n = grn_parse_size(&value[1]);
    if (n == -1) {
        return grn_conf_invalid_value(cf, cmd, &value[1]);
    }

    *op = n;

    return GRN_CONF_OK;
}


char *
grn_conf_set_msec_slot(grn_conf_t *cf, const grn_command_t *cmd, void *conf)
{
    grn_msec_t  *mp, n;
    grn_str_t   *value;

    mp = (grn_msec_t *) ((char *) conf + cmd->offset);

    if (*mp != GRN_CONF_UNSET_MSEC) {
        return "is duplicate";
    }

    value = cf->args->elts;

    n = grn_parse_time(&value[1]);
    if (n == -1) {
        return grn_conf_invalid_value(cf, cmd, &value[1]);
    }

    *mp = n;

    return GRN_CONF_OK;
}


char *
grn_conf_set_enum_slot(grn_conf_t *cf, const grn_command_t *cmd, void *conf)
{
    grn_uint_t             *up;
    grn_str_t              *value;
    const grn_conf_enum_t  *e;

    up = (grn_uint_t *) ((char *) conf + cmd->offset);

    if (*up != GRN_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    for (e = cmd->post; e && e->name.len; e++) {
        if (grn_str_case_eq(&e->name, &value[1])) {
            *up = e->value;
            return GRN_CONF_OK;
        }
    }

    return grn_conf_invalid_value(cf, cmd, &value[1]);
}


char *
grn_conf_set_path_slot(grn_conf_t *cf, const grn_command_t *cmd, void *conf)
{
    grn_str_t  *field, *value, path;

    field = (grn_str_t *) ((char *) conf + cmd->offset);

    if (field->data) {
        return "is duplicate";
    }

    value = cf->args->elts;
    path = value[1];

    if (cf->cycle && grn_conf_full_name(cf->cycle, &path) != GRN_OK) {
        return GRN_CONF_ERROR;
    }

    *field = path;

    return GRN_CONF_OK;
}


char *
grn_conf_set_path_array_slot(grn_conf_t *cf, const grn_command_t *cmd, void *conf)
{
    grn_uint_t    i;
    grn_str_t    *value, *s;
    grn_array_t  *a;

    a = grn_conf_list(cf, cmd, conf);
    if (a == NULL) {
        return GRN_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        s = grn_array_push(a);
        if (s == NULL) {
            return GRN_CONF_ERROR;
        }

        *s = value[i];

        if (cf->cycle && grn_conf_full_name(cf->cycle, s) != GRN_OK) {
            return GRN_CONF_ERROR;
        }
    }

    return GRN_CONF_OK;
}
