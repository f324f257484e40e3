import Foundation
import Synchronization

/// Timing helpers: run work for a while from several concurrent callers and report
/// throughput and latency percentiles.
struct Measurement: Sendable {
    var operations: Int
    var seconds: Double
    /// Sorted latencies in microseconds.
    var latencies: [Double]

    var throughput: Double { Double(operations) / seconds }
    func percentile(_ fraction: Double) -> Double {
        guard !latencies.isEmpty else { return 0 }
        return latencies[min(latencies.count - 1, Int(Double(latencies.count) * fraction))]
    }
    var p50: Double { percentile(0.50) }
    var p99: Double { percentile(0.99) }
}

/// Runs each of `operations` from `callers` concurrent tasks, taking turns in `slices` slices
/// of `duration / slices` each, so that all of them meet the same machine (a disk whose
/// speed drifts over a run skews ratios between cases measured one after the other).
func measureInterleaved(
    callers: Int, duration: Duration, slices: Int = 8, _ operations: [@Sendable (Int, Int) async throws -> Void]
) async throws -> [Measurement] {
    var totals = operations.map { _ in Measurement(operations: 0, seconds: 0, latencies: []) }
    for slice in 0..<slices {
        for (index, operation) in operations.enumerated() {
            let part = try await measure(
                callers: callers, duration: duration / slices, warmup: slice == 0 ? .milliseconds(500) : .milliseconds(50)
            ) { caller, count in try await operation(caller, count + slice * 1_000_000) }
            totals[index].operations += part.operations
            totals[index].seconds += part.seconds
            totals[index].latencies += part.latencies
        }
    }
    for index in totals.indices { totals[index].latencies.sort() }
    return totals
}

/// Runs `operation(caller, index)` from `callers` concurrent tasks for `duration`.
func measure(
    callers: Int, duration: Duration, warmup: Duration = .milliseconds(500),
    _ operation: @escaping @Sendable (Int, Int) async throws -> Void
) async throws -> Measurement {
    // Warm up (lazy translation of wasm code, connection pools, caches).
    let warmupEnd = ContinuousClock.now + warmup
    try await withThrowingTaskGroup(of: Void.self) { group in
        for caller in 0..<callers {
            group.addTask {
                var index = 1_000_000_000 + caller * 10_000_000
                while ContinuousClock.now < warmupEnd {
                    try await operation(caller, index)
                    index += 1
                }
            }
        }
        try await group.waitForAll()
    }
    let start = ContinuousClock.now
    let end = start + duration
    let results = try await withThrowingTaskGroup(of: [Double].self) { group in
        for caller in 0..<callers {
            group.addTask {
                var latencies: [Double] = []
                latencies.reserveCapacity(100_000)
                var index = caller * 10_000_000
                while ContinuousClock.now < end {
                    let began = ContinuousClock.now
                    try await operation(caller, index)
                    latencies.append(microseconds(ContinuousClock.now - began))
                    index += 1
                }
                return latencies
            }
        }
        var all: [Double] = []
        for try await latencies in group { all += latencies }
        return all
    }
    let elapsed = microseconds(ContinuousClock.now - start) / 1_000_000
    return Measurement(operations: results.count, seconds: elapsed, latencies: results.sorted())
}

/// Runs `body(index)` for every index below `count`, spread over `callers` concurrent tasks
/// (used to set up entities before a measurement).
func forEachConcurrently(_ count: Int, callers: Int, _ body: @escaping @Sendable (Int) async throws -> Void) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
        for caller in 0..<callers {
            group.addTask {
                for index in stride(from: caller, to: count, by: callers) { try await body(index) }
            }
        }
        try await group.waitForAll()
    }
}

func microseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1_000_000 + Double(duration.components.attoseconds) / 1_000_000_000_000
}

/// The resident set size of this process, in bytes (from /proc/self/statm).
func residentBytes() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let fields = text.split(separator: " ")
    guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}

/// A results table, printed as Markdown.
final class Report: @unchecked Sendable {
    // `@unchecked Sendable`: rows are appended from the main flow only.
    private var rows: [[String]] = []
    let header: [String]

    init(header: [String]) {
        self.header = header
    }

    func add(_ row: [String]) {
        rows.append(row)
        FileHandle.standardOutput.write(Data(("  " + row.joined(separator: " | ") + "\n").utf8))
    }

    var markdown: String {
        var lines = ["| " + header.joined(separator: " | ") + " |", "|" + header.map { _ in " --- |" }.joined()]
        for row in rows { lines.append("| " + row.joined(separator: " | ") + " |") }
        return lines.joined(separator: "\n")
    }
}

func format(_ value: Double, _ digits: Int = 0) -> String {
    String(format: "%.\(digits)f", value)
}

func formatRate(_ value: Double) -> String {
    let rounded = Int(value.rounded())
    var text = String(rounded)
    var index = text.count - 3
    while index > 0 {
        text.insert(",", at: text.index(text.startIndex, offsetBy: index))
        index -= 3
    }
    return text
}
