import Foundation

/// Polls `condition` every 5 ms until it holds; throws ``WaitTimedOut`` once `timeout` has
/// passed without it.
///
/// - Parameter what: what the condition means, for the error ("3 appends arrived").
public func waitUntil(
    _ what: String, timeout: Duration = .seconds(60), _ condition: @Sendable () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while try await !condition() {
        guard ContinuousClock.now < deadline else { throw WaitTimedOut(what: what, timeout: timeout) }
        try await Task.sleep(for: .milliseconds(5))
    }
}

/// A condition ``waitUntil(_:timeout:_:)`` waited for did not hold in time.
public struct WaitTimedOut: Error, CustomStringConvertible {
    public let what: String
    public let timeout: Duration
    public var description: String { "timed out waiting until \(what) (\(timeout))" }
}

/// CPU seconds the calling thread has used: for bounds on work done in one synchronous
/// stretch, which wall time on a machine busy with other tests (and builds) would not
/// measure.
public func threadCPUSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}
