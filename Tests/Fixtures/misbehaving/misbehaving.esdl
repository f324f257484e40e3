version = "0.1.0"

// A module that misbehaves on command, to test that the host survives it.
aggregate Misbehaving {
  ok(n: Int) -> Done
  spin() -> Done
  grow() -> Done
  trap() -> Done
  recurse() -> Done
  bad_pointer() -> Done
  bad_tag() -> Done
  bad_event() -> Done
  bad_utf8() -> Done
  // Return events of a tuple: in order (ok), reversed, without the required one, or twice.
  pair_ok() -> (Done | Other?)
  pair_reversed() -> (Done | Other?)
  pair_missing() -> (Done | Other?)
  pair_twice() -> (Done | Other?)
}

event Done {
  n: Int
}

event Other {
  n: Int
}
