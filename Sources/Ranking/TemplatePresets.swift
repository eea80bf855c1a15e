import FileReading
import Foundation

extension PromptTemplate {
    /// The student prompt of the public Instruction Distillation code; score = raw logit of `▁Yes`.
    public static let instructDistill = try! PromptTemplate(
        name: "instructdistill",
        text: "Predict whether the given passage answer the question.\n\nQuestion: {query}\n\n"
            + "Passage: {passage}\n\nDoes the passage answer the question?",
        maxPassageWords: 200,
        rule: .logit(piece: "▁Yes"))

    /// The relevance-generation variant of the paper's appendix; score = log P(Yes) over {No, Yes}.
    public static let rgYesNo = try! PromptTemplate(
        name: "rg-yesno",
        text: "Question: Given a query \"{query}\", Is the following passage relevant to the query?\n"
            + "Passage : {passage}\nIf it is relevant answer Yes, else answer No.\nAnswer:",
        rule: .logSoftmax(positive: "▁Yes", negative: "▁No"))

    /// monoT5; score = log P(true) over {false, true}.
    public static let monoT5 = try! PromptTemplate(
        name: "monot5",
        text: "Query: {query} Document: {passage} Relevant:",
        rule: .logSoftmax(positive: "▁true", negative: "▁false"))

    public static let presets: [String: PromptTemplate] = [
        instructDistill.name: instructDistill,
        rgYesNo.name: rgYesNo,
        monoT5.name: monoT5,
    ]

    public static func preset(named name: String) throws -> PromptTemplate {
        guard let template = presets[name] else { throw TemplateError.unknownPreset(name) }
        return template
    }

    /// A custom template from a JSON file:
    /// `{"name": str, "text": str, "max_passage_words": int?, "score": {"logit": "▁Yes"}}` or
    /// `"score": {"log_softmax": {"positive": "▁true", "negative": "▁false"}}`.
    public static func load(from url: URL) throws -> PromptTemplate {
        let data: Data
        do { data = Data(try readRegularFile(url.path, maxBytes: 1 << 20)) } catch {
            throw TemplateError.unreadable(path: url.path, reason: error.reason)
        }
        let file: TemplateFile
        do { file = try JSONDecoder().decode(TemplateFile.self, from: data) } catch {
            throw TemplateError.unreadable(path: url.path, reason: "not a template JSON object: \(readableDescription(of: error))")
        }
        let rule: ScoreRule
        switch (file.score.logit, file.score.logSoftmax) {
        case let (piece?, nil): rule = .logit(piece: piece)
        case let (nil, pair?): rule = .logSoftmax(positive: pair.positive, negative: pair.negative)
        default:
            throw TemplateError.invalid(
                name: file.name, reason: "\"score\" must hold exactly one of \"logit\" or \"log_softmax\"")
        }
        return try PromptTemplate(name: file.name, text: file.text, maxPassageWords: file.maxPassageWords, rule: rule)
    }
}

private struct TemplateFile: Decodable {
    struct Score: Decodable {
        struct Pair: Decodable { let positive: String; let negative: String }
        let logit: String?
        let logSoftmax: Pair?
        enum CodingKeys: String, CodingKey { case logit, logSoftmax = "log_softmax" }
    }
    let name: String
    let text: String
    let maxPassageWords: Int?
    let score: Score
    enum CodingKeys: String, CodingKey { case name, text, score, maxPassageWords = "max_passage_words" }
}
