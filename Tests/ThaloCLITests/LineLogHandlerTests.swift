import Foundation
import Logging
import Synchronization
import Testing

@testable import ThaloCLI

/// `thalo serve`'s log lines: the level filter, metadata from the logger, the provider and
/// the message, sorted by key, and a line per message.
@Suite("Log lines")
struct LineLogHandlerTests {
    final class Lines: Sendable {
        let written = Mutex<[String]>([])
        func logger(level: Logger.Level = .info, provider: Logger.MetadataProvider? = nil) -> Logger {
            var logger = Logger(label: "thalo") { label in
                LineLogHandler(label: label, metadataProvider: provider) { line in self.written.withLock { $0.append(line) } }
            }
            logger.logLevel = level
            return logger
        }
    }

    @Test("a line per message: time, level, label, metadata sorted by key, source, message")
    func lineFormat() throws {
        let lines = Lines()
        var logger = lines.logger()
        logger[metadataKey: "request.id"] = "7"
        logger[metadataKey: "aggregate"] = "BankAccount"
        logger.info("handled", metadata: ["request.id": "8", "outcome": "recorded"])
        logger.debug("not written at info")
        let written = lines.written.withLock { $0 }
        #expect(written.count == 1)
        let line = try #require(written.first)
        #expect(line.hasSuffix(" info thalo: aggregate=BankAccount outcome=recorded request.id=8 [ThaloCLITests] handled\n"))
        let time = try #require(line.split(separator: " ").first)
        // 2026-12-02T09:41:07+0000
        #expect(time.count == 24)
        #expect(time.dropFirst(10).first == "T")
        #expect(time.dropFirst(19).first == "+" || time.dropFirst(19).first == "-")
    }

    @Test("metadata set on one logger does not reach a copy made before; the provider's is merged in")
    func metadataIsAValue() throws {
        let lines = Lines()
        let provider = Logger.MetadataProvider { ["node.id": "n1"] }
        let base = lines.logger(provider: provider)
        var request = base
        request[metadataKey: "hb.request.id"] = "42"
        base.warning("from the base")
        request.error("from the request")
        #expect(
            lines.written.withLock { $0 }.map { $0.split(separator: " ", maxSplits: 1).last.map(String.init) ?? "" } == [
                "warning thalo: node.id=n1 [ThaloCLITests] from the base\n",
                "error thalo: hb.request.id=42 node.id=n1 [ThaloCLITests] from the request\n",
            ])
    }
}
