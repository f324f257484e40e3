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
            let once = ResumeOnce(continuation)
            let timer = Task {
                try? await Task.sleep(for: timeout)
                // Cancelled: the body answered first.
                guard !Task.isCancelled else { return }
                work.cancel()
                let message = timeoutMessage?() ?? "no answer within \(timeout) while \(context())"
                once.resume(with: .failure(MessageStoreError(.unavailable, message)))
            }
            work.start(
                Task {
                    let result: Result<T, any Error>
                    do {
                        result = .success(try await body())
                    } catch {
                        result = .failure(error)
                    }
                    // No sleeping timer is left behind for each call that answered.
                    timer.cancel()
                    once.resume(with: result)
                })
        }
    } onCancel: {
        work.cancel()
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

/// A continuation resumed by whichever of several tasks comes first.
private final class ResumeOnce<T: Sendable>: Sendable {
    private let continuation: Mutex<CheckedContinuation<T, any Error>?>

    init(_ continuation: CheckedContinuation<T, any Error>) {
        self.continuation = Mutex(continuation)
    }

    func resume(with result: Result<T, any Error>) {
        let first = continuation.withLock { value in
            defer { value = nil }
            return value
        }
        first?.resume(with: result)
    }
}
