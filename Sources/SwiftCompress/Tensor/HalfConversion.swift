// Conversions between binary32 and the 16-bit formats, by bit manipulation so that they behave the
// same on every platform (the standard library's Float16 is not available everywhere).
// Rounding is to nearest, ties to even, as PyTorch's `.to(torch.float16/bfloat16)`.

/// Shifts `v` right by `s` bits rounding to nearest, ties to even. `s` may exceed the width.
@inline(__always)
func roundingShiftRight(_ v: UInt32, _ s: Int) -> UInt32 {
    if s <= 0 { return v }
    if s >= 32 { return 0 }  // callers pass v < 2^25, so v / 2^32 < 0.5
    let q = v >> UInt32(s)
    let r = v & ((1 << UInt32(s)) &- 1)
    let half: UInt32 = 1 << UInt32(s - 1)
    if r > half || (r == half && (q & 1) == 1) { return q &+ 1 }
    return q
}

/// The binary16 bit pattern nearest to `f` (ties to even); overflow gives ±infinity, NaN stays NaN
/// (quiet), values below half the smallest subnormal give ±0.
@inline(__always)
func float16Bits(from f: Float) -> UInt16 {
    let x = f.bitPattern
    let sign = UInt16(truncatingIfNeeded: (x >> 16) & 0x8000)
    let exp = Int((x >> 23) & 0xff)
    let mant = x & 0x7f_ffff
    if exp == 0xff {
        if mant == 0 { return sign | 0x7c00 }
        return sign | 0x7e00 | UInt16(truncatingIfNeeded: mant >> 13)
    }
    let e = exp - 127 + 15
    if e >= 31 { return sign | 0x7c00 }
    if e >= 1 {
        // Exponent and rounded fraction added, so a carry out of the fraction bumps the exponent
        // (and 0x7bff + 1 becomes infinity, as it should).
        let combined = (UInt32(e) << 10) &+ roundingShiftRight(mant, 13)
        return sign | UInt16(truncatingIfNeeded: min(combined, 0x7c00))
    }
    if exp == 0 { return sign }  // binary32 subnormals are far below binary16's range
    let m = mant | 0x80_0000
    let shift = 126 - exp  // >= 14
    return sign | UInt16(truncatingIfNeeded: roundingShiftRight(m, shift))
}

/// The binary32 value of a binary16 bit pattern (exact).
@inline(__always)
func float(fromFloat16Bits h: UInt16) -> Float {
    let sign = UInt32(h & 0x8000) << 16
    let e = UInt32((h >> 10) & 0x1f)
    let m = UInt32(h & 0x3ff)
    if e == 0x1f { return Float(bitPattern: sign | 0x7f80_0000 | (m << 13)) }
    if e == 0 {
        let magnitude = Float(m) * 0x1p-24
        return sign == 0 ? magnitude : -magnitude
    }
    return Float(bitPattern: sign | ((e + 112) << 23) | (m << 13))
}

/// The bfloat16 bit pattern nearest to `f` (ties to even); NaN stays NaN (quiet).
@inline(__always)
func bfloat16Bits(from f: Float) -> UInt16 {
    let x = f.bitPattern
    if f.isNaN { return UInt16(truncatingIfNeeded: x >> 16) | 0x0040 }
    let rounded = x &+ 0x7fff &+ ((x >> 16) & 1)
    return UInt16(truncatingIfNeeded: rounded >> 16)
}

/// The binary32 value of a bfloat16 bit pattern (exact).
@inline(__always)
func float(fromBFloat16Bits b: UInt16) -> Float {
    Float(bitPattern: UInt32(b) << 16)
}
