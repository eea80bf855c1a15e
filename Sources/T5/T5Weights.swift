/// Read-only view of a model's parameter block: the config, the tensor layout and the block's base address,
/// and, for `--precision int8`, the int8 copies the linear layers use.
struct T5Weights {
    let config: T5Config
    let layout: T5ParameterLayout
    let base: UnsafePointer<Float>
    var int8: QuantizedWeights? = nil

    @inline(__always)
    subscript(offset: Int) -> UnsafePointer<Float> { base + offset }

    /// The same weights in fp32 only: the decoder's few rows per sequence (a tenth of the time in int8, and
    /// noise for the score) keep the exact arithmetic; only the encoder and the cross-attention keys and
    /// values over the encoder's rows run in int8. The choice depends on the layer, never on the batch.
    var exact: T5Weights { T5Weights(config: config, layout: layout, base: base) }

    /// out[rows, outDim] (+)= inp · W^T for the weight at `offset` ([outDim, inDim]): fp32 `matmul_forward`, or
    /// `matmul_int8_forward` when the model runs in int8.
    func linear(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, _ offset: Int, rows: Int, inDim: Int,
                outDim: Int, ldIn: Int? = nil, ldOut: Int? = nil, accumulate: Bool = false) {
        if let int8 {
            let matrix = int8.matrix(base, offset: offset, rows: outDim, cols: inDim)
            matmul_int8_forward(out, inp, matrix, rows: rows, inDim: inDim, outDim: outDim, ldIn: ldIn, ldOut: ldOut,
                                accumulate: accumulate)
        } else {
            matmul_forward(out, inp, self[offset], rows: rows, inDim: inDim, outDim: outDim, ldIn: ldIn, ldOut: ldOut,
                           accumulate: accumulate)
        }
    }
}
