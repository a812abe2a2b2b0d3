/*
 * grn_array.h: growable arrays of fixed-size elements allocated from a pool.
 */

#ifndef GRN_ARRAY_H
#define GRN_ARRAY_H

typedef struct {
    void        *elts;
    grn_uint_t   nelts;
    size_t       size;
    grn_uint_t   nalloc;
    grn_pool_t  *pool;
} grn_array_t;

grn_array_t *grn_array_create(grn_pool_t *pool, grn_uint_t n, size_t size);
grn_int_t grn_array_init(grn_array_t *array, grn_pool_t *pool, grn_uint_t n, size_t size);

/* A pointer to a new uninitialized element at the end; NULL on allocation failure. */
void *grn_array_push(grn_array_t *array);

#endif /* GRN_ARRAY_H */
