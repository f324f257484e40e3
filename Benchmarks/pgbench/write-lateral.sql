-- write_message, with the message's global position and time read in the same statement.
\set s random(1, 1000000000)
SELECT written.position, m.global_position, m.time FROM message_store.write_message(gen_random_uuid()::varchar, 'l-' || :s, 'Deposited', '{"amount":100,"currency":"EUR","reference":"invoice-2026-000123","note":"monthly deposit"}'::jsonb, NULL, -1) AS written(position) CROSS JOIN LATERAL message_store.get_stream_messages('l-' || :s, written.position, 1) AS m;
