/*
 * grn_http_ssl_cache.h: a TLS session cache that all the workers of a generation share
 * (nginx's `ssl_session_cache shared:NAME:SIZE`).
 *
 * The master maps the cache while it reads the config, before it forks; each worker then
 * attaches it to its server SSL_CTXs, and a client that did its full handshake with one worker
 * resumes with any other. Sessions are kept as DER in fixed slots of the shared memory, found
 * by session id; OpenSSL itself declines a session whose id context (SSL_CTX_set_session_id_
 * context) is not the SSL's, so servers that must not resume each other's sessions can share
 * one cache as long as each has an id context of its own. TLS 1.2 session ids and TLS 1.3
 * stateful tickets (SSL_OP_NO_TICKET) both come here; stateless tickets never do.
 */

#ifndef GRN_HTTP_SSL_CACHE_H
#define GRN_HTTP_SSL_CACHE_H

#if (GRN_HAVE_OPENSSL)

#include <openssl/ssl.h>

#define GRN_SSL_CACHE_MIN_SIZE  (32 * 1024)   /* the smallest `size` create accepts */

typedef struct grn_ssl_cache_s  grn_ssl_cache_t;

typedef struct {
    uint64_t  stored, hits, misses, evicted, removed, too_big;
    uint64_t  entries;   /* live now */
    uint64_t  capacity;
} grn_ssl_cache_stats_t;

/*
 * Maps `size` bytes (at least GRN_SSL_CACHE_MIN_SIZE) of anonymous MAP_SHARED memory. Called
 * by the master while it reads the config, before any fork, so every worker of the generation
 * shares it. Unmapped by a cleanup on `pool`. NULL (logged) on failure.
 */
grn_ssl_cache_t *grn_ssl_cache_create(grn_pool_t *pool, size_t size, grn_log_t *log);

/*
 * Makes ctx store and find server sessions in the cache (SSL_SESS_CACHE_SERVER |
 * SSL_SESS_CACHE_NO_INTERNAL, the new/get/remove callbacks) and sets their timeout to
 * `timeout` seconds. Several SSL_CTXs (one per server) may share a cache; give each server a
 * session id context of its own (the caller does). OpenSSL calls the callbacks of the SSL_CTX an
 * SSL was created with, while the cache is found through the SSL's current SSL_CTX: attach the
 * same cache to every SSL_CTX that SNI can switch a connection to. GRN_OK or GRN_ERROR.
 */
grn_int_t grn_ssl_cache_attach(SSL_CTX *ctx, grn_ssl_cache_t *cache, time_t timeout);

/*
 * A snapshot of the counters, which count since create in all processes. `hits` counts the
 * sessions handed to OpenSSL, which still declines one of another id context. `entries`
 * counts the slots in use: an expired session stays until it is looked up or its slot reused.
 */
void grn_ssl_cache_stats(grn_ssl_cache_t *cache, grn_ssl_cache_stats_t *st);

#endif /* GRN_HAVE_OPENSSL */

#endif /* GRN_HTTP_SSL_CACHE_H */
