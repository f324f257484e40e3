import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An exclusive lock on the embedded store's folder (`thalo.lock`, `flock`), held while a
/// server runs: the embedded store is single-node, and two servers on one file would
/// each believe they own every command stream. The operating system drops the lock when
/// the process ends, however it ends.
final class DataDirectoryLock {
    private let descriptor: Int32

    init(folder: String) throws(CLIError) {
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw CLIError(message: "cannot create the data folder \(folder): \(error.localizedDescription)", exitCode: 1)
        }
        let path = (folder as NSString).appendingPathComponent("thalo.lock")
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw CLIError(message: "cannot open \(path): \(String(cString: strerror(errno)))", exitCode: 1)
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let reason = errno == EWOULDBLOCK ? nil : String(cString: strerror(errno))
            close(descriptor)
            if let reason { throw CLIError(message: "cannot lock \(path): \(reason)", exitCode: 1) }
            throw CLIError(
                message: "another thalo serve is running on the data folder \(folder) (the embedded store is single-node); stop it, "
                    + "give this one another --data-dir, or run several nodes on PostgreSQL (--database-url)",
                exitCode: 1)
        }
        self.descriptor = descriptor
    }

    func unlock() {
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}
