import Synchronization

/// Runs `body` and returns its result, or throws `unavailable` once `timeout` has passed,
/// without waiting for `body` to notice its cancellation: a call stuck on a dead
/// connection must not hold up a heartbeat or a shutdown. The abandoned call is cancelled
/// and finishes in the background.
public func withTimeout<T: Sendable>(
    _ timeout: Duration, _ context: String, _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    let message = "no answer within \(timeout) while \(context)"
    let work = Task { try await body() }
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let once = ResumeOnce(continuation)
            Task {
                do {
                    once.resume(with: .success(try await work.value))
                } catch {
                    once.resume(with: .failure(error))
                }
            }
            Task {
                try? await Task.sleep(for: timeout)
                work.cancel()
                once.resume(with: .failure(MessageStoreError(.unavailable, message)))
            }
        }
    } onCancel: {
        work.cancel()
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
