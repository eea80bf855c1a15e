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

/// The exit statuses of publish and rollback besides 0 (done, or nothing to do), 1 (failed, nothing changed) and
/// 64 (a flag's value is wrong: `CommandFailure.usage`).
enum StoreExitStatus {
    /// Nothing was published, by rule: the version was rolled back and is held (the pipeline's gate exits 3 too).
    static let notPublished: Int32 = 3
    /// The store changed (the publish or rollback went through), but the --notify server did not reload.
    static let notNotified: Int32 = 4
}

private func note(_ command: String, _ line: String) {
    FileHandle.standardError.write(Data("\(command): \(line)\n".utf8))
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

            Publishing the version that is current already changes nothing (exit 0; --notify is still sent). A \
            version that was rolled back is held: publishing it again is refused with exit status 3, so that a \
            rerun of the pipeline that published it does not undo the rollback; --force publishes it anyway, and \
            `rerank-admin store unhold VERSION --store STORE` releases it. If the flip went through but the \
            --notify server did not reload, the exit status is 4 (the store did change).

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
    @Flag(help: "Publish the version even if it was rolled back (held), and release the hold.") var force = false

    func run() throws {
        do { try execute() } catch let failure as CommandFailure { throw failure.spoken(by: "publish") }
    }

    /// Publishes, printing the version id on standard output once `current` names it. Throws `CommandFailure` for
    /// a held version (3) and for a --notify that failed after the flip (4).
    func execute() throws {
        guard keep >= 1 else { throw CommandFailure.usage("--keep must be at least 1, got \(keep)") }
        guard maxInputTokens >= 1 else { throw CommandFailure.usage("--max-input-tokens must be at least 1, got \(maxInputTokens)") }
        if notify != nil, adminToken == nil { throw CommandFailure.usage("--notify needs --admin-token") }
        let reloadURL = try notify.map(reloadURLFor)
        let store = ModelStore(root: URL(fileURLWithPath: store, isDirectory: true))
        let template = try templateFile.map { try PromptTemplate.load(from: URL(fileURLWithPath: $0)) }
            ?? PromptTemplate.preset(named: template)
        let maxInputTokens = maxInputTokens
        let result: ModelStore.PublishResult
        do {
            result = try store.publish(URL(fileURLWithPath: directory, isDirectory: true), keep: keep, force: force,
                                       warn: { note("publish", $0) }) { candidate in
                _ = try ModelLoader.validate(directory: candidate.path, template: template, maxInputTokens: maxInputTokens,
                                             precisions: T5Model.Precision.allCases)
            }
        } catch let error as ModelStoreError {
            if case .held = error { throw CommandFailure("\(error)", exitCode: StoreExitStatus.notPublished) }
            throw error
        }
        let version = result.version
        if result.wasCurrent {
            note("publish", "versions/\(version) is already current in \(store.root.path); nothing changed")
        } else {
            note("publish", "\(store.currentLink.path) -> versions/\(version)")
            if let hold = result.releasedHold {
                note("publish", "\(version) was rolled back at \(hold.since); --force published it and it is no longer held")
            }
        }
        print(version)
        fflush(nil)
        if let reloadURL, let adminToken,
           let failure = postReload(reloadURL, token: adminToken, model: store.directory(of: version).path) {
            let what = result.wasCurrent ? "\(version) is current (\(store.currentLink.path) -> versions/\(version))"
                : "published \(version) (\(store.currentLink.path) -> versions/\(version))"
            throw CommandFailure(
                "\(what), but \(reloadURL.absoluteString) was not notified: \(failure). Servers that follow "
                    + "the store load it on their own; to notify again, run the same publish (it changes nothing in the store)",
                exitCode: StoreExitStatus.notNotified)
        }
    }
}

struct RollbackCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollback",
        abstract: "Make an earlier version of a model store the served one again.",
        discussion: """
            Without --to: the newest version published before the current one that is not held, so two rollbacks \
            in a row go two versions back. --to takes a version id: the name of a directory in STORE/versions (as \
            publish prints it and `rerank-admin store list` shows it); it may name a held version, which is then \
            no longer held.

            The version a rollback leaves is held: `rerank-admin publish` refuses it (exit status 3) unless given \
            --force or until `rerank-admin store unhold VERSION --store STORE`, so rerunning the pipeline that \
            published it does not undo the rollback. If the flip went through but the --notify server did not \
            reload, the exit status is 4.
            """)

    @Option(help: ArgumentHelp("Model store directory.", valueName: "dir")) var store: String
    @Option(help: ArgumentHelp("Version id (default: the one published before the current one).", valueName: "version"))
    var to: String?
    @Option(help: ArgumentHelp("Also POST /admin/reload to this server.", valueName: "url")) var notify: String?
    @Option(help: "Admin token for --notify.") var adminToken: String?

    func run() throws {
        do { try execute() } catch let failure as CommandFailure { throw failure.spoken(by: "rollback") }
    }

    func execute() throws {
        if notify != nil, adminToken == nil { throw CommandFailure.usage("--notify needs --admin-token") }
        let reloadURL = try notify.map(reloadURLFor)
        let store = ModelStore(root: URL(fileURLWithPath: store, isDirectory: true))
        let result = try store.rollback(to: to, warn: { note("rollback", $0) })
        let version = result.version
        if result.wasCurrent {
            note("rollback", "versions/\(version) is already current in \(store.root.path); nothing changed")
        } else {
            note("rollback", "\(store.currentLink.path) -> versions/\(version)")
            if let hold = result.releasedHold {
                note("rollback", "\(version) was rolled back at \(hold.since); it is current again and no longer held")
            }
            if let held = result.held {
                note("rollback", "\(held) is held: `rerank-admin publish` refuses it (exit 3) until `rerank-admin store "
                     + "unhold \(held) --store \(store.root.path)` or publish --force")
            }
        }
        print(version)
        fflush(nil)
        if let reloadURL, let adminToken,
           let failure = postReload(reloadURL, token: adminToken, model: store.directory(of: version).path) {
            throw CommandFailure(
                "rolled back to \(version) (\(store.currentLink.path) -> versions/\(version)), but "
                    + "\(reloadURL.absoluteString) was not notified: \(failure). Servers that follow the store load it on "
                    + "their own; to notify again: `rerank-admin rollback --store \(store.root.path) --to \(version) "
                    + "--notify \(notify ?? "") --admin-token ...` (it changes nothing in the store)",
                exitCode: StoreExitStatus.notNotified)
        }
    }
}

/// `rerank-admin store list|status|unhold`: what a model store holds and remembers.
struct StoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Show a model store's versions and state, or release a held version.",
        subcommands: [StoreListCommand.self, StoreStatusCommand.self, StoreUnholdCommand.self])
}

/// JSON for people and scripts: sorted keys, null for what is unknown.
private func printJSON(_ object: [String: Any]) throws {
    let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    print(String(decoding: data, as: UTF8.self))
}

private func orNull(_ value: Any?) -> Any { value ?? NSNull() }

struct StoreListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List a model store's versions, newest published first.",
        discussion: """
            One line per directory in STORE/versions: its id, size, when it was last published (and from where), \
            when it was last rolled back, and whether it is current or held. Held versions that --keep has removed \
            from the store are listed after the table (they stay held). --json prints the same as one JSON object.
            """)

    @Option(help: ArgumentHelp("Model store directory.", valueName: "dir")) var store: String
    @Flag(help: "One JSON object instead of a table.") var json = false

    func run() throws {
        let modelStore = ModelStore(root: URL(fileURLWithPath: store, isDirectory: true))
        let (current, versions) = try modelStore.list()
        let status = try modelStore.status()
        let gone = status.held.filter { !$0.inStore }.map(\.hold)
        if json {
            try printJSON([
                "store": modelStore.root.path, "current": orNull(current),
                "versions": versions.map { info -> [String: Any] in
                    ["version": info.version, "bytes": info.bytes, "files": info.files,
                     "published_at": orNull(info.publishedAt), "published_from": orNull(info.publishedFrom),
                     "rolled_back_at": orNull(info.rolledBackAt), "current": info.isCurrent, "held": info.hold != nil]
                },
                "held": status.held.map(\.hold.version),
            ])
            return
        }
        guard !versions.isEmpty else {
            print("model store \(modelStore.root.path) has no versions")
            return
        }
        var rows = [["", "VERSION", "SIZE", "PUBLISHED", "ROLLED BACK", "STATE", "PUBLISHED FROM"]]
        for info in versions {
            let state = info.isCurrent ? "current" : info.hold.map { "held (rolled back to \($0.rolledBackTo))" } ?? "-"
            rows.append([info.isCurrent ? "*" : " ", info.version, formatBytes(info.bytes), info.publishedAt ?? "-",
                         info.rolledBackAt ?? "-", state, info.publishedFrom ?? "-"])
        }
        let widths = (0..<rows[0].count).map { column in rows.map { $0[column].count }.max() ?? 0 }
        for row in rows {
            let cells = row.enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
            }
            var line = cells.joined(separator: "  ")
            while line.last == " " { line.removeLast() }
            print(line)
        }
        for hold in gone {
            print("held, no longer in the store: \(hold.version) (rolled back at \(hold.since) to \(hold.rolledBackTo))")
        }
    }
}

struct StoreStatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show a model store's current version, how it got there, the last rollback and the held versions.",
        discussion: "Exits 1 (after printing the rest) when STORE/current is broken; --json prints one JSON object.")

    @Option(help: ArgumentHelp("Model store directory.", valueName: "dir")) var store: String
    @Flag(help: "One JSON object instead of text.") var json = false

    func run() throws {
        let modelStore = ModelStore(root: URL(fileURLWithPath: store, isDirectory: true))
        let status = try modelStore.status()
        let since = status.currentSince
        if json {
            var current: Any = NSNull()
            if let version = status.current {
                current = ["version": version, "since": orNull(since?.time), "action": orNull(since?.action),
                           "previous": orNull(since?.previous)] as [String: Any]
            }
            try printJSON([
                "store": status.store, "current": current, "current_problem": orNull(status.currentProblem),
                "last_rollback": status.lastRollback.map { flip -> [String: Any] in
                    ["at": flip.time, "from": orNull(flip.previous), "to": flip.version, "action": flip.action]
                } ?? NSNull(),
                "held": status.held.map { ["version": $0.hold.version, "rolled_back_at": $0.hold.since,
                                           "rolled_back_to": $0.hold.rolledBackTo, "in_store": $0.inStore] as [String: Any] },
                "versions": status.versions,
            ])
        } else {
            print("store: \(status.store)")
            if let version = status.current {
                if let since {
                    print("current: \(version) (since \(since.time), by \(since.action))")
                } else {
                    print("current: \(version) (not by the last flip the history records: STORE/current was changed "
                          + "outside rerank-admin)")
                }
            } else if let problem = status.currentProblem {
                print("current: broken: \(problem)")
            } else {
                print("current: none (nothing published yet)")
            }
            if let flip = status.lastRollback {
                print("last rollback: \(flip.time), from \(flip.previous ?? "?") to \(flip.version) (\(flip.action))")
            } else {
                print("last rollback: none")
            }
            if status.held.isEmpty { print("held: none") }
            for (hold, inStore) in status.held {
                print("held: \(hold.version) (rolled back at \(hold.since) to \(hold.rolledBackTo)"
                      + (inStore ? ")" : "; no longer in the store)"))
            }
            print("versions: \(status.versions)")
        }
        if let problem = status.currentProblem { throw StoreCommandError(problem) }
    }
}

struct StoreUnholdCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unhold",
        abstract: "Release a rolled-back version, so that a plain publish takes it again.",
        discussion: """
            Makes nothing current: the next `rerank-admin publish` of that checkpoint (a pipeline rerun included) \
            publishes it. Releasing a version that is not held changes nothing (exit 0).
            """)

    @Argument(help: ArgumentHelp("Version id (as `rerank-admin store list` shows it).", valueName: "version")) var version: String
    @Option(help: ArgumentHelp("Model store directory.", valueName: "dir")) var store: String

    func run() throws {
        let modelStore = ModelStore(root: URL(fileURLWithPath: store, isDirectory: true))
        if let hold = try modelStore.unhold(version) {
            note("store unhold", "\(version) (rolled back at \(hold.since)) is no longer held: publishing it makes it current again")
        } else {
            note("store unhold", "\(version) is not held in \(modelStore.root.path); nothing changed")
        }
    }
}

/// The /admin/reload URL of a --notify server; refused (exit 64, before anything changes) unless http(s) with a host.
func reloadURLFor(_ server: String) throws -> URL {
    guard let url = URL(string: server.hasSuffix("/") ? server + "admin/reload" : server + "/admin/reload"),
          let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
          let host = url.host, !host.isEmpty else {
        throw CommandFailure.usage("--notify must be a server's http:// or https:// URL (e.g. http://rerank:8080), got \"\(server)\"")
    }
    return url
}

/// POST `url` {"model": path} with the admin token; nil when the server answers 200, else why not.
func postReload(_ url: URL, token: String, model: String) -> String? {
    var request = URLRequest(url: url)
    request.httpMethod = "POST"
    request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
    request.setValue("application/json", forHTTPHeaderField: "Content-Type")
    request.httpBody = try? JSONSerialization.data(withJSONObject: ["model": model])
    let done = DispatchSemaphore(value: 0)
    nonisolated(unsafe) var outcome: (Int?, String) = (nil, "no answer")
    URLSession.shared.dataTask(with: request) { data, response, error in
        outcome = ((response as? HTTPURLResponse)?.statusCode,
                   error?.localizedDescription ?? String(decoding: data ?? Data(), as: UTF8.self))
        done.signal()
    }.resume()
    done.wait()
    guard outcome.0 == 200 else {
        return "\(outcome.0.map { "HTTP \($0)" } ?? "no answer"): \(outcome.1.trimmingCharacters(in: .whitespacesAndNewlines))"
    }
    FileHandle.standardError.write(Data("notified \(url.absoluteString)\n".utf8))
    return nil
}
