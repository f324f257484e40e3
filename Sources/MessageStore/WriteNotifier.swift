import Synchronization

/// Wakes live readers when a message is written through this process's store.
///
/// A subscription that has caught up waits here instead of sleeping for its whole poll
/// interval, so local writes reach it at once; writes made by other processes are found
/// by polling.
public final class WriteNotifier: Sendable {
    private struct Waiter {
        let category: String?
        let continuation: CheckedContinuation<Void, Never>
    }

    private struct State {
        var waiters: [Int: Waiter] = [:]
        var nextID = 0
        var writes: [String: UInt64] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    /// Records a write to `category` and wakes its waiters.
    public func notify(category: String) {
        let woken: [CheckedContinuation<Void, Never>] = state.withLock { state in
            state.writes[category, default: 0] &+= 1
            var woken: [CheckedContinuation<Void, Never>] = []
            for (id, waiter) in state.waiters where waiter.category == nil || waiter.category == category {
                woken.append(waiter.continuation)
                state.waiters[id] = nil
            }
            return woken
        }
        for continuation in woken { continuation.resume() }
    }

    /// A counter of writes to `category`; compare before and after a read to avoid missing
    /// a write that happened in between.
    public func writeCount(category: String) -> UInt64 {
        state.withLock { $0.writes[category] ?? 0 }
    }

    /// Waits until a write to `category` (any category when nil) is notified after
    /// `writeCount` was observed, or until `timeout` passes, or the task is cancelled.
    ///
    /// - Returns: whether a write (or cancellation) ended the wait, rather than the timeout.
    @discardableResult
    public func wait(category: String?, seenWriteCount: UInt64? = nil, timeout: Duration) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            let token = state.withLock { state -> Int in
                state.nextID += 1
                return state.nextID
            }
            group.addTask {
                await withTaskCancellationHandler {
                    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                        let resumeNow = self.state.withLock { state -> Bool in
                            if let category, let seen = seenWriteCount, (state.writes[category] ?? 0) != seen {
                                return true
                            }
                            if Task.isCancelled { return true }
                            state.waiters[token] = Waiter(category: category, continuation: continuation)
                            return false
                        }
                        if resumeNow { continuation.resume() }
                    }
                } onCancel: {
                    let continuation = self.state.withLock { $0.waiters.removeValue(forKey: token)?.continuation }
                    continuation?.resume()
                }
                return true
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }
}
