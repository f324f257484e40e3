version = "0.1.0"

// A counter that goes up and down. Events carry the new count, so a read model never
// has to add anything up.
aggregate Counter {
  increment(amount: Int) -> Incremented
  decrement(amount: Int) -> Decremented
}

event Incremented {
  amount: Int
  count: Long
}

event Decremented {
  amount: Int
  count: Long
}
