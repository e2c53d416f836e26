import SwiftCompress

/// `int sc_version_number(void)`: the library version as MAJOR*10000 + MINOR*100 + PATCH.
@_cdecl("sc_version_number")
public func sc_version_number() -> Int32 { Int32(SwiftCompressVersion.number) }
