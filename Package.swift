// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "rerank",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "rerankd", targets: ["rerankd"]),
        .executable(name: "rerank-admin", targets: ["rerank-admin"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // System libraries (Debian: libopenblas-dev, zlib1g-dev, libnghttp2-dev).
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CNGHTTP2", pkgConfig: "libnghttp2", providers: [.apt(["libnghttp2-dev"])]),
        // Linux epoll (part of libc; Swift's Glibc module leaves it out).
        .systemLibrary(name: "CEpoll"),

        // Text -> token ids (SentencePiece unigram, from spiece.model or tokenizer.json).
        .target(name: "SentencePiece"),
        // Checkpoint loading and the T5 encoder/decoder over flat buffers.
        .target(name: "T5", dependencies: ["COpenBLAS"]),
        // Prompt templates, truncation and scoring of (query, document) pairs.
        .target(name: "Ranking", dependencies: ["SentencePiece", "T5"]),
        // HTTP/1.1 and h2c server on POSIX sockets and Dispatch; knows nothing of ranking.
        .target(name: "HTTPServer", dependencies: [
            "CZlib", "CNGHTTP2", "CEpoll", .product(name: "Logging", package: "swift-log"),
        ]),
        // Trivial HTTP server over HTTPServer, for benchmarks and manual testing.
        .executableTarget(name: "http-echo", dependencies: [
            "HTTPServer",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),

        .executableTarget(name: "rerankd", dependencies: [
            "HTTPServer", "Ranking",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "rerank-admin", dependencies: [
            "Ranking", "T5", "SentencePiece",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .testTarget(name: "SentencePieceTests", dependencies: ["SentencePiece"]),
        .testTarget(name: "T5Tests", dependencies: ["T5"]),
        .testTarget(name: "RankingTests", dependencies: ["Ranking"]),
        .testTarget(name: "HTTPServerTests", dependencies: [
            "HTTPServer", .product(name: "Logging", package: "swift-log"),
        ]),
    ],
    swiftLanguageModes: [.v5]
)
