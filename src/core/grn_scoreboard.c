/*
 * grn_scoreboard.c: mapping the scoreboard (see grn_scoreboard.h).
 */

#include "grn_core.h"
#include "grn_scoreboard.h"

#include <sys/mman.h>

grn_sb_slot_t  *grn_scoreboard;
grn_sb_slot_t  *grn_sb_self;

grn_int_t
grn_scoreboard_init(grn_uint_t nslots, grn_log_t *log)
{
    void  *p;

    /* Anonymous and shared: untouched pages cost nothing, and forks see the same memory. */
    p = mmap(NULL, sizeof(grn_sb_slot_t) * nslots, PROT_READ | PROT_WRITE,
             MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        grn_log_error(GRN_LOG_EMERG, log, errno, "mmap() of the scoreboard (%zu bytes) failed",
                      sizeof(grn_sb_slot_t) * nslots);
        return GRN_ERROR;
    }
    grn_scoreboard = p;
    return GRN_OK;
}
