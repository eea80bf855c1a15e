import Foundation
FileHandle.standardError.write("rerankd: the HTTP service is not built yet\n".data(using: .utf8)!)
exit(1)
