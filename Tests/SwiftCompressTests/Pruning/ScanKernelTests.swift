import Testing
@testable import SwiftCompress

/// The scan kernels of the one-pass cuts (ScanKernels.swift; SSE2 on x86-64) against a scalar
/// reading of their contracts, the sample's clusters, and the tentative masks: whatever key the
/// scan's tentative mask uses, the cut's masks are the same (hand-computed).
@Suite struct ScanKernelTests {
    /// Deterministic 16-bit patterns: every sign, zeros, infinities and NaN payloads, and many
    /// values near `around` so that brackets hold keys.
    static func halfBits(_ n: Int, seed: UInt64, around: UInt16, nanAbove: UInt16) -> [UInt16] {
        var s = seed
        return (0..<n).map { i in
            s = s &* 6364136223846793005 &+ 1442695040888963407
            let r = UInt16(truncatingIfNeeded: s >> 40)
            switch i % 11 {
            case 0: return r  // anything, NaNs included
            case 1: return [0, 0x8000, nanAbove, nanAbove | 0x8000, nanAbove + 1, 0x7FFF, 0xFFFF][Int(r % 7)]
            default: return (around &+ (r % 64) &- 32) | (r & 0x8000)
            }
        }
    }

    /// Decodes `HalfNotes`: (position, key) per note.
    static func decode(_ notes: HalfNotes, first last: Int) -> [(Int, Int)] {
        let b = notes.buffer
        var out: [(Int, Int)] = []
        var i = 0, pos = last
        while i < b.count {
            var gap = Int(b[i]); i += 1
            if gap == 255 {
                gap = Int(b[i]) | Int(b[i + 1]) << 8 | Int(b[i + 2]) << 16 | Int(b[i + 3]) << 24
                i += 4
            }
            pos += gap
            var off = Int(b[i]); i += 1
            if notes.wide { off |= Int(b[i]) << 8; i += 1 }
            out.append((pos, notes.lowKey + off))
        }
        return out
    }

    @Test(arguments: [(UInt16(0x7F80), UInt16(0x3F80)), (UInt16(0x7C00), UInt16(0x3C00))])
    func halfScanEqualsScalar(_ nanAbove: UInt16, _ one: UInt16) {
        for (n, low, est, high) in [(1024, 0x3C50, 0x3C58, 0x3C60), (1000, 0x3C40, 0x3C40, 0x3D80), (37, 0x3C5D, 0x3C5D, 0x3C5D),
                                    (1024, 0, 0x3C58, 0x7FFF), (1024, 0x7000, 0x7FFF, 0x7FFF)] {
            let (lowKey, estKey, highKey) = (UInt16(low), UInt16(est), UInt16(high))
            let bits = Self.halfBits(n, seed: UInt64(n + low), around: 0x3C58, nanAbove: nanAbove)
            for mapNaN in [true, false] where mapNaN || highKey <= nanAbove {
                var out = [UInt16](repeating: 7, count: n)
                var notes = HalfNotes(capacity: 16, last: 99, span: Int(highKey - lowKey), lowKey: Int(lowKey))
                defer { notes.release() }
                let below = bits.withUnsafeBufferPointer { bp in
                    out.withUnsafeMutableBufferPointer { op in
                        scanHalfRun(bp.baseAddress!, op.baseAddress!, count: n, first: 100, lowKey: lowKey, estKey: estKey,
                                    highKey: highKey, nanAbove: nanAbove, mapNaN: mapNaN, one: one, notes: &notes)
                    }
                }
                let keys = bits.map { halfKey($0, nanAbove) }
                #expect(out == keys.map { $0 < estKey ? 0 : one }, "\(n) \(low) \(mapNaN)")
                #expect(below == keys.filter { $0 < lowKey }.count)
                let expected = keys.enumerated().filter { $0.element >= lowKey && $0.element <= highKey }.map { (100 + $0.offset, Int($0.element)) }
                let noted = Self.decode(notes, first: 99)
                #expect(noted.map(\.0) == expected.map(\.0) && noted.map(\.1) == expected.map(\.1), "\(n) \(low) \(mapNaN)")
                let hist = (0...Int(highKey - lowKey)).map { o in expected.filter { $0.1 == Int(lowKey) + o }.count }
                #expect((0..<notes.histCount).map { notes.hist[$0] } == hist)
            }
        }
    }

    @Test func floatScanEqualsScalar() {
        var s: UInt64 = 5
        let n = 1024 + 13
        let specials: [UInt32] = [0, 0x8000_0000, 0x7F80_0000, 0xFF80_0000, 0x7F80_0001, 0x7FC0_0000, 0xFFFF_FFFF, 1]
        let bits: [UInt32] = (0..<n).map { i in
            s = s &* 6364136223846793005 &+ 1442695040888963407
            let r = UInt32(truncatingIfNeeded: s >> 32)
            if i % 13 == 0 { return specials[Int(r % 8)] }
            return (0x3C80_0000 &+ (r % 0x0020_0000)) | (r & 0x8000_0000)  // |x| near 0.0156
        }
        let keys = bits.map { magnitudeKey(bits: $0) }
        let lo = magnitudeKey(bits: 0x3C84_0000), est = magnitudeKey(bits: 0x3C88_0000), hi = magnitudeKey(bits: 0x3C8C_0000)
        for (lowKey, estKey, highKey) in [(lo, est, hi), (0, est, UInt32.max), (lo, lo, lo), (0xFF00_0000, 0xFF80_0000, UInt32.max)] {
            for mapNaN in [true, false] where mapNaN || highKey <= 0xFF80_0000 {
                var out = [Float](repeating: 7, count: n)
                var found = RawList<UInt64>(capacity: 4)
                defer { found.release() }
                let below = bits.withUnsafeBufferPointer { bp in
                    out.withUnsafeMutableBufferPointer { op in
                        scanFloatRun(bp.baseAddress!, op.baseAddress!, count: n, first: 1_000, lowKey: lowKey, estKey: estKey,
                                     highKey: highKey, mapNaN: mapNaN, found: &found)
                    }
                }
                #expect(out == keys.map { $0 < estKey ? 0 : 1 }, "\(lowKey) \(mapNaN)")
                #expect(below == keys.filter { $0 < lowKey }.count)
                let expected = keys.enumerated().filter { $0.element >= lowKey && $0.element <= highKey }
                    .map { UInt64($0.element) << 32 | UInt64(1_000 + $0.offset) }
                #expect(Array(found.buffer) == expected, "\(lowKey) \(mapNaN)")
            }
        }
    }

    @Test func sampleClusters() {
        // 2^20 elements, runs of 16: 1024 strata of 1024, one aligned run of 16 in each.
        let a = FusedSample(total: 1 << 20, run: 16)
        #expect(a.clusterCount == 1024 && a.count == 16_384 && a.parts == 2)
        var last = -1
        for c in 0..<a.clusterCount {
            let r = a.positions(cluster: c)
            #expect(r.count == 16 && r.lowerBound % 16 == 0 && r.lowerBound >= c * 1024 && r.upperBound <= (c + 1) * 1024)
            #expect(r.lowerBound > last)
            last = r.upperBound - 1
        }
        #expect(a.clusters(part: 0) == 0..<512 && a.clusters(part: 1) == 512..<1024)
        // Deterministic, and not the same offset in every stratum.
        let b = FusedSample(total: 1 << 20, run: 16)
        #expect((0..<1024).allSatisfy { a.positions(cluster: $0) == b.positions(cluster: $0) })
        #expect(Set((0..<1024).map { a.positions(cluster: $0).lowerBound % 1024 }).count > 40)
        // 40 000 elements, runs of 8: 128 strata of 312 or 313 (at least 128), one part.
        let c = FusedSample(total: 40_000, run: 8)
        #expect(c.clusterCount == 128 && c.count == 1024 && c.parts == 1)
        for i in 0..<128 {
            let r = c.positions(cluster: i)
            #expect(r.count == 8 && r.lowerBound >= i * 40_000 / 128 && r.upperBound <= (i + 1) * 40_000 / 128)
        }
        // Capped at 16 384 strata; tiny totals: one run.
        #expect(FusedSample(total: 1 << 30, run: 16).clusterCount == 16_384)
        let d = FusedSample(total: 10, run: 8)
        #expect(d.count == 8 && d.positions(cluster: 0) == 0..<8)
    }

    /// |x| cycles 0.25, 0.5, 0.75, 1.0 over 2^18 elements; k = 100 000 prunes the 65 536 quarters
    /// and the first 34 464 halves in index order, whatever key the tentative masks use (below,
    /// at and above the cut key, and beyond the bracket on both sides).
    @Test(arguments: [ElementType.bfloat16, .float16, .float32])
    func tentativeKeyDoesNotChangeTheCut(_ dtype: ElementType) throws {
        let b = TestBuffers()
        let n = 1 << 18
        let vals: [Double] = (0..<n).map { (i: Int) -> Double in Double(i % 4 + 1) * 0.25 * (i % 2 == 0 ? 1 : -1) }
        let t = try b.mutableView(vals, shape: [n], dtype: dtype)
        let metric = Metric(values: .magnitude(t.readOnly), count: n, singlePrecision: true)
        let expected: [Double] = (0..<n).map { (i: Int) -> Double in i % 4 == 0 || (i % 4 == 1 && i / 4 < 34_464) ? 0 : 1 }
        for value in [0.0, 0.25, 0.5, 0.75, 1.0, 2.0] {
            let m = try b.zeros([n], dtype: dtype)
            if dtype == .float32 {
                let key = magnitudeKey(bits: Float(value).bitPattern)
                #expect(fusedCutAndWrite([metric], masks: [m], count: 100_000, tentativeKey: key), "\(value)")
            } else {
                let h = dtype == .bfloat16 ? UInt16(Float(value).bitPattern >> 16) : Float16(value).bitPattern
                #expect(fusedHalfCutAndWrite([metric], masks: [m], count: 100_000, tentativeKey: h), "\(value)")
            }
            #expect(m.allValues == expected, "\(dtype) tentative \(value)")
        }
    }
}
