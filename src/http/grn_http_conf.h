/*
 * grn_http_conf.h: what the http { } block produces.
 *
 * Settings nest as in nginx: http { server { location { } } }. A setting allowed at several
 * levels lives in the struct of the innermost level where it matters (server or location); the
 * outer levels carry their own copy of that struct, and a merge step after parsing fills each
 * unset value from its parent, then from the default.
 */

#ifndef GRN_HTTP_CONF_H
#define GRN_HTTP_CONF_H

#include "grn_cycle.h"

typedef struct grn_http_srv_conf_s  grn_http_srv_conf_t;
typedef struct grn_http_loc_conf_s  grn_http_loc_conf_t;

/* Location match kinds, in nginx's order of precedence. */
#define GRN_HTTP_LOC_PREFIX          0    /* location /a/ */
#define GRN_HTTP_LOC_EXACT           1    /* location = /a */
#define GRN_HTTP_LOC_PREFIX_NOREGEX  2    /* location ^~ /a/ */
#define GRN_HTTP_LOC_REGEX           3    /* location ~ re */
#define GRN_HTTP_LOC_REGEX_CASELESS  4    /* location ~* re */
#define GRN_HTTP_LOC_NAMED           5    /* location @name: only try_files reaches it */

/* What a location does with a request. */
#define GRN_HTTP_ACTION_NONE         0    /* 404 */
#define GRN_HTTP_ACTION_PASS         1    /* call the app */
#define GRN_HTTP_ACTION_RETURN       2    /* return CODE [text|URL] */
#define GRN_HTTP_ACTION_STATIC       3    /* root / alias */
#define GRN_HTTP_ACTION_STATUS       4    /* status page */

/* disable_symlinks: which symbolic links below a root or alias are followed. */
#define GRN_HTTP_SYMLINKS_OFF        0    /* all (nginx's default) */
#define GRN_HTTP_SYMLINKS_ON         1    /* none */
#define GRN_HTTP_SYMLINKS_NOT_OWNER  2    /* those owned by the owner of their target */
#define GRN_HTTP_SYMLINKS_OUTSIDE    3    /* those that stay below the root (our default) */

/* real_ip_header: where a trusted peer's idea of the client address is read from. */
#define GRN_HTTP_REALIP_X_REAL_IP        0    /* one address; also any other field name */
#define GRN_HTTP_REALIP_X_FORWARDED_FOR  1    /* a list, the client first */
#define GRN_HTTP_REALIP_FORWARDED        2    /* RFC 7239 for= parameters */
#define GRN_HTTP_REALIP_PROXY_PROTOCOL   3    /* the PROXY header only, no field */

/* One `listen` directive as parsed. */
typedef struct {
    grn_str_t              addr_text;
    union {
        struct sockaddr          sockaddr;
        struct sockaddr_in       sin;
        struct sockaddr_in6      sin6;
        struct sockaddr_un       sun;
        struct sockaddr_storage  storage;
    } u;
    socklen_t              socklen;
    int                    backlog;
    unsigned               default_server:1;
    unsigned               ssl:1;
    unsigned               reuseport:1;
    unsigned               proxy_protocol:1;
    unsigned               ipv6only:1;
    unsigned               deferred:1;
    int                    mode;          /* unix socket: chmod after bind; -1: default */
    uid_t                  owner_uid;     /* unix socket: chown after bind; -1: leave */
    gid_t                  owner_gid;
} grn_http_listen_t;

typedef struct {
    grn_str_t              name;          /* lower-cased; "*.example.com", "www.example.*" */
    pcre2_code            *regex;         /* for "~..." names */
    grn_uint_t             line;          /* of its server_name directive, for messages */
} grn_http_server_name_t;

/* How a log_format writes variable values. */
#define GRN_HTTP_LOG_ESCAPE_DEFAULT  0    /* ", \ and non-printable bytes as \xHH */
#define GRN_HTTP_LOG_ESCAPE_JSON     1    /* JSON string escapes */
#define GRN_HTTP_LOG_ESCAPE_NONE     2    /* as they are */

/* One extension of a types { } block: "css" -> "text/css". */
typedef struct {
    grn_str_t              exten;         /* lower-case */
    grn_str_t              type;
} grn_http_type_t;

/* A try_files directive, compiled by grn_http_static.c. */
typedef struct grn_http_try_files_s  grn_http_try_files_t;

typedef struct {
    grn_str_t              name;
    grn_array_t            parts;         /* compiled later by the access log module */
    grn_str_t              format;        /* the joined format strings */
    grn_uint_t             escape;        /* GRN_HTTP_LOG_ESCAPE_* */
    unsigned               directive:1;   /* the text of `return` or `root`, not a log_format */
} grn_http_log_format_t;

/* A named capture that some template uses: some regex of the config must define it. */
typedef struct {
    grn_str_t              name;
    grn_str_t              file;
    grn_uint_t             line;
} grn_http_capture_ref_t;

/* `access_log PATH buffer=SIZE [flush=TIME]`: one per file; each worker thread has its own. */
typedef struct {
    grn_open_file_t       *file;
    size_t                 size;
    grn_msec_t             flush;         /* 0: only when full, at exit and on USR1 */
} grn_http_log_buffer_conf_t;

typedef struct {
    grn_open_file_t       *file;          /* NULL: off */
    grn_http_log_format_t *format;
    grn_http_log_format_t *condition;     /* if=: no line when it gives "" or "0"; or NULL */
    grn_int_t              buffer;        /* index in log_buffers, -1: one write per line */
} grn_http_access_log_t;

/* A set_real_ip_from entry, compiled: an address and the number of leading bits to compare. */
typedef struct {
    int                    family;        /* AF_INET, AF_INET6, AF_UNIX ("unix:") */
    unsigned char          addr[16];
    grn_uint_t             bits;
} grn_http_cidr_t;

struct grn_http_loc_conf_s {
    grn_str_t              name;          /* the prefix, exact URI or regex source */
    grn_uint_t             match;         /* GRN_HTTP_LOC_* */
    pcre2_code            *regex;
    grn_uint_t             action;        /* GRN_HTTP_ACTION_* */

    grn_str_t              pass;          /* app name as written */
    grn_uint_t             pass_line;     /* where `pass` stands, for "unknown app" */
    grn_str_t              pass_file;
    grn_app_conf_t        *app;           /* resolved after parsing */
    grn_str_t              script_name;   /* mount point: SCRIPT_NAME, stripped from PATH_INFO */

    grn_int_t              return_code;
    grn_str_t              return_text;   /* body, or the URL for 301/302/303/307/308 */
    grn_http_log_format_t *return_vars;   /* return_text with $variables compiled; or NULL */

    grn_str_t              root;          /* full path */
    grn_http_log_format_t *root_vars;     /* root with $variables compiled; or NULL */
    grn_str_t              alias;         /* full path */
    grn_str_t              root_file;     /* where this location's root or alias stands */
    grn_uint_t             root_line;     /*   (0: inherited or none) */
    grn_http_try_files_t  *try_files;     /* this location's own, not inherited */

    grn_array_t            locations;     /* nested, of grn_http_loc_conf_t * */
    grn_http_loc_conf_t   *parent;        /* the enclosing location, NULL at server level */

    /* Inherited from server and http. */
    off_t                  client_max_body_size;
    grn_msec_t             client_body_timeout;
    size_t                 client_body_buffer_size;   /* larger bodies go to a temp file */
    grn_str_t              client_body_temp_path;     /* NUL-terminated directory */
    grn_flag_t             request_buffering;         /* off: the app reads from the socket */
    grn_msec_t             send_timeout;
    grn_flag_t             server_tokens;
    grn_str_t              default_type;
    grn_array_t           *access_logs;   /* of grn_http_access_log_t; NULL: off */
    grn_array_t           *index;         /* of grn_str_t file names */
    grn_array_t           *types;         /* of grn_http_type_t, sorted; NULL: built-in */
    grn_uint_t             disable_symlinks;   /* GRN_HTTP_SYMLINKS_* */
    grn_flag_t             add_request_id_header;   /* X-Request-ID (or request_id_header) */
    grn_array_t           *access;        /* allow/deny rules, grn_http_access.c; NULL: none */

    grn_str_t              file;          /* where the block starts */
    grn_uint_t             line;
    grn_uint_t             number;        /* in grn_http_main_conf_t.locations */
};

/* ssl_protocols */
#define GRN_HTTP_SSL_TLSv1           0x01
#define GRN_HTTP_SSL_TLSv1_1         0x02
#define GRN_HTTP_SSL_TLSv1_2         0x04
#define GRN_HTTP_SSL_TLSv1_3         0x08

/* ssl_verify_client */
#define GRN_HTTP_SSL_VERIFY_OFF      0
#define GRN_HTTP_SSL_VERIFY_ON       1    /* a valid certificate is required */
#define GRN_HTTP_SSL_VERIFY_OPTIONAL 2    /* none, or a valid one */
#define GRN_HTTP_SSL_VERIFY_NO_CA    3    /* optional_no_ca: any, the app judges it */

/* An ssl_certificate or ssl_certificate_key line: the path and where it stands. */
typedef struct {
    grn_str_t              path;          /* absolute, NUL-terminated */
    grn_str_t              file;
    grn_uint_t             line;
} grn_http_ssl_file_t;

/* An ssl_conf_command line: an OpenSSL SSL_CONF command and where it stands. */
typedef struct {
    grn_str_t              name;
    grn_str_t              value;
    grn_str_t              file;
    grn_uint_t             line;
} grn_http_ssl_command_t;

/* A server's TLS settings (grn_http_ssl.c); inherited from the http level. */
typedef struct {
    grn_array_t           *certificates;  /* of grn_http_ssl_file_t; NULL: none here */
    grn_array_t           *certificate_keys;
    grn_http_ssl_file_t    password_file; /* path.len 0: none */
    grn_uint_t             protocols;     /* GRN_HTTP_SSL_TLSv1_* */
    grn_str_t              ciphers;       /* TLS 1.2 and older; data NULL: unset */
    grn_array_t           *conf_commands; /* of grn_http_ssl_command_t */
    grn_flag_t             prefer_server_ciphers;
    grn_int_t              session_cache; /* bytes of a shared cache; 0: off; unset */
    grn_str_t              session_cache_name;
    grn_http_ssl_file_t    session_cache_at;    /* where it stands (path: unused) */
    grn_msec_t             session_timeout;
    grn_flag_t             session_tickets;
    grn_http_ssl_file_t    client_certificate;   /* CA file; path.len 0: none */
    grn_uint_t             verify_client; /* GRN_HTTP_SSL_VERIFY_* */
    grn_int_t              verify_depth;
    grn_flag_t             ktls;
    void                  *ctx;           /* SSL_CTX *, made by the master, used by workers */
} grn_http_ssl_conf_t;

struct grn_http_srv_conf_s {
    grn_array_t            listen;        /* of grn_http_listen_t */
    grn_array_t            names;         /* of grn_http_server_name_t */
    grn_http_ssl_conf_t    ssl;

    /* Inherited from http: they apply before a location is known. */
    grn_msec_t             client_header_timeout;
    grn_msec_t             keepalive_timeout;
    grn_int_t              keepalive_requests;
    grn_flag_t             tcp_nodelay;  /* of the address's default server: set at accept */
    size_t                 client_header_buffer_size;
    size_t                 large_client_header_buffer_size;
    grn_int_t              large_client_header_buffers;
    grn_int_t              limit_request_fields;   /* header and trailer fields: 431 beyond */

    /* The client's address behind trusted proxies (grn_http_realip.c). */
    grn_array_t           *real_ip_from;  /* of grn_str_t, as written; NULL: none here */
    grn_array_t           *trusted;       /* of grn_http_cidr_t: real_ip_from compiled */
    grn_uint_t             real_ip_header;     /* GRN_HTTP_REALIP_* */
    grn_str_t              real_ip_header_name;
    grn_flag_t             real_ip_recursive;

    grn_http_loc_conf_t   *loc;           /* settings written at server level */
    grn_array_t            locations;     /* of grn_http_loc_conf_t *, in order of appearance */
    grn_array_t            named;         /* of grn_http_loc_conf_t *: location @name */

    grn_str_t              file;
    grn_uint_t             line;
    grn_uint_t             number;        /* in grn_http_main_conf_t.servers */
    grn_array_t           *apps;          /* of grn_app_conf_t *: the apps its locations pass to */
};

typedef struct {
    grn_array_t            servers;       /* of grn_http_srv_conf_t * */
    grn_array_t            locations;     /* of grn_http_loc_conf_t *, every one, nested too */
    grn_array_t            log_formats;   /* of grn_http_log_format_t */
    grn_array_t           *capture_refs;  /* of grn_http_capture_ref_t, checked at the end */
    grn_array_t            log_buffers;   /* of grn_http_log_buffer_conf_t */
    grn_str_t              request_id_header;   /* taken from trusted peers; len 0: never */
    grn_http_srv_conf_t   *srv;           /* settings written at http level */
    grn_http_loc_conf_t   *loc;
} grn_http_main_conf_t;

/* The servers that share one address, built when listeners are set up. */
typedef struct {
    grn_http_srv_conf_t   *default_server;
    grn_array_t            servers;       /* of grn_http_srv_conf_t * */
    unsigned               explicit_default:1;
} grn_http_addr_t;

extern const grn_command_t grn_http_commands[];
/* types, index, try_files, disable_symlinks: in grn_http_static.c */
extern const grn_command_t grn_http_static_commands[];
/* allow, deny: in grn_http_access.c */
extern const grn_command_t grn_http_access_commands[];
/* ssl_*: in grn_http_ssl.c */
extern const grn_command_t grn_http_ssl_commands[];

/*
 * After parsing: merges http → server → location settings, resolves `pass` targets, and adds
 * the listeners (one per distinct address) to the cycle with their servers and app.
 */
grn_int_t grn_http_conf_finish(grn_conf_t *cf, grn_cycle_t *cycle);

#endif /* GRN_HTTP_CONF_H */
