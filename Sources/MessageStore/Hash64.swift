import Crypto
import Foundation

/// Message DB's `hash_64`: the first 64 bits of the MD5 digest of a text, as a signed
/// big-endian integer (`left(md5(value), 16)::bit(64)::bigint`).
///
/// Consumer groups partition streams by `abs(hash_64(cardinal_id)) % size`; computing it
/// here lets the embedded and in-memory stores assign members exactly as PostgreSQL does.
public enum Hash64 {
    /// `hash_64(value)` as Message DB computes it.
    public static func messageDB(_ value: String) -> Int64 {
        var value = value
        return Int64(bitPattern: value.withUTF8 { md5Prefix(UnsafeRawBufferPointer($0)) })
    }

    /// The MD5 digest (RFC 1321, swift-crypto's) of `first` followed by `second`, as the 16
    /// bytes of a UUID: for name-based ids, not for security. Hashes in place, without arrays
    /// for the input or the digest.
    public static func md5(_ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer) -> uuid_t {
        var hasher = Insecure.MD5()
        hasher.update(bufferPointer: first)
        hasher.update(bufferPointer: second)
        var value = UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)).uuid
        hasher.finalize().withUnsafeBytes { digest in
            withUnsafeMutableBytes(of: &value) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: digest.prefix(16))) }
        }
        return value
    }

    /// The first 8 bytes of the MD5 digest of `bytes`, big-endian: what ``messageDB(_:)``
    /// and command digests keep. Hashes the bytes in place (the generic `hash(data:)` of an
    /// array cost a few microseconds per command).
    public static func md5Prefix(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var hasher = Insecure.MD5()
        hasher.update(bufferPointer: bytes)
        return hasher.finalize().withUnsafeBytes { digest in
            var result: UInt64 = 0
            for index in 0..<8 { result = result << 8 | UInt64(digest[index]) }
            return result
        }
    }
}
