/// A wallet: top-ups, sends with a fee below 100, a warning when under 10 is left, and a
/// close that pays out the rest. `send` and `close` emit several events at once.
struct Wallet: WalletAggregate {
    static let fee: Int64 = 1
    static let feeBelow: Int64 = 100
    static let lowBelow: Int64 = 10

    var balance: Int64 = 0
    var closed = false
    /// The type of the last event applied, to show that events apply in order.
    var last = ""

    init(id: String) {}

    func handleTopUp(_ ctx: Context, amount: Int64) throws(AggregateError) -> ToppedUp {
        guard !closed else { throw .fatal("wallet is closed") }
        guard amount > 0 else { throw .fatal("amount must be positive") }
        return ToppedUp(amount: amount)
    }

    func handleSend(_ ctx: Context, amount: Int64, to: String) throws(AggregateError)
        -> (sent: Sent, feeCharged: FeeCharged?, balanceLow: BalanceLow?)
    {
        guard !closed else { throw .fatal("wallet is closed") }
        guard amount > 0 else { throw .fatal("amount must be positive") }
        let fee = amount < Self.feeBelow ? Self.fee : 0
        guard amount + fee <= balance else { throw .fatal("insufficient funds") }
        let left = balance - amount - fee
        return (
            Sent(amount: amount, to: to),
            fee > 0 ? FeeCharged(fee: fee) : nil,
            left < Self.lowBelow ? BalanceLow(balance: left) : nil
        )
    }

    func handleClose(_ ctx: Context) throws(AggregateError) -> (paidOut: PaidOut?, closed: Closed) {
        guard !closed else { throw .fatal("wallet is closed") }
        return (balance > 0 ? PaidOut(amount: balance) : nil, Closed())
    }

    mutating func apply(_ event: ToppedUp, _ ctx: Context) {
        balance += event.amount
        last = "ToppedUp"
    }

    mutating func apply(_ event: Sent, _ ctx: Context) {
        balance -= event.amount
        last = "Sent"
    }

    mutating func apply(_ event: FeeCharged, _ ctx: Context) {
        balance -= event.fee
        last = "FeeCharged"
    }

    mutating func apply(_ event: BalanceLow, _ ctx: Context) {
        last = "BalanceLow"
    }

    mutating func apply(_ event: PaidOut, _ ctx: Context) {
        balance -= event.amount
        last = "PaidOut"
    }

    mutating func apply(_ event: Closed, _ ctx: Context) {
        closed = true
        last = "Closed"
    }

    var state: JSONValue? {
        ["balance": .int(balance), "closed": .bool(closed), "last": .string(last)]
    }
}
