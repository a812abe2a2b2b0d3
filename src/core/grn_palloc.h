/*
 * grn_palloc.h: memory pools.
 *
 * Memory belongs to a lifetime (a generation, a connection, a request) and is freed with it in
 * one step. Small allocations are carved from blocks; large ones are kept on a list and freed
 * with the pool. Anything else that must be released with the pool (an fd, a Python object)
 * registers a cleanup handler; handlers run in reverse order of registration.
 */

#ifndef GRN_PALLOC_H
#define GRN_PALLOC_H

#define GRN_POOL_DEFAULT_SIZE   (16 * 1024)
#define GRN_ALIGNMENT           sizeof(void *)

typedef void (*grn_pool_cleanup_pt)(void *data);

typedef struct grn_pool_cleanup_s  grn_pool_cleanup_t;

struct grn_pool_cleanup_s {
    grn_pool_cleanup_pt   handler;
    void                 *data;
    grn_pool_cleanup_t   *next;
};

/* Log a failed malloc with its size; the plain allocators every module uses. */
void *grn_alloc(size_t size, grn_log_t *log);
void *grn_calloc(size_t size, grn_log_t *log);

grn_pool_t *grn_create_pool(size_t size, grn_log_t *log);
void grn_destroy_pool(grn_pool_t *pool);
/* Run the cleanups, free large allocations, keep the first block for reuse. */
void grn_reset_pool(grn_pool_t *pool);

void *grn_palloc(grn_pool_t *pool, size_t size);     /* aligned to GRN_ALIGNMENT */
void *grn_pnalloc(grn_pool_t *pool, size_t size);    /* unaligned (strings) */
void *grn_pcalloc(grn_pool_t *pool, size_t size);    /* aligned, zeroed */

/* Registers a cleanup; with size > 0 also allocates cleanup->data of that size. */
grn_pool_cleanup_t *grn_pool_cleanup_add(grn_pool_t *pool, size_t size);

grn_log_t *grn_pool_log(grn_pool_t *pool);

#endif /* GRN_PALLOC_H */
