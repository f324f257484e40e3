import AggregateContract
import Foundation
import GuestBuilder
import TestSupport
import Testing

/// The contract written once in `AggregateContract` is the one `wit/aggregate.wit` states.
@Suite("Module contract")
struct ModuleContractTests {
    /// The WIT file's lines without comments.
    static func witLines() throws -> [String] {
        let url = ExampleModules.repositoryRoot.appendingPathComponent("wit/aggregate.wit")
        return try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map { line in
            let code = line.range(of: "//").map { line[..<$0.lowerBound] } ?? line[...]
            return code.trimmingCharacters(in: .whitespaces)
        }.filter { !$0.isEmpty }
    }

    @Test("the package, the interface and every function with its WIT name, in order, match wit/aggregate.wit")
    func matchesWIT() throws {
        let lines = try Self.witLines()
        #expect(lines.contains("package \(ModuleContract.package);"))
        #expect(lines.contains("interface aggregate {"))
        #expect(ModuleContract.interface == ModuleContract.package.replacingOccurrences(of: "@", with: "/aggregate@"))
        let functions = lines.compactMap { line -> String? in
            guard let colon = line.range(of: ": func(") else { return nil }
            return String(line[..<colon.lowerBound])
        }
        #expect(functions == ModuleContract.functions.map(\.name))
    }

    @Test("the core signatures follow the WIT parameters: a string or list flattens to two i32, s64 to i64, u32 to i32")
    func signatures() throws {
        let lines = try Self.witLines()
        // Flattened sizes of the WIT types used by the interface.
        let records: [String: [ModuleContract.ValueType]] = [
            "string": [.i32, .i32], "list<recorded-event>": [.i32, .i32], "list<u8>": [.i32, .i32], "u32": [.i32],
            "command": [.i32, .i32, .i32, .i32],
            "context": [.i32, .i32, .i32, .i32, .i64, .i64, .i32, .i32, .i64],
        ]
        for function in ModuleContract.functions {
            let line = try #require(lines.first { $0.hasPrefix("\(function.name): func(") })
            let parameterText = line.drop { $0 != "(" }.dropFirst().prefix { $0 != ")" }
            var flattened: [ModuleContract.ValueType] = []
            for parameter in parameterText.split(separator: ",") where !parameter.isEmpty {
                let type = parameter.split(separator: ":").last!.trimmingCharacters(in: .whitespaces)
                flattened += try #require(records[type], "unknown WIT type \(type) in \(function.name)")
            }
            #expect(flattened == function.parameters, "\(function.name)")
            // Results: nothing, a u32 in a register, or a pointer to memory (post-return).
            let returns = line.range(of: "->").map { line[$0.upperBound...].trimmingCharacters(in: CharacterSet(charactersIn: " ;")) }
            switch returns {
            case nil: #expect(function.results.isEmpty && !function.hasPostReturn, "\(function.name)")
            case "u32"?: #expect(function.results == [.i32] && !function.hasPostReturn, "\(function.name)")
            default: #expect(function.results == [.i32] && function.hasPostReturn, "\(function.name)")
            }
        }
    }

    @Test("the builder checks modules against the same exports the runtime requires")
    func builderUsesTheContract() {
        #expect(GuestBuilder.requiredExports == ModuleContract.requiredExports)
        #expect(ModuleContract.requiredExports.contains("cabi_post_thalo:aggregate/aggregate@0.1.0#handle"))
        #expect(ModuleContract.snapshotExports.count == 4)
    }
}
