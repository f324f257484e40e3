extension SemanticVersion {
    /// Parses a version written by the Semantic Versioning 2.0.0 grammar:
    /// `MAJOR.MINOR.PATCH`, then optionally `-` and dot-separated pre-release identifiers,
    /// then optionally `+` and dot-separated build identifiers.
    ///
    /// Strict: no leading `v`, no leading zeros in numbers, no missing parts, no spaces.
    ///
    /// ```swift
    /// SemanticVersion("1.2.3-rc.1+build.5") // major 1, minor 2, patch 3, prerelease ["rc", "1"]
    /// SemanticVersion("1.2")                // nil
    /// ```
    public init?(_ text: String) {
        guard case .success(let version) = SemanticVersion.parse(text) else { return nil }
        self = version
    }

    /// Parses a version, or says what is wrong with it (used in diagnostics).
    static func parse(_ text: String) -> Result<SemanticVersion, VersionSyntaxError> {
        if text.isEmpty { return .failure(VersionSyntaxError("the version is empty")) }
        var rest = Substring(text)
        var build: [String] = []
        if let plus = rest.firstIndex(of: "+") {
            let identifiers = rest[rest.index(after: plus)...].split(separator: ".", omittingEmptySubsequences: false)
            for identifier in identifiers {
                if let problem = problem(withIdentifier: identifier, role: "build", numericMayHaveLeadingZero: true) {
                    return .failure(VersionSyntaxError(problem))
                }
            }
            build = identifiers.map(String.init)
            rest = rest[..<plus]
        }
        var prerelease: [String] = []
        if let dash = rest.firstIndex(of: "-") {
            let identifiers = rest[rest.index(after: dash)...].split(separator: ".", omittingEmptySubsequences: false)
            for identifier in identifiers {
                if let problem = problem(withIdentifier: identifier, role: "pre-release", numericMayHaveLeadingZero: false) {
                    return .failure(VersionSyntaxError(problem))
                }
            }
            prerelease = identifiers.map(String.init)
            rest = rest[..<dash]
        }
        let parts = rest.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else {
            return .failure(
                VersionSyntaxError("it has \(parts.count) dot-separated part\(parts.count == 1 ? "" : "s"), not three"))
        }
        var numbers: [Int] = []
        for part in parts {
            switch number(part) {
            case .success(let value): numbers.append(value)
            case .failure(let error): return .failure(error)
            }
        }
        return .success(
            SemanticVersion(
                major: numbers[0], minor: numbers[1], patch: numbers[2], prerelease: prerelease, build: build))
    }

    /// Reads a version number: ASCII digits, no leading zero, fitting in `Int`.
    static func number(_ text: Substring) -> Result<Int, VersionSyntaxError> {
        guard !text.isEmpty else { return .failure(VersionSyntaxError("a number is missing")) }
        guard text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
            return .failure(VersionSyntaxError("'\(Parser.shorten(String(text)))' is not a number"))
        }
        guard text == "0" || text.first != "0" else {
            return .failure(VersionSyntaxError("'\(text)' has a leading zero"))
        }
        guard let value = Int(text) else {
            return .failure(VersionSyntaxError("'\(Parser.shorten(String(text)))' is too large"))
        }
        return .success(value)
    }

    private static func problem(
        withIdentifier identifier: Substring, role: String, numericMayHaveLeadingZero: Bool
    ) -> String? {
        if identifier.isEmpty { return "a \(role) identifier is empty" }
        let allowed = identifier.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "-"):
                return true
            default:
                return false
            }
        }
        if !allowed {
            return "\(role) identifier '\(Parser.shorten(String(identifier)))' may contain only ASCII letters, digits and '-'"
        }
        if !numericMayHaveLeadingZero, isNumeric(identifier), identifier.count > 1, identifier.first == "0" {
            return "numeric \(role) identifier '\(identifier)' has a leading zero"
        }
        return nil
    }

    static func isNumeric(_ identifier: some StringProtocol) -> Bool {
        !identifier.isEmpty && identifier.utf8.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
    }

    /// The version as written by semver: `1.2.3`, `1.2.3-rc.1`, `1.2.3-rc.1+build.5`.
    public var description: String {
        var text = "\(major).\(minor).\(patch)"
        if !prerelease.isEmpty { text += "-" + prerelease.joined(separator: ".") }
        if !build.isEmpty { text += "+" + build.joined(separator: ".") }
        return text
    }

    /// Semver precedence: major, minor and patch numerically; a pre-release sorts before
    /// its release; pre-release identifiers compare numerically when both are numbers,
    /// numbers before text, text in ASCII order, and a shorter list first when all else is
    /// equal. Build metadata is ignored, so `1.0.0+a` and `1.0.0+b` are neither less nor
    /// greater than each other (though not `==`, which compares every part).
    public static func < (lhs: SemanticVersion, rhs: SemanticVersion) -> Bool {
        if lhs.major != rhs.major { return lhs.major < rhs.major }
        if lhs.minor != rhs.minor { return lhs.minor < rhs.minor }
        if lhs.patch != rhs.patch { return lhs.patch < rhs.patch }
        switch (lhs.prerelease.isEmpty, rhs.prerelease.isEmpty) {
        case (true, true), (true, false): return false
        case (false, true): return true
        case (false, false): break
        }
        for (left, right) in zip(lhs.prerelease, rhs.prerelease) where left != right {
            return identifier(left, precedes: right)
        }
        return lhs.prerelease.count < rhs.prerelease.count
    }

    private static func identifier(_ left: String, precedes right: String) -> Bool {
        switch (isNumeric(left), isNumeric(right)) {
        case (true, true):
            // Compare as numbers of any size, without overflow.
            let left = left.drop { $0 == "0" }
            let right = right.drop { $0 == "0" }
            if left.count != right.count { return left.count < right.count }
            return left.utf8.lexicographicallyPrecedes(right.utf8)
        case (true, false): return true
        case (false, true): return false
        case (false, false): return left.utf8.lexicographicallyPrecedes(right.utf8)
        }
    }

    /// Whether two versions have the same precedence (equal but for build metadata).
    public func hasSamePrecedence(as other: SemanticVersion) -> Bool {
        !(self < other) && !(other < self)
    }

    /// This version without pre-release or build parts.
    public var release: SemanticVersion {
        SemanticVersion(major: major, minor: minor, patch: patch)
    }
}

extension SemanticVersion {
    /// Decodes a version from its string form, `"1.2.3"`.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        switch SemanticVersion.parse(text) {
        case .success(let version): self = version
        case .failure(let error):
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "invalid semantic version '\(text)': \(error.reason)")
        }
    }

    /// Encodes the version as its string form, `"1.2.3"`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// Why a version string is not a semantic version.
struct VersionSyntaxError: Error, Sendable, Hashable {
    var reason: String

    init(_ reason: String) { self.reason = reason }
}
