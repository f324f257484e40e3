/// A bank account: opened once, then deposits and withdrawals without overdraft.
struct BankAccount: BankAccountAggregate {
    var isOpen = false
    var balance: Int64 = 0

    init(id: String) {}

    /// `apply` reads neither `ctx.globalPosition` nor `ctx.time`, so the runtime may apply
    /// events before they are written and batch the commands of a busy account (contract 1.2).
    static var appliesUnwrittenEvents: Bool { true }

    func handleOpenAccount(_ ctx: Context, initialBalance: Int64) throws(AggregateError) -> OpenedAccount {
        guard !isOpen else { throw .fatal("account is already open") }
        guard initialBalance >= 0 else { throw .fatal("initial balance cannot be negative") }
        return OpenedAccount(initialBalance: initialBalance)
    }

    func handleDepositFunds(_ ctx: Context, amount: Int32) throws(AggregateError) -> DepositedFunds {
        guard isOpen else { throw .fatal("account is not open") }
        guard amount >= 0 else { throw .fatal("amount cannot be negative") }
        return DepositedFunds(amount: amount)
    }

    func handleWithdrawFunds(_ ctx: Context, amount: Int32) throws(AggregateError) -> WithdrewFunds {
        guard isOpen else { throw .fatal("account is not open") }
        guard amount >= 0 else { throw .fatal("amount cannot be negative") }
        guard Int64(amount) <= balance else { throw .fatal("insufficient funds") }
        return WithdrewFunds(amount: amount)
    }

    mutating func apply(_ event: OpenedAccount, _ ctx: Context) {
        isOpen = true
        balance = event.initialBalance
    }

    mutating func apply(_ event: DepositedFunds, _ ctx: Context) {
        balance += Int64(event.amount)
    }

    mutating func apply(_ event: WithdrewFunds, _ ctx: Context) {
        balance -= Int64(event.amount)
    }

    var state: JSONValue? {
        ["open": .bool(isOpen), "balance": .int(balance)]
    }

    // Snapshots: every 100 events (by default) the runtime saves `snapshot`, and loads a
    // long-lived account from it plus the events after it instead of replaying them all.

    var snapshot: JSONValue? {
        ["open": .bool(isOpen), "balance": .int(balance)]
    }

    init(id: String, snapshot: inout JSONReader) throws(JSONError) {
        try snapshot.beginObject()
        while try snapshot.nextKey() {
            if snapshot.key("open") {
                isOpen = try snapshot.readBool()
            } else if snapshot.key("balance") {
                balance = try snapshot.readInt64()
            } else {
                try snapshot.skipValue()
            }
        }
    }
}
