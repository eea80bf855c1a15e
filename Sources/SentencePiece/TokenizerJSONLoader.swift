import Foundation

/// What a `tokenizer.json` yields: the encoder plus its vocabulary and special ids.
struct TokenizerJSONModel {
    var encoder: TokenizersEncoder
    var vocabulary: Vocabulary
    var eosID: Int32
    var padID: Int32
    var unkID: Int32
}

/// Reads the Hugging Face `tokenizers` serialisation of a Unigram tokenizer, accepting only the
/// components whose semantics `TokenizersEncoder` reproduces.
enum TokenizerJSONLoader {
    static func load(_ data: Data) throws -> TokenizerJSONModel {
        let root: [String: Any]
        do {
            guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw FormatError(reason: "top level is not a JSON object")
            }
            root = object
        } catch let error as FormatError {
            throw error
        } catch {
            throw FormatError(reason: "invalid JSON (\(error.localizedDescription))")
        }
        let model = try field(root, "model", as: [String: Any].self)
        let type = try field(model, "type", as: String.self)
        guard type == "Unigram" else {
            throw UnsupportedFeature(reason: "model type \(type); only Unigram is supported")
        }
        if let byteFallback = model["byte_fallback"] as? Bool, byteFallback {
            throw UnsupportedFeature(reason: "Unigram byte_fallback is not supported")
        }
        let entries = try field(model, "vocab", as: [Any].self)
        var vocabulary: [(piece: String, score: Double)] = []
        vocabulary.reserveCapacity(entries.count)
        for (index, entry) in entries.enumerated() {
            guard let pair = entry as? [Any], pair.count == 2, let piece = pair[0] as? String,
                  let score = (pair[1] as? NSNumber)?.doubleValue else {
                throw FormatError(reason: "model.vocab[\(index)] is not a [piece, score] pair")
            }
            vocabulary.append((piece, score))
        }
        guard !vocabulary.isEmpty else { throw FormatError(reason: "model.vocab is empty") }
        guard let unk = model["unk_id"] as? Int, unk >= 0, unk < vocabulary.count else {
            throw FormatError(reason: "model.unk_id is missing or outside the vocabulary")
        }

        var added: [(content: String, id: Int32)] = []
        let addedTokens = (root["added_tokens"] as? [Any]) ?? []
        // Ids beyond the vocabulary plus the added tokens would leave holes (and size the table).
        let idLimit = vocabulary.count + addedTokens.count
        for (index, entry) in addedTokens.enumerated() {
            guard let token = entry as? [String: Any], let content = token["content"] as? String, !content.isEmpty,
                  let id = token["id"] as? Int, id >= 0, id < idLimit else {
                throw FormatError(reason: "added_tokens[\(index)] lacks a content string or an id below \(idLimit)")
            }
            for flag in ["single_word", "lstrip", "rstrip", "normalized"] where (token[flag] as? Bool) == true {
                throw UnsupportedFeature(reason: "added token \(content) sets \(flag), which is not supported")
            }
            added.append((content, Int32(id)))
        }
        let vocab = Vocabulary(pieces: vocabulary.map(\.piece), extra: added)

        let pipeline = TokenizersPipeline(
            normalizers: try normalizerSteps(root["normalizer"]),
            whitespaceSplit: false, metaspace: nil)
        let configured = try withPreTokenizer(pipeline, root["pre_tokenizer"])
        let eos = try eosID(root, vocab)
        guard let pad = vocab.id(of: "<pad>") else {
            throw UnsupportedFeature(reason: "the vocabulary has no <pad> piece")
        }
        let encoder = TokenizersEncoder(pipeline: configured, vocabulary: vocabulary, unknownID: Int32(unk),
                                        addedTokens: added)
        return TokenizerJSONModel(encoder: encoder, vocabulary: vocab, eosID: eos, padID: pad, unkID: Int32(unk))
    }

    private static func field<T>(_ object: [String: Any], _ key: String, as: T.Type) throws -> T {
        guard let value = object[key] as? T else {
            throw FormatError(reason: "\"\(key)\" is missing or not a \(T.self)")
        }
        return value
    }

    /// The id the post-processor appends for `</s>`, else the vocabulary's `</s>`.
    private static func eosID(_ root: [String: Any], _ vocabulary: Vocabulary) throws -> Int32 {
        if let processor = root["post_processor"] as? [String: Any],
           let special = processor["special_tokens"] as? [String: Any],
           let eos = special["</s>"] as? [String: Any],
           let ids = eos["ids"] as? [Int], ids.count == 1 {
            guard vocabulary.piece(of: Int32(clamping: ids[0])) != nil else {
                throw FormatError(reason: "post_processor </s> id \(ids[0]) names no piece")
            }
            return Int32(ids[0])
        }
        guard let id = vocabulary.id(of: "</s>") else {
            throw UnsupportedFeature(reason: "the vocabulary has no </s> piece")
        }
        return id
    }

    private static func normalizerSteps(_ value: Any?) throws -> [TokenizersPipeline.NormalizerStep] {
        guard let value, !(value is NSNull) else { return [] }
        guard let spec = value as? [String: Any], let type = spec["type"] as? String else {
            throw FormatError(reason: "normalizer is not an object with a type")
        }
        switch type {
        case "Sequence":
            return try field(spec, "normalizers", as: [Any].self).flatMap(normalizerSteps)
        case "Precompiled":
            let encoded = try field(spec, "precompiled_charsmap", as: String.self)
            guard let blob = Data(base64Encoded: encoded) else {
                throw FormatError(reason: "precompiled_charsmap is not base64")
            }
            return [.precompiled(try PrecompiledCharsMap(blob: Array(blob)))]
        case "Strip":
            return [.strip(left: (spec["strip_left"] as? Bool) ?? false, right: (spec["strip_right"] as? Bool) ?? false)]
        case "Replace":
            let content = try field(spec, "content", as: String.self)
            let pattern = try field(spec, "pattern", as: [String: Any].self)
            if let literal = pattern["String"] as? String {
                return [.replace(pattern: .literal(Array(literal.utf8)), content: Array(content.utf8))]
            }
            if let regex = pattern["Regex"] as? String, let repeated = repeatedCharacterRegex(regex) {
                return [.replace(pattern: repeated, content: Array(content.utf8))]
            }
            throw UnsupportedFeature(reason: "Replace pattern \(pattern) is not supported")
        default:
            throw UnsupportedFeature(reason: "normalizer \(type) is not supported")
        }
    }

    /// Recognises the regex `c{n,}` for one ASCII character c (the T5 converter's `" {2,}"`).
    private static func repeatedCharacterRegex(_ regex: String) -> TokenizersPipeline.ReplacePattern? {
        let bytes = Array(regex.utf8)
        guard bytes.count >= 5, bytes[0] < 0x80, !"\\.[](){}*+?^$|".utf8.contains(bytes[0]),
              bytes[1] == UInt8(ascii: "{"), bytes[bytes.count - 2] == UInt8(ascii: ","),
              bytes[bytes.count - 1] == UInt8(ascii: "}"),
              let minimum = Int(String(decoding: bytes[2..<(bytes.count - 2)], as: UTF8.self)), minimum > 0 else {
            return nil
        }
        return .repeated(byte: bytes[0], minimum: minimum)
    }

    private static func withPreTokenizer(_ pipeline: TokenizersPipeline, _ value: Any?) throws -> TokenizersPipeline {
        guard let value, !(value is NSNull) else { return pipeline }
        guard let spec = value as? [String: Any], let type = spec["type"] as? String else {
            throw FormatError(reason: "pre_tokenizer is not an object with a type")
        }
        var result = pipeline
        switch type {
        case "Sequence":
            for (index, step) in try field(spec, "pretokenizers", as: [Any].self).enumerated() {
                let stepType = (step as? [String: Any])?["type"] as? String
                // Splitting on whitespace is only reproduced ahead of Metaspace.
                guard stepType != "WhitespaceSplit" || (index == 0 && result.metaspace == nil) else {
                    throw UnsupportedFeature(reason: "WhitespaceSplit after another pre-tokenizer is not supported")
                }
                if stepType == "WhitespaceSplit" {
                    result.whitespaceSplit = true
                } else {
                    result = try withPreTokenizer(result, step)
                }
            }
        case "Metaspace":
            guard result.metaspace == nil else {
                throw UnsupportedFeature(reason: "more than one Metaspace pre-tokenizer")
            }
            let replacement = try field(spec, "replacement", as: String.self)
            let scheme: TokenizersPipeline.PrependScheme
            switch spec["prepend_scheme"] as? String {
            case "always": scheme = .always
            case "first": scheme = .first
            case "never": scheme = .never
            case nil: scheme = ((spec["add_prefix_space"] as? Bool) ?? true) ? .always : .never
            case let other?: throw FormatError(reason: "Metaspace prepend_scheme \(other) is unknown")
            }
            guard !replacement.isEmpty else { throw FormatError(reason: "Metaspace replacement is empty") }
            result.metaspace = .init(replacement: Array(replacement.utf8), prependScheme: scheme,
                                     split: (spec["split"] as? Bool) ?? true)
        default:
            throw UnsupportedFeature(reason: "pre-tokenizer \(type) is not supported")
        }
        return result
    }
}
