/// The syntax tree of one ESDL file, as written, with source locations.
///
/// The parser builds it even from a broken file (parts it could not read are left out or
/// `nil`), so that the validator can still report semantic problems in the rest.
struct SyntaxFile: Sendable {
    var versions: [VersionSyntax] = []
    var aggregates: [AggregateSyntax] = []
    var events: [RecordSyntax] = []
    var types: [RecordSyntax] = []
}

/// A name as written and where.
struct NameSyntax: Sendable, Hashable {
    var text: String
    var location: SourceLocation
}

/// `version = "0.1.0"`.
struct VersionSyntax: Sendable {
    /// Where the `version` keyword is.
    var keyword: SourceLocation
    /// The string's contents and location (quotes included), when there was a string.
    var value: NameSyntax?
}

/// `aggregate Name { … }`.
struct AggregateSyntax: Sendable {
    var keyword: SourceLocation
    var name: NameSyntax?
    var commands: [CommandSyntax]
}

/// `name(parameters) -> returns`.
struct CommandSyntax: Sendable {
    var name: NameSyntax
    var parameters: [FieldSyntax]
    var returns: ReturnSyntax?
}

/// What follows `->`.
struct ReturnSyntax: Sendable {
    /// Each event named, and whether it was marked `?`.
    var events: [(name: NameSyntax, optional: Bool)]
    /// Whether the return was written in parentheses, as a tuple.
    var isTuple: Bool
    /// Whether the whole parenthesised list was marked `?` (`(A | B)?`).
    var listIsOptional: Bool
}

/// `event Name { … }` or `type Name { … }`.
struct RecordSyntax: Sendable {
    var keyword: SourceLocation
    var name: NameSyntax?
    var fields: [FieldSyntax]
}

/// `name: Type`, a field or a parameter.
struct FieldSyntax: Sendable {
    var name: NameSyntax
    /// The type, when it could be read.
    var type: TypeSyntax?
}

/// A type as written: the reference it denotes, the base name inside the brackets and
/// optionals, and the location of the whole type.
struct TypeSyntax: Sendable {
    var reference: TypeReference
    var base: NameSyntax
    var location: SourceLocation
}
