import Foundation

/// An error as a person reads it. Foundation's file errors become "PATH: reason" in the operating system's words
/// ("/data/run.trec: Not a directory"), never `Error Domain=NSCocoaErrorDomain Code=512 "(null)" UserInfo={...}`;
/// every other error is its own description.
public enum ErrorText {
    public static func describe(_ error: Error) -> String {
        if let error = error as? CocoaError { return describe(cocoa: error) }
        if let error = error as? POSIXError { return posixReason(error.code.rawValue) }
        if type(of: error) is NSError.Type {
            let error = error as NSError
            if error.domain == NSCocoaErrorDomain { return describe(cocoa: CocoaError(_nsError: error)) }
            if error.domain == NSPOSIXErrorDomain { return posixReason(Int32(error.code)) }
            return error.localizedDescription
        }
        return String(describing: error)
    }

    private static func describe(cocoa error: CocoaError) -> String {
        let info = error.userInfo
        let path = (info[NSFilePathErrorKey] as? String) ?? (info[NSURLErrorKey] as? URL)?.path
        let reason: String
        if let underlying = info[NSUnderlyingErrorKey] as? POSIXError {
            reason = posixReason(underlying.code.rawValue)
        } else if let underlying = info[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            reason = posixReason(Int32(underlying.code))
        } else {
            switch error.code {
            case .fileNoSuchFile, .fileReadNoSuchFile: reason = posixReason(ENOENT)
            case .fileReadNoPermission, .fileWriteNoPermission: reason = posixReason(EACCES)
            case .fileWriteOutOfSpace: reason = posixReason(ENOSPC)
            case .fileWriteVolumeReadOnly: reason = posixReason(EROFS)
            case .fileWriteFileExists: reason = posixReason(EEXIST)
            case .fileReadTooLarge: reason = "too large to read"
            case .fileReadCorruptFile: reason = "not in the expected format"
            case .fileReadInapplicableStringEncoding, .fileReadUnknownStringEncoding:
                reason = "not text in the expected encoding (UTF-8)"
            default: reason = error.localizedDescription
            }
        }
        return path.map { "\($0): \(reason)" } ?? reason
    }

    private static func posixReason(_ code: Int32) -> String { String(cString: strerror(code)) }
}
