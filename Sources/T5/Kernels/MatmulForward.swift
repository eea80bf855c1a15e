import COpenBLAS

/// out[rows, outDim] (+)= inp[rows, inDim] · weight[outDim, inDim]^T, the PyTorch Linear convention.
/// With `accumulate` the product is added to `out` (beta = 1), which is how residual connections are applied.
/// `ldIn`/`ldOut` allow reading and writing column slices of wider row-major buffers.
func matmul_forward(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, _ weight: UnsafePointer<Float>,
                    rows: Int, inDim: Int, outDim: Int, ldIn: Int? = nil, ldOut: Int? = nil, accumulate: Bool = false) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(outDim), Int32(inDim),
                1, inp, Int32(ldIn ?? inDim), weight, Int32(inDim), accumulate ? 1 : 0, out, Int32(ldOut ?? outDim))
}
