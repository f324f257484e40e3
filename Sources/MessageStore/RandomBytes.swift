import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Random bytes from the system's generator, fetched 4 KiB at a time: a random id then costs
/// a copy under a lock instead of a system call (`getrandom`) per 8 bytes.
///
/// The bytes are as random as the system's; they stay in this process's memory until used.
final class RandomBytes: @unchecked Sendable {
    static let shared = RandomBytes()

    private static let poolSize = 4096
    /// Only touched under `used`'s lock.
    private let pool = UnsafeMutableRawBufferPointer.allocate(byteCount: RandomBytes.poolSize, alignment: 8)
    /// How many bytes of the pool are used.
    private let used = Mutex(RandomBytes.poolSize)

    deinit { pool.deallocate() }

    /// Fills `buffer` (at most 4 KiB) with random bytes.
    func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        precondition(buffer.count <= Self.poolSize)
        used.withLock { used in
            if used + buffer.count > Self.poolSize {
                Self.refill(pool)
                used = 0
            }
            let taken = pool[used..<(used + buffer.count)]
            buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: taken))
            // Used bytes are cleared, so that no id's bytes stay behind in the pool.
            UnsafeMutableRawBufferPointer(rebasing: taken).initializeMemory(as: UInt8.self, repeating: 0)
            used += buffer.count
        }
    }

    private static func refill(_ bytes: UnsafeMutableRawBufferPointer) {
        #if canImport(Glibc)
            // glibc's arc4random_buf reads the kernel's generator (getrandom).
            arc4random_buf(bytes.baseAddress!, bytes.count)
        #else
            var generator = SystemRandomNumberGenerator()
            for offset in stride(from: 0, to: bytes.count, by: 8) {
                bytes.storeBytes(of: generator.next() as UInt64, toByteOffset: offset, as: UInt64.self)
            }
        #endif
    }
}
