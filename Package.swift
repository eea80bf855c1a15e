// swift-tools-version:6.0
import PackageDescription

// The numeric and tokenizer kernels are compiled with optimisation in debug builds too: unoptimised
// Swift is 10-50x slower there, which would make the parity and service tests crawl.
let optimizedEvenInDebug: [SwiftSetting] = [.unsafeFlags(["-O"], .when(configuration: .debug))]

let package = Package(
    name: "rerank",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "rerankd", targets: ["rerankd"]),
        .executable(name: "rerank-admin", targets: ["rerank-admin"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        // System libraries (Debian: libopenblas-dev, zlib1g-dev, libnghttp2-dev, libdnnl-dev).
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CNGHTTP2", pkgConfig: "libnghttp2", providers: [.apt(["libnghttp2-dev"])]),
        // oneDNN's int8 GEMM (u8 x s8 -> s32) for --precision int8 (Debian: libdnnl-dev).
        .systemLibrary(name: "CDNNL", providers: [.apt(["libdnnl-dev"])]),
        // Linux epoll (part of libc; Swift's Glibc module leaves it out).
        .systemLibrary(name: "CEpoll"),
        // glibc's malloc_trim (part of libc), to give memory back after a burst.
        .systemLibrary(name: "CMalloc"),

        // Whole-file reads with size limits and plain-English errors, for every file a checkpoint holds.
        .target(name: "FileReading"),
        // Text -> token ids (SentencePiece unigram, from spiece.model or tokenizer.json).
        .target(name: "SentencePiece", dependencies: ["FileReading"], swiftSettings: optimizedEvenInDebug),
        // The T5 forward pass's elementwise kernels (norms, softmax, GELU, int8 (de)quantisation) in C, compiled
        // for AVX2+FMA and for the baseline, one picked at run time (Swift has no per-function target).
        .target(name: "T5Kernels", cSettings: [.unsafeFlags(["-O2"], .when(configuration: .debug))]),
        // Checkpoint loading and the T5 encoder/decoder over flat buffers.
        .target(name: "T5", dependencies: ["COpenBLAS", "CDNNL", "T5Kernels", "FileReading"],
                swiftSettings: optimizedEvenInDebug),
        // The offline data side: TREC runs and qrels, ranking metrics (and the first stage).
        .target(name: "Retrieval", dependencies: [.product(name: "HeapModule", package: "swift-collections")]),
        // Prompt templates, truncation and scoring of (query, document) pairs.
        .target(name: "Ranking", dependencies: ["SentencePiece", "T5", "FileReading"]),
        // HTTP/1.1 and h2c server on POSIX sockets and Dispatch; knows nothing of ranking.
        .target(name: "HTTPServer", dependencies: [
            "CZlib", "CNGHTTP2", "CEpoll", "CMalloc", .product(name: "Logging", package: "swift-log"),
        ]),
        // Trivial HTTP server over HTTPServer, for benchmarks and manual testing.
        .executableTarget(name: "http-echo", dependencies: [
            "HTTPServer",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),

        // The queue and micro-batcher between requests and the core, and hot swap; knows nothing of HTTP.
        .target(name: "RerankService", dependencies: [
            "Ranking", "T5", "FileReading",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "DequeModule", package: "swift-collections"),
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // Training the pointwise student on the teacher's order: RankNet, optimisers, checkpoints.
        .target(name: "Distillation", dependencies: ["T5", "Ranking", "Retrieval"]),
        // Immutable model versions and an atomically flipped `current`, shared by publishers and servers.
        .target(name: "ModelStore", dependencies: [.product(name: "Crypto", package: "swift-crypto")]),
        // The pairwise teacher's jobs: inputs, resumable sharded output, merge, an OpenAI-compatible endpoint.
        .target(name: "Teacher", dependencies: ["Ranking", "Retrieval"]),
        // The HTTP face of the service: routes, JSON shapes, auth, access log; a thin layer.
        .target(name: "RerankAPI", dependencies: [
            "HTTPServer", "RerankService", "Ranking", "T5",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
        ]),

        .executableTarget(name: "rerankd", dependencies: [
            "HTTPServer", "RerankAPI", "RerankService", "Ranking", "T5", "ModelStore",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], resources: [
            // The embedded demo checkpoint (also at Models/demo) and the API description (./openapi.yaml links to it: one file).
            .copy("Resources/demo-model"),
            .copy("Resources/openapi.yaml"),
        ]),
        .executableTarget(name: "rerank-admin", dependencies: [
            "Ranking", "T5", "SentencePiece", "Retrieval", "Teacher", "Distillation", "ModelStore",
            // ModelLoader.validate: publish runs the very checks every server runs before serving a version.
            "RerankService",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // Encode throughput of the tokenizer (Scripts/bench_tokenizer.sh).
        .executableTarget(name: "sentencepiece-bench", dependencies: ["SentencePiece"]),

        // Scoring fixtures from transformers 4.x and 5.x and the comparisons the parity tests share.
        .target(name: "ParityFixtures", path: "Tests/ParityFixtures"),
        .testTarget(name: "SentencePieceTests", dependencies: ["SentencePiece"]),
        .testTarget(name: "T5Tests", dependencies: ["T5"]),
        .testTarget(name: "RetrievalTests", dependencies: ["Retrieval"]),
        .testTarget(name: "RankingTests", dependencies: ["Ranking", "ParityFixtures"]),
        .testTarget(name: "DistillationTests", dependencies: ["Distillation", "T5", "Ranking", "ParityFixtures"]),
        .testTarget(name: "HTTPServerTests", dependencies: [
            "HTTPServer", .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "RerankServiceTests", dependencies: ["RerankService", "Ranking", "SentencePiece", "T5", "ParityFixtures"]),
        .testTarget(name: "RerankAPITests", dependencies: ["RerankAPI", "ParityFixtures"], exclude: ["Clients"]),
        // Runs the built rerankd and rerank-admin binaries as processes.
        .testTarget(name: "ExecutableTests", dependencies: ["ParityFixtures"]),
    ],
    swiftLanguageModes: [.v6]
)
