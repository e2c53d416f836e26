import Testing
@testable import SwiftCompress

/// Tracked ranges, scales, zero points, fake-quantized values and gradient masks equal to NNI 3.0's,
/// bit for bit, on the fixtures of tools/make_quant_fixtures.py (PtqQuantizer and QATQuantizer on
/// a small conv + linear model; int8, uint8, int4, uint4; symmetric and affine; per tensor).
@Suite struct QuantizationNNIParityTests {
    struct Target {
        var name: String
        var settings: QuantizationSettings
        var batches: [(shape: [Int], values: [Float])]
        var trackedMin: [Float], trackedMax: [Float]
        var scaleShape: [Int]
        var scale: [Float], zeroPoint: [Float]
        var fakeQuant: [Float], gradMask: [Float]
        var qmin: Int, qmax: Int
    }

    static func targets(_ file: String) throws -> [(String, Target)] {
        let root = try loadQuantFixture(file)
        guard let cases = root["cases"]?.array else { throw QuantFixtureError("\(file): no cases") }
        var out: [(String, Target)] = []
        for c in cases {
            guard let co = c.object, let caseName = co["name"]?.string, let ts = co["targets"]?.array else {
                throw QuantFixtureError("\(file): bad case")
            }
            for t in ts {
                guard let o = t.object, let module = o["module"]?.string, let target = o["target"]?.string,
                      let settings = o["settings"]?.object, let batchList = o["batches"]?.array,
                      case .int(let qmin) = try o.quantValue("qmin"), case .int(let qmax) = try o.quantValue("qmax")
                else { throw QuantFixtureError("\(file) \(caseName): bad target") }
                let name = module + "." + target
                var batches: [([Int], [Float])] = []
                for b in batchList {
                    guard let bo = b.object else { throw QuantFixtureError("bad batch") }
                    batches.append((try bo.quantValue("shape").quantInts("shape"), try bo.quantValue("values").quantFloats("values")))
                }
                out.append((caseName, Target(
                    name: name, settings: try QuantizationSettings(settings, target: name), batches: batches,
                    trackedMin: try o.quantValue("tracked_min").quantFloats("tracked_min"),
                    trackedMax: try o.quantValue("tracked_max").quantFloats("tracked_max"),
                    scaleShape: try o.quantValue("scale_shape").quantInts("scale_shape"),
                    scale: try o.quantValue("scale").quantFloats("scale"),
                    zeroPoint: try o.quantValue("zero_point").quantFloats("zero_point"),
                    fakeQuant: try o.quantValue("fake_quant").quantFloats("fake_quant"),
                    gradMask: try o.quantValue("grad_mask").quantFloats("grad_mask"), qmin: qmin, qmax: qmax)))
            }
        }
        return out
    }

    /// Runs the whole pipeline on one target with the value-type observer; returns the mismatches.
    static func check(_ caseName: String, _ t: Target, kind: QuantObserverKind) throws -> [String] {
        var problems: [String] = []
        let label = "\(caseName) \(t.name)"
        if t.settings.dtype.qmin != t.qmin || t.settings.dtype.qmax != t.qmax {
            problems.append("\(label): range [\(t.settings.dtype.qmin), \(t.settings.dtype.qmax)] vs NNI [\(t.qmin), \(t.qmax)]")
        }
        let buffers = TestBuffers()
        var observer = QuantObserver(kind: kind)
        for b in t.batches {
            try observer.observe(try buffers.view(b.values, shape: b.shape), settings: t.settings)
        }
        if bits(observer.trackedMin.map { Float($0) }) != bits(t.trackedMin) || bits(observer.trackedMax.map { Float($0) }) != bits(t.trackedMax) {
            problems.append("\(label): tracked [\(observer.trackedMin), \(observer.trackedMax)] vs NNI [\(t.trackedMin), \(t.trackedMax)]")
        }
        if observer.scaleShape != t.scaleShape { problems.append("\(label): scale shape \(observer.scaleShape ?? []) vs \(t.scaleShape)") }
        let p = try observer.parameters(settings: t.settings)
        if bits(p.scale.map { Float($0) }) != bits(t.scale) || bits(p.zeroPoint.map { Float($0) }) != bits(t.zeroPoint) {
            problems.append("\(label): scale \(p.scale) zp \(p.zeroPoint) vs NNI \(t.scale) \(t.zeroPoint)")
        }
        guard let last = t.batches.last else { return problems + ["\(label): no batch"] }
        let x = try buffers.view(last.values, shape: last.shape)
        let out = try buffers.zeros(last.shape)
        let mask = try buffers.zeros(last.shape)
        var qat = t.settings
        qat.applyMethod = .qatClampRound
        try Quantization.apply(x, into: out, parameters: p, settings: qat, gradientMask: mask)
        if bits(quantFloats(out)) != bits(t.fakeQuant) { problems.append("\(label): fake quantization differs") }
        if bits(quantFloats(mask)) != bits(t.gradMask) { problems.append("\(label): gradient mask differs") }
        // Real quantization round trip gives the same values (a -0.0 comes back as +0.0: integers
        // have no signed zero, hence == rather than bits).
        let storage = QuantizedStorage.smallest(for: t.settings.dtype)
        let raw = buffers.allocate(bytes: storage.byteCount(forValues: x.count))
        let q = try QuantizedBuffer(raw, count: x.count, storage: storage)
        let nans = try Quantization.quantize(x, into: q, parameters: p, settings: t.settings)
        let back = try buffers.zeros(last.shape)
        try Quantization.dequantize(q.readOnly, into: back, parameters: p, settings: t.settings)
        if nans != 0 || quantFloats(back) != t.fakeQuant { problems.append("\(label): quantize/dequantize (\(storage)) differs") }
        return problems
    }

    @Test func ptqMatchesNNI() throws {
        let targets = try Self.targets("ptq.json")
        #expect(targets.count == 64)  // 8 cases x 2 modules x 4 targets
        var problems: [String] = []
        for (c, t) in targets { problems += try Self.check(c, t, kind: .minMax) }
        #expect(problems == [])
    }

    @Test func qatMatchesNNI() throws {
        let targets = try Self.targets("qat.json")
        #expect(targets.count == 64)
        #expect(targets.allSatisfy { $0.1.batches.count == 3 })
        var problems: [String] = []
        for (c, t) in targets { problems += try Self.check(c, t, kind: .qat) }
        #expect(problems == [])
    }

    /// The buffer API (tracked min/max and scale/zero point in caller tensors) gives the same bits.
    @Test func bufferAPIMatchesNNI() throws {
        var problems: [String] = []
        for (file, kind) in [("ptq.json", QuantObserverKind.minMax), ("qat.json", .qat)] {
            for (c, t) in try Self.targets(file) {
                let buffers = TestBuffers()
                let n = t.scaleShape.reduce(1, *)
                let lo = try buffers.zeros(t.scaleShape), hi = try buffers.zeros(t.scaleShape)
                for (i, b) in t.batches.enumerated() {
                    try Quantization.observe(try buffers.view(b.values, shape: b.shape), trackedMin: lo, trackedMax: hi,
                                             isFirstBatch: i == 0, kind: kind, settings: t.settings)
                }
                let s = try buffers.zeros([n]), z = try buffers.zeros([n])
                try Quantization.computeScaleAndZeroPoint(trackedMin: lo.readOnly, trackedMax: hi.readOnly, scale: s, zeroPoint: z, settings: t.settings)
                if bits(quantFloats(lo)) != bits(t.trackedMin) || bits(quantFloats(hi)) != bits(t.trackedMax)
                    || bits(quantFloats(s)) != bits(t.scale) || bits(quantFloats(z)) != bits(t.zeroPoint) {
                    problems.append("\(file) \(c) \(t.name)")
                }
                let p = try QuantParameters(scale: s.readOnly, zeroPoint: z.readOnly, settings: t.settings)
                guard let last = t.batches.last else { continue }
                let x = try buffers.mutableView(last.values, shape: last.shape)
                try Quantization.fakeQuantize(inPlace: x, parameters: p, settings: t.settings)
                if bits(quantFloats(x)) != bits(t.fakeQuant) { problems.append("\(file) \(c) \(t.name): in-place fake quantization") }
            }
        }
        #expect(problems == [])
    }

    /// NNI's compute_scale_zp on chosen ranges (zero-width, one-sided, tiny, wide; 7 dtypes).
    @Test func scaleAndZeroPointMatchNNI() throws {
        let root = try loadQuantFixture("scale_cases.json")
        guard let cases = root["cases"]?.array else { throw QuantFixtureError("no cases") }
        #expect(cases.count == 140)
        var problems: [String] = []
        for c in cases {
            guard let o = c.object, let d = o["quant_dtype"]?.string, let s = o["quant_scheme"]?.string,
                  let lo = o["tracked_min"]?.number, let hi = o["tracked_max"]?.number,
                  let scale = o["scale"]?.number, let zp = o["zero_point"]?.number else { throw QuantFixtureError("bad case") }
            let settings = try quantSettings("m.weight", [("quant_dtype", .string(d)), ("quant_scheme", .string(s))])
            let p = try QuantParameters(trackedMin: [lo], trackedMax: [hi], scaleShape: [], settings: settings)
            if Float(p.scale[0]).bitPattern != Float(scale).bitPattern || p.zeroPoint[0] != zp {
                problems.append("\(d) \(s) [\(lo), \(hi)]: \(p.scale[0]) \(p.zeroPoint[0]) vs NNI \(scale) \(zp)")
            }
        }
        #expect(problems == [])
    }

    /// ClampRound on values that land on .5 exactly: round half to even, as torch.round.
    @Test func tiesRoundHalfEvenAsNNI() throws {
        let root = try loadQuantFixture("scale_cases.json")
        guard let ties = root["ties"]?.array else { throw QuantFixtureError("no ties") }
        #expect(ties.count == 4)
        for tie in ties {
            guard let o = tie.object, case .int(let qmin) = try o.quantValue("qmin"), case .int(let qmax) = try o.quantValue("qmax"),
                  let zp = o["zero_point"]?.number, let scale = o["scale"]?.number else { throw QuantFixtureError("bad tie") }
            let x = try o.quantValue("x").quantFloats("x"), expected = try o.quantValue("fake_quant").quantFloats("fake_quant")
            guard let dtype = QuantDType(isSigned: qmin < 0, bits: qmin < 0 ? (qmax == 127 ? 8 : 4) : (qmax == 255 ? 8 : 4)) else { continue }
            #expect(dtype.qmin == qmin && dtype.qmax == qmax)
            let settings = QuantizationSettings(target: "m.weight", role: .parameter, dtype: dtype)
            let p = try QuantParameters(scale: [scale], zeroPoint: [zp], scaleShape: [], settings: settings)
            let buffers = TestBuffers()
            let out = try buffers.zeros([x.count])
            try Quantization.fakeQuantize(try buffers.view(x, shape: [x.count]), into: out, parameters: p, settings: settings)
            #expect(bits(quantFloats(out)) == bits(expected), "qmin \(qmin) zp \(zp)")
        }
    }
}
