/*
 * grn_array.c: growable arrays of fixed-size elements allocated from a pool.
 *
 * An array that outgrows its storage gets a new one twice the size from the same pool and
 * copies itself there; the old storage stays in the pool until the pool goes, which is cheap
 * because arrays mostly grow while a config is read and then stay put.
 */

#include "grn_core.h"


grn_array_t *
grn_array_create(grn_pool_t *pool, grn_uint_t n, size_t size)
{
    grn_array_t  *a;

    a = grn_palloc(pool, sizeof(grn_array_t));
    if (a == NULL) {
        return NULL;
    }

    if (grn_array_init(a, pool, n, size) != GRN_OK) {
        return NULL;
    }

    return a;
}


grn_int_t
grn_array_init(grn_array_t *array, grn_pool_t *pool, grn_uint_t n, size_t size)
{
    if (n == 0) {
        n = 1;
    }

    array->nelts = 0;
    array->size = size;
    array->nalloc = n;
    array->pool = pool;

    array->elts = grn_palloc(pool, n * size);
    if (array->elts == NULL) {
        return GRN_ERROR;
    }

    return GRN_OK;
}


void *
grn_array_push(grn_array_t *array)
{
    void        *elts;
    grn_uint_t   nalloc;

    if (array->nelts == array->nalloc) {
        nalloc = array->nalloc ? 2 * array->nalloc : 1;

        elts = grn_palloc(array->pool, nalloc * array->size);
        if (elts == NULL) {
            return NULL;
        }

        if (array->nelts) {
            memcpy(elts, array->elts, array->nelts * array->size);
        }

        array->elts = elts;
        array->nalloc = nalloc;
    }

    return (char *) array->elts + array->size * array->nelts++;
}
