/// The integer layout of a quantized buffer. Values are stored in the logical (row-major) order of
/// the tensor they came from, densely, with no strides.
///
/// The 4-bit layouts pack two values per byte: value `2k` in the low nibble (bits 0-3) of byte
/// `k`, value `2k + 1` in the high nibble (bits 4-7); with an odd count the last byte's high nibble
/// is 0. `int4` nibbles are two's complement (-8...7), `uint4` nibbles unsigned (0...15). This is
/// the order of PyTorch's `quint4x2`.
public enum QuantizedStorage: String, Sendable, Hashable, CaseIterable {
    /// One signed byte per value (-128...127).
    case int8
    /// One unsigned byte per value (0...255).
    case uint8
    /// Two bytes per value, signed, native byte order (no alignment required).
    case int16
    /// Two bytes per value, unsigned, native byte order (no alignment required).
    case uint16
    /// Two signed 4-bit values per byte.
    case int4
    /// Two unsigned 4-bit values per byte.
    case uint4

    /// The values the layout can hold.
    public var range: ClosedRange<Int> {
        switch self {
        case .int8: return -128...127
        case .uint8: return 0...255
        case .int16: return -32768...32767
        case .uint16: return 0...65535
        case .int4: return -8...7
        case .uint4: return 0...15
        }
    }

    /// Bytes needed for `count` values (>= 0): `(count + 1) / 2` for the 4-bit layouts, `2 * count`
    /// for the 16-bit ones (`Int.max` when that overflows).
    public func byteCount(forValues count: Int) -> Int {
        switch self {
        case .int8, .uint8: return count
        case .int16, .uint16:
            let (n, o) = count.multipliedReportingOverflow(by: 2)
            return o ? Int.max : n
        case .int4, .uint4: return count / 2 + count % 2
        }
    }

    /// Whether every value of `dtype` (qmin...qmax) fits.
    public func canHold(_ dtype: QuantDType) -> Bool {
        range.contains(dtype.qmin) && range.contains(dtype.qmax)
    }

    /// The smallest layout that holds `dtype`: the 4-bit layouts for up to 4 bits, then 8 and 16.
    public static func smallest(for dtype: QuantDType) -> QuantizedStorage {
        if dtype.bits <= 4 { return dtype.isSigned ? .int4 : .uint4 }
        if dtype.bits <= 8 { return dtype.isSigned ? .int8 : .uint8 }
        return dtype.isSigned ? .int16 : .uint16
    }
}

/// A writable quantized buffer in memory the caller owns: `count` integers in `storage` layout.
/// The memory must stay valid, and not be accessed by others, while the buffer is used.
public struct QuantizedBuffer: @unchecked Sendable {
    /// Start of the buffer; nil only when `count` is 0. No alignment is required.
    public let pointer: UnsafeMutableRawPointer?
    /// Number of values (not bytes).
    public let count: Int
    /// How the values are laid out.
    public let storage: QuantizedStorage

    /// Describes `count` values of `storage` layout at `pointer`; nothing is copied or retained
    /// beyond the value itself.
    ///
    /// - Parameters:
    ///   - byteCount: when given, the size of the caller's buffer; it must hold
    ///     `storage.byteCount(forValues: count)` bytes.
    /// - Throws: `TensorViewError` for a negative count, a null pointer with values, or a buffer
    ///   that is too small.
    public init(_ pointer: UnsafeMutableRawPointer?, count: Int, storage: QuantizedStorage, byteCount: Int? = nil) throws(TensorViewError) {
        try checkQuantizedBuffer(pointer.map { UnsafeRawPointer($0) }, count: count, storage: storage, byteCount: byteCount)
        self.pointer = pointer
        self.count = count
        self.storage = storage
    }

    /// The same memory, read-only.
    public var readOnly: QuantizedView { QuantizedView(unchecked: pointer.map { UnsafeRawPointer($0) }, count: count, storage: storage) }
}

/// A read-only quantized buffer in memory the caller owns; see `QuantizedBuffer`.
public struct QuantizedView: @unchecked Sendable {
    /// Start of the buffer; nil only when `count` is 0. No alignment is required.
    public let pointer: UnsafeRawPointer?
    /// Number of values (not bytes).
    public let count: Int
    /// How the values are laid out.
    public let storage: QuantizedStorage

    /// Same rules and errors as `QuantizedBuffer.init`.
    public init(_ pointer: UnsafeRawPointer?, count: Int, storage: QuantizedStorage, byteCount: Int? = nil) throws(TensorViewError) {
        try checkQuantizedBuffer(pointer, count: count, storage: storage, byteCount: byteCount)
        self.pointer = pointer
        self.count = count
        self.storage = storage
    }

    init(unchecked pointer: UnsafeRawPointer?, count: Int, storage: QuantizedStorage) {
        self.pointer = pointer
        self.count = count
        self.storage = storage
    }

    /// The value at `index` (0..<count).
    /// - Throws: when `index` is out of range.
    public func value(at index: Int) throws(TensorViewError) -> Int {
        guard index >= 0, index < count, let p = pointer else {
            throw TensorViewError("index \(index) is outside 0..<\(count)")
        }
        return Int(loadQuantized(p, storage, index))
    }
}

func checkQuantizedBuffer(_ pointer: UnsafeRawPointer?, count: Int, storage: QuantizedStorage, byteCount: Int?) throws(TensorViewError) {
    if count < 0 { throw TensorViewError("value count \(count) is negative") }
    if count > Int.max / 2 { throw TensorViewError("value count \(count) is too large") }
    if count > 0 && pointer == nil { throw TensorViewError("null pointer for a quantized buffer of \(count) values") }
    if let byteCount, byteCount < storage.byteCount(forValues: count) {
        throw TensorViewError("\(count) \(storage.rawValue) values need \(storage.byteCount(forValues: count)) bytes but the buffer has \(byteCount)")
    }
}

@inline(__always)
func loadQuantized(_ p: UnsafeRawPointer, _ storage: QuantizedStorage, _ i: Int) -> Int32 {
    switch storage {
    case .int8: return Int32(p.load(fromByteOffset: i, as: Int8.self))
    case .uint8: return Int32(p.load(fromByteOffset: i, as: UInt8.self))
    case .int16: return Int32(p.loadUnaligned(fromByteOffset: i &* 2, as: Int16.self))
    case .uint16: return Int32(p.loadUnaligned(fromByteOffset: i &* 2, as: UInt16.self))
    case .int4, .uint4:
        let byte = p.load(fromByteOffset: i >> 1, as: UInt8.self)
        let nibble = Int32((i & 1) == 0 ? byte & 0x0f : byte >> 4)
        return storage == .int4 && nibble >= 8 ? nibble - 16 : nibble
    }
}

/// Writes `n` values (already inside the storage's range) starting at value index `start`.
/// 4-bit layouts: both nibbles of a byte must be written by the same thread.
@inline(__always)
func storeQuantized(_ values: UnsafePointer<Int32>, _ n: Int, into p: UnsafeMutableRawPointer, _ storage: QuantizedStorage, at start: Int) {
    switch storage {
    case .int8: for k in 0..<n { p.storeBytes(of: Int8(truncatingIfNeeded: values[k]), toByteOffset: start &+ k, as: Int8.self) }
    case .uint8: for k in 0..<n { p.storeBytes(of: UInt8(truncatingIfNeeded: values[k]), toByteOffset: start &+ k, as: UInt8.self) }
    case .int16: for k in 0..<n { p.storeBytes(of: Int16(truncatingIfNeeded: values[k]), toByteOffset: (start &+ k) &* 2, as: Int16.self) }
    case .uint16: for k in 0..<n { p.storeBytes(of: UInt16(truncatingIfNeeded: values[k]), toByteOffset: (start &+ k) &* 2, as: UInt16.self) }
    case .int4, .uint4:
        for k in 0..<n {
            let i = start &+ k
            let nibble = UInt8(truncatingIfNeeded: values[k]) & 0x0f
            let old = p.load(fromByteOffset: i >> 1, as: UInt8.self)
            let new = (i & 1) == 0 ? (old & 0xf0) | nibble : (old & 0x0f) | (nibble << 4)
            p.storeBytes(of: new, toByteOffset: i >> 1, as: UInt8.self)
        }
    }
}

extension Quantization {
    /// Real quantization: writes q = round_half_even(clamp(zp + x / scale, qmin, qmax)) for every
    /// element of `x` (in logical order) into `q`, with the scale and zero point of each element's
    /// block. q is the integer fake quantization computes, so `dequantize` gives back
    /// `fakeQuantize`'s output exactly, except that a -0.0 comes back as +0.0 (integers have no
    /// signed zero).
    ///
    /// - Parameters:
    ///   - x: the values (any dtype and strides).
    ///   - q: `x.count` values in a layout that holds [qmin, qmax] of `settings.dtype` (e.g. int8
    ///     for int2...int8, uint8 for uint2...uint8, int4 for int2...int4).
    ///   - parameters, settings: as for `fakeQuantize`.
    /// - Returns: the number of NaN inputs; each is stored as the zero point (the quantized value
    ///   of 0.0). Callers should treat a non-zero count as an error in their data.
    /// - Throws: `QuantizationError` — `.unsupportedStorage` (key `quant_dtype`) when the layout
    ///   cannot hold the range, `.shapeMismatch` when `q.count != x.count` or the block counts
    ///   differ, `.invalidGranularity`, `.invalidParameters` as for `fakeQuantize`. Nothing is
    ///   written on error.
    public static func quantize(_ x: TensorView, into q: QuantizedBuffer, parameters: QuantParameters,
                                settings: QuantizationSettings) throws(EngineError) -> Int {
        let blocks = try checkedBlocks(x, out: nil, mask: nil, parameters: parameters, settings: settings)
        try checkStorage(q.storage, count: q.count, x.count, shape: x.shape, settings)
        guard let base = q.pointer, x.count > 0 else { return 0 }
        if q.storage == .int4 || q.storage == .uint4, (x.count & 1) == 1 {
            // The unused high nibble of the last byte is 0.
            let last = (x.count - 1) >> 1
            base.storeBytes(of: base.load(fromByteOffset: last, as: UInt8.self) & 0x0f, toByteOffset: last, as: UInt8.self)
        }
        if x.dtype == .float64 {
            return quantizeValues(x, base, q.storage, parameters, blocks, Double.self)
        }
        return quantizeValues(x, base, q.storage, parameters, blocks, Float.self)
    }

    /// Dequantization: writes (q - zp) * scale for every value of `q` into `out` (logical order),
    /// computed in float32 (float64 when `out` is float64) and rounded to `out`'s dtype.
    ///
    /// - Parameters:
    ///   - q: `out.count` values.
    ///   - out: the tensor to fill (its shape gives the blocks).
    ///   - parameters, settings: as for `fakeQuantize`.
    /// - Throws: as `quantize`.
    public static func dequantize(_ q: QuantizedView, into out: MutableTensorView, parameters: QuantParameters,
                                  settings: QuantizationSettings) throws(EngineError) {
        let blocks = try checkedBlocks(out.readOnly, out: nil, mask: nil, parameters: parameters, settings: settings)
        try checkStorage(q.storage, count: q.count, out.count, shape: out.shape, settings)
        guard let base = q.pointer, out.count > 0 else { return }
        if out.dtype == .float64 {
            dequantizeValues(base, q.storage, out, parameters, blocks, Double.self)
        } else {
            dequantizeValues(base, q.storage, out, parameters, blocks, Float.self)
        }
    }

    static func checkStorage(_ storage: QuantizedStorage, count: Int, _ n: Int, shape: [Int],
                             _ settings: QuantizationSettings) throws(EngineError) {
        if !storage.canHold(settings.dtype) {
            throw EngineError(.quantization, .unsupportedStorage, target: settings.target, key: "quant_dtype",
                                    "\(settings.dtype) values [\(settings.dtype.qmin), \(settings.dtype.qmax)] do not fit \(storage.rawValue) storage [\(storage.range.lowerBound), \(storage.range.upperBound)]; use \(QuantizedStorage.smallest(for: settings.dtype).rawValue)")
        }
        if count != n {
            throw EngineError(.quantization, .shapeMismatch, target: settings.target,
                                    "quantized buffer holds \(count) value(s), the tensor of shape \(shape) has \(n)")
        }
    }

    static func quantizeValues<T: QuantReal>(_ x: TensorView, _ base: UnsafeMutableRawPointer, _ storage: QuantizedStorage,
                                             _ p: QuantParameters, _ blocks: QuantizationBlocks, _: T.Type) -> Int {
        let consts = constants(p, T.self)
        let qmin = T(p.dtype.qmin), qmax = T(p.dtype.qmax)
        let chunks = quantChunks(x.count)  // boundaries are multiples of 1024: no byte is shared
        let nans = SharedSlots<Int>(repeating: 0, count: chunks.count)
        parallelFor(chunks.count) { part in
            withUnsafeTemporaryAllocation(of: T.self, capacity: quantTile) { scratch in
                withUnsafeTemporaryAllocation(of: Int32.self, capacity: quantTile) { ints in
                    guard let s = scratch.baseAddress, let qi = ints.baseAddress else { return }
                    var count = 0
                    blocks.forEachSegment(in: chunks[part]) { segment, b in
                        forEachTile(x, segment, scratch: s, boundedTiles: true) { v, tile in
                            count &+= quantizeKernel(v, qi, tile.count, consts[b], qmin: qmin, qmax: qmax)
                            storeQuantized(qi, tile.count, into: base, storage, at: tile.lowerBound)
                        }
                    }
                    nans[part] = count
                }
            }
        }
        var total = 0
        for i in 0..<chunks.count { total += nans[i] }
        return total
    }

    static func dequantizeValues<T: QuantReal>(_ base: UnsafeRawPointer, _ storage: QuantizedStorage, _ out: MutableTensorView,
                                               _ p: QuantParameters, _ blocks: QuantizationBlocks, _: T.Type) {
        let consts = constants(p, T.self)
        let chunks = quantChunks(out.count)
        parallelFor(chunks.count) { part in
            withUnsafeTemporaryAllocation(of: T.self, capacity: quantTile) { scratch in
                withUnsafeTemporaryAllocation(of: Int32.self, capacity: quantTile) { ints in
                    guard let s = scratch.baseAddress, let qi = ints.baseAddress else { return }
                    blocks.forEachSegment(in: chunks[part]) { segment, b in
                        var lo = segment.lowerBound
                        while lo < segment.upperBound {
                            let tile = lo..<Swift.min(lo + quantTile, segment.upperBound)
                            for k in 0..<tile.count { qi[k] = loadQuantized(base, storage, tile.lowerBound &+ k) }
                            if let d = directPointer(out, tile, as: T.self) {
                                dequantizeKernel(qi, d, tile.count, consts[b])
                            } else {
                                dequantizeKernel(qi, s, tile.count, consts[b])
                                scatter(s, into: out, tile)
                            }
                            lo = tile.upperBound
                        }
                    }
                }
            }
        }
    }
}
