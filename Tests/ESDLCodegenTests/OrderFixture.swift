/// An implementation of everything.esdl's `Order` that uses every generated form, so that
/// compiling it checks the generated code end to end.
enum OrderFixture {
    static let source = #"""
        /// Exercises every generated form of everything.esdl.
        struct Order: OrderAggregate {
            var placed: Placed? = nil
            var tags: [String] = []
            var category: Category? = nil

            init(id: String) {}

            func handlePlace(_ ctx: Context, customer: String, quantity: Int32, totalCents: Int64, weight: Float, exchangeRate: Double, gift: Bool, signature: [UInt8]) throws(AggregateError) -> Placed {
                guard placed == nil else { throw .fatal("already placed") }
                return Placed(customer: customer, quantity: quantity, totalCents: totalCents, weight: weight, exchangeRate: exchangeRate, gift: gift, signature: signature)
            }

            func handleAmend(_ ctx: Context, note: String?, tags: [String], labels: [String?]?, matrix: [[Int32]], lines: [OrderLine]) throws(AggregateError) -> (amended: Amended?, rejected: Rejected?) {
                guard placed != nil else { return (nil, Rejected(reason: "not placed")) }
                return (Amended(note: note, tags: tags, labels: labels, matrix: matrix, lines: lines), nil)
            }

            func handleTouch(_ ctx: Context) throws(AggregateError) -> Touched? {
                placed == nil ? nil : Touched()
            }

            func handleShip(_ ctx: Context, address: Address, tracking: String?) throws(AggregateError) -> (shipped: Shipped, rejected: Rejected?) {
                guard placed != nil else { throw .fatal("not placed") }
                let shipped = Shipped(address: address, tracking: tracking, history: [address, nil])
                return (shipped, address.location == nil ? Rejected(reason: "no location") : nil)
            }

            func handleArchive(_ ctx: Context) throws(AggregateError) -> (touched: Touched, rejected: Rejected)? {
                placed == nil ? nil : (Touched(), Rejected(reason: "archived"))
            }

            func handleConfigure(_ ctx: Context, default: Bool, class: String, self: Int32, protocol: String?, type: String) throws(AggregateError) -> Configured {
                Configured(default: `default`, class: `class`, self: `self`, protocol: `protocol`, type: type)
            }

            mutating func apply(_ event: Placed, _ ctx: Context) { placed = event }
            mutating func apply(_ event: Amended, _ ctx: Context) { tags = event.tags }
            mutating func apply(_ event: Touched, _ ctx: Context) {}
            mutating func apply(_ event: Shipped, _ ctx: Context) {}
            mutating func apply(_ event: Rejected, _ ctx: Context) {}
            mutating func apply(_ event: Configured, _ ctx: Context) {
                category = Category(name: event.class, parent: Category(name: "root", parent: nil, children: []), children: [])
            }

            var state: JSONValue? {
                guard let placed else { return nil }
                return [
                    "customer": .string(placed.customer), "weight": .double(Double(placed.weight)),
                    "rate": .double(placed.exchangeRate), "tags": .array(tags.map { .string($0) }),
                    "category": .string(category?.parent?.name ?? ""),
                ]
            }
        }
        """#
}
