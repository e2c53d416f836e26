/*
 * swiftcompress._core: the distillation methods of Session (teacher modules, links, bind student /
 * teacher, distill). See _core.c for the conventions (tensor specs, errors, the GIL) and _common.h
 * for the shared helpers.
 */
#include "_common.h"

PyMethodDef scpy_distill_session_methods[] = {
    {NULL, NULL, 0, NULL},
};
