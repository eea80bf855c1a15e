import Foundation

Rerankd.main(EnvironmentDefaults.arguments(
    Array(CommandLine.arguments.dropFirst()), environment: ProcessInfo.processInfo.environment,
    options: Rerankd.environmentOptions))
