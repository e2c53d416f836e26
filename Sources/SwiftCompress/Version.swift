/// The library's version. `number` is MAJOR*10000 + MINOR*100 + PATCH, as SC_VERSION_NUMBER in
/// include/swiftcompress.h.
public enum SwiftCompressVersion {
    public static let major = 0
    public static let minor = 2
    public static let patch = 0
    public static var number: Int { major * 10000 + minor * 100 + patch }
    public static var string: String { "\(major).\(minor).\(patch)" }
}
