import Foundation

/// Output for people on a terminal and for scripts: colour and progress only when the
/// stream is a terminal (and `NO_COLOR` is unset), plain text otherwise.
enum Terminal {
    static let isStandardOutputTTY = isatty(STDOUT_FILENO) == 1
    static let isStandardErrorTTY = isatty(STDERR_FILENO) == 1
    static let colorEnabled =
        isStandardOutputTTY && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
        && ProcessInfo.processInfo.environment["TERM"] != "dumb"

    enum Color: String {
        case red = "31", green = "32", yellow = "33", blue = "34", magenta = "35", cyan = "36", gray = "90", bold = "1"
    }

    static func paint(_ text: String, _ color: Color, enabled: Bool = colorEnabled) -> String {
        enabled ? "\u{1B}[\(color.rawValue)m\(text)\u{1B}[0m" : text
    }

    static func print(_ text: String = "") {
        write(text + "\n")
    }

    /// Text on standard output, as it is.
    static func write(_ text: String) {
        do {
            try FileHandle.standardOutput.write(contentsOf: Data(text.utf8))
        } catch {
            // The reader went away (`thalo streams read … | head`): end as a Unix tool does
            // on a closed pipe, quietly, instead of crashing on the failed write. The
            // networking libraries ignore SIGPIPE, so restore its default first.
            signal(SIGPIPE, SIG_DFL)
            raise(SIGPIPE)
            exit(141)
        }
    }

    static func printError(_ text: String) {
        let colored = isStandardErrorTTY && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
        note((colored ? "\u{1B}[31;1merror:\u{1B}[0m " : "error: ") + text)
    }

    /// A line on standard error; lost, not fatal, when nobody reads it.
    static func note(_ text: String) {
        try? FileHandle.standardError.write(contentsOf: Data((text + "\n").utf8))
    }

    /// Left-aligned columns.
    static func table(_ header: [String], _ rows: [[String]]) -> String {
        var widths = header.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                index == cells.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
        return ([paint(line(header), .bold)] + rows.map(line)).joined(separator: "\n")
    }
}

/// A spinner on standard error while something long runs; silent when not on a terminal.
final class Progress: @unchecked Sendable {
    // `@unchecked Sendable`: `running` and `message` are guarded by `lock`.
    private let lock = NSLock()
    private var running = true
    private var message: String
    private var started = false

    init(_ message: String) {
        self.message = message
        guard Terminal.isStandardErrorTTY else { return }
        started = true
        let frames = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"]
        Thread.detachNewThread { [self] in
            var index = 0
            while isRunning {
                try? FileHandle.standardError.write(contentsOf: Data("\r\(frames[index % frames.count]) \(currentMessage)\u{1B}[K".utf8))
                index += 1
                Thread.sleep(forTimeInterval: 0.08)
            }
            try? FileHandle.standardError.write(contentsOf: Data("\r\u{1B}[K".utf8))
        }
    }

    var isRunning: Bool { lock.withLock { running } }
    var currentMessage: String { lock.withLock { message } }

    func update(_ message: String) { lock.withLock { self.message = message } }

    func stop() {
        let wasRunning = lock.withLock { () -> Bool in
            defer { running = false }
            return running
        }
        if started && wasRunning { Thread.sleep(forTimeInterval: 0.1) }
    }
}
