/*
 * grn_http_ssl.c: TLS on a connection: the handshake, reads and writes through OpenSSL, the
 * request-level checks (client certificates), the TLS facts the app sees, and their
 * forwarding by the router.
 *
 * The first byte of a connection tells TLS (a handshake record, 0x16) from plain HTTP sent to
 * the wrong port, which is answered with a 400 page that says so, as nginx does. Host picks
 * the server that answers, as on a plain listener; but a Host of another server than the one
 * SNI chose, while either of them verifies clients, is answered with 421, so that a client
 * certificate check cannot be skipped by naming an unchecked server in SNI.
 *
 * Writes: the pieces of a response (head, chunk framing, body) are gathered into one record
 * of up to 16 KB in a per-thread buffer, so a small response is one record and one write(2).
 * OpenSSL wants a write that could not finish retried with the same bytes; the gathered
 * buffer is rebuilt from the same iovec entries (they move only by what was written), so it
 * is the same. Files go out by SSL_sendfile() when the kernel does the encryption (kernel
 * TLS, `ssl_ktls on`), else they are read into that buffer and written as records.
 */

#include "grn_core.h"
#include "grn_http.h"
#include "grn_http_ssl.h"
#include "grn_scoreboard.h"

#include <poll.h>

#if (GRN_HAVE_OPENSSL)

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define GRN_HTTP_SSL_RECORD  16384      /* the largest TLS record's payload */

/* Where a record is gathered or a file's bytes are read: one per thread. */
static __thread char  grn_http_ssl_buf[GRN_HTTP_SSL_RECORD];

static void grn_http_ssl_cert_info(grn_pool_t *pool, grn_http_tls_t *tls, X509 *cert);
static void grn_http_ssl_verify_text(grn_pool_t *pool, grn_http_tls_t *tls, long rc);

static void
grn_http_ssl_count(grn_flag_t ok)
{
    if (grn_sb_self) {
        __atomic_fetch_add(ok ? &grn_sb_self->counts.tls_handshakes
                              : &grn_sb_self->counts.tls_failures, 1, __ATOMIC_RELAXED);
    }
}

grn_int_t
grn_http_ssl_handshake(grn_http_conn_t *hc)
{
    int         n, err;
    char        errs[512];
    SSL        *ssl = hc->ssl;
    SSL_CTX    *ctx;
    unsigned char  first;

    if (ssl == NULL) {
        /* A TLS client starts with a handshake record; anything else is plain HTTP. */
        n = (int) recv(hc->c.fd, &first, 1, MSG_PEEK);
        if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
            hc->read_ready = 0;
            return GRN_AGAIN;
        }
        if (n <= 0) {
            if (n == -1 && errno != ECONNRESET) {
                grn_http_conn_log(GRN_LOG_INFO, hc, errno, "recv() failed");
            }
            return GRN_ERROR;
        }
        if (first != 0x16) {
            hc->handshaking = 0;
            hc->plain_http = 1;
            return GRN_DECLINED;
        }

        ctx = ((grn_http_addr_t *) hc->c.listening->servers)->default_server->ssl.ctx;
        ssl = SSL_new(ctx);
        if (ssl == NULL || SSL_set_fd(ssl, hc->c.fd) != 1) {
            SSL_free(ssl);
            grn_http_conn_log(GRN_LOG_ALERT, hc, 0, "SSL_new() failed: %s",
                              grn_http_ssl_errors(errs, sizeof(errs)));
            return GRN_ERROR;
        }
        SSL_set_accept_state(ssl);
        SSL_set_app_data(ssl, hc);
        hc->ssl = ssl;
    }

    ERR_clear_error();
    n = SSL_do_handshake(ssl);
    if (n == 1) {
        hc->handshaking = 0;
        /* Application data may have come with the handshake's last flight. */
        hc->read_ready = 1;
#ifdef BIO_get_ktls_send
        hc->ktls = BIO_get_ktls_send(SSL_get_wbio(ssl)) ? 1 : 0;
#endif
        grn_http_ssl_count(1);
        return GRN_OK;
    }

    err = SSL_get_error(ssl, n);
    if (err == SSL_ERROR_WANT_READ) {
        hc->read_ready = 0;
        return GRN_AGAIN;
    }
    if (err == SSL_ERROR_WANT_WRITE) {
        hc->write_ready = 0;
        return GRN_AGAIN;
    }

    grn_http_ssl_count(0);
    if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
        /* The client closed or reset the connection mid-handshake. */
        if (errno && errno != ECONNRESET && errno != EPIPE) {
            grn_http_conn_log(GRN_LOG_INFO, hc, errno, "TLS handshake failed");
        } else {
            grn_http_conn_log(GRN_LOG_INFO, hc, 0,
                              "TLS handshake failed: the client closed the connection");
        }
    } else {
        grn_http_conn_log(GRN_LOG_INFO, hc, 0, "TLS handshake failed: %s",
                          grn_http_ssl_errors(errs, sizeof(errs)));
    }
    SSL_free(ssl);
    hc->ssl = NULL;           /* no close_notify after a failed handshake */
    return GRN_ERROR;
}

/* What SSL_read/SSL_write's failure means for the caller, as errno; -1 or 0 (EOF). */
static ssize_t
grn_http_ssl_failed(grn_http_conn_t *hc, int n, grn_flag_t reading)
{
    int   err;
    char  errs[512];

    err = SSL_get_error(hc->ssl, n);
    switch (err) {
    case SSL_ERROR_WANT_READ:
        if (reading) {
            hc->read_ready = 0;
        } else {
            hc->write_ready = 0;
            hc->ssl_write_wants_read = 1;
        }
        errno = EAGAIN;
        return -1;

    case SSL_ERROR_WANT_WRITE:
        if (reading) {
            hc->read_ready = 0;
            hc->ssl_read_wants_write = 1;
        } else {
            hc->write_ready = 0;
        }
        errno = EAGAIN;
        return -1;

    case SSL_ERROR_ZERO_RETURN:
        /* close_notify: the client is done sending. */
        if (reading) {
            return 0;
        }
        errno = EPIPE;
        return -1;

    case SSL_ERROR_SYSCALL:
        if (ERR_peek_error() == 0 && (errno == 0 || n == 0)) {
            /* The peer closed without close_notify: an end of stream for HTTP/1.1. */
            if (reading) {
                return 0;
            }
            errno = EPIPE;
        }
        ERR_clear_error();
        SSL_set_quiet_shutdown(hc->ssl, 1);
        return -1;

    default:
        grn_http_conn_log(GRN_LOG_INFO, hc, 0, "%s failed: %s",
                          reading ? "SSL_read()" : "SSL_write()",
                          grn_http_ssl_errors(errs, sizeof(errs)));
        SSL_set_quiet_shutdown(hc->ssl, 1);
        errno = ECONNRESET;       /* logged here: the caller closes quietly */
        return -1;
    }
}

ssize_t
grn_http_ssl_recv(grn_http_conn_t *hc, char *buf, size_t size)
{
    int  n;

    hc->ssl_read_wants_write = 0;
    ERR_clear_error();
    n = SSL_read(hc->ssl, buf, (int) grn_min(size, (size_t) INT_MAX));
    if (n > 0) {
        return n;
    }
    return grn_http_ssl_failed(hc, n, 1);
}

ssize_t
grn_http_ssl_writev(grn_http_conn_t *hc, const struct iovec *iov, int iovcnt)
{
    int          n, i;
    size_t       len, chunk;
    const char  *data;

    hc->ssl_write_wants_read = 0;

    if (iovcnt == 1 || iov[0].iov_len >= GRN_HTTP_SSL_RECORD) {
        /* One large piece goes as it is: OpenSSL cuts it into records. */
        data = iov[0].iov_base;
        len = grn_min(iov[0].iov_len, (size_t) INT_MAX);
    } else {
        /* Small pieces are gathered into one record. */
        len = 0;
        for (i = 0; i < iovcnt && len < GRN_HTTP_SSL_RECORD; i++) {
            chunk = grn_min(iov[i].iov_len, GRN_HTTP_SSL_RECORD - len);
            memcpy(grn_http_ssl_buf + len, iov[i].iov_base, chunk);
            len += chunk;
        }
        data = grn_http_ssl_buf;
    }
    if (len == 0) {
        return 0;
    }

    ERR_clear_error();
    n = SSL_write(hc->ssl, data, (int) len);
    if (n > 0) {
        return n;
    }
    return grn_http_ssl_failed(hc, n, 0);
}

ssize_t
grn_http_ssl_sendfile(grn_http_conn_t *hc, int fd, off_t *pos, size_t size)
{
    int      n;
    ssize_t  got;

    hc->ssl_write_wants_read = 0;

#ifdef BIO_get_ktls_send
    if (hc->ktls) {
        ossl_ssize_t  sent;

        ERR_clear_error();
        sent = SSL_sendfile(hc->ssl, fd, *pos, size, 0);
        if (sent > 0) {
            *pos += sent;
            return sent;
        }
        return grn_http_ssl_failed(hc, (int) sent, 0);
    }
#endif

    /* Read again from the same offset after a write that must be retried: the same bytes. */
    got = pread(fd, grn_http_ssl_buf, grn_min(size, (size_t) GRN_HTTP_SSL_RECORD), *pos);
    if (got <= 0) {
        if (got == 0) {
            return 0;            /* the file is shorter than it was: the caller says so */
        }
        grn_http_conn_log(GRN_LOG_CRIT, hc, errno, "pread() of a file being sent failed");
        errno = EIO;
        return -1;
    }

    ERR_clear_error();
    n = SSL_write(hc->ssl, grn_http_ssl_buf, (int) got);
    if (n > 0) {
        *pos += n;
        return n;
    }
    return grn_http_ssl_failed(hc, n, 0);
}

grn_int_t
grn_http_ssl_send_small(grn_http_conn_t *hc, const char *data, size_t len, grn_msec_t timeout)
{
    int            n;
    struct pollfd  pfd;

    for ( ;; ) {
        ERR_clear_error();
        n = SSL_write(hc->ssl, data, (int) len);
        if (n > 0) {
            return GRN_OK;
        }
        if (grn_http_ssl_failed(hc, n, 0) == -1 && errno == EAGAIN) {
            pfd.fd = hc->c.fd;
            pfd.events = hc->ssl_write_wants_read ? POLLIN : POLLOUT;
            if (poll(&pfd, 1, (int) timeout) > 0) {
                continue;
            }
        }
        return GRN_ERROR;
    }
}

void
grn_http_ssl_shutdown(grn_http_conn_t *hc)
{
    if (hc->ssl == NULL || hc->handshaking) {
        return;
    }
    /* One try: close_notify goes out if the socket takes it; its answer is never awaited. */
    ERR_clear_error();
    if (!SSL_get_quiet_shutdown(hc->ssl) && SSL_shutdown(hc->ssl) < 0) {
        ERR_clear_error();
    }
    SSL_set_quiet_shutdown(hc->ssl, 1);
}

void
grn_http_ssl_free(grn_http_conn_t *hc)
{
    if (hc->ssl) {
        grn_http_ssl_shutdown(hc);
        /*
         * OpenSSL drops the session of a connection freed without close_notify from the
         * cache; a client that went away is no reason to make its next handshake a full one.
         */
        SSL_set_shutdown(hc->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
        SSL_free(hc->ssl);
        hc->ssl = NULL;
    }
    hc->handshaking = 0;
    hc->plain_http = 0;
    hc->ktls = 0;
    hc->ssl_read_wants_write = 0;
    hc->ssl_write_wants_read = 0;
    hc->ssl_client_order = 0;
}

grn_flag_t
grn_http_ssl_ktls(grn_http_conn_t *hc)
{
    return hc->ktls;
}


/* Requests. */

grn_uint_t
grn_http_ssl_check_request(grn_http_conn_t *hc, grn_http_request_t *r, const char **reason)
{
    long                  rc;
    X509                 *cert;
    SSL_CTX              *negotiated;
    grn_http_ssl_conf_t  *conf = &r->srv->ssl;

    if (hc->plain_http) {
        *reason = "sent a plain HTTP request to an HTTPS port";
        hc->error_detail = "The plain HTTP request was sent to HTTPS port.";
        return 400;
    }
    if (hc->ssl == NULL) {
        return 0;
    }

    negotiated = SSL_get_SSL_CTX(hc->ssl);
    if (conf->ctx != negotiated) {
        grn_http_srv_conf_t  *sni = NULL;
        grn_http_addr_t      *addr = hc->c.listening->servers;
        grn_http_srv_conf_t **srv = addr->servers.elts;
        grn_uint_t            i;

        for (i = 0; i < addr->servers.nelts; i++) {
            if (srv[i]->ssl.ctx == negotiated) {
                sni = srv[i];
            }
        }
        if (conf->verify_client != GRN_HTTP_SSL_VERIFY_OFF
            || (sni && sni->ssl.verify_client != GRN_HTTP_SSL_VERIFY_OFF))
        {
            /* nginx's answer: the client must connect again for that name. */
            *reason = "named one server in SNI and another in Host, while one of them "
                      "verifies client certificates";
            return 421;
        }
    }

    if (conf->verify_client == GRN_HTTP_SSL_VERIFY_OFF) {
        return 0;
    }

    cert = SSL_get1_peer_certificate(hc->ssl);
    if (cert == NULL) {
        if (conf->verify_client == GRN_HTTP_SSL_VERIFY_ON) {
            *reason = "sent no required TLS client certificate";
            hc->error_detail = "No required SSL certificate was sent.";
            return 400;
        }
        return 0;
    }
    X509_free(cert);

    rc = SSL_get_verify_result(hc->ssl);
    if (rc != X509_V_OK && conf->verify_client != GRN_HTTP_SSL_VERIFY_NO_CA) {
        grn_http_conn_log(GRN_LOG_INFO, hc, 0, "client TLS certificate verify error: (%ld:%s)",
                          rc, X509_verify_cert_error_string(rc));
        *reason = "sent a TLS client certificate that does not verify";
        hc->error_detail = "The SSL certificate error.";
        return 400;
    }
    return 0;
}

/* Copies text of len into the pool; an empty value when it cannot. */
static void
grn_http_ssl_str(grn_pool_t *pool, grn_str_t *to, const char *text, size_t len)
{
    to->data = grn_pnalloc(pool, len + 1);
    if (to->data == NULL) {
        to->len = 0;
        return;
    }
    memcpy(to->data, text, len);
    to->data[len] = '\0';
    to->len = len;
}

/* A memory BIO's contents into the pool. */
static void
grn_http_ssl_bio_str(grn_pool_t *pool, grn_str_t *to, BIO *bio)
{
    char  *data;
    long   len;

    len = BIO_get_mem_data(bio, &data);
    if (len > 0) {
        grn_http_ssl_str(pool, to, data, (size_t) len);
    } else {
        to->len = 0;
    }
    (void) BIO_reset(bio);
}

grn_http_tls_t *
grn_http_ssl_info(grn_http_request_t *r)
{
    SSL              *ssl;
    X509             *cert;
    const char       *s;
    grn_http_tls_t   *tls;
    grn_http_conn_t  *hc = r->connection->data;

    if (r->tls || hc->ssl == NULL) {
        return r->tls;
    }
    ssl = hc->ssl;
    tls = grn_pcalloc(r->pool, sizeof(grn_http_tls_t));
    if (tls == NULL) {
        return NULL;
    }

    s = SSL_get_version(ssl);
    grn_http_ssl_str(r->pool, &tls->protocol, s, strlen(s));
    s = SSL_get_cipher_name(ssl);
    grn_http_ssl_str(r->pool, &tls->cipher, s, strlen(s));
    s = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (s) {
        grn_http_ssl_str(r->pool, &tls->server_name, s, strlen(s));
    }

    cert = SSL_get1_peer_certificate(ssl);
    if (cert == NULL) {
        grn_str_set(&tls->verify, "NONE");
        r->tls = tls;
        return tls;
    }

    grn_http_ssl_verify_text(r->pool, tls, SSL_get_verify_result(ssl));
    grn_http_ssl_cert_info(r->pool, tls, cert);
    X509_free(cert);
    ERR_clear_error();

    r->tls = tls;
    return tls;
}

/* The facts of a client certificate: its names, serial number and PEM text. */
static void
grn_http_ssl_cert_info(grn_pool_t *pool, grn_http_tls_t *tls, X509 *cert)
{
    BIO           *bio;
    BIGNUM        *bn;
    ASN1_INTEGER  *serial;

    bio = BIO_new(BIO_s_mem());
    if (bio) {
        if (X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) >= 0) {
            grn_http_ssl_bio_str(pool, &tls->s_dn, bio);
        }
        if (X509_NAME_print_ex(bio, X509_get_issuer_name(cert), 0, XN_FLAG_RFC2253) >= 0) {
            grn_http_ssl_bio_str(pool, &tls->i_dn, bio);
        }
        if (PEM_write_bio_X509(bio, cert) == 1) {
            grn_http_ssl_bio_str(pool, &tls->cert, bio);
        }
        BIO_free(bio);
    }
    serial = X509_get_serialNumber(cert);
    bn = serial ? ASN1_INTEGER_to_BN(serial, NULL) : NULL;
    if (bn) {
        char  *hex = BN_bn2hex(bn);

        if (hex) {
            grn_http_ssl_str(pool, &tls->serial, hex, strlen(hex));
            OPENSSL_free(hex);
        }
        BN_free(bn);
    }
}

/* SSL_CLIENT_VERIFY for an X509_V_* result. */
static void
grn_http_ssl_verify_text(grn_pool_t *pool, grn_http_tls_t *tls, long rc)
{
    int   n;
    char  why[256];

    if (rc == X509_V_OK) {
        grn_str_set(&tls->verify, "SUCCESS");
        return;
    }
    n = snprintf(why, sizeof(why), "FAILED:%s", X509_verify_cert_error_string(rc));
    grn_http_ssl_str(pool, &tls->verify, why, (size_t) grn_min(n, (int) sizeof(why) - 1));
}

/*
 * The router's second forwarding line, after the first when the client came over TLS:
 *
 *     GRNT/1 <protocol> <cipher> <verify: -|0|X509_V_ code> <SNI|-> <certificate|->\r\n
 *
 * verify "-" is no certificate, a number the chain's verification result; the certificate is
 * its DER in base64 (so, like every field, without spaces). A certificate over
 * GRN_HTTP_SSL_FWD_CERT bytes is left out (the app then sees its verify result only).
 */
#define GRN_HTTP_SSL_FWD_MAGIC  "GRNT/1 "
#define GRN_HTTP_SSL_FWD_CERT   3072

size_t
grn_http_ssl_forward_line(grn_http_request_t *r, char *buf, size_t size)
{
    int               n, der_len = 0;
    long              verify = -1;
    size_t            len;
    X509             *cert;
    const char       *sni;
    unsigned char    *der = NULL;
    grn_http_conn_t  *hc = r->connection->data;

    if (hc->ssl == NULL) {
        return 0;
    }
    sni = SSL_get_servername(hc->ssl, TLSEXT_NAMETYPE_host_name);
    cert = SSL_get1_peer_certificate(hc->ssl);
    if (cert) {
        verify = SSL_get_verify_result(hc->ssl);
        der_len = i2d_X509(cert, &der);
        X509_free(cert);
        if (der_len > GRN_HTTP_SSL_FWD_CERT) {
            grn_http_conn_log(GRN_LOG_WARN, hc, 0, "the client certificate (%d bytes) is too "
                              "large to forward to the app; it gets SSL_CLIENT_VERIFY only",
                              der_len);
            OPENSSL_free(der);
            der = NULL;
        }
    }

    n = snprintf(buf, size, GRN_HTTP_SSL_FWD_MAGIC "%s %s ", SSL_get_version(hc->ssl),
                 SSL_get_cipher_name(hc->ssl));
    if (n <= 0 || (size_t) n >= size) {
        OPENSSL_free(der);
        return 0;
    }
    len = (size_t) n;
    n = verify < 0 ? snprintf(buf + len, size - len, "- %s ", sni ? sni : "-")
                   : snprintf(buf + len, size - len, "%ld %s ", verify, sni ? sni : "-");
    if (n <= 0 || (size_t) n >= size - len) {
        OPENSSL_free(der);
        return 0;
    }
    len += (size_t) n;

    if (der) {
        if (size - len < (size_t) (4 * ((der_len + 2) / 3)) + 3) {
            OPENSSL_free(der);
            return 0;
        }
        len += (size_t) EVP_EncodeBlock((unsigned char *) buf + len, der, der_len);
        OPENSSL_free(der);
    } else {
        buf[len++] = '-';
    }
    if (size - len < 2) {
        return 0;
    }
    buf[len++] = '\r';
    buf[len++] = '\n';
    return len;
}

/* The next space-separated field of [*p, end). */
static grn_flag_t
grn_http_ssl_field(const char **p, const char *end, grn_str_t *field)
{
    const char  *sp = memchr(*p, ' ', (size_t) (end - *p));

    if (sp == NULL) {
        sp = end;
    }
    if (sp == *p) {
        return 0;
    }
    field->data = (char *) *p;
    field->len = (size_t) (sp - *p);
    *p = sp < end ? sp + 1 : end;
    return 1;
}

grn_int_t
grn_http_ssl_forward_parse(grn_pool_t *pool, const char *line, size_t len,
    grn_http_tls_t **out)
{
    int              n;
    long             verify;
    X509            *cert;
    grn_str_t        f;
    const char      *p = line, *end = line + len;
    unsigned char   *der;
    grn_http_tls_t  *tls;
    const unsigned char  *q;

    if (len < sizeof(GRN_HTTP_SSL_FWD_MAGIC)
        || memcmp(line, GRN_HTTP_SSL_FWD_MAGIC, sizeof(GRN_HTTP_SSL_FWD_MAGIC) - 1) != 0)
    {
        return GRN_ERROR;
    }
    p += sizeof(GRN_HTTP_SSL_FWD_MAGIC) - 1;
    tls = grn_pcalloc(pool, sizeof(grn_http_tls_t));
    if (tls == NULL) {
        return GRN_ERROR;
    }

    if (!grn_http_ssl_field(&p, end, &f)) {
        return GRN_ERROR;
    }
    grn_http_ssl_str(pool, &tls->protocol, f.data, f.len);
    if (!grn_http_ssl_field(&p, end, &f)) {
        return GRN_ERROR;
    }
    grn_http_ssl_str(pool, &tls->cipher, f.data, f.len);

    if (!grn_http_ssl_field(&p, end, &f)) {
        return GRN_ERROR;
    }
    if (f.len == 1 && f.data[0] == '-') {
        grn_str_set(&tls->verify, "NONE");
        verify = -1;
    } else {
        verify = (long) grn_atoi(f.data, f.len);
        if (verify < 0) {
            return GRN_ERROR;
        }
        grn_http_ssl_verify_text(pool, tls, verify);
    }

    if (!grn_http_ssl_field(&p, end, &f)) {
        return GRN_ERROR;
    }
    if (!(f.len == 1 && f.data[0] == '-')) {
        grn_http_ssl_str(pool, &tls->server_name, f.data, f.len);
    }

    if (!grn_http_ssl_field(&p, end, &f) || p != end) {
        return GRN_ERROR;
    }
    if (!(f.len == 1 && f.data[0] == '-') && verify >= 0) {
        der = grn_pnalloc(pool, f.len);
        if (der == NULL) {
            return GRN_ERROR;
        }
        n = EVP_DecodeBlock(der, (unsigned char *) f.data, (int) f.len);
        if (n <= 0) {
            return GRN_ERROR;
        }
        /* EVP_DecodeBlock counts the padding's zero bytes; d2i stops at the DER's end. */
        q = der;
        cert = d2i_X509(NULL, &q, n);
        if (cert == NULL) {
            ERR_clear_error();
            return GRN_ERROR;
        }
        grn_http_ssl_cert_info(pool, tls, cert);
        X509_free(cert);
    }
    *out = tls;
    return GRN_OK;
}
#else /* !GRN_HAVE_OPENSSL: no listener is ever "ssl"; these are never reached. */

grn_int_t
grn_http_ssl_handshake(grn_http_conn_t *hc GRN_UNUSED)
{
    return GRN_ERROR;
}

ssize_t
grn_http_ssl_recv(grn_http_conn_t *hc GRN_UNUSED, char *buf GRN_UNUSED, size_t size GRN_UNUSED)
{
    errno = ENOTSUP;
    return -1;
}

ssize_t
grn_http_ssl_writev(grn_http_conn_t *hc GRN_UNUSED, const struct iovec *iov GRN_UNUSED,
    int iovcnt GRN_UNUSED)
{
    errno = ENOTSUP;
    return -1;
}

ssize_t
grn_http_ssl_sendfile(grn_http_conn_t *hc GRN_UNUSED, int fd GRN_UNUSED, off_t *pos GRN_UNUSED,
    size_t size GRN_UNUSED)
{
    errno = ENOTSUP;
    return -1;
}

grn_int_t
grn_http_ssl_send_small(grn_http_conn_t *hc GRN_UNUSED, const char *data GRN_UNUSED,
    size_t len GRN_UNUSED, grn_msec_t timeout GRN_UNUSED)
{
    return GRN_ERROR;
}

void
grn_http_ssl_shutdown(grn_http_conn_t *hc GRN_UNUSED)
{
}

void
grn_http_ssl_free(grn_http_conn_t *hc GRN_UNUSED)
{
}

grn_flag_t
grn_http_ssl_ktls(grn_http_conn_t *hc GRN_UNUSED)
{
    return 0;
}

grn_uint_t
grn_http_ssl_check_request(grn_http_conn_t *hc GRN_UNUSED, grn_http_request_t *r GRN_UNUSED,
    const char **reason GRN_UNUSED)
{
    return 0;
}

grn_http_tls_t *
grn_http_ssl_info(grn_http_request_t *r)
{
    return r->tls;
}

size_t
grn_http_ssl_forward_line(grn_http_request_t *r GRN_UNUSED, char *buf GRN_UNUSED,
    size_t size GRN_UNUSED)
{
    return 0;
}

grn_int_t
grn_http_ssl_forward_parse(grn_pool_t *pool GRN_UNUSED, const char *line GRN_UNUSED,
    size_t len GRN_UNUSED, grn_http_tls_t **out GRN_UNUSED)
{
    return GRN_ERROR;
}

#endif /* GRN_HAVE_OPENSSL */
