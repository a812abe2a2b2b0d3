/*
 * grn_http_conf.c: the directives of http { }, server { } and location { }, the merge of
 * inherited settings, and the assembly of listeners from `listen` directives.
 *
 * After parsing, grn_http_conf_finish() walks every server: it merges each level's settings
 * from its parent, resolves `pass` to an app, and groups the servers by listening address.
 * Each distinct address becomes one grn_listening_t of the cycle, with the servers that share
 * it (for name-based selection) and, when all its `pass` routes lead to one app, that app:
 * such a listener is accepted directly by the app's workers.
 */

#include "grn_core.h"

#include <sys/stat.h>
#include "grn_http.h"
#include "grn_http_ssl.h"

#include <arpa/inet.h>
#include <grp.h>
#include <netdb.h>
#include <pwd.h>

static char *grn_http_block(grn_conf_t *cf, const grn_command_t *cmd, void *conf);
static char *grn_http_server(grn_conf_t *cf, const grn_command_t *cmd, void *conf);
static char *grn_http_location(grn_conf_t *cf, const grn_command_t *cmd, void *conf);
static char *grn_http_listen(grn_conf_t *cf, const grn_command_t *cmd, void *conf);
static char *grn_http_server_name(grn_conf_t *cf, const grn_command_t *cmd, void *conf);
static char *grn_http_pass(grn_conf_t *cf, const grn_command_t *cmd, void *conf);
static char *grn_http_return(grn_conf_t *cf, const grn_command_t *cmd, void *conf);
static char *grn_http_root(grn_conf_t *cf, const grn_command_t *cmd, void *conf);
static char *grn_http_status(grn_conf_t *cf, const grn_command_t *cmd, void *conf);
static char *grn_http_log_format(grn_conf_t *cf, const grn_command_t *cmd, void *conf);
static char *grn_http_access_log(grn_conf_t *cf, const grn_command_t *cmd, void *conf);
static char *grn_http_large_buffers(grn_conf_t *cf, const grn_command_t *cmd, void *conf);
static char *grn_http_real_ip_from(grn_conf_t *cf, const grn_command_t *cmd, void *conf);
static char *grn_http_real_ip_header(grn_conf_t *cf, const grn_command_t *cmd, void *conf);
static char *grn_http_body_size(grn_conf_t *cf, const grn_command_t *cmd, void *conf);
static char *grn_http_temp_path(grn_conf_t *cf, const grn_command_t *cmd, void *conf);

static grn_http_srv_conf_t *grn_http_create_srv_conf(grn_conf_t *cf);
static grn_http_loc_conf_t *grn_http_create_loc_conf(grn_conf_t *cf);

#define GRN_HTTP_LEVELS    (GRN_HTTP_CONF | GRN_SRV_CONF | GRN_LOC_CONF)
#define GRN_HTTP_SRV_LEVELS  (GRN_HTTP_CONF | GRN_SRV_CONF)

/* Gunicorn's limit_request_fields bounds: at most 32768 fields. */
static const grn_conf_num_bounds_t  grn_http_request_fields_bounds = { 1, 32768 };

const grn_command_t grn_http_commands[] = {

    { grn_string("http"), GRN_MAIN_CONF | GRN_CONF_BLOCK | GRN_CONF_NOARGS,
      grn_http_block, GRN_CONF_CTX_CORE, 0, NULL },

    { grn_string("server"), GRN_HTTP_CONF | GRN_CONF_BLOCK | GRN_CONF_NOARGS,
      grn_http_server, GRN_CONF_CTX_HTTP, 0, NULL },

    { grn_string("location"), GRN_SRV_CONF | GRN_LOC_CONF | GRN_CONF_BLOCK | GRN_CONF_TAKE12,
      grn_http_location, GRN_CONF_CTX_LOC, 0, NULL },

    { grn_string("listen"), GRN_SRV_CONF | GRN_CONF_1MORE,
      grn_http_listen, GRN_CONF_CTX_SRV, 0, NULL },

    { grn_string("server_name"), GRN_SRV_CONF | GRN_CONF_1MORE,
      grn_http_server_name, GRN_CONF_CTX_SRV, 0, NULL },

    { grn_string("client_header_timeout"), GRN_HTTP_SRV_LEVELS | GRN_CONF_TAKE1,
      grn_conf_set_msec_slot, GRN_CONF_CTX_SRV,
      offsetof(grn_http_srv_conf_t, client_header_timeout), NULL },

    { grn_string("keepalive_timeout"), GRN_HTTP_SRV_LEVELS | GRN_CONF_TAKE1,
      grn_conf_set_msec_slot, GRN_CONF_CTX_SRV,
      offsetof(grn_http_srv_conf_t, keepalive_timeout), NULL },

    { grn_string("keepalive_requests"), GRN_HTTP_SRV_LEVELS | GRN_CONF_TAKE1,
      grn_conf_set_num_slot, GRN_CONF_CTX_SRV,
      offsetof(grn_http_srv_conf_t, keepalive_requests), NULL },

    { grn_string("tcp_nodelay"), GRN_HTTP_SRV_LEVELS | GRN_CONF_FLAG,
      grn_conf_set_flag_slot, GRN_CONF_CTX_SRV,
      offsetof(grn_http_srv_conf_t, tcp_nodelay), NULL },

    { grn_string("client_header_buffer_size"), GRN_HTTP_SRV_LEVELS | GRN_CONF_TAKE1,
      grn_conf_set_size_slot, GRN_CONF_CTX_SRV,
      offsetof(grn_http_srv_conf_t, client_header_buffer_size), NULL },

    { grn_string("large_client_header_buffers"), GRN_HTTP_SRV_LEVELS | GRN_CONF_TAKE2,
      grn_http_large_buffers, GRN_CONF_CTX_SRV, 0, NULL },

    { grn_string("limit_request_fields"), GRN_HTTP_SRV_LEVELS | GRN_CONF_TAKE1,
      grn_conf_set_num_slot, GRN_CONF_CTX_SRV,
      offsetof(grn_http_srv_conf_t, limit_request_fields),
      (void *) &grn_http_request_fields_bounds },

    { grn_string("log_format"), GRN_HTTP_CONF | GRN_CONF_2MORE,
      grn_http_log_format, GRN_CONF_CTX_HTTP, 0, NULL },

    { grn_string("set_real_ip_from"), GRN_HTTP_SRV_LEVELS | GRN_CONF_TAKE1,
      grn_http_real_ip_from, GRN_CONF_CTX_SRV,
      offsetof(grn_http_srv_conf_t, real_ip_from), NULL },

    { grn_string("real_ip_header"), GRN_HTTP_SRV_LEVELS | GRN_CONF_TAKE1,
      grn_http_real_ip_header, GRN_CONF_CTX_SRV, 0, NULL },

    { grn_string("real_ip_recursive"), GRN_HTTP_SRV_LEVELS | GRN_CONF_FLAG,
      grn_conf_set_flag_slot, GRN_CONF_CTX_SRV,
      offsetof(grn_http_srv_conf_t, real_ip_recursive), NULL },

    { grn_string("access_log"), GRN_HTTP_LEVELS | GRN_CONF_1MORE,
      grn_http_access_log, GRN_CONF_CTX_LOC, 0, NULL },

    { grn_string("request_id_header"), GRN_HTTP_CONF | GRN_CONF_TAKE1,
      grn_conf_set_str_slot, GRN_CONF_CTX_HTTP,
      offsetof(grn_http_main_conf_t, request_id_header), NULL },

    { grn_string("add_request_id_header"), GRN_HTTP_LEVELS | GRN_CONF_FLAG,
      grn_conf_set_flag_slot, GRN_CONF_CTX_LOC,
      offsetof(grn_http_loc_conf_t, add_request_id_header), NULL },

    { grn_string("client_max_body_size"), GRN_HTTP_LEVELS | GRN_CONF_TAKE1,
      grn_http_body_size, GRN_CONF_CTX_LOC,
      offsetof(grn_http_loc_conf_t, client_max_body_size), NULL },

    { grn_string("client_body_buffer_size"), GRN_HTTP_LEVELS | GRN_CONF_TAKE1,
      grn_conf_set_size_slot, GRN_CONF_CTX_LOC,
      offsetof(grn_http_loc_conf_t, client_body_buffer_size), NULL },

    { grn_string("client_body_temp_path"), GRN_HTTP_LEVELS | GRN_CONF_TAKE1,
      grn_http_temp_path, GRN_CONF_CTX_LOC,
      offsetof(grn_http_loc_conf_t, client_body_temp_path), NULL },

    { grn_string("request_buffering"), GRN_HTTP_LEVELS | GRN_CONF_FLAG,
      grn_conf_set_flag_slot, GRN_CONF_CTX_LOC,
      offsetof(grn_http_loc_conf_t, request_buffering), NULL },

    { grn_string("client_body_timeout"), GRN_HTTP_LEVELS | GRN_CONF_TAKE1,
      grn_conf_set_msec_slot, GRN_CONF_CTX_LOC,
      offsetof(grn_http_loc_conf_t, client_body_timeout), NULL },

    { grn_string("send_timeout"), GRN_HTTP_LEVELS | GRN_CONF_TAKE1,
      grn_conf_set_msec_slot, GRN_CONF_CTX_LOC,
      offsetof(grn_http_loc_conf_t, send_timeout), NULL },

    { grn_string("server_tokens"), GRN_HTTP_LEVELS | GRN_CONF_FLAG,
      grn_conf_set_flag_slot, GRN_CONF_CTX_LOC,
      offsetof(grn_http_loc_conf_t, server_tokens), NULL },

    { grn_string("default_type"), GRN_HTTP_LEVELS | GRN_CONF_TAKE1,
      grn_conf_set_str_slot, GRN_CONF_CTX_LOC,
      offsetof(grn_http_loc_conf_t, default_type), NULL },

    { grn_string("root"), GRN_HTTP_LEVELS | GRN_CONF_TAKE1,
      grn_http_root, GRN_CONF_CTX_LOC, offsetof(grn_http_loc_conf_t, root), NULL },

    { grn_string("alias"), GRN_LOC_CONF | GRN_CONF_TAKE1,
      grn_http_root, GRN_CONF_CTX_LOC, offsetof(grn_http_loc_conf_t, alias), NULL },

    { grn_string("pass"), GRN_LOC_CONF | GRN_CONF_TAKE1,
      grn_http_pass, GRN_CONF_CTX_LOC, 0, NULL },

    { grn_string("script_name"), GRN_LOC_CONF | GRN_CONF_TAKE1,
      grn_conf_set_str_slot, GRN_CONF_CTX_LOC,
      offsetof(grn_http_loc_conf_t, script_name), NULL },

    { grn_string("return"), GRN_LOC_CONF | GRN_CONF_TAKE12,
      grn_http_return, GRN_CONF_CTX_LOC, 0, NULL },

    { grn_string("status"), GRN_LOC_CONF | GRN_CONF_NOARGS,
      grn_http_status, GRN_CONF_CTX_LOC, 0, NULL },

    grn_null_command
};

static char *
grn_http_block(grn_conf_t *cf, const grn_command_t *cmd GRN_UNUSED, void *conf GRN_UNUSED)
{
    char                  *rv;
    grn_conf_t             save;
    grn_http_main_conf_t   *hmcf;
    grn_http_log_format_t  *fmt;

    if (cf->cycle->http) {
        return "is duplicate";
    }

    hmcf = grn_pcalloc(cf->pool, sizeof(grn_http_main_conf_t));
    if (hmcf == NULL) {
        return GRN_CONF_ERROR;
    }
    if (grn_array_init(&hmcf->servers, cf->pool, 4, sizeof(grn_http_srv_conf_t *)) != GRN_OK
        || grn_array_init(&hmcf->locations, cf->pool, 16, sizeof(grn_http_loc_conf_t *))
           != GRN_OK
        || grn_array_init(&hmcf->log_formats, cf->pool, 2, sizeof(grn_http_log_format_t))
           != GRN_OK
        || grn_array_init(&hmcf->log_buffers, cf->pool, 1, sizeof(grn_http_log_buffer_conf_t))
           != GRN_OK)
    {
        return GRN_CONF_ERROR;
    }

    hmcf->srv = grn_http_create_srv_conf(cf);
    hmcf->loc = grn_http_create_loc_conf(cf);
    if (hmcf->srv == NULL || hmcf->loc == NULL) {
        return GRN_CONF_ERROR;
    }

    /* "combined" always exists, as in nginx. */
    fmt = grn_array_push(&hmcf->log_formats);
    if (fmt == NULL) {
        return GRN_CONF_ERROR;
    }
    memset(fmt, 0, sizeof(*fmt));
    grn_str_set(&fmt->name, "combined");
    fmt->format.data = (char *) grn_http_log_combined;
    fmt->format.len = strlen(grn_http_log_combined);
    if (grn_http_log_compile(cf, fmt) != GRN_OK) {
        return GRN_CONF_ERROR;
    }
    cf->cycle->http = hmcf;

    save = *cf;
    cf->ctx[GRN_CONF_CTX_HTTP] = hmcf;
    cf->ctx[GRN_CONF_CTX_SRV] = hmcf->srv;
    cf->ctx[GRN_CONF_CTX_LOC] = hmcf->loc;
    cf->cmd_type = GRN_HTTP_CONF;

    rv = grn_conf_parse(cf, NULL);

    *cf = save;
    return rv;
}

static grn_http_srv_conf_t *
grn_http_create_srv_conf(grn_conf_t *cf)
{
    grn_http_srv_conf_t  *srv;

    srv = grn_pcalloc(cf->pool, sizeof(grn_http_srv_conf_t));
    if (srv == NULL) {
        return NULL;
    }
    if (grn_array_init(&srv->listen, cf->pool, 2, sizeof(grn_http_listen_t)) != GRN_OK
        || grn_array_init(&srv->names, cf->pool, 2, sizeof(grn_http_server_name_t)) != GRN_OK
        || grn_array_init(&srv->locations, cf->pool, 4, sizeof(grn_http_loc_conf_t *))
           != GRN_OK
        || grn_array_init(&srv->named, cf->pool, 1, sizeof(grn_http_loc_conf_t *)) != GRN_OK)
    {
        return NULL;
    }

    srv->client_header_timeout = GRN_CONF_UNSET_MSEC;
    srv->keepalive_timeout = GRN_CONF_UNSET_MSEC;
    srv->keepalive_requests = GRN_CONF_UNSET;
    srv->tcp_nodelay = GRN_CONF_UNSET;
    srv->client_header_buffer_size = GRN_CONF_UNSET_SIZE;
    srv->large_client_header_buffer_size = GRN_CONF_UNSET_SIZE;
    srv->large_client_header_buffers = GRN_CONF_UNSET;
    srv->limit_request_fields = GRN_CONF_UNSET;
    srv->real_ip_header = GRN_CONF_UNSET_UINT;
    srv->real_ip_recursive = GRN_CONF_UNSET;
    grn_http_ssl_init_conf(&srv->ssl);
    srv->file = cf->conf_file->name;
    srv->line = cf->conf_file->line;
    return srv;
}

static grn_http_loc_conf_t *
grn_http_create_loc_conf(grn_conf_t *cf)
{
    grn_http_loc_conf_t  *loc;

    loc = grn_pcalloc(cf->pool, sizeof(grn_http_loc_conf_t));
    if (loc == NULL) {
        return NULL;
    }
    if (grn_array_init(&loc->locations, cf->pool, 2, sizeof(grn_http_loc_conf_t *)) != GRN_OK) {
        return NULL;
    }

    loc->return_code = GRN_CONF_UNSET;
    loc->client_max_body_size = GRN_CONF_UNSET;
    loc->client_body_timeout = GRN_CONF_UNSET_MSEC;
    loc->client_body_buffer_size = GRN_CONF_UNSET_SIZE;
    loc->request_buffering = GRN_CONF_UNSET;
    loc->send_timeout = GRN_CONF_UNSET_MSEC;
    loc->server_tokens = GRN_CONF_UNSET;
    loc->access_logs = GRN_CONF_UNSET_PTR;
    loc->index = GRN_CONF_UNSET_PTR;
    loc->access = GRN_CONF_UNSET_PTR;
    loc->types = GRN_CONF_UNSET_PTR;
    loc->disable_symlinks = GRN_CONF_UNSET_UINT;
    loc->add_request_id_header = GRN_CONF_UNSET;
    loc->file = cf->conf_file->name;
    loc->line = cf->conf_file->line;
    return loc;
}

static char *
grn_http_server(grn_conf_t *cf, const grn_command_t *cmd GRN_UNUSED, void *conf)
{
    char                  *rv;
    grn_conf_t             save;
    grn_http_srv_conf_t   *srv, **psrv;
    grn_http_main_conf_t  *hmcf = conf;

    srv = grn_http_create_srv_conf(cf);
    if (srv == NULL) {
        return GRN_CONF_ERROR;
    }
    srv->loc = grn_http_create_loc_conf(cf);
    if (srv->loc == NULL) {
        return GRN_CONF_ERROR;
    }

    psrv = grn_array_push(&hmcf->servers);
    if (psrv == NULL) {
        return GRN_CONF_ERROR;
    }
    *psrv = srv;

    save = *cf;
    cf->ctx[GRN_CONF_CTX_SRV] = srv;
    cf->ctx[GRN_CONF_CTX_LOC] = srv->loc;
    cf->cmd_type = GRN_SRV_CONF;

    rv = grn_conf_parse(cf, NULL);

    *cf = save;
    return rv;
}

static char *
grn_http_compile_regex(grn_conf_t *cf, grn_str_t *source, grn_flag_t caseless,
    pcre2_code **code)
{
    int          errcode;
    PCRE2_SIZE   erroffset;
    PCRE2_UCHAR  message[256];

    *code = pcre2_compile((PCRE2_SPTR) source->data, source->len,
                          caseless ? PCRE2_CASELESS : 0, &errcode, &erroffset, NULL);
    if (*code == NULL) {
        pcre2_get_error_message(errcode, message, sizeof(message));
        grn_conf_log_error(GRN_LOG_EMERG, cf, 0,
                           "pcre2_compile() failed: %s at offset %lu of \"%.*s\" (\"%s\")",
                           (char *) message, (unsigned long) erroffset, (int) source->len,
                           source->data, source->data + grn_min(erroffset, source->len));
        return GRN_CONF_ERROR;
    }

#if (GRN_HAVE_PCRE2_JIT)
    /* JIT is an optimization: a pattern it cannot compile still matches, interpreted. */
    (void) pcre2_jit_compile(*code, PCRE2_JIT_COMPLETE);
#endif

    return GRN_CONF_OK;
}

static void
grn_http_free_regex(void *data)
{
    pcre2_code_free(data);
}

static char *
grn_http_keep_regex(grn_conf_t *cf, pcre2_code *code)
{
    grn_pool_cleanup_t  *cln;

    cln = grn_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        pcre2_code_free(code);
        return GRN_CONF_ERROR;
    }
    cln->handler = grn_http_free_regex;
    cln->data = code;
    return GRN_CONF_OK;
}

static char *
grn_http_location(grn_conf_t *cf, const grn_command_t *cmd GRN_UNUSED, void *conf)
{
    char                  *rv;
    grn_str_t             *value, *name;
    grn_uint_t             i, match;
    grn_conf_t             save;
    grn_array_t           *list;
    grn_http_loc_conf_t   *parent = conf, *loc, **ploc, **other;
    grn_http_srv_conf_t   *srv = cf->ctx[GRN_CONF_CTX_SRV];

    value = cf->args->elts;
    match = GRN_HTTP_LOC_PREFIX;
    name = &value[1];

    if (cf->args->nelts == 3) {
        if (grn_str_eq_lit(&value[1], "=")) {
            match = GRN_HTTP_LOC_EXACT;
        } else if (grn_str_eq_lit(&value[1], "~")) {
            match = GRN_HTTP_LOC_REGEX;
        } else if (grn_str_eq_lit(&value[1], "~*")) {
            match = GRN_HTTP_LOC_REGEX_CASELESS;
        } else if (grn_str_eq_lit(&value[1], "^~")) {
            match = GRN_HTTP_LOC_PREFIX_NOREGEX;
        } else {
            grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "invalid location modifier \"%.*s\"",
                               (int) value[1].len, value[1].data);
            return GRN_CONF_ERROR;
        }
        name = &value[2];

    } else if (value[1].len > 1 && value[1].data[0] == '=') {
        match = GRN_HTTP_LOC_EXACT;
        name->data++;
        name->len--;
    }

    if (name->len == 0) {
        grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "empty location");
        return GRN_CONF_ERROR;
    }

    /* "location @name": reached only by try_files, never by a request's URI (as in nginx) */
    if (name->data[0] == '@') {
        if (cf->args->nelts == 3) {
            grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "the named location \"%.*s\" takes no "
                               "modifier", (int) name->len, name->data);
            return GRN_CONF_ERROR;
        }
        if (cf->cmd_type != GRN_SRV_CONF) {
            grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "the named location \"%.*s\" can stand "
                               "on the server level only", (int) name->len, name->data);
            return GRN_CONF_ERROR;
        }
        match = GRN_HTTP_LOC_NAMED;
    }

    if (match == GRN_HTTP_LOC_NAMED) {
        list = &srv->named;
        parent = NULL;
    } else if (parent->parent == NULL && cf->cmd_type == GRN_SRV_CONF) {
        list = &srv->locations;
        parent = NULL;
    } else {
        if (parent->match == GRN_HTTP_LOC_NAMED) {
            grn_conf_log_error(GRN_LOG_EMERG, cf, 0,
                               "location \"%.*s\" cannot be inside the named location \"%.*s\"",
                               (int) name->len, name->data,
                               (int) parent->name.len, parent->name.data);
            return GRN_CONF_ERROR;
        }
        if (parent->match == GRN_HTTP_LOC_EXACT) {
            grn_conf_log_error(GRN_LOG_EMERG, cf, 0,
                               "location \"%.*s\" cannot be inside the exact location \"%.*s\"",
                               (int) name->len, name->data,
                               (int) parent->name.len, parent->name.data);
            return GRN_CONF_ERROR;
        }
        list = &parent->locations;
    }

    other = list->elts;
    for (i = 0; i < list->nelts; i++) {
        grn_uint_t  m = other[i]->match;

        /* "/a" and "^~ /a" are the same prefix to the matcher; "= /a" is distinct. */
        if (m == GRN_HTTP_LOC_PREFIX_NOREGEX) {
            m = GRN_HTTP_LOC_PREFIX;
        }
        if ((m == match || (match == GRN_HTTP_LOC_PREFIX_NOREGEX && m == GRN_HTTP_LOC_PREFIX))
            && grn_str_eq(&other[i]->name, name))
        {
            grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "duplicate location \"%.*s\"",
                               (int) name->len, name->data);
            return GRN_CONF_ERROR;
        }
    }

    loc = grn_http_create_loc_conf(cf);
    if (loc == NULL) {
        return GRN_CONF_ERROR;
    }
    loc->name = *name;
    loc->match = match;
    loc->parent = parent;

    if (match == GRN_HTTP_LOC_REGEX || match == GRN_HTTP_LOC_REGEX_CASELESS) {
        if (grn_http_compile_regex(cf, name, match == GRN_HTTP_LOC_REGEX_CASELESS, &loc->regex)
            != GRN_CONF_OK
            || grn_http_keep_regex(cf, loc->regex) != GRN_CONF_OK)
        {
            return GRN_CONF_ERROR;
        }
    }

    ploc = grn_array_push(list);
    if (ploc == NULL) {
        return GRN_CONF_ERROR;
    }
    *ploc = loc;

    save = *cf;
    cf->ctx[GRN_CONF_CTX_LOC] = loc;
    cf->cmd_type = GRN_LOC_CONF;

    rv = grn_conf_parse(cf, NULL);

    *cf = save;
    return rv;
}

/*
 * Parses a listen address: "8000", "127.0.0.1:8000", "*:8000", "[::1]:8000", "localhost:8000",
 * "unix:/path".
 */
static char *
grn_http_parse_addr(grn_conf_t *cf, grn_str_t *text, grn_http_listen_t *ls)
{
    int               rc;
    char             *host, *colon, *end;
    grn_int_t         port;
    grn_str_t         port_text;
    struct addrinfo   hints, *res;

    if (text->len > 5 && strncmp(text->data, "unix:", 5) == 0) {
        grn_str_t  path = { text->len - 5, text->data + 5 };

        if (grn_conf_full_name(cf->cycle, &path) != GRN_OK) {
            return GRN_CONF_ERROR;
        }
        if (path.len >= sizeof(ls->u.sun.sun_path)) {
            grn_conf_log_error(GRN_LOG_EMERG, cf, 0,
                               "too long unix socket path in \"%.*s\" of the \"listen\" directive",
                               (int) text->len, text->data);
            return GRN_CONF_ERROR;
        }
        ls->u.sun.sun_family = AF_UNIX;
        memcpy(ls->u.sun.sun_path, path.data, path.len + 1);
        ls->socklen = sizeof(struct sockaddr_un);
        ls->addr_text.len = path.len + 5;
        ls->addr_text.data = grn_pnalloc(cf->pool, path.len + 6);
        if (ls->addr_text.data == NULL) {
            return GRN_CONF_ERROR;
        }
        snprintf(ls->addr_text.data, path.len + 6, "unix:%s", path.data);
        return GRN_CONF_OK;
    }

    host = NULL;
    end = text->data + text->len;

    if (text->data[0] == '[') {
        char  *close = memchr(text->data, ']', text->len);

        if (close == NULL || close + 1 >= end || close[1] != ':') {
            goto invalid_port;
        }
        host = grn_pnalloc(cf->pool, close - text->data);
        if (host == NULL) {
            return GRN_CONF_ERROR;
        }
        memcpy(host, text->data + 1, close - text->data - 1);
        host[close - text->data - 1] = '\0';
        port_text.data = close + 2;
        port_text.len = end - port_text.data;

    } else {
        colon = memrchr(text->data, ':', text->len);
        if (colon) {
            size_t  hlen = colon - text->data;

            host = grn_pnalloc(cf->pool, hlen + 1);
            if (host == NULL) {
                return GRN_CONF_ERROR;
            }
            memcpy(host, text->data, hlen);
            host[hlen] = '\0';
            port_text.data = colon + 1;
            port_text.len = end - port_text.data;
        } else {
            port_text = *text;
        }
    }

    port = grn_atoi(port_text.data, port_text.len);
    if (port < 1 || port > 65535) {
        goto invalid_port;
    }

    if (host == NULL || strcmp(host, "*") == 0 || host[0] == '\0') {
        ls->u.sin.sin_family = AF_INET;
        ls->u.sin.sin_addr.s_addr = htonl(INADDR_ANY);
        ls->u.sin.sin_port = htons((uint16_t) port);
        ls->socklen = sizeof(struct sockaddr_in);

    } else {
        memset(&hints, 0, sizeof(hints));
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_PASSIVE;

        rc = getaddrinfo(host, NULL, &hints, &res);
        if (rc != 0) {
            grn_conf_log_error(GRN_LOG_EMERG, cf, 0,
                               "host not found in \"%.*s\" of the \"listen\" directive",
                               (int) text->len, text->data);
            return GRN_CONF_ERROR;
        }
        memcpy(&ls->u.storage, res->ai_addr, res->ai_addrlen);
        ls->socklen = res->ai_addrlen;
        freeaddrinfo(res);

        if (ls->u.sockaddr.sa_family == AF_INET6) {
            ls->u.sin6.sin6_port = htons((uint16_t) port);
        } else {
            ls->u.sin.sin_port = htons((uint16_t) port);
        }
    }

    ls->addr_text.data = grn_pnalloc(cf->pool, INET6_ADDRSTRLEN + 10);
    if (ls->addr_text.data == NULL) {
        return GRN_CONF_ERROR;
    }
    if (ls->u.sockaddr.sa_family == AF_INET6) {
        char  buf[INET6_ADDRSTRLEN];

        inet_ntop(AF_INET6, &ls->u.sin6.sin6_addr, buf, sizeof(buf));
        ls->addr_text.len = sprintf(ls->addr_text.data, "[%s]:%d", buf, (int) port);
    } else {
        char  buf[INET_ADDRSTRLEN];

        inet_ntop(AF_INET, &ls->u.sin.sin_addr, buf, sizeof(buf));
        ls->addr_text.len = sprintf(ls->addr_text.data, "%s:%d", buf, (int) port);
    }
    return GRN_CONF_OK;

invalid_port:

    grn_conf_log_error(GRN_LOG_EMERG, cf, 0,
                       "invalid port in \"%.*s\" of the \"listen\" directive",
                       (int) text->len, text->data);
    return GRN_CONF_ERROR;
}

/*
 * The listen queue defaults to the system's maximum (net.core.somaxconn), read when the config
 * is read: a burst of connections then waits in the kernel instead of being refused
 * while workers are busy or paused at their connection limit. listen() caps a larger value
 * at somaxconn anyway, so asking for less than it only loses room. 511 (nginx's default) when
 * the file cannot be read.
 */
static int
grn_http_default_backlog(void)
{
    int      fd;
    char     buf[32];
    ssize_t  n;
    long     v;

    fd = open("/proc/sys/net/core/somaxconn", O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        return 511;
    }
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) {
        return 511;
    }
    buf[n] = '\0';
    v = strtol(buf, NULL, 10);
    return (v >= 1 && v <= 65535) ? (int) v : 511;
}

static grn_int_t
grn_http_same_sockaddr(const struct sockaddr *a, socklen_t alen, const struct sockaddr *b,
    socklen_t blen)
{
    return alen == blen && memcmp(a, b, alen) == 0;
}

/* mode=0660: the unix socket file's permissions, octal, set after bind. */
static char *
grn_http_listen_mode(grn_conf_t *cf, grn_str_t *p, grn_http_listen_t *ls)
{
    size_t  i;
    int     mode = 0;

    for (i = 5; i < p->len; i++) {
        if (p->data[i] < '0' || p->data[i] > '7' || i > 8) {
            grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "invalid \"%.*s\" of the \"listen\" "
                               "directive, it must be octal permissions such as mode=0660",
                               (int) p->len, p->data);
            return GRN_CONF_ERROR;
        }
        mode = mode * 8 + (p->data[i] - '0');
    }
    if (mode > 0777) {
        grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "invalid \"%.*s\" of the \"listen\" directive, "
                           "it must be at most 0777", (int) p->len, p->data);
        return GRN_CONF_ERROR;
    }
    ls->mode = mode;
    return GRN_CONF_OK;
}

/* owner=user or owner=user:group: the unix socket file's owner, set after bind (as root). */
static char *
grn_http_listen_owner(grn_conf_t *cf, grn_str_t *p, grn_http_listen_t *ls)
{
    char            name[256], *colon;
    size_t          len = p->len - 6;
    struct group   *gr;
    struct passwd  *pw;

    if (len >= sizeof(name)) {
        grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "too long \"%.*s\" of the \"listen\" directive",
                           (int) p->len, p->data);
        return GRN_CONF_ERROR;
    }
    memcpy(name, p->data + 6, len);
    name[len] = '\0';

    colon = strchr(name, ':');
    if (colon) {
        *colon++ = '\0';
    }

    pw = name[0] ? getpwnam(name) : NULL;
    if (pw == NULL) {
        grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "unknown user \"%s\" in \"%.*s\" of the "
                           "\"listen\" directive", name, (int) p->len, p->data);
        return GRN_CONF_ERROR;
    }
    ls->owner_uid = pw->pw_uid;
    ls->owner_gid = pw->pw_gid;

    if (colon) {
        gr = colon[0] ? getgrnam(colon) : NULL;
        if (gr == NULL) {
            grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "unknown group \"%s\" in \"%.*s\" of the "
                               "\"listen\" directive", colon, (int) p->len, p->data);
            return GRN_CONF_ERROR;
        }
        ls->owner_gid = gr->gr_gid;
    }
    return GRN_CONF_OK;
}

static char *
grn_http_listen(grn_conf_t *cf, const grn_command_t *cmd GRN_UNUSED, void *conf)
{
    grn_str_t            *value;
    grn_uint_t            i;
    grn_http_listen_t    *ls, *other;
    grn_http_srv_conf_t  *srv = conf;

    value = cf->args->elts;

    ls = grn_array_push(&srv->listen);
    if (ls == NULL) {
        return GRN_CONF_ERROR;
    }
    memset(ls, 0, sizeof(*ls));
    ls->backlog = grn_http_default_backlog();
    ls->ipv6only = 1;                       /* as nginx: [::]:80 leaves 0.0.0.0:80 free */
    ls->mode = -1;
    ls->owner_uid = (uid_t) -1;
    ls->owner_gid = (gid_t) -1;

    if (grn_http_parse_addr(cf, &value[1], ls) != GRN_CONF_OK) {
        return GRN_CONF_ERROR;
    }

    for (i = 2; i < cf->args->nelts; i++) {
        grn_str_t  *p = &value[i];

        if (grn_str_eq_lit(p, "default_server") || grn_str_eq_lit(p, "default")) {
            ls->default_server = 1;
        } else if (grn_str_eq_lit(p, "ssl")) {
            ls->ssl = 1;
        } else if (grn_str_eq_lit(p, "reuseport")) {
            ls->reuseport = 1;
        } else if (grn_str_eq_lit(p, "proxy_protocol")) {
            ls->proxy_protocol = 1;
        } else if (grn_str_eq_lit(p, "ipv6only=on") || grn_str_eq_lit(p, "ipv6only=off")) {
            if (ls->u.sockaddr.sa_family != AF_INET6) {
                grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "\"%.*s\" applies to IPv6 addresses "
                                   "such as [::]:8000, not to %.*s", (int) p->len, p->data,
                                   (int) ls->addr_text.len, ls->addr_text.data);
                return GRN_CONF_ERROR;
            }
            ls->ipv6only = grn_str_eq_lit(p, "ipv6only=on");
        } else if (grn_str_eq_lit(p, "deferred")) {
            ls->deferred = 1;
        } else if (p->len > 5 && strncmp(p->data, "mode=", 5) == 0) {
            if (grn_http_listen_mode(cf, p, ls) != GRN_CONF_OK) {
                return GRN_CONF_ERROR;
            }
        } else if (p->len > 6 && strncmp(p->data, "owner=", 6) == 0) {
            if (grn_http_listen_owner(cf, p, ls) != GRN_CONF_OK) {
                return GRN_CONF_ERROR;
            }
        } else if (p->len > 8 && strncmp(p->data, "backlog=", 8) == 0) {
            grn_int_t  n = grn_atoi(p->data + 8, p->len - 8);

            if (n < 1 || n > 65535) {
                grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "invalid backlog \"%.*s\"",
                                   (int) (p->len - 8), p->data + 8);
                return GRN_CONF_ERROR;
            }
            ls->backlog = (int) n;
        } else {
            grn_conf_log_error(GRN_LOG_EMERG, cf, 0,
                               "invalid parameter \"%.*s\" of the \"listen\" directive",
                               (int) p->len, p->data);
            return GRN_CONF_ERROR;
        }
    }

    if (ls->u.sockaddr.sa_family == AF_UNIX) {
        if (ls->deferred || ls->reuseport) {
            grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "\"deferred\" and \"reuseport\" apply to "
                               "TCP listeners, not to %.*s",
                               (int) ls->addr_text.len, ls->addr_text.data);
            return GRN_CONF_ERROR;
        }
    } else if (ls->mode != -1 || ls->owner_uid != (uid_t) -1) {
        grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "\"mode=\" and \"owner=\" apply to unix socket "
                           "listeners, not to %.*s", (int) ls->addr_text.len, ls->addr_text.data);
        return GRN_CONF_ERROR;
    }

    if (ls->ssl) {
#if !(GRN_HAVE_OPENSSL)
        grn_conf_log_error(GRN_LOG_EMERG, cf, 0,
                           "the \"ssl\" parameter requires greenc built with OpenSSL");
        return GRN_CONF_ERROR;
#endif
    }

    other = srv->listen.elts;
    for (i = 0; i + 1 < srv->listen.nelts; i++) {
        if (grn_http_same_sockaddr(&other[i].u.sockaddr, other[i].socklen, &ls->u.sockaddr,
                                   ls->socklen))
        {
            grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "duplicate listen %.*s",
                               (int) ls->addr_text.len, ls->addr_text.data);
            return GRN_CONF_ERROR;
        }
    }

    return GRN_CONF_OK;
}

static char *
grn_http_server_name(grn_conf_t *cf, const grn_command_t *cmd GRN_UNUSED, void *conf)
{
    grn_str_t               *value;
    grn_uint_t               i;
    grn_http_srv_conf_t     *srv = conf;
    grn_http_server_name_t  *sn;

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        sn = grn_array_push(&srv->names);
        if (sn == NULL) {
            return GRN_CONF_ERROR;
        }
        sn->name = value[i];
        sn->regex = NULL;
        sn->line = cf->conf_file->line;

        if (value[i].len > 1 && value[i].data[0] == '~') {
            grn_str_t  re = { value[i].len - 1, value[i].data + 1 };

            if (grn_http_compile_regex(cf, &re, 1, &sn->regex) != GRN_CONF_OK
                || grn_http_keep_regex(cf, sn->regex) != GRN_CONF_OK)
            {
                return GRN_CONF_ERROR;
            }
            continue;
        }

        if (value[i].len == 0 || memchr(value[i].data, '/', value[i].len)) {
            grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "invalid server name \"%.*s\"",
                               (int) value[i].len, value[i].data);
            return GRN_CONF_ERROR;
        }
        grn_strlow(sn->name.data, sn->name.len);
    }

    return GRN_CONF_OK;
}

static char *
grn_http_set_action(grn_conf_t *cf, grn_http_loc_conf_t *loc, grn_uint_t action)
{
    grn_str_t  *value = cf->args->elts;

    if (loc->action != GRN_HTTP_ACTION_NONE) {
        grn_conf_log_error(GRN_LOG_EMERG, cf, 0,
                           "\"%.*s\" directive conflicts with another action of location \"%.*s\"",
                           (int) value[0].len, value[0].data,
                           (int) loc->name.len, loc->name.data);
        return GRN_CONF_ERROR;
    }
    loc->action = action;
    return GRN_CONF_OK;
}

static char *
grn_http_pass(grn_conf_t *cf, const grn_command_t *cmd GRN_UNUSED, void *conf)
{
    grn_str_t            *value = cf->args->elts;
    grn_http_loc_conf_t  *loc = conf;

    if (grn_http_set_action(cf, loc, GRN_HTTP_ACTION_PASS) != GRN_CONF_OK) {
        return GRN_CONF_ERROR;
    }
    loc->pass = value[1];
    loc->pass_file = cf->conf_file->name;
    loc->pass_line = cf->conf_file->line;
    return GRN_CONF_OK;
}

static char *
grn_http_return(grn_conf_t *cf, const grn_command_t *cmd GRN_UNUSED, void *conf)
{
    grn_int_t             code;
    grn_str_t            *value = cf->args->elts;
    grn_http_loc_conf_t  *loc = conf;

    if (grn_http_set_action(cf, loc, GRN_HTTP_ACTION_RETURN) != GRN_CONF_OK) {
        return GRN_CONF_ERROR;
    }

    code = grn_atoi(value[1].data, value[1].len);

    if (code == GRN_ERROR) {
        /* "return URL;" is a 302 to it, as in nginx. */
        if (cf->args->nelts == 2
            && ((value[1].len > 7 && strncmp(value[1].data, "http://", 7) == 0)
                || (value[1].len > 8 && strncmp(value[1].data, "https://", 8) == 0)))
        {
            loc->return_code = 302;
            loc->return_text = value[1];
            return grn_http_vars_compile(cf, &loc->return_text, "return", &loc->return_vars)
                   == GRN_OK ? GRN_CONF_OK : GRN_CONF_ERROR;
        }
        grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "invalid return code \"%.*s\"",
                           (int) value[1].len, value[1].data);
        return GRN_CONF_ERROR;
    }

    if (code < 100 || code > 999) {
        grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "invalid return code \"%.*s\"",
                           (int) value[1].len, value[1].data);
        return GRN_CONF_ERROR;
    }

    loc->return_code = code;
    if (cf->args->nelts == 3) {
        loc->return_text = value[2];
    }
    return grn_http_vars_compile(cf, &loc->return_text, "return", &loc->return_vars) == GRN_OK
           ? GRN_CONF_OK : GRN_CONF_ERROR;
}

static char *
grn_http_root(grn_conf_t *cf, const grn_command_t *cmd, void *conf)
{
    char                 *rv;
    grn_http_loc_conf_t  *loc = conf;

    if (loc->root.data || loc->alias.data) {
        grn_str_t  *value = cf->args->elts;

        grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "\"%.*s\" directive is duplicate, "
                           "\"root\" or \"alias\" is already set", (int) value[0].len,
                           value[0].data);
        return GRN_CONF_ERROR;
    }

    rv = grn_conf_set_path_slot(cf, cmd, conf);
    if (rv != GRN_CONF_OK) {
        return rv;
    }
    loc->root_file = cf->conf_file->name;
    loc->root_line = cf->conf_file->line;

    /* "root /srv/www/" is "/srv/www": a URI brings its own slash */
    if (loc->root.data) {
        while (loc->root.len > 1 && loc->root.data[loc->root.len - 1] == '/') {
            loc->root.data[--loc->root.len] = '\0';
        }
        /* "root /srv/sites/$sub": rendered per request from the server name's captures */
        if (grn_http_vars_compile(cf, &loc->root, "root", &loc->root_vars) != GRN_OK) {
            return GRN_CONF_ERROR;
        }
    }

    /* root at http or server level is a default for locations; in a location it is the action */
    if (cf->cmd_type == GRN_LOC_CONF) {
        return grn_http_set_action(cf, loc, GRN_HTTP_ACTION_STATIC);
    }
    return GRN_CONF_OK;
}

static char *
grn_http_status(grn_conf_t *cf, const grn_command_t *cmd GRN_UNUSED, void *conf)
{
    return grn_http_set_action(cf, conf, GRN_HTTP_ACTION_STATUS);
}

static char *
grn_http_body_size(grn_conf_t *cf, const grn_command_t *cmd, void *conf)
{
    grn_str_t            *value = cf->args->elts;
    grn_http_loc_conf_t  *loc = conf;

    /* nginx: 0 disables the check; "off" is accepted here as a clearer spelling of it. */
    if (grn_str_eq_lit(&value[1], "off")) {
        if (loc->client_max_body_size != GRN_CONF_UNSET) {
            return "is duplicate";
        }
        loc->client_max_body_size = 0;
        return GRN_CONF_OK;
    }
    return grn_conf_set_off_slot(cf, cmd, conf);
}

/* The directory must exist now: a missing one would fail only with the first large upload. */
static char *
grn_http_temp_path(grn_conf_t *cf, const grn_command_t *cmd, void *conf)
{
    char         *rv;
    struct stat   st;
    grn_str_t    *path = (grn_str_t *) ((char *) conf + cmd->offset);

    rv = grn_conf_set_path_slot(cf, cmd, conf);
    if (rv != GRN_CONF_OK) {
        return rv;
    }
    if (stat(path->data, &st) == -1) {
        grn_conf_log_error(GRN_LOG_EMERG, cf, errno, "client_body_temp_path \"%s\" cannot be "
                           "used", path->data);
        return GRN_CONF_ERROR;
    }
    if (!S_ISDIR(st.st_mode)) {
        grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "client_body_temp_path \"%s\" is not a "
                           "directory", path->data);
        return GRN_CONF_ERROR;
    }
    return GRN_CONF_OK;
}

static char *
grn_http_large_buffers(grn_conf_t *cf, const grn_command_t *cmd GRN_UNUSED, void *conf)
{
    off_t                 size;
    grn_int_t             n;
    grn_str_t            *value = cf->args->elts;
    grn_http_srv_conf_t  *srv = conf;

    if (srv->large_client_header_buffers != GRN_CONF_UNSET) {
        return "is duplicate";
    }

    n = grn_atoi(value[1].data, value[1].len);
    size = grn_parse_size(&value[2]);

    if (n < 1 || n > 1024) {
        grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "invalid value \"%.*s\" in \"%.*s\" directive",
                           (int) value[1].len, value[1].data, (int) value[0].len, value[0].data);
        return GRN_CONF_ERROR;
    }
    if (size < 256 || size > 1024 * 1024) {
        grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "invalid value \"%.*s\" in \"%.*s\" directive, "
                           "it must be between 256 and 1m", (int) value[2].len, value[2].data,
                           (int) value[0].len, value[0].data);
        return GRN_CONF_ERROR;
    }

    srv->large_client_header_buffers = n;
    srv->large_client_header_buffer_size = (size_t) size;
    return GRN_CONF_OK;
}

static char *
grn_http_log_format(grn_conf_t *cf, const grn_command_t *cmd GRN_UNUSED, void *conf)
{
    char                   *p;
    size_t                  len;
    grn_str_t              *value = cf->args->elts;
    grn_uint_t              i, first;
    grn_http_main_conf_t   *hmcf = conf;
    grn_http_log_format_t  *fmt;

    fmt = hmcf->log_formats.elts;
    for (i = 0; i < hmcf->log_formats.nelts; i++) {
        if (grn_str_eq(&fmt[i].name, &value[1])) {
            grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "duplicate \"log_format\" name \"%.*s\"",
                               (int) value[1].len, value[1].data);
            return GRN_CONF_ERROR;
        }
    }

    fmt = grn_array_push(&hmcf->log_formats);
    if (fmt == NULL) {
        return GRN_CONF_ERROR;
    }
    memset(fmt, 0, sizeof(*fmt));
    fmt->name = value[1];

    first = 2;
    if (value[2].len > 7 && strncmp(value[2].data, "escape=", 7) == 0) {
        grn_str_t  how = { value[2].len - 7, value[2].data + 7 };

        if (grn_str_eq_lit(&how, "json")) {
            fmt->escape = GRN_HTTP_LOG_ESCAPE_JSON;
        } else if (grn_str_eq_lit(&how, "none")) {
            fmt->escape = GRN_HTTP_LOG_ESCAPE_NONE;
        } else if (!grn_str_eq_lit(&how, "default")) {
            grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "unknown log format escaping \"%.*s\"",
                               (int) how.len, how.data);
            return GRN_CONF_ERROR;
        }
        first = 3;
        if (cf->args->nelts == 3) {
            grn_conf_log_error(GRN_LOG_EMERG, cf, 0,
                               "invalid number of arguments in \"log_format\" directive");
            return GRN_CONF_ERROR;
        }
    }

    len = 0;
    for (i = first; i < cf->args->nelts; i++) {
        len += value[i].len;
    }
    p = grn_pnalloc(cf->pool, len + 1);
    if (p == NULL) {
        return GRN_CONF_ERROR;
    }
    fmt->format.data = p;
    fmt->format.len = len;
    for (i = first; i < cf->args->nelts; i++) {
        memcpy(p, value[i].data, value[i].len);
        p += value[i].len;
    }
    *p = '\0';
    return grn_http_log_compile(cf, fmt) == GRN_OK ? GRN_CONF_OK : GRN_CONF_ERROR;
}

/*
 * access_log PATH [FORMAT [buffer=SIZE] [flush=TIME] [if=CONDITION]] | off, as nginx's. Buffered
 * logs are kept per file: two access_log lines for one file share its buffer, so they must
 * agree on its size and flush time.
 */
static char *
grn_http_access_log(grn_conf_t *cf, const grn_command_t *cmd GRN_UNUSED, void *conf)
{
    off_t                        size;
    grn_str_t                   *value = cf->args->elts;
    grn_str_t                    path, name, opt;
    grn_uint_t                   i, k;
    grn_msec_t                   flush;
    grn_http_loc_conf_t         *loc = conf;
    grn_http_main_conf_t        *hmcf = cf->ctx[GRN_CONF_CTX_HTTP];
    grn_http_access_log_t       *log;
    grn_http_log_format_t       *fmt;
    grn_http_log_buffer_conf_t  *buf;

    if (grn_str_eq_lit(&value[1], "off")) {
        if (cf->args->nelts != 2) {
            return "takes no format with \"off\"";
        }
        if (loc->access_logs != GRN_CONF_UNSET_PTR) {
            return "is duplicate";
        }
        loc->access_logs = NULL;
        return GRN_CONF_OK;
    }

    if (loc->access_logs == NULL) {
        return "is duplicate, \"access_log off\" is already set";
    }
    if (loc->access_logs == GRN_CONF_UNSET_PTR) {
        loc->access_logs = grn_array_create(cf->pool, 1, sizeof(grn_http_access_log_t));
        if (loc->access_logs == NULL) {
            return GRN_CONF_ERROR;
        }
    }

    log = grn_array_push(loc->access_logs);
    if (log == NULL) {
        return GRN_CONF_ERROR;
    }
    memset(log, 0, sizeof(*log));
    log->buffer = -1;

    grn_str_set(&name, "combined");
    i = 2;
    if (cf->args->nelts > 2 && memchr(value[2].data, '=', value[2].len) == NULL) {
        name = value[2];
        i = 3;
    }

    fmt = hmcf->log_formats.elts;
    for (k = 0; k < hmcf->log_formats.nelts; k++) {
        if (grn_str_eq(&fmt[k].name, &name)) {
            log->format = &fmt[k];
            break;
        }
    }
    if (log->format == NULL) {
        grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "unknown log format \"%.*s\"",
                           (int) name.len, name.data);
        return GRN_CONF_ERROR;
    }

    size = 0;
    flush = 0;
    for ( /* void */ ; i < cf->args->nelts; i++) {
        if (value[i].len > 7 && strncmp(value[i].data, "buffer=", 7) == 0) {
            opt.data = value[i].data + 7;
            opt.len = value[i].len - 7;
            size = grn_parse_size(&opt);
            if (size < 1 || size > 16 * 1024 * 1024) {
                grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "invalid buffer size \"%.*s\" in "
                                   "\"access_log\", it must be between 1 and 16m",
                                   (int) opt.len, opt.data);
                return GRN_CONF_ERROR;
            }

        } else if (value[i].len > 6 && strncmp(value[i].data, "flush=", 6) == 0) {
            opt.data = value[i].data + 6;
            opt.len = value[i].len - 6;
            flush = grn_parse_time(&opt);
            if (flush == (grn_msec_t) -1 || flush == 0) {
                grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "invalid flush time \"%.*s\" in "
                                   "\"access_log\"", (int) opt.len, opt.data);
                return GRN_CONF_ERROR;
            }

        } else if (value[i].len > 3 && strncmp(value[i].data, "if=", 3) == 0) {
            log->condition = grn_pcalloc(cf->pool, sizeof(grn_http_log_format_t));
            if (log->condition == NULL) {
                return GRN_CONF_ERROR;
            }
            grn_str_set(&log->condition->name, "if=");
            log->condition->format.data = value[i].data + 3;
            log->condition->format.len = value[i].len - 3;
            if (grn_http_log_compile(cf, log->condition) != GRN_OK) {
                return GRN_CONF_ERROR;
            }

        } else {
            grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "invalid parameter \"%.*s\" of the "
                               "\"access_log\" directive (expected buffer=, flush= or if=)",
                               (int) value[i].len, value[i].data);
            return GRN_CONF_ERROR;
        }
    }

    path = value[1];
    if (grn_conf_full_name(cf->cycle, &path) != GRN_OK) {
        return GRN_CONF_ERROR;
    }
    log->file = grn_cycle_add_open_file(cf->cycle, &path);
    if (log->file == NULL) {
        return GRN_CONF_ERROR;
    }

    if (size == 0 && flush == 0) {
        return GRN_CONF_OK;
    }
    if (size == 0) {
        size = 64 * 1024;                         /* flush= alone: nginx's default buffer */
    }

    buf = hmcf->log_buffers.elts;
    for (i = 0; i < hmcf->log_buffers.nelts; i++) {
        if (buf[i].file == log->file) {
            if (buf[i].size != (size_t) size || buf[i].flush != flush) {
                grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "access_log \"%s\" is already "
                                   "buffered with another buffer= or flush=",
                                   log->file->name.data);
                return GRN_CONF_ERROR;
            }
            log->buffer = (grn_int_t) i;
            return GRN_CONF_OK;
        }
    }

    buf = grn_array_push(&hmcf->log_buffers);
    if (buf == NULL) {
        return GRN_CONF_ERROR;
    }
    buf->file = log->file;
    buf->size = (size_t) size;
    buf->flush = flush;
    log->buffer = (grn_int_t) (hmcf->log_buffers.nelts - 1);
    return GRN_CONF_OK;
}

static char *
grn_http_real_ip_from(grn_conf_t *cf, const grn_command_t *cmd, void *conf)
{
    char             buf[INET6_ADDRSTRLEN + 1], *slash;
    size_t           len;
    grn_int_t        bits, max;
    grn_str_t       *value = cf->args->elts;
    unsigned char    addr[sizeof(struct in6_addr)];

    /* The address before the "/": the whole value's length left room for 3 bytes too many. */
    slash = memchr(value[1].data, '/', value[1].len);
    len = slash ? (size_t) (slash - value[1].data) : value[1].len;
    if (len >= sizeof(buf)) {
        goto invalid;
    }
    memcpy(buf, value[1].data, len);
    buf[len] = '\0';

    if (grn_str_eq_lit(&value[1], "unix:")) {
        return grn_conf_set_str_array_slot(cf, cmd, conf);
    }

    if (inet_pton(AF_INET, buf, addr) == 1) {
        max = 32;
    } else if (inet_pton(AF_INET6, buf, addr) == 1) {
        max = 128;
    } else {
        goto invalid;
    }

    if (slash) {
        bits = grn_atoi(slash + 1, value[1].data + value[1].len - slash - 1);
        if (bits < 0 || bits > max) {
            goto invalid;
        }
    }

    return grn_conf_set_str_array_slot(cf, cmd, conf);

invalid:

    grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "invalid value \"%.*s\" in \"%.*s\" directive, "
                       "it must be an address or CIDR", (int) value[1].len, value[1].data,
                       (int) value[0].len, value[0].data);
    return GRN_CONF_ERROR;
}

/*
 * real_ip_header: X-Real-IP (nginx's default), X-Forwarded-For, Forwarded (RFC 7239 "for="),
 * proxy_protocol, or any other field name, read as one address like X-Real-IP.
 */
static char *
grn_http_real_ip_header(grn_conf_t *cf, const grn_command_t *cmd GRN_UNUSED, void *conf)
{
    size_t                i;
    grn_str_t            *value = cf->args->elts;
    grn_http_srv_conf_t  *srv = conf;

    if (srv->real_ip_header != GRN_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    if (grn_str_eq_lit(&value[1], "proxy_protocol")) {
        srv->real_ip_header = GRN_HTTP_REALIP_PROXY_PROTOCOL;
    } else {
        for (i = 0; i < value[1].len; i++) {
            unsigned char  ch = (unsigned char) value[1].data[i];

            /* RFC 9110 5.1: a field name is a token. */
            if (ch <= 0x20 || ch >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", ch) != NULL) {
                grn_conf_log_error(GRN_LOG_EMERG, cf, 0,
                                   "invalid value \"%.*s\" in \"real_ip_header\" directive, "
                                   "it must be a header field name (X-Real-IP, X-Forwarded-For, "
                                   "Forwarded) or proxy_protocol",
                                   (int) value[1].len, value[1].data);
                return GRN_CONF_ERROR;
            }
        }
        if (value[1].len == 15 && strncasecmp(value[1].data, "X-Forwarded-For", 15) == 0) {
            srv->real_ip_header = GRN_HTTP_REALIP_X_FORWARDED_FOR;
        } else if (value[1].len == 9 && strncasecmp(value[1].data, "Forwarded", 9) == 0) {
            srv->real_ip_header = GRN_HTTP_REALIP_FORWARDED;
        } else {
            srv->real_ip_header = GRN_HTTP_REALIP_X_REAL_IP;
        }
    }
    srv->real_ip_header_name = value[1];
    return GRN_CONF_OK;
}


/* After parsing: merge, resolve, assemble listeners. */

static void
grn_http_merge_srv(grn_http_srv_conf_t *conf, grn_http_srv_conf_t *prev)
{
    grn_conf_merge_msec_value(conf->client_header_timeout, prev->client_header_timeout, 60000);
    grn_conf_merge_msec_value(conf->keepalive_timeout, prev->keepalive_timeout, 75000);
    grn_conf_merge_value(conf->keepalive_requests, prev->keepalive_requests, 1000);
    grn_conf_merge_value(conf->tcp_nodelay, prev->tcp_nodelay, 1);
    grn_conf_merge_size_value(conf->client_header_buffer_size,
                              prev->client_header_buffer_size, 1024);
    grn_conf_merge_value(conf->large_client_header_buffers,
                         prev->large_client_header_buffers, 4);
    grn_conf_merge_value(conf->limit_request_fields, prev->limit_request_fields, 100);
    grn_conf_merge_size_value(conf->large_client_header_buffer_size,
                              prev->large_client_header_buffer_size, 8192);
    grn_http_ssl_merge_conf(&conf->ssl, &prev->ssl);

    /* As nginx: a server with set_real_ip_from of its own does not add the http level's. */
    if (conf->real_ip_from == NULL) {
        conf->real_ip_from = prev->real_ip_from;
        conf->trusted = prev->trusted;
    }
    if (conf->real_ip_header == GRN_CONF_UNSET_UINT) {
        conf->real_ip_header = prev->real_ip_header;
        conf->real_ip_header_name = prev->real_ip_header_name;
    }
    if (conf->real_ip_header == GRN_CONF_UNSET_UINT) {
        conf->real_ip_header = GRN_HTTP_REALIP_X_REAL_IP;
        grn_str_set(&conf->real_ip_header_name, "X-Real-IP");
    }
    grn_conf_merge_value(conf->real_ip_recursive, prev->real_ip_recursive, 0);
}

static void
grn_http_merge_loc(grn_http_loc_conf_t *conf, grn_http_loc_conf_t *prev)
{
    grn_conf_merge_value(conf->client_max_body_size, prev->client_max_body_size,
                         1024 * 1024);
    grn_conf_merge_msec_value(conf->client_body_timeout, prev->client_body_timeout, 60000);
    /* A larger body goes to a temp file. Why 1m and not nginx's 16k: see grn_http_body.c. */
    grn_conf_merge_size_value(conf->client_body_buffer_size, prev->client_body_buffer_size,
                              1024 * 1024);
    grn_conf_merge_str_value(conf->client_body_temp_path, prev->client_body_temp_path, "/tmp");
    grn_conf_merge_value(conf->request_buffering, prev->request_buffering, 1);
    grn_conf_merge_msec_value(conf->send_timeout, prev->send_timeout, 60000);
    grn_conf_merge_value(conf->server_tokens, prev->server_tokens, 1);
    grn_conf_merge_str_value(conf->default_type, prev->default_type, "text/plain");
    grn_conf_merge_ptr_value(conf->access_logs, prev->access_logs, GRN_CONF_UNSET_PTR);
    grn_conf_merge_ptr_value(conf->index, prev->index, NULL);
    grn_conf_merge_ptr_value(conf->access, prev->access, NULL);
    grn_conf_merge_ptr_value(conf->types, prev->types, NULL);
    if (conf->disable_symlinks == GRN_CONF_UNSET_UINT) {
        conf->disable_symlinks = prev->disable_symlinks == GRN_CONF_UNSET_UINT
                                 ? GRN_HTTP_SYMLINKS_OUTSIDE : prev->disable_symlinks;
    }
    grn_conf_merge_value(conf->add_request_id_header, prev->add_request_id_header, 0);

    /* root set at an outer level serves the locations that have no action of their own */
    if (conf->root.data == NULL && conf->alias.data == NULL) {
        conf->root = prev->root;
        conf->root_vars = prev->root_vars;
    }
}

static grn_int_t
grn_http_finish_locations(grn_conf_t *cf, grn_array_t *locations, grn_http_loc_conf_t *parent,
    grn_array_t *apps_seen)
{
    grn_uint_t              i, j;
    grn_app_conf_t         *app, **seen;
    grn_http_loc_conf_t   **loc, **all;
    grn_http_main_conf_t   *hmcf = cf->cycle->http;

    loc = locations->elts;
    for (i = 0; i < locations->nelts; i++) {
        grn_http_merge_loc(loc[i], parent);

        /* Its number names it to an app worker when the router forwards (grn_http_forward.c). */
        all = grn_array_push(&hmcf->locations);
        if (all == NULL) {
            return GRN_ERROR;
        }
        *all = loc[i];
        loc[i]->number = hmcf->locations.nelts - 1;

        if (loc[i]->action == GRN_HTTP_ACTION_NONE && loc[i]->root.data) {
            loc[i]->action = GRN_HTTP_ACTION_STATIC;
        }

        if (loc[i]->action == GRN_HTTP_ACTION_PASS) {
            app = grn_cycle_find_app(cf->cycle, &loc[i]->pass);
            if (app == NULL) {
                grn_log_error(GRN_LOG_EMERG, cf->log, 0,
                              "unknown app \"%.*s\" in \"pass\" directive in %.*s:%lu",
                              (int) loc[i]->pass.len, loc[i]->pass.data,
                              (int) loc[i]->pass_file.len, loc[i]->pass_file.data,
                              (unsigned long) loc[i]->pass_line);
                return GRN_ERROR;
            }
            loc[i]->app = app;

            seen = apps_seen->elts;
            for (j = 0; j < apps_seen->nelts; j++) {
                if (seen[j] == app) {
                    break;
                }
            }
            if (j == apps_seen->nelts) {
                seen = grn_array_push(apps_seen);
                if (seen == NULL) {
                    return GRN_ERROR;
                }
                *seen = app;
            }
        }

        if (grn_http_finish_locations(cf, &loc[i]->locations, loc[i], apps_seen) != GRN_OK) {
            return GRN_ERROR;
        }
    }

    return GRN_OK;
}

/* The cycle's listener for this address, created on first use. */
static grn_listening_t *
grn_http_add_listening(grn_conf_t *cf, grn_cycle_t *cycle, grn_http_listen_t *lsc)
{
    grn_uint_t         i;
    grn_listening_t   *ls;
    grn_http_addr_t   *addr;

    ls = cycle->listening.elts;
    for (i = 0; i < cycle->listening.nelts; i++) {
        if (grn_http_same_sockaddr(&ls[i].u.sockaddr, ls[i].socklen, &lsc->u.sockaddr,
                                   lsc->socklen))
        {
            return &ls[i];
        }
    }

    ls = grn_array_push(&cycle->listening);
    if (ls == NULL) {
        return NULL;
    }
    memset(ls, 0, sizeof(*ls));
    ls->fd = -1;
    memcpy(&ls->u.storage, &lsc->u.storage, lsc->socklen);
    ls->socklen = lsc->socklen;
    ls->addr_text = lsc->addr_text;
    ls->backlog = lsc->backlog;
    ls->reuseport = lsc->reuseport;
    ls->ipv6only = lsc->ipv6only;
    ls->deferred = lsc->deferred;
    ls->mode = lsc->mode;
    ls->owner_uid = lsc->owner_uid;
    ls->owner_gid = lsc->owner_gid;
    ls->ssl = lsc->ssl;
    ls->proxy_protocol = lsc->proxy_protocol;

    addr = grn_pcalloc(cf->pool, sizeof(grn_http_addr_t));
    if (addr == NULL
        || grn_array_init(&addr->servers, cf->pool, 2, sizeof(grn_http_srv_conf_t *)) != GRN_OK)
    {
        return NULL;
    }
    ls->servers = addr;
    return ls;
}

/*
 * Every app that a shared listener leads to gets an internal socket that its workers accept
 * besides their own listeners, and the router forwards to. It is an abstract unix socket
 * (Linux): no file to go stale after a crash, no path length or directory permissions to get
 * right for app workers that run as other users, gone when the last descriptor closes. Its
 * name derives from the pid file and the app, so it is the same on reload and after a binary
 * upgrade (taken over by address like any listener) and differs between two greenc instances.
 * Abstract sockets have no permission bits: app workers check the peer's uid on accept
 * (grn_http_forward.c), and trust what arrives on this socket only.
 */
static grn_int_t
grn_http_add_internal_listening(grn_conf_t *cf, grn_cycle_t *cycle)
{
    int                     n;
    grn_uint_t              a, i, j, k, nls;
    grn_app_conf_t        **apps, **sapps;
    grn_listening_t        *ls, *internal;
    grn_http_addr_t        *addr, *iaddr;
    grn_http_srv_conf_t   **srv, **psrv, *copy;

    apps = cycle->apps.elts;
    nls = cycle->listening.nelts;

    for (a = 0; a < cycle->apps.nelts; a++) {
        iaddr = NULL;

        for (i = 0; i < nls; i++) {
            ls = &((grn_listening_t *) cycle->listening.elts)[i];
            if (!ls->shared) {
                continue;
            }
            addr = ls->servers;
            srv = addr->servers.elts;
            for (j = 0; j < addr->servers.nelts; j++) {
                sapps = srv[j]->apps->elts;
                for (k = 0; k < srv[j]->apps->nelts && sapps[k] != apps[a]; k++) { /* void */ }
                if (k == srv[j]->apps->nelts) {
                    continue;
                }
                if (iaddr == NULL) {
                    iaddr = grn_pcalloc(cf->pool, sizeof(grn_http_addr_t));
                    copy = grn_palloc(cf->pool, sizeof(grn_http_srv_conf_t));
                    if (iaddr == NULL || copy == NULL
                        || grn_array_init(&iaddr->servers, cf->pool, 2,
                                          sizeof(grn_http_srv_conf_t *)) != GRN_OK)
                    {
                        return GRN_ERROR;
                    }
                    /* Room for the forwarding line in front of a head the router took. */
                    *copy = *srv[j];
                    copy->large_client_header_buffers++;
                    iaddr->default_server = copy;
                }
                psrv = iaddr->servers.elts;
                for (k = 0; k < iaddr->servers.nelts && psrv[k] != srv[j]; k++) { /* void */ }
                if (k == iaddr->servers.nelts) {
                    psrv = grn_array_push(&iaddr->servers);
                    if (psrv == NULL) {
                        return GRN_ERROR;
                    }
                    *psrv = srv[j];
                }
            }
        }

        if (iaddr == NULL) {
            continue;
        }

        internal = grn_array_push(&cycle->listening);
        if (internal == NULL) {
            return GRN_ERROR;
        }
        memset(internal, 0, sizeof(*internal));
        internal->fd = -1;
        internal->mode = -1;
        internal->owner_uid = (uid_t) -1;
        internal->owner_gid = (gid_t) -1;
        internal->internal = 1;
        internal->app = apps[a];
        internal->servers = iaddr;
        internal->backlog = 4096;
        internal->u.sun.sun_family = AF_UNIX;
        /* sun_path[0] stays NUL: the abstract namespace. */
        n = snprintf(internal->u.sun.sun_path + 1, sizeof(internal->u.sun.sun_path) - 1,
                     "greenc-%016llx/%.*s",
                     (unsigned long long) grn_hash_name(cycle->core->pid.data,
                                                        cycle->core->pid.len),
                     (int) apps[a]->name.len, apps[a]->name.data);
        if (n < 0 || (size_t) n >= sizeof(internal->u.sun.sun_path) - 1) {
            n = snprintf(internal->u.sun.sun_path + 1, sizeof(internal->u.sun.sun_path) - 1,
                         "greenc-%016llx/%016llx",
                         (unsigned long long) grn_hash_name(cycle->core->pid.data,
                                                            cycle->core->pid.len),
                         (unsigned long long) grn_hash_name(apps[a]->name.data,
                                                            apps[a]->name.len));
        }
        internal->socklen = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + 1 + n);
        internal->addr_text.len = sizeof("unix:@") - 1 + (size_t) n;
        internal->addr_text.data = grn_pnalloc(cf->pool, internal->addr_text.len + 1);
        if (internal->addr_text.data == NULL) {
            return GRN_ERROR;
        }
        snprintf(internal->addr_text.data, internal->addr_text.len + 1, "unix:@%s",
                 internal->u.sun.sun_path + 1);
    }

    return GRN_OK;
}

/* Every $name a template uses must be a named capture of some server_name or location regex. */
static grn_int_t
grn_http_check_capture_refs(grn_conf_t *cf, grn_http_main_conf_t *hmcf)
{
    char                     name[64];
    grn_uint_t               i, j, k;
    grn_http_srv_conf_t    **srv;
    grn_http_loc_conf_t    **loc;
    grn_http_server_name_t  *sn;
    grn_http_capture_ref_t  *ref;

    if (hmcf->capture_refs == NULL) {
        return GRN_OK;
    }
    ref = hmcf->capture_refs->elts;
    srv = hmcf->servers.elts;
    loc = hmcf->locations.elts;

    for (i = 0; i < hmcf->capture_refs->nelts; i++) {
        if (ref[i].name.len < sizeof(name)) {
            memcpy(name, ref[i].name.data, ref[i].name.len);
            name[ref[i].name.len] = '\0';

            for (j = 0; j < hmcf->locations.nelts; j++) {
                if (loc[j]->regex
                    && pcre2_substring_number_from_name(loc[j]->regex, (PCRE2_SPTR) name) >= 0)
                {
                    goto found;
                }
            }
            for (j = 0; j < hmcf->servers.nelts; j++) {
                sn = srv[j]->names.elts;
                for (k = 0; k < srv[j]->names.nelts; k++) {
                    if (sn[k].regex
                        && pcre2_substring_number_from_name(sn[k].regex, (PCRE2_SPTR) name)
                           >= 0)
                    {
                        goto found;
                    }
                }
            }
        }
        grn_log_error(GRN_LOG_EMERG, cf->log, 0,
                      "unknown \"%.*s\" variable: neither a variable of greenc nor a named "
                      "capture (?<%.*s>...) of a server_name or location regex in %.*s:%lu",
                      (int) ref[i].name.len, ref[i].name.data, (int) ref[i].name.len,
                      ref[i].name.data, (int) ref[i].file.len, ref[i].file.data,
                      (unsigned long) ref[i].line);
        return GRN_ERROR;
    found:
        continue;
    }

    return GRN_OK;
}

/*
 * Two servers of one address that claim the same server_name: nginx warns "conflicting server
 * name" and the later one never gets that name's requests. A server that silently never
 * answers is a mistake worth stopping for, so greenc refuses the config and names both places.
 * Names are compared as written (lower-cased), regexes by their source.
 */
static grn_int_t
grn_http_check_names(grn_conf_t *cf, grn_listening_t *ls, grn_http_srv_conf_t *srv)
{
    grn_uint_t               i, j, k;
    grn_http_addr_t         *addr = ls->servers;
    grn_http_srv_conf_t    **other = addr->servers.elts;
    grn_http_server_name_t  *sn, *on;

    sn = srv->names.elts;
    for (i = 0; i < srv->names.nelts; i++) {
        for (k = 0; k < addr->servers.nelts; k++) {
            on = other[k]->names.elts;
            for (j = 0; j < other[k]->names.nelts; j++) {
                if (grn_str_eq(&sn[i].name, &on[j].name)) {
                    grn_log_error(GRN_LOG_EMERG, cf->log, 0,
                                  "conflicting server name \"%.*s\" on %.*s: already claimed "
                                  "by the server in %.*s:%lu (give each name to one server) "
                                  "in %.*s:%lu",
                                  (int) sn[i].name.len, sn[i].name.data,
                                  (int) ls->addr_text.len, ls->addr_text.data,
                                  (int) other[k]->file.len, other[k]->file.data,
                                  (unsigned long) on[j].line,
                                  (int) srv->file.len, srv->file.data,
                                  (unsigned long) sn[i].line);
                    return GRN_ERROR;
                }
            }
        }
    }

    return GRN_OK;
}

grn_int_t
grn_http_conf_finish(grn_conf_t *cf, grn_cycle_t *cycle)
{
    grn_uint_t              i, j, k;
    grn_listening_t        *ls;
    grn_app_conf_t        **app;
    grn_http_addr_t        *addr;
    grn_http_listen_t      *lsc;
    grn_http_srv_conf_t   **srv, **psrv, **other;
    grn_http_main_conf_t   *hmcf = cycle->http;

    if (hmcf == NULL) {
        return GRN_OK;
    }

    /* No access_log anywhere at http level: nginx's default, logs/access.log combined. */
    if (hmcf->loc->access_logs == GRN_CONF_UNSET_PTR) {
        grn_str_t               path = grn_string("logs/access.log");
        grn_http_access_log_t  *log;

        hmcf->loc->access_logs = grn_array_create(cf->pool, 1, sizeof(grn_http_access_log_t));
        if (hmcf->loc->access_logs == NULL
            || grn_conf_full_name(cycle, &path) != GRN_OK
            || (log = grn_array_push(hmcf->loc->access_logs)) == NULL)
        {
            return GRN_ERROR;
        }
        memset(log, 0, sizeof(*log));
        log->buffer = -1;
        log->format = hmcf->log_formats.elts;       /* "combined", pushed first */
        log->file = grn_cycle_add_open_file(cycle, &path);
        if (log->file == NULL) {
            return GRN_ERROR;
        }
    }

    if (grn_http_request_id_conf(cf, hmcf) != GRN_OK) {
        return GRN_ERROR;
    }

    if (grn_http_realip_compile(cf->pool, hmcf->srv) != GRN_OK) {
        return GRN_ERROR;
    }
    grn_http_merge_srv(hmcf->srv, hmcf->srv);
    grn_http_merge_loc(hmcf->loc, hmcf->loc);

    srv = hmcf->servers.elts;
    for (i = 0; i < hmcf->servers.nelts; i++) {
        if (grn_http_realip_compile(cf->pool, srv[i]) != GRN_OK) {
            return GRN_ERROR;
        }
        grn_http_merge_srv(srv[i], hmcf->srv);
        grn_http_merge_loc(srv[i]->loc, hmcf->loc);

        if (srv[i]->listen.nelts == 0) {
            /* nginx listens on *:80 by default; a server without listen here is a mistake */
            grn_log_error(GRN_LOG_EMERG, cf->log, 0,
                          "server has no \"listen\" directive in %.*s:%lu",
                          (int) srv[i]->file.len, srv[i]->file.data,
                          (unsigned long) srv[i]->line);
            return GRN_ERROR;
        }

        srv[i]->number = i;
        srv[i]->apps = grn_array_create(cf->pool, 2, sizeof(grn_app_conf_t *));
        if (srv[i]->apps == NULL
            || grn_http_finish_locations(cf, &srv[i]->locations, srv[i]->loc, srv[i]->apps)
               != GRN_OK
            || grn_http_finish_locations(cf, &srv[i]->named, srv[i]->loc, srv[i]->apps)
               != GRN_OK
            || grn_http_static_finish(cf, srv[i]) != GRN_OK)
        {
            return GRN_ERROR;
        }

        lsc = srv[i]->listen.elts;
        for (j = 0; j < srv[i]->listen.nelts; j++) {
            ls = grn_http_add_listening(cf, cycle, &lsc[j]);
            if (ls == NULL) {
                return GRN_ERROR;
            }
            addr = ls->servers;

            if (lsc[j].default_server) {
                if (addr->explicit_default) {
                    grn_log_error(GRN_LOG_EMERG, cf->log, 0,
                                  "a duplicate default server for %.*s in %.*s:%lu",
                                  (int) ls->addr_text.len, ls->addr_text.data,
                                  (int) srv[i]->file.len, srv[i]->file.data,
                                  (unsigned long) srv[i]->line);
                    return GRN_ERROR;
                }
                addr->default_server = srv[i];
                addr->explicit_default = 1;

            } else if (addr->default_server == NULL) {
                addr->default_server = srv[i];
            }

            if (lsc[j].ssl != ls->ssl) {
                grn_log_error(GRN_LOG_EMERG, cf->log, 0,
                              "listen %.*s is \"ssl\" in one server and not in another "
                              "in %.*s:%lu",
                              (int) ls->addr_text.len, ls->addr_text.data,
                              (int) srv[i]->file.len, srv[i]->file.data,
                              (unsigned long) srv[i]->line);
                return GRN_ERROR;
            }

            other = addr->servers.elts;
            for (k = 0; k < addr->servers.nelts; k++) {
                if (other[k] == srv[i]) {
                    break;
                }
            }
            if (k == addr->servers.nelts) {
                if (grn_http_check_names(cf, ls, srv[i]) != GRN_OK) {
                    return GRN_ERROR;
                }
                psrv = grn_array_push(&addr->servers);
                if (psrv == NULL) {
                    return GRN_ERROR;
                }
                *psrv = srv[i];
            }

            /*
             * The listener's app: the single app every pass route on it leads to. A second
             * app makes it shared: the router group accepts it and forwards to each app.
             */
            app = srv[i]->apps->elts;
            for (k = 0; k < srv[i]->apps->nelts && !ls->shared; k++) {
                if (ls->app == NULL) {
                    ls->app = app[k];
                } else if (ls->app != app[k]) {
                    ls->app = NULL;
                    ls->shared = 1;
                }
            }
        }
    }

    if (grn_http_check_capture_refs(cf, hmcf) != GRN_OK
        || grn_http_ssl_finish(cf, cycle) != GRN_OK)
    {
        return GRN_ERROR;
    }

    return grn_http_add_internal_listening(cf, cycle);
}
