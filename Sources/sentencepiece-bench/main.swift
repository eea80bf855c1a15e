// Encode throughput of SentencePieceTokenizer: `sentencepiece-bench <model dir | *.model |
// *.json> <text file> [seconds]`. Build with -c release (Scripts/bench_tokenizer.sh).
// Reports MB/s of UTF-8 input for the whole text as one string and for its paragraphs encoded
// one by one (closer to the server, which encodes each document separately). Time is the
// thread's CPU time, so that other processes on a shared machine distort it less.
import Foundation
import SentencePiece

let arguments = CommandLine.arguments
guard arguments.count >= 3 else {
    FileHandle.standardError.write(Data("usage: sentencepiece-bench <model dir|spiece.model|tokenizer.json> <text file> [seconds]\n".utf8))
    exit(2)
}
let modelURL = URL(fileURLWithPath: arguments[1])
let tokenizer: SentencePieceTokenizer
let text: String
do {
    switch modelURL.pathExtension {
    case "model": tokenizer = try SentencePieceTokenizer(spieceModel: modelURL)
    case "json": tokenizer = try SentencePieceTokenizer(tokenizerJSON: modelURL)
    default: tokenizer = try SentencePieceTokenizer(directory: modelURL)
    }
    text = try String(contentsOfFile: arguments[2], encoding: .utf8)
} catch {
    FileHandle.standardError.write(Data("sentencepiece-bench: \(error)\n".utf8))
    exit(1)
}
let budget = arguments.count > 3 ? Double(arguments[3]) ?? 2 : 2
let paragraphs = text.components(separatedBy: "\n\n").filter { !$0.isEmpty }

func cpuSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

/// Runs `body` repeatedly for about `budget` CPU seconds; returns (MB/s, tokens per pass).
func measure(bytesPerPass: Int, _ body: () -> Int) -> (Double, Int) {
    var tokens = body()  // warm-up
    var passes = 0
    let start = cpuSeconds()
    var elapsed = 0.0
    repeat {
        tokens = body()
        passes += 1
        elapsed = cpuSeconds() - start
    } while elapsed < budget
    return (Double(bytesPerPass * passes) / elapsed / 1e6, tokens)
}

let bytes = text.utf8.count
let (whole, wholeTokens) = measure(bytesPerPass: bytes) { tokenizer.encode(text).count }
let (split, splitTokens) = measure(bytesPerPass: paragraphs.reduce(0) { $0 + $1.utf8.count }) {
    paragraphs.reduce(0) { $0 + tokenizer.encode($1).count }
}
print("input \(bytes) bytes, \(paragraphs.count) paragraphs")
print(String(format: "whole text:     %.1f MB/s (%d tokens)", whole, wholeTokens))
print(String(format: "per paragraph:  %.1f MB/s (%d tokens)", split, splitTokens))
