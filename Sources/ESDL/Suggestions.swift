/// "Did you mean …?" suggestions for misspelt names.
enum Suggestions {
    /// Common names from other languages for ESDL's scalars.
    private static let scalarAliases: [String: String] = [
        "integer": "Int", "int32": "Int", "i32": "Int", "number": "Double",
        "int64": "Long", "i64": "Long", "bigint": "Long",
        "float32": "Float", "f32": "Float", "float64": "Double", "f64": "Double", "decimal": "Double",
        "boolean": "Bool", "str": "String", "text": "String", "data": "Bytes", "binary": "Bytes",
        "blob": "Bytes", "bytearray": "Bytes",
    ]

    /// The candidate closest to `name`: equal ignoring case, a known alias of a scalar, or
    /// within a small edit distance.
    static func closest(to name: String, among candidates: some Sequence<String>) -> String? {
        let lowered = name.lowercased()
        let candidates = Array(candidates)
        if let sameIgnoringCase = candidates.first(where: { $0.lowercased() == lowered }) {
            return sameIgnoringCase
        }
        if let alias = scalarAliases[lowered], candidates.contains(alias) {
            return alias
        }
        // Long names are not typos of short ones, and a huge file's many candidates are not
        // worth a quadratic comparison each.
        guard name.count <= 64, candidates.count <= 512 else { return nil }
        let limit = max(1, min(3, name.count / 3))
        var best: (name: String, distance: Int)?
        for candidate in candidates where abs(candidate.count - name.count) <= limit {
            let distance = editDistance(lowered, candidate.lowercased())
            if distance <= limit && distance < (best?.distance ?? Int.max) {
                best = (candidate, distance)
            }
        }
        return best?.name
    }

    /// Levenshtein distance over Unicode scalars.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a.unicodeScalars)
        let b = Array(b.unicodeScalars)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var row = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            row[0] = i
            for j in 1...b.count {
                let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
                row[j] = min(previous[j] + 1, row[j - 1] + 1, substitution)
            }
            swap(&previous, &row)
        }
        return previous[b.count]
    }
}
