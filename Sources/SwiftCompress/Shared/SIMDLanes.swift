// Whether any lane of a comparison mask is set, for the scan loops of the cuts. The standard
// library's `any(_:)` reduces the mask with an out-of-line generic `min()` (a call per vector in
// release builds: 8 % of a 16-bit scan pass); these fold the mask's bits inline.

/// Whether any of the 8 lanes of `m` is true.
@inline(__always)
func anyLane(_ m: SIMDMask<SIMD8<Int32>>) -> Bool {
    let v = SIMD8<UInt32>().replacing(with: SIMD8<UInt32>(repeating: 1), where: m)
    let w = unsafeBitCast(v, to: SIMD4<UInt64>.self)
    return (w[0] | w[1] | w[2] | w[3]) != 0
}

/// Whether any of the 16 lanes of `m` is true.
@inline(__always)
func anyLane(_ m: SIMDMask<SIMD16<Int16>>) -> Bool {
    let v = SIMD16<UInt16>().replacing(with: SIMD16<UInt16>(repeating: 1), where: m)
    let w = unsafeBitCast(v, to: SIMD4<UInt64>.self)
    return (w[0] | w[1] | w[2] | w[3]) != 0
}

