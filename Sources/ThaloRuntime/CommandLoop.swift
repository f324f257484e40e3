/// The decisions of one command on one entity, kept apart from wasm and the store.
///
/// ``InstanceWorker`` performs the action each step returns and reports what happened; the
/// loop decides what comes next. It encodes two rules of the command path:
///
/// - A live entity is used as it is. When another process wrote to its stream since, the
///   append's expected version fails; the entity catches up and the handler runs again, up to
///   a number of conflicts.
/// - Outcomes that write nothing (a refusal, an ignore, no events) have no such check, so for
///   them the entity catches up once, and the handler runs again if the stream had moved.
///   That saves a read per command without deciding on stale state.
///
/// An append refused because the events' ids exist means the command id was used before:
/// the entity catches up, and if that does not show the id, the whole stream is searched
/// (an entity restored from a snapshot has not seen the ids before it).
struct CommandLoop: Sendable {
    /// Whether the entity has processed the command's id.
    enum Seen: Sendable, Equatable {
        case notSeen
        /// Processed with the same command and payload (or with no digest recorded).
        case sameCommand
        /// Processed with another command or payload.
        case otherCommand
    }

    /// What the handler decided.
    enum Decision: Sendable, Equatable {
        /// It refused or ignored the command.
        case refused
        /// It accepted the command and returned no events.
        case noEvents
        /// It returned events (valid for the schema).
        case events
    }

    enum Action: Sendable, Equatable {
        /// Bring the entity up to date with its stream, first dropping it when `rebuild`,
        /// and report ``loaded(moved:seen:)``.
        case load(rebuild: Bool)
        /// Run the handler on the entity and report ``handled(_:)``.
        case handle
        /// Append the events, expecting the entity's version, and report a conflict or a
        /// duplicate id; success ends the command with the events recorded.
        case append
        /// Look for an event of the command id in the whole stream and report ``searched(seen:)``.
        case searchStream
        /// The command was processed before: answer with the events it wrote.
        case answerDuplicate
        /// The handler's decision stands on current state: answer with it.
        case answer(Decision)
        case fail(Failure)
    }

    enum Failure: Error, Sendable, Equatable {
        /// The command id was processed on this entity for another command or payload.
        case keyReusedOnEntity
        /// The command id wrote events elsewhere (another entity or aggregate).
        case keyUsedElsewhere
        /// The stream kept changing under the command.
        case keptChanging(attempts: Int)
    }

    private enum State: Sendable, Equatable {
        case loading
        /// The handler decided without writing; the entity is catching up to check that.
        case checking(Decision)
        case handling
        case appending
        /// The append found the command's event ids taken; the entity is catching up.
        case loadingAfterDuplicate
        case searching
        case done
    }

    private var state: State = .loading
    private let maximumConflicts: Int
    private var conflicts = 0
    /// Whether the stream was read during this command: a decision after that stands.
    private var readStream = false

    init(maximumConflicts: Int) {
        self.maximumConflicts = maximumConflicts
    }

    /// The first step, for an entity that is live (loaded in the current instance) or not.
    mutating func start(entityIsLive: Bool, seen: Seen) -> Action {
        precondition(state == .loading, "a command loop starts once")
        guard entityIsLive else { return .load(rebuild: false) }
        return afterLoad(seen: seen)
    }

    /// The entity caught up; `moved` when that applied events or rebuilt it.
    mutating func loaded(moved: Bool, seen: Seen) -> Action {
        readStream = true
        switch state {
        case .loading:
            return afterLoad(seen: seen)
        case .checking(let decision):
            return moved ? afterLoad(seen: seen) : finish(.answer(decision))
        case .loadingAfterDuplicate:
            if seen == .notSeen {
                state = .searching
                return .searchStream
            }
            return afterLoad(seen: seen)
        case .handling, .appending, .searching, .done:
            preconditionFailure("loaded in state \(state)")
        }
    }

    mutating func handled(_ decision: Decision) -> Action {
        precondition(state == .handling, "handled in state \(state)")
        if decision == .events {
            state = .appending
            return .append
        }
        if readStream { return finish(.answer(decision)) }
        state = .checking(decision)
        return .load(rebuild: false)
    }

    /// The append's expected version did not hold; `streamIsBehind` when the stream is shorter
    /// than what the entity applied (the database lost its last commits).
    mutating func conflicted(streamIsBehind: Bool) -> Action {
        precondition(state == .appending, "conflicted in state \(state)")
        conflicts += 1
        guard conflicts <= maximumConflicts else { return finish(.fail(.keptChanging(attempts: conflicts))) }
        state = .loading
        return .load(rebuild: streamIsBehind)
    }

    /// How long to wait before catching up after a conflict, in microseconds (drawn from
    /// the range): nothing after the first, then up to 1, 2, 4 and 8 ms, so that two
    /// writers that keep winning the race from each other fall out of step instead of using
    /// up their retries. Nil when no retry follows.
    var pauseBeforeRetry: ClosedRange<Int>? {
        guard state == .loading, conflicts >= 2 else { return nil }
        let ceiling = 500 << min(conflicts - 1, 4)
        return ceiling / 2...ceiling
    }

    /// The append found the events' ids (derived from the command id) already written.
    mutating func duplicateID() -> Action {
        precondition(state == .appending, "duplicate id in state \(state)")
        state = .loadingAfterDuplicate
        return .load(rebuild: false)
    }

    mutating func searched(seen: Seen) -> Action {
        precondition(state == .searching, "searched in state \(state)")
        guard seen != .notSeen else { return finish(.fail(.keyUsedElsewhere)) }
        return afterLoad(seen: seen)
    }

    private mutating func afterLoad(seen: Seen) -> Action {
        switch seen {
        case .notSeen:
            state = .handling
            return .handle
        case .sameCommand: return finish(.answerDuplicate)
        case .otherCommand: return finish(.fail(.keyReusedOnEntity))
        }
    }

    private mutating func finish(_ action: Action) -> Action {
        state = .done
        return action
    }
}
