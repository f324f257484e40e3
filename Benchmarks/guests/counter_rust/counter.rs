//! The counter of Examples/counter in Rust, for comparing guest languages (`thalo-bench
//! --only=languages`). Same rules, same events, same state view.

use crate::*;

pub struct Counter {
    count: i64,
    /// The highest command-stream position that produced an event, if any.
    last_command_position: Option<i64>,
}

impl Counter {
    fn remember(&mut self, ctx: &Context) {
        if let Some(position) = ctx.metadata.int64("causationMessagePosition") {
            if position >= 0 {
                self.last_command_position = Some(self.last_command_position.map_or(position, |last| last.max(position)));
            }
        }
    }

    fn next(&self, ctx: &Context, amount: i32, sign: i64) -> Result<i64, AggregateError> {
        if ctx.processed(self.last_command_position) {
            return Err(AggregateError::ignore("command already processed"));
        }
        if amount <= 0 {
            return Err(AggregateError::fatal("amount must be positive"));
        }
        self.count.checked_add(sign * amount as i64).ok_or_else(|| AggregateError::fatal("count would overflow"))
    }
}

impl CounterAggregate for Counter {
    fn new(_id: &str) -> Self {
        Counter { count: 0, last_command_position: None }
    }

    fn handle_increment(&self, ctx: &Context, amount: i32) -> Result<Incremented, AggregateError> {
        Ok(Incremented { amount, count: self.next(ctx, amount, 1)? })
    }

    fn handle_decrement(&self, ctx: &Context, amount: i32) -> Result<Decremented, AggregateError> {
        Ok(Decremented { amount, count: self.next(ctx, amount, -1)? })
    }

    fn apply_incremented(&mut self, event: Incremented, ctx: &Context) {
        self.count = event.count;
        self.remember(ctx);
    }

    fn apply_decremented(&mut self, event: Decremented, ctx: &Context) {
        self.count = event.count;
        self.remember(ctx);
    }

    fn state(&self) -> Option<JsonValue> {
        Some(JsonValue::object([("count", self.count.into())]))
    }

    /// The count and the last command position, which decides what is ignored as already
    /// processed: `{"count":5,"lastCommandPosition":3}` (`null` before any position).
    fn snapshot(&self) -> Option<JsonValue> {
        Some(JsonValue::object([
            ("count", self.count.into()),
            ("lastCommandPosition", self.last_command_position.into()),
        ]))
    }

    fn restore(_id: &str, snapshot: &JsonValue) -> Result<Self, thalo::DecodeError> {
        let fields = thalo::Fields::of(snapshot)?;
        Ok(Counter { count: fields.get("count")?, last_command_position: fields.get("lastCommandPosition")? })
    }
}
