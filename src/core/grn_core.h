/*
 * grn_core.h: what every greenc source file includes first.
 *
 * It pulls in the generated build configuration (objs/grn_auto_config.h), the system headers
 * the whole server uses, the shared return codes and the small core modules (strings, pools,
 * arrays, logging) in dependency order.
 */

#ifndef GRN_CORE_H
#define GRN_CORE_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "grn_auto_config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/types.h>

#define GREENC_VERSION      "0.1.0"
#define GREENC_VER          "greenc/" GREENC_VERSION
#define GREENC_VAR          "GREENC"   /* environment variable that carries inherited fds */

typedef intptr_t            grn_int_t;
typedef uintptr_t           grn_uint_t;
typedef intptr_t            grn_flag_t;
typedef int64_t             grn_msec_t;   /* milliseconds, for timers and durations */

/* The few return codes every module shares. */
#define GRN_OK              0
#define GRN_ERROR          -1
#define GRN_AGAIN          -2
#define GRN_BUSY           -3
#define GRN_DONE           -4
#define GRN_DECLINED       -5
#define GRN_ABORT          -6

/* Exit status of a worker whose app could not be loaded: the master backs off, not respawns. */
#define GRN_EXIT_BOOT_FAILED  3

#define grn_min(a, b)       ((a) < (b) ? (a) : (b))
#define grn_max(a, b)       ((a) > (b) ? (a) : (b))
#define grn_nelems(a)       (sizeof(a) / sizeof((a)[0]))
#define grn_align(d, a)     (((d) + ((a) - 1)) & ~((a) - 1))

#define GRN_UNUSED          __attribute__((unused))

typedef struct grn_pool_s    grn_pool_t;
typedef struct grn_log_s     grn_log_t;
typedef struct grn_cycle_s   grn_cycle_t;
typedef struct grn_conf_s    grn_conf_t;
typedef struct grn_command_s grn_command_t;

#include "grn_string.h"
#include "grn_palloc.h"
#include "grn_array.h"
#include "grn_log.h"

#endif /* GRN_CORE_H */
