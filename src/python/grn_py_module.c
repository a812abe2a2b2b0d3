/*
 * grn_py_module.c: the one symbol greenc_python.so exports, the table through which the
 * binary calls the embedded interpreter (see grn_py.h). Everything else in the module is
 * compiled with -fvisibility=hidden.
 */

#include "grn_core.h"
#include "grn_cycle.h"
#include "grn_py.h"

__attribute__((visibility("default")))
const grn_py_module_t  grn_py_module = {
    .version = GREENC_VERSION,
    .sizes = GRN_PY_MODULE_SIZES,
    .init = grn_py_init,
    .call = grn_py_call,
    .next = grn_py_next,
    .abort = grn_py_abort,
    .done = grn_py_done,
    .thread_done = grn_py_thread_done,
    .check = grn_py_check,
    .version_string = grn_py_version,
};
