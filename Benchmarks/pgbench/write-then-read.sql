-- write_message, then (after its commit) the global position and time read in a second statement: what Thalo does.
\set s random(1, 1000000000)
SELECT message_store.write_message(gen_random_uuid()::varchar, 'r-' || :s, 'Deposited', '{"amount":100,"currency":"EUR","reference":"invoice-2026-000123","note":"monthly deposit"}'::jsonb, NULL, -1) AS p \gset
SELECT global_position, time FROM message_store.get_stream_messages('r-' || :s, :p, 1);
