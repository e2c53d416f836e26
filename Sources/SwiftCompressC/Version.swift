import SwiftCompress

/// `int sc_version_number(void)`: the library version as MAJOR*10000 + MINOR*100 + PATCH.
@_cdecl("sc_version_number")
public func sc_version_number() -> Int32 { Int32(SwiftCompressVersion.number) }

private let versionString = CString(SwiftCompressVersion.string)

/// `const char *sc_version_string(void)`: "MAJOR.MINOR.PATCH", a static string.
@_cdecl("sc_version_string")
public func sc_version_string() -> UnsafePointer<CChar> { versionString.constPointer }

private let statusNames: [Int32: CString] = Dictionary(uniqueKeysWithValues: Status.allCases.map { ($0.rawValue, CString($0.name)) })
private let unknownStatusName = CString("SC_ERROR_UNKNOWN")

/// `const char *sc_status_name(int status)`: the constant's name, or "SC_ERROR_UNKNOWN".
@_cdecl("sc_status_name")
public func sc_status_name(_ status: Int32) -> UnsafePointer<CChar> {
    (statusNames[status] ?? unknownStatusName).constPointer
}

/// `const char *sc_last_error(void)`: the calling thread's last message of a call without a session.
@_cdecl("sc_last_error")
public func sc_last_error() -> UnsafePointer<CChar> { ThreadError.current }
