import Foundation
import ParityFixtures
import XCTest

/// The runtime stage of the Dockerfile installs every Debian package the built binaries load. No Docker engine
/// is needed: the libraries come from `ldd` of the binaries, their packages from `dpkg -S`, and what the image
/// has from the stage's `apt-get install` list plus debian:bookworm-slim's own packages (the Essential set and
/// apt), each with its dependencies. Scripts/check/runtime_image.sh goes further and runs the binaries in a
/// bookworm chroot holding only those packages.
final class DockerfileTests: XCTestCase {
    static let dockerfile = ParityFixtures.root.appendingPathComponent("Dockerfile")

    func testTheRuntimeStageInstallsEveryLibraryTheBinariesLoad() throws {
        guard FileManager.default.fileExists(atPath: "/usr/bin/dpkg-query") else { throw XCTSkip("not a Debian system") }
        let installed = try Self.runtimePackages(dockerfile: String(contentsOf: Self.dockerfile, encoding: .utf8))
        XCTAssertTrue(installed.contains("libopenblas0-pthread"), "\(installed)")
        let image = try Self.closure(of: installed.union(Self.slimBase()))
        for binary in ["rerankd", "rerank-admin"] {
            let path = ParityFixtures.root.appendingPathComponent(".build/debug/\(binary)").path
            for library in try Self.systemLibraries(of: path) {
                let package = try XCTUnwrap(try Self.package(owning: library), "\(binary): no package owns \(library)")
                XCTAssertTrue(image.contains(package),
                              "\(binary) loads \(library) from \(package), which the runtime stage does not install")
            }
        }
    }

    /// The check itself fails for an image that lacks a library: libcurl (rerank-admin's HTTP client) is not
    /// in debian:bookworm-slim, so dropping it from the list must leave rerank-admin short.
    func testTheCheckNoticesAMissingPackage() throws {
        guard FileManager.default.fileExists(atPath: "/usr/bin/dpkg-query") else { throw XCTSkip("not a Debian system") }
        let text = try String(contentsOf: Self.dockerfile, encoding: .utf8)
        let without = try Self.runtimePackages(dockerfile: text).subtracting(["libcurl4", "curl"])
        let image = try Self.closure(of: without.union(Self.slimBase()))
        let admin = ParityFixtures.root.appendingPathComponent(".build/debug/rerank-admin").path
        let missing = try Self.systemLibraries(of: admin).compactMap { try Self.package(owning: $0) }.filter { !image.contains($0) }
        XCTAssertTrue(missing.contains("libcurl4"), "\(missing)")
    }

    /// The packages of the `apt-get install` in the stage that starts FROM debian:bookworm-slim.
    static func runtimePackages(dockerfile: String) throws -> Set<String> {
        let stages = dockerfile.components(separatedBy: "\nFROM ")
        guard let runtime = stages.first(where: { $0.hasPrefix("debian:bookworm-slim") }),
              let install = runtime.range(of: "apt-get install") else {
            throw XCTSkip("no apt-get install in a FROM debian:bookworm-slim stage")
        }
        let command = runtime[install.upperBound...].prefix { $0 != "&" && $0 != "\\" }
        return Set(command.split(separator: " ").map(String.init).filter { !$0.hasPrefix("-") })
    }

    /// Libraries `ldd` resolves outside the Swift toolchain (the image links the Swift runtime statically).
    static func systemLibraries(of binary: String) throws -> [String] {
        let output = try run("/usr/bin/ldd", [binary])
        XCTAssertFalse(output.contains("not found"), output)
        let toolchain = output.split(separator: "\n").first { $0.contains("libswiftCore.so =>") }
            .flatMap { $0.split(separator: " ").dropFirst(2).first }
            .map { URL(fileURLWithPath: String($0)).deletingLastPathComponent().path }
        return output.split(separator: "\n").compactMap { line -> String? in
            let fields = line.split(separator: " ")
            guard let arrow = fields.firstIndex(of: "=>"), arrow + 1 < fields.count else { return nil }
            let path = String(fields[arrow + 1])
            return path.hasPrefix("/") && !(toolchain.map { path.hasPrefix($0 + "/") } ?? false) ? path : nil
        }
    }

    /// The package that ships `library`, under its own path or the one the symlinks lead to (/lib and /usr/lib
    /// are one directory on a merged-/usr system, but dpkg knows each file under one of them).
    static func package(owning library: String) throws -> String? {
        let real = URL(fileURLWithPath: library).resolvingSymlinksInPath().path
        for candidate in [library, real, "/usr" + library, real.replacingOccurrences(of: "/usr/lib/", with: "/lib/")] {
            if let owner = try? run("/usr/bin/dpkg", ["-S", candidate]).split(separator: ":").first {
                return String(owner)
            }
        }
        return nil
    }

    /// What debian:bookworm-slim holds before the stage installs anything: the Essential packages and apt.
    static func slimBase() throws -> Set<String> {
        let lines = try run("/usr/bin/dpkg-query", ["-W", "-f=${Package} ${Essential}\n"]).split(separator: "\n")
        return Set(lines.filter { $0.hasSuffix(" yes") }.map { String($0.split(separator: " ")[0]) } + ["apt"])
    }

    /// `packages` and everything they depend on, from the installed packages' Depends and Pre-Depends.
    static func closure(of packages: Set<String>) throws -> Set<String> {
        var depends: [String: [[String]]] = [:]
        let format = "-f=${Package}\t${Depends}, ${Pre-Depends}\n"
        for line in try run("/usr/bin/dpkg-query", ["-W", format]).split(separator: "\n") {
            let fields = line.split(separator: "\t", maxSplits: 1)
            depends[String(fields[0])] = fields.count < 2 ? [] : fields[1].split(separator: ",").map { clause in
                clause.split(separator: "|").map { String($0.trimmingCharacters(in: .whitespaces).prefix { $0 != " " && $0 != ":" }) }
            }
        }
        var seen = Set<String>(), pending = Array(packages)
        while let next = pending.popLast() {
            guard seen.insert(next).inserted else { continue }
            for alternatives in depends[next] ?? [] {
                // "a (>= 1) | b": the first alternative installed here.
                if let name = alternatives.first(where: { depends[$0] != nil }) { pending.append(name) }
            }
        }
        return seen
    }

    /// Standard output of a command that must succeed.
    static func run(_ executable: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw CocoaError(.fileReadNoSuchFile) }
        return String(decoding: data, as: UTF8.self)
    }
}
