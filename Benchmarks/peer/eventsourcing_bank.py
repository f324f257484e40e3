"""The bank account's deposit command on Python `eventsourcing` (PyPI) with SQLite, for
scripts/bench: the peer Thalo is compared with in the same run.

Durable defaults: the library's SQLite persistence (WAL, SQLite's default synchronous=FULL),
one commit per command. The same workload as Thalo's in-process case: 10,000 accounts opened
first, then deposits of 1 spread over them by `threads` threads for `seconds`. Prints one line:

    eventsourcing threads=8 commands=... seconds=... per_second=... p50_us=... p99_us=...
"""

import argparse
import os
import tempfile
import threading
import time

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event


class BankAccount(Aggregate):
    @event("OpenedAccount")
    def __init__(self, initial_balance: int):
        self.balance = initial_balance

    @event("DepositedFunds")
    def deposit(self, amount: int):
        if amount < 0:
            raise ValueError("amount cannot be negative")
        self.balance += amount


class Bank(Application):
    def open_accounts(self, count):
        accounts = [BankAccount(0) for _ in range(count)]
        # One transaction for the setup; the measured commands commit one by one.
        self.save(*accounts)
        return [account.id for account in accounts]

    def deposit_funds(self, account_id, amount):
        account = self.repository.get(account_id)
        account.deposit(amount)
        self.save(account)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--entities", type=int, default=10_000)
    args = parser.parse_args()

    folder = tempfile.mkdtemp(prefix="thalo-peer-")
    bank = Bank(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": os.path.join(folder, "bank.sqlite")})
    ids = bank.open_accounts(args.entities)

    latencies = [[] for _ in range(args.threads)]
    deadline = time.perf_counter() + args.seconds

    def worker(caller):
        index = 0
        record = latencies[caller]
        while True:
            start = time.perf_counter()
            if start >= deadline:
                return
            bank.deposit_funds(ids[(caller * 7919 + index) % args.entities], 1)
            record.append(time.perf_counter() - start)
            index += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(caller,)) for caller in range(args.threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    every = sorted(value for record in latencies for value in record)
    count = len(every)

    def percentile(fraction):
        return every[min(count - 1, int(fraction * count))] * 1e6 if count else 0

    print(f"eventsourcing threads={args.threads} commands={count} seconds={elapsed:.3f} "
          f"per_second={count / elapsed:.1f} p50_us={percentile(0.5):.0f} p99_us={percentile(0.99):.0f}")


if __name__ == "__main__":
    main()
