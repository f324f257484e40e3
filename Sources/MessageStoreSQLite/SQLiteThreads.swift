import Foundation
import MessageStore

/// Where the embedded store's blocking calls run: a fixed set of threads of its own, not
/// Swift's cooperative pool (whose few threads serve every task of the process) and not
/// dispatch's global pool (which keeps its threads to about one per core). SQLite calls
/// block their thread on disk reads and file locks; here they block only each other, and
/// eight of them can wait at once.
///
/// `@unchecked Sendable`: the queue of work is guarded by `condition`.
final class SQLiteThreads: @unchecked Sendable {
    static let shared = SQLiteThreads(count: 8)

    private let condition = NSCondition()
    private var work: [@Sendable () -> Void] = []

    private init(count: Int) {
        for index in 0..<count {
            let thread = Thread { [unowned self] in self.loop() }
            thread.name = "thalo-sqlite-\(index)"
            thread.start()
        }
    }

    private func loop() {
        while true {
            condition.lock()
            while work.isEmpty { condition.wait() }
            let next = work.removeFirst()
            condition.unlock()
            next()
        }
    }

    private func enqueue(_ item: @escaping @Sendable () -> Void) {
        condition.lock()
        work.append(item)
        condition.signal()
        condition.unlock()
    }

    /// Runs `body` on one of the store's threads and returns its result.
    static func run<T: Sendable>(_ body: @escaping @Sendable () throws(MessageStoreError) -> T) async throws(MessageStoreError) -> T {
        let result: Result<T, MessageStoreError> = await withCheckedContinuation { continuation in
            shared.enqueue {
                continuation.resume(returning: Result { () throws(MessageStoreError) -> T in try body() })
            }
        }
        return try result.get()
    }
}
