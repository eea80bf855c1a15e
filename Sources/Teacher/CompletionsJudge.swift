import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Ranking
import Synchronization

/// The pairwise teacher behind an OpenAI-compatible completions server (vLLM, TGI, llama.cpp's server): the
/// same prompt with the decoder prefix appended (`...Answer: passage`), one token, and the log-probabilities
/// of `A` and `B` among the top ones; a token not among them counts as minus infinity. An answer holding
/// neither is no answer (a chat model, another tokenizer): it counts as a tie and is reported in `missing`,
/// so the caller can refuse a query made of them. Each request has a deadline for the whole exchange and a
/// cap on the answer's size.
public struct CompletionsJudge: Sendable {
    public struct Settings: Sendable {
        public var url: URL
        public var model: String
        public var topLogprobs = 20
        public var concurrency = 8
        public var retries = 5
        /// Seconds one attempt may take in all, from connecting to the answer's last byte (`--request-timeout`).
        public var timeout: TimeInterval = 120
        /// Bytes of one answer at most (`--max-response-bytes`); a longer one is dropped as it passes this.
        public var maxResponseBytes = 1 << 20
        public var apiKey: String?

        public init(url: URL, model: String) {
            self.url = url
            self.model = model
        }
    }

    /// What the endpoint said about one ordered pair.
    public struct Answer: Equatable, Sendable {
        public var preference: PairPreference
        /// Why this answer holds neither A nor B (it then counts as a tie), or nil.
        public var missing: String?

        public init(preference: PairPreference, missing: String? = nil) {
            self.preference = preference
            self.missing = missing
        }
    }

    public let settings: Settings
    private let session: URLSession
    private let transfers: Transfers

    public init(settings: Settings) {
        self.settings = settings
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = settings.timeout
        configuration.timeoutIntervalForResource = settings.timeout
        configuration.httpMaximumConnectionsPerHost = settings.concurrency
        self.transfers = Transfers(limit: settings.maxResponseBytes)
        self.session = URLSession(configuration: configuration, delegate: transfers, delegateQueue: nil)
    }

    /// The text sent for one ordered pair (passages already cut).
    public static func prompt(query: String, a: String, b: String) -> String {
        PairwisePrompt.render(query: query, a: a, b: b) + " passage"
    }

    /// Answers for `pairs`, asked `concurrency` at a time; `stop` is polled between requests.
    public func judge(query: String, passages: [String], pairs: [OrderedPair],
                      stop: @Sendable () -> Bool = { false }) throws -> [Answer] {
        let results = Mutex<[Result<Answer, TeacherError>?]>(Array(repeating: nil, count: pairs.count))
        let next = Mutex(0)
        DispatchQueue.concurrentPerform(iterations: min(settings.concurrency, pairs.count)) { _ in
            while !stop() {
                let index = next.withLock { value -> Int in defer { value += 1 }; return value }
                guard index < pairs.count else { return }
                let pair = pairs[index]
                let result: Result<Answer, TeacherError>
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

    /// One request, retried with exponential backoff on connection errors, timeouts, 429 and 5xx.
    func ask(_ prompt: String) throws -> Answer {
        var request = URLRequest(url: settings.url)
        request.httpMethod = "POST"
        request.timeoutInterval = settings.timeout
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        if let key = settings.apiKey { request.setValue("Bearer \(key)", forHTTPHeaderField: "Authorization") }
        let body: [String: Any] = ["model": settings.model, "prompt": prompt, "max_tokens": 1, "temperature": 0,
                                   "logprobs": settings.topLogprobs]
        request.httpBody = try JSONSerialization.data(withJSONObject: body)
        var attempt = 0
        while true {
            let reply = send(request)
            let retryable: Bool
            let reason: String
            switch reply {
            case let .answer(data, 200):
                do { return try Self.answer(fromResponse: data) } catch let TeacherError.endpoint(reason) {
                    throw TeacherError.endpoint("\(settings.url.absoluteString): \(reason)")
                }
            case let .answer(data, status):
                retryable = status == 429 || (500...599).contains(status)
                reason = "HTTP \(status): \(String(decoding: data.prefix(300), as: UTF8.self))"
            case let .failed(description):
                retryable = true
                reason = description
            case .timedOut:
                retryable = true
                reason = "no complete answer within --request-timeout \(String(format: "%g", settings.timeout)) s"
            case let .tooLarge(status):
                retryable = false
                reason = "the answer is over --max-response-bytes \(settings.maxResponseBytes)"
                    + (status.map { " (HTTP \($0))" } ?? "") + "; one prompt's answer is a few kilobytes"
            }
            guard retryable, attempt < settings.retries else {
                throw TeacherError.endpoint("\(settings.url.absoluteString): \(reason)"
                    + (retryable ? " (after \(attempt + 1) attempts)" : ""))
            }
            Thread.sleep(forTimeInterval: min(0.25 * pow(2, Double(attempt)), 30))
            attempt += 1
        }
    }

    /// One exchange, ended at the deadline however the server paces its bytes. `http://` goes through
    /// `PlainHTTPClient`, which stops reading at the cap; `https://` through URLSession, which cuts the answer
    /// and fails the request as it passes the cap, though libcurl may have read further ahead by then.
    private func send(_ request: URLRequest) -> HTTPReply {
        if settings.url.scheme?.lowercased() == "http" {
            let headers = (request.allHTTPHeaderFields ?? [:]).sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
            return PlainHTTPClient.post(url: settings.url, headers: headers, body: request.httpBody ?? Data(),
                                        timeout: settings.timeout, limit: settings.maxResponseBytes)
        }
        let task = session.dataTask(with: request)
        let transfer = transfers.start(task)
        task.resume()
        guard transfer.done.wait(timeout: .now() + settings.timeout) == .success else {
            task.cancel()
            return .timedOut
        }
        return transfer.state.withLock { state in
            if state.tooLarge { return .tooLarge(status: state.status) }
            if let failure = state.failure { return .failed(failure) }
            guard let status = state.status else { return .failed("no answer") }
            return .answer(state.data, status: status)
        }
    }

    /// The answer in `choices[0].logprobs.top_logprobs[0]`; tokens are compared without a leading space or `▁`.
    /// NaN or +Infinity log-probabilities (bare in the text, as Python's json.dumps writes them) are errors
    /// that say so; -Infinity is a token the model cannot produce, as if it were absent.
    static func answer(fromResponse data: Data) throws -> Answer {
        let excerpt = String(decoding: data.prefix(300), as: UTF8.self)
        guard let object = try? JSONSerialization.jsonObject(with: quotingNonFiniteNumbers(data)) as? [String: Any] else {
            throw TeacherError.endpoint("the answer is not a JSON object: \(excerpt)")
        }
        guard let choices = object["choices"] as? [[String: Any]], let first = choices.first,
              let logprobs = first["logprobs"] as? [String: Any],
              let top = logprobs["top_logprobs"] as? [[String: Any]], let step = top.first else {
            let chat = ((object["choices"] as? [[String: Any]])?.first?["logprobs"] as? [String: Any])?["content"] != nil
            throw TeacherError.endpoint("the answer has no choices[0].logprobs.top_logprobs[0]"
                + (chat ? " (a chat completions answer: --endpoint must be the /v1/completions route)" : "")
                + ": \(excerpt)")
        }
        var a = -Double.infinity, b = -Double.infinity
        var numbers: [(token: String, logprob: Double)] = []
        var notNumbers: [String] = []
        for token in step.keys.sorted() {
            let value = step[token]!
            let logprob: Double
            if let text = value as? String {
                guard let special = ["NaN": Double.nan, "Infinity": .infinity, "-Infinity": -.infinity][text] else {
                    notNumbers.append("\(quoted(token)) is \(quoted(text)), a string, not a number")
                    continue
                }
                logprob = special
            } else if let number = value as? NSNumber {
                logprob = number.doubleValue
            } else {
                notNumbers.append("\(quoted(token)) is not a number")
                continue
            }
            if logprob.isNaN || logprob == .infinity {
                throw TeacherError.endpoint("the log-probability of \(quoted(token)) is \(logprob.isNaN ? "NaN" : "Infinity"): "
                    + "the model behind the endpoint gives non-finite scores: \(excerpt)")
            }
            numbers.append((token, logprob))
            var bare = Substring(token)
            while let first = bare.first, first == " " || first == "▁" { bare = bare.dropFirst() }
            if bare == "A" { a = max(a, logprob) } else if bare == "B" { b = max(b, logprob) }
        }
        guard a > -.infinity || b > -.infinity else {
            let shown = numbers.sorted { $0.logprob > $1.logprob }.prefix(5).map { "\(quoted($0.token)) \($0.logprob)" }
            let reason = notNumbers.isEmpty
                ? "its top log-probabilities are " + (shown.isEmpty ? "empty" : shown.joined(separator: ", "))
                : notNumbers.prefix(3).joined(separator: "; ")
            return Answer(preference: .tie, missing: reason)
        }
        return Answer(preference: PairPreference(a: Float(a), b: Float(b)))
    }

    private static func quoted(_ text: String) -> String {
        String(decoding: (try? JSONEncoder().encode(text)) ?? Data(), as: UTF8.self)
    }

    /// `NaN`, `Infinity` and `-Infinity` outside strings (not JSON, but what Python's json.dumps writes) as
    /// the strings "NaN", "Infinity" and "-Infinity", so the answer parses and the value can be named.
    static func quotingNonFiniteNumbers(_ data: Data) -> Data {
        let bytes = [UInt8](data)
        let words: [[UInt8]] = [Array("-Infinity".utf8), Array("Infinity".utf8), Array("NaN".utf8)]
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0, inString = false, escaped = false
        scan: while index < bytes.count {
            let byte = bytes[index]
            if inString {
                if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true }
                else if byte == UInt8(ascii: "\"") { inString = false }
            } else if byte == UInt8(ascii: "\"") {
                inString = true
            } else if byte == UInt8(ascii: "-") || byte == UInt8(ascii: "I") || byte == UInt8(ascii: "N") {
                for word in words where bytes[index...].starts(with: word) {
                    out.append(UInt8(ascii: "\""))
                    out += word
                    out.append(UInt8(ascii: "\""))
                    index += word.count
                    continue scan
                }
            }
            out.append(byte)
            index += 1
        }
        return Data(out)
    }
}

/// The answers in flight, read as they arrive, so one over the cap is dropped the moment it passes it
/// (a 3 GB answer is never held).
final class Transfers: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    final class Transfer: Sendable {
        struct State {
            var data = Data()
            var status: Int?
            var failure: String?
            var tooLarge = false
        }
        let done = DispatchSemaphore(value: 0)
        let state = Mutex(State())
    }

    let limit: Int
    private let running = Mutex<[Int: Transfer]>([:])

    init(limit: Int) {
        self.limit = limit
    }

    func start(_ task: URLSessionTask) -> Transfer {
        let transfer = Transfer()
        running.withLock { $0[task.taskIdentifier] = transfer }
        return transfer
    }

    private func transfer(_ task: URLSessionTask) -> Transfer? {
        running.withLock { $0[task.taskIdentifier] }
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
        let tooLarge = response.expectedContentLength > Int64(limit)
        transfer(dataTask)?.state.withLock {
            $0.status = (response as? HTTPURLResponse)?.statusCode
            $0.tooLarge = tooLarge
        }
        completionHandler(tooLarge ? .cancel : .allow)
        if tooLarge { transfer(dataTask)?.done.signal() }
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        let over = transfer(dataTask)?.state.withLock { state -> Bool in
            guard !state.tooLarge else { return true }
            guard state.data.count + data.count <= limit else {
                state.tooLarge = true
                state.data = Data()
                return true
            }
            state.data.append(data)
            return false
        } ?? false
        if over {
            // Answered now: the cancellation reaches libcurl only after the bytes it already has, which a fast
            // sender can keep coming for a while.
            dataTask.cancel()
            transfer(dataTask)?.done.signal()
        }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        guard let transfer = running.withLock({ $0.removeValue(forKey: task.taskIdentifier) }) else { return }
        if let error {
            transfer.state.withLock { $0.failure = error.localizedDescription }
        }
        transfer.done.signal()
    }
}
