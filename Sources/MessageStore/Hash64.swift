import Crypto

/// Message DB's `hash_64`: the first 64 bits of the MD5 digest of a text, as a signed
/// big-endian integer (`left(md5(value), 16)::bit(64)::bigint`).
///
/// Consumer groups partition streams by `abs(hash_64(cardinal_id)) % size`; computing it
/// here lets the embedded and in-memory stores assign members exactly as PostgreSQL does.
public enum Hash64 {
    /// `hash_64(value)` as Message DB computes it.
    public static func messageDB(_ value: String) -> Int64 {
        var result: UInt64 = 0
        for byte in Insecure.MD5.hash(data: Array(value.utf8)).prefix(8) { result = result << 8 | UInt64(byte) }
        return Int64(bitPattern: result)
    }

    /// The 16-byte MD5 digest (RFC 1321, swift-crypto's) of `bytes`; for name-based ids, not
    /// for security.
    public static func md5(_ bytes: [UInt8]) -> [UInt8] {
        Array(Insecure.MD5.hash(data: bytes))
    }
}
