import ArgumentParser
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import ModelStore
import Ranking

struct PublishCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish",
        abstract: "Publish a checkpoint directory into a model store and make it the served version.",
        discussion: """
            Copies DIR into STORE/versions/<content hash>/ (immutable), checks that it loads and scores, then \
            flips STORE/current to it atomically and keeps the --keep most recent versions. Servers started \
            with `rerankd --model-store STORE` notice the flip and hot-swap without dropping a request; \
            --notify URL also posts /admin/reload to a server that does not share the store. Publishers take \
            STORE/.lock, so two never interleave. A version that does not load is never made current.
            """)

    @Argument(help: ArgumentHelp("Checkpoint directory to publish.", valueName: "dir")) var directory: String
    @Option(help: ArgumentHelp("Model store directory (created if missing).", valueName: "dir")) var store: String
    @Option(help: "Versions kept (the current one always is).") var keep = 5
    @Option(help: "Template the smoke score uses (the one the servers run).") var template = PromptTemplate.instructDistill.name
    @Option(help: ArgumentHelp("Also POST /admin/reload to this server, e.g. http://rerank:8080.", valueName: "url"))
    var notify: String?
    @Option(help: "Admin token for --notify.") var adminToken: String?

    func validate() throws {
        guard keep >= 1 else { throw ValidationError("--keep must be at least 1") }
        if notify != nil, adminToken == nil { throw ValidationError("--notify needs --admin-token") }
    }

    func run() throws {
        let store = ModelStore(root: URL(fileURLWithPath: store, isDirectory: true))
        let template = try PromptTemplate.preset(named: template)
        let version = try store.publish(URL(fileURLWithPath: directory, isDirectory: true), keep: keep) { candidate in
            let scorer = try PointwiseScorer(directory: candidate, template: template)
            let scores = try scorer.rawScores(query: "smoke test", documents: ["a smoke test passage"])
            guard scores.allSatisfy(\.isFinite) else {
                throw ValidationError("\(candidate.path) scores a smoke test as \(scores): not publishing it")
            }
        }
        FileHandle.standardError.write(Data("publish: \(store.currentLink.path) -> versions/\(version)\n".utf8))
        if let notify { try postReload(notify, token: adminToken!, model: store.directory(of: version).path) }
        print(version)
    }
}

struct RollbackCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollback",
        abstract: "Make an earlier version of a model store the served one again.")

    @Option(help: ArgumentHelp("Model store directory.", valueName: "dir")) var store: String
    @Option(help: ArgumentHelp("Version id (default: the one current before this one).", valueName: "version"))
    var to: String?
    @Option(help: ArgumentHelp("Also POST /admin/reload to this server.", valueName: "url")) var notify: String?
    @Option(help: "Admin token for --notify.") var adminToken: String?

    func run() throws {
        let store = ModelStore(root: URL(fileURLWithPath: store, isDirectory: true))
        let version = try store.rollback(to: to)
        FileHandle.standardError.write(Data("rollback: \(store.currentLink.path) -> versions/\(version)\n".utf8))
        if let notify {
            guard let adminToken else { throw ValidationError("--notify needs --admin-token") }
            try postReload(notify, token: adminToken, model: store.directory(of: version).path)
        }
        print(version)
    }
}

/// POST {server}/admin/reload {"model": path} with the admin token; throws unless the server answers 200.
func postReload(_ server: String, token: String, model: String) throws {
    guard let url = URL(string: server.hasSuffix("/") ? server + "admin/reload" : server + "/admin/reload") else {
        throw ValidationError("--notify must be a URL, got \(server)")
    }
    var request = URLRequest(url: url)
    request.httpMethod = "POST"
    request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
    request.setValue("application/json", forHTTPHeaderField: "Content-Type")
    request.httpBody = try JSONSerialization.data(withJSONObject: ["model": model])
    let done = DispatchSemaphore(value: 0)
    nonisolated(unsafe) var outcome: (Int?, String) = (nil, "no answer")
    URLSession.shared.dataTask(with: request) { data, response, error in
        outcome = ((response as? HTTPURLResponse)?.statusCode,
                   error?.localizedDescription ?? String(decoding: data ?? Data(), as: UTF8.self))
        done.signal()
    }.resume()
    done.wait()
    guard outcome.0 == 200 else {
        throw ValidationError("\(url.absoluteString) did not reload (\(outcome.0.map { "HTTP \($0)" } ?? "no answer")): \(outcome.1)")
    }
    FileHandle.standardError.write(Data("notified \(url.absoluteString)\n".utf8))
}
