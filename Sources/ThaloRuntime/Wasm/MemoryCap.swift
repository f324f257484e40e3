import WasmKit

/// Stops a call whose memory would grow beyond the module's cap. Throwing (rather than
/// letting `memory.grow` return -1) ends the call at once with a clear error, whatever the
/// guest would have done with the failure.
final class MemoryCap: ResourceLimiter {
    struct Exceeded: Error {
        let desired: Int
        let maximum: Int
    }

    let maximumBytes: Int
    init(maximumBytes: Int) { self.maximumBytes = maximumBytes }
    func limitMemoryGrowth(to desired: Int) throws -> Bool {
        if desired > maximumBytes { throw Exceeded(desired: desired, maximum: maximumBytes) }
        return true
    }
    func limitTableGrowth(to desired: Int) throws -> Bool { desired <= 100_000 }
}
