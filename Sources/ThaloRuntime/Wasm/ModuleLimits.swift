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
    /// The most bytes of events (types, payloads, metadata) handed to one `apply` call;
    /// replay splits longer runs of events into several calls.
    public var maximumApplyBytes: Int
    /// Extra instructions an `apply` call may execute per byte of events it is given, on
    /// top of ``fuelPerCall``: the budget grows with the work, so that large events replay.
    public var fuelPerAppliedByte: UInt64

    public init(
        fuelPerCall: UInt64 = 50_000_000,
        maximumMemoryBytes: Int = 64 << 20,
        stackBytes: Int = 512 << 10,
        maximumEventsPerCommand: Int = 1_000,
        maximumResultBytes: Int = 16 << 20,
        maximumApplyBytes: Int = 4 << 20,
        fuelPerAppliedByte: UInt64 = 1_000
    ) {
        self.fuelPerCall = fuelPerCall
        self.maximumMemoryBytes = maximumMemoryBytes
        self.stackBytes = stackBytes
        self.maximumEventsPerCommand = maximumEventsPerCommand
        self.maximumResultBytes = maximumResultBytes
        self.maximumApplyBytes = max(1, maximumApplyBytes)
        self.fuelPerAppliedByte = fuelPerAppliedByte
    }

    /// The budget of a call that works through `bytes` of input: ``fuelPerCall`` plus
    /// ``fuelPerAppliedByte`` per byte (saturating).
    public func fuel(forBytes bytes: Int) -> UInt64 {
        let (extra, overflow) = UInt64(max(0, bytes)).multipliedReportingOverflow(by: fuelPerAppliedByte)
        let (total, overflowed) = fuelPerCall.addingReportingOverflow(extra)
        return overflow || overflowed ? UInt64.max : total
    }
}
