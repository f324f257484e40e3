/// The rule for names in ESDL.
enum Identifier {
    /// Whether `name` is an identifier: an ASCII letter or `_`, then ASCII letters,
    /// digits or `_`. These names become JSON keys, message types and identifiers in
    /// generated code for any guest language, so nothing fancier is allowed.
    static func isValid(_ name: String) -> Bool {
        var bytes = name.utf8.makeIterator()
        guard let first = bytes.next(), isLetter(first) || first == UInt8(ascii: "_") else { return false }
        while let byte = bytes.next() {
            guard isLetter(byte) || isDigit(byte) || byte == UInt8(ascii: "_") else { return false }
        }
        return true
    }

    /// Why `name` is not an identifier, to finish "… is not a valid name; …".
    static func problem(with name: String) -> String {
        guard let first = name.unicodeScalars.first else { return "a name cannot be empty" }
        if first.value < 0x80 && isDigit(UInt8(first.value)) {
            return "a name cannot start with a digit"
        }
        if name.contains("-") {
            return "'-' is not allowed in names"
        }
        return "a name uses only ASCII letters, digits and '_', and does not start with a digit"
    }

    /// A valid name close to an invalid one (`deposit-funds` → `deposit_funds`), if any.
    static func repaired(_ name: String) -> String? {
        let replaced = String(name.map { $0 == "-" ? "_" : $0 })
        if isValid(replaced) { return replaced }
        if let first = replaced.unicodeScalars.first, first.value < 0x80, isDigit(UInt8(first.value)),
            isValid("_" + replaced)
        {
            return "_" + replaced
        }
        return nil
    }

    private static func isLetter(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }
}
