/*
 * grn_http_ssl_conf.c: the ssl_* directives and the TLS contexts they make.
 *
 * The master builds one SSL_CTX per server that stands on a `listen ... ssl` address, while
 * it reads the config: certificates and private keys are read before any worker drops its
 * privileges (a worker never needs to read a key, and `greenc -t` checks every certificate),
 * and the workers inherit the contexts by fork. A reload builds new contexts, so certificates
 * are read again and the session ticket keys, made with each context, rotate. Every worker
 * of a generation shares those keys, so any worker resumes any ticket.
 *
 * The defaults are Mozilla's "intermediate" profile: TLS 1.2 and 1.3, ECDHE with AEAD
 * ciphers, X25519, P-256 and P-384, no compression, no renegotiation; the server's cipher
 * order for TLS 1.2 (scanners such as testssl.sh rate a server without one HIGH), the
 * client's for 1.3. `ssl_session_cache shared:NAME:SIZE` adds a session cache in shared
 * memory (grn_http_ssl_cache.c) for clients that resume by session id.
 *
 * SNI picks the server whose certificate is presented (grn_http_ssl_sni()); the connection
 * side of TLS is in grn_http_ssl.c.
 */

#include "grn_core.h"
#include "grn_http.h"
#include "grn_http_ssl.h"


#if (GRN_HAVE_OPENSSL)

static char *grn_http_ssl_file_list(grn_conf_t *cf, const grn_command_t *cmd, void *conf);
static char *grn_http_ssl_file(grn_conf_t *cf, const grn_command_t *cmd, void *conf);
static char *grn_http_ssl_protocols(grn_conf_t *cf, const grn_command_t *cmd, void *conf);
static char *grn_http_ssl_conf_command(grn_conf_t *cf, const grn_command_t *cmd, void *conf);
static char *grn_http_ssl_session_cache(grn_conf_t *cf, const grn_command_t *cmd, void *conf);

#define GRN_HTTP_SSL_LEVELS  (GRN_HTTP_CONF | GRN_SRV_CONF | GRN_CONF_TAKE1)

static const grn_conf_enum_t  grn_http_ssl_verify_values[] = {
    { grn_string("off"), GRN_HTTP_SSL_VERIFY_OFF },
    { grn_string("on"), GRN_HTTP_SSL_VERIFY_ON },
    { grn_string("optional"), GRN_HTTP_SSL_VERIFY_OPTIONAL },
    { grn_string("optional_no_ca"), GRN_HTTP_SSL_VERIFY_NO_CA },
    { grn_null_string, 0 }
};

static const grn_conf_num_bounds_t  grn_http_ssl_depth_bounds = { 0, 100 };

#define grn_http_ssl_slot(field)  GRN_CONF_CTX_SRV, offsetof(grn_http_srv_conf_t, ssl.field)

#endif

const grn_command_t  grn_http_ssl_commands[] = {
#if (GRN_HAVE_OPENSSL)
    { grn_string("ssl_certificate"), GRN_HTTP_SSL_LEVELS,
      grn_http_ssl_file_list, grn_http_ssl_slot(certificates), NULL },

    { grn_string("ssl_certificate_key"), GRN_HTTP_SSL_LEVELS,
      grn_http_ssl_file_list, grn_http_ssl_slot(certificate_keys), NULL },

    { grn_string("ssl_password_file"), GRN_HTTP_SSL_LEVELS,
      grn_http_ssl_file, grn_http_ssl_slot(password_file), NULL },

    { grn_string("ssl_protocols"), GRN_HTTP_CONF | GRN_SRV_CONF | GRN_CONF_1MORE,
      grn_http_ssl_protocols, grn_http_ssl_slot(protocols), NULL },

    { grn_string("ssl_ciphers"), GRN_HTTP_SSL_LEVELS,
      grn_conf_set_str_slot, grn_http_ssl_slot(ciphers), NULL },

    { grn_string("ssl_conf_command"), GRN_HTTP_CONF | GRN_SRV_CONF | GRN_CONF_TAKE2,
      grn_http_ssl_conf_command, grn_http_ssl_slot(conf_commands), NULL },

    { grn_string("ssl_prefer_server_ciphers"), GRN_HTTP_CONF | GRN_SRV_CONF | GRN_CONF_FLAG,
      grn_conf_set_flag_slot, grn_http_ssl_slot(prefer_server_ciphers), NULL },

    { grn_string("ssl_session_cache"), GRN_HTTP_SSL_LEVELS,
      grn_http_ssl_session_cache, grn_http_ssl_slot(session_cache), NULL },

    { grn_string("ssl_session_timeout"), GRN_HTTP_SSL_LEVELS,
      grn_conf_set_msec_slot, grn_http_ssl_slot(session_timeout), NULL },

    { grn_string("ssl_session_tickets"), GRN_HTTP_CONF | GRN_SRV_CONF | GRN_CONF_FLAG,
      grn_conf_set_flag_slot, grn_http_ssl_slot(session_tickets), NULL },

    { grn_string("ssl_client_certificate"), GRN_HTTP_SSL_LEVELS,
      grn_http_ssl_file, grn_http_ssl_slot(client_certificate), NULL },

    { grn_string("ssl_verify_client"), GRN_HTTP_SSL_LEVELS,
      grn_conf_set_enum_slot, grn_http_ssl_slot(verify_client),
      (void *) grn_http_ssl_verify_values },

    { grn_string("ssl_verify_depth"), GRN_HTTP_SSL_LEVELS,
      grn_conf_set_num_slot, grn_http_ssl_slot(verify_depth),
      (void *) &grn_http_ssl_depth_bounds },

    { grn_string("ssl_ktls"), GRN_HTTP_CONF | GRN_SRV_CONF | GRN_CONF_FLAG,
      grn_conf_set_flag_slot, grn_http_ssl_slot(ktls), NULL },
#endif
    grn_null_command
};


void
grn_http_ssl_init_conf(grn_http_ssl_conf_t *conf)
{
    conf->protocols = GRN_CONF_UNSET_UINT;
    conf->prefer_server_ciphers = GRN_CONF_UNSET;
    conf->session_cache = GRN_CONF_UNSET;
    conf->session_timeout = GRN_CONF_UNSET_MSEC;
    conf->session_tickets = GRN_CONF_UNSET;
    conf->verify_client = GRN_CONF_UNSET_UINT;
    conf->verify_depth = GRN_CONF_UNSET;
    conf->ktls = GRN_CONF_UNSET;
}


void
grn_http_ssl_merge_conf(grn_http_ssl_conf_t *conf, grn_http_ssl_conf_t *prev)
{
    /* Certificates and keys go together: a server with its own takes none of the http's. */
    if (conf->certificates == NULL && conf->certificate_keys == NULL) {
        conf->certificates = prev->certificates;
        conf->certificate_keys = prev->certificate_keys;
    }
    if (conf->password_file.path.data == NULL) {
        conf->password_file = prev->password_file;
    }
    if (conf->protocols == GRN_CONF_UNSET_UINT) {
        conf->protocols = (prev->protocols == GRN_CONF_UNSET_UINT)
                          ? (GRN_HTTP_SSL_TLSv1_2 | GRN_HTTP_SSL_TLSv1_3) : prev->protocols;
    }
    if (conf->ciphers.data == NULL) {
        conf->ciphers = prev->ciphers;
    }
    if (conf->conf_commands == NULL) {
        conf->conf_commands = prev->conf_commands;
    }
    grn_conf_merge_value(conf->prefer_server_ciphers, prev->prefer_server_ciphers, 1);
    if (conf->session_cache == GRN_CONF_UNSET) {
        conf->session_cache = prev->session_cache;
        conf->session_cache_name = prev->session_cache_name;
        conf->session_cache_at = prev->session_cache_at;
    }
    if (conf->session_cache == GRN_CONF_UNSET) {
        conf->session_cache = 0;
    }
    grn_conf_merge_msec_value(conf->session_timeout, prev->session_timeout, 300000);
    grn_conf_merge_value(conf->session_tickets, prev->session_tickets, 1);
    if (conf->client_certificate.path.data == NULL) {
        conf->client_certificate = prev->client_certificate;
    }
    if (conf->verify_client == GRN_CONF_UNSET_UINT) {
        conf->verify_client = (prev->verify_client == GRN_CONF_UNSET_UINT)
                              ? GRN_HTTP_SSL_VERIFY_OFF : prev->verify_client;
    }
    grn_conf_merge_value(conf->verify_depth, prev->verify_depth, 1);
    grn_conf_merge_value(conf->ktls, prev->ktls, 0);
}


#if (GRN_HAVE_OPENSSL)

#include "grn_http_ssl_cache.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

/* Mozilla's "intermediate" configuration, version 5.7: ECDHE key exchange, AEAD ciphers. */
#define GRN_HTTP_SSL_CIPHERS                                                                \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                            \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                            \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define GRN_HTTP_SSL_GROUPS   "X25519:prime256v1:secp384r1"

/* For SNI's server_name regexes: a pool per thread, reset after each look. */
static __thread grn_pool_t  *grn_http_ssl_sni_pool;

/* The ssl_* directives. */

static char *
grn_http_ssl_file_list(grn_conf_t *cf, const grn_command_t *cmd, void *conf)
{
    grn_str_t             *value = cf->args->elts, path = value[1];
    grn_array_t          **ap = (grn_array_t **) ((char *) conf + cmd->offset);
    grn_http_ssl_file_t   *f;

    if (*ap == NULL) {
        *ap = grn_array_create(cf->pool, 2, sizeof(grn_http_ssl_file_t));
    }
    if (*ap == NULL || grn_conf_full_name(cf->cycle, &path) != GRN_OK
        || (f = grn_array_push(*ap)) == NULL)
    {
        return GRN_CONF_ERROR;
    }
    f->path = path;
    f->file = cf->conf_file->name;
    f->line = cf->conf_file->line;
    return GRN_CONF_OK;
}

static char *
grn_http_ssl_file(grn_conf_t *cf, const grn_command_t *cmd, void *conf)
{
    grn_str_t            *value = cf->args->elts, path = value[1];
    grn_http_ssl_file_t  *f = (grn_http_ssl_file_t *) ((char *) conf + cmd->offset);

    if (f->path.data) {
        return "is duplicate";
    }
    if (grn_conf_full_name(cf->cycle, &path) != GRN_OK) {
        return GRN_CONF_ERROR;
    }
    f->path = path;
    f->file = cf->conf_file->name;
    f->line = cf->conf_file->line;
    return GRN_CONF_OK;
}

static char *
grn_http_ssl_protocols(grn_conf_t *cf, const grn_command_t *cmd GRN_UNUSED, void *conf)
{
    grn_uint_t            i, j;
    grn_str_t            *value = cf->args->elts;
    grn_http_ssl_conf_t  *ssl = &((grn_http_srv_conf_t *) conf)->ssl;
    static const struct {
        grn_str_t   name;
        grn_uint_t  bit;
    } names[] = {
        { grn_string("TLSv1"), GRN_HTTP_SSL_TLSv1 },
        { grn_string("TLSv1.1"), GRN_HTTP_SSL_TLSv1_1 },
        { grn_string("TLSv1.2"), GRN_HTTP_SSL_TLSv1_2 },
        { grn_string("TLSv1.3"), GRN_HTTP_SSL_TLSv1_3 },
    };

    if (ssl->protocols != GRN_CONF_UNSET_UINT) {
        return "is duplicate";
    }
    ssl->protocols = 0;
    for (i = 1; i < cf->args->nelts; i++) {
        for (j = 0; j < grn_nelems(names); j++) {
            if (grn_str_eq(&names[j].name, &value[i])) {
                ssl->protocols |= names[j].bit;
                break;
            }
        }
        if (j == grn_nelems(names)) {
            grn_conf_log_error(GRN_LOG_EMERG, cf, 0,
                               "invalid value \"%s\" in \"ssl_protocols\" directive, it must "
                               "be TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3", value[i].data);
            return GRN_CONF_ERROR;
        }
    }
    return GRN_CONF_OK;
}

static char *
grn_http_ssl_conf_command(grn_conf_t *cf, const grn_command_t *cmd GRN_UNUSED, void *conf)
{
    grn_str_t               *value = cf->args->elts;
    grn_http_ssl_conf_t     *ssl = &((grn_http_srv_conf_t *) conf)->ssl;
    grn_http_ssl_command_t  *c;

    if (ssl->conf_commands == NULL) {
        ssl->conf_commands = grn_array_create(cf->pool, 2, sizeof(grn_http_ssl_command_t));
    }
    if (ssl->conf_commands == NULL || (c = grn_array_push(ssl->conf_commands)) == NULL) {
        return GRN_CONF_ERROR;
    }
    c->name = value[1];
    c->value = value[2];
    c->file = cf->conf_file->name;
    c->line = cf->conf_file->line;
    return GRN_CONF_OK;
}

/* off | none | shared:NAME:SIZE (nginx's forms; "builtin" has no use with several workers) */
static char *
grn_http_ssl_session_cache(grn_conf_t *cf, const grn_command_t *cmd GRN_UNUSED, void *conf)
{
    char                 *colon;
    ssize_t               size;
    grn_str_t            *value = cf->args->elts, rest, name;
    grn_http_ssl_conf_t  *ssl = &((grn_http_srv_conf_t *) conf)->ssl;

    if (ssl->session_cache != GRN_CONF_UNSET) {
        return "is duplicate";
    }
    if (grn_str_eq_lit(&value[1], "off") || grn_str_eq_lit(&value[1], "none")) {
        ssl->session_cache = 0;
        return GRN_CONF_OK;
    }
    if (value[1].len > 7 && strncmp(value[1].data, "shared:", 7) == 0) {
        rest.data = value[1].data + 7;
        rest.len = value[1].len - 7;
        colon = memchr(rest.data, ':', rest.len);
        if (colon && colon > rest.data) {
            name.data = rest.data;
            name.len = (size_t) (colon - rest.data);
            rest.len -= name.len + 1;
            rest.data = colon + 1;
            size = grn_parse_size(&rest);
            if (size >= 32 * 1024) {
                ssl->session_cache = (grn_int_t) size;
                ssl->session_cache_name = name;
                ssl->session_cache_at.file = cf->conf_file->name;
                ssl->session_cache_at.line = cf->conf_file->line;
                return GRN_CONF_OK;
            }
            if (size > 0) {
                grn_conf_log_error(GRN_LOG_EMERG, cf, 0,
                                   "the \"ssl_session_cache\" size %s is too small, it must be "
                                   "at least 32k", rest.data);
                return GRN_CONF_ERROR;
            }
        }
    }
    grn_conf_log_error(GRN_LOG_EMERG, cf, 0,
                       "invalid value \"%s\" in \"ssl_session_cache\" directive, it must be "
                       "off, none or shared:NAME:SIZE (shared:SSL:10m)", value[1].data);
    return GRN_CONF_ERROR;
}


/* Contexts. */

const char *
grn_http_ssl_errors(char *buf, size_t size)
{
    size_t         len = 0;
    unsigned long  e;

    buf[0] = '\0';
    while ((e = ERR_get_error()) != 0) {
        if (len + 3 < size) {
            if (len) {
                memcpy(buf + len, "; ", 2);
                len += 2;
            }
            ERR_error_string_n(e, buf + len, size - len);
            len += strlen(buf + len);
        }
    }
    return len ? buf : "no reason given by OpenSSL";
}

/* Never prompts (a master has no terminal to ask at); tries one password of the file. */
static int
grn_http_ssl_password_cb(char *buf, int size, int rwflag GRN_UNUSED, void *data)
{
    size_t      len;
    grn_str_t  *pw = data;

    if (pw == NULL || size <= 0) {
        return 0;
    }
    len = grn_min(pw->len, (size_t) size);
    memcpy(buf, pw->data, len);
    return (int) len;
}

/* The lines of ssl_password_file, each a password to try (as nginx). */
static grn_array_t *
grn_http_ssl_passwords(grn_conf_t *cf, grn_http_ssl_file_t *f)
{
    char         *p, *end, *nl, buf[4096];
    int           fd;
    ssize_t       n;
    grn_str_t    *pw;
    grn_array_t  *a;

    fd = open(f->path.data, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        grn_log_error(GRN_LOG_EMERG, cf->log, errno,
                      "cannot open ssl_password_file \"%s\" in %.*s:%lu", f->path.data,
                      (int) f->file.len, f->file.data, (unsigned long) f->line);
        return NULL;
    }
    n = read(fd, buf, sizeof(buf));
    close(fd);
    if (n < 0) {
        grn_log_error(GRN_LOG_EMERG, cf->log, errno, "read() of \"%s\" failed", f->path.data);
        return NULL;
    }

    a = grn_array_create(cf->temp_pool, 4, sizeof(grn_str_t));
    if (a == NULL) {
        return NULL;
    }
    for (p = buf, end = buf + n; p < end; p = nl + 1) {
        nl = memchr(p, '\n', (size_t) (end - p));
        if (nl == NULL) {
            nl = end;
        }
        pw = grn_array_push(a);
        if (pw == NULL) {
            return NULL;
        }
        pw->len = (size_t) (nl - p);
        if (pw->len && p[pw->len - 1] == '\r') {
            pw->len--;
        }
        pw->data = grn_pnalloc(cf->temp_pool, pw->len + 1);
        if (pw->data == NULL) {
            return NULL;
        }
        memcpy(pw->data, p, pw->len);
    }
    explicit_bzero(buf, sizeof(buf));
    if (a->nelts == 0) {
        grn_log_error(GRN_LOG_EMERG, cf->log, 0,
                      "ssl_password_file \"%s\" in %.*s:%lu holds no password", f->path.data,
                      (int) f->file.len, f->file.data, (unsigned long) f->line);
        return NULL;
    }
    return a;
}

static grn_int_t
grn_http_ssl_use_key(grn_conf_t *cf, SSL_CTX *ctx, grn_http_ssl_file_t *key,
    grn_array_t *passwords)
{
    char        err[512];
    BIO        *bio;
    EVP_PKEY   *pkey = NULL;
    grn_str_t  *pw = passwords ? passwords->elts : NULL;
    grn_uint_t  i, tries = passwords ? passwords->nelts : 1;

    bio = BIO_new_file(key->path.data, "r");
    if (bio == NULL) {
        grn_log_error(GRN_LOG_EMERG, cf->log, 0,
                      "cannot load certificate key \"%s\" in %.*s:%lu: %s", key->path.data,
                      (int) key->file.len, key->file.data, (unsigned long) key->line,
                      grn_http_ssl_errors(err, sizeof(err)));
        return GRN_ERROR;
    }
    for (i = 0; i < tries && pkey == NULL; i++) {
        if (i > 0 && BIO_reset(bio) != 0) {
            break;
        }
        ERR_clear_error();
        pkey = PEM_read_bio_PrivateKey(bio, NULL, grn_http_ssl_password_cb,
                                       pw ? &pw[i] : NULL);
    }
    BIO_free(bio);

    if (pkey == NULL) {
        grn_log_error(GRN_LOG_EMERG, cf->log, 0,
                      "cannot load certificate key \"%s\" in %.*s:%lu%s: %s", key->path.data,
                      (int) key->file.len, key->file.data, (unsigned long) key->line,
                      passwords ? " with any password of ssl_password_file"
                                : " (an encrypted key needs ssl_password_file)",
                      grn_http_ssl_errors(err, sizeof(err)));
        return GRN_ERROR;
    }
    /* A key of another type than the certificate lands in an empty slot: check the pair. */
    if (SSL_CTX_use_PrivateKey(ctx, pkey) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
        EVP_PKEY_free(pkey);
        grn_log_error(GRN_LOG_EMERG, cf->log, 0,
                      "certificate key \"%s\" in %.*s:%lu does not fit its certificate: %s",
                      key->path.data, (int) key->file.len, key->file.data,
                      (unsigned long) key->line, grn_http_ssl_errors(err, sizeof(err)));
        return GRN_ERROR;
    }
    EVP_PKEY_free(pkey);
    return GRN_OK;
}

/* RFC 7301: the client must offer http/1.1, the only protocol greenc speaks. */
static int
grn_http_ssl_alpn(SSL *ssl GRN_UNUSED, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg GRN_UNUSED)
{
    static const unsigned char  http11[] = "\x08http/1.1";

    if (SSL_select_next_proto((unsigned char **) out, outlen, http11, sizeof(http11) - 1,
                              in, inlen) != OPENSSL_NPN_NEGOTIATED)
    {
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    return SSL_TLSEXT_ERR_OK;
}

/*
 * ssl_prefer_server_ciphers applies below TLS 1.3 only: every TLS 1.3 suite is a strong AEAD,
 * and Mozilla's profile leaves the choice among them to the client (which knows whether it
 * has AES hardware). OpenSSL has one option for both, so a client that offers TLS 1.3 has it
 * cleared on its connection here, before the version and the cipher are chosen.
 */
static int
grn_http_ssl_client_hello(SSL *ssl, int *alert GRN_UNUSED, void *arg GRN_UNUSED)
{
    size_t                len, i;
    grn_http_conn_t      *hc = SSL_get_app_data(ssl);
    const unsigned char  *ext;

    if (!(SSL_get_options(ssl) & SSL_OP_CIPHER_SERVER_PREFERENCE)
        || SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_supported_versions, &ext, &len) != 1
        || len < 1)
    {
        return SSL_CLIENT_HELLO_SUCCESS;
    }
    /* A one-byte length, then two bytes per version. */
    for (i = 1; i + 1 < len && i < 1 + (size_t) ext[0]; i += 2) {
        if (ext[i] == 0x03 && ext[i + 1] == 0x04) {
            SSL_clear_options(ssl, SSL_OP_CIPHER_SERVER_PREFERENCE);
            if (hc) {
                hc->ssl_client_order = 1;
            }
            break;
        }
    }
    return SSL_CLIENT_HELLO_SUCCESS;
}

/* The handshake goes on whatever the chain's fate; ssl_verify_client judges it per request. */
static int
grn_http_ssl_verify_cb(int ok GRN_UNUSED, X509_STORE_CTX *store GRN_UNUSED)
{
    return 1;
}

static int grn_http_ssl_sni(SSL *ssl, int *alert, void *arg);

/* ssl_session_cache shared:NAME:SIZE: one cache per NAME in a generation. */
typedef struct {
    grn_str_t          name;
    grn_int_t          size;
    grn_ssl_cache_t   *cache;
} grn_http_ssl_cache_ref_t;

static grn_int_t
grn_http_ssl_attach_cache(grn_conf_t *cf, SSL_CTX *ctx, grn_http_ssl_conf_t *conf,
    grn_array_t *caches)
{
    grn_uint_t                 i;
    grn_http_ssl_cache_ref_t  *ref = caches->elts;

    for (i = 0; i < caches->nelts; i++) {
        if (grn_str_eq(&ref[i].name, &conf->session_cache_name)) {
            break;
        }
    }
    if (i == caches->nelts) {
        ref = grn_array_push(caches);
        if (ref == NULL) {
            return GRN_ERROR;
        }
        ref->name = conf->session_cache_name;
        ref->size = conf->session_cache;
        ref->cache = grn_ssl_cache_create(cf->pool, (size_t) conf->session_cache, cf->log);
        if (ref->cache == NULL) {
            return GRN_ERROR;
        }
    } else {
        ref = &ref[i];
        if (ref->size != conf->session_cache) {
            grn_log_error(GRN_LOG_EMERG, cf->log, 0,
                          "ssl_session_cache \"%.*s\" has two sizes in %.*s:%lu",
                          (int) ref->name.len, ref->name.data,
                          (int) conf->session_cache_at.file.len,
                          conf->session_cache_at.file.data,
                          (unsigned long) conf->session_cache_at.line);
            return GRN_ERROR;
        }
    }
    return grn_ssl_cache_attach(ctx, ref->cache, (time_t) (conf->session_timeout / 1000));
}

static void
grn_http_ssl_ctx_cleanup(void *data)
{
    SSL_CTX_free(data);
}

static grn_int_t
grn_http_ssl_protocol_range(SSL_CTX *ctx, grn_uint_t protocols)
{
    int         low = 0, high = 0;
    long        off = 0;
    grn_uint_t  i;
    static const int  versions[] = {
        TLS1_VERSION, TLS1_1_VERSION, TLS1_2_VERSION, TLS1_3_VERSION
    };
    static const long  no[] = {
        SSL_OP_NO_TLSv1, SSL_OP_NO_TLSv1_1, SSL_OP_NO_TLSv1_2, SSL_OP_NO_TLSv1_3
    };

    for (i = 0; i < 4; i++) {
        if (protocols & (1u << i)) {
            low = low ? low : versions[i];
            high = versions[i];
        }
    }
    /* A gap ("TLSv1 TLSv1.2") is closed with the old options, inside the range. */
    for (i = 0; i < 4; i++) {
        if (!(protocols & (1u << i)) && versions[i] > low && versions[i] < high) {
            off |= no[i];
        }
    }
    if (SSL_CTX_set_min_proto_version(ctx, low) != 1
        || SSL_CTX_set_max_proto_version(ctx, high) != 1)
    {
        return GRN_ERROR;
    }
    SSL_CTX_set_options(ctx, off);
    return GRN_OK;
}

static grn_int_t
grn_http_ssl_apply_commands(grn_conf_t *cf, SSL_CTX *ctx, grn_array_t *commands)
{
    int                      rc;
    char                     err[512];
    grn_uint_t               i;
    SSL_CONF_CTX            *cctx;
    grn_http_ssl_command_t  *c;

    if (commands == NULL) {
        return GRN_OK;
    }
    cctx = SSL_CONF_CTX_new();
    if (cctx == NULL) {
        return GRN_ERROR;
    }
    SSL_CONF_CTX_set_flags(cctx, SSL_CONF_FLAG_FILE | SSL_CONF_FLAG_SERVER
                                 | SSL_CONF_FLAG_CERTIFICATE | SSL_CONF_FLAG_SHOW_ERRORS);
    SSL_CONF_CTX_set_ssl_ctx(cctx, ctx);

    c = commands->elts;
    for (i = 0; i < commands->nelts; i++) {
        ERR_clear_error();
        rc = SSL_CONF_cmd(cctx, c[i].name.data, c[i].value.data);
        if (rc <= 0) {
            grn_log_error(GRN_LOG_EMERG, cf->log, 0,
                          "ssl_conf_command \"%s\" \"%s\" in %.*s:%lu is refused by OpenSSL "
                          "(%s): %s", c[i].name.data, c[i].value.data,
                          (int) c[i].file.len, c[i].file.data, (unsigned long) c[i].line,
                          rc == -2 ? "unknown command" : "bad value",
                          grn_http_ssl_errors(err, sizeof(err)));
            SSL_CONF_CTX_free(cctx);
            return GRN_ERROR;
        }
    }
    rc = SSL_CONF_CTX_finish(cctx);
    SSL_CONF_CTX_free(cctx);
    return rc == 1 ? GRN_OK : GRN_ERROR;
}

static grn_int_t
grn_http_ssl_create_ctx(grn_conf_t *cf, grn_http_srv_conf_t *srv, grn_listening_t *ls,
    grn_array_t *caches)
{
    char                  err[512], sid[64];
    long                  options;
    SSL_CTX              *ctx;
    grn_uint_t            i;
    grn_array_t          *passwords = NULL;
    unsigned char         digest[EVP_MAX_MD_SIZE];
    unsigned int          dlen;
    grn_pool_cleanup_t   *cln;
    grn_http_ssl_conf_t  *conf = &srv->ssl;
    grn_http_ssl_file_t  *cert, *key;

    if (conf->certificates == NULL) {
        grn_log_error(GRN_LOG_EMERG, cf->log, 0,
                      "no \"ssl_certificate\" is defined for the \"listen %.*s ssl\" of the "
                      "server in %.*s:%lu", (int) ls->addr_text.len, ls->addr_text.data,
                      (int) srv->file.len, srv->file.data, (unsigned long) srv->line);
        return GRN_ERROR;
    }
    cert = conf->certificates->elts;
    if (conf->certificate_keys == NULL
        || conf->certificate_keys->nelts != conf->certificates->nelts)
    {
        grn_log_error(GRN_LOG_EMERG, cf->log, 0,
                      "each \"ssl_certificate\" needs its \"ssl_certificate_key\": %lu "
                      "certificates and %lu keys for the server in %.*s:%lu",
                      (unsigned long) conf->certificates->nelts,
                      (unsigned long) (conf->certificate_keys
                                       ? conf->certificate_keys->nelts : 0),
                      (int) srv->file.len, srv->file.data, (unsigned long) srv->line);
        return GRN_ERROR;
    }
    key = conf->certificate_keys->elts;

    ctx = SSL_CTX_new(TLS_server_method());
    cln = grn_pool_cleanup_add(cf->pool, 0);
    if (ctx == NULL || cln == NULL) {
        SSL_CTX_free(ctx);
        grn_log_error(GRN_LOG_EMERG, cf->log, 0, "SSL_CTX_new() failed: %s",
                      grn_http_ssl_errors(err, sizeof(err)));
        return GRN_ERROR;
    }
    cln->handler = grn_http_ssl_ctx_cleanup;
    cln->data = ctx;
    conf->ctx = ctx;

    options = SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION
              | SSL_OP_SINGLE_ECDH_USE;
    if (conf->prefer_server_ciphers) {
        options |= SSL_OP_CIPHER_SERVER_PREFERENCE;
    }
    if (!conf->session_tickets) {
        options |= SSL_OP_NO_TICKET;
    }
#ifdef SSL_OP_ENABLE_KTLS
    if (conf->ktls) {
        options |= SSL_OP_ENABLE_KTLS;
    }
#endif
    SSL_CTX_set_options(ctx, options);
    /* Idle connections hold no record buffers; partial writes let a large body stream. */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE
                          | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);

    if (grn_http_ssl_protocol_range(ctx, conf->protocols) != GRN_OK
        || SSL_CTX_set_cipher_list(ctx, conf->ciphers.data ? conf->ciphers.data
                                                           : GRN_HTTP_SSL_CIPHERS) != 1
        || SSL_CTX_set1_groups_list(ctx, GRN_HTTP_SSL_GROUPS) != 1)
    {
        grn_log_error(GRN_LOG_EMERG, cf->log, 0,
                      "the TLS protocols or ciphers of the server in %.*s:%lu are refused "
                      "by OpenSSL: %s", (int) srv->file.len, srv->file.data,
                      (unsigned long) srv->line, grn_http_ssl_errors(err, sizeof(err)));
        return GRN_ERROR;
    }

    if (conf->password_file.path.len) {
        passwords = grn_http_ssl_passwords(cf, &conf->password_file);
        if (passwords == NULL) {
            return GRN_ERROR;
        }
    }

    /* Each key right after its certificate: OpenSSL pairs them by the certificate's type. */
    for (i = 0; i < conf->certificates->nelts; i++) {
        ERR_clear_error();
        if (SSL_CTX_use_certificate_chain_file(ctx, cert[i].path.data) != 1) {
            grn_log_error(GRN_LOG_EMERG, cf->log, 0,
                          "cannot load certificate \"%s\" in %.*s:%lu: %s", cert[i].path.data,
                          (int) cert[i].file.len, cert[i].file.data,
                          (unsigned long) cert[i].line, grn_http_ssl_errors(err, sizeof(err)));
            return GRN_ERROR;
        }
        if (grn_http_ssl_use_key(cf, ctx, &key[i], passwords) != GRN_OK) {
            return GRN_ERROR;
        }
    }
    if (passwords) {
        grn_str_t  *pw = passwords->elts;

        for (i = 0; i < passwords->nelts; i++) {
            explicit_bzero(pw[i].data, pw[i].len);
        }
    }

    if (conf->client_certificate.path.len) {
        STACK_OF(X509_NAME)  *names;

        ERR_clear_error();
        names = SSL_load_client_CA_file(conf->client_certificate.path.data);
        if (names == NULL
            || SSL_CTX_load_verify_locations(ctx, conf->client_certificate.path.data, NULL)
               != 1)
        {
            sk_X509_NAME_pop_free(names, X509_NAME_free);
            grn_log_error(GRN_LOG_EMERG, cf->log, 0,
                          "cannot load ssl_client_certificate \"%s\" in %.*s:%lu: %s",
                          conf->client_certificate.path.data,
                          (int) conf->client_certificate.file.len,
                          conf->client_certificate.file.data,
                          (unsigned long) conf->client_certificate.line,
                          grn_http_ssl_errors(err, sizeof(err)));
            return GRN_ERROR;
        }
        SSL_CTX_set_client_CA_list(ctx, names);
    } else if (conf->verify_client == GRN_HTTP_SSL_VERIFY_ON
               || conf->verify_client == GRN_HTTP_SSL_VERIFY_OPTIONAL)
    {
        grn_log_error(GRN_LOG_EMERG, cf->log, 0,
                      "ssl_verify_client needs ssl_client_certificate (the CAs to trust) for "
                      "the server in %.*s:%lu", (int) srv->file.len, srv->file.data,
                      (unsigned long) srv->line);
        return GRN_ERROR;
    }
    if (conf->verify_client != GRN_HTTP_SSL_VERIFY_OFF) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, grn_http_ssl_verify_cb);
        SSL_CTX_set_verify_depth(ctx, (int) conf->verify_depth);
    }

    /* Sessions of one server resume only on that server: the id context names it. */
    snprintf(sid, sizeof(sid), "%.*s:%lu", (int) grn_min(srv->file.len, 40), srv->file.data,
             (unsigned long) srv->line);
    if (EVP_Digest(sid, strlen(sid), digest, &dlen, EVP_sha256(), NULL) != 1
        || SSL_CTX_set_session_id_context(ctx, digest, SSL_MAX_SID_CTX_LENGTH) != 1)
    {
        return GRN_ERROR;
    }
    if (conf->session_cache > 0) {
        if (grn_http_ssl_attach_cache(cf, ctx, conf, caches) != GRN_OK) {
            return GRN_ERROR;
        }
    } else {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_timeout(ctx, (long) (conf->session_timeout / 1000));
    }

    SSL_CTX_set_alpn_select_cb(ctx, grn_http_ssl_alpn, NULL);
    SSL_CTX_set_client_hello_cb(ctx, grn_http_ssl_client_hello, NULL);
    SSL_CTX_set_tlsext_servername_callback(ctx, grn_http_ssl_sni);

    /* Applied last, so that they can change any default above. */
    return grn_http_ssl_apply_commands(cf, ctx, conf->conf_commands);
}

/* Whether the kernel can take over TLS records (the "tls" upper layer protocol). */
static grn_flag_t
grn_http_ssl_kernel_tls(void)
{
    int      fd;
    ssize_t  n;
    char     buf[256];

    fd = open("/proc/sys/net/ipv4/tcp_available_ulp", O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        return 0;
    }
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) {
        return 0;
    }
    buf[n] = '\0';
    return strstr(buf, "tls") != NULL;
}

grn_int_t
grn_http_ssl_finish(grn_conf_t *cf, grn_cycle_t *cycle)
{
    grn_uint_t             i, j;
    grn_array_t           *caches;
    grn_listening_t       *ls;
    grn_http_addr_t       *addr;
    grn_http_srv_conf_t  **srv;
    grn_flag_t             ktls_warned = 0;

    caches = grn_array_create(cf->temp_pool, 2, sizeof(grn_http_ssl_cache_ref_t));
    if (caches == NULL) {
        return GRN_ERROR;
    }

    ls = cycle->listening.elts;
    for (i = 0; i < cycle->listening.nelts; i++) {
        if (!ls[i].ssl || ls[i].servers == NULL) {
            continue;
        }
        addr = ls[i].servers;
        srv = addr->servers.elts;
        for (j = 0; j < addr->servers.nelts; j++) {
            if (srv[j]->ssl.ctx) {
                continue;
            }
            if (grn_http_ssl_create_ctx(cf, srv[j], &ls[i], caches) != GRN_OK) {
                return GRN_ERROR;
            }
            if (srv[j]->ssl.ktls && !ktls_warned && !grn_http_ssl_kernel_tls()) {
                grn_log_error(GRN_LOG_WARN, cf->log, 0,
                              "ssl_ktls is on for the server in %.*s:%lu, but this kernel "
                              "offers no kernel TLS (no \"tls\" in "
                              "/proc/sys/net/ipv4/tcp_available_ulp; try \"modprobe tls\"): "
                              "files are read and written through OpenSSL instead",
                              (int) srv[j]->file.len, srv[j]->file.data,
                              (unsigned long) srv[j]->line);
                ktls_warned = 1;
            }
        }
    }
    return GRN_OK;
}


/* SNI: the server of that name presents its certificate. */
static int
grn_http_ssl_sni(SSL *ssl, int *alert GRN_UNUSED, void *arg GRN_UNUSED)
{
    const char           *name;
    grn_str_t             host;
    grn_http_conn_t      *hc = SSL_get_app_data(ssl);
    grn_http_request_t    r;
    grn_http_srv_conf_t  *srv;

    name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (name == NULL || hc == NULL) {
        return SSL_TLSEXT_ERR_OK;
    }
    host.data = (char *) name;
    host.len = strlen(name);

    if (grn_http_ssl_sni_pool == NULL) {
        grn_http_ssl_sni_pool = grn_create_pool(1024, hc->worker->log);
        if (grn_http_ssl_sni_pool == NULL) {
            return SSL_TLSEXT_ERR_OK;
        }
    }
    memset(&r, 0, sizeof(r));
    r.pool = grn_http_ssl_sni_pool;
    srv = grn_http_find_server(&r, hc->c.listening->servers, &host);
    grn_reset_pool(grn_http_ssl_sni_pool);

    if (srv && srv->ssl.ctx && srv->ssl.ctx != SSL_get_SSL_CTX(ssl)) {
        SSL_set_SSL_CTX(ssl, srv->ssl.ctx);
        /* The new context's verification mode, which SSL_set_SSL_CTX leaves as it was. */
        SSL_set_verify(ssl, SSL_CTX_get_verify_mode(srv->ssl.ctx),
                       SSL_CTX_get_verify_callback(srv->ssl.ctx));
        SSL_set_verify_depth(ssl, SSL_CTX_get_verify_depth(srv->ssl.ctx));
        SSL_set_options(ssl, SSL_CTX_get_options(srv->ssl.ctx));
        if (hc->ssl_client_order) {
            SSL_clear_options(ssl, SSL_OP_CIPHER_SERVER_PREFERENCE);
        }
    }
    return SSL_TLSEXT_ERR_OK;
}

void
grn_http_ssl_thread_done(void)
{
    if (grn_http_ssl_sni_pool) {
        grn_destroy_pool(grn_http_ssl_sni_pool);
        grn_http_ssl_sni_pool = NULL;
    }
}

#else /* !GRN_HAVE_OPENSSL: `listen ... ssl` is refused, no context is ever made. */

grn_int_t
grn_http_ssl_finish(grn_conf_t *cf GRN_UNUSED, grn_cycle_t *cycle GRN_UNUSED)
{
    return GRN_OK;
}

void
grn_http_ssl_thread_done(void)
{
}

#endif /* GRN_HAVE_OPENSSL */
