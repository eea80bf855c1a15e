/// BM25's tokens: maximal runs of Unicode letters (general category L*) or numeric characters, each
/// lowercased, minus English stopwords unless told otherwise. The same as Python's
/// `[t.lower() for t in re.findall(r"[^\W_]+", text)]`, which the fixtures use.
public struct BM25Tokenizer: Sendable {
    public var removesStopwords: Bool

    public init(removesStopwords: Bool = true) {
        self.removesStopwords = removesStopwords
    }

    public func tokens(_ text: String) -> [String] {
        var text = text
        if let ascii = text.withUTF8({ bytes in bytes.allSatisfy { $0 < 0x80 } ? asciiTokens(bytes) : nil }) {
            return ascii
        }
        return unicodeTokens(text)
    }

    /// The same rule on ASCII text, byte by byte (most corpora are mostly ASCII; building tokens a scalar at
    /// a time costs several times more).
    private func asciiTokens(_ bytes: UnsafeBufferPointer<UInt8>) -> [String] {
        var tokens: [String] = []
        var current: [UInt8] = []
        current.reserveCapacity(32)
        func finish() {
            guard !current.isEmpty else { return }
            let token = String(decoding: current, as: UTF8.self)
            current.removeAll(keepingCapacity: true)
            if !removesStopwords || !Self.stopwords.contains(token) { tokens.append(token) }
        }
        for byte in bytes {
            switch byte {
            case 0x30...0x39, 0x61...0x7A: current.append(byte)
            case 0x41...0x5A: current.append(byte + 32)
            default: finish()
            }
        }
        finish()
        return tokens
    }

    private func unicodeTokens(_ text: String) -> [String] {
        var tokens: [String] = []
        var current = String.UnicodeScalarView()
        func finish() {
            guard !current.isEmpty else { return }
            let token = Self.lowercased(Array(current))
            current = String.UnicodeScalarView()
            if !removesStopwords || !Self.stopwords.contains(token) { tokens.append(token) }
        }
        for scalar in text.unicodeScalars {
            if Self.isTokenScalar(scalar) { current.append(scalar) } else { finish() }
        }
        finish()
        return tokens
    }

    /// Full Unicode lowercasing with Python's context rule for a final capital sigma (Σ at the end of a
    /// word becomes ς, elsewhere σ), which Swift's `lowercased()` does not apply.
    static func lowercased(_ scalars: [Unicode.Scalar]) -> String {
        var out = ""
        for (index, scalar) in scalars.enumerated() {
            if scalar == "\u{03A3}", isFinalSigma(scalars, at: index) {
                out.unicodeScalars.append("\u{03C2}")
            } else if scalar.isASCII {
                out.unicodeScalars.append((0x41...0x5A).contains(scalar.value) ? Unicode.Scalar(scalar.value + 32)! : scalar)
            } else {
                out += scalar.properties.lowercaseMapping
            }
        }
        return out
    }

    /// Unicode's Final_Sigma condition: a cased letter before (past case-ignorables), none after.
    static func isFinalSigma(_ scalars: [Unicode.Scalar], at index: Int) -> Bool {
        let before = scalars[..<index].reversed().first { !$0.properties.isCaseIgnorable }
        let after = scalars[(index + 1)...].first { !$0.properties.isCaseIgnorable }
        return before?.properties.isCased == true && after?.properties.isCased != true
    }

    static func isTokenScalar(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.isASCII {
            let v = scalar.value
            return (0x30...0x39).contains(v) || (0x41...0x5A).contains(v) || (0x61...0x7A).contains(v)
        }
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return scalar.properties.numericType != nil
        }
    }

    /// English stopwords (the 127 of NLTK's English list, plus nothing else); make_ir_fixtures.py reads
    /// this list from this file, so both sides drop the same words.
    static let stopwords: Set<String> = [
        "i", "me", "my", "myself", "we", "our", "ours", "ourselves", "you", "your", "yours", "yourself",
        "yourselves", "he", "him", "his", "himself", "she", "her", "hers", "herself", "it", "its", "itself",
        "they", "them", "their", "theirs", "themselves", "what", "which", "who", "whom", "this", "that", "these",
        "those", "am", "is", "are", "was", "were", "be", "been", "being", "have", "has", "had", "having", "do",
        "does", "did", "doing", "a", "an", "the", "and", "but", "if", "or", "because", "as", "until", "while",
        "of", "at", "by", "for", "with", "about", "against", "between", "into", "through", "during", "before",
        "after", "above", "below", "to", "from", "up", "down", "in", "out", "on", "off", "over", "under", "again",
        "further", "then", "once", "here", "there", "when", "where", "why", "how", "all", "any", "both", "each",
        "few", "more", "most", "other", "some", "such", "no", "nor", "not", "only", "own", "same", "so", "than",
        "too", "very", "s", "t", "can", "will", "just", "don", "should", "now",
    ]
}
