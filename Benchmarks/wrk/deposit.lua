-- wrk script for scripts/bench: POST /v1/execute/BankAccount/h{n}/deposit_funds over the
-- 10,000 accounts the benchmark opened, spread like the in-process case; counts answers
-- other than 200 and prints one machine-readable line at the end.
local counter = 0
local thread_seed = 0

function setup(thread)
  thread_seed = thread_seed + 1
  thread:set("seed", thread_seed)
end

function init(args)
  counter = (seed or 1) * 104729
end

function request()
  counter = counter + 1
  local id = (counter * 7919) % 10000
  return wrk.format("POST", "/v1/execute/BankAccount/h" .. id .. "/deposit_funds",
    { ["Content-Type"] = "application/json" }, '{"amount":1}')
end

function done(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format("wrk-result requests=%d seconds=%.3f p50_us=%d p99_us=%d errors=%d\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99), errors))
end
