/*
 * swiftcompress._core: the quantization methods of Session (sc_session_observe, scale shape,
 * quant params, fake quantize, quant range). See _core.c for the conventions (tensor specs, errors,
 * the GIL) and _common.h for the shared helpers.
 */
#include "_common.h"

PyMethodDef scpy_quant_session_methods[] = {
    {NULL, NULL, 0, NULL},
};
