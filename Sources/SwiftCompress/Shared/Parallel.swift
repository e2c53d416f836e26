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

/// Advances a row-major odometer one step over dims `0...lastDim`: the last digit counts up,
/// carrying into the dims before it; `offset` moves by `steps[d]` per unit of digit d (and back
/// by `steps[d] * sizes[d]` on a carry). Stops after the first dim that does not carry. Shared by
/// the pruning align rule (rows of a reduced mask) and quantization's block walk.
@inline(__always)
func advanceOdometer<Digits: MutableCollection<Int>>(_ digits: inout Digits, sizes: [Int], steps: [Int], lastDim: Int,
                                                    offset: inout Int) where Digits.Index == Int {
    var d = lastDim
    while d >= 0 {
        digits[d] += 1
        offset += steps[d]
        if digits[d] < sizes[d] { return }
        offset -= steps[d] * digits[d]
        digits[d] = 0
        d -= 1
    }
}
