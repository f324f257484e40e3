/// The bounds the host puts on every module call.
public struct ModuleLimits: Sendable, Hashable {
    /// Instructions (WasmKit fuel) one export call may execute.
    public var fuelPerCall: UInt64
    /// The largest linear memory a module may have, in bytes.
    public var maximumMemoryBytes: Int
    /// The interpreter stack, in bytes; deep recursion beyond it traps.
    public var stackBytes: Int
    /// The most events one `handle` may return.
    public var maximumEventsPerCommand: Int
    /// The most bytes of strings one call may return.
    public var maximumResultBytes: Int

    public init(
        fuelPerCall: UInt64 = 50_000_000,
        maximumMemoryBytes: Int = 64 << 20,
        stackBytes: Int = 512 << 10,
        maximumEventsPerCommand: Int = 1_000,
        maximumResultBytes: Int = 16 << 20
    ) {
        self.fuelPerCall = fuelPerCall
        self.maximumMemoryBytes = maximumMemoryBytes
        self.stackBytes = stackBytes
        self.maximumEventsPerCommand = maximumEventsPerCommand
        self.maximumResultBytes = maximumResultBytes
    }
}
