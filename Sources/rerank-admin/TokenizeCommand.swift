import ArgumentParser
import Foundation
import SentencePiece

struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Turn text into token ids with a checkpoint's tokenizer.",
        discussion: """
            Reads JSON lines {"text": str} and writes {"ids": [int]} per line; </s> is appended, as T5 \
            expects. Uses spiece.model when the directory has one, else tokenizer.json.
            """)

    @Option(name: .long, help: ArgumentHelp("Checkpoint or tokenizer directory.", valueName: "dir"))
    var model: String

    @Option(name: .long, help: ArgumentHelp("JSON-lines input file, or - for standard input.", valueName: "file"))
    var input: String = "-"

    struct Line: Decodable { let text: String }

    func run() throws {
        let tokenizer = try SentencePieceTokenizer(directory: URL(fileURLWithPath: model, isDirectory: true))
        try JSONLinesReader(path: input).forEach(Line.self) { line in
            let ids = tokenizer.encode(line.text)
            emit("{\"ids\":[" + ids.map(String.init).joined(separator: ",") + "]}")
        }
    }
}
