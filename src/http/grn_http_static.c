/*
 * grn_http_static.c: static files: `root` and `alias` locations, `index`, `try_files`,
 * `types { }` and `disable_symlinks`.
 *
 * A request is served in three steps. Its decoded path is normalized first: "." and ".."
 * segments and repeated slashes go, and a ".." that would climb above "/" is a 400. When that
 * changes the path, the location is chosen again, since nginx matches locations on the
 * normalized URI. Then the path is mapped to a file: root + path, or alias + what follows the
 * location's prefix. The mapping gives a trusted base (the directory the config names) and the
 * request's part below it, which never holds a "." or ".." segment, so no request can name a
 * file outside the base. Last, the file is opened once (O_NONBLOCK: a FIFO cannot stall the
 * worker) and the response is built from that descriptor's fstat(): ETag and Last-Modified,
 * the conditional headers (304, 412), one byte range (206, 416), and a body that the
 * connection sends with sendfile(). A directory gets a 301 to its URI with a slash, or its
 * index file through an internal redirect.
 *
 * disable_symlinks applies to the request's part of the path; the root or alias itself is
 * trusted, as with nginx's "from=$document_root". With "outside", the default, a link may be
 * followed only while the file stays below the base: one openat2(RESOLVE_BENEATH) from the
 * base, and where that says EXDEV (an absolute link, one that leaves and comes back) or the
 * kernel has no openat2, a plain open whose resolved path must lie below the base's. With "on"
 * that part is resolved by one openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) below the base
 * or, where the kernel has no openat2, by a walk that opens one component at a time with
 * O_NOFOLLOW. "if_not_owner" always walks, and follows a link only when the link and its
 * target have the same owner. Index files and try_files candidates go through the same open.
 *
 * Files are opened per request, without a descriptor cache: a replaced file is seen at once,
 * and the two syscalls an open and an fstat cost are small next to the response's own. Only
 * the base directories openat2() starts from are kept open, per worker thread and for one
 * second at most (grn_http_static_base()).
 */

#include "grn_core.h"
#include "grn_http.h"

#include <ctype.h>
#include <sys/stat.h>

#if (GRN_HAVE_OPENAT2)
#include <sys/syscall.h>
#include <linux/openat2.h>
#endif

#define GRN_HTTP_MAX_EXTEN    32       /* a longer extension gets default_type */

/*
 * Base directories kept open (O_PATH) per worker thread for openat2(), and for how long one is
 * trusted before it is opened again: a root that names a "current" link swapped at deploy
 * time is followed within that time.
 */
#define GRN_HTTP_STATIC_BASES       8
#define GRN_HTTP_STATIC_BASE_VALID  1000   /* ms */

typedef struct {
    char         *path;        /* NUL-terminated, malloc()ed; NULL: a free slot */
    size_t        len;
    int           fd;
    grn_msec_t    opened;
} grn_http_static_base_t;

/* A file name mapped from a URI. */
typedef struct {
    char         *full;        /* base "/" rel, NUL-terminated */
    size_t        base_len;    /* full[0 .. base_len) is the trusted directory */
    size_t        len;
    unsigned      whole:1;     /* the whole name is trusted (the alias itself, the root) */
} grn_http_static_path_t;

/* The request headers that decide between 200, 206, 304, 412 and 416. */
typedef struct {
    grn_str_t    *if_match;
    grn_str_t    *if_none_match;
    grn_str_t    *if_modified_since;
    grn_str_t    *if_unmodified_since;
    grn_str_t    *range;
    grn_str_t    *if_range;
} grn_http_static_conds_t;

struct grn_http_try_files_s {
    grn_str_t             *tries;       /* every argument but the last, as written */
    grn_uint_t             ntries;
    grn_str_t              fallback;    /* the last: "=CODE", "@name" or a URI */
    grn_uint_t             code;        /* for "=CODE" */
    grn_http_loc_conf_t   *named;       /* for "@name", resolved once the server is parsed */
    grn_str_t              file;
    grn_uint_t             line;
};

static char *grn_http_types(grn_conf_t *cf, const grn_command_t *cmd, void *conf);
static char *grn_http_index(grn_conf_t *cf, const grn_command_t *cmd, void *conf);
static char *grn_http_try_files(grn_conf_t *cf, const grn_command_t *cmd, void *conf);
static grn_int_t grn_http_static_send(grn_http_request_t *r, grn_http_loc_conf_t *loc, int fd,
    struct stat *st);

static const grn_conf_enum_t  grn_http_symlinks[] = {
    { grn_string("off"), GRN_HTTP_SYMLINKS_OFF },
    { grn_string("on"), GRN_HTTP_SYMLINKS_ON },
    { grn_string("if_not_owner"), GRN_HTTP_SYMLINKS_NOT_OWNER },
    { grn_string("outside"), GRN_HTTP_SYMLINKS_OUTSIDE },
    { grn_null_string, 0 }
};

#define GRN_HTTP_STATIC_LEVELS  (GRN_HTTP_CONF | GRN_SRV_CONF | GRN_LOC_CONF)

const grn_command_t  grn_http_static_commands[] = {

    { grn_string("types"), GRN_HTTP_STATIC_LEVELS | GRN_CONF_BLOCK | GRN_CONF_NOARGS,
      grn_http_types, GRN_CONF_CTX_LOC, 0, NULL },

    { grn_string("index"), GRN_HTTP_STATIC_LEVELS | GRN_CONF_1MORE,
      grn_http_index, GRN_CONF_CTX_LOC, 0, NULL },

    { grn_string("try_files"), GRN_LOC_CONF | GRN_CONF_2MORE,
      grn_http_try_files, GRN_CONF_CTX_LOC, 0, NULL },

    { grn_string("disable_symlinks"), GRN_HTTP_STATIC_LEVELS | GRN_CONF_TAKE1,
      grn_conf_set_enum_slot, GRN_CONF_CTX_LOC,
      offsetof(grn_http_loc_conf_t, disable_symlinks), grn_http_symlinks },

    grn_null_command
};

/* nginx's types when no types { } block is written anywhere. */
static const grn_http_type_t  grn_http_builtin_types[] = {
    { grn_string("gif"), grn_string("image/gif") },
    { grn_string("html"), grn_string("text/html") },
    { grn_string("jpg"), grn_string("image/jpeg") },
};

static const grn_str_t  grn_http_default_index = grn_string("index.html");

#if (GRN_HAVE_OPENAT2)
/* Cleared (by any worker thread) the first time the kernel or a seccomp filter refuses it. */
static int  grn_http_openat2_works = 1;
#endif


/* Configuration. */

static int
grn_http_type_cmp(const void *a, const void *b)
{
    const grn_http_type_t  *x = a, *y = b;
    int                     rc;

    rc = memcmp(x->exten.data, y->exten.data, grn_min(x->exten.len, y->exten.len));
    if (rc != 0) {
        return rc;
    }
    return (x->exten.len > y->exten.len) - (x->exten.len < y->exten.len);
}

/* One line of a types { } block: "text/html  html htm;". */
static char *
grn_http_type_line(grn_conf_t *cf, const grn_command_t *dummy GRN_UNUSED, void *conf)
{
    char             *slash;
    grn_str_t        *value = cf->args->elts, *type = &value[0];
    grn_uint_t        i, j;
    grn_array_t      *types = conf;
    grn_http_type_t  *t;

    slash = memchr(type->data, '/', type->len);
    if (slash == NULL || slash == type->data || slash + 1 == type->data + type->len) {
        grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "invalid MIME type \"%s\" in the \"types\" "
                           "block, it must look like \"text/html\"", type->data);
        return GRN_CONF_ERROR;
    }
    if (cf->args->nelts < 2) {
        grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "MIME type \"%s\" has no file extension in "
                           "the \"types\" block (write \"%s ext1 ext2;\")", type->data,
                           type->data);
        return GRN_CONF_ERROR;
    }

    for (i = 1; i < cf->args->nelts; i++) {
        if (value[i].len == 0 || value[i].len > GRN_HTTP_MAX_EXTEN
            || memchr(value[i].data, '/', value[i].len) != NULL)
        {
            grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "invalid file extension \"%s\" in the "
                               "\"types\" block", value[i].data);
            return GRN_CONF_ERROR;
        }
        grn_strlow(value[i].data, value[i].len);

        t = types->elts;
        for (j = 0; j < types->nelts; j++) {
            if (grn_str_eq(&t[j].exten, &value[i])) {
                /* nginx's rule: the later line wins, with a warning */
                grn_conf_log_error(GRN_LOG_WARN, cf, 0, "duplicate extension \"%s\", content "
                                   "type: \"%s\", previous content type: \"%.*s\"",
                                   value[i].data, type->data, (int) t[j].type.len,
                                   t[j].type.data);
                t[j].type = *type;
                break;
            }
        }
        if (j < types->nelts) {
            continue;
        }

        t = grn_array_push(types);
        if (t == NULL) {
            return GRN_CONF_ERROR;
        }
        t->exten = value[i];
        t->type = *type;
    }

    return GRN_CONF_OK;
}

/*
 * types { type ext...; }: its lines are data, not directives, so the parser hands each one to
 * grn_http_type_line(). A second block at the same level adds to the first; a block at an
 * inner level replaces what the outer one says, as in nginx.
 */
static char *
grn_http_types(grn_conf_t *cf, const grn_command_t *cmd GRN_UNUSED, void *conf)
{
    char                 *rv;
    grn_conf_t            save;
    grn_http_loc_conf_t  *loc = conf;

    if (loc->types == GRN_CONF_UNSET_PTR || loc->types == NULL) {
        loc->types = grn_array_create(cf->pool, 64, sizeof(grn_http_type_t));
        if (loc->types == NULL) {
            return GRN_CONF_ERROR;
        }
    }

    save = *cf;
    cf->handler = grn_http_type_line;
    cf->handler_conf = loc->types;
    cf->cmd_type = GRN_TYPES_CONF;

    rv = grn_conf_parse(cf, NULL);

    *cf = save;

    if (rv == GRN_CONF_OK) {
        qsort(loc->types->elts, loc->types->nelts, sizeof(grn_http_type_t), grn_http_type_cmp);
    }
    return rv;
}

static char *
grn_http_index(grn_conf_t *cf, const grn_command_t *cmd GRN_UNUSED, void *conf)
{
    grn_str_t            *value = cf->args->elts, *name;
    grn_uint_t            i;
    grn_http_loc_conf_t  *loc = conf;

    for (i = 1; i < cf->args->nelts; i++) {
        if (value[i].len == 0 || memchr(value[i].data, '/', value[i].len) != NULL
            || grn_str_eq_lit(&value[i], ".") || grn_str_eq_lit(&value[i], ".."))
        {
            grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "invalid index file \"%s\", it must be a "
                               "file name without \"/\"", value[i].data);
            return GRN_CONF_ERROR;
        }
    }

    if (loc->index == GRN_CONF_UNSET_PTR) {
        loc->index = grn_array_create(cf->pool, cf->args->nelts - 1, sizeof(grn_str_t));
        if (loc->index == NULL) {
            return GRN_CONF_ERROR;
        }
    }

    for (i = 1; i < cf->args->nelts; i++) {
        name = grn_array_push(loc->index);
        if (name == NULL) {
            return GRN_CONF_ERROR;
        }
        *name = value[i];
    }
    return GRN_CONF_OK;
}

/* The variable whose name starts at p ("uri" or "{uri}" after a "$"); returns its end. */
static const char *
grn_http_static_var(const char *p, const char *end, grn_str_t *name)
{
    const char  *close;

    if (p < end && *p == '{') {
        close = memchr(p, '}', end - p);
        if (close == NULL) {
            name->data = NULL;
            name->len = 0;
            return end;
        }
        name->data = (char *) p + 1;
        name->len = (size_t) (close - p - 1);
        return close + 1;
    }

    name->data = (char *) p;
    while (p < end && (isalnum((unsigned char) *p) || *p == '_')) {
        p++;
    }
    name->len = (size_t) (p - name->data);
    return p;
}

/* The variables try_files knows; GRN_DECLINED for any other name. */
static grn_int_t
grn_http_static_var_value(grn_http_request_t *r, const grn_str_t *name, grn_str_t *value)
{
    if (grn_str_eq_lit(name, "uri")) {
        if (r) {
            *value = r->path;
        }
        return GRN_OK;
    }
    if (grn_str_eq_lit(name, "args") || grn_str_eq_lit(name, "query_string")) {
        if (r) {
            *value = r->query;
        }
        return GRN_OK;
    }
    if (grn_str_eq_lit(name, "is_args")) {
        if (r) {
            value->data = (char *) "?";
            value->len = r->query.len ? 1 : 0;
        }
        return GRN_OK;
    }
    return GRN_DECLINED;
}

static char *
grn_http_try_files(grn_conf_t *cf, const grn_command_t *cmd GRN_UNUSED, void *conf)
{
    const char            *p, *end;
    grn_str_t             *value = cf->args->elts, name, *last;
    grn_int_t              code;
    grn_uint_t             i;
    grn_http_loc_conf_t   *loc = conf;
    grn_http_try_files_t  *tf;

    if (loc->try_files) {
        return "is duplicate";
    }

    for (i = 1; i < cf->args->nelts; i++) {
        end = value[i].data + value[i].len;
        for (p = value[i].data; p < end; p++) {
            if (*p != '$') {
                continue;
            }
            p = grn_http_static_var(p + 1, end, &name);
            if (name.len == 0 || grn_http_static_var_value(NULL, &name, NULL) != GRN_OK) {
                grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "unknown variable \"$%.*s\" in "
                                   "\"try_files\" (known: $uri, $args, $query_string, "
                                   "$is_args)", (int) name.len, name.data ? name.data : "");
                return GRN_CONF_ERROR;
            }
            p--;
        }
    }

    tf = grn_pcalloc(cf->pool, sizeof(grn_http_try_files_t));
    if (tf == NULL) {
        return GRN_CONF_ERROR;
    }
    tf->ntries = cf->args->nelts - 2;
    tf->tries = grn_palloc(cf->pool, sizeof(grn_str_t) * tf->ntries);
    if (tf->tries == NULL) {
        return GRN_CONF_ERROR;
    }
    memcpy(tf->tries, &value[1], sizeof(grn_str_t) * tf->ntries);
    tf->file = cf->conf_file->name;
    tf->line = cf->conf_file->line;

    last = &value[cf->args->nelts - 1];
    tf->fallback = *last;

    if (last->data[0] == '=') {
        code = grn_atoi(last->data + 1, last->len - 1);
        if (code < 100 || code > 999) {
            grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "invalid code \"%s\" in \"try_files\"",
                               last->data);
            return GRN_CONF_ERROR;
        }
        tf->code = (grn_uint_t) code;

    } else if (last->data[0] != '@' && last->data[0] != '/' && last->data[0] != '$') {
        grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "the last argument of \"try_files\" must be "
                           "\"=CODE\", \"@name\" or a URI, not \"%s\"", last->data);
        return GRN_CONF_ERROR;
    }

    loc->try_files = tf;
    return GRN_CONF_OK;
}

/* Where a location's root or alias stands, for messages. */
#define grn_http_root_where(loc)                                                           \
    (int) (loc)->root_file.len, (loc)->root_file.data, (unsigned long) (loc)->root_line

static grn_int_t
grn_http_static_check_root(grn_conf_t *cf, grn_http_loc_conf_t *loc)
{
    grn_flag_t   alias = loc->alias.data != NULL;
    grn_str_t   *path = alias ? &loc->alias : &loc->root;
    struct stat  st;

    if (loc->root_line == 0 || (!alias && loc->root_vars)) {
        /* none, inherited (checked where it is written), or with variables: per request */
        return GRN_OK;
    }

    if (alias && (loc->match == GRN_HTTP_LOC_REGEX || loc->match == GRN_HTTP_LOC_REGEX_CASELESS
                  || loc->match == GRN_HTTP_LOC_NAMED))
    {
        grn_log_error(GRN_LOG_EMERG, cf->log, 0, "\"alias\" in the %s location \"%.*s\" is not "
                      "supported (it would need regex captures); use \"root\" in %.*s:%lu",
                      loc->match == GRN_HTTP_LOC_NAMED ? "named" : "regex",
                      (int) loc->name.len, loc->name.data, grn_http_root_where(loc));
        return GRN_ERROR;
    }

    if (stat(path->data, &st) == -1) {
        if (errno == ENOENT || errno == ENOTDIR) {
            grn_log_error(GRN_LOG_EMERG, cf->log, 0, "%s \"%s\" does not exist in %.*s:%lu",
                          alias ? "alias" : "root", path->data, grn_http_root_where(loc));
        } else {
            grn_log_error(GRN_LOG_EMERG, cf->log, errno, "stat() of %s \"%s\" failed in "
                          "%.*s:%lu", alias ? "alias" : "root", path->data,
                          grn_http_root_where(loc));
        }
        return GRN_ERROR;
    }

    if (!alias && !S_ISDIR(st.st_mode)) {
        grn_log_error(GRN_LOG_EMERG, cf->log, 0, "root \"%s\" is not a directory in %.*s:%lu",
                      path->data, grn_http_root_where(loc));
        return GRN_ERROR;
    }
    return GRN_OK;
}

static grn_int_t
grn_http_static_finish_locations(grn_conf_t *cf, grn_array_t *locations,
    grn_http_srv_conf_t *srv)
{
    grn_uint_t             i, j;
    grn_http_loc_conf_t  **loc, **named;
    grn_http_try_files_t  *tf;

    loc = locations->elts;
    for (i = 0; i < locations->nelts; i++) {
        if (grn_http_static_check_root(cf, loc[i]) != GRN_OK) {
            return GRN_ERROR;
        }

        tf = loc[i]->try_files;
        if (tf) {
            if (loc[i]->action == GRN_HTTP_ACTION_NONE) {
                grn_log_error(GRN_LOG_EMERG, cf->log, 0, "\"try_files\" in location \"%.*s\" "
                              "has no \"root\" or \"alias\" to look in in %.*s:%lu",
                              (int) loc[i]->name.len, loc[i]->name.data,
                              (int) tf->file.len, tf->file.data, (unsigned long) tf->line);
                return GRN_ERROR;
            }
            if (loc[i]->action != GRN_HTTP_ACTION_STATIC) {
                grn_log_error(GRN_LOG_EMERG, cf->log, 0, "\"try_files\" cannot share location "
                              "\"%.*s\" with \"pass\", \"return\" or \"status\"; fall back to "
                              "a named location instead (try_files $uri @app;) in %.*s:%lu",
                              (int) loc[i]->name.len, loc[i]->name.data,
                              (int) tf->file.len, tf->file.data, (unsigned long) tf->line);
                return GRN_ERROR;
            }

            if (tf->fallback.data[0] == '@') {
                named = srv->named.elts;
                for (j = 0; j < srv->named.nelts; j++) {
                    if (grn_str_eq(&named[j]->name, &tf->fallback)) {
                        tf->named = named[j];
                        break;
                    }
                }
                if (tf->named == NULL) {
                    grn_log_error(GRN_LOG_EMERG, cf->log, 0, "unknown named location \"%.*s\" "
                                  "in \"try_files\" in %.*s:%lu",
                                  (int) tf->fallback.len, tf->fallback.data,
                                  (int) tf->file.len, tf->file.data, (unsigned long) tf->line);
                    return GRN_ERROR;
                }
            }
        }

        if (grn_http_static_finish_locations(cf, &loc[i]->locations, srv) != GRN_OK) {
            return GRN_ERROR;
        }
    }
    return GRN_OK;
}

grn_int_t
grn_http_static_finish(grn_conf_t *cf, grn_http_srv_conf_t *srv)
{
    grn_http_main_conf_t  *hmcf = cf->cycle->http;

    if (grn_http_static_check_root(cf, hmcf->loc) != GRN_OK
        || grn_http_static_check_root(cf, srv->loc) != GRN_OK
        || grn_http_static_finish_locations(cf, &srv->locations, srv) != GRN_OK
        || grn_http_static_finish_locations(cf, &srv->named, srv) != GRN_OK)
    {
        return GRN_ERROR;
    }
    return GRN_OK;
}


/* Paths. */

/* Whether a decoded path that starts with "/" has an empty, "." or ".." segment. */
static grn_flag_t
grn_http_static_unclean(const char *p, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if (p[i] != '/') {
            continue;
        }
        if (i + 1 < len && p[i + 1] == '/') {
            return 1;
        }
        if (i + 1 < len && p[i + 1] == '.'
            && (i + 2 == len || p[i + 2] == '/'
                || (p[i + 2] == '.' && (i + 3 == len || p[i + 3] == '/'))))
        {
            return 1;
        }
    }
    return 0;
}

/*
 * Removes ".", ".." and empty segments from a decoded path that starts with "/" (RFC 3986
 * 5.2.4), keeping a trailing slash. GRN_OK: nothing to change (*out = *path); GRN_AGAIN: *out
 * is the new path; GRN_DECLINED: a ".." climbs above "/"; GRN_ERROR: no memory.
 */
static grn_int_t
grn_http_static_normalize(grn_pool_t *pool, const grn_str_t *path, grn_str_t *out)
{
    char        *buf, *dst;
    size_t       n;
    grn_flag_t   slash_end;
    const char  *p, *end, *seg;

    if (!grn_http_static_unclean(path->data, path->len)) {
        *out = *path;
        return GRN_OK;
    }

    buf = grn_pnalloc(pool, path->len + 1);
    if (buf == NULL) {
        return GRN_ERROR;
    }

    p = path->data;
    end = p + path->len;
    dst = buf;
    *dst++ = '/';
    slash_end = 1;

    /* buf .. dst always ends with "/" */
    while (p < end) {
        while (p < end && *p == '/') {
            p++;
        }
        if (p == end) {
            break;
        }
        seg = p;
        while (p < end && *p != '/') {
            p++;
        }
        n = (size_t) (p - seg);

        if (n == 1 && seg[0] == '.') {
            slash_end = 1;
            continue;
        }
        if (n == 2 && seg[0] == '.' && seg[1] == '.') {
            if (dst == buf + 1) {
                return GRN_DECLINED;
            }
            dst--;
            while (dst[-1] != '/') {
                dst--;
            }
            slash_end = 1;
            continue;
        }
        memcpy(dst, seg, n);
        dst += n;
        *dst++ = '/';
        slash_end = p < end;
    }

    if (!slash_end && dst > buf + 1) {
        dst--;
    }
    out->data = buf;
    out->len = (size_t) (dst - buf);
    return GRN_AGAIN;
}

/* Whether a relative path has a "." or ".." segment. */
static grn_flag_t
grn_http_static_dot_segment(const char *p, size_t len)
{
    const char  *end = p + len, *seg;

    while (p < end) {
        seg = p;
        while (p < end && *p != '/') {
            p++;
        }
        if ((p - seg == 1 && seg[0] == '.')
            || (p - seg == 2 && seg[0] == '.' && seg[1] == '.'))
        {
            return 1;
        }
        p++;
    }
    return 0;
}

/* The longest index file name of a location, for the room a path keeps for it. */
static size_t
grn_http_static_index_room(grn_http_loc_conf_t *loc)
{
    size_t      room = grn_http_default_index.len;
    grn_uint_t  i;
    grn_str_t  *name;

    if (loc->index) {
        name = loc->index->elts;
        for (i = 0; i < loc->index->nelts; i++) {
            room = grn_max(room, name[i].len);
        }
    }
    return room;
}

/*
 * Maps a normalized URI to a file name of loc's root or alias. GRN_DECLINED when the URI has no
 * file there (outside the alias's prefix, or a name that would leave the alias directory).
 */
static grn_int_t
grn_http_static_map(grn_http_request_t *r, grn_http_loc_conf_t *loc, const grn_str_t *uri,
    grn_http_static_path_t *p)
{
    char       *d;
    grn_str_t   base, rel;

    if (loc->alias.data) {
        if (uri->len < loc->name.len || memcmp(uri->data, loc->name.data, loc->name.len) != 0) {
            return GRN_DECLINED;
        }
        base = loc->alias;
        rel.data = uri->data + loc->name.len;
        rel.len = uri->len - loc->name.len;

        if (rel.len && base.data[base.len - 1] != '/' && rel.data[0] != '/') {
            /* "location /static { alias /srv/s; }" and "/staticx": not below /srv/s */
            return GRN_DECLINED;
        }
        while (base.len > 1 && base.data[base.len - 1] == '/') {
            base.len--;
        }

    } else if (loc->root_vars) {
        /*
         * "root /srv/sites/$sub": a capture comes from the client (Host, URI). The value must
         * stay a plain directory name: no dot segment, no NUL, not empty.
         */
        if (grn_http_vars_render(r, loc->root_vars, &base) != GRN_OK) {
            return GRN_ERROR;
        }
        while (base.len > 1 && base.data[base.len - 1] == '/') {
            base.len--;
        }
        if (base.len == 0 || base.data[0] != '/' || memchr(base.data, '\0', base.len)
            || grn_http_static_dot_segment(base.data, base.len))
        {
            grn_log_error(GRN_LOG_INFO, grn_pool_log(r->pool), 0,
                          "root \"%.*s\" from variables is not a plain directory: 404",
                          (int) base.len, base.data);
            return GRN_DECLINED;
        }
        rel = *uri;

    } else {
        base = loc->root;
        rel = *uri;
    }

    while (rel.len && rel.data[0] == '/') {
        rel.data++;
        rel.len--;
    }

    /* A prefix cut may leave a dot segment: "/static../x" under "location /static". */
    if (grn_http_static_dot_segment(rel.data, rel.len)) {
        return GRN_DECLINED;
    }

    p->full = grn_pnalloc(r->pool, base.len + 1 + rel.len + grn_http_static_index_room(loc) + 1);
    if (p->full == NULL) {
        return GRN_ERROR;
    }
    d = memcpy(p->full, base.data, base.len) + base.len;
    p->base_len = base.len;
    p->whole = rel.len == 0;
    if (rel.len) {
        if (base.len == 1 && base.data[0] == '/') {
            d--;                        /* root "/": no second slash */
            p->base_len = 0;
        }
        *d++ = '/';
        d = memcpy(d, rel.data, rel.len) + rel.len;
    } else if (uri->len && uri->data[uri->len - 1] == '/' && base.data[base.len - 1] != '/') {
        *d++ = '/';
    }
    *d = '\0';
    p->len = (size_t) (d - p->full);
    return GRN_OK;
}

/*
 * openat() that refuses a symbolic link in name's place (flags hold O_NOFOLLOW), except that
 * "if_not_owner" follows one owned by the owner of its target. A refused link gives ELOOP.
 */
static int
grn_http_static_openat(int dirfd, const char *name, int flags, grn_uint_t symlinks)
{
    int          fd, err;
    struct stat  lst, st;

    fd = openat(dirfd, name, flags);
    if (fd != -1 || (errno != ELOOP && errno != ENOTDIR)) {
        return fd;
    }

    /* O_NOFOLLOW gives ELOOP for a link, and ENOTDIR with O_DIRECTORY */
    err = errno;
    if (fstatat(dirfd, name, &lst, AT_SYMLINK_NOFOLLOW) == -1 || !S_ISLNK(lst.st_mode)) {
        errno = err;
        return -1;
    }
    if (symlinks != GRN_HTTP_SYMLINKS_NOT_OWNER) {
        errno = ELOOP;
        return -1;
    }

    fd = openat(dirfd, name, flags & ~O_NOFOLLOW);
    if (fd == -1) {
        return -1;
    }
    if (fstat(fd, &st) == -1 || st.st_uid != lst.st_uid) {
        close(fd);
        errno = ELOOP;
        return -1;
    }
    return fd;
}

/* Opens rel below dirfd one component at a time (dirfd is closed). */
static int
grn_http_static_walk(int dirfd, char *rel, grn_uint_t symlinks)
{
    int    fd, err;
    char  *name, *slash;

    for (name = rel; ; name = slash + 1) {
        slash = strchr(name, '/');

        if (slash == NULL || slash[1] == '\0') {
            /* the last component; a trailing slash asks for a directory */
            if (slash) {
                *slash = '\0';
            }
            fd = grn_http_static_openat(dirfd, name, O_RDONLY | O_NONBLOCK | O_CLOEXEC
                                        | O_NOFOLLOW | (slash ? O_DIRECTORY : 0), symlinks);
            if (slash) {
                *slash = '/';
            }
            err = errno;
            close(dirfd);
            errno = err;
            return fd;
        }

        *slash = '\0';
        fd = grn_http_static_openat(dirfd, name, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW,
                                    symlinks);
        *slash = '/';
        err = errno;
        close(dirfd);
        errno = err;
        if (fd == -1) {
            return -1;
        }
        dirfd = fd;
    }
}

/* Opens the base of p (O_PATH): "/" when the base is the root directory. */
static int
grn_http_static_open_base(grn_http_static_path_t *p)
{
    int  fd;

    if (p->base_len == 0) {
        return open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    }
    p->full[p->base_len] = '\0';
    fd = open(p->full, O_PATH | O_DIRECTORY | O_CLOEXEC);
    p->full[p->base_len] = '/';
    return fd;
}

/*
 * The base of p as a descriptor this thread keeps (the caller does not close it). Opening the
 * base for every request cost a third of a static request's system time (an open and a close
 * on top of openat2, fstat and close; see the commit log), so the few bases a worker serves
 * from stay open, each for GRN_HTTP_STATIC_BASE_VALID ms. -1 with errno when it cannot be
 * opened.
 */
static int
grn_http_static_base(grn_http_request_t *r, grn_http_static_path_t *p)
{
    int                      fd;
    size_t                   len = p->base_len ? p->base_len : 1;
    const char              *path = p->base_len ? p->full : "/";
    grn_uint_t               i;
    grn_msec_t               now;
    grn_http_worker_t       *w = ((grn_http_conn_t *) r->connection->data)->worker;
    grn_http_static_base_t  *bases = w->static_bases, *b, *slot;

    if (bases == NULL) {
        bases = grn_calloc(sizeof(grn_http_static_base_t) * GRN_HTTP_STATIC_BASES, w->log);
        if (bases == NULL) {
            errno = ENOMEM;
            return -1;
        }
        w->static_bases = bases;
    }

    now = w->loop->now;
    slot = NULL;
    for (i = 0; i < GRN_HTTP_STATIC_BASES; i++) {
        b = &bases[i];
        if (b->path && b->len == len && memcmp(b->path, path, len) == 0) {
            if (now - b->opened < GRN_HTTP_STATIC_BASE_VALID) {
                return b->fd;
            }
            slot = b;
            break;
        }
        if (slot == NULL || b->path == NULL
            || (slot->path != NULL && b->opened < slot->opened))
        {
            slot = b;                   /* a free slot, else the one opened longest ago */
        }
    }

    fd = grn_http_static_open_base(p);
    if (fd == -1) {
        return -1;
    }

    if (slot->path) {
        close(slot->fd);
        if (slot->len != len || memcmp(slot->path, path, len) != 0) {
            free(slot->path);
            slot->path = NULL;
        }
    }
    if (slot->path == NULL) {
        slot->path = grn_alloc(len + 1, w->log);
        if (slot->path == NULL) {
            close(fd);
            errno = ENOMEM;
            return -1;
        }
        memcpy(slot->path, path, len);
        slot->path[len] = '\0';
        slot->len = len;
    }
    slot->fd = fd;
    slot->opened = now;
    return fd;
}

void
grn_http_static_done(grn_http_worker_t *w)
{
    grn_uint_t               i;
    grn_http_static_base_t  *bases = w->static_bases;

    if (bases == NULL) {
        return;
    }
    for (i = 0; i < GRN_HTTP_STATIC_BASES; i++) {
        if (bases[i].path) {
            close(bases[i].fd);
            free(bases[i].path);
        }
    }
    free(bases);
    w->static_bases = NULL;
}

/*
 * "disable_symlinks outside" without openat2, or for what RESOLVE_BENEATH refuses although it
 * may stay below the base (an absolute link, or one through ".." that comes back): the file is
 * opened following every link, then the path the kernel resolved it to (/proc/self/fd) must be
 * the base's own resolved path or lie below it. The check is on the descriptor that will be
 * served, so a link swapped after it was followed cannot slip through. -1 with errno EXDEV for
 * a file outside; a /proc that cannot be read refuses too (the file cannot be proved inside).
 */
static int
grn_http_static_open_inside(int dirfd, const char *full)
{
    int      fd, err;
    char     link[32], base[PATH_MAX], path[PATH_MAX];
    ssize_t  blen, plen;

    fd = open(full, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd == -1) {
        return -1;
    }

    snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
    blen = readlink(link, base, sizeof(base));
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    plen = readlink(link, path, sizeof(path));

    if (blen <= 0 || plen <= 0 || blen == (ssize_t) sizeof(base)
        || plen == (ssize_t) sizeof(path))
    {
        err = errno;
        close(fd);
        errno = err ? err : ENAMETOOLONG;
        return -1;
    }

    if (blen == 1 && base[0] == '/') {
        return fd;                      /* root "/": everything is below it */
    }
    if (plen >= blen && memcmp(path, base, (size_t) blen) == 0
        && (plen == blen || path[blen] == '/'))
    {
        return fd;
    }

    close(fd);
    errno = EXDEV;
    return -1;
}

/*
 * Opens a mapped file under the symlink policy; -1 with errno (ELOOP: a link refused by "on" or
 * "if_not_owner"; EXDEV: a file that "outside" refuses since it resolves outside the base).
 */
static int
grn_http_static_open(grn_http_request_t *r, grn_http_static_path_t *p, grn_uint_t symlinks)
{
    int    dirfd, fd, err;
    char  *rel;

    if (symlinks == GRN_HTTP_SYMLINKS_OFF || p->whole) {
        return open(p->full, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    }
    rel = p->full + p->base_len + 1;

#if (GRN_HAVE_OPENAT2)
    if (symlinks != GRN_HTTP_SYMLINKS_NOT_OWNER
        && __atomic_load_n(&grn_http_openat2_works, __ATOMIC_RELAXED))
    {
        struct open_how  how;

        dirfd = grn_http_static_base(r, p);            /* kept open: not closed here */
        if (dirfd == -1) {
            return -1;
        }

        memset(&how, 0, sizeof(how));
        how.flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC;
        how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
        if (symlinks == GRN_HTTP_SYMLINKS_ON) {
            how.resolve |= RESOLVE_NO_SYMLINKS;
        }

        fd = (int) syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));

        if (fd == -1 && errno == EXDEV && symlinks == GRN_HTTP_SYMLINKS_OUTSIDE) {
            /*
             * An absolute link, or a ".." in a link: perhaps still below the base. Compared
             * with the base as it resolves now, not as the kept descriptor saw it.
             */
            dirfd = grn_http_static_open_base(p);
            if (dirfd == -1) {
                return -1;
            }
            fd = grn_http_static_open_inside(dirfd, p->full);
            err = errno;
            close(dirfd);
            errno = err;
            return fd;
        }
        if (fd != -1 || (errno != ENOSYS && errno != EPERM && errno != E2BIG)) {
            return fd;
        }
        __atomic_store_n(&grn_http_openat2_works, 0, __ATOMIC_RELAXED);
    }
#endif

    dirfd = grn_http_static_open_base(p);
    if (dirfd == -1) {
        return -1;
    }

    if (symlinks == GRN_HTTP_SYMLINKS_OUTSIDE) {
        fd = grn_http_static_open_inside(dirfd, p->full);
        err = errno;
        close(dirfd);
        errno = err;
        return fd;
    }

    return grn_http_static_walk(dirfd, rel, symlinks);
}


/* Responses. */

/* ", client: ..., server: ..., request: ..., host: ..., request_id: ..." after a message. */
#define GRN_HTTP_STATIC_REQ_FMT      "%s"
#define GRN_HTTP_STATIC_REQ_ARGS(r)  grn_http_static_context(r)

static const char *
grn_http_static_context(grn_http_request_t *r)
{
    static __thread char  ctx[1024];

    (void) grn_http_log_context(r->connection, r, ctx, sizeof(ctx));
    return ctx;
}

/* The answer to a failed open(), logged as nginx does: 404 quietly, 403 and 500 loudly. */
static grn_int_t
grn_http_static_open_failed(grn_http_request_t *r, grn_http_loc_conf_t *loc, const char *name,
    int err)
{
    grn_log_t  *log = grn_pool_log(r->pool);

    switch (err) {
    case ENOENT:
    case ENOTDIR:
    case ENAMETOOLONG:
        grn_log_error(GRN_LOG_INFO, log, err, "open() \"%s\" failed" GRN_HTTP_STATIC_REQ_FMT,
                      name, GRN_HTTP_STATIC_REQ_ARGS(r));
        return grn_http_error_page(r, 404);

    case EXDEV:
        if (loc->disable_symlinks == GRN_HTTP_SYMLINKS_OUTSIDE) {
            grn_log_error(GRN_LOG_ERR, log, 0, "\"%s\" is refused: it resolves outside the "
                          "%s through a symbolic link, which \"disable_symlinks outside\" "
                          "(the default) does not allow; \"disable_symlinks off\" follows "
                          "every link" GRN_HTTP_STATIC_REQ_FMT, name,
                          loc->alias.data ? "alias" : "root", GRN_HTTP_STATIC_REQ_ARGS(r));
            return grn_http_error_page(r, 403);
        }
        /* fall through */
    case ELOOP:
        if (err == ELOOP && (loc->disable_symlinks == GRN_HTTP_SYMLINKS_ON
                             || loc->disable_symlinks == GRN_HTTP_SYMLINKS_NOT_OWNER))
        {
            grn_log_error(GRN_LOG_ERR, log, 0, "\"%s\" is refused: a symbolic link on its way "
                          "is not allowed by \"disable_symlinks %s\"" GRN_HTTP_STATIC_REQ_FMT,
                          name, loc->disable_symlinks == GRN_HTTP_SYMLINKS_ON ? "on"
                                                                              : "if_not_owner",
                          GRN_HTTP_STATIC_REQ_ARGS(r));
            return grn_http_error_page(r, 403);
        }
        /* fall through */
    case EACCES:
        grn_log_error(GRN_LOG_ERR, log, err, "open() \"%s\" failed" GRN_HTTP_STATIC_REQ_FMT,
                      name, GRN_HTTP_STATIC_REQ_ARGS(r));
        return grn_http_error_page(r, 403);

    default:
        grn_log_error(GRN_LOG_CRIT, log, err, "open() \"%s\" failed" GRN_HTTP_STATIC_REQ_FMT,
                      name, GRN_HTTP_STATIC_REQ_ARGS(r));
        return grn_http_error_page(r, 500);
    }
}

static grn_int_t
grn_http_static_not_allowed(grn_http_request_t *r)
{
    if (grn_http_error_page(r, 405) != GRN_OK) {
        return GRN_ERROR;
    }
    return grn_http_response_add_header(r, "Allow", 5, "GET, HEAD", 9);
}

/* Percent-encodes what may not stand in a URI's path; with dst NULL, only counts. */
static size_t
grn_http_static_escape(char *dst, const char *src, size_t len)
{
    static const char  hex[] = "0123456789ABCDEF";
    size_t             i, n;
    unsigned char      ch;

    for (i = 0, n = 0; i < len; i++) {
        ch = (unsigned char) src[i];
        /* ASCII only, whatever the locale Python may have set: high bytes are escaped */
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')
            || (ch != '\0' && strchr("-._~!$&'()*+,;=:@/", ch) != NULL))
        {
            if (dst) {
                dst[n] = (char) ch;
            }
            n++;
        } else {
            if (dst) {
                dst[n] = '%';
                dst[n + 1] = hex[ch >> 4];
                dst[n + 2] = hex[ch & 0xf];
            }
            n += 3;
        }
    }
    return n;
}

/* A directory asked for without its slash: 301 to the same URI with one (and the query). */
static grn_int_t
grn_http_static_add_slash(grn_http_request_t *r)
{
    char    *url;
    size_t   n, len;

    len = grn_http_static_escape(NULL, r->path.data, r->path.len) + 1
          + (r->query.len ? 1 + r->query.len : 0);
    url = grn_pnalloc(r->pool, len);
    if (url == NULL) {
        return GRN_ERROR;
    }
    n = grn_http_static_escape(url, r->path.data, r->path.len);
    url[n++] = '/';
    if (r->query.len) {
        url[n++] = '?';
        memcpy(url + n, r->query.data, r->query.len);
    }

    if (grn_http_error_page(r, 301) != GRN_OK) {
        return GRN_ERROR;
    }
    return grn_http_response_add_header(r, "Location", 8, url, len);
}

/* The type of the URI's extension: loc's types, nginx's three built-in ones, default_type. */
static void
grn_http_static_type(grn_http_loc_conf_t *loc, const grn_str_t *uri, grn_str_t *type)
{
    char                    exten[GRN_HTTP_MAX_EXTEN];
    size_t                  i, len, lo, hi, mid;
    const char             *p, *dot;
    grn_http_type_t         key;
    const grn_http_type_t  *types;
    int                     rc;

    *type = loc->default_type;

    dot = NULL;
    for (p = uri->data + uri->len; p > uri->data && p[-1] != '/'; p--) {
        if (p[-1] == '.') {
            dot = p;
            break;
        }
    }
    if (dot == NULL) {
        return;
    }
    len = (size_t) (uri->data + uri->len - dot);
    if (len == 0 || len > sizeof(exten)) {
        return;
    }
    for (i = 0; i < len; i++) {
        exten[i] = (char) tolower((unsigned char) dot[i]);
    }
    key.exten.data = exten;
    key.exten.len = len;

    if (loc->types) {
        types = loc->types->elts;
        hi = loc->types->nelts;
    } else {
        types = grn_http_builtin_types;
        hi = grn_nelems(grn_http_builtin_types);
    }

    for (lo = 0; lo < hi; ) {
        mid = (lo + hi) / 2;
        rc = grn_http_type_cmp(&key, &types[mid]);
        if (rc == 0) {
            *type = types[mid].type;
            return;
        }
        if (rc < 0) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
}

static void
grn_http_static_conds(grn_http_request_t *r, grn_http_static_conds_t *c)
{
    grn_uint_t          i;
    grn_http_header_t  *h = r->headers.elts;

    memset(c, 0, sizeof(*c));

    for (i = 0; i < r->headers.nelts; i++) {
        grn_str_t  *n = &h[i].name;

        switch (n->len) {
        case 5:
            if (strncasecmp(n->data, "range", 5) == 0) {
                c->range = &h[i].value;
            }
            break;
        case 8:
            if (strncasecmp(n->data, "if-match", 8) == 0) {
                c->if_match = &h[i].value;
            } else if (strncasecmp(n->data, "if-range", 8) == 0) {
                c->if_range = &h[i].value;
            }
            break;
        case 13:
            if (strncasecmp(n->data, "if-none-match", 13) == 0) {
                c->if_none_match = &h[i].value;
            }
            break;
        case 17:
            if (strncasecmp(n->data, "if-modified-since", 17) == 0) {
                c->if_modified_since = &h[i].value;
            }
            break;
        case 19:
            if (strncasecmp(n->data, "if-unmodified-since", 19) == 0) {
                c->if_unmodified_since = &h[i].value;
            }
            break;
        }
    }
}

static grn_int_t
grn_http_static_header(grn_http_request_t *r, const char *name, const char *value, size_t len)
{
    return grn_http_response_add_header(r, name, strlen(name), value, len);
}

/* A regular file, open: the conditional and range logic, then the head and the file body. */
static grn_int_t
grn_http_static_file(grn_http_request_t *r, grn_http_loc_conf_t *loc, int fd, struct stat *st)
{
    int                      n;
    char                     etag[48], modified[40], num[64];
    off_t                    size, start, end;
    size_t                   etag_len, modified_len;
    time_t                   t;
    grn_int_t                rc;
    grn_str_t                type;
    grn_uint_t               status;
    grn_http_static_conds_t  c;

    if (!r->head && !grn_str_eq_lit(&r->method, "GET")) {
        close(fd);
        return grn_http_static_not_allowed(r);
    }

    size = st->st_size;
    etag_len = (size_t) sprintf(etag, "\"%llx-%llx\"", (unsigned long long) st->st_mtime,
                                (unsigned long long) size);
    modified_len = grn_http_format_time(modified, st->st_mtime);

    grn_http_static_conds(r, &c);
    status = 200;

    /* RFC 9110 13.2.2: the preconditions in this order */
    if (c.if_match) {
        if (!grn_http_etag_match(c.if_match, etag, etag_len, 0)) {
            status = 412;
        }
    } else if (c.if_unmodified_since) {
        t = grn_http_parse_time(c.if_unmodified_since);
        if (t != -1 && st->st_mtime > t) {
            status = 412;
        }
    }

    if (status == 200) {
        if (c.if_none_match) {
            if (grn_http_etag_match(c.if_none_match, etag, etag_len, 1)) {
                status = 304;
            }
        } else if (c.if_modified_since) {
            t = grn_http_parse_time(c.if_modified_since);
            if (t != -1 && st->st_mtime <= t) {
                status = 304;
            }
        }
    }

    if (status == 412) {
        close(fd);
        return grn_http_error_page(r, 412);
    }

    if (status == 304) {
        close(fd);
        if (grn_http_response_set_status(r, 304, NULL, 0) != GRN_OK
            || grn_http_static_header(r, "Last-Modified", modified, modified_len) != GRN_OK
            || grn_http_static_header(r, "ETag", etag, etag_len) != GRN_OK)
        {
            return GRN_ERROR;
        }
        return GRN_OK;
    }

    start = 0;
    end = size;

    if (c.range && !r->head) {
        grn_flag_t  current = 1;

        if (c.if_range) {
            /* If-Range: the range only if the file is still the one the client has part of */
            if (c.if_range->len && c.if_range->data[0] == '"') {
                current = c.if_range->len == etag_len
                          && memcmp(c.if_range->data, etag, etag_len) == 0;
            } else {
                current = grn_http_parse_time(c.if_range) == st->st_mtime;
            }
        }

        rc = current ? grn_http_parse_range(c.range, size, &start, &end) : GRN_OK;

        if (rc == GRN_DECLINED) {
            close(fd);
            n = snprintf(num, sizeof(num), "bytes */%lld", (long long) size);
            if (grn_http_error_page(r, 416) != GRN_OK) {
                return GRN_ERROR;
            }
            return grn_http_static_header(r, "Content-Range", num, (size_t) n);
        }
        if (rc == GRN_AGAIN) {
            status = 206;
        }
    }

    grn_http_static_type(loc, &r->path, &type);

    if (grn_http_response_set_status(r, status, NULL, 0) != GRN_OK
        || grn_http_static_header(r, "Content-Type", type.data, type.len) != GRN_OK)
    {
        close(fd);
        return GRN_ERROR;
    }
    n = snprintf(num, sizeof(num), "%lld", (long long) (end - start));
    if (grn_http_static_header(r, "Content-Length", num, (size_t) n) != GRN_OK
        || grn_http_static_header(r, "Last-Modified", modified, modified_len) != GRN_OK
        || grn_http_static_header(r, "ETag", etag, etag_len) != GRN_OK
        || grn_http_static_header(r, "Accept-Ranges", "bytes", 5) != GRN_OK)
    {
        close(fd);
        return GRN_ERROR;
    }
    if (status == 206) {
        n = snprintf(num, sizeof(num), "bytes %lld-%lld/%lld", (long long) start,
                     (long long) end - 1, (long long) size);
        if (grn_http_static_header(r, "Content-Range", num, (size_t) n) != GRN_OK) {
            close(fd);
            return GRN_ERROR;
        }
    }

    if (r->head || end == start) {
        close(fd);
        return GRN_OK;
    }

    /* The connection writes the head, then sendfile()s [start, end) and closes fd. */
    r->response.file_fd = fd;
    r->response.file_pos = start;
    r->response.file_end = end;
    r->response.file = 1;
    return GRN_OK;
}

/*
 * A directory, open: 301 without the trailing slash; else its first index file, reached by an
 * internal redirect to URI + name (served here when that URI stays in this location).
 */
static grn_int_t
grn_http_static_dir(grn_http_request_t *r, grn_http_loc_conf_t *loc, int fd,
    grn_http_static_path_t *p)
{
    int                     ifd, flags, err;
    char                   *uri;
    grn_str_t              *names, path;
    grn_uint_t              i, n;
    struct stat             st;
    grn_http_loc_conf_t    *found;
    grn_http_static_path_t  q;

    if (r->path.data[r->path.len - 1] != '/') {
        close(fd);
        return grn_http_static_add_slash(r);
    }

    if (loc->index) {
        names = loc->index->elts;
        n = loc->index->nelts;
    } else {
        names = (grn_str_t *) &grn_http_default_index;
        n = 1;
    }

    flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC;
    if (loc->disable_symlinks == GRN_HTTP_SYMLINKS_ON
        || loc->disable_symlinks == GRN_HTTP_SYMLINKS_NOT_OWNER)
    {
        flags |= O_NOFOLLOW;
    }

    for (i = 0; i < n; i++) {
        if (loc->disable_symlinks == GRN_HTTP_SYMLINKS_OUTSIDE && p) {
            /*
             * An index file may be a link to elsewhere below the base, not only below this
             * directory: it is checked from the base, like any file of the location.
             */
            q = *p;
            q.whole = 0;
            if (q.base_len == 1 && q.full[0] == '/') {
                q.base_len = 0;         /* root "/" */
            }
            memcpy(q.full + q.len, names[i].data, names[i].len + 1);
            q.len += names[i].len;
            ifd = grn_http_static_open(r, &q, loc->disable_symlinks);
        } else {
            ifd = grn_http_static_openat(fd, names[i].data, flags, loc->disable_symlinks);
        }
        if (ifd == -1) {
            if (errno == ENOENT) {
                continue;
            }
            err = errno;
            close(fd);
            if (p) {
                memcpy(p->full + p->len, names[i].data, names[i].len + 1);
            }
            return grn_http_static_open_failed(r, loc, p ? p->full : names[i].data, err);
        }
        if (fstat(ifd, &st) == -1 || S_ISDIR(st.st_mode)) {
            close(ifd);
            continue;
        }
        close(fd);

        uri = grn_pnalloc(r->pool, r->path.len + names[i].len);
        if (uri == NULL) {
            close(ifd);
            return GRN_ERROR;
        }
        memcpy(uri, r->path.data, r->path.len);
        memcpy(uri + r->path.len, names[i].data, names[i].len);
        path.data = uri;
        path.len = r->path.len + names[i].len;
        r->path = path;

        found = grn_http_find_location(r, r->srv, &r->path);
        if (found != r->loc) {
            close(ifd);
            r->loc = found;
            return GRN_DECLINED;
        }
        return grn_http_static_send(r, loc, ifd, &st);
    }

    close(fd);
    grn_log_error(GRN_LOG_ERR, grn_pool_log(r->pool), 0, "directory index of \"%s\" is "
                  "forbidden (no %.*s%s in it)" GRN_HTTP_STATIC_REQ_FMT,
                  p ? p->full : "", (int) names[0].len, names[0].data,
                  n > 1 ? " nor the other index files" : "", GRN_HTTP_STATIC_REQ_ARGS(r));
    return grn_http_error_page(r, 403);
}

/* What was opened for r->path: a regular file, a directory, or something not to serve. */
static grn_int_t
grn_http_static_send(grn_http_request_t *r, grn_http_loc_conf_t *loc, int fd, struct stat *st)
{
    if (S_ISREG(st->st_mode)) {
        return grn_http_static_file(r, loc, fd, st);
    }
    close(fd);
    grn_log_error(GRN_LOG_INFO, grn_pool_log(r->pool), 0, "\"%.*s\" is not a regular file"
                  GRN_HTTP_STATIC_REQ_FMT, (int) r->path.len, r->path.data,
                  GRN_HTTP_STATIC_REQ_ARGS(r));
    return grn_http_error_page(r, 404);
}

/* Opens the file of a URI; -1 with *status set when there is none to serve. */
static int
grn_http_static_lookup(grn_http_request_t *r, grn_http_loc_conf_t *loc, const grn_str_t *uri,
    grn_http_static_path_t *p, struct stat *st, grn_int_t *rc)
{
    int  fd, err;

    *rc = grn_http_static_map(r, loc, uri, p);
    if (*rc != GRN_OK) {
        return -1;
    }
    fd = grn_http_static_open(r, p, loc->disable_symlinks);
    if (fd == -1) {
        *rc = GRN_ABORT;
        return -1;
    }
    if (fstat(fd, st) == -1) {
        err = errno;
        close(fd);
        errno = err;
        *rc = GRN_ABORT;
        return -1;
    }
    return fd;
}

/* Expands try_files' variables; a template without any is used as it is. */
static grn_int_t
grn_http_static_expand(grn_http_request_t *r, const grn_str_t *tmpl, grn_str_t *out)
{
    char        *d;
    size_t       len;
    grn_str_t    name, value;
    const char  *p, *end = tmpl->data + tmpl->len;

    value.data = (char *) "";
    value.len = 0;

    if (memchr(tmpl->data, '$', tmpl->len) == NULL) {
        *out = *tmpl;
        return GRN_OK;
    }

    for (len = 0, p = tmpl->data; p < end; ) {
        if (*p != '$') {
            len++;
            p++;
            continue;
        }
        p = grn_http_static_var(p + 1, end, &name);
        (void) grn_http_static_var_value(r, &name, &value);
        len += value.len;
    }

    out->data = grn_pnalloc(r->pool, len + 1);
    if (out->data == NULL) {
        return GRN_ERROR;
    }
    for (d = out->data, p = tmpl->data; p < end; ) {
        if (*p != '$') {
            *d++ = *p++;
            continue;
        }
        p = grn_http_static_var(p + 1, end, &name);
        (void) grn_http_static_var_value(r, &name, &value);
        d = memcpy(d, value.data, value.len) + value.len;
    }
    out->len = len;
    return GRN_OK;
}

/*
 * try_files: the first argument that names an existing file (or, ending with "/", directory)
 * is served in this location; otherwise the last argument decides: "=CODE", a named location,
 * or an internal redirect to a URI.
 */
static grn_int_t
grn_http_static_try(grn_http_request_t *r, grn_http_loc_conf_t *loc)
{
    int                      fd;
    char                    *q;
    grn_int_t                rc;
    grn_str_t                uri, norm;
    grn_uint_t               i;
    grn_flag_t               want_dir;
    struct stat              st;
    grn_http_try_files_t    *tf = loc->try_files;
    grn_http_static_path_t   p;

    for (i = 0; i < tf->ntries; i++) {
        if (grn_http_static_expand(r, &tf->tries[i], &uri) != GRN_OK) {
            return GRN_ERROR;
        }
        if (uri.len == 0 || uri.data[0] != '/') {
            continue;
        }
        want_dir = uri.data[uri.len - 1] == '/';

        rc = grn_http_static_normalize(r->pool, &uri, &norm);
        if (rc == GRN_ERROR) {
            return GRN_ERROR;
        }
        if (rc == GRN_DECLINED) {
            continue;
        }

        fd = grn_http_static_lookup(r, loc, &norm, &p, &st, &rc);
        if (fd == -1) {
            if (rc == GRN_ERROR) {
                return GRN_ERROR;
            }
            if (rc == GRN_ABORT && errno == EXDEV
                && loc->disable_symlinks == GRN_HTTP_SYMLINKS_OUTSIDE)
            {
                /* as nginx does with a refused try: the next one, loudly */
                grn_log_error(GRN_LOG_ERR, grn_pool_log(r->pool), 0, "try_files: \"%s\" is "
                              "refused: it resolves outside the %s through a symbolic link "
                              "(disable_symlinks outside)" GRN_HTTP_STATIC_REQ_FMT, p.full,
                              loc->alias.data ? "alias" : "root", GRN_HTTP_STATIC_REQ_ARGS(r));
                continue;
            }
            if (rc == GRN_ABORT && errno != ENOENT && errno != ENOTDIR
                && errno != ENAMETOOLONG)
            {
                grn_log_error(GRN_LOG_ERR, grn_pool_log(r->pool), errno, "try_files: open() "
                              "\"%s\" failed" GRN_HTTP_STATIC_REQ_FMT, p.full,
                              GRN_HTTP_STATIC_REQ_ARGS(r));
            }
            continue;
        }
        if (want_dir != (S_ISDIR(st.st_mode) != 0)) {
            close(fd);
            continue;
        }

        r->path = norm;
        if (want_dir) {
            return grn_http_static_dir(r, loc, fd, &p);
        }
        return grn_http_static_send(r, loc, fd, &st);
    }

    if (tf->code) {
        if (tf->code >= 400) {
            return grn_http_error_page(r, tf->code);
        }
        return grn_http_response_set_status(r, tf->code, NULL, 0);
    }

    if (tf->named) {
        r->loc = tf->named;
        return GRN_DECLINED;
    }

    if (grn_http_static_expand(r, &tf->fallback, &uri) != GRN_OK) {
        return GRN_ERROR;
    }
    q = memchr(uri.data, '?', uri.len);
    if (q) {
        r->query.data = q + 1;
        r->query.len = (size_t) (uri.data + uri.len - q - 1);
        uri.len = (size_t) (q - uri.data);
    }
    if (uri.len == 0 || uri.data[0] != '/') {
        grn_log_error(GRN_LOG_ERR, grn_pool_log(r->pool), 0, "try_files in %.*s:%lu falls back "
                      "to \"%.*s\", which is not a URI" GRN_HTTP_STATIC_REQ_FMT,
                      (int) tf->file.len, tf->file.data, (unsigned long) tf->line,
                      (int) uri.len, uri.data, GRN_HTTP_STATIC_REQ_ARGS(r));
        return grn_http_error_page(r, 500);
    }
    r->path = uri;
    r->loc = grn_http_find_location(r, r->srv, &r->path);
    return GRN_DECLINED;
}

grn_int_t
grn_http_static_handler(grn_http_request_t *r, grn_http_loc_conf_t *loc)
{
    int                      fd;
    grn_int_t                rc;
    grn_str_t                path;
    struct stat              st;
    grn_http_loc_conf_t     *found;
    grn_http_static_path_t   p;

    if (r->path.len == 0 || r->path.data[0] != '/') {
        return grn_http_static_not_allowed(r);          /* OPTIONS * */
    }

    rc = grn_http_static_normalize(r->pool, &r->path, &path);
    if (rc == GRN_ERROR) {
        return GRN_ERROR;
    }
    if (rc == GRN_DECLINED) {
        grn_log_error(GRN_LOG_INFO, grn_pool_log(r->pool), 0, "the path climbs above the root "
                      "with \"..\"; answering 400" GRN_HTTP_STATIC_REQ_FMT,
                      GRN_HTTP_STATIC_REQ_ARGS(r));
        return grn_http_error_page(r, 400);
    }
    if (rc == GRN_AGAIN) {
        /* locations match the normalized path, as in nginx */
        r->path = path;
        found = grn_http_find_location(r, r->srv, &r->path);
        if (found != r->loc) {
            r->loc = found;
            return GRN_DECLINED;
        }
    }

    if (loc->try_files) {
        return grn_http_static_try(r, loc);
    }

    fd = grn_http_static_lookup(r, loc, &r->path, &p, &st, &rc);
    if (fd == -1) {
        if (rc == GRN_ERROR) {
            return GRN_ERROR;
        }
        if (rc == GRN_DECLINED) {
            grn_log_error(GRN_LOG_INFO, grn_pool_log(r->pool), 0, "\"%.*s\" has no file under "
                          "the %s of location \"%.*s\"" GRN_HTTP_STATIC_REQ_FMT,
                          (int) r->path.len, r->path.data, loc->alias.data ? "alias" : "root",
                          (int) loc->name.len, loc->name.data, GRN_HTTP_STATIC_REQ_ARGS(r));
            return grn_http_error_page(r, 404);
        }
        return grn_http_static_open_failed(r, loc, p.full, errno);
    }

    if (S_ISDIR(st.st_mode)) {
        return grn_http_static_dir(r, loc, fd, &p);
    }
    return grn_http_static_send(r, loc, fd, &st);
}
