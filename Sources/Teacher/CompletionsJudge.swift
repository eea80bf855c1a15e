import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Ranking
import Synchronization

/// The pairwise teacher behind an OpenAI-compatible completions server (vLLM, TGI, llama.cpp's server): the
/// same prompt with the decoder prefix appended (`...Answer: passage`), one token, and the log-probabilities
/// of `A` and `B` among the top ones; a token not among them counts as minus infinity.
public struct CompletionsJudge: Sendable {
    public struct Settings: Sendable {
        public var url: URL
        public var model: String
        public var topLogprobs = 20
        public var concurrency = 8
        public var retries = 5
        public var timeout: TimeInterval = 120
        public var apiKey: String?

        public init(url: URL, model: String) {
            self.url = url
            self.model = model
        }
    }

    public let settings: Settings
    private let session: URLSession

    public init(settings: Settings) {
        self.settings = settings
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = settings.timeout
        configuration.httpMaximumConnectionsPerHost = settings.concurrency
        self.session = URLSession(configuration: configuration)
    }

    /// The text sent for one ordered pair (passages already cut).
    public static func prompt(query: String, a: String, b: String) -> String {
        PairwisePrompt.render(query: query, a: a, b: b) + " passage"
    }

    /// Preferences of `pairs`, asked `concurrency` at a time; `stop` is polled between requests.
    public func judge(query: String, passages: [String], pairs: [OrderedPair],
                      stop: @Sendable () -> Bool = { false }) throws -> [PairPreference] {
        let results = Mutex<[Result<PairPreference, TeacherError>?]>(Array(repeating: nil, count: pairs.count))
        let next = Mutex(0)
        DispatchQueue.concurrentPerform(iterations: min(settings.concurrency, pairs.count)) { _ in
            while !stop() {
                let index = next.withLock { value -> Int in defer { value += 1 }; return value }
                guard index < pairs.count else { return }
                let pair = pairs[index]
                let result: Result<PairPreference, TeacherError>
                do {
                    result = .success(try ask(Self.prompt(query: query, a: passages[pair.first], b: passages[pair.second])))
                } catch let error as TeacherError {
                    result = .failure(error)
                } catch {
                    result = .failure(.endpoint("\(error)"))
                }
                results.withLock { $0[index] = result }
                if case .failure = result { next.withLock { $0 = pairs.count } }
            }
        }
        return try results.withLock { all in
            for case let .failure(error)? in all { throw error }
            guard all.allSatisfy({ $0 != nil }) else { throw TeacherError.interrupted(done: 0, total: 0) }
            return try all.map { try $0!.get() }
        }
    }

    /// One request, retried with exponential backoff on connection errors, 429 and 5xx.
    func ask(_ prompt: String) throws -> PairPreference {
        var request = URLRequest(url: settings.url)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        if let key = settings.apiKey { request.setValue("Bearer \(key)", forHTTPHeaderField: "Authorization") }
        let body: [String: Any] = ["model": settings.model, "prompt": prompt, "max_tokens": 1, "temperature": 0,
                                   "logprobs": settings.topLogprobs]
        request.httpBody = try JSONSerialization.data(withJSONObject: body)
        var attempt = 0
        while true {
            let (data, status, failure) = send(request)
            if let data, status == 200 { return try Self.preference(fromResponse: data) }
            let retryable = failure != nil || status == 429 || (500...599).contains(status ?? 0)
            let reason = failure ?? "HTTP \(status ?? 0): \(String(decoding: (data ?? Data()).prefix(300), as: UTF8.self))"
            guard retryable, attempt < settings.retries else {
                throw TeacherError.endpoint("\(settings.url.absoluteString): \(reason)"
                    + (retryable ? " (after \(attempt + 1) attempts)" : ""))
            }
            Thread.sleep(forTimeInterval: min(0.25 * pow(2, Double(attempt)), 30))
            attempt += 1
        }
    }

    private func send(_ request: URLRequest) -> (Data?, Int?, String?) {
        let done = DispatchSemaphore(value: 0)
        let outcome = Mutex<(Data?, Int?, String?)>((nil, nil, "no answer"))
        session.dataTask(with: request) { data, response, error in
            outcome.withLock {
                $0 = (data, (response as? HTTPURLResponse)?.statusCode, error.map { $0.localizedDescription })
            }
            done.signal()
        }.resume()
        done.wait()
        return outcome.withLock { $0 }
    }

    /// A from `choices[0].logprobs.top_logprobs[0]`; tokens are compared without a leading space or `▁`.
    static func preference(fromResponse data: Data) throws -> PairPreference {
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let choices = object["choices"] as? [[String: Any]], let first = choices.first,
              let logprobs = first["logprobs"] as? [String: Any],
              let top = logprobs["top_logprobs"] as? [[String: Any]], let step = top.first else {
            throw TeacherError.endpoint("the answer has no choices[0].logprobs.top_logprobs[0]: "
                + String(decoding: data.prefix(300), as: UTF8.self))
        }
        var a = -Float.infinity, b = -Float.infinity
        for (token, value) in step {
            guard let logprob = (value as? NSNumber)?.floatValue else { continue }
            var bare = Substring(token)
            while let first = bare.first, first == " " || first == "▁" { bare = bare.dropFirst() }
            if bare == "A" { a = max(a, logprob) } else if bare == "B" { b = max(b, logprob) }
        }
        return PairPreference(a: a, b: b)
    }
}
