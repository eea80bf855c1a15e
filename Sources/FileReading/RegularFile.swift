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

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path): \(reason)" }
}

/// Opens `path` for reading only if it is a regular file, and returns the descriptor (the caller closes it)
/// with the file's size. Opened non-blocking, so a FIFO never waits in `open()` for a writer that may never
/// come (it would wedge a reload forever); FIFOs, devices, sockets and directories are refused by name.
public func openRegularFile(_ path: String) throws(FileReadError) -> (fd: Int32, size: Int) {
    func failure(_ reason: String) -> FileReadError { FileReadError(path: path, reason: reason) }
    let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
    guard fd >= 0 else { throw failure(String(cString: strerror(errno))) }
    var info = stat()
    guard fstat(fd, &info) == 0 else {
        let reason = String(cString: strerror(errno))
        close(fd)
        throw failure(reason)
    }
    switch info.st_mode & S_IFMT {
    case S_IFREG:
        return (fd, Int(info.st_size))
    case S_IFDIR:
        close(fd)
        throw failure("is a directory, expected a file")
    case S_IFIFO:
        close(fd)
        throw failure("is a FIFO (named pipe), expected a regular file")
    default:
        close(fd)
        throw failure("is not a regular file (a device or socket)")
    }
}

/// Reads `buffer.count` bytes at `offset`, or throws: a short read means the file shrank after it was opened.
public func readExactly(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int, path: String)
    throws(FileReadError)
{
    var done = 0
    while done < buffer.count {
        let n = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
        if n < 0 {
            if errno == EINTR { continue }
            throw FileReadError(path: path, reason: "read failed: \(String(cString: strerror(errno)))")
        }
        if n == 0 {
            throw FileReadError(
                path: path, reason: "shrank while being read (ends at byte \(offset + done) of \(offset + buffer.count))")
        }
        done += n
    }
}

/// Reads a whole regular file (not a directory, device or pipe) of at most `maxBytes` bytes.
public func readRegularFile(_ path: String, maxBytes: Int) throws(FileReadError) -> [UInt8] {
    let (fd, size) = try openRegularFile(path)
    defer { close(fd) }
    guard size <= maxBytes else {
        throw FileReadError(path: path, reason: "is \(size) bytes, over the limit of \(maxBytes) for this file")
    }
    var bytes = [UInt8](repeating: 0, count: size)
    let failure = bytes.withUnsafeMutableBytes { buffer -> FileReadError? in
        do throws(FileReadError) { try readExactly(fd, into: buffer, at: 0, path: path) } catch { return error }
        return nil
    }
    if let failure { throw failure }
    return bytes
}

/// Calls `body` with consecutive chunks of a regular file, as many bytes as it had when opened.
public func forEachChunk(ofRegularFile path: String, chunkBytes: Int = 4 << 20,
                         _ body: (UnsafeRawBufferPointer) -> Void) throws(FileReadError) {
    let (fd, size) = try openRegularFile(path)
    defer { close(fd) }
    var chunk = [UInt8](repeating: 0, count: min(chunkBytes, max(size, 1)))
    var offset = 0
    while offset < size {
        let count = min(chunk.count, size - offset)
        let failure = chunk.withUnsafeMutableBytes { buffer -> FileReadError? in
            do throws(FileReadError) {
                try readExactly(fd, into: UnsafeMutableRawBufferPointer(rebasing: buffer[..<count]), at: offset, path: path)
            } catch { return error }
            return nil
        }
        if let failure { throw failure }
        chunk.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[..<count])) }
        offset += count
    }
}
