/// `RERANK_*` environment variables as defaults for the matching flags: `RERANK_MAX_BATCH_TOKENS=4096`
/// acts like `--max-batch-tokens 4096` unless the flag itself is given.
enum EnvironmentDefaults {
    static func arguments(_ arguments: [String], environment: [String: String], options: [String]) -> [String] {
        var result = arguments
        for option in options {
            let variable = "RERANK_" + option.uppercased().replacingOccurrences(of: "-", with: "_")
            guard let value = environment[variable] else { continue }
            let flag = "--" + option
            let given = arguments.contains { $0 == flag || $0.hasPrefix(flag + "=") }
            if !given { result.append(flag + "=" + value) }
        }
        return result
    }
}
