// The scan passes of the one-pass cuts (`fusedHalfCutAndWrite` on 16-bit magnitudes, `fusedScan`
// on float32 ones): per block of keys, the tentative masks, the count below the bracket, and the
// keys inside it.
//
// On x86-64 the loops are written for the baseline instruction set (SSE2, which every x86-64 CPU
// has): keys are |x| bits (at most 0x7FFF), so signed 16-bit compares order them and a block's
// bracket test is two compares and one `pmovmskb`; the candidate lanes come from that 16-bit mask.
// (The generic `SIMD16<UInt16>` form of the same loop compiled to unsigned-compare emulation, a
// lane-by-lane bit gather and spilled constants: 75 instructions per 16 keys against 26.) The
// clang intrinsics module is part of the Swift toolchain, not a dependency. Elsewhere the portable
// SIMD form runs; both write the same masks and notes.

#if arch(x86_64)
import _Builtin_intrinsics.intel
#endif

/// A growable list in raw storage, for the scan loops: `append` after `reserve` is a store and an
/// add (a Swift array checks uniqueness and capacity per element). `release()` frees it.
struct RawList<Element: BitwiseCopyable> {
    private(set) var base: UnsafeMutablePointer<Element>
    private(set) var count = 0
    private(set) var capacity: Int

    init(capacity: Int) {
        self.capacity = max(capacity, 64)
        base = UnsafeMutablePointer<Element>.allocate(capacity: self.capacity)
    }

    /// Room for `extra` more elements (grows by doubling).
    @inline(__always)
    mutating func reserve(_ extra: Int) {
        if count &+ extra > capacity { grow(count &+ extra) }
    }

    @inline(never)
    private mutating func grow(_ needed: Int) {
        let c = max(needed, capacity * 2)
        let b = UnsafeMutablePointer<Element>.allocate(capacity: c)
        b.initialize(from: base, count: count)
        base.deallocate()
        base = b
        capacity = c
    }

    /// Appends `x`; room for it must have been reserved.
    @inline(__always)
    mutating func append(reserved x: Element) {
        base[count] = x
        count &+= 1
    }

    /// The elements, valid until the next `reserve` or `release()`.
    var buffer: UnsafeBufferPointer<Element> { UnsafeBufferPointer(start: base, count: count) }

    func release() { base.deallocate() }
}

/// The notes of one worker's 16-bit scan: for each key in the bracket, in index order, the gap
/// from the previous noted position (1 byte below 255, else 255 and 4 bytes) and the key's offset
/// in the bracket (1 byte, 2 when `wide`); and the bracket's histogram. `release()` frees them.
struct HalfNotes {
    private(set) var bytes: RawList<UInt8>
    /// The position (in the order over all metrics) of the last key noted.
    var last: Int
    let hist: UnsafeMutablePointer<Int>
    let histCount: Int
    let wide: Bool
    let lowKey: Int

    init(capacity: Int, last: Int, span: Int, lowKey: Int) {
        bytes = RawList(capacity: capacity)
        self.last = last
        histCount = span + 1
        hist = UnsafeMutablePointer<Int>.allocate(capacity: histCount)
        hist.initialize(repeating: 0, count: histCount)
        wide = span > 255
        self.lowKey = lowKey
    }

    var count: Int { bytes.count }

    /// Room for notes of `keys` more keys.
    @inline(__always)
    mutating func reserve(keys: Int) { bytes.reserve(keys &* 7) }

    /// Notes the key `key` (in lowKey ... lowKey + span) at `position`, after `reserve`.
    @inline(__always)
    mutating func add(position: Int, key: Int) {
        let gap = position &- last
        last = position
        if gap < 255 {
            bytes.append(reserved: UInt8(truncatingIfNeeded: gap))
        } else {
            let g = UInt32(truncatingIfNeeded: gap)
            bytes.append(reserved: 255)
            bytes.append(reserved: UInt8(truncatingIfNeeded: g))
            bytes.append(reserved: UInt8(truncatingIfNeeded: g >> 8))
            bytes.append(reserved: UInt8(truncatingIfNeeded: g >> 16))
            bytes.append(reserved: UInt8(truncatingIfNeeded: g >> 24))
        }
        let off = key &- lowKey
        bytes.append(reserved: UInt8(truncatingIfNeeded: off))
        if wide { bytes.append(reserved: UInt8(truncatingIfNeeded: off >> 8)) }
        hist[off] &+= 1
    }

    /// The notes written, valid until `release()`.
    var buffer: UnsafeBufferPointer<UInt8> { bytes.buffer }

    func release() {
        bytes.release()
        hist.deallocate()
    }
}

/// One run of 16-bit values (at most `keyRun`): out[j] = key < estKey ? 0 : one (the tentative
/// mask: `estKey` is the sample's estimate of the cut key, in lowKey ... highKey), and the keys in
/// lowKey ... highKey noted at position `first + j`; returns the count of keys below lowKey. Keys
/// are |x| bits, NaNs (above `nanAbove`) 0x7FFF; `mapNaN` false (the bracket ends below the NaNs)
/// skips that mapping, which changes no test then.
@inline(__always)
func scanHalfRun(_ bits: UnsafePointer<UInt16>, _ out: UnsafeMutablePointer<UInt16>, count n: Int, first: Int,
                 lowKey: UInt16, estKey: UInt16, highKey: UInt16, nanAbove: UInt16, mapNaN: Bool, one: UInt16,
                 notes: inout HalfNotes) -> Int {
    var j = 0
    var below = 0
    @inline(__always) func key(_ i: Int) -> Int {
        let x = bits[i] & 0x7FFF
        return Int(mapNaN && x > nanAbove ? 0x7FFF : x)
    }
#if arch(x86_64)
    let absMask = SIMD8<Int16>(repeating: 0x7FFF), nanv = SIMD8<Int16>(repeating: Int16(bitPattern: nanAbove))
    let lov = SIMD8<Int16>(repeating: Int16(bitPattern: lowKey)), hiv = SIMD8<Int16>(repeating: Int16(bitPattern: highKey))
    let estv = SIMD8<Int16>(repeating: Int16(bitPattern: estKey))
    let keep = SIMD8<Int16>(repeating: Int16(bitPattern: one)), zero = SIMD8<Int16>(), ones = SIMD8<Int16>(repeating: -1)
    var accA = zero, accB = zero  // minus the count of keys below, per lane (at most keyRun / 16 each)
    // Blocks holding bracket keys, listed without a branch (a block holds one in 10-40 % of
    // blocks, at random: a branch per block mispredicts), then noted after the run's blocks.
    var listed = 0
    withUnsafeTemporaryAllocation(of: UInt16.self, capacity: 128) { list in
        // list[e]: the e-th listed block's index; list[64 + e]: its lanes in the bracket.
        let blocks = min(n / 16, 64)
        // Two copies of the block loop, with and without the NaN mapping (no test per block).
        @inline(__always) func scan(_ nanMap: Bool) {
            var blk = 0
            while blk < blocks {
                let jb = blk &* 16
                var a = UnsafeRawPointer(bits + jb).loadUnaligned(as: SIMD8<Int16>.self) & absMask
                var b = UnsafeRawPointer(bits + jb + 8).loadUnaligned(as: SIMD8<Int16>.self) & absMask
                if nanMap {
                    a = a.replacing(with: absMask, where: a .> nanv)
                    b = b.replacing(with: absMask, where: b .> nanv)
                }
                let ltA = zero.replacing(with: ones, where: a .< lov), ltB = zero.replacing(with: ones, where: b .< lov)
                UnsafeMutableRawPointer(out + jb).storeBytes(of: keep.replacing(with: zero, where: a .< estv), as: SIMD8<Int16>.self)
                UnsafeMutableRawPointer(out + jb + 8).storeBytes(of: keep.replacing(with: zero, where: b .< estv), as: SIMD8<Int16>.self)
                accA &+= ltA
                accB &+= ltB
                let outA = ltA | zero.replacing(with: ones, where: a .> hiv)
                let outB = ltB | zero.replacing(with: ones, where: b .> hiv)
                let outside = _mm_movemask_epi8(_mm_packs_epi16(unsafeBitCast(outA, to: __m128i.self),
                                                                unsafeBitCast(outB, to: __m128i.self)))
                list[listed] = UInt16(truncatingIfNeeded: blk)
                list[64 &+ listed] = UInt16(truncatingIfNeeded: ~outside)
                listed &+= outside != 0xFFFF ? 1 : 0
                blk &+= 1
            }
        }
        if mapNaN { scan(true) } else { scan(false) }
        j = blocks &* 16
        if listed > 0 { notes.reserve(keys: listed &* 16) }
        for e in 0..<listed {
            var m = UInt32(list[64 &+ e])
            let jb = Int(list[e]) &* 16
            repeat {
                let t = Int(m.trailingZeroBitCount)
                notes.add(position: first &+ jb &+ t, key: key(jb &+ t))
                m &= m &- 1
            } while m != 0
        }
    }
    for l in 0..<8 { below -= Int(accA[l]) + Int(accB[l]) }
#else
    let absMask = SIMD16<UInt16>(repeating: 0x7FFF), nanv = SIMD16<UInt16>(repeating: nanAbove)
    let lov = SIMD16<UInt16>(repeating: lowKey), spv = SIMD16<UInt16>(repeating: highKey &- lowKey)
    let estv = SIMD16<UInt16>(repeating: estKey)
    let keep = SIMD16<UInt16>(repeating: one), zero = SIMD16<UInt16>(), unit = SIMD16<UInt16>(repeating: 1)
    var belowLanes = zero
    while j + 16 <= n {
        var v = UnsafeRawPointer(bits + j).loadUnaligned(as: SIMD16<UInt16>.self) & absMask
        if mapNaN { v = v.replacing(with: absMask, where: v .> nanv) }
        UnsafeMutableRawPointer(out + j).storeBytes(of: keep.replacing(with: zero, where: v .< estv), as: SIMD16<UInt16>.self)
        belowLanes &+= zero.replacing(with: unit, where: v .< lov)
        let hit = (v &- lov) .<= spv
        if anyLane(hit) {
            notes.reserve(keys: 16)
            for t in 0..<16 where hit[t] { notes.add(position: first &+ j &+ t, key: Int(v[t])) }
        }
        j += 16
    }
    for l in 0..<16 { below += Int(belowLanes[l]) }
#endif
    notes.reserve(keys: 16)
    while j < n {
        var x = bits[j] & 0x7FFF
        if x > nanAbove { x = 0x7FFF }
        out[j] = x < estKey ? 0 : one
        if x < lowKey { below += 1 } else if x <= highKey { notes.add(position: first &+ j, key: Int(x)) }
        j += 1
    }
    return below
}

/// One run (at most `keyRun`) of float32 bits whose magnitudes are the keys (`magnitudeKey`):
/// out[j] = key < estKey ? 0 : 1 (the tentative mask, `estKey` in lowKey ... highKey), and the
/// keys in lowKey ... highKey appended to `found` as key << 32 | (first + j), in order; returns
/// the count of keys below lowKey. `mapNaN` false (highKey below every NaN's key) skips giving
/// NaNs their one key, which changes no test then.
@inline(__always)
func scanFloatRun(_ bits: UnsafePointer<UInt32>, _ out: UnsafeMutablePointer<Float>, count n: Int, first: UInt64,
                  lowKey: UInt32, estKey: UInt32, highKey: UInt32, mapNaN: Bool, found: inout RawList<UInt64>) -> Int {
    var j = 0
    var below = 0
    @inline(__always) func key(_ i: Int) -> UInt32 {
        let b = bits[i] & 0x7FFF_FFFF
        return (mapNaN && b > 0x7F80_0000 ? 0x7FFF_FFFF : b) ^ 0x8000_0000
    }
#if arch(x86_64)
    // Keys as signed magnitudes: key ^ 0x8000_0000 is |x|'s bits (0x7FFF_FFFF for a NaN).
    @inline(__always) func signed(_ k: UInt32) -> SIMD4<Int32> { SIMD4(repeating: Int32(bitPattern: k ^ 0x8000_0000)) }
    let absMask = SIMD4<Int32>(repeating: 0x7FFF_FFFF), inf = SIMD4<Int32>(repeating: 0x7F80_0000)
    let lov = signed(lowKey), estv = signed(estKey), hiv = signed(highKey)
    let keep = SIMD4<Int32>(repeating: 0x3F80_0000), zero = SIMD4<Int32>(), ones = SIMD4<Int32>(repeating: -1)
    var accA = zero, accB = zero
    var listed = 0
    withUnsafeTemporaryAllocation(of: UInt16.self, capacity: 256) { list in
        // list[e]: the e-th listed block of 8 keys; list[128 + e]: its lanes in the bracket.
        let blocks = min(n / 8, 128)
        @inline(__always) func scan(_ nanMap: Bool) {
            var blk = 0
            while blk < blocks {
                let jb = blk &* 8
                var a = UnsafeRawPointer(bits + jb).loadUnaligned(as: SIMD4<Int32>.self) & absMask
                var b = UnsafeRawPointer(bits + jb + 4).loadUnaligned(as: SIMD4<Int32>.self) & absMask
                if nanMap {
                    a = a.replacing(with: absMask, where: a .> inf)
                    b = b.replacing(with: absMask, where: b .> inf)
                }
                let ltA = zero.replacing(with: ones, where: a .< lov), ltB = zero.replacing(with: ones, where: b .< lov)
                UnsafeMutableRawPointer(out + jb).storeBytes(of: keep.replacing(with: zero, where: a .< estv), as: SIMD4<Int32>.self)
                UnsafeMutableRawPointer(out + jb + 4).storeBytes(of: keep.replacing(with: zero, where: b .< estv), as: SIMD4<Int32>.self)
                accA &+= ltA
                accB &+= ltB
                let outA = ltA | zero.replacing(with: ones, where: a .> hiv)
                let outB = ltB | zero.replacing(with: ones, where: b .> hiv)
                let outside = _mm_movemask_ps(unsafeBitCast(outA, to: __m128.self))
                    | _mm_movemask_ps(unsafeBitCast(outB, to: __m128.self)) << 4
                list[listed] = UInt16(truncatingIfNeeded: blk)
                list[128 &+ listed] = UInt16(truncatingIfNeeded: ~outside & 0xFF)
                listed &+= outside != 0xFF ? 1 : 0
                blk &+= 1
            }
        }
        if mapNaN { scan(true) } else { scan(false) }
        j = blocks &* 8
        if listed > 0 { found.reserve(listed &* 8) }
        for e in 0..<listed {
            var m = UInt32(list[128 &+ e])
            let jb = Int(list[e]) &* 8
            repeat {
                let t = Int(m.trailingZeroBitCount)
                found.append(reserved: UInt64(key(jb &+ t)) << 32 | (first &+ UInt64(jb &+ t)))
                m &= m &- 1
            } while m != 0
        }
    }
    for l in 0..<4 { below -= Int(accA[l]) + Int(accB[l]) }
#else
    let lov = SIMD8<UInt32>(repeating: lowKey), spv = SIMD8<UInt32>(repeating: highKey &- lowKey)
    let estv = SIMD8<UInt32>(repeating: estKey)
    let one = SIMD8<UInt32>(repeating: 1), zero = SIMD8<UInt32>()
    let abs = SIMD8<UInt32>(repeating: 0x7FFF_FFFF), inf = SIMD8<UInt32>(repeating: 0x7F80_0000)
    let top = SIMD8<UInt32>(repeating: 0x8000_0000), nan = SIMD8<UInt32>(repeating: 0xFFFF_FFFF)
    let keep = SIMD8<Float>(repeating: 1), pruned = SIMD8<Float>()
    var belowLanes = zero
    while j + 8 <= n {
        let m = UnsafeRawPointer(bits + j).loadUnaligned(as: SIMD8<UInt32>.self) & abs
        let v = (m | top).replacing(with: nan, where: m .> inf)
        UnsafeMutableRawPointer(out + j).storeBytes(of: keep.replacing(with: pruned, where: v .< estv), as: SIMD8<Float>.self)
        belowLanes &+= zero.replacing(with: one, where: v .< lov)
        let hit = (v &- lov) .<= spv
        if anyLane(hit) {
            found.reserve(8)
            for t in 0..<8 where hit[t] { found.append(reserved: UInt64(v[t]) << 32 | (first &+ UInt64(j &+ t))) }
        }
        j += 8
    }
    below = Int(belowLanes.wrappedSum())
#endif
    found.reserve(8)
    while j < n {
        let x = magnitudeKey(bits: bits[j])
        out[j] = x < estKey ? 0 : 1
        if x < lowKey { below += 1 } else if x <= highKey { found.append(reserved: UInt64(x) << 32 | (first &+ UInt64(j))) }
        j += 1
    }
    return below
}
