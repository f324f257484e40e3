import Dispatch
import MessageStore
import Synchronization
import TestSupport
import Testing

@Suite("Timeouts of store calls")
struct TimeoutTests {
    /// A call that ignores cancellation and ends only when told: what a query left on a
    /// connection that died in a database restart looked like.
    final class StuckCall: Sendable {
        private let waiting = Mutex<CheckedContinuation<Void, Never>?>(nil)
        private let ended = Mutex(false)

        func run() async {
            await withCheckedContinuation { continuation in waiting.withLock { $0 = continuation } }
            ended.withLock { $0 = true }
        }

        var hasEnded: Bool { ended.withLock { $0 } }

        func end() {
            let continuation = waiting.withLock { value in
                defer { value = nil }
                return value
            }
            continuation?.resume()
        }
    }

    @Test(
        "a call that ignores its cancellation is given up at the deadline with unavailable, and ends in the background",
        .timeLimit(.minutes(10)))
    func stuckCall() async throws {
        let call = StuckCall()
        let error = await #expect(throws: MessageStoreError.self) {
            try await withTimeout(.milliseconds(200), "reading category account:command") { await call.run() }
        }
        #expect(error?.code == .unavailable)
        #expect(error?.message == "no answer within 0.2 seconds while reading category account:command")
        // The caller got its answer while the call was still stuck.
        #expect(!call.hasEnded)
        call.end()
        while !call.hasEnded { try await Task.sleep(for: .milliseconds(10)) }
    }

    @Test("the timeout message can be the caller's own; an answer or an error in time is passed through")
    func answers() async throws {
        let call = StuckCall()
        let error = await #expect(throws: MessageStoreError.self) {
            try await withTimeout(.milliseconds(50), "writing", timeoutMessage: { "PostgreSQL did not answer" }) { await call.run() }
        }
        #expect(error?.message == "PostgreSQL did not answer")
        call.end()
        #expect(try await withTimeout(.seconds(600), "adding") { 40 + 2 } == 42)
        let thrown = await #expect(throws: MessageStoreError.self) {
            try await withTimeout(.seconds(600), "writing") { throw MessageStoreError(.wrongExpectedVersion, "stream moved") }
        }
        #expect(thrown?.code == .wrongExpectedVersion)
    }

    @Test("a call that fails as soon as it is cancelled (a pool's request cancelled) still answers unavailable at the deadline")
    func callFailingOnCancellation() async throws {
        // Each round races the body's own error against the deadline's answer.
        for _ in 0..<50 {
            let error = await #expect(throws: MessageStoreError.self) {
                try await withTimeout(.milliseconds(20), "waiting for a connection") {
                    try await Task.sleep(for: .seconds(30))
                    throw MessageStoreError(.storage, "slept through")
                }
            }
            #expect(error?.code == .unavailable, "\(String(describing: error))")
        }
    }

    @Test("cancelling the caller cancels the call")
    func cancellation() async throws {
        let started = Mutex(false)
        let cancelled = Mutex(false)
        let caller = Task {
            try await withTimeout(.seconds(30), "sleeping") {
                started.withLock { $0 = true }
                do {
                    try await Task.sleep(for: .seconds(30))
                } catch {
                    cancelled.withLock { $0 = true }
                    throw error
                }
            }
        }
        while !started.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(10)) }
        caller.cancel()
        await #expect(throws: CancellationError.self) { try await caller.value }
        #expect(cancelled.withLock { $0 })
    }
    @Test("a short deadline set while a long one waits is kept on time", .timeLimit(.minutes(10)))
    func shortAfterLong() async throws {
        let long = StuckCall()
        let short = StuckCall()
        let outcome = Mutex<(long: Bool, short: Bool)>((false, false))
        let waiting = Task {
            try? await withTimeout(.seconds(600), "the long call") { await long.run() }
            outcome.withLock { $0.long = true }
        }
        // The watchdog now sleeps until the long call's deadline; the short one must wake it.
        try await Task.sleep(for: .milliseconds(50))
        let started = ContinuousClock.now
        let error = await #expect(throws: MessageStoreError.self) {
            try await withTimeout(.milliseconds(200), "the short call") { await short.run() }
        }
        let waited = ContinuousClock.now - started
        #expect(error?.code == .unavailable)
        // Well under the long call's deadline (the test itself can wait minutes for a thread on a
        // loaded machine, so the bound is not tight).
        #expect(waited >= .milliseconds(200) && waited < .seconds(300), "the short call was given up after \(waited)")
        #expect(!outcome.withLock { $0.long })
        long.end()
        short.end()
        await waiting.value
        #expect(outcome.withLock { $0.long })
    }
}
