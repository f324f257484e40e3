import Foundation
import Testing

@testable import ThaloRuntime

/// The command loop's decisions, step by step, without wasm or a store.
@Suite struct CommandLoopTests {
    @Test func aColdEntityLoadsThenHandlesThenAppends() {
        var loop = CommandLoop(maximumConflicts: 5)
        #expect(loop.start(entityIsLive: false, seen: .notSeen) == .load(rebuild: false))
        #expect(loop.loaded(moved: true, seen: .notSeen) == .handle)
        #expect(loop.handled(.events) == .append)
    }

    @Test func aLiveEntityHandlesWithoutReading() {
        var loop = CommandLoop(maximumConflicts: 5)
        #expect(loop.start(entityIsLive: true, seen: .notSeen) == .handle)
        #expect(loop.handled(.events) == .append)
    }

    @Test func aCommandSeenBeforeIsADuplicateOrAReusedKey() {
        var same = CommandLoop(maximumConflicts: 5)
        #expect(same.start(entityIsLive: true, seen: .sameCommand) == .answerDuplicate)
        var other = CommandLoop(maximumConflicts: 5)
        #expect(other.start(entityIsLive: true, seen: .otherCommand) == .fail(.keyReusedOnEntity))
        var cold = CommandLoop(maximumConflicts: 5)
        #expect(cold.start(entityIsLive: false, seen: .notSeen) == .load(rebuild: false))
        #expect(cold.loaded(moved: true, seen: .sameCommand) == .answerDuplicate)
    }

    @Test(arguments: [CommandLoop.Decision.refused, .noEvents])
    func aDecisionThatWritesNothingOnALiveEntityIsCheckedOnce(_ decision: CommandLoop.Decision) {
        // The stream had not moved: the decision stands.
        var still = CommandLoop(maximumConflicts: 5)
        #expect(still.start(entityIsLive: true, seen: .notSeen) == .handle)
        #expect(still.handled(decision) == .load(rebuild: false))
        #expect(still.loaded(moved: false, seen: .notSeen) == .answer(decision))

        // It had moved: the handler runs again on the new state, and that decision stands
        // without another read.
        var moved = CommandLoop(maximumConflicts: 5)
        #expect(moved.start(entityIsLive: true, seen: .notSeen) == .handle)
        #expect(moved.handled(decision) == .load(rebuild: false))
        #expect(moved.loaded(moved: true, seen: .notSeen) == .handle)
        #expect(moved.handled(decision) == .answer(decision))

        // Another writer recorded this very command meanwhile.
        var recorded = CommandLoop(maximumConflicts: 5)
        #expect(recorded.start(entityIsLive: true, seen: .notSeen) == .handle)
        #expect(recorded.handled(decision) == .load(rebuild: false))
        #expect(recorded.loaded(moved: true, seen: .sameCommand) == .answerDuplicate)
    }

    @Test func aDecisionAfterReadingTheStreamStands() {
        var loop = CommandLoop(maximumConflicts: 5)
        #expect(loop.start(entityIsLive: false, seen: .notSeen) == .load(rebuild: false))
        #expect(loop.loaded(moved: false, seen: .notSeen) == .handle)
        #expect(loop.handled(.refused) == .answer(.refused))
    }

    @Test func conflictsCatchUpAndRetryUntilTheLimit() {
        var loop = CommandLoop(maximumConflicts: 2)
        #expect(loop.start(entityIsLive: true, seen: .notSeen) == .handle)
        #expect(loop.handled(.events) == .append)
        #expect(loop.conflicted(streamIsBehind: false) == .load(rebuild: false))
        #expect(loop.loaded(moved: true, seen: .notSeen) == .handle)
        #expect(loop.handled(.events) == .append)
        #expect(loop.conflicted(streamIsBehind: true) == .load(rebuild: true))
        #expect(loop.loaded(moved: true, seen: .notSeen) == .handle)
        #expect(loop.handled(.events) == .append)
        #expect(loop.conflicted(streamIsBehind: false) == .fail(.keptChanging(attempts: 3)))
    }

    @Test func repeatedConflictsPauseLongerEachTime() {
        var loop = CommandLoop(maximumConflicts: 6)
        #expect(loop.pauseBeforeRetry == nil)
        var pauses: [ClosedRange<Int>?] = []
        #expect(loop.start(entityIsLive: true, seen: .notSeen) == .handle)
        for _ in 0..<6 {
            #expect(loop.handled(.events) == .append)
            #expect(loop.conflicted(streamIsBehind: false) == .load(rebuild: false))
            pauses.append(loop.pauseBeforeRetry)
            #expect(loop.loaded(moved: true, seen: .notSeen) == .handle)
            #expect(loop.pauseBeforeRetry == nil, "no pause once the entity is caught up")
        }
        #expect(pauses[0] == nil, "the first conflict catches up at once")
        #expect(pauses[1] == 500...1_000)
        #expect(pauses[2] == 1_000...2_000)
        #expect(pauses[4] == 4_000...8_000)
        #expect(pauses[5] == 4_000...8_000, "the pause stops growing at 8 ms")
        #expect(loop.handled(.events) == .append)
        #expect(loop.conflicted(streamIsBehind: false) == .fail(.keptChanging(attempts: 7)))
        #expect(loop.pauseBeforeRetry == nil, "no pause before failing")
    }

    @Test func aConflictThatRecordedTheSameCommandIsADuplicate() {
        var loop = CommandLoop(maximumConflicts: 5)
        #expect(loop.start(entityIsLive: true, seen: .notSeen) == .handle)
        #expect(loop.handled(.events) == .append)
        #expect(loop.conflicted(streamIsBehind: false) == .load(rebuild: false))
        #expect(loop.loaded(moved: true, seen: .sameCommand) == .answerDuplicate)
    }

    @Test func aTakenEventIDIsFoundOnTheEntityInItsStreamOrNowhere() {
        // Catching up shows the command.
        var caughtUp = CommandLoop(maximumConflicts: 5)
        #expect(caughtUp.start(entityIsLive: true, seen: .notSeen) == .handle)
        #expect(caughtUp.handled(.events) == .append)
        #expect(caughtUp.duplicateID() == .load(rebuild: false))
        #expect(caughtUp.loaded(moved: true, seen: .sameCommand) == .answerDuplicate)

        // Only the whole stream shows it (the entity came from a snapshot), for another command.
        var searched = CommandLoop(maximumConflicts: 5)
        #expect(searched.start(entityIsLive: true, seen: .notSeen) == .handle)
        #expect(searched.handled(.events) == .append)
        #expect(searched.duplicateID() == .load(rebuild: false))
        #expect(searched.loaded(moved: false, seen: .notSeen) == .searchStream)
        #expect(searched.searched(seen: .otherCommand) == .fail(.keyReusedOnEntity))

        // The id wrote events of another stream.
        var elsewhere = CommandLoop(maximumConflicts: 5)
        #expect(elsewhere.start(entityIsLive: true, seen: .notSeen) == .handle)
        #expect(elsewhere.handled(.events) == .append)
        #expect(elsewhere.duplicateID() == .load(rebuild: false))
        #expect(elsewhere.loaded(moved: false, seen: .notSeen) == .searchStream)
        #expect(elsewhere.searched(seen: .notSeen) == .fail(.keyUsedElsewhere))
    }
}

@Suite("ProcessedCommands")
struct ProcessedCommandsTests {
    @Test("keeps the latest command ids up to its capacity, and a repeated id does not take a second place")
    func boundedAndOrdered() {
        var processed = ProcessedCommands(capacity: 3)
        let ids = (0..<5).map { _ in UUID() }
        let digest = CommandDigest(command: "deposit_funds", payloadText: #"{"amount":1}"#)
        processed[ids[0]] = digest
        processed[ids[1]] = .some(nil)
        processed[ids[0]] = digest  // already known: still the oldest
        processed[ids[2]] = digest
        #expect(processed.count == 3)
        #expect(processed[ids[1]] == .some(nil))
        processed[ids[3]] = digest  // the fourth pushes out the oldest, ids[0]
        #expect(processed.count == 3)
        #expect(processed[ids[0]] == nil)
        #expect(processed[ids[1]] == .some(nil))
        #expect(processed[ids[3]] == .some(digest))
        processed[ids[4]] = digest  // then ids[1]
        #expect(processed[ids[1]] == nil)
        #expect(Set([ids[2], ids[3], ids[4]].map { processed[$0] != nil }) == [true])
    }
}

@Suite("Values Thalo stores with events")
struct StoredValuesTests {
    /// Computed with Python's hashlib: the values must not change between versions, or a
    /// command handled again after an upgrade would not be recognised.
    @Test("the command digest and the derived event ids are MD5 based, as in every earlier version")
    func knownAnswers() throws {
        #expect(CommandDigest(command: "deposit_funds", payloadText: #"{"amount":1}"#).text == "f1c9f4f4847393bf")
        let commandID = try #require(UUID(uuidString: "6f1c2a3e-0b7d-4c1e-9a2f-3d4e5f607182"))
        #expect(UUID.derived(from: commandID, index: 0).lowercasedText == "c1081ecb-bd78-3d41-810b-5c0b607fc031")
        #expect(UUID.derived(from: commandID, index: 1).lowercasedText == "301dd6ab-e168-39cd-b9cf-18001281ecbe")
        #expect(UUID.derived(from: commandID, index: 12).lowercasedText == "7a0a7b4b-17de-3c97-98b9-5291c438ee5a")
    }

    /// Also computed with Python's hashlib: the same digest, with the command id's first 48
    /// bits, version 8 and the RFC 4122 variant.
    @Test("events of a time-ordered command id keep its time and take the rest from the same digest")
    func timeOrderedKnownAnswers() throws {
        let commandID = try #require(UUID(uuidString: "0192f3a4-5b6c-8d7e-9f01-23456789abcd"))
        #expect(commandID.isTimeOrdered)
        #expect(UUID.derived(from: commandID, index: 0).lowercasedText == "0192f3a4-5b6c-8b1d-9d66-be312927d506")
        #expect(UUID.derived(from: commandID, index: 1).lowercasedText == "0192f3a4-5b6c-8f69-9e33-8f5df7748657")
        #expect(UUID.derived(from: commandID, index: 12).lowercasedText == "0192f3a4-5b6c-84d6-92f9-32f069c34344")
        // A version 7 id (time-ordered, but not Thalo's) keeps the name-based derivation.
        let version7 = try #require(UUID(uuidString: "0192f3a4-5b6c-7d7e-9f01-23456789abcd"))
        #expect(!version7.isTimeOrdered)
        #expect(UUID.derived(from: version7, index: 0).lowercasedText.dropFirst(14).first == "3")
    }
}
