import Dispatch
// The C library (not Foundation): libm for square roots in unoptimized builds.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs `body(i)` for i in 0..<n, on several threads when `n > 1` and `parallel` is true.
/// `body` must only write to memory no other iteration touches.
@inline(__always)
func parallelFor(_ n: Int, parallel: Bool = true, _ body: (Int) -> Void) {
    if n <= 0 { return }
    if n == 1 || !parallel {
        for i in 0..<n { body(i) }
        return
    }
    withoutActuallyEscaping(body) { b in
        nonisolated(unsafe) let work = b
        DispatchQueue.concurrentPerform(iterations: n) { i in work(i) }
    }
}

/// Number of parts a large pass is split into (Dispatch sizes its own thread pool).
let workerParts = 8

/// A fixed-size buffer that the iterations of `parallelFor` write at disjoint indices. Backed by
/// raw storage so that concurrent writes to different slots are not exclusive accesses of one
/// Swift array.
final class SharedSlots<T>: @unchecked Sendable {
    let storage: UnsafeMutableBufferPointer<T>
    init(repeating v: T, count: Int) {
        storage = UnsafeMutableBufferPointer<T>.allocate(capacity: max(count, 0))
        storage.initialize(repeating: v)
    }
    deinit {
        storage.deinitialize()
        storage.deallocate()
    }
    subscript(i: Int) -> T {
        get { storage[i] }
        set { storage[i] = newValue }
    }
}
