import Synchronization

/// An append handed to a store behind another one before that one is committed (see
/// ``MessageStore/appendChained(_:to:expectedVersion:after:)``): the store applies it only if
/// the append it follows was written, so that both can go into one commit.
///
/// The store resolves it once; ``value()`` waits for that. Nobody has to wait for it: an
/// outcome nobody asks for is dropped with the object.
public final class ChainedAppend: Sendable {
    /// How far the store got with the append, which decides whether what follows it may be
    /// written.
    package enum Progress: Sendable, Equatable {
        /// Not processed yet.
        case pending
        /// Written in a transaction that is not committed yet.
        case applied
        /// Written and committed.
        case committed
        /// Not written.
        case failed
    }

    private struct State {
        var progress = Progress.pending
        var outcome: Result<WriteResult, any Error>?
        var waiters: [CheckedContinuation<WriteResult, any Error>] = []
    }

    private let state = Mutex(State())

    package init() {}

    /// Where the append was recorded, once the store has written it.
    ///
    /// - Throws: what the store threw; `wrongExpectedVersion` when the append it followed was
    ///   not written.
    public func value() async throws -> WriteResult {
        try await withCheckedThrowingContinuation { continuation in
            let outcome = state.withLock { state -> Result<WriteResult, any Error>? in
                if state.outcome == nil { state.waiters.append(continuation) }
                return state.outcome
            }
            if let outcome { continuation.resume(with: outcome) }
        }
    }

    /// The store's progress with the append.
    package var progress: Progress { state.withLock { $0.progress } }

    /// Records the store's progress (`applied`, then `committed` or `failed`).
    package func record(_ progress: Progress) {
        state.withLock { $0.progress = progress }
    }

    /// Resolves the append: marks it committed or failed and wakes whoever waits.
    package func resolve(_ outcome: Result<WriteResult, any Error>) {
        let waiters = state.withLock { state -> [CheckedContinuation<WriteResult, any Error>] in
            guard state.outcome == nil else { return [] }
            state.outcome = outcome
            if case .success = outcome { state.progress = .committed } else { state.progress = .failed }
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(with: outcome) }
    }
}

extension MessageStore {
    /// Stores that cannot chain appends return nil: the caller appends after the previous
    /// append was written.
    public func appendChained(
        _ messages: [NewMessage], to stream: StreamName, expectedVersion: ExpectedVersion, after previous: ChainedAppend?
    ) -> ChainedAppend? {
        nil
    }
}
