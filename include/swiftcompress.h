/*
 * swiftcompress.h — the stable C ABI of libswiftcompress.so.
 *
 * swiftcompress implements the compression config specification (pruning, quantization,
 * distillation; current and legacy formats) with NNI 3.0's behaviour. This header is C99 and
 * usable from C++. Every entry point is prefixed `sc_`.
 *
 * Status of this header: version queries only. The config, pruning, quantization and
 * distillation entry points are added in later releases without changing what is declared here.
 */
#ifndef SWIFTCOMPRESS_H
#define SWIFTCOMPRESS_H

#ifdef __cplusplus
extern "C" {
#endif

/* The version this header describes. SC_VERSION_NUMBER is MAJOR*10000 + MINOR*100 + PATCH. */
#define SC_VERSION_MAJOR 0
#define SC_VERSION_MINOR 1
#define SC_VERSION_PATCH 0
#define SC_VERSION_NUMBER (SC_VERSION_MAJOR * 10000 + SC_VERSION_MINOR * 100 + SC_VERSION_PATCH)

/*
 * The version of the library actually loaded, as SC_VERSION_NUMBER. Compare it with the header's
 * to detect a mismatched libswiftcompress.so. Never fails; takes no pointers.
 */
int sc_version_number(void);

#ifdef __cplusplus
}
#endif

#endif /* SWIFTCOMPRESS_H */
