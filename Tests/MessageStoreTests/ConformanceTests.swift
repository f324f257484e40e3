import Foundation
import JSON
import MessageStore
import Synchronization
import TestSupport
import Testing

/// The message store contract, run against every backend.
@Suite("Message store conformance")
struct ConformanceTests {
    static func event(_ type: String = "Deposited", amount: Int64 = 1, id: UUID = UUID(), metadata: Metadata? = nil) -> NewMessage {
        NewMessage(id: id, type: type, data: ["amount": .integer(amount)], metadata: metadata)
    }

    @Test("stream positions start at zero and have no gaps", arguments: Backend.allCases)
    func gaplessPositions(backend: Backend) async throws {
        try await withStore(backend) { (store: AnyMessageStore) async throws -> Void in
            var positions: [Int64] = []
            for index in 0..<5 {
                positions.append(try await store.write(Self.event(amount: Int64(index)), to: "account-1"))
            }
            positions.append(try await store.write([Self.event(), Self.event(), Self.event()], to: "account-1"))
            #expect(positions == [0, 1, 2, 3, 4, 7])
            let messages = try await store.readStream("account-1")
            #expect(messages.map(\.position) == Array(0...7))
            #expect(try await store.streamVersion("account-1") == 7)
        }
    }

    @Test("the last global position is 0 on an empty store, then the highest one written", arguments: Backend.allCases)
    func lastGlobalPosition(backend: Backend) async throws {
        try await withStore(backend) { (store: AnyMessageStore) async throws -> Void in
            #expect(try await store.lastGlobalPosition() == 0)
            try await store.write([Self.event(), Self.event()], to: "account-1")
            try await store.write(Self.event(), to: "other-2")
            let last = try await store.readCategory("other").last?.globalPosition
            #expect(last != nil)
            #expect(try await store.lastGlobalPosition() == last)
        }
    }

    @Test("global positions increase across streams in write order", arguments: Backend.allCases)
    func globalOrder(backend: Backend) async throws {
        try await withStore(backend) { (store: AnyMessageStore) async throws -> Void in
            for index in 0..<6 {
                try await store.write(Self.event(amount: Int64(index)), to: StreamName(category: "account", id: "\(index % 3)"))
            }
            let messages = try await store.readCategory("account")
            #expect(messages.count == 6)
            let globals = messages.map(\.globalPosition)
            #expect(globals == globals.sorted())
            #expect(Set(globals).count == 6)
            #expect(messages.map { try! $0.dataJSON()["amount"]!.integerValue! } == [0, 1, 2, 3, 4, 5])
        }
    }

    @Test("a message reads back with the same id, type, data, metadata and a recent time", arguments: Backend.allCases)
    func roundTrip(backend: Backend) async throws {
        try await withStore(backend) { (store: AnyMessageStore) async throws -> Void in
            let id = UUID()
            let metadata = Metadata(
                causationMessageStreamName: "account:command-1", causationMessagePosition: 4,
                causationMessageGlobalPosition: 9, correlationStreamName: "order-7", replyStreamName: "reply-1",
                schemaVersion: "1", properties: ["moduleVersion": "0.1.0", "nested": ["a": [1, 2]]])
            let before = Timestamp.now().microsecondsSinceEpoch
            try await store.write(
                NewMessage(id: id, type: "Opened", data: ["name": "Zoë \"quoted\"", "n": 12, "x": 1.5], metadata: metadata),
                to: "account-9")
            let message = try #require(try await store.readStream("account-9").first)
            #expect(message.id == id)
            #expect(message.type == "Opened")
            #expect(message.streamName == "account-9")
            #expect(try message.dataJSON() == ["name": "Zoë \"quoted\"", "n": 12, "x": 1.5])
            #expect(try message.parsedMetadata() == metadata)
            #expect(message.time.microsecondsSinceEpoch >= before - 2_000_000)
            #expect(message.time.microsecondsSinceEpoch <= Timestamp.now().microsecondsSinceEpoch + 2_000_000)
            let noMetadata = try await store.write(Self.event(), to: "account-10")
            #expect(noMetadata == 0)
            #expect(try await store.readStream("account-10").first?.metadata == nil)
        }
    }

    @Test("one id twice in one write is refused and nothing of the write is kept", arguments: Backend.allCases)
    func repeatedIDInOneWrite(backend: Backend) async throws {
        try await withStore(backend) { (store: AnyMessageStore) async throws -> Void in
            let id = UUID()
            let error = await #expect(throws: MessageStoreError.self) {
                try await store.write([Self.event(id: id), Self.event(id: id)], to: "account-1")
            }
            #expect(error?.code == .duplicateMessageID)
            #expect(error?.message == "message id \(id.lowercasedText) appears twice in one batch")
            #expect(try await store.streamVersion("account-1") == nil)
        }
    }

    @Test("the expected version must match, with Message DB's error text", arguments: Backend.allCases)
    func expectedVersion(backend: Backend) async throws {
        try await withStore(backend) { (store: AnyMessageStore) async throws -> Void in
            #expect(try await store.write(Self.event(), to: "account-1", expectedVersion: .noStream) == 0)
            #expect(try await store.write(Self.event(), to: "account-1", expectedVersion: .version(0)) == 1)

            let stale = await #expect(throws: MessageStoreError.self) {
                try await store.write(Self.event(), to: "account-1", expectedVersion: .version(0))
            }
            #expect(stale?.code == .wrongExpectedVersion)
            #expect(stale?.message == "Wrong expected version: 0 (Stream: account-1, Stream Version: 1)")
            #expect(stale?.actualVersion == 1)

            let exists = await #expect(throws: MessageStoreError.self) {
                try await store.write(Self.event(), to: "account-1", expectedVersion: .noStream)
            }
            #expect(exists?.message == "Wrong expected version: -1 (Stream: account-1, Stream Version: 1)")

            let missing = await #expect(throws: MessageStoreError.self) {
                try await store.write(Self.event(), to: "account-2", expectedVersion: .version(3))
            }
            #expect(missing?.message == "Wrong expected version: 3 (Stream: account-2, Stream Version: -1)")
            #expect(try await store.streamVersion("account-1") == 1)
            #expect(try await store.streamVersion("account-2") == nil)
        }
    }

    @Test("a duplicate message id is rejected and nothing is written", arguments: Backend.allCases)
    func duplicateID(backend: Backend) async throws {
        try await withStore(backend) { (store: AnyMessageStore) async throws -> Void in
            let id = UUID()
            try await store.write(Self.event(id: id), to: "account-1")
            let error = await #expect(throws: MessageStoreError.self) {
                try await store.write(Self.event(id: id), to: "account-2")
            }
            #expect(error?.code == .duplicateMessageID)
            #expect(try await store.streamVersion("account-2") == nil)
            #expect(try await store.readCategory("account").count == 1)
        }
    }

    @Test("a batch is written all or nothing", arguments: Backend.allCases)
    func batchAtomicity(backend: Backend) async throws {
        try await withStore(backend) { (store: AnyMessageStore) async throws -> Void in
            let existing = UUID()
            try await store.write(Self.event(id: existing), to: "account-1")
            await #expect(throws: MessageStoreError.self) {
                try await store.write([Self.event(), Self.event(), Self.event(id: existing)], to: "account-2")
            }
            #expect(try await store.streamVersion("account-2") == nil)
            await #expect(throws: MessageStoreError.self) {
                try await store.write([Self.event(), Self.event()], to: "account-1", expectedVersion: .version(5))
            }
            await #expect(throws: MessageStoreError.self) {
                try await store.write(
                    [Self.event(), NewMessage(type: "Bad", data: "[1, 2]")], to: "account-1")
            }
            #expect(try await store.readStream("account-1").count == 1)
            #expect(try await store.write([Self.event(), Self.event()], to: "account-2", expectedVersion: .noStream) == 1)
        }
    }

    @Test("a category read spans its streams only, from a global position, in batches", arguments: Backend.allCases)
    func categoryRead(backend: Backend) async throws {
        try await withStore(backend) { (store: AnyMessageStore) async throws -> Void in
            for index in 0..<10 {
                try await store.write(Self.event(amount: Int64(index)), to: StreamName(category: "account", id: "\(index)"))
                try await store.write(
                    Self.event(amount: Int64(index)), to: StreamName(category: "account", id: "\(index)", types: ["command"]))
                try await store.write(Self.event(amount: Int64(index)), to: StreamName(category: "accountant", id: "\(index)"))
            }
            let all = try await store.readCategory("account", batchSize: -1)
            #expect(all.count == 10)
            #expect(all.allSatisfy { $0.streamName.category == "account" })
            let commands = try await store.readCategory("account:command")
            #expect(commands.count == 10)
            let firstBatch = try await store.readCategory("account", batchSize: 4)
            #expect(firstBatch.map(\.globalPosition) == Array(all.prefix(4).map(\.globalPosition)))
            let rest = try await store.readCategory("account", from: firstBatch.last!.globalPosition + 1, batchSize: 100)
            #expect((firstBatch + rest).map(\.id) == all.map(\.id))
            #expect(try await store.readCategory("nothing").isEmpty)
        }
    }

    @Test("a stream read starts at a position and honours the batch size", arguments: Backend.allCases)
    func streamRead(backend: Backend) async throws {
        try await withStore(backend) { (store: AnyMessageStore) async throws -> Void in
            try await store.write((0..<7).map { Self.event(amount: Int64($0)) }, to: "account-1")
            #expect(try await store.readStream("account-1", from: 3, batchSize: 2).map(\.position) == [3, 4])
            #expect(try await store.readStream("account-1", from: 5, batchSize: -1).map(\.position) == [5, 6])
            #expect(try await store.readStream("account-1", from: 7).isEmpty)
            #expect(try await store.readStream("account-404").isEmpty)
            #expect(try await store.readWholeStream("account-1", batchSize: 3).count == 7)
        }
    }

    @Test("the last message of a stream can be asked for by type", arguments: Backend.allCases)
    func lastMessage(backend: Backend) async throws {
        try await withStore(backend) { (store: AnyMessageStore) async throws -> Void in
            try await store.write(
                [Self.event("A", amount: 1), Self.event("B", amount: 2), Self.event("A", amount: 3), Self.event("C", amount: 4)],
                to: "account-1")
            #expect(try await store.lastMessage(in: "account-1")?.position == 3)
            #expect(try await store.lastMessage(in: "account-1", type: "A")?.position == 2)
            #expect(try await store.lastMessage(in: "account-1", type: "Z") == nil)
            #expect(try await store.lastMessage(in: "account-2") == nil)
        }
    }

    @Test("category reads filter by correlation category", arguments: Backend.allCases)
    func correlation(backend: Backend) async throws {
        try await withStore(backend) { (store: AnyMessageStore) async throws -> Void in
            try await store.write(Self.event(metadata: Metadata(correlationStreamName: "order-1")), to: "account-1")
            try await store.write(Self.event(metadata: Metadata(correlationStreamName: "order:command-2")), to: "account-2")
            try await store.write(Self.event(metadata: Metadata(correlationStreamName: "shipment-3")), to: "account-3")
            try await store.write(Self.event(), to: "account-4")
            let orders = try await store.readCategory("account", correlation: "order")
            #expect(orders.map(\.streamName) == ["account-1"])
            #expect(try await store.readCategory("account", correlation: "order:command").map(\.streamName) == ["account-2"])
            let error = await #expect(throws: MessageStoreError.self) {
                try await store.readCategory("account", correlation: "order-1")
            }
            #expect(error?.message == "Correlation must be a category (Correlation: order-1)")
        }
    }

    @Test(
        "consumer group members together read every stream with an id exactly once, and none reads one without", arguments: Backend.allCases
    )
    func consumerGroups(backend: Backend) async throws {
        try await withStore(backend) { (store: AnyMessageStore) async throws -> Void in
            var names: [StreamName] = []
            for index in 0..<40 {
                let name = StreamName(category: "account", id: index % 5 == 0 ? "\(index)+\(index * 7)" : "\(index)")
                names.append(name)
                try await store.write([Self.event(), Self.event()], to: name)
            }
            // A stream without an id has no cardinal id (NULL in Message DB): no member reads
            // it, while a read of the whole category does.
            try await store.write(Self.event(), to: "account")
            #expect(try await store.readCategory("account", batchSize: -1).contains { $0.streamName == "account" })
            var seen: [StreamName: Int64] = [:]
            for member in Int64(0)..<3 {
                let messages = try await store.readCategory(
                    "account", batchSize: -1, consumerGroup: try ConsumerGroup(member: member, size: 3))
                for message in messages {
                    if let previous = seen[message.streamName] {
                        #expect(previous == member, "stream \(message.streamName) read by members \(previous) and \(member)")
                    }
                    seen[message.streamName] = member
                    #expect(ConsumerGroup.partition(of: message.streamName, size: 3) == member)
                }
            }
            #expect(Set(seen.keys) == Set(names))
            // Compound ids partition by their cardinal id.
            #expect(ConsumerGroup.partition(of: "account-5+35", size: 3) == ConsumerGroup.partition(of: "account-5", size: 3))
        }
    }

    @Test("invalid consumer groups, batch sizes, positions and names are clear errors", arguments: Backend.allCases)
    func badArguments(backend: Backend) async throws {
        try await withStore(backend) { (store: AnyMessageStore) async throws -> Void in
            #expect(throws: MessageStoreError.self) { try ConsumerGroup(member: 3, size: 3) }
            #expect(throws: MessageStoreError.self) { try ConsumerGroup(member: -1, size: 3) }
            #expect(throws: MessageStoreError.self) { try ConsumerGroup(member: 0, size: 0) }
            let batch = await #expect(throws: MessageStoreError.self) { try await store.readStream("account-1", from: 0, batchSize: 0) }
            #expect(batch?.message.contains("batch size") == true)
            let position = await #expect(throws: MessageStoreError.self) { try await store.readStream("account-1", from: -1) }
            #expect(position?.message.contains("must not be negative") == true)
            await #expect(throws: MessageStoreError.self) { try await store.readCategory("account", from: -5) }
            let notCategory = await #expect(throws: MessageStoreError.self) { try await store.readCategory("account-1") }
            #expect(notCategory?.code == .invalidStreamName)
            // A stream read of a category name is refused as Message DB's get_stream_messages does.
            let notStream = await #expect(throws: MessageStoreError.self) { try await store.readStream("account") }
            #expect(notStream?.code == .invalidArgument)
            #expect(notStream?.message == "Must be a stream name: account")
            for bad in ["", "account-", "-1", "acc ount-1", "account-1\n"] {
                let error = await #expect(throws: MessageStoreError.self) {
                    try await store.write(Self.event(), to: StreamName(unchecked: bad))
                }
                #expect(error?.code == .invalidStreamName, "\(bad.debugDescription)")
            }
            #expect(throws: MessageStoreError.self) { try StreamName(validating: "account-") }
        }
    }

    @Test("names of 300 characters are stored in full, also at 4 bytes a character; longer ones are refused", arguments: Backend.allCases)
    func longestNames(backend: Backend) async throws {
        try await withStore(backend) { (store: AnyMessageStore) async throws -> Void in
            // 300 scalars of 4 bytes in UTF-8: the largest names, in both of the category
            // index's name columns at once on PostgreSQL.
            let wide = String(repeating: "\u{1D11E}", count: 298)
            let stream = StreamName(unchecked: wide + "-1")
            let correlation = wide + "-2"
            #expect(stream.rawValue.unicodeScalars.count == StreamName.maximumLength)
            var metadata = Metadata()
            metadata.correlationStreamName = correlation
            try await store.write(Self.event(metadata: metadata), to: stream)
            #expect(try await store.readStream(stream).count == 1)
            let correlated = try await store.readCategory(wide, correlation: wide)
            #expect(correlated.map(\.streamName) == [stream])

            let tooLong = StreamName(unchecked: wide + "-12")
            let name = await #expect(throws: MessageStoreError.self) { try await store.write(Self.event(), to: tooLong) }
            #expect(name?.code == .invalidStreamName)
            #expect(name?.message.contains("301 characters long; names have at most 300") == true, "\(name?.message ?? "")")
            metadata.correlationStreamName = wide + "-23"
            let correlationError = await #expect(throws: MessageStoreError.self) {
                try await store.write(Self.event(metadata: metadata), to: "account-1")
            }
            #expect(correlationError?.code == .invalidMetadata)
            #expect(correlationError?.message.contains("correlationStreamName is 301 characters long") == true)
            #expect(try await store.streamVersion("account-1") == nil)
        }
    }

    @Test("data that is not a JSON object is rejected and nothing is written", arguments: Backend.allCases)
    func badData(backend: Backend) async throws {
        try await withStore(backend) { (store: AnyMessageStore) async throws -> Void in
            for (data, expected) in [("[1]", "must be a JSON object, found array"), ("{\"a\":", "not valid JSON"), ("42", "found number")] {
                let error = await #expect(throws: MessageStoreError.self) {
                    try await store.write(NewMessage(type: "T", data: data), to: "account-1")
                }
                #expect(error?.code == .invalidData)
                #expect(error?.message.contains(expected) == true, "\(error?.message ?? "")")
            }
            let metadata = await #expect(throws: MessageStoreError.self) {
                try await store.write(NewMessage(type: "T", data: "{}", metadata: "[]"), to: "account-1")
            }
            #expect(metadata?.code == .invalidMetadata)
            let empty = await #expect(throws: MessageStoreError.self) {
                try await store.write(NewMessage(type: "", data: "{}"), to: "account-1")
            }
            #expect(empty?.code == .invalidMessage)
            #expect(try await store.streamVersion("account-1") == nil)
        }
    }

    @Test("SQL conditions are refused unless enabled", arguments: [Backend.sqlite, .postgres])
    func conditions(backend: Backend) async throws {
        try await withStore(backend) { (store: AnyMessageStore) async throws -> Void in
            try await store.write([Self.event("A"), Self.event("B")], to: "account-1")
            let error = await #expect(throws: MessageStoreError.self) {
                try await store.readStream("account-1", from: 0, batchSize: 10, condition: "type = 'A'")
            }
            #expect(error?.code == .conditionNotAllowed)
            #expect(error?.message.contains("Retrieval with SQL condition is not activated") == true)
        }
        try await withStore(backend, allowSQLCondition: true) { (store: AnyMessageStore) async throws -> Void in
            try await store.write([Self.event("A"), Self.event("B"), Self.event("A")], to: "account-1")
            let filtered = try await store.readStream("account-1", from: 0, batchSize: 10, condition: "type = 'A'")
            #expect(filtered.map(\.position) == [0, 2])
            let category = try await store.readCategory(
                "account", from: 1, batchSize: 10, correlation: nil, consumerGroup: nil, condition: "type = 'B'")
            #expect(category.map(\.position) == [1])
        }
    }

    @Test("concurrent writers to one stream: exactly one wins each version, no gaps", arguments: Backend.allCases)
    func concurrentSameStream(backend: Backend) async throws {
        try await withStore(backend) { (store: AnyMessageStore) async throws -> Void in
            let writers = 8
            let attemptsPerWriter = 15
            let wins = try await withThrowingTaskGroup(of: [Int64].self) { group in
                for writer in 0..<writers {
                    group.addTask {
                        var won: [Int64] = []
                        for attempt in 0..<attemptsPerWriter {
                            let version = try await store.streamVersion("account-1")
                            do {
                                let position = try await store.write(
                                    Self.event(amount: Int64(writer * 1000 + attempt)), to: "account-1",
                                    expectedVersion: version.map { .version($0) } ?? .noStream)
                                won.append(position)
                            } catch let error as MessageStoreError where error.code == .wrongExpectedVersion {
                                continue
                            }
                        }
                        return won
                    }
                }
                var all: [Int64] = []
                for try await won in group { all += won }
                return all
            }
            let messages = try await store.readWholeStream("account-1")
            #expect(wins.count == messages.count)
            #expect(wins.sorted() == Array(0..<Int64(wins.count)))
            #expect(messages.map(\.position) == Array(0..<Int64(messages.count)))
            #expect(Set(messages.map(\.id)).count == messages.count)
        }
    }

    @Test("concurrent writers to one category: a live category reader never skips a message", arguments: Backend.allCases)
    func concurrentCategoryReader(backend: Backend) async throws {
        try await withStore(backend) { (store: AnyMessageStore) async throws -> Void in
            let writers = 8
            let perWriter = 40
            let writersDone = Mutex(false)
            // Reads until it has seen every message, or until a read that began after the
            // writers were done finds nothing new (2 minutes at most).
            let reader = Task {
                var seen: [Int64] = []
                var next: Int64 = 1
                let deadline = ContinuousClock.now + .seconds(120)
                while seen.count < writers * perWriter, ContinuousClock.now < deadline {
                    let lastRead = writersDone.withLock { $0 }
                    let batch = try await store.readCategory("account", from: next, batchSize: 7)
                    if batch.isEmpty {
                        if lastRead { break }
                        try await Task.sleep(for: .milliseconds(2))
                        continue
                    }
                    seen += batch.map(\.globalPosition)
                    next = batch.last!.globalPosition + 1
                }
                return seen
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for writer in 0..<writers {
                    group.addTask {
                        for index in 0..<perWriter {
                            try await store.write(
                                Self.event(amount: Int64(index)), to: StreamName(category: "account", id: "\(writer)-\(index % 4)"))
                        }
                    }
                }
                try await group.waitForAll()
            }
            writersDone.withLock { $0 = true }
            let seen = try await reader.value
            let all = try await store.readCategory("account", batchSize: -1).map(\.globalPosition)
            #expect(all.count == writers * perWriter)
            #expect(seen == all)
        }
    }

    @Test("a local write is signalled to waiting readers", arguments: Backend.allCases)
    func writeNotification(backend: Backend) async throws {
        try await withStore(backend) { (store: AnyMessageStore) async throws -> Void in
            let seen = store.writeNotifier.writeCount(category: "account")
            // A long timeout: the wait can only end early because of the write.
            async let woken = store.writeNotifier.wait(category: "account", seenWriteCount: seen, timeout: .seconds(600))
            try await Task.sleep(for: .milliseconds(50))
            try await store.write(Self.event(), to: "account-1")
            #expect(await woken)
            // A write to another category does not end a wait; the timeout does.
            let other = await store.writeNotifier.wait(
                category: "account", seenWriteCount: store.writeNotifier.writeCount(category: "account"), timeout: .milliseconds(50))
            #expect(!other)
            #expect(store.writeNotifier.writeCount(category: "account") == seen + 1)
        }
    }
}

extension ConformanceTests {
    @Test("a write reports each message's position, global position and time as stored", arguments: Backend.allCases)
    func writeResult(backend: Backend) async throws {
        try await withStore(backend) { (store: AnyMessageStore) async throws -> Void in
            try await store.write(Self.event(), to: "other-1")
            let single = try await store.append([Self.event()], to: "account-1", expectedVersion: nil)
            let batch = try await store.append([Self.event(), Self.event(), Self.event()], to: "account-1", expectedVersion: .version(0))
            let stored = try await store.readStream("account-1")
            let reported = single.recorded + batch.recorded
            #expect(reported.map(\.position) == stored.map(\.position))
            #expect(reported.map(\.globalPosition) == stored.map(\.globalPosition))
            #expect(reported.map(\.time) == stored.map(\.time))
            #expect(batch.lastPosition == 3)
            // Concurrent writers (other connections, on PostgreSQL) each get their own message's figures.
            let written = try await withThrowingTaskGroup(of: (Int, WriteResult.Recorded).self) { group in
                for writer in 0..<8 {
                    group.addTask {
                        var last: WriteResult.Recorded?
                        for round in 0..<5 {
                            last = try await store.append(
                                [Self.event()], to: StreamName(unchecked: "busy-\(writer)"),
                                expectedVersion: ExpectedVersion(Int64(round) - 1)
                            )
                            .recorded[0]
                        }
                        return (writer, last!)
                    }
                }
                var results: [Int: WriteResult.Recorded] = [:]
                for try await (writer, recorded) in group { results[writer] = recorded }
                return results
            }
            for (writer, recorded) in written {
                let message = try #require(try await store.readStream(StreamName(unchecked: "busy-\(writer)")).last)
                #expect(recorded.position == message.position && recorded.globalPosition == message.globalPosition)
                #expect(recorded.time == message.time)
            }
        }
    }
}
