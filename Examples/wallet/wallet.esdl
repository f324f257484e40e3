version = "0.1.0"

// A wallet whose commands emit several events: an ESDL tuple lists every event a command
// emits, in order; `?` marks the ones the handler may leave out.
aggregate Wallet {
  top_up(amount: Long) -> ToppedUp

  // Sent always; FeeCharged for small amounts; BalanceLow when little is left.
  send(amount: Long, to: String) -> (Sent | FeeCharged? | BalanceLow?)

  // Pays out what is left (if anything), then closes.
  close() -> (PaidOut? | Closed)
}

event ToppedUp {
  amount: Long
}

event Sent {
  amount: Long
  to: String
}

event FeeCharged {
  fee: Long
}

event BalanceLow {
  balance: Long
}

event PaidOut {
  amount: Long
}

event Closed {}
