/*
 * grn_py_image.c: greenc_python.so, built first, carried inside the binary as bytes.
 *
 * One file to install, copy or upgrade, and a binary can never meet a module from another
 * build. The master copies these bytes into a sealed memfd once; app workers inherit it and
 * dlopen() it (grn_py_loader.c). The Makefile compiles this file alone with GRN_PY_IMAGE set
 * to the module's path, after the module is linked.
 */

#ifndef GRN_PY_IMAGE
#error "GRN_PY_IMAGE (the path of greenc_python.so) must be defined by the Makefile"
#endif

__asm__(
    "    .section .rodata\n"
    "    .balign 64\n"
    "    .global grn_py_image\n"
    "    .type grn_py_image, @object\n"
    "grn_py_image:\n"
    "    .incbin \"" GRN_PY_IMAGE "\"\n"
    "    .global grn_py_image_end\n"
    "    .type grn_py_image_end, @object\n"
    "grn_py_image_end:\n"
    "    .byte 0\n"
    "    .previous\n"
);
