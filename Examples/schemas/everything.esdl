// A schema that uses every form ESDL has, for code generators and their tests.
// It describes a shop's order; it is not meant as a model of good design.
version = "0.1.0"

aggregate Order {
  /* Scalars of every kind, each required. */
  place(
    customer: String,
    quantity: Int,
    total_cents: Long,
    weight: Float,
    exchange_rate: Double,
    gift: Bool,
    signature: Bytes,
  ) -> Placed

  // Optionals, arrays and their nestings; parameters separated by commas or new lines.
  amend(note: String?, tags: [String], labels: [String?]?
        matrix: [[Int]], lines: [OrderLine]) -> (Amended? | Rejected?)

  // May produce no event: an optional return.
  touch() -> Touched?

  // A tuple: every event listed, in this order; Shipped always, Rejected when the handler
  // chooses. (amend's tuple of optionals above is a choice of one, or none.)
  ship(address: Address, tracking: String?) -> (Shipped | Rejected?)

  // The whole tuple, or no event at all.
  archive() -> (Touched | Rejected)?

  // Names that are keywords in Swift (or in ESDL itself) must survive code generation.
  configure(default: Bool, class: String, self: Int, protocol: String?, type: String) -> Configured
}

event Placed {
  customer: String
  quantity: Int
  total_cents: Long
  weight: Float
  exchange_rate: Double
  gift: Bool
  signature: Bytes
}

event Amended {
  note: String?
  tags: [String]
  labels: [String?]?
  matrix: [[Int]]
  lines: [OrderLine]
}

event Touched {}

event Shipped {
  address: Address
  tracking: String?
  history: [Address?]?
}

event Rejected {
  reason: String
}

event Configured { default: Bool, class: String, self: Int, protocol: String?, type: String }

// A custom type that nests other custom types.
type Address {
  street: String
  city: String
  country: Country
  location: Coordinates?
}

type Country {
  code: String
  name: String
}

type Coordinates {
  latitude: Double
  longitude: Double
}

type OrderLine {
  sku: String
  quantity: Int
  price_cents: Long
  options: [LineOption]?
}

type LineOption {
  name: String
  value: String?
}

// Recursive through an optional and through an array: both allowed.
type Category {
  name: String
  parent: Category?
  children: [Category]
}
