/*
 * grn_scoreboard.c: mapping the scoreboard (see grn_scoreboard.h).
 */

#include "grn_core.h"
#include "grn_cycle.h"
#include "grn_scoreboard.h"

#include <sys/mman.h>

grn_sb_slot_t  *grn_scoreboard;
grn_sb_slot_t  *grn_sb_self;
grn_sb_app_t   *grn_sb_apps;
grn_uint_t      grn_sb_nslots;
static grn_sb_app_t  *grn_sb_down;          /* GRN_SB_APPS entries: `accepting` means down */
static grn_sb_group_t     *grn_sb_groups;    /* GRN_SB_APPS entries */
static grn_sb_listener_t  *grn_sb_listeners; /* GRN_SB_LISTENERS entries */

/* Prometheus' default buckets, 5ms .. 10s, in microseconds. */
const uint64_t  grn_sb_bucket_us[GRN_SB_BUCKETS - 1] = {
    5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000
};

grn_int_t
grn_scoreboard_init(grn_uint_t nslots, grn_log_t *log)
{
    void    *p;
    size_t   size;

    size = (sizeof(grn_sb_slot_t) + sizeof(grn_sb_app_t)) * nslots
           + sizeof(grn_sb_app_t) * GRN_SB_APPS + sizeof(grn_sb_group_t) * GRN_SB_APPS
           + sizeof(grn_sb_listener_t) * GRN_SB_LISTENERS;

    /* Anonymous and shared: untouched pages cost nothing, and forks see the same memory. */
    p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        grn_log_error(GRN_LOG_EMERG, log, errno, "mmap() of the scoreboard (%zu bytes) failed",
                      size);
        return GRN_ERROR;
    }
    grn_scoreboard = p;
    grn_sb_apps = (grn_sb_app_t *) (grn_scoreboard + nslots);
    grn_sb_nslots = nslots;
    grn_sb_down = grn_sb_apps + nslots;
    grn_sb_groups = (grn_sb_group_t *) (grn_sb_down + GRN_SB_APPS);
    grn_sb_listeners = (grn_sb_listener_t *) (grn_sb_groups + GRN_SB_APPS);
    return GRN_OK;
}

grn_sb_group_t *
grn_sb_group_find(uint64_t key)
{
    grn_uint_t  i;

    if (grn_sb_groups == NULL) {
        return NULL;
    }
    for (i = 0; i < GRN_SB_APPS && grn_sb_groups[i].key; i++) {
        if (grn_sb_groups[i].key == key) {
            return &grn_sb_groups[i];
        }
    }
    return NULL;
}

grn_sb_listener_t *
grn_sb_listener_at(grn_uint_t index)
{
    if (grn_sb_listeners == NULL || index >= GRN_SB_LISTENERS) {
        return NULL;
    }
    return &grn_sb_listeners[index];
}

/*
 * Entries are claimed by the master only, before it forks, and never given back (their keys are
 * names, and a name that comes back after a reload finds its totals again): no race.
 */
static grn_sb_group_t *
grn_sb_group_claim(uint64_t key)
{
    grn_uint_t  i;

    for (i = 0; i < GRN_SB_APPS; i++) {
        if (grn_sb_groups[i].key == key) {
            return &grn_sb_groups[i];
        }
        if (grn_sb_groups[i].key == 0) {
            grn_sb_groups[i].key = key;
            return &grn_sb_groups[i];
        }
    }
    return NULL;
}

static int
grn_sb_listener_claim(grn_str_t *addr_text)
{
    int       i;
    uint64_t  key = grn_hash_name(addr_text->data, addr_text->len);

    for (i = 0; i < GRN_SB_LISTENERS; i++) {
        if (grn_sb_listeners[i].key == key) {
            return i;
        }
        if (grn_sb_listeners[i].key == 0) {
            grn_sb_listeners[i].key = key;
            return i;
        }
    }
    return -1;                            /* more listeners than entries: not counted */
}

void
grn_sb_slot_prepare(grn_uint_t slot, uint64_t group_key, grn_cycle_t *cycle)
{
    grn_uint_t        i;
    grn_listening_t  *ls;

    if (grn_scoreboard == NULL) {
        return;
    }
    (void) grn_sb_group_claim(group_key);
    ls = cycle->listening.elts;
    for (i = 0; i < cycle->listening.nelts; i++) {
        ls[i].sb_index = grn_sb_listener_claim(&ls[i].addr_text);
    }
    memset((void *) &grn_scoreboard[slot], 0, sizeof(grn_sb_slot_t));
    grn_scoreboard[slot].group_key = group_key;
    grn_scoreboard[slot].generation = cycle->generation;
    grn_sb_apps[slot].accepting = 0;
}

void
grn_sb_counts_fold(grn_sb_counts_t *to, grn_sb_counts_t *from)
{
    grn_uint_t  i;

    for (i = 0; i < 5; i++) {
        to->status[i] += from->status[i];
    }
    for (i = 0; i < GRN_SB_BUCKETS; i++) {
        to->buckets[i] += from->buckets[i];
    }
    to->duration_us += from->duration_us;
    to->tls_handshakes += from->tls_handshakes;
    to->tls_failures += from->tls_failures;
}

void
grn_sb_slot_retire(grn_uint_t slot, int cause)
{
    grn_uint_t      i;
    grn_sb_slot_t  *s;
    grn_sb_group_t *g;

    if (grn_scoreboard == NULL) {
        return;
    }
    s = &grn_scoreboard[slot];
    /* Readers skip a slot without a pid: clear it first, so nothing is counted twice. */
    s->pid = 0;
    g = grn_sb_group_find(s->group_key);
    if (g) {
        grn_sb_counts_fold(&g->counts, &s->counts);
        if (cause >= 0 && cause < GRN_SB_CAUSES) {
            g->restarts[cause]++;
        }
    }
    for (i = 0; i < GRN_SB_LISTENERS; i++) {
        grn_sb_listeners[i].accepted += s->accepted[i];
    }
    memset((void *) &s->counts, 0, sizeof(s->counts));
    memset((void *) s->accepted, 0, sizeof(s->accepted));
    memset((void *) s->active, 0, sizeof(s->active));
    memset((void *) s->idle, 0, sizeof(s->idle));
}

void
grn_sb_count_timeout(uint64_t group_key)
{
    grn_sb_group_t  *g = grn_sb_group_find(group_key);

    if (g) {
        g->timeouts++;
    }
}

void
grn_sb_set_accepting(uint64_t app_key)
{
    grn_sb_app_t  *a;

    if (grn_sb_self == NULL) {
        return;
    }
    a = &grn_sb_apps[grn_sb_self - grn_scoreboard];
    /* The worker says so itself too: it serves before the master has read its "ready". */
    if (app_key) {
        a->app_key = app_key;
        a->accepting = 1;
        grn_sb_self->state = GRN_SB_READY;
    } else {
        a->accepting = 0;
        grn_sb_self->state = GRN_SB_DRAINING;
    }
}

grn_flag_t
grn_sb_app_accepting(uint64_t app_key)
{
    grn_uint_t  i;

    if (grn_sb_apps == NULL) {
        return 1;                       /* nothing to ask: let the connection tell */
    }
    for (i = 0; i < grn_sb_nslots; i++) {
        if (grn_sb_apps[i].accepting && grn_sb_apps[i].app_key == app_key) {
            return 1;
        }
    }
    return 0;
}

void
grn_sb_set_app_down(uint64_t app_key, grn_flag_t down)
{
    grn_uint_t  i, free = GRN_SB_APPS;

    if (grn_sb_down == NULL) {
        return;
    }
    for (i = 0; i < GRN_SB_APPS; i++) {
        if (grn_sb_down[i].app_key == app_key) {
            grn_sb_down[i].accepting = down;
            return;
        }
        if (grn_sb_down[i].app_key == 0 && free == GRN_SB_APPS) {
            free = i;
        }
    }
    if (down && free < GRN_SB_APPS) {
        grn_sb_down[free].accepting = 1;
        grn_sb_down[free].app_key = app_key;
    }
}

grn_flag_t
grn_sb_app_down(uint64_t app_key)
{
    grn_uint_t  i;

    if (grn_sb_down == NULL) {
        return 0;
    }
    for (i = 0; i < GRN_SB_APPS; i++) {
        if (grn_sb_down[i].app_key == app_key) {
            return grn_sb_down[i].accepting != 0;
        }
    }
    return 0;
}
