// C exports for calibration observers (swiftquant.h, "Calibration observers").

import _SwiftQuantShims

private func observer(_ h: OpaquePointer?, _ argument: String = "observer") throws(SQError) -> Observer {
    guard let h else { throw SQError(.nullPointer, "\(argument) is NULL") }
    return Unmanaged<Observer>.fromOpaque(UnsafeRawPointer(h)).takeUnretainedValue()
}

private func handle(_ o: Observer) -> OpaquePointer { OpaquePointer(Unmanaged.passRetained(o).toOpaque()) }

@_cdecl("sq_observer_create")
public func sqObserverCreate(_ config: UnsafePointer<sq_observer_config>?, _ outHandle: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    capi { () throws(SQError) in
        let o = try out(outHandle, "out")
        o.pointee = nil
        guard let c = config?.pointee else { throw SQError(.nullPointer, "config is NULL") }
        let cfg = try configFromC(method: c.method, dtype: c.dtype, symmetric: c.symmetric, axis: c.axis,
                                  blockSize: c.block_size, numBins: c.num_bins, ignoreNonfinite: c.ignore_nonfinite,
                                  percentile: c.percentile, averagingConstant: c.averaging_constant)
        o.pointee = handle(Observer(config: cfg))
    }
}

@_cdecl("sq_observer_destroy")
public func sqObserverDestroy(_ h: OpaquePointer?) {
    guard let h else { return }
    Unmanaged<Observer>.fromOpaque(UnsafeRawPointer(h)).release()
}

@_cdecl("sq_observer_config_get")
public func sqObserverConfigGet(_ h: OpaquePointer?, _ config: UnsafeMutablePointer<sq_observer_config>?) -> Int32 {
    capi { () throws(SQError) in
        let c = try observer(h).config
        try out(config, "config").pointee = sq_observer_config(
            method: c.method.rawValue, dtype: c.dtype.rawValue, symmetric: c.symmetric ? 1 : 0, axis: Int32(c.axis ?? -1),
            block_size: Int64(c.blockSize), num_bins: Int32(c.numBins), ignore_nonfinite: c.ignoreNonfinite ? 1 : 0,
            percentile: c.percentile, averaging_constant: c.averagingConstant)
    }
}

@_cdecl("sq_observer_update")
public func sqObserverUpdate(_ h: OpaquePointer?, _ x: UnsafePointer<Float>?, _ shape: UnsafePointer<Int64>?, _ ndim: Int32) -> Int32 {
    capi { () throws(SQError) in
        let o = try observer(h)
        let s = try Shape(shape, ndim, argument: "shape")
        let xs = try requireData(x, count: s.count, argument: "x")
        try o.locked { () throws(SQError) in try o.update(xs, shape: s) }
    }
}

@_cdecl("sq_observer_groups")
public func sqObserverGroups(_ h: OpaquePointer?, _ count: UnsafeMutablePointer<Int64>?, _ shapeOut: UnsafeMutablePointer<Int64>?,
                             _ ndimOut: UnsafeMutablePointer<Int32>?) -> Int32 {
    capi { () throws(SQError) in
        let o = try observer(h)
        let c = try out(count, "count")
        let (groups, shape) = try o.locked { () throws(SQError) in (o.groups, o.paramShape) }
        c.pointee = Int64(groups)
        for (i, d) in shape.enumerated() { shapeOut?[i] = Int64(d) }
        ndimOut?.pointee = Int32(shape.count)
    }
}

private func checkGroups(_ o: Observer, _ count: Int64) throws(SQError) -> [(Float, Float)] {
    let r = try o.locked { () throws(SQError) in try o.ranges() }
    guard count == Int64(r.count) else { throw SQError(.shape, "count is \(count) but the observer has \(r.count) group(s)") }
    return r
}

@_cdecl("sq_observer_range")
public func sqObserverRange(_ h: OpaquePointer?, _ minOut: UnsafeMutablePointer<Float>?, _ maxOut: UnsafeMutablePointer<Float>?,
                            _ count: Int64) -> Int32 {
    capi { () throws(SQError) in
        let r = try checkGroups(try observer(h), count)
        let lo = try requireData(minOut, count: r.count, argument: "min_out"), hi = try requireData(maxOut, count: r.count, argument: "max_out")
        for (i, (a, b)) in r.enumerated() { lo[i] = a; hi[i] = b }
    }
}

@_cdecl("sq_observer_qparams")
public func sqObserverQParams(_ h: OpaquePointer?, _ scaleOut: UnsafeMutablePointer<Float>?, _ zeroPointOut: UnsafeMutablePointer<Int32>?,
                              _ count: Int64) -> Int32 {
    capi { () throws(SQError) in
        let o = try observer(h)
        let r = try checkGroups(o, count)
        let s = try requireData(scaleOut, count: r.count, argument: "scale_out")
        let z = try requireData(zeroPointOut, count: r.count, argument: "zero_point_out")
        for (i, (a, b)) in r.enumerated() {
            (s[i], z[i]) = try qparamsFromRange(min: a, max: b, dtype: o.config.dtype, symmetric: o.config.symmetric, argument: "group \(i)")
        }
    }
}

@_cdecl("sq_observer_stats")
public func sqObserverStats(_ h: OpaquePointer?, _ batches: UnsafeMutablePointer<Int64>?, _ values: UnsafeMutablePointer<Int64>?,
                            _ nonfinite: UnsafeMutablePointer<Int64>?, _ stateBytes: UnsafeMutablePointer<Int64>?) -> Int32 {
    capi { () throws(SQError) in
        let o = try observer(h)
        let (b, v, n, bytes) = try o.locked { () throws(SQError) in (o.batches, o.values, o.nonfinite, o.stateBytes) }
        batches?.pointee = b
        values?.pointee = v
        nonfinite?.pointee = n
        stateBytes?.pointee = Int64(bytes)
    }
}

@_cdecl("sq_observer_merge")
public func sqObserverMerge(_ into: OpaquePointer?, _ from: OpaquePointer?) -> Int32 {
    capi { () throws(SQError) in
        let a = try observer(into, "into"), b = try observer(from, "from")
        guard a !== b else { throw SQError(.invalidArgument, "into and from are the same observer") }
        try a.locked(with: b) { () throws(SQError) in try a.merge(b) }
    }
}

@_cdecl("sq_observer_serialize")
public func sqObserverSerialize(_ h: OpaquePointer?, _ buf: UnsafeMutablePointer<UInt8>?, _ capacity: Int64,
                                _ size: UnsafeMutablePointer<Int64>?) -> Int32 {
    capi { () throws(SQError) in
        let o = try observer(h)
        let sz = try out(size, "size")
        guard let buf else {
            guard capacity == 0 else { throw SQError(.nullPointer, "buf is NULL with capacity \(capacity)") }
            sz.pointee = Int64(try o.locked { () throws(SQError) in o.serializedSize })
            return
        }
        let bytes = try o.locked { () throws(SQError) in o.serialize() }
        sz.pointee = Int64(bytes.count)
        guard capacity >= Int64(bytes.count) else {
            throw SQError(.shape, "capacity \(capacity) is smaller than the \(bytes.count) bytes needed")
        }
        bytes.withUnsafeBufferPointer { buf.update(from: $0.baseAddress!, count: bytes.count) }
    }
}

@_cdecl("sq_observer_deserialize")
public func sqObserverDeserialize(_ buf: UnsafePointer<UInt8>?, _ size: Int64, _ outHandle: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    capi { () throws(SQError) in
        let o = try out(outHandle, "out")
        o.pointee = nil
        guard size >= 0 else { throw SQError(.shape, "size is negative (\(size))") }
        let b = try requireData(buf, count: Int(size), argument: "buf")
        o.pointee = handle(try Observer.deserialize(UnsafeBufferPointer(start: b, count: Int(size))))
    }
}
