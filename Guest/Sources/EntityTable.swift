/// The live entities of a module, keyed by the handles given to the host.
///
/// Handles are slot numbers plus one (0 is never a handle); a dropped entity's slot is
/// reused by the next `insert`, so the table never grows beyond the largest number of
/// entities alive at once.
public struct EntityTable<Entity> {
    @usableFromInline var slots: [Entity?] = []
    @usableFromInline var freeSlots: [UInt32] = []

    /// An empty table.
    public init() {}

    /// The number of live entities.
    public var count: Int { slots.count - freeSlots.count }

    /// Stores an entity and returns its handle.
    public mutating func insert(_ entity: Entity) -> UInt32 {
        if let slot = freeSlots.popLast() {
            slots[Int(slot)] = entity
            return slot + 1
        }
        slots.append(entity)
        return UInt32(slots.count)
    }

    /// Releases the entity with this handle; unknown handles are ignored.
    public mutating func remove(_ handle: UInt32) {
        let slot = Int(handle) - 1
        guard slot >= 0, slot < slots.count, slots[slot] != nil else { return }
        slots[slot] = nil
        freeSlots.append(UInt32(slot))
    }

    /// Runs `body` on the entity in place (no copy of its state). An unknown handle is a
    /// host bug: the module traps, and the host discards the instance.
    @inline(__always)
    public mutating func modify<Result, Failure: Error>(
        _ handle: UInt32, _ body: (inout Entity) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        let slot = Int(handle) - 1
        guard slot >= 0, slot < slots.count, slots[slot] != nil else { fatalError("unknown entity handle") }
        return try body(&slots[slot]!)
    }

    /// The entity with this handle; traps on an unknown handle.
    @inline(__always)
    public func read<Result, Failure: Error>(
        _ handle: UInt32, _ body: (borrowing Entity) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        let slot = Int(handle) - 1
        guard slot >= 0, slot < slots.count, let entity = slots[slot] else { fatalError("unknown entity handle") }
        return try body(entity)
    }
}
