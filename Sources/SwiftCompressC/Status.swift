import SwiftCompress
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The status codes of include/swiftcompress.h (`SC_OK`, `SC_ERROR_*`).
enum Status: Int32, CaseIterable {
    case ok = 0
    case nullPointer = 1
    case invalidArgument = 2
    case invalidJSON = 3
    case config = 4
    case unknownName = 5
    case shape = 6
    case dtype = 7
    case state = 8
    case pruning = 9
    case distillation = 10
    case quantization = 11
    case `internal` = 100

    /// The header's constant name, derived from the case name: `SC_OK`, else `SC_ERROR_` and the
    /// case name in upper snake case (`nullPointer` -> `SC_ERROR_NULL_POINTER`, `invalidJSON` ->
    /// `SC_ERROR_INVALID_JSON`).
    var name: String {
        if self == .ok { return "SC_OK" }
        var snake = ""
        var previousIsLower = false
        for c in String(describing: self) {
            if c.isUppercase && previousIsLower { snake += "_" }
            snake += c.uppercased()
            previousIsLower = c.isLowercase
        }
        return "SC_ERROR_" + snake
    }
}

/// A failed call: the status returned to C and the message kept for `sc_*last_error`.
struct CallError: Error {
    var status: Status
    var message: String

    init(_ status: Status, _ message: String) {
        self.status = status
        self.message = message
    }

    init(_ error: SwiftCompressError) {
        switch error {
        case .json(let e): self.init(.invalidJSON, e.description)
        case .config(let e): self.init(.config, e.description)
        }
    }

    /// The one mapping of engine errors to status codes: shape kinds -> SC_ERROR_SHAPE, element-type
    /// kinds -> SC_ERROR_DTYPE, every other kind -> the engine's code. The message is the error's
    /// description, unchanged.
    init(_ error: EngineError) {
        if error.kind.isShape {
            self.init(.shape, error.description)
        } else if error.kind.isElementType {
            self.init(.dtype, error.description)
        } else {
            self.init(Self.status(of: error.engine), error.description)
        }
    }

    /// The one mapping of session errors to status codes.
    init(_ error: SessionError) {
        switch error {
        case .invalidArgument(let m): self.init(.invalidArgument, m)
        case .unknownName(let m): self.init(.unknownName, m)
        case .state(let m): self.init(.state, m)
        case .shape(let m): self.init(.shape, m)
        case .internal(let m): self.init(.internal, m)
        case .config(let e): self.init(e)
        case .engine(let e): self.init(e)
        }
    }

    /// The status of an engine's errors that are not about shapes or element types.
    static func status(of engine: EngineError.Engine) -> Status {
        switch engine {
        case .pruning: return .pruning
        case .quantization: return .quantization
        case .distillation: return .distillation
        }
    }
}

/// A NUL-terminated UTF-8 copy of a string, owned by whoever holds the box; its pointer stays
/// valid until the box is released.
final class CString: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<CChar>

    init(_ s: String) {
        let utf8 = Array(s.utf8)
        pointer = .allocate(capacity: utf8.count + 1)
        for (i, b) in utf8.enumerated() { pointer[i] = CChar(bitPattern: b) }
        pointer[utf8.count] = 0
        byteCount = utf8.count
    }

    /// The length in bytes without the terminating NUL.
    let byteCount: Int

    var constPointer: UnsafePointer<CChar> { UnsafePointer(pointer) }

    deinit { pointer.deallocate() }
}

/// The per-thread last error of calls made without a session (`sc_last_error`).
enum ThreadError {
    /// A pthread key whose values are `malloc`ed C strings, freed at thread exit.
    static let key: pthread_key_t = {
        var key = pthread_key_t()
        _ = pthread_key_create(&key) { value in free(value) }
        return key
    }()

    static let empty: StaticString = ""

    /// Replaces the calling thread's message.
    static func set(_ message: String) {
        let utf8 = Array(message.utf8)
        guard let raw = malloc(utf8.count + 1) else { return }
        let p = raw.bindMemory(to: CChar.self, capacity: utf8.count + 1)
        for (i, b) in utf8.enumerated() { p[i] = CChar(bitPattern: b) }
        p[utf8.count] = 0
        let old = pthread_getspecific(key)
        if pthread_setspecific(key, raw) != 0 {
            free(raw)
            return
        }
        free(old)
    }

    /// The calling thread's message, or "".
    static var current: UnsafePointer<CChar> {
        if let p = pthread_getspecific(key) { return UnsafePointer(p.assumingMemoryBound(to: CChar.self)) }
        return UnsafeRawPointer(empty.utf8Start).assumingMemoryBound(to: CChar.self)
    }
}

/// Runs a call without a session: a thrown `CallError` becomes its status and the thread's message.
func threadCall(_ body: () throws(CallError) -> Void) -> Int32 {
    do {
        try body()
        return Status.ok.rawValue
    } catch {
        ThreadError.set(error.message)
        return error.status.rawValue
    }
}
