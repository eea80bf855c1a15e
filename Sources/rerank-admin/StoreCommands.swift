import ArgumentParser
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import ModelStore
import Ranking
import RerankService
import T5

/// A failure of publish or rollback: printed as `Error: ...` without the usage text (the flags were fine).
struct StoreCommandError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

struct PublishCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish",
        abstract: "Publish a checkpoint directory into a model store and make it the served version.",
        discussion: """
            Copies DIR's checkpoint files into STORE/versions/<content hash>/ (immutable), checks that it loads \
            and scores exactly as rerankd checks a model before serving it, then flips STORE/current to it \
            atomically and keeps the --keep most recent versions. Servers started with `rerankd --model-store \
            STORE` notice the flip and hot-swap without dropping a request; --notify URL also posts /admin/reload \
            to a server that does not share the store. Publishers take STORE/.lock, so two never interleave. A \
            version that does not load is never made current, and a failed publish leaves nothing behind.

            What is copied: \(ModelStore.checkpointFileRule). Files are copied by content (a Hugging Face hub \
            snapshot's symlinks are resolved), every other file is left out with a warning, FIFOs and devices are \
            refused, and so is a training checkpoint (optimizer.safetensors, trainer_state.json, ...).

            The check is rerankd's own (ModelLoader.validate), run in both precisions a server may use (fp32 \
            and int8), with --template/--template-file and --max-input-tokens: give the values the servers run \
            with (the defaults are rerankd's). It runs on this machine's CPU kernels.
            """)

    @Argument(help: ArgumentHelp("Checkpoint directory to publish.", valueName: "dir")) var directory: String
    @Option(help: ArgumentHelp("Model store directory (created if missing).", valueName: "dir")) var store: String
    @Option(help: "Versions kept (the current one always is).") var keep = 5
    @Option(help: "Template preset the check uses (the one the servers run).") var template = PromptTemplate.instructDistill.name
    @Option(help: ArgumentHelp("Custom template JSON file the servers run (overrides --template).", valueName: "file"))
    var templateFile: String?
    @Option(help: "Token budget of one prompt, as the servers' --max-input-tokens.") var maxInputTokens = 512
    @Option(help: ArgumentHelp("Also POST /admin/reload to this server, e.g. http://rerank:8080.", valueName: "url"))
    var notify: String?
    @Option(help: "Admin token for --notify.") var adminToken: String?

    func run() throws {
        guard keep >= 1 else { throw StoreCommandError("--keep must be at least 1, got \(keep)") }
        guard maxInputTokens >= 1 else { throw StoreCommandError("--max-input-tokens must be at least 1, got \(maxInputTokens)") }
        if notify != nil, adminToken == nil { throw StoreCommandError("--notify needs --admin-token") }
        let store = ModelStore(root: URL(fileURLWithPath: store, isDirectory: true))
        let template = try templateFile.map { try PromptTemplate.load(from: URL(fileURLWithPath: $0)) }
            ?? PromptTemplate.preset(named: template)
        let maxInputTokens = maxInputTokens
        let version = try store.publish(URL(fileURLWithPath: directory, isDirectory: true), keep: keep, warn: {
            FileHandle.standardError.write(Data("publish: \($0)\n".utf8))
        }) { candidate in
            _ = try ModelLoader.validate(directory: candidate.path, template: template, maxInputTokens: maxInputTokens,
                                         precisions: T5Model.Precision.allCases)
        }
        FileHandle.standardError.write(Data("publish: \(store.currentLink.path) -> versions/\(version)\n".utf8))
        if let notify, let adminToken { try postReload(notify, token: adminToken, model: store.directory(of: version).path) }
        print(version)
    }
}

struct RollbackCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollback",
        abstract: "Make an earlier version of a model store the served one again.",
        discussion: "--to takes a version id: the name of a directory in STORE/versions (as publish prints it).")

    @Option(help: ArgumentHelp("Model store directory.", valueName: "dir")) var store: String
    @Option(help: ArgumentHelp("Version id (default: the one current before this one).", valueName: "version"))
    var to: String?
    @Option(help: ArgumentHelp("Also POST /admin/reload to this server.", valueName: "url")) var notify: String?
    @Option(help: "Admin token for --notify.") var adminToken: String?

    func run() throws {
        if notify != nil, adminToken == nil { throw StoreCommandError("--notify needs --admin-token") }
        let store = ModelStore(root: URL(fileURLWithPath: store, isDirectory: true))
        let version = try store.rollback(to: to, warn: { FileHandle.standardError.write(Data("rollback: \($0)\n".utf8)) })
        FileHandle.standardError.write(Data("rollback: \(store.currentLink.path) -> versions/\(version)\n".utf8))
        if let notify, let adminToken { try postReload(notify, token: adminToken, model: store.directory(of: version).path) }
        print(version)
    }
}

/// POST {server}/admin/reload {"model": path} with the admin token; throws unless the server answers 200.
func postReload(_ server: String, token: String, model: String) throws {
    guard let url = URL(string: server.hasSuffix("/") ? server + "admin/reload" : server + "/admin/reload") else {
        throw StoreCommandError("--notify must be a URL, got \(server)")
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
        throw StoreCommandError("\(url.absoluteString) did not reload (\(outcome.0.map { "HTTP \($0)" } ?? "no answer")): \(outcome.1)")
    }
    FileHandle.standardError.write(Data("notified \(url.absoluteString)\n".utf8))
}
