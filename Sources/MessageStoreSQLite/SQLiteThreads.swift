import Dispatch
import MessageStore

/// Where the embedded store's blocking reads run: a concurrent dispatch queue, whose
/// threads are not those of Swift's cooperative pool. SQLite calls block their thread
/// (disk reads, a busy file); on the cooperative pool they would stall unrelated tasks,
/// such as HTTP handlers, for as long.
enum SQLiteThreads {
    private static let queue = DispatchQueue(label: "thalo.sqlite.blocking", qos: .userInitiated, attributes: .concurrent)

    /// Runs `body` on a blocking-work thread and returns its result.
    static func run<T: Sendable>(_ body: @escaping @Sendable () throws(MessageStoreError) -> T) async throws(MessageStoreError) -> T {
        let result: Result<T, MessageStoreError> = await withCheckedContinuation { continuation in
            queue.async {
                continuation.resume(returning: Result { () throws(MessageStoreError) -> T in try body() })
            }
        }
        return try result.get()
    }
}
