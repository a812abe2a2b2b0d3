/*
 * grn_http_ssl_cache.c: the TLS session cache the workers share (see grn_http_ssl_cache.h).
 *
 * One anonymous MAP_SHARED mapping, made by the master before it forks: a header (the lock,
 * the counters), then the slots' keys, then their data. A slot holds one session as the DER
 * that i2d_SSL_SESSION() gives, up to GRN_SSL_CACHE_DATA bytes; larger sessions are counted
 * and not kept. Slots are grouped in sets of GRN_SSL_CACHE_WAYS: a session id hashes to one set
 * and lives in one of its slots, so a lookup reads a few adjacent keys and nothing else. A new
 * session takes the slot of its own id, else a free or expired one, else the one that expires
 * first (the oldest on a tie): with one timeout for all, the set is kept least recently stored.
 * Keys live apart from the data so that a set's keys share cache lines.
 *
 * Every process of the generation locks the same process-shared mutex. It is robust: a worker
 * killed while it holds it (kill -9, a crash) does not stop the others; the next to lock
 * repairs what a store may have left half done. It guards only copies and bookkeeping: DER is
 * made before it is taken and parsed after it is released.
 */

#include "grn_core.h"

#if (GRN_HAVE_OPENSSL)

#include "grn_http_ssl_cache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>

#include <openssl/err.h>

#define GRN_SSL_CACHE_WAYS    4        /* slots per set */
#define GRN_SSL_CACHE_DATA    4096     /* DER bytes per slot, nginx's limit too */
#define GRN_SSL_CACHE_ID_LEN  SSL_MAX_SSL_SESSION_ID_LENGTH

/* One slot's key, 64 bytes: a set's keys take four cache lines. */
typedef struct {
    uint64_t       hash;         /* grn_hash_name() of the id; 0: the slot is free */
    uint64_t       stamp;        /* when it was stored, in stores: the older of equal expiries */
    int64_t        expires;      /* time(NULL) from which the session is no longer served */
    uint16_t       der_len;
    uint8_t        id_len;
    unsigned char  id[GRN_SSL_CACHE_ID_LEN];
} grn_ssl_cache_key_t;

/* The start of the mapping. */
typedef struct {
    pthread_mutex_t        mutex;
    grn_ssl_cache_stats_t  stats;
    uint64_t               stamp;
} grn_ssl_cache_shm_t;

_Static_assert(sizeof(grn_ssl_cache_key_t) == 64, "a slot's key is one cache line");
_Static_assert(GRN_SSL_CACHE_MIN_SIZE >= grn_align(sizeof(grn_ssl_cache_shm_t), 64)
               + GRN_SSL_CACHE_WAYS * (sizeof(grn_ssl_cache_key_t) + GRN_SSL_CACHE_DATA),
               "the smallest cache holds one set");

/* A process's view of the mapping; it lives in the pool and is copied by fork(). */
struct grn_ssl_cache_s {
    grn_ssl_cache_shm_t   *shm;          /* first: the unit test finds the mutex through it */
    grn_ssl_cache_key_t   *keys;         /* nsets * GRN_SSL_CACHE_WAYS */
    unsigned char         *data;         /* GRN_SSL_CACHE_DATA bytes per key, in key order */
    size_t                 size;
    grn_uint_t             nsets;
    grn_log_t             *log;
};

/* SSL_CTX ex_data index of the cache; taken by the first attach, in the master. */
static int  grn_ssl_cache_index = -1;


static void
grn_ssl_cache_unmap(void *data)
{
    grn_ssl_cache_t  *cache = data;

    /*
     * No pthread_mutex_destroy(): glibc marks a destroyed mutex invalid in the shared memory,
     * and the old generation's workers may still be using it in their own mappings.
     */
    if (munmap(cache->shm, cache->size) == -1) {
        grn_log_error(GRN_LOG_ALERT, cache->log, errno,
                      "munmap() of the SSL session cache (%zu bytes) failed", cache->size);
    }
}


static grn_int_t
grn_ssl_cache_init_mutex(pthread_mutex_t *mutex, grn_log_t *log)
{
    int                   err;
    const char           *call;
    pthread_mutexattr_t   attr;

    err = pthread_mutexattr_init(&attr);
    if (err) {
        grn_log_error(GRN_LOG_EMERG, log, err, "pthread_mutexattr_init() failed");
        return GRN_ERROR;
    }

    call = "pthread_mutexattr_setpshared(PTHREAD_PROCESS_SHARED)";
    err = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);

    if (err == 0) {
        call = "pthread_mutexattr_setrobust(PTHREAD_MUTEX_ROBUST)";
        err = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    }

    if (err == 0) {
        call = "pthread_mutex_init()";
        err = pthread_mutex_init(mutex, &attr);
    }

    (void) pthread_mutexattr_destroy(&attr);

    if (err) {
        grn_log_error(GRN_LOG_EMERG, log, err, "%s for the SSL session cache failed", call);
        return GRN_ERROR;
    }

    return GRN_OK;
}


grn_ssl_cache_t *
grn_ssl_cache_create(grn_pool_t *pool, size_t size, grn_log_t *log)
{
    void                *p;
    size_t               head, keys;
    grn_uint_t           nsets;
    grn_ssl_cache_t     *cache;
    grn_pool_cleanup_t  *cln;

    if (size < GRN_SSL_CACHE_MIN_SIZE) {
        grn_log_error(GRN_LOG_EMERG, log, 0,
                      "an SSL session cache of %zu bytes is too small: give it at least 32k",
                      size);
        return NULL;
    }

    head = grn_align(sizeof(grn_ssl_cache_shm_t), (size_t) 64);
    nsets = (size - head) / (GRN_SSL_CACHE_WAYS
                             * (sizeof(grn_ssl_cache_key_t) + GRN_SSL_CACHE_DATA));
    keys = nsets * GRN_SSL_CACHE_WAYS * sizeof(grn_ssl_cache_key_t);

    cache = grn_pcalloc(pool, sizeof(grn_ssl_cache_t));
    if (cache == NULL) {
        return NULL;
    }

    cln = grn_pool_cleanup_add(pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    /* Anonymous and shared: the pages no session has touched cost nothing, forks share all. */
    p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        grn_log_error(GRN_LOG_EMERG, log, errno,
                      "mmap() of the SSL session cache (%zu bytes) failed", size);
        return NULL;
    }

    cache->shm = p;
    cache->keys = (grn_ssl_cache_key_t *) ((unsigned char *) p + head);
    cache->data = (unsigned char *) p + head + keys;
    cache->size = size;
    cache->nsets = nsets;
    cache->log = log;

    if (grn_ssl_cache_init_mutex(&cache->shm->mutex, log) != GRN_OK) {
        goto failed;
    }

    cache->shm->stats.capacity = nsets * GRN_SSL_CACHE_WAYS;

    cln->handler = grn_ssl_cache_unmap;
    cln->data = cache;

    return cache;

failed:

    if (munmap(p, size) == -1) {
        grn_log_error(GRN_LOG_ALERT, log, errno,
                      "munmap() of the SSL session cache (%zu bytes) failed", size);
    }

    return NULL;
}


/*
 * Called under the lock after its last holder died in the middle. A store clears the slot's
 * hash first and sets it last, so a slot it did not finish is free; what may be off is the
 * count of entries, and a key that the dead process was scribbling over: both are redone.
 */
static void
grn_ssl_cache_repair(grn_ssl_cache_t *cache)
{
    grn_uint_t            i, n, used;
    grn_ssl_cache_key_t  *k;

    n = cache->nsets * GRN_SSL_CACHE_WAYS;
    used = 0;

    for (i = 0; i < n; i++) {
        k = &cache->keys[i];

        if (k->hash == 0) {
            continue;
        }

        if (k->id_len == 0 || k->id_len > GRN_SSL_CACHE_ID_LEN || k->der_len == 0
            || k->der_len > GRN_SSL_CACHE_DATA
            || grn_hash_name((const char *) k->id, k->id_len) != k->hash)
        {
            k->hash = 0;
            continue;
        }

        used++;
    }

    cache->shm->stats.entries = used;
}


static grn_int_t
grn_ssl_cache_lock(grn_ssl_cache_t *cache)
{
    int  err;

    err = pthread_mutex_lock(&cache->shm->mutex);

    if (err == 0) {
        return GRN_OK;
    }

    if (err != EOWNERDEAD) {
        grn_log_error(GRN_LOG_ALERT, cache->log, err,
                      "pthread_mutex_lock() of the SSL session cache failed");
        return GRN_ERROR;
    }

    grn_log_error(GRN_LOG_ALERT, cache->log, 0,
                  "a process died holding the lock of the SSL session cache: checking it");

    grn_ssl_cache_repair(cache);

    err = pthread_mutex_consistent(&cache->shm->mutex);
    if (err) {
        grn_log_error(GRN_LOG_ALERT, cache->log, err,
                      "pthread_mutex_consistent() of the SSL session cache failed");
        (void) pthread_mutex_unlock(&cache->shm->mutex);
        return GRN_ERROR;
    }

    return GRN_OK;
}


static void
grn_ssl_cache_unlock(grn_ssl_cache_t *cache)
{
    int  err;

    err = pthread_mutex_unlock(&cache->shm->mutex);
    if (err) {
        grn_log_error(GRN_LOG_ALERT, cache->log, err,
                      "pthread_mutex_unlock() of the SSL session cache failed");
    }
}


/* The first key of the set that `hash` falls in. */
static grn_ssl_cache_key_t *
grn_ssl_cache_set(grn_ssl_cache_t *cache, uint64_t hash)
{
    return &cache->keys[(hash % cache->nsets) * GRN_SSL_CACHE_WAYS];
}


static unsigned char *
grn_ssl_cache_data(grn_ssl_cache_t *cache, grn_ssl_cache_key_t *k)
{
    return cache->data + (size_t) (k - cache->keys) * GRN_SSL_CACHE_DATA;
}


/* Under the lock: the slot holding the session `id`, or NULL. */
static grn_ssl_cache_key_t *
grn_ssl_cache_find(grn_ssl_cache_t *cache, uint64_t hash, const unsigned char *id,
    size_t id_len)
{
    grn_uint_t            i;
    grn_ssl_cache_key_t  *k;

    k = grn_ssl_cache_set(cache, hash);

    for (i = 0; i < GRN_SSL_CACHE_WAYS; i++, k++) {
        if (k->hash == hash && k->id_len == id_len && memcmp(k->id, id, id_len) == 0) {
            return k;
        }
    }

    return NULL;
}


/* Under the lock. */
static void
grn_ssl_cache_free(grn_ssl_cache_t *cache, grn_ssl_cache_key_t *k)
{
    k->hash = 0;
    cache->shm->stats.entries--;
}


static void
grn_ssl_cache_store(grn_ssl_cache_t *cache, const unsigned char *id, size_t id_len,
    const unsigned char *der, size_t der_len, int64_t expires)
{
    time_t                now;
    uint64_t              hash;
    grn_uint_t            i;
    grn_ssl_cache_key_t  *k, *same, *vacant, *oldest;

    now = time(NULL);
    hash = grn_hash_name((const char *) id, id_len);
    same = NULL;
    vacant = NULL;
    oldest = NULL;

    if (grn_ssl_cache_lock(cache) != GRN_OK) {
        return;
    }

    k = grn_ssl_cache_set(cache, hash);

    for (i = 0; i < GRN_SSL_CACHE_WAYS; i++, k++) {
        if (k->hash == hash && k->id_len == id_len && memcmp(k->id, id, id_len) == 0) {
            same = k;
            break;
        }

        if (k->hash == 0 || k->expires <= now) {
            if (vacant == NULL) {
                vacant = k;
            }
            continue;
        }

        if (oldest == NULL || k->expires < oldest->expires
            || (k->expires == oldest->expires && k->stamp < oldest->stamp))
        {
            oldest = k;
        }
    }

    if (same) {
        k = same;

    } else if (vacant) {
        k = vacant;

    } else {
        k = oldest;
        cache->shm->stats.evicted++;
    }

    if (k->hash == 0) {
        cache->shm->stats.entries++;
    }

    /*
     * Free while it is written, taken again only once whole: a process killed in between
     * leaves a free slot. The fences keep the compiler from moving the stores across.
     */
    k->hash = 0;
    atomic_signal_fence(memory_order_seq_cst);

    memcpy(grn_ssl_cache_data(cache, k), der, der_len);
    memcpy(k->id, id, id_len);
    k->id_len = (uint8_t) id_len;
    k->der_len = (uint16_t) der_len;
    k->expires = expires;
    k->stamp = ++cache->shm->stamp;

    atomic_signal_fence(memory_order_seq_cst);
    k->hash = hash;

    cache->shm->stats.stored++;

    grn_ssl_cache_unlock(cache);
}


/* Logs what OpenSSL said about `call` failing, and empties its error queue. */
static void
grn_ssl_cache_ssl_error(grn_ssl_cache_t *cache, const char *call)
{
    char  text[256];

    ERR_error_string_n(ERR_peek_last_error(), text, sizeof(text));
    ERR_clear_error();

    grn_log_error(GRN_LOG_ALERT, cache->log, 0, "%s failed in the SSL session cache: %s",
                  call, text);
}


static int
grn_ssl_cache_new_session(SSL *ssl, SSL_SESSION *sess)
{
    int                   len;
    int64_t               expires;
    unsigned int          id_len;
    unsigned char        *p;
    grn_ssl_cache_t      *cache;
    const unsigned char  *id;
    unsigned char         der[GRN_SSL_CACHE_DATA];

    /* Returning 0 in all cases: OpenSSL keeps its reference, this keeps a copy. */

    cache = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), grn_ssl_cache_index);
    if (cache == NULL) {
        return 0;
    }

    id = SSL_SESSION_get_id(sess, &id_len);
    if (id_len == 0 || id_len > GRN_SSL_CACHE_ID_LEN) {
        return 0;
    }

    len = i2d_SSL_SESSION(sess, NULL);
    if (len <= 0) {
        grn_ssl_cache_ssl_error(cache, "i2d_SSL_SESSION()");
        return 0;
    }

    if (len > GRN_SSL_CACHE_DATA) {
        if (grn_ssl_cache_lock(cache) == GRN_OK) {
            cache->shm->stats.too_big++;
            grn_ssl_cache_unlock(cache);
        }
        return 0;
    }

    p = der;
    if (i2d_SSL_SESSION(sess, &p) != len) {
        grn_ssl_cache_ssl_error(cache, "i2d_SSL_SESSION()");
        return 0;
    }

    expires = (int64_t) SSL_SESSION_get_time(sess) + (int64_t) SSL_SESSION_get_timeout(sess);

    grn_ssl_cache_store(cache, id, id_len, der, (size_t) len, expires);

    return 0;
}


static SSL_SESSION *
grn_ssl_cache_get_session(SSL *ssl, const unsigned char *id, int id_len, int *copy)
{
    time_t                now;
    size_t                len;
    uint64_t              hash;
    SSL_SESSION          *sess;
    grn_ssl_cache_t      *cache;
    grn_ssl_cache_key_t  *k;
    const unsigned char  *p;
    unsigned char         der[GRN_SSL_CACHE_DATA];

    /* The session returned is a new one, and OpenSSL takes its only reference. */
    *copy = 0;

    cache = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), grn_ssl_cache_index);
    if (cache == NULL) {
        return NULL;
    }

    if (id_len <= 0 || id_len > GRN_SSL_CACHE_ID_LEN) {
        return NULL;
    }

    now = time(NULL);
    hash = grn_hash_name((const char *) id, (size_t) id_len);
    len = 0;

    if (grn_ssl_cache_lock(cache) != GRN_OK) {
        return NULL;
    }

    k = grn_ssl_cache_find(cache, hash, id, (size_t) id_len);

    if (k && k->expires <= now) {
        grn_ssl_cache_free(cache, k);
        k = NULL;
    }

    if (k) {
        len = k->der_len;
        memcpy(der, grn_ssl_cache_data(cache, k), len);
        cache->shm->stats.hits++;

    } else {
        cache->shm->stats.misses++;
    }

    grn_ssl_cache_unlock(cache);

    if (len == 0) {
        return NULL;
    }

    p = der;
    sess = d2i_SSL_SESSION(NULL, &p, (long) len);
    if (sess == NULL) {
        grn_ssl_cache_ssl_error(cache, "d2i_SSL_SESSION()");
        return NULL;
    }

    return sess;
}


static void
grn_ssl_cache_remove_session(SSL_CTX *ctx, SSL_SESSION *sess)
{
    uint64_t              hash;
    unsigned int          id_len;
    grn_ssl_cache_t      *cache;
    grn_ssl_cache_key_t  *k;
    const unsigned char  *id;

    cache = SSL_CTX_get_ex_data(ctx, grn_ssl_cache_index);
    if (cache == NULL) {
        return;
    }

    id = SSL_SESSION_get_id(sess, &id_len);
    if (id_len == 0 || id_len > GRN_SSL_CACHE_ID_LEN) {
        return;
    }

    hash = grn_hash_name((const char *) id, id_len);

    if (grn_ssl_cache_lock(cache) != GRN_OK) {
        return;
    }

    k = grn_ssl_cache_find(cache, hash, id, id_len);
    if (k) {
        grn_ssl_cache_free(cache, k);
        cache->shm->stats.removed++;
    }

    grn_ssl_cache_unlock(cache);
}


grn_int_t
grn_ssl_cache_attach(SSL_CTX *ctx, grn_ssl_cache_t *cache, time_t timeout)
{
    /* The master attaches while it reads the config, with one thread: no race for the index. */
    if (grn_ssl_cache_index == -1) {
        grn_ssl_cache_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);

        if (grn_ssl_cache_index == -1) {
            grn_ssl_cache_ssl_error(cache, "SSL_CTX_get_ex_new_index()");
            return GRN_ERROR;
        }
    }

    if (SSL_CTX_set_ex_data(ctx, grn_ssl_cache_index, cache) == 0) {
        grn_ssl_cache_ssl_error(cache, "SSL_CTX_set_ex_data()");
        return GRN_ERROR;
    }

    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER | SSL_SESS_CACHE_NO_INTERNAL);
    SSL_CTX_sess_set_new_cb(ctx, grn_ssl_cache_new_session);
    SSL_CTX_sess_set_get_cb(ctx, grn_ssl_cache_get_session);
    SSL_CTX_sess_set_remove_cb(ctx, grn_ssl_cache_remove_session);
    SSL_CTX_set_timeout(ctx, (long) timeout);

    return GRN_OK;
}


void
grn_ssl_cache_stats(grn_ssl_cache_t *cache, grn_ssl_cache_stats_t *st)
{
    if (grn_ssl_cache_lock(cache) != GRN_OK) {
        memset(st, 0, sizeof(grn_ssl_cache_stats_t));
        st->capacity = cache->nsets * GRN_SSL_CACHE_WAYS;
        return;
    }

    *st = cache->shm->stats;

    grn_ssl_cache_unlock(cache);
}

#endif /* GRN_HAVE_OPENSSL */
