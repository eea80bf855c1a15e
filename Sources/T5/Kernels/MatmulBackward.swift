import COpenBLAS

/// Backward of `matmul_forward` (out = inp · weight^T):
/// dInp[rows, inDim] += dOut · weight, dWeight[outDim, inDim] += dOut^T · inp. Both accumulate.
func matmul_backward(dInp: UnsafeMutablePointer<Float>?, dWeight: UnsafeMutablePointer<Float>,
                     dOut: UnsafePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                     rows: Int, inDim: Int, outDim: Int, ldIn: Int? = nil, ldDOut: Int? = nil) {
    let ldIn = Int32(ldIn ?? inDim), ldDOut = Int32(ldDOut ?? outDim)
    if let dInp {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(inDim), Int32(outDim),
                    1, dOut, ldDOut, weight, Int32(inDim), 1, dInp, ldIn)
    }
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(outDim), Int32(inDim), Int32(rows),
                1, dOut, ldDOut, inp, ldIn, 1, dWeight, Int32(inDim))
}

/// Backward of `embedding_forward`: table rows of `ids` accumulate the rows of dOut.
func embedding_backward(dTable: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, ids: [Int32], dim: Int) {
    for (i, id) in ids.enumerated() {
        let row = dTable + Int(id) * dim
        for j in 0..<dim { row[j] += dOut[i * dim + j] }
    }
}
