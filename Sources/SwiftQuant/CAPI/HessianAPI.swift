// C exports for Hessian observers (swiftquant.h, "Hessian observers"), and the accessor other exports
// (GPTQ's sq_quantize_weight) use to read a handle's Hessian.

private func hessianObserver(_ h: OpaquePointer?, _ argument: String = "hessian") throws(SQError) -> HessianAccumulator {
    guard let h else { throw SQError(.nullPointer, "\(argument) is NULL") }
    return Unmanaged<HessianAccumulator>.fromOpaque(UnsafeRawPointer(h)).takeUnretainedValue()
}

private func handle(_ o: HessianAccumulator) -> OpaquePointer { OpaquePointer(Unmanaged.passRetained(o).toOpaque()) }

/// The Hessian H = Σ x xᵀ / count of an sq_hessian handle: k and the k x k float64 matrix, row-major, full
/// symmetric (a copy, read under the handle's lock). Errors: NULL handle (naming `argument`), no data observed.
func hessianMatrix(_ handle: OpaquePointer?, argument: String = "hessian") throws(SQError) -> (k: Int, h: [Double]) {
    let o = try hessianObserver(handle, argument)
    var h = [Double](repeating: 0, count: o.k * o.k)
    try o.lock.with { () throws(SQError) in try h.withUnsafeMutableBufferPointer { (p) throws(SQError) in try o.hessian(into: p.baseAddress!) } }
    return (o.k, h)
}

@_cdecl("sq_hessian_create")
public func sqHessianCreate(_ k: Int64, _ outHandle: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    capi { () throws(SQError) in
        let o = try out(outHandle, "out")
        o.pointee = nil
        o.pointee = handle(try HessianAccumulator(k: Int(k)))
    }
}

@_cdecl("sq_hessian_destroy")
public func sqHessianDestroy(_ h: OpaquePointer?) {
    guard let h else { return }
    Unmanaged<HessianAccumulator>.fromOpaque(UnsafeRawPointer(h)).release()
}

@_cdecl("sq_hessian_update")
public func sqHessianUpdate(_ h: OpaquePointer?, _ x: UnsafePointer<Float>?, _ shape: UnsafePointer<Int64>?, _ ndim: Int32) -> Int32 {
    capi { () throws(SQError) in
        let o = try hessianObserver(h)
        let s = try Shape(shape, ndim, argument: "shape")
        let xs = try requireData(x, count: s.count, argument: "x")
        try o.lock.with { () throws(SQError) in try o.update(xs, shape: s) }
    }
}

@_cdecl("sq_hessian_merge")
public func sqHessianMerge(_ into: OpaquePointer?, _ from: OpaquePointer?) -> Int32 {
    capi { () throws(SQError) in
        let a = try hessianObserver(into, "into"), b = try hessianObserver(from, "from")
        try a.lock.with(b.lock) { () throws(SQError) in try a.merge(b) }
    }
}

@_cdecl("sq_hessian_count")
public func sqHessianCount(_ h: OpaquePointer?, _ count: UnsafeMutablePointer<Int64>?) -> Int32 {
    capi { () throws(SQError) in
        let o = try hessianObserver(h)
        let c = try out(count, "count")
        c.pointee = try o.lock.with { () throws(SQError) in o.count }
    }
}

@_cdecl("sq_hessian_k")
public func sqHessianK(_ h: OpaquePointer?, _ k: UnsafeMutablePointer<Int64>?) -> Int32 {
    capi { () throws(SQError) in
        let o = try hessianObserver(h)
        try out(k, "k").pointee = Int64(o.k)
    }
}

@_cdecl("sq_hessian_get")
public func sqHessianGet(_ h: OpaquePointer?, _ outMatrix: UnsafeMutablePointer<Double>?) -> Int32 {
    capi { () throws(SQError) in
        let o = try hessianObserver(h)
        let m = try out(outMatrix, "out")
        try o.lock.with { () throws(SQError) in try o.hessian(into: m) }
    }
}

@_cdecl("sq_hessian_sum")
public func sqHessianSum(_ h: OpaquePointer?, _ outMatrix: UnsafeMutablePointer<Double>?) -> Int32 {
    capi { () throws(SQError) in
        let o = try hessianObserver(h)
        let m = try out(outMatrix, "out")
        try o.lock.with { () throws(SQError) in o.sums(into: m) }
    }
}

@_cdecl("sq_hessian_serialize")
public func sqHessianSerialize(_ h: OpaquePointer?, _ buf: UnsafeMutablePointer<UInt8>?, _ capacity: Int64,
                               _ size: UnsafeMutablePointer<Int64>?) -> Int32 {
    capi { () throws(SQError) in
        let o = try hessianObserver(h)
        let sz = try out(size, "size")
        let need = o.serializedSize
        sz.pointee = Int64(need)
        guard let buf else {
            guard capacity == 0 else { throw SQError(.nullPointer, "buf is NULL with capacity \(capacity)") }
            return
        }
        guard capacity >= Int64(need) else {
            throw SQError(.shape, "capacity \(capacity) is smaller than the \(need) bytes needed")
        }
        let bytes = try o.lock.with { () throws(SQError) in o.serialize() }
        bytes.withUnsafeBufferPointer { buf.update(from: $0.baseAddress!, count: bytes.count) }
    }
}

@_cdecl("sq_hessian_deserialize")
public func sqHessianDeserialize(_ buf: UnsafePointer<UInt8>?, _ size: Int64, _ outHandle: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    capi { () throws(SQError) in
        let o = try out(outHandle, "out")
        o.pointee = nil
        guard size >= 0 else { throw SQError(.shape, "size is negative (\(size))") }
        let b = try requireData(buf, count: Int(size), argument: "buf")
        o.pointee = handle(try HessianAccumulator.deserialize(UnsafeBufferPointer(start: b, count: Int(size))))
    }
}
