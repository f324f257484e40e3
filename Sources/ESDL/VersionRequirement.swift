/// Which versions of a module to accept when fetching it from the registry, written as
/// in Cargo: comma-separated comparators that must all match.
///
/// | requirement | matches |
/// | --- | --- |
/// | `*` | any release |
/// | `1.2.3`, `=1.2.3` | exactly 1.2.3 (build metadata ignored) |
/// | `1.2`, `=1.2`, `1.2.*` | `>=1.2.0, <1.3.0` |
/// | `1`, `=1`, `1.*` | `>=1.0.0, <2.0.0` |
/// | `^1.2.3` | `>=1.2.3, <2.0.0` (and `^0.2.3` is `>=0.2.3, <0.3.0`, `^0.0.3` is `=0.0.3`) |
/// | `^1.2` | `>=1.2.0, <2.0.0` (`^0.2` is `>=0.2.0, <0.3.0`, `^0` is `<1.0.0`) |
/// | `~1.2.3` | `>=1.2.3, <1.3.0` (`~1.2` is `=1.2`, `~1` is `=1`) |
/// | `>1.2.3`, `>=1.2.3`, `<1.2.3`, `<=1.2.3` | by semver precedence; with fewer parts the missing ones are filled so that `>1.2` is `>=1.3.0` and `<=1.2` is `<1.3.0` |
///
/// Pre-releases match only when asked for: a version such as `2.0.0-rc.1` satisfies a
/// requirement only if one of its comparators names a pre-release of the same
/// `major.minor.patch` (`>=2.0.0-rc.0`), so `*` or `^1` never pick an unfinished release.
///
/// ```swift
/// let requirement = try VersionRequirement(">=1.0.0, <2.0.0")
/// requirement.matches(SemanticVersion("1.4.0")!) // true
/// ```
public struct VersionRequirement: Sendable, Hashable, Codable, CustomStringConvertible {
    /// One comparison, such as `>=1.0.0` or `^1.2`.
    public struct Comparator: Sendable, Hashable, CustomStringConvertible {
        /// The comparison a comparator makes.
        public enum Operator: String, Sendable, Hashable, CaseIterable {
            /// `=` (also a bare version): equal, or within the given prefix.
            case exact = "="
            /// `>`: greater by precedence.
            case greater = ">"
            /// `>=`: greater or equal.
            case greaterOrEqual = ">="
            /// `<`: less by precedence.
            case less = "<"
            /// `<=`: less or equal.
            case lessOrEqual = "<="
            /// `~`: at least this version, same minor (same major when only the major is given).
            case tilde = "~"
            /// `^`: at least this version, no change of the leftmost non-zero part.
            case caret = "^"
            /// `*`: any version.
            case wildcard = "*"
        }

        /// The comparison.
        public var op: Operator
        /// The major version; ignored for ``Operator/wildcard``.
        public var major: Int
        /// The minor version, or `nil` when the comparator gives only the major.
        public var minor: Int?
        /// The patch version, or `nil` when the comparator gives fewer parts.
        public var patch: Int?
        /// Pre-release identifiers (only with a full version).
        public var prerelease: [String]

        /// Creates a comparator. `patch` requires `minor`, and `prerelease` requires `patch`.
        public init(_ op: Operator, major: Int = 0, minor: Int? = nil, patch: Int? = nil, prerelease: [String] = []) {
            self.op = op
            self.major = major
            self.minor = minor
            self.patch = patch
            self.prerelease = prerelease
        }

        /// The comparator as text, e.g. `>=1.0.0`, `^1.2`, `*`.
        public var description: String {
            if op == .wildcard { return "*" }
            var text = op.rawValue + String(major)
            if let minor { text += ".\(minor)" }
            if let patch { text += ".\(patch)" }
            if !prerelease.isEmpty { text += "-" + prerelease.joined(separator: ".") }
            return text
        }

        /// The full version the comparator names, when it names all three parts.
        private var bound: SemanticVersion? {
            guard let minor, let patch else { return nil }
            return SemanticVersion(major: major, minor: minor, patch: patch, prerelease: prerelease)
        }

        /// Whether `version` satisfies this comparator, ignoring the pre-release rule
        /// (which is applied across the whole requirement).
        public func matches(_ version: SemanticVersion) -> Bool {
            let v = version
            switch op {
            case .wildcard:
                return true
            case .exact:
                if let bound { return v.hasSamePrecedence(as: bound) }
                return v.major == major && (minor == nil || v.minor == minor)
            case .greater:
                if let bound { return bound < v }
                if let minor { return (v.major, v.minor) > (major, minor) }
                return v.major > major
            case .greaterOrEqual:
                if let bound { return !(v < bound) }
                if let minor { return (v.major, v.minor) >= (major, minor) }
                return v.major >= major
            case .less:
                if let bound { return v < bound }
                if let minor { return (v.major, v.minor) < (major, minor) }
                return v.major < major
            case .lessOrEqual:
                if let bound { return !(bound < v) }
                if let minor { return (v.major, v.minor) <= (major, minor) }
                return v.major <= major
            case .tilde:
                if let bound, v < bound { return false }
                if let minor { return v.major == major && v.minor == minor }
                return v.major == major
            case .caret:
                if let bound, v < bound { return false }
                guard let minor else { return v.major == major }
                if major > 0 { return v.major == major && v.minor >= minor }
                guard let patch else { return v.major == 0 && v.minor == minor }
                if minor > 0 { return v.major == 0 && v.minor == minor }
                return v.major == 0 && v.minor == 0 && v.patch == patch
            }
        }
    }

    /// The comparators, all of which must match.
    public var comparators: [Comparator]

    /// Creates a requirement from comparators (none means any release).
    public init(comparators: [Comparator]) {
        self.comparators = comparators
    }

    /// Any release: `*`.
    public static let any = VersionRequirement(comparators: [Comparator(.wildcard)])

    /// A requirement matching exactly one version (by precedence).
    public static func exactly(_ version: SemanticVersion) -> VersionRequirement {
        VersionRequirement(comparators: [
            Comparator(
                .exact, major: version.major, minor: version.minor, patch: version.patch,
                prerelease: version.prerelease)
        ])
    }

    /// Parses a requirement such as `^1.2`, `~1.2.3`, `=1.0.0` or `>=1.0.0, <2.0.0`.
    ///
    /// - Throws: ``ESDLError`` with one diagnostic of code
    ///   ``Diagnostic/Code/invalidVersionRequirement`` pointing at the offending column;
    ///   its `description` reads like
    ///   ```
    ///   error: invalid version requirement: expected ',' between comparators, found '<'
    ///   >=1.0 <2.0
    ///         ^
    ///   ```
    public init(_ text: String) throws(ESDLError) {
        var parser = RequirementParser(text)
        switch parser.parse() {
        case .success(let comparators):
            self.comparators = comparators
        case .failure(let failure):
            throw ESDLError(
                diagnostics: [
                    .error(
                        .invalidVersionRequirement, "invalid version requirement: \(failure.message)",
                        at: SourceLocation(file: "", line: 1, column: failure.column, length: failure.length))
                ],
                source: text)
        }
    }

    /// Whether `version` satisfies every comparator, with the pre-release rule described
    /// on the type.
    public func matches(_ version: SemanticVersion) -> Bool {
        for comparator in comparators where !comparator.matches(version) { return false }
        guard !version.prerelease.isEmpty else { return true }
        return comparators.contains { comparator in
            !comparator.prerelease.isEmpty && comparator.major == version.major && comparator.minor == version.minor
                && comparator.patch == version.patch
        }
    }

    /// The highest version (by precedence) among `versions` that matches, if any.
    public func highestMatch(in versions: some Sequence<SemanticVersion>) -> SemanticVersion? {
        var best: SemanticVersion?
        for version in versions where matches(version) {
            if let current = best, !(current < version) { continue }
            best = version
        }
        return best
    }

    /// The requirement in normalised form: comparators joined by `, ` (`>=1.0.0, <2.0.0`).
    public var description: String {
        comparators.isEmpty ? "*" : comparators.map(\.description).joined(separator: ", ")
    }

    /// Decodes a requirement from its text form.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do {
            self = try VersionRequirement(text)
        } catch {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: error.diagnostics.first?.message ?? "invalid version requirement")
        }
    }

    /// Encodes the requirement as its normalised text.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// Reads the requirement syntax, remembering columns for error messages.
private struct RequirementParser {
    struct Failure: Error {
        var message: String
        var column: Int
        var length: Int
    }

    private let scalars: [Unicode.Scalar]
    private var index = 0

    init(_ text: String) {
        scalars = Array(text.unicodeScalars)
    }

    private var current: Unicode.Scalar? { index < scalars.count ? scalars[index] : nil }

    private func fail(_ message: String, length: Int = 1) -> Failure {
        Failure(message: message, column: index + 1, length: length)
    }

    private func describeCurrent() -> String {
        guard let current else { return "end of input" }
        if current.value < 0x20 || current.value == 0x7F { return "U+" + String(current.value, radix: 16, uppercase: true) }
        return "'\(current)'"
    }

    private mutating func skipSpaces() {
        while let scalar = current, scalar == " " || scalar == "\t" { index += 1 }
    }

    mutating func parse() -> Result<[VersionRequirement.Comparator], Failure> {
        skipSpaces()
        if current == nil {
            return .failure(
                fail(
                    "the requirement is empty; expected '*', a version such as 1.2.3, or comparators such as '>=1.0.0, <2.0.0'",
                    length: 0))
        }
        var comparators: [VersionRequirement.Comparator] = []
        while true {
            switch comparator() {
            case .success(let comparator): comparators.append(comparator)
            case .failure(let failure): return .failure(failure)
            }
            skipSpaces()
            guard let next = current else { return .success(comparators) }
            if next == "," {
                index += 1
                skipSpaces()
                if current == nil { return .failure(fail("expected a comparator after ',', found end of input", length: 0)) }
                continue
            }
            if next == "|" {
                return .failure(
                    fail(
                        "'||' (either requirement) is not supported; expected comparators that must all match, separated by ','", length: 2)
                )
            }
            return .failure(fail("expected ',' between comparators, found \(describeCurrent())"))
        }
    }

    private mutating func comparator() -> Result<VersionRequirement.Comparator, Failure> {
        let op: VersionRequirement.Comparator.Operator?
        switch current {
        case "=":
            index += 1
            op = .exact
        case ">":
            index += 1
            if current == "=" { index += 1; op = .greaterOrEqual } else { op = .greater }
        case "<":
            index += 1
            if current == "=" { index += 1; op = .lessOrEqual } else { op = .less }
        case "~":
            index += 1
            op = .tilde
        case "^":
            index += 1
            op = .caret
        default:
            op = nil
        }
        skipSpaces()
        if op == nil, isWildcard(current) {
            index += 1
            // `*.*` and `*.*.*` say the same as `*`.
            while current == ".", index + 1 < scalars.count, isWildcard(scalars[index + 1]) { index += 2 }
            return .success(.init(.wildcard))
        }
        let opText = op.map { "'\($0.rawValue)'" } ?? "the start"
        guard let scalar = current, scalar.properties.numericType != nil || isWildcard(scalar) || isLetter(scalar) else {
            return .failure(
                fail("expected a version such as 1.2.3 after \(opText), found \(describeCurrent())", length: current == nil ? 0 : 1))
        }
        var parts: [Int] = []
        var sawWildcard = false
        var written = 0
        while written < 3 {
            written += 1
            if isWildcard(current) {
                if let op, op != .exact {
                    return .failure(fail("a wildcard is allowed only in a bare or '=' comparator, not after '\(op.rawValue)'"))
                }
                index += 1
                sawWildcard = true
            } else {
                if sawWildcard {
                    return .failure(fail("expected a wildcard after a wildcard (as in 1.*.*), found \(describeCurrent())"))
                }
                let start = index
                while let scalar = current, isAlphanumeric(scalar) { index += 1 }
                let text = String(String.UnicodeScalarView(scalars[start..<index]))
                switch SemanticVersion.number(Substring(text)) {
                case .success(let value): parts.append(value)
                case .failure(let error):
                    index = start
                    let problem = text.isEmpty ? "expected a number, found \(describeCurrent())" : error.reason
                    return .failure(fail(problem, length: max(1, text.unicodeScalars.count)))
                }
            }
            guard current == "." else { break }
            if written == 3 {
                return .failure(fail("a version has at most three numbers MAJOR.MINOR.PATCH, found another '.'"))
            }
            index += 1
        }
        var prerelease: [String] = []
        if current == "-" || current == "+" {
            let start = index
            while let scalar = current, scalar != ",", scalar != " ", scalar != "\t" { index += 1 }
            let suffix = String(String.UnicodeScalarView(scalars[start..<index]))
            guard parts.count == 3 else {
                index = start
                return .failure(
                    fail("a pre-release or build suffix needs a full version MAJOR.MINOR.PATCH", length: suffix.unicodeScalars.count))
            }
            switch SemanticVersion.parse("0.0.0" + suffix) {
            case .success(let parsed): prerelease = parsed.prerelease
            case .failure(let error):
                index = start
                return .failure(fail(error.reason, length: suffix.unicodeScalars.count))
            }
        }
        if parts.isEmpty {
            return .success(.init(.wildcard))
        }
        return .success(
            .init(
                op ?? .exact, major: parts[0], minor: parts.count > 1 ? parts[1] : nil,
                patch: parts.count > 2 ? parts[2] : nil, prerelease: prerelease))
    }

    private func isWildcard(_ scalar: Unicode.Scalar?) -> Bool {
        scalar == "*" || scalar == "x" || scalar == "X"
    }

    private func isLetter(_ scalar: Unicode.Scalar) -> Bool {
        (scalar >= "a" && scalar <= "z") || (scalar >= "A" && scalar <= "Z")
    }

    private func isAlphanumeric(_ scalar: Unicode.Scalar) -> Bool {
        isLetter(scalar) || (scalar >= "0" && scalar <= "9")
    }
}
