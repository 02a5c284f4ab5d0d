// Two 4-bit values per byte (swiftquant.h, "4-bit packing"): ONNX's layout, element 2i in the low nibble
// of byte i and element 2i + 1 in the high nibble. 4-bit dtypes live one per byte everywhere else; this is
// the explicit step that halves their storage (DESIGN.md, dtypes).

/// Packs n 4-bit values (int4 as Int8 bytes, uint4 as UInt8) into (n + 1) / 2 bytes. Returns the index
/// of the first value outside the dtype's range (nothing is defined about the output then), or nil.
func packInt4(_ q: UnsafePointer<UInt8>, count n: Int, signed: Bool, _ out: UnsafeMutablePointer<UInt8>) -> Int? {
    // A byte b holds a valid value when b + 8 (int4, wrapping) or b itself (uint4) is below 16.
    let bias: UInt8 = signed ? 8 : 0
    var bad = false
    for i in 0..<(n / 2) {
        let a = q[2 * i], b = q[2 * i + 1]
        bad = bad || (a &+ bias) > 15 || (b &+ bias) > 15
        out[i] = (a & 0x0F) | (b << 4)
    }
    if n % 2 == 1 {
        let a = q[n - 1]
        bad = bad || (a &+ bias) > 15
        out[n / 2] = a & 0x0F
    }
    guard bad else { return nil }
    for i in 0..<n where (q[i] &+ bias) > 15 { return i }
    return nil
}

/// Unpacks (n + 1) / 2 bytes into n 4-bit values, sign-extended for int4. Returns false when n is odd and
/// the last byte's high nibble (padding) is not 0.
func unpackInt4(_ p: UnsafePointer<UInt8>, count n: Int, signed: Bool, _ out: UnsafeMutablePointer<UInt8>) -> Bool {
    // Sign extension of a nibble v: (v ^ 8) - 8 in 8-bit two's complement.
    let flip: UInt8 = signed ? 8 : 0
    for i in 0..<(n / 2) {
        let b = p[i]
        out[2 * i] = ((b & 0x0F) ^ flip) &- flip
        out[2 * i + 1] = ((b >> 4) ^ flip) &- flip
    }
    if n % 2 == 1 {
        let b = p[n / 2]
        out[n - 1] = ((b & 0x0F) ^ flip) &- flip
        return b >> 4 == 0
    }
    return true
}
