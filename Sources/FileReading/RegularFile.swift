#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a file could not be read, in the words of the operating system ("No such file or directory",
/// "Is a directory", "Permission denied") or of the size limit.
public struct FileReadError: Error, Equatable, CustomStringConvertible {
    public let path: String
    public let reason: String

    public var description: String { "\(path): \(reason)" }
}

/// Reads a whole regular file (not a directory, device or pipe) of at most `maxBytes` bytes.
public func readRegularFile(_ path: String, maxBytes: Int) throws(FileReadError) -> [UInt8] {
    func failure(_ reason: String) -> FileReadError { FileReadError(path: path, reason: reason) }
    func systemError() -> FileReadError { failure(String(cString: strerror(errno))) }
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw systemError() }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0 else { throw systemError() }
    if (info.st_mode & S_IFMT) == S_IFDIR { throw failure("is a directory, expected a file") }
    guard (info.st_mode & S_IFMT) == S_IFREG else { throw failure("is not a regular file") }
    let size = Int(info.st_size)
    guard size <= maxBytes else { throw failure("is \(size) bytes, over the limit of \(maxBytes) for this file") }
    var bytes = [UInt8](repeating: 0, count: size)
    var done = 0
    while done < size {
        let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + done, size - done) }
        if n < 0 {
            if errno == EINTR { continue }
            throw systemError()
        }
        if n == 0 { throw failure("shrank while being read (\(done) of \(size) bytes)") }
        done += n
    }
    return bytes
}
