use crate::*;

pub struct Order {
    id: String,
    placed: Option<Placed>,
    amended: Vec<Amended>,
    shipped: Option<Shipped>,
    touches: i64,
    configured: Option<Configured>,
    rejections: Vec<String>,
}

impl OrderAggregate for Order {
    fn new(id: &str) -> Self {
        Order { id: id.to_string(), placed: None, amended: vec![], shipped: None, touches: 0, configured: None, rejections: vec![] }
    }

    fn handle_place(&self, _ctx: &Context, customer: String, quantity: i32, total_cents: i64, weight: f32, exchange_rate: f64, gift: bool, signature: Vec<u8>) -> Result<Placed, AggregateError> {
        if self.placed.is_some() { return Err(AggregateError::fatal("already placed")); }
        Ok(Placed { customer, quantity, total_cents, weight, exchange_rate, gift, signature })
    }

    fn handle_amend(&self, _ctx: &Context, note: Option<String>, tags: Vec<String>, labels: Option<Vec<Option<String>>>, matrix: Vec<Vec<i32>>, lines: Vec<OrderLine>) -> Result<(Option<Amended>, Option<Rejected>), AggregateError> {
        if lines.is_empty() && tags.is_empty() {
            return Ok((None, Some(Rejected { reason: "nothing to amend".into() })));
        }
        if note.as_deref() == Some("none") {
            return Ok((None, None));
        }
        Ok((Some(Amended { note, tags, labels, matrix, lines }), None))
    }

    fn handle_touch(&self, ctx: &Context) -> Result<Option<Touched>, AggregateError> {
        if ctx.metadata.bool("skip") == Some(true) { return Ok(None); }
        if ctx.processed(Some(self.touches)) { return Err(AggregateError::Ignore(None)); }
        Ok(Some(Touched {}))
    }

    fn handle_ship(&self, _ctx: &Context, address: Address, tracking: Option<String>) -> Result<(Shipped, Option<Rejected>), AggregateError> {
        let rejected = if tracking.is_none() { Some(Rejected { reason: "no tracking".into() }) } else { None };
        Ok((Shipped { address: address.clone(), tracking, history: Some(vec![Some(address), None]) }, rejected))
    }

    fn handle_archive(&self, ctx: &Context) -> Result<Option<(Touched, Rejected)>, AggregateError> {
        if ctx.metadata.bool("skip") == Some(true) { return Ok(None); }
        Ok(Some((Touched {}, Rejected { reason: "archived".into() })))
    }

    fn handle_configure(&self, _ctx: &Context, default: bool, class: String, self_: i32, protocol: Option<String>, r#type: String) -> Result<Configured, AggregateError> {
        if class.is_empty() { return Err(AggregateError::ignore("empty class")); }
        Ok(Configured { default, class, self_, protocol, r#type })
    }

    fn apply_placed(&mut self, event: Placed, _ctx: &Context) { self.placed = Some(event); }
    fn apply_amended(&mut self, event: Amended, _ctx: &Context) { self.amended.push(event); }
    fn apply_touched(&mut self, _event: Touched, _ctx: &Context) { self.touches += 1; }
    fn apply_shipped(&mut self, event: Shipped, _ctx: &Context) { self.shipped = Some(event); }
    fn apply_rejected(&mut self, event: Rejected, _ctx: &Context) { self.rejections.push(event.reason); }
    fn apply_configured(&mut self, event: Configured, _ctx: &Context) { self.configured = Some(event); }

    fn state(&self) -> Option<JsonValue> {
        Some(JsonValue::object([
            ("id", self.id.as_str().into()),
            ("placed", self.placed.to_json()),
            ("amended", self.amended.to_json()),
            ("shipped", self.shipped.to_json()),
            ("touches", self.touches.into()),
            ("configured", self.configured.to_json()),
            ("rejections", self.rejections.to_json()),
        ]))
    }
}
