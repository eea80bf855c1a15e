/// Read-only view of a model's parameter block: the config, the tensor layout and the block's base address,
/// and, for `--precision int8`, the int8 copies of the layers that run in int8 with the staging buffers they use.
struct T5Weights {
    let config: T5Config
    let layout: T5ParameterLayout
    let base: UnsafePointer<Float>
    var int8: (weights: QuantizedWeights, scratch: Int8Scratch)? = nil

    @inline(__always)
    subscript(offset: Int) -> UnsafePointer<Float> { base + offset }

    /// out[rows, outDim] (+)= inp · W^T for the weight at `offset` ([outDim, inDim]): `matmul_int8_forward` when
    /// the model runs in int8 and this weight has an int8 copy (`QuantizedWeights` says which), else fp32
    /// `matmul_forward`.
    func linear(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, _ offset: Int, rows: Int, inDim: Int,
                outDim: Int, ldIn: Int? = nil, ldOut: Int? = nil, accumulate: Bool = false) {
        if let int8, let matrix = int8.weights.matrix(offset: offset, rows: outDim, cols: inDim) {
            matmul_int8_forward(out, inp, matrix, rows: rows, inDim: inDim, outDim: outDim, ldIn: ldIn, ldOut: ldOut,
                                accumulate: accumulate, scratch: int8.scratch)
        } else {
            matmul_forward(out, inp, self[offset], rows: rows, inDim: inDim, outDim: outDim, ldIn: ldIn, ldOut: ldOut,
                           accumulate: accumulate)
        }
    }
}
