/*
 * test_palloc.c: memory pools (small and large allocations, cleanups, reset) and arrays.
 */

#include "grn_core.h"
#include "grn_test.h"

static int   order[8];
static int   norder;


static void
record_cleanup(void *data)
{
    order[norder++] = *(int *) data;
}


GRN_TEST(pool_serves_aligned_and_unaligned_memory)
{
    int          i;
    char        *s;
    void        *p;
    grn_pool_t  *pool;

    pool = grn_create_pool(1024, NULL);
    grn_expect(pool != NULL);
    grn_expect(grn_pool_log(pool) == NULL);

    s = grn_pnalloc(pool, 3);
    grn_expect(s != NULL);
    memcpy(s, "abc", 3);

    for (i = 0; i < 200; i++) {
        p = grn_palloc(pool, (size_t) (i % 50) + 1);
        grn_expect(p != NULL && ((uintptr_t) p % GRN_ALIGNMENT) == 0);
        memset(p, 0xaa, (size_t) (i % 50) + 1);
    }

    grn_expect(memcmp(s, "abc", 3) == 0);

    grn_destroy_pool(pool);
}


GRN_TEST(pool_serves_allocations_larger_than_a_block)
{
    char        *big;
    grn_pool_t  *pool;

    pool = grn_create_pool(512, NULL);
    grn_expect(pool != NULL);

    big = grn_palloc(pool, 100000);
    grn_expect(big != NULL);
    memset(big, 1, 100000);

    big = grn_pcalloc(pool, 70000);
    grn_expect(big != NULL && big[0] == 0 && big[69999] == 0);

    grn_destroy_pool(pool);
}


GRN_TEST(pcalloc_zeroes)
{
    int          i, zero;
    unsigned char *p;
    grn_pool_t  *pool;

    pool = grn_create_pool(0, NULL);
    grn_expect(pool != NULL);

    p = grn_palloc(pool, 64);
    memset(p, 0xff, 64);

    p = grn_pcalloc(pool, 300);
    zero = 1;
    for (i = 0; i < 300; i++) {
        zero &= p[i] == 0;
    }
    grn_expect(zero);

    grn_destroy_pool(pool);
}


GRN_TEST(cleanups_run_in_reverse_order_on_destroy)
{
    int                  i;
    grn_pool_t          *pool;
    grn_pool_cleanup_t  *c;

    pool = grn_create_pool(1024, NULL);
    norder = 0;

    for (i = 1; i <= 3; i++) {
        c = grn_pool_cleanup_add(pool, sizeof(int));
        grn_expect(c != NULL && c->data != NULL);
        *(int *) c->data = i;
        c->handler = record_cleanup;
    }

    /* a cleanup without a handler is skipped */
    c = grn_pool_cleanup_add(pool, 0);
    grn_expect(c != NULL && c->data == NULL);

    grn_destroy_pool(pool);

    grn_expect(norder == 3);
    grn_expect(order[0] == 3 && order[1] == 2 && order[2] == 1);
}


GRN_TEST(reset_runs_cleanups_and_keeps_the_pool_usable)
{
    int                  i;
    char                *p;
    grn_pool_t          *pool;
    grn_pool_cleanup_t  *c;

    pool = grn_create_pool(512, NULL);
    norder = 0;

    c = grn_pool_cleanup_add(pool, sizeof(int));
    *(int *) c->data = 7;
    c->handler = record_cleanup;

    for (i = 0; i < 100; i++) {
        grn_expect(grn_palloc(pool, 100) != NULL);
    }
    grn_expect(grn_palloc(pool, 10000) != NULL);

    grn_reset_pool(pool);
    grn_expect(norder == 1 && order[0] == 7);

    p = grn_palloc(pool, 200);
    grn_expect(p != NULL);
    memset(p, 0, 200);

    grn_destroy_pool(pool);
    grn_expect(norder == 1);
}


GRN_TEST(array_grows_by_doubling_and_keeps_elements)
{
    grn_uint_t    i;
    int          *e, ok;
    grn_pool_t   *pool;
    grn_array_t  *a, b;

    pool = grn_create_pool(1024, NULL);

    a = grn_array_create(pool, 2, sizeof(int));
    grn_expect(a != NULL && a->nelts == 0 && a->nalloc == 2);

    for (i = 0; i < 1000; i++) {
        e = grn_array_push(a);
        grn_expect(e != NULL);
        *e = (int) i;
    }

    grn_expect(a->nelts == 1000 && a->nalloc == 1024);

    ok = 1;
    for (i = 0; i < 1000; i++) {
        ok &= ((int *) a->elts)[i] == (int) i;
    }
    grn_expect(ok);

    grn_expect(grn_array_init(&b, pool, 0, sizeof(grn_str_t)) == GRN_OK);
    grn_expect(b.elts != NULL && b.nalloc >= 1 && b.pool == pool);
    grn_expect(grn_array_push(&b) != NULL && grn_array_push(&b) != NULL && b.nelts == 2);

    grn_destroy_pool(pool);
}


GRN_TEST_MAIN(
    GRN_TEST_ENTRY(pool_serves_aligned_and_unaligned_memory),
    GRN_TEST_ENTRY(pool_serves_allocations_larger_than_a_block),
    GRN_TEST_ENTRY(pcalloc_zeroes),
    GRN_TEST_ENTRY(cleanups_run_in_reverse_order_on_destroy),
    GRN_TEST_ENTRY(reset_runs_cleanups_and_keeps_the_pool_usable),
    GRN_TEST_ENTRY(array_grows_by_doubling_and_keeps_elements)
)
