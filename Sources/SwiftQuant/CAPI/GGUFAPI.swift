// C exports for llama.cpp's GGUF block formats (swiftquant.h, "GGUF block formats (llama.cpp)"): check the
// arguments, then run Weights/GGUF.swift's fast path.

@_cdecl("sq_gguf_block_info")
public func sqGGUFBlockInfo(_ type: Int32, _ blockElements: UnsafeMutablePointer<Int64>?,
                            _ blockBytes: UnsafeMutablePointer<Int64>?) -> Int32 {
    capi { () throws(SQError) in
        let f = try GGUF.Format(checking: type, argument: "type")
        blockElements?.pointee = Int64(GGUF.blockElements)
        blockBytes?.pointee = Int64(f.blockBytes)
    }
}

@_cdecl("sq_gguf_quantize")
public func sqGGUFQuantize(_ type: Int32, _ x: UnsafePointer<Float>?, _ count: Int64,
                           _ out: UnsafeMutablePointer<UInt8>?, _ outBytes: Int64) -> Int32 {
    capi { () throws(SQError) in
        let f = try GGUF.Format(checking: type, argument: "type")
        let blocks = try GGUF.blocks(count: count, argument: "count")
        try GGUF.checkBytes(f, blocks: blocks, bytes: outBytes, argument: "out_bytes")
        let xs = try requireData(x, count: Int(count), argument: "x")
        let o = try requireData(out, count: Int(outBytes), argument: "out")
        try GGUF.quantizeChecked(f, xs, blocks: blocks, o)
    }
}

@_cdecl("sq_gguf_dequantize")
public func sqGGUFDequantize(_ type: Int32, _ data: UnsafePointer<UInt8>?, _ dataBytes: Int64,
                             _ out: UnsafeMutablePointer<Float>?, _ count: Int64) -> Int32 {
    capi { () throws(SQError) in
        let f = try GGUF.Format(checking: type, argument: "type")
        let blocks = try GGUF.blocks(count: count, argument: "count")
        try GGUF.checkBytes(f, blocks: blocks, bytes: dataBytes, argument: "data_bytes")
        let d = try requireData(data, count: Int(dataBytes), argument: "data")
        let o = try requireData(out, count: Int(count), argument: "out")
        try GGUF.dequantizeChecked(f, d, blocks: blocks, o)
    }
}
