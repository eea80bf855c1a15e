import ArgumentParser
import Foundation
import RerankService

// ArgumentParser's own errors (a wrong command line: exit 64 with the usage text; --help; --version) are its to
// print; any other failure is a failure to start: one line naming what failed, exit 1, no usage text.
do {
    var command = try Rerankd.parseAsRoot(EnvironmentDefaults.arguments(
        Array(CommandLine.arguments.dropFirst()), environment: ProcessInfo.processInfo.environment,
        options: Rerankd.environmentOptions))
    try command.run()
} catch {
    if String(reflecting: type(of: error)).hasPrefix("ArgumentParser.") { Rerankd.exit(withError: error) }
    FileHandle.standardError.write(Data("Error: \(ErrorText.describe(error))\n".utf8))
    exit(1)
}
