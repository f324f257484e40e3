import ESDL

/// A small deterministic random number generator (SplitMix64), so that property and fuzz
/// tests reproduce exactly from their seed.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Builds random valid schemas for round-trip properties.
struct RandomSchemas {
    var generator: SeededGenerator

    private static let words = [
        "amount", "id", "name", "default", "class", "self", "type", "event", "version", "count", "items", "x",
        "_private", "value2", "protocol", "func",
    ]

    mutating func name(upper: Bool) -> String {
        let word = Self.words.randomElement(using: &generator)!
        let suffix = Int.random(in: 0..<1000, using: &generator)
        let base = upper ? word.prefix(1).uppercased() + word.dropFirst() : word
        return "\(base)\(suffix)"
    }

    mutating func type(customs: [String], depth: Int = 0) -> TypeReference {
        let roll = Int.random(in: 0..<10, using: &generator)
        var reference: TypeReference
        if roll < 2 && depth < 3 {
            reference = .array(type(customs: customs, depth: depth + 1))
        } else if roll < 4, let custom = customs.randomElement(using: &generator) {
            reference = .custom(custom)
        } else {
            reference = .scalar(Scalar.allCases.randomElement(using: &generator)!)
        }
        if Bool.random(using: &generator) { reference = .optional(reference) }
        return reference
    }

    mutating func fields(customs: [String]) -> [Field] {
        var names = Set<String>()
        return (0..<Int.random(in: 0...4, using: &generator)).compactMap { _ in
            let name = self.name(upper: false)
            guard names.insert(name).inserted else { return nil }
            // Optional custom references only, so that no required cycle can appear.
            var type = self.type(customs: customs)
            if case .custom = type { type = .optional(type) }
            return Field(name: name, type: type)
        }
    }

    mutating func schema() -> Schema {
        var used = Set<String>()
        func unique(_ make: () -> String) -> String {
            while true {
                let candidate = make()
                if used.insert(candidate).inserted { return candidate }
            }
        }
        let typeNames = (0..<Int.random(in: 0...3, using: &generator)).map { _ in unique { name(upper: true) } }
        let eventNames = (0..<Int.random(in: 1...4, using: &generator)).map { _ in unique { name(upper: true) } }
        let aggregateName = unique { name(upper: true) }
        let types = typeNames.map { TypeDefinition(name: $0, fields: fields(customs: typeNames)) }
        let events = eventNames.map { EventDefinition(name: $0, fields: fields(customs: typeNames)) }
        var commandNames = Set<String>()
        let commands: [Command] = (0..<Int.random(in: 1...4, using: &generator)).compactMap { _ in
            let name = self.name(upper: false)
            guard commandNames.insert(name).inserted else { return nil }
            let isTuple = Bool.random(using: &generator)
            let returned =
                isTuple
                ? Array(Set((0..<Int.random(in: 1...3, using: &generator)).map { _ in eventNames.randomElement(using: &generator)! }))
                    .sorted()
                : [eventNames.randomElement(using: &generator)!]
            let elements = returned.map { CommandReturn.Element(event: $0, isOptional: Bool.random(using: &generator)) }
            return Command(
                name: name, parameters: fields(customs: typeNames),
                returns: CommandReturn(
                    elements: elements, isTuple: isTuple, tupleIsOptional: isTuple && Bool.random(using: &generator)))
        }
        let version = SemanticVersion(
            major: Int.random(in: 0...20, using: &generator), minor: Int.random(in: 0...20, using: &generator),
            patch: Int.random(in: 0...20, using: &generator),
            prerelease: Bool.random(using: &generator) ? ["rc", "\(Int.random(in: 0...9, using: &generator))"] : [])
        return Schema(
            version: version, aggregate: Aggregate(name: aggregateName, commands: commands), events: events, types: types)
    }
}
