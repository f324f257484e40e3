-- write_message with an expected version, alone (what a Message DB client does).
\set s random(1, 1000000000)
SELECT message_store.write_message(gen_random_uuid()::varchar, 'w-' || :s, 'Deposited', '{"amount":100,"currency":"EUR","reference":"invoice-2026-000123","note":"monthly deposit"}'::jsonb, NULL, -1);
