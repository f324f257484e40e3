/// How ESDL names become Swift names in generated guest code.
enum SwiftNames {
    /// Words that must be escaped with backticks when used as identifiers.
    static let keywords: Set<String> = [
        "associatedtype", "class", "deinit", "enum", "extension", "fileprivate", "func", "import", "init",
        "inout", "internal", "let", "open", "operator", "private", "precedencegroup", "protocol", "public",
        "rethrows", "static", "struct", "subscript", "typealias", "var", "break", "case", "catch",
        "continue", "default", "defer", "do", "else", "fallthrough", "for", "guard", "if", "in", "repeat",
        "return", "throw", "switch", "where", "while", "Any", "as", "await", "false", "is", "nil", "self",
        "Self", "super", "throws", "true", "try", "_",
    ]

    /// Splits a name into words at underscores and at lower-to-upper case changes
    /// (`initial_balance` → `initial`, `balance`; `HTTPCode` → `HTTP`, `Code`).
    static func words(_ name: String) -> [String] {
        var words: [String] = []
        for part in name.split(separator: "_") {
            let characters = Array(part)
            var current = ""
            for (index, character) in characters.enumerated() {
                if !current.isEmpty, character.isUppercase {
                    let previous = characters[index - 1]
                    let nextIsLower = index + 1 < characters.count && characters[index + 1].isLowercase
                    if previous.isLowercase || previous.isNumber || (previous.isUppercase && nextIsLower) {
                        words.append(current)
                        current = ""
                    }
                }
                current.append(character)
            }
            if !current.isEmpty { words.append(current) }
        }
        return words
    }

    /// `initial_balance` → `initialBalance`, `URL_path` → `urlPath`, `Amount` → `amount`.
    static func lowerCamel(_ name: String) -> String {
        let parts = words(name)
        guard let first = parts.first else { return "field" }
        var result = first.lowercased()
        for word in parts.dropFirst() { result += capitalized(word) }
        if let initial = result.first, initial.isNumber { result = "field" + result }
        return result
    }

    /// `deposit_funds` → `DepositFunds`.
    static func upperCamel(_ name: String) -> String {
        let result = words(name).map(capitalized).joined()
        guard let initial = result.first else { return "Unnamed" }
        return initial.isNumber ? "N" + result : result
    }

    /// `BankAccount` → `bank_account`.
    static func snakeCase(_ name: String) -> String {
        words(name).map { $0.lowercased() }.joined(separator: "_")
    }

    /// The name as a Swift identifier, in backticks when it is a keyword.
    static func identifier(_ name: String) -> String {
        keywords.contains(name) ? "`\(name)`" : name
    }

    /// The name as an argument label at a call site: keywords need no backticks there,
    /// except `inout`, `var` and `let`.
    static func label(_ name: String) -> String {
        ["inout", "var", "let"].contains(name) ? "`\(name)`" : name
    }

    private static func capitalized(_ word: String) -> String {
        guard let first = word.first else { return word }
        return first.uppercased() + word.dropFirst()
    }
}
