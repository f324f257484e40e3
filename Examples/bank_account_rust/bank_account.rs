//! A bank account: opened once, then deposits and withdrawals without overdraft.

use crate::*;

pub struct BankAccount {
    is_open: bool,
    balance: i64,
}

impl BankAccountAggregate for BankAccount {
    // `apply_` reads neither `ctx.global_position` nor `ctx.time`: commands of a busy
    // account may run as a batch (contract 1.2).
    const APPLIES_UNWRITTEN_EVENTS: bool = true;

    fn new(_id: &str) -> Self {
        BankAccount { is_open: false, balance: 0 }
    }

    fn handle_open_account(&self, _ctx: &Context, initial_balance: i64) -> Result<OpenedAccount, AggregateError> {
        if self.is_open {
            return Err(AggregateError::fatal("account is already open"));
        }
        if initial_balance < 0 {
            return Err(AggregateError::fatal("initial balance cannot be negative"));
        }
        Ok(OpenedAccount { initial_balance })
    }

    fn handle_deposit_funds(&self, _ctx: &Context, amount: i32) -> Result<DepositedFunds, AggregateError> {
        if !self.is_open {
            return Err(AggregateError::fatal("account is not open"));
        }
        if amount < 0 {
            return Err(AggregateError::fatal("amount cannot be negative"));
        }
        Ok(DepositedFunds { amount })
    }

    fn handle_withdraw_funds(&self, _ctx: &Context, amount: i32) -> Result<WithdrewFunds, AggregateError> {
        if !self.is_open {
            return Err(AggregateError::fatal("account is not open"));
        }
        if amount < 0 {
            return Err(AggregateError::fatal("amount cannot be negative"));
        }
        if amount as i64 > self.balance {
            return Err(AggregateError::fatal("insufficient funds"));
        }
        Ok(WithdrewFunds { amount })
    }

    fn apply_opened_account(&mut self, event: OpenedAccount, _ctx: &Context) {
        self.is_open = true;
        self.balance = event.initial_balance;
    }

    fn apply_deposited_funds(&mut self, event: DepositedFunds, _ctx: &Context) {
        self.balance += event.amount as i64;
    }

    fn apply_withdrew_funds(&mut self, event: WithdrewFunds, _ctx: &Context) {
        self.balance -= event.amount as i64;
    }

    fn state(&self) -> Option<JsonValue> {
        Some(JsonValue::object([("open", self.is_open.into()), ("balance", self.balance.into())]))
    }

    /// The whole state, `{"open":true,"balance":100}` (the same JSON as the view).
    fn snapshot(&self) -> Option<JsonValue> {
        Some(JsonValue::object([("open", self.is_open.into()), ("balance", self.balance.into())]))
    }

    fn restore(_id: &str, snapshot: &JsonValue) -> Result<Self, thalo::DecodeError> {
        let fields = thalo::Fields::of(snapshot)?;
        Ok(BankAccount { is_open: fields.get("open")?, balance: fields.get("balance")? })
    }
}
