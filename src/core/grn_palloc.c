/*
 * grn_palloc.c: memory pools.
 *
 * A pool is a chain of blocks of the size it was created with; small allocations are carved
 * from them by moving a pointer, and nothing is freed until the pool is reset or destroyed.
 * Allocations larger than a block can serve (or than GRN_POOL_MAX_SMALL) get their own malloc
 * and sit on the "large" list. Cleanups run in reverse order of registration, before any
 * memory goes, so a handler may still read what its pool holds.
 *
 * Under AddressSanitizer every allocation takes the large path: each one is then a malloc of
 * its own, and an overflow past its end is reported instead of landing in a neighbour.
 */

#include "grn_core.h"

#define GRN_POOL_MAX_SMALL   4096
#define GRN_POOL_MIN_SIZE    256

#if defined(__SANITIZE_ADDRESS__)
#define GRN_POOL_ALL_LARGE   1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GRN_POOL_ALL_LARGE   1
#endif
#endif

typedef struct grn_pool_block_s  grn_pool_block_t;
typedef struct grn_pool_large_s  grn_pool_large_t;

struct grn_pool_block_s {
    char               *last;      /* first free byte */
    char               *end;
    grn_pool_block_t   *next;
    grn_uint_t          failed;    /* allocations it could not serve */
};

struct grn_pool_large_s {
    grn_pool_large_t   *next;
    void               *alloc;
};

/* The first block is allocated together with the pool and holds it at its start. */
struct grn_pool_s {
    grn_pool_block_t     block;
    grn_pool_block_t    *current;   /* where small allocations start looking */
    grn_pool_large_t    *large;
    grn_pool_cleanup_t  *cleanup;
    size_t               size;      /* of every block, header included */
    size_t               max;       /* largest allocation served from a block */
    grn_log_t           *log;
};


static void *grn_palloc_small(grn_pool_t *pool, size_t size, int align);
static void *grn_palloc_block(grn_pool_t *pool, size_t size);
static void *grn_palloc_large(grn_pool_t *pool, size_t size);


void *
grn_alloc(size_t size, grn_log_t *log)
{
    void  *p;

    p = malloc(size);
    if (p == NULL) {
        grn_log_error(GRN_LOG_EMERG, log, errno, "malloc(%zu) failed", size);
    }

    return p;
}


void *
grn_calloc(size_t size, grn_log_t *log)
{
    void  *p;

    p = calloc(1, size);
    if (p == NULL) {
        grn_log_error(GRN_LOG_EMERG, log, errno, "malloc(%zu) failed", size);
    }

    return p;
}


grn_pool_t *
grn_create_pool(size_t size, grn_log_t *log)
{
    grn_pool_t  *pool;

    if (size == 0) {
        size = GRN_POOL_DEFAULT_SIZE;
    }

    size = grn_max(size, grn_align(sizeof(grn_pool_t), GRN_ALIGNMENT) + GRN_POOL_MIN_SIZE);

    pool = grn_alloc(size, log);
    if (pool == NULL) {
        return NULL;
    }

    pool->block.last = (char *) pool + grn_align(sizeof(grn_pool_t), GRN_ALIGNMENT);
    pool->block.end = (char *) pool + size;
    pool->block.next = NULL;
    pool->block.failed = 0;

    pool->current = &pool->block;
    pool->large = NULL;
    pool->cleanup = NULL;
    pool->size = size;
    pool->max = grn_min((size_t) (pool->block.end - pool->block.last), GRN_POOL_MAX_SMALL);
    pool->log = log;

    return pool;
}


static void
grn_pool_run_cleanups(grn_pool_t *pool)
{
    grn_pool_cleanup_t  *c;

    /* The list is kept newest first, which is the order the handlers must run in. */
    for (c = pool->cleanup; c; c = c->next) {
        if (c->handler) {
            c->handler(c->data);
        }
    }

    pool->cleanup = NULL;
}


static void
grn_pool_free_large(grn_pool_t *pool)
{
    grn_pool_large_t  *l;

    for (l = pool->large; l; l = l->next) {
        free(l->alloc);
        l->alloc = NULL;
    }

    pool->large = NULL;
}


void
grn_destroy_pool(grn_pool_t *pool)
{
    grn_pool_block_t  *b, *next;

    if (pool == NULL) {
        return;
    }

    grn_pool_run_cleanups(pool);
    grn_pool_free_large(pool);

    for (b = pool->block.next; b; b = next) {
        next = b->next;
        free(b);
    }

    free(pool);
}


void
grn_reset_pool(grn_pool_t *pool)
{
    grn_pool_block_t  *b, *next;

    grn_pool_run_cleanups(pool);
    grn_pool_free_large(pool);

    for (b = pool->block.next; b; b = next) {
        next = b->next;
        free(b);
    }

    pool->block.last = (char *) pool + grn_align(sizeof(grn_pool_t), GRN_ALIGNMENT);
    pool->block.next = NULL;
    pool->block.failed = 0;
    pool->current = &pool->block;
}


void *
grn_palloc(grn_pool_t *pool, size_t size)
{
#ifndef GRN_POOL_ALL_LARGE
    if (size <= pool->max) {
        return grn_palloc_small(pool, size, 1);
    }
#endif

    return grn_palloc_large(pool, size);
}


void *
grn_pnalloc(grn_pool_t *pool, size_t size)
{
#ifndef GRN_POOL_ALL_LARGE
    if (size <= pool->max) {
        return grn_palloc_small(pool, size, 0);
    }
#endif

    return grn_palloc_large(pool, size);
}


void *
grn_pcalloc(grn_pool_t *pool, size_t size)
{
    void  *p;

    p = grn_palloc(pool, size);
    if (p) {
        memset(p, 0, size);
    }

    return p;
}


static void *
grn_palloc_small(grn_pool_t *pool, size_t size, int align)
{
    char              *m;
    grn_pool_block_t  *b;

    for (b = pool->current; b; b = b->next) {
        m = b->last;

        if (align) {
            m = (char *) grn_align((uintptr_t) m, GRN_ALIGNMENT);
        }

        if (m <= b->end && (size_t) (b->end - m) >= size) {
            b->last = m + size;
            return m;
        }
    }

    return grn_palloc_block(pool, size);
}


/*
 * Adds a block at the end of the chain. A block that failed to serve several requests is
 * nearly full: the search stops starting from it, so allocation stays O(1) on long chains.
 */
static void *
grn_palloc_block(grn_pool_t *pool, size_t size)
{
    char              *m;
    grn_pool_block_t  *b, *nb;

    nb = grn_alloc(pool->size, pool->log);
    if (nb == NULL) {
        return NULL;
    }

    nb->end = (char *) nb + pool->size;
    nb->next = NULL;
    nb->failed = 0;

    m = (char *) nb + grn_align(sizeof(grn_pool_block_t), GRN_ALIGNMENT);
    nb->last = m + size;

    for (b = pool->current; b->next; b = b->next) {
        if (b->failed++ > 4) {
            pool->current = b->next;
        }
    }

    b->next = nb;

    return m;
}


static void *
grn_palloc_large(grn_pool_t *pool, size_t size)
{
    void              *p;
    grn_pool_large_t  *large;

    p = grn_alloc(size ? size : 1, pool->log);
    if (p == NULL) {
        return NULL;
    }

    large = grn_palloc_small(pool, sizeof(grn_pool_large_t), 1);
    if (large == NULL) {
        free(p);
        return NULL;
    }

    large->alloc = p;
    large->next = pool->large;
    pool->large = large;

    return p;
}


grn_pool_cleanup_t *
grn_pool_cleanup_add(grn_pool_t *pool, size_t size)
{
    grn_pool_cleanup_t  *c;

    c = grn_palloc(pool, sizeof(grn_pool_cleanup_t));
    if (c == NULL) {
        return NULL;
    }

    if (size) {
        c->data = grn_palloc(pool, size);
        if (c->data == NULL) {
            return NULL;
        }

    } else {
        c->data = NULL;
    }

    c->handler = NULL;
    c->next = pool->cleanup;
    pool->cleanup = c;

    return c;
}


grn_log_t *
grn_pool_log(grn_pool_t *pool)
{
    return pool->log;
}
