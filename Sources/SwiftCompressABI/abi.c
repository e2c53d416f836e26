/* The C declarations of include/swiftcompress.h, compiled once so the Swift entry points in
 * Sources/SwiftCompressC see the same `sc_tensor` layout a C caller does. No definitions here. */
#include "swiftcompress.h"
