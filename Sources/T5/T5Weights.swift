/// Read-only view of a model's parameter block: the config, the tensor layout and the block's base address.
struct T5Weights {
    let config: T5Config
    let layout: T5ParameterLayout
    let base: UnsafePointer<Float>

    @inline(__always)
    subscript(offset: Int) -> UnsafePointer<Float> { base + offset }
}
