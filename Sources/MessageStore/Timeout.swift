import Foundation
import Synchronization

/// Runs `body` and returns its result, or throws `unavailable` once `timeout` has passed,
/// without waiting for `body` to notice its cancellation: a call stuck on a dead
/// connection must not hold up a heartbeat, a consumer or a shutdown. The abandoned call
/// is cancelled and finishes in the background.
///
/// (A task group would not do: it waits for every child before it returns, so a body that
/// ignores cancellation would hold its caller for as long as it hangs.)
///
/// - Parameter timeoutMessage: writes the error's message when the time runs out (only
///   then); by default "no answer within `timeout` while `context`".
public func withTimeout<T: Sendable>(
    _ timeout: Duration, _ context: @autoclosure @escaping @Sendable () -> String,
    timeoutMessage: (@Sendable () -> String)? = nil, _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    let work = WorkHandle()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let finished = Atomic(false)
            let finish: @Sendable (Result<T, any Error>) -> Void = { result in
                if !finished.exchange(true, ordering: .acquiringAndReleasing) { continuation.resume(with: result) }
            }
            // One watchdog thread keeps every call's deadline: a timer task per call cost two
            // more jobs on the cooperative pool (starting it, and waking it to cancel it) on
            // the path of every store call.
            let ticket = Watchdog.shared.watch(until: .now + timeout) {
                // The answer first: a body cancelled first may fail at once with its own
                // error (a pool's "request cancelled") and win the race to answer.
                let message = timeoutMessage?() ?? "no answer within \(timeout) while \(context())"
                finish(.failure(MessageStoreError(.unavailable, message)))
                work.cancel()
            }
            work.start(
                Task {
                    let result: Result<T, any Error>
                    do {
                        result = .success(try await body())
                    } catch {
                        result = .failure(error)
                    }
                    Watchdog.shared.forget(ticket)
                    finish(result)
                })
        }
    } onCancel: {
        work.cancel()
    }
}

/// The deadlines of the calls in flight, kept by one thread that sleeps until the earliest
/// and then runs what is due (outside its lock).
final class Watchdog: @unchecked Sendable {
    static let shared = Watchdog()

    private let condition = NSCondition()
    /// Guarded by `condition`.
    private var deadlines: [UInt64: (deadline: ContinuousClock.Instant, expire: @Sendable () -> Void)] = [:]
    private var nextID: UInt64 = 0
    /// When the thread wakes next, if it sleeps until a deadline.
    private var plannedWake: ContinuousClock.Instant?

    private init() {
        let thread = Thread { [unowned self] in self.run() }
        thread.name = "thalo-watchdog"
        thread.start()
    }

    /// Runs `expire` at `deadline` unless the call is forgotten before; returns its ticket.
    func watch(until deadline: ContinuousClock.Instant, _ expire: @escaping @Sendable () -> Void) -> UInt64 {
        condition.lock()
        defer { condition.unlock() }
        nextID += 1
        deadlines[nextID] = (deadline, expire)
        if plannedWake.map({ deadline < $0 }) ?? true { condition.signal() }
        return nextID
    }

    /// The call answered: its deadline no longer matters.
    func forget(_ ticket: UInt64) {
        condition.lock()
        deadlines[ticket] = nil
        condition.unlock()
    }

    private func run() {
        condition.lock()
        while true {
            let now = ContinuousClock.now
            var due: [@Sendable () -> Void] = []
            var earliest: ContinuousClock.Instant?
            for (ticket, entry) in deadlines {
                if entry.deadline <= now {
                    due.append(entry.expire)
                    deadlines[ticket] = nil
                } else if earliest.map({ entry.deadline < $0 }) ?? true {
                    earliest = entry.deadline
                }
            }
            if !due.isEmpty {
                condition.unlock()
                for expire in due { expire() }
                condition.lock()
                continue
            }
            plannedWake = earliest
            if let earliest {
                let seconds = Double((earliest - now) / .microseconds(1)) / 1_000_000
                _ = condition.wait(until: Date(timeIntervalSinceNow: seconds))
            } else {
                condition.wait()
            }
        }
    }
}

/// The task running a timed body, cancelled by whichever of the timer and the caller's
/// cancellation comes first (also when that comes before the task is started).
private final class WorkHandle: Sendable {
    private let state = Mutex<(task: Task<Void, Never>?, cancelled: Bool)>((nil, false))

    func start(_ task: Task<Void, Never>) {
        let cancelled = state.withLock { state in
            state.task = task
            return state.cancelled
        }
        if cancelled { task.cancel() }
    }

    func cancel() {
        let task = state.withLock { state in
            state.cancelled = true
            return state.task
        }
        task?.cancel()
    }
}
