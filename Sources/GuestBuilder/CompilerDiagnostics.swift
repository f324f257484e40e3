import Foundation

/// Orders a compiler's messages so that the author's own files come first: a handler with
/// the wrong return type makes swiftc complain both in the author's file and in the
/// generated code that calls it, and the generated file is compiled first.
enum CompilerDiagnostics {
    /// `output` with each diagnostic (a `path:line:column: error|warning:` line and the lines
    /// that follow it, notes included) kept whole, those in `authorFiles` moved before the
    /// others; the order is otherwise unchanged. Text before the first diagnostic stays first.
    static func authorFirst(_ output: String, authorFiles: [String]) -> String {
        let lines = output.split(separator: "\n", omittingEmptySubsequences: false)
        var preamble: [Substring] = []
        var blocks: [(isAuthor: Bool, lines: [Substring])] = []
        for line in lines {
            if let path = headerPath(line) {
                let isAuthor = authorFiles.contains { path == $0 || path.hasSuffix("/" + $0) }
                blocks.append((isAuthor, [line]))
            } else if blocks.isEmpty {
                preamble.append(line)
            } else {
                blocks[blocks.count - 1].lines.append(line)
            }
        }
        let ordered = blocks.filter(\.isAuthor) + blocks.filter { !$0.isAuthor }
        return (preamble + ordered.flatMap(\.lines)).joined(separator: "\n")
    }

    /// The file of a `path:line:column: error:` or `warning:` line (notes stay with the
    /// diagnostic before them).
    private static func headerPath(_ line: Substring) -> String? {
        for kind in [": error: ", ": warning: "] {
            guard let range = line.range(of: kind) else { continue }
            let location = line[..<range.lowerBound].split(separator: ":")
            guard location.count >= 3, Int(location[location.count - 1]) != nil, Int(location[location.count - 2]) != nil else {
                continue
            }
            return location.dropLast(2).joined(separator: ":")
        }
        return nil
    }
}
