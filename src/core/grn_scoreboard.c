/*
 * grn_scoreboard.c: mapping the scoreboard (see grn_scoreboard.h).
 */

#include "grn_core.h"
#include "grn_scoreboard.h"

#include <sys/mman.h>

grn_sb_slot_t  *grn_scoreboard;
grn_sb_slot_t  *grn_sb_self;
grn_sb_app_t   *grn_sb_apps;
grn_uint_t      grn_sb_nslots;
static grn_sb_app_t  *grn_sb_down;          /* GRN_SB_APPS entries: `accepting` means down */

grn_int_t
grn_scoreboard_init(grn_uint_t nslots, grn_log_t *log)
{
    void    *p;
    size_t   size;

    size = (sizeof(grn_sb_slot_t) + sizeof(grn_sb_app_t)) * nslots
           + sizeof(grn_sb_app_t) * GRN_SB_APPS;

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
    return GRN_OK;
}

void
grn_sb_set_accepting(uint64_t app_key)
{
    grn_sb_app_t  *a;

    if (grn_sb_self == NULL) {
        return;
    }
    a = &grn_sb_apps[grn_sb_self - grn_scoreboard];
    if (app_key) {
        a->app_key = app_key;
        a->accepting = 1;
    } else {
        a->accepting = 0;
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
