/*
 * test_ssl_cache.c: the TLS session cache the workers share (grn_http_ssl_cache.c).
 *
 * Real handshakes in one process: a client SSL and a server SSL talk through a BIO pair, with a
 * throwaway self-signed P-256 certificate made here. The servers set SSL_OP_NO_TICKET, so every
 * resumption, TLS 1.2 and TLS 1.3 alike, goes through the cache; forked children stand in for
 * the other workers of a generation.
 */

#include "grn_core.h"

#if (GRN_HAVE_OPENSSL)

#include "grn_http_ssl_cache.h"
#include "grn_test.h"

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define FULL      0
#define RESUMED   1
#define FAILED   -1

static const int   versions[] = { TLS1_2_VERSION, TLS1_3_VERSION };

static EVP_PKEY   *key;
static X509       *cert;           /* the servers' */
static X509       *big_cert;       /* a client's, too big for a slot once in a session */

/* What the cache logs goes nowhere, unless a test reads it. */
static grn_log_t   t_log = { GRN_LOG_ALERT, -1, NULL, 1, NULL };


static X509 *
self_signed(const char *comment)
{
    X509            *x;
    X509_NAME       *name;
    X509_EXTENSION  *ext;

    x = X509_new();
    if (x == NULL) {
        return NULL;
    }

    name = X509_get_subject_name(x);

    if (X509_set_version(x, 2) != 1
        || ASN1_INTEGER_set(X509_get_serialNumber(x), 1) != 1
        || X509_gmtime_adj(X509_getm_notBefore(x), -60) == NULL
        || X509_gmtime_adj(X509_getm_notAfter(x), 3600) == NULL
        || X509_set_pubkey(x, key) != 1
        || X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                      (const unsigned char *) "localhost", -1, -1, 0) != 1
        || X509_set_issuer_name(x, name) != 1)
    {
        goto failed;
    }

    if (comment) {
        ext = X509V3_EXT_conf_nid(NULL, NULL, NID_netscape_comment, comment);
        if (ext == NULL) {
            goto failed;
        }
        if (X509_add_ext(x, ext, -1) != 1) {
            X509_EXTENSION_free(ext);
            goto failed;
        }
        X509_EXTENSION_free(ext);
    }

    if (X509_sign(x, key, EVP_sha256()) == 0) {
        goto failed;
    }

    return x;

failed:

    X509_free(x);
    return NULL;
}


static int
make_identities(void)
{
    char  comment[6000];

#if OPENSSL_VERSION_NUMBER >= 0x30000000L
    key = EVP_EC_gen("P-256");
#else
    EVP_PKEY_CTX  *pc;

    pc = EVP_PKEY_CTX_new_id(EVP_PKEY_EC, NULL);
    if (pc == NULL || EVP_PKEY_keygen_init(pc) != 1
        || EVP_PKEY_CTX_set_ec_paramgen_curve_nid(pc, NID_X9_62_prime256v1) != 1
        || EVP_PKEY_keygen(pc, &key) != 1)
    {
        key = NULL;
    }
    EVP_PKEY_CTX_free(pc);
#endif

    if (key == NULL) {
        return 0;
    }

    memset(comment, 'x', sizeof(comment) - 1);
    comment[sizeof(comment) - 1] = '\0';

    cert = self_signed(NULL);
    big_cert = self_signed(comment);

    return cert != NULL && big_cert != NULL;
}


static void
free_identities(void)
{
    X509_free(big_cert);
    X509_free(cert);
    EVP_PKEY_free(key);
}


static int
accept_any_peer(int ok GRN_UNUSED, X509_STORE_CTX *store GRN_UNUSED)
{
    return 1;
}


/* A server SSL_CTX as a worker makes it: the cache attached, its own id context. */
static SSL_CTX *
server_ctx(grn_ssl_cache_t *cache, const char *sid_ctx, int version, time_t timeout)
{
    SSL_CTX  *ctx;

    ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        return NULL;
    }

    if (SSL_CTX_use_certificate(ctx, cert) != 1
        || SSL_CTX_use_PrivateKey(ctx, key) != 1
        || SSL_CTX_set_min_proto_version(ctx, version) != 1
        || SSL_CTX_set_max_proto_version(ctx, version) != 1
        || SSL_CTX_set_session_id_context(ctx, (const unsigned char *) sid_ctx,
                                          (unsigned int) strlen(sid_ctx)) != 1
        || grn_ssl_cache_attach(ctx, cache, timeout) != GRN_OK)
    {
        SSL_CTX_free(ctx);
        return NULL;
    }

    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);

    /* Asks for a client certificate, which then goes into the session. */
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, accept_any_peer);

    return ctx;
}


static SSL_CTX *
client_ctx(int version, X509 *client_cert)
{
    SSL_CTX  *ctx;

    ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL) {
        return NULL;
    }

    if (SSL_CTX_set_min_proto_version(ctx, version) != 1
        || SSL_CTX_set_max_proto_version(ctx, version) != 1
        || (client_cert
            && (SSL_CTX_use_certificate(ctx, client_cert) != 1
                || SSL_CTX_use_PrivateKey(ctx, key) != 1)))
    {
        SSL_CTX_free(ctx);
        return NULL;
    }

    return ctx;
}


static int
progress(SSL *ssl, int rc)
{
    int  err = SSL_get_error(ssl, rc);

    return err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE;
}


/*
 * One connection, start to close: RESUMED or FULL as the server saw it, FAILED if the
 * handshake did not complete. With `resume`, the client offers that session; with `saved`, it
 * keeps the session it ends with (TLS 1.3: from the server's tickets, read after the
 * handshake). Closed with close_notify unless `unclean`: OpenSSL drops from the cache the
 * session of an SSL freed without one.
 */
static int
handshake(SSL_CTX *sctx, SSL_CTX *cctx, SSL_SESSION *resume, SSL_SESSION **saved,
    int unclean)
{
    int    i, rc, client_done, server_done, result;
    BIO   *cbio, *sbio;
    SSL   *c, *s;
    char   byte;

    result = FAILED;
    client_done = 0;
    server_done = 0;

    c = SSL_new(cctx);
    s = SSL_new(sctx);

    if (c == NULL || s == NULL || BIO_new_bio_pair(&cbio, 0, &sbio, 0) != 1) {
        goto done;
    }

    SSL_set_bio(c, cbio, cbio);
    SSL_set_bio(s, sbio, sbio);
    SSL_set_connect_state(c);
    SSL_set_accept_state(s);

    if (resume && SSL_set_session(c, resume) != 1) {
        goto done;
    }

    for (i = 0; i < 64 && !(client_done && server_done); i++) {
        if (!client_done) {
            rc = SSL_do_handshake(c);
            if (rc == 1) {
                client_done = 1;
            } else if (!progress(c, rc)) {
                goto done;
            }
        }

        if (!server_done) {
            rc = SSL_do_handshake(s);
            if (rc == 1) {
                server_done = 1;
            } else if (!progress(s, rc)) {
                goto done;
            }
        }
    }

    if (!(client_done && server_done)) {
        goto done;
    }

    /* Takes in what the server sent after its Finished (TLS 1.3 tickets); no data comes. */
    rc = SSL_read(c, &byte, 1);
    if (rc > 0 || SSL_get_error(c, rc) != SSL_ERROR_WANT_READ) {
        goto done;
    }

    if (SSL_session_reused(s) != SSL_session_reused(c)) {
        goto done;
    }

    /* A copy: OpenSSL marks the client's own not resumable when it is freed unclean. */
    if (saved) {
        *saved = SSL_SESSION_dup(SSL_get0_session(c));
        if (*saved == NULL) {
            goto done;
        }
    }

    result = SSL_session_reused(s) ? RESUMED : FULL;

    if (!unclean) {
        (void) SSL_shutdown(s);
        (void) SSL_shutdown(c);
    }

done:

    if (result == FAILED) {
        ERR_print_errors_fp(stdout);
    }

    ERR_clear_error();
    SSL_free(c);
    SSL_free(s);

    return result;
}


static grn_ssl_cache_stats_t
stats_of(grn_ssl_cache_t *cache)
{
    grn_ssl_cache_stats_t  st;

    grn_ssl_cache_stats(cache, &st);
    return st;
}


/* Per full handshake, the server stores one session in TLS 1.2, one per ticket in TLS 1.3. */
static uint64_t
sessions_per_handshake(int version)
{
    return version == TLS1_3_VERSION ? 2 : 1;
}


static int
write_all(int fd, const void *buf, size_t len)
{
    ssize_t      n;
    const char  *p = buf;

    while (len) {
        n = write(fd, p, len);
        if (n == -1 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return 0;
        }
        p += n;
        len -= (size_t) n;
    }

    return 1;
}


static int
read_all(int fd, void *buf, size_t len)
{
    char     *p = buf;
    ssize_t   n;

    while (len) {
        n = read(fd, p, len);
        if (n == -1 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return 0;
        }
        p += n;
        len -= (size_t) n;
    }

    return 1;
}


GRN_TEST(create_refuses_less_than_32k_and_fits_whole_sets)
{
    grn_pool_t       *pool;
    grn_ssl_cache_t  *cache;

    pool = grn_create_pool(1024, NULL);
    if (!grn_expect(pool != NULL)) {
        return;
    }

    grn_expect(grn_ssl_cache_create(pool, GRN_SSL_CACHE_MIN_SIZE - 1, &t_log) == NULL);

    cache = grn_ssl_cache_create(pool, GRN_SSL_CACHE_MIN_SIZE, &t_log);
    grn_expect(cache != NULL && stats_of(cache).capacity == 4);

    cache = grn_ssl_cache_create(pool, 1024 * 1024, &t_log);
    grn_expect(cache != NULL && stats_of(cache).capacity == 252
               && stats_of(cache).entries == 0 && stats_of(cache).stored == 0);

    grn_destroy_pool(pool);
}


GRN_TEST(a_second_ssl_ctx_sharing_the_cache_resumes_the_session)
{
    size_t                 i;
    SSL_CTX               *worker1, *worker2, *client;
    grn_pool_t            *pool;
    SSL_SESSION           *sess;
    grn_ssl_cache_t       *cache;
    grn_ssl_cache_stats_t  st;

    for (i = 0; i < grn_nelems(versions); i++) {
        pool = grn_create_pool(1024, NULL);
        cache = grn_ssl_cache_create(pool, 1024 * 1024, &t_log);
        worker1 = server_ctx(cache, "server-a", versions[i], 300);
        worker2 = server_ctx(cache, "server-a", versions[i], 300);
        client = client_ctx(versions[i], NULL);
        sess = NULL;

        if (grn_expect(worker1 && worker2 && client)) {
            grn_expect(handshake(worker1, client, NULL, &sess, 0) == FULL);
            grn_expect(handshake(worker2, client, sess, NULL, 0) == RESUMED);

            st = stats_of(cache);
            grn_expect(st.stored >= sessions_per_handshake(versions[i]));
            grn_expect(st.hits == 1 && st.misses == 0 && st.entries == st.stored);
            grn_expect(st.evicted == 0 && st.removed == 0 && st.too_big == 0);
        }

        SSL_SESSION_free(sess);
        SSL_CTX_free(client);
        SSL_CTX_free(worker2);
        SSL_CTX_free(worker1);
        grn_destroy_pool(pool);
    }
}


/* The child makes the session and dies; only the shared memory can let the parent resume. */
GRN_TEST(a_session_made_in_a_forked_worker_resumes_in_another)
{
    int                    fds[2], status, ok;
    pid_t                  pid;
    size_t                 i;
    uint32_t               len;
    SSL_CTX               *server, *client;
    grn_pool_t            *pool;
    SSL_SESSION           *sess;
    unsigned char         *p, der[8192];
    grn_ssl_cache_t       *cache;
    const unsigned char   *q;
    grn_ssl_cache_stats_t  st;

    for (i = 0; i < grn_nelems(versions); i++) {
        pool = grn_create_pool(1024, NULL);
        cache = grn_ssl_cache_create(pool, 1024 * 1024, &t_log);
        if (!grn_expect(cache != NULL && pipe(fds) == 0)) {
            grn_destroy_pool(pool);
            return;
        }

        pid = fork();
        if (pid == 0) {
            close(fds[0]);
            ok = 0;
            sess = NULL;
            server = server_ctx(cache, "server-a", versions[i], 300);
            client = client_ctx(versions[i], NULL);

            if (server && client && handshake(server, client, NULL, &sess, 0) == FULL) {
                len = (uint32_t) i2d_SSL_SESSION(sess, NULL);
                p = der;
                ok = len > 0 && len <= sizeof(der) && i2d_SSL_SESSION(sess, &p) == (int) len
                     && write_all(fds[1], &len, sizeof(len)) && write_all(fds[1], der, len);
            }

            SSL_SESSION_free(sess);
            SSL_CTX_free(client);
            SSL_CTX_free(server);
            _exit(ok ? 0 : 1);
        }

        close(fds[1]);
        grn_expect(pid > 0);

        ok = read_all(fds[0], &len, sizeof(len)) && len <= sizeof(der)
             && read_all(fds[0], der, len);
        close(fds[0]);

        grn_expect(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status)
                   && WEXITSTATUS(status) == 0);

        st = stats_of(cache);
        grn_expect(st.stored == sessions_per_handshake(versions[i]) && st.hits == 0);

        q = der;
        sess = ok ? d2i_SSL_SESSION(NULL, &q, (long) len) : NULL;
        server = server_ctx(cache, "server-a", versions[i], 300);
        client = client_ctx(versions[i], NULL);

        if (grn_expect(sess && server && client)) {
            grn_expect(handshake(server, client, sess, NULL, 0) == RESUMED);
            grn_expect(stats_of(cache).hits == 1);
        }

        SSL_SESSION_free(sess);
        SSL_CTX_free(client);
        SSL_CTX_free(server);
        grn_destroy_pool(pool);
    }
}


/*
 * One set (the smallest cache) filled with sessions of a 3 s timeout: once they are expired, a
 * new session takes an expired slot without evicting, and a lookup of one is a miss. (Expiry
 * has a one-second grain, so a 1 s timeout could lapse during the slow handshakes of a
 * sanitizer build, before the check that all four are still there: CI saw that.)
 */
GRN_TEST(expired_sessions_are_misses_and_give_their_slots_up)
{
    size_t                 i;
    SSL_CTX               *server[2], *client[2];
    grn_pool_t            *pool;
    SSL_SESSION           *sess[2];
    grn_ssl_cache_t       *cache;
    grn_ssl_cache_stats_t  before, after;

    pool = grn_create_pool(1024, NULL);
    cache = grn_ssl_cache_create(pool, GRN_SSL_CACHE_MIN_SIZE, &t_log);

    for (i = 0; i < grn_nelems(versions); i++) {
        server[i] = server_ctx(cache, "server-a", versions[i], 3);
        client[i] = client_ctx(versions[i], NULL);
        sess[i] = NULL;
    }

    if (!grn_expect(server[0] && server[1] && client[0] && client[1])) {
        goto done;
    }

    /* The slots in order: a TLS 1.2 session, two TLS 1.3 tickets, the TLS 1.2 session kept. */
    grn_expect(handshake(server[0], client[0], NULL, NULL, 0) == FULL);
    grn_expect(handshake(server[1], client[1], NULL, &sess[1], 0) == FULL);
    grn_expect(handshake(server[0], client[0], NULL, &sess[0], 0) == FULL);

    before = stats_of(cache);
    grn_expect(before.capacity == 4 && before.entries == 4 && before.evicted == 0);

    sleep(4);

    /* Takes the first slot, expired: not an eviction. */
    grn_expect(handshake(server[0], client[0], NULL, NULL, 0) == FULL);

    after = stats_of(cache);
    grn_expect(after.stored == before.stored + 1 && after.evicted == 0 && after.entries == 4);

    for (i = 0; i < grn_nelems(versions); i++) {
        if (sess[i] == NULL) {
            continue;
        }

        /*
         * A TLS 1.3 client would not offer a ticket past its lifetime: make the session look
         * new to the client, so that the server is asked and has to tell by itself.
         */
        SSL_SESSION_set_time(sess[i], (long) time(NULL));

        before = stats_of(cache);
        grn_expect(handshake(server[i], client[i], sess[i], NULL, 0) == FULL);
        after = stats_of(cache);

        grn_expect(after.misses == before.misses + 1 && after.hits == before.hits);
        grn_expect(after.stored == before.stored + sessions_per_handshake(versions[i]));
        grn_expect(after.evicted == 0);
    }

done:

    for (i = 0; i < grn_nelems(versions); i++) {
        SSL_SESSION_free(sess[i]);
        SSL_CTX_free(client[i]);
        SSL_CTX_free(server[i]);
    }

    grn_destroy_pool(pool);
}


/* Sessions of a longer timeout outlive older ones of a shorter timeout (TLS 1.2: one each). */
GRN_TEST(eviction_takes_the_session_that_expires_first)
{
    size_t            k;
    SSL_CTX          *longer, *shorter, *client;
    grn_pool_t       *pool;
    SSL_SESSION      *first, *sess[4];
    grn_ssl_cache_t  *cache;

    pool = grn_create_pool(1024, NULL);
    cache = grn_ssl_cache_create(pool, GRN_SSL_CACHE_MIN_SIZE, &t_log);
    longer = server_ctx(cache, "server-a", TLS1_2_VERSION, 3000);
    shorter = server_ctx(cache, "server-a", TLS1_2_VERSION, 300);
    client = client_ctx(TLS1_2_VERSION, NULL);
    first = NULL;
    memset(sess, 0, sizeof(sess));

    if (grn_expect(longer && shorter && client && stats_of(cache).capacity == 4)) {
        grn_expect(handshake(longer, client, NULL, &first, 0) == FULL);

        for (k = 0; k < grn_nelems(sess); k++) {
            grn_expect(handshake(shorter, client, NULL, &sess[k], 0) == FULL);
        }

        grn_expect(stats_of(cache).evicted == 1);

        /* A TLS 1.2 resumption stores nothing, a full handshake would: the miss comes last. */
        grn_expect(handshake(longer, client, first, NULL, 0) == RESUMED);
        grn_expect(handshake(shorter, client, sess[1], NULL, 0) == RESUMED);
        grn_expect(handshake(shorter, client, sess[3], NULL, 0) == RESUMED);
        grn_expect(handshake(shorter, client, sess[0], NULL, 0) == FULL);
    }

    SSL_SESSION_free(first);
    for (k = 0; k < grn_nelems(sess); k++) {
        SSL_SESSION_free(sess[k]);
    }

    SSL_CTX_free(client);
    SSL_CTX_free(shorter);
    SSL_CTX_free(longer);
    grn_destroy_pool(pool);
}


GRN_TEST(a_full_cache_evicts_the_oldest_and_the_newest_resumes)
{
    size_t                 i, k, n;
    SSL_CTX               *server, *client;
    grn_pool_t            *pool;
    SSL_SESSION           *sess[9];
    grn_ssl_cache_t       *cache;
    grn_ssl_cache_stats_t  st;

    for (i = 0; i < grn_nelems(versions); i++) {
        pool = grn_create_pool(1024, NULL);
        cache = grn_ssl_cache_create(pool, GRN_SSL_CACHE_MIN_SIZE, &t_log);
        server = server_ctx(cache, "server-a", versions[i], 300);
        client = client_ctx(versions[i], NULL);
        n = grn_nelems(sess);
        memset(sess, 0, sizeof(sess));

        if (!grn_expect(server && client && stats_of(cache).capacity < n)) {
            n = 0;
        }

        for (k = 0; k < n; k++) {
            grn_expect(handshake(server, client, NULL, &sess[k], 0) == FULL);

            st = stats_of(cache);
            grn_expect(st.entries <= st.capacity);
            grn_expect(st.stored - st.evicted == st.entries);
        }

        st = stats_of(cache);
        grn_expect(st.stored == n * sessions_per_handshake(versions[i]));
        grn_expect(st.entries == st.capacity && st.evicted == st.stored - st.capacity);

        if (n) {
            grn_expect(handshake(server, client, sess[n - 1], NULL, 0) == RESUMED);
            grn_expect(handshake(server, client, sess[0], NULL, 0) == FULL);
        }

        for (k = 0; k < n; k++) {
            SSL_SESSION_free(sess[k]);
        }

        SSL_CTX_free(client);
        SSL_CTX_free(server);
        grn_destroy_pool(pool);
    }
}


GRN_TEST(another_session_id_context_never_resumes)
{
    size_t            i;
    SSL_CTX          *alpha, *beta, *client;
    grn_pool_t       *pool;
    SSL_SESSION      *sess;
    grn_ssl_cache_t  *cache;

    for (i = 0; i < grn_nelems(versions); i++) {
        pool = grn_create_pool(1024, NULL);
        cache = grn_ssl_cache_create(pool, 1024 * 1024, &t_log);
        alpha = server_ctx(cache, "server-alpha", versions[i], 300);
        beta = server_ctx(cache, "server-beta", versions[i], 300);
        client = client_ctx(versions[i], NULL);
        sess = NULL;

        if (grn_expect(alpha && beta && client)) {
            grn_expect(handshake(alpha, client, NULL, &sess, 0) == FULL);
            grn_expect(handshake(beta, client, sess, NULL, 0) == FULL);
            grn_expect(handshake(beta, client, sess, NULL, 0) == FULL);

            /* It was beta's context that stopped it: the session itself still resumes. */
            grn_expect(handshake(alpha, client, sess, NULL, 0) == RESUMED);
        }

        SSL_SESSION_free(sess);
        SSL_CTX_free(client);
        SSL_CTX_free(beta);
        SSL_CTX_free(alpha);
        grn_destroy_pool(pool);
    }
}


GRN_TEST(a_connection_closed_without_close_notify_removes_its_session)
{
    size_t                 i;
    SSL_CTX               *server, *client;
    grn_pool_t            *pool;
    SSL_SESSION           *sess;
    grn_ssl_cache_t       *cache;
    grn_ssl_cache_stats_t  st;

    for (i = 0; i < grn_nelems(versions); i++) {
        pool = grn_create_pool(1024, NULL);
        cache = grn_ssl_cache_create(pool, 1024 * 1024, &t_log);
        server = server_ctx(cache, "server-a", versions[i], 300);
        client = client_ctx(versions[i], NULL);
        sess = NULL;

        if (grn_expect(server && client)) {
            grn_expect(handshake(server, client, NULL, &sess, 1) == FULL);

            st = stats_of(cache);
            grn_expect(st.removed == 1 && st.entries == st.stored - 1);

            /* What goes is the SSL's own session: in TLS 1.3, its last ticket's, the client's. */
            grn_expect(handshake(server, client, sess, NULL, 0) == FULL);
        }

        SSL_SESSION_free(sess);
        SSL_CTX_free(client);
        SSL_CTX_free(server);
        grn_destroy_pool(pool);
    }
}


GRN_TEST(a_session_too_big_for_a_slot_is_counted_not_stored)
{
    size_t                 i;
    SSL_CTX               *server, *client;
    grn_pool_t            *pool;
    SSL_SESSION           *sess;
    grn_ssl_cache_t       *cache;
    grn_ssl_cache_stats_t  st;

    for (i = 0; i < grn_nelems(versions); i++) {
        pool = grn_create_pool(1024, NULL);
        cache = grn_ssl_cache_create(pool, 1024 * 1024, &t_log);
        server = server_ctx(cache, "server-a", versions[i], 300);
        client = client_ctx(versions[i], big_cert);
        sess = NULL;

        if (grn_expect(server && client)) {
            /* The server's session holds the client's certificate, which is over 6000 bytes. */
            grn_expect(handshake(server, client, NULL, &sess, 0) == FULL);

            st = stats_of(cache);
            grn_expect(st.too_big == sessions_per_handshake(versions[i]));
            grn_expect(st.stored == 0 && st.entries == 0);

            grn_expect(handshake(server, client, sess, NULL, 0) == FULL);
        }

        SSL_SESSION_free(sess);
        SSL_CTX_free(client);
        SSL_CTX_free(server);
        grn_destroy_pool(pool);
    }
}


/*
 * White box: the child takes the cache's lock the way nothing else can (the mutex is the first
 * thing in the mapping, and the mapping's address the first member of grn_ssl_cache_t) and is
 * killed with it held, as a worker would be by kill -9.
 */
GRN_TEST(a_worker_killed_holding_the_lock_does_not_stop_the_others)
{
    int                    fds[2], status;
    char                   text[512];
    void                  *shm;
    pid_t                  pid;
    ssize_t                n;
    SSL_CTX               *server, *client;
    grn_pool_t            *pool;
    SSL_SESSION           *sess;
    grn_ssl_cache_t       *cache;
    grn_ssl_cache_stats_t  st;

    pool = grn_create_pool(1024, NULL);
    cache = grn_ssl_cache_create(pool, 1024 * 1024, &t_log);
    server = server_ctx(cache, "server-a", TLS1_2_VERSION, 300);
    client = client_ctx(TLS1_2_VERSION, NULL);
    sess = NULL;

    if (!grn_expect(server && client && pipe(fds) == 0)) {
        goto done;
    }

    grn_expect(handshake(server, client, NULL, &sess, 0) == FULL);

    pid = fork();
    if (pid == 0) {
        memcpy(&shm, cache, sizeof(void *));
        if (pthread_mutex_lock(shm) == 0) {
            kill(getpid(), SIGKILL);
        }
        _exit(1);
    }

    grn_expect(pid > 0 && waitpid(pid, &status, 0) == pid && WIFSIGNALED(status)
               && WTERMSIG(status) == SIGKILL);

    /* A deadlock ends the test here, by SIGALRM, rather than hanging it. */
    t_log.fd = fds[1];
    alarm(20);

    grn_expect(handshake(server, client, sess, NULL, 0) == RESUMED);
    grn_expect(handshake(server, client, NULL, NULL, 0) == FULL);

    st = stats_of(cache);
    grn_expect(st.hits == 1 && st.stored == 2 && st.entries == 2);

    alarm(0);
    t_log.fd = -1;
    close(fds[1]);

    n = read(fds[0], text, sizeof(text) - 1);
    close(fds[0]);
    text[n > 0 ? n : 0] = '\0';
    grn_expect(strstr(text, "died holding the lock of the SSL session cache") != NULL);

done:

    SSL_SESSION_free(sess);
    SSL_CTX_free(client);
    SSL_CTX_free(server);
    grn_destroy_pool(pool);
}


static void
setup(void)
{
    if (!make_identities()) {
        ERR_print_errors_fp(stdout);
        printf("FAIL: no key and certificate to test with\n");
        exit(1);
    }
}


GRN_TEST(the_identities_are_freed_last)
{
    free_identities();
}


GRN_TEST(a_throwaway_p256_identity_is_made_first)
{
    setup();
    grn_expect(key && cert && big_cert);
}


GRN_TEST_MAIN(
    GRN_TEST_ENTRY(a_throwaway_p256_identity_is_made_first),
    GRN_TEST_ENTRY(create_refuses_less_than_32k_and_fits_whole_sets),
    GRN_TEST_ENTRY(a_second_ssl_ctx_sharing_the_cache_resumes_the_session),
    GRN_TEST_ENTRY(a_session_made_in_a_forked_worker_resumes_in_another),
    GRN_TEST_ENTRY(expired_sessions_are_misses_and_give_their_slots_up),
    GRN_TEST_ENTRY(eviction_takes_the_session_that_expires_first),
    GRN_TEST_ENTRY(a_full_cache_evicts_the_oldest_and_the_newest_resumes),
    GRN_TEST_ENTRY(another_session_id_context_never_resumes),
    GRN_TEST_ENTRY(a_connection_closed_without_close_notify_removes_its_session),
    GRN_TEST_ENTRY(a_session_too_big_for_a_slot_is_counted_not_stored),
    GRN_TEST_ENTRY(a_worker_killed_holding_the_lock_does_not_stop_the_others),
    GRN_TEST_ENTRY(the_identities_are_freed_last))

#else /* !GRN_HAVE_OPENSSL */

int
main(void)
{
    printf("built without OpenSSL (./configure --without-ssl): nothing to test\n");
    return 0;
}

#endif /* GRN_HAVE_OPENSSL */
