import Foundation
@testable import SwiftCompress

/// How a test lays a tensor out in memory.
enum TestLayout: CaseIterable, CustomStringConvertible {
    /// Row-major contiguous.
    case contiguous
    /// Dimensions stored in reverse order (column-major; a transposed matrix).
    case reversed
    /// Row-major with a gap after every element (strides doubled).
    case spaced

    var description: String {
        switch self {
        case .contiguous: return "contiguous"
        case .reversed: return "reversed"
        case .spaced: return "spaced"
        }
    }

    /// Strides (nil for contiguous) and the number of elements of storage they need.
    func strides(for shape: [Int]) -> (strides: [Int]?, storage: Int) {
        let n = shape.reduce(1, *)
        switch self {
        case .contiguous:
            return (nil, n)
        case .reversed:
            var strides = [Int](repeating: 1, count: shape.count)
            var running = 1
            for d in shape.indices {
                strides[d] = running
                running *= max(shape[d], 1)
            }
            return (strides, n)
        case .spaced:
            let c = TensorLayout.contiguousStrides(for: shape) ?? []
            return (c.map { $0 * 2 }, 2 * n)
        }
    }
}

extension TestBuffers {
    /// A view of `dtype` holding `values` (logical order) with the given layout.
    func view(_ values: [Double], shape: [Int], dtype: ElementType, layout: TestLayout) throws -> MutableTensorView {
        let (strides, storage) = layout.strides(for: shape)
        return try mutableView(values, shape: shape, strides: strides, dtype: dtype, storageCount: storage)
    }

    /// A gradient buffer pre-filled with `fill` (to see that every element is written).
    func gradientBuffer(shape: [Int], dtype: ElementType, layout: TestLayout, fill: Double = -7) throws -> MutableTensorView {
        let n = shape.reduce(1, *)
        return try view([Double](repeating: fill, count: n), shape: shape, dtype: dtype, layout: layout)
    }
}

/// Reads a fixture of Tests/SwiftCompressTests/Fixtures/distillation/ with the core's JSON reader.
func loadDistillationFixture(_ name: String) throws -> ConfigObject {
    let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/distillation")
    let text = try String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8)
    guard let o = try ConfigValue(json: text).object else { throw TensorViewError("\(name) is not a JSON object") }
    return o
}

extension ConfigValue {
    /// A list of numbers as Doubles (nil when it is not one).
    var doubles: [Double]? {
        guard let a = array else { return nil }
        var out: [Double] = []
        for v in a {
            guard let d = v.number else { return nil }
            out.append(d)
        }
        return out
    }

    /// A list of ints (nil when it is not one).
    var ints: [Int]? {
        guard let a = array else { return nil }
        var out: [Int] = []
        for v in a {
            guard case .int(let i) = v else { return nil }
            out.append(i)
        }
        return out
    }
}

/// |a - b| <= tol * max(|b|, floor): relative, with a floor for values near zero.
func close(_ a: Double, _ b: Double, tol: Double, floor: Double = 1e-30) -> Bool {
    abs(a - b) <= tol * max(abs(b), floor)
}

/// The largest |a_i - b_i| divided by the largest |b_i| (0 when both are all zero).
func relativeError(_ a: [Double], _ b: [Double]) -> Double {
    guard a.count == b.count else { return .infinity }
    let scale = b.reduce(0) { max($0, abs($1)) }
    let diff = zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
    if scale == 0 { return diff == 0 ? 0 : .infinity }
    return diff / scale
}

/// The value `x` rounded to `dtype` (what a buffer of that dtype holds after storing x).
func rounded(_ x: Double, to dtype: ElementType) -> Double {
    switch dtype {
    case .float64: return x
    case .float32: return Double(Float(x))
    case .float16: return Double(float(fromFloat16Bits: float16Bits(from: Float(x))))
    case .bfloat16: return Double(float(fromBFloat16Bits: bfloat16Bits(from: Float(x))))
    }
}
