import Foundation
@testable import SwiftCompress

/// Reads a fixture of Tests/SwiftCompressTests/Fixtures/quantization/ (written by
/// tools/make_quant_fixtures.py) with the core's JSON reader.
func loadQuantFixture(_ name: String) throws -> ConfigObject {
    let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/quantization")
    let text = try String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8)
    guard let o = try ConfigValue(json: text).object else { throw TensorViewError("\(name) is not a JSON object") }
    return o
}

struct QuantFixtureError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

extension ConfigValue {
    /// A list of numbers as Floats (each fixture value is a float32 written as a double).
    func quantFloats(_ what: String) throws -> [Float] {
        guard let a = array else { throw QuantFixtureError("\(what) is not a list") }
        var out: [Float] = []
        for v in a {
            guard let d = v.number else { throw QuantFixtureError("\(what) holds \(v.pythonDescription)") }
            out.append(Float(d))
        }
        return out
    }

    func quantInts(_ what: String) throws -> [Int] {
        guard let a = array else { throw QuantFixtureError("\(what) is not a list") }
        var out: [Int] = []
        for v in a {
            guard case .int(let i) = v else { throw QuantFixtureError("\(what) holds \(v.pythonDescription)") }
            out.append(i)
        }
        return out
    }
}

extension ConfigObject {
    func quantValue(_ key: String) throws -> ConfigValue {
        guard let v = self[key] else { throw QuantFixtureError("missing key \(key)") }
        return v
    }
}

/// Bit patterns, so that -0 / +0 and NaN payloads are compared exactly (NaN equal to NaN).
func bits(_ v: [Float]) -> [UInt32] { v.map { $0.isNaN ? 0x7fc0_0000 : $0.bitPattern } }

/// The float32 contents of a view.
func quantFloats(_ v: MutableTensorView) -> [Float] { v.allValues.map { Float($0) } }

/// Settings for tests: `target` (`m.weight` or `m._input_0`) with the given keys.
func quantSettings(_ target: String, _ entries: [(String, ConfigValue)] = []) throws(QuantizationError) -> QuantizationSettings {
    try QuantizationSettings(ConfigObject(entries), target: target)
}

/// Reference fake quantization of one value in float32, written out step by step (NNI's
/// ClampRound with torch's float32 ops).
func referenceFakeQuant(_ x: Float, scale: Float, zeroPoint: Float, qmin: Float, qmax: Float) -> Float {
    let t = zeroPoint + x / scale
    let c = t.isNaN ? t : Swift.min(Swift.max(t, qmin), qmax)
    return (c.rounded(.toNearestOrEven) - zeroPoint) * scale
}
