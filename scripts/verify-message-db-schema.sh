#!/usr/bin/env bash
# Verifies Thalo's Message DB 1.3–compatible schema, MessageStoreSchema.installStatements
# (Sources/MessageDB/MessageStoreSchema.swift), against a throwaway PostgreSQL 15 cluster.
#
# What it does:
#   1. creates a temporary cluster (data dir from mktemp -d, unix socket inside it, a free
#      port on 127.0.0.1) and a database named message_store; everything is stopped and
#      deleted on exit;
#   2. compiles a tiny dumper with swiftc to print the statements exactly as the Swift code
#      builds them (no SQL is duplicated in the repository);
#   3. installs them twice and checks that the second run changed nothing;
#   4. runs behaviour checks, mostly connected as the message_store role, with the
#      functions called unqualified as Message DB clients do; each check prints PASS or
#      FAIL, and the script exits non-zero if any check failed.
#
# Usage: scripts/verify-message-db-schema.sh [options]
#   --reference-sql FILE  install FILE (once, with psql) instead of Thalo's statements and
#                         run the same checks against it, e.g. an official Message DB
#                         install script concatenated into one file. Thalo-only checks
#                         (idempotency, role search_path) are skipped.
#   --overlay-sql FILE    install FILE first, then Thalo's statements twice on top of it,
#                         and check that the catalog (function definitions, tables,
#                         indexes, views, types, privileges, role settings) is unchanged.
#   --transcript FILE     write every check's actual result to FILE, in a deterministic
#                         form, for diffing two runs (e.g. Thalo vs --reference-sql).
#   --shape FILE          write the schema's shape (\df, \d, view columns, type, ACLs)
#                         after the install to FILE, for diffing two runs.
#   --then COMMAND        after the checks, run COMMAND (with bash -c) with PGHOST, PGPORT,
#                         PGDATABASE and PGUSER=message_store exported; counted as a check.
#
# Environment: PG_BIN (default /usr/lib/postgresql/15/bin), SWIFTC (default swiftc).
# Run as root (initdb and pg_ctl then run as the postgres user) or as an ordinary user.

set -uo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
schema_swift="$repo_root/Sources/MessageDB/MessageStoreSchema.swift"
pg_bin=${PG_BIN:-/usr/lib/postgresql/15/bin}
swiftc_bin=${SWIFTC:-swiftc}

reference_sql=""
overlay_sql=""
transcript=""
shape_out=""
then_command=""

die() { echo "verify-message-db-schema: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --reference-sql) reference_sql=$(realpath "${2:?}"); shift 2 ;;
    --overlay-sql) overlay_sql=$(realpath "${2:?}"); shift 2 ;;
    --transcript) transcript=$(realpath -m "${2:?}"); shift 2 ;;
    --shape) shape_out=$(realpath -m "${2:?}"); shift 2 ;;
    --then) then_command=${2:?}; shift 2 ;;
    -h|--help) sed -n '2,/^$/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
[ -n "$reference_sql" ] && [ -n "$overlay_sql" ] && die "--reference-sql and --overlay-sql exclude each other"
[ -x "$pg_bin/initdb" ] || die "no PostgreSQL binaries in $pg_bin (set PG_BIN)"
command -v psql >/dev/null || die "psql not found"
command -v python3 >/dev/null || die "python3 not found"

thalo_mode=true
[ -n "$reference_sql" ] && thalo_mode=false

# --- Throwaway cluster -------------------------------------------------------------------

work=$(mktemp -d "${TMPDIR:-/tmp}/thalo-mdb-verify.XXXXXX")
sock="$work/socket"
data="$work/data"
mkdir -p "$sock"
started=false

as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

cleanup() {
  if $started; then
    as_postgres "$pg_bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$(id -u)" = 0 ]; then chown -R postgres: "$work"; fi

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')

as_postgres "$pg_bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C >"$work/initdb.log" 2>&1 \
  || { cat "$work/initdb.log"; die "initdb failed"; }
as_postgres "$pg_bin/pg_ctl" -D "$data" -l "$work/postgres.log" -w \
  -o "-p $port -k $sock -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null \
  || { cat "$work/postgres.log"; die "could not start PostgreSQL"; }
started=true

# psql with a stable output: unaligned, tuples only, terse errors, NULL shown as <null>.
sql_as() {
  local user=$1; shift
  psql -X -q -A -t -v ON_ERROR_STOP=1 -v VERBOSITY=terse -P null='<null>' \
    -h "$sock" -p "$port" -U "$user" -d message_store "$@"
}
admin() { sql_as postgres "$@"; }
# psql's full, human-readable output (headers, \d footers), for catalog snapshots.
admin_pretty() {
  psql -X -q -v ON_ERROR_STOP=1 -P pager=off -h "$sock" -p "$port" -U postgres -d message_store "$@"
}
app() { sql_as message_store "$@"; }

psql -X -q -h "$sock" -p "$port" -U postgres -d postgres -c 'CREATE DATABASE message_store' \
  || die "could not create the database"

# --- Statements from the Swift source ----------------------------------------------------

statements="$work/thalo-install.sql"
installed_query="$work/is-installed.sql"
{
  command -v "$swiftc_bin" >/dev/null || die "swiftc not found (set SWIFTC)"
  cat >"$work/main.swift" <<'SWIFT'
if CommandLine.arguments.dropFirst().first == "is-installed" {
    print(MessageStoreSchema.isInstalledQuery + ";")
} else {
    for statement in MessageStoreSchema.installStatements {
        print(statement)
        print()
    }
}
SWIFT
  "$swiftc_bin" -swift-version 6 -o "$work/dump-schema" "$schema_swift" "$work/main.swift" \
    || die "could not compile $schema_swift"
  "$work/dump-schema" >"$statements" || die "could not dump the install statements"
  "$work/dump-schema" is-installed >"$installed_query" || die "could not dump isInstalledQuery"
}

# --- Checks ------------------------------------------------------------------------------

passed=0
failed=0
if [ -n "$transcript" ]; then mkdir -p "$(dirname "$transcript")" && : >"$transcript"; fi
[ -n "$shape_out" ] && mkdir -p "$(dirname "$shape_out")"

record() { # name, actual
  [ -n "$transcript" ] && printf '### %s\n%s\n' "$1" "$2" >>"$transcript"
  return 0
}

pass() { passed=$((passed + 1)); echo "PASS  $1"; }

fail() { # name, expected, actual
  failed=$((failed + 1))
  echo "FAIL  $1"
  echo "      expected: $(printf '%s' "$2" | sed '2,$s/^/                /')"
  echo "      actual:   $(printf '%s' "$3" | sed '2,$s/^/                /')"
}

# Output of SQL read from stdin, without psql's "psql:<stdin>:N: " prefixes.
run_sql() { # user, extra psql args... (SQL on stdin)
  local user=$1; shift
  sql_as "$user" "$@" -f - 2>&1 | sed -E 's/^psql:<stdin>:[0-9]+: //'
}

# check NAME EXPECTED [USER] <<SQL: the query output must equal EXPECTED.
check() {
  local name=$1 expected=$2 user=${3:-message_store} actual
  actual=$(run_sql "$user")
  record "$name" "$actual"
  if [ "$actual" = "$expected" ]; then pass "$name"; else fail "$name" "$expected" "$actual"; fi
}

# check_error NAME MESSAGE [USER] <<SQL: the SQL must fail with exactly "ERROR:  MESSAGE".
check_error() {
  local name=$1 message=$2 user=${3:-message_store} actual
  actual=$(run_sql "$user" | grep -E '^(ERROR|FATAL):' || true)
  record "$name" "$actual"
  if [ "$actual" = "ERROR:  $message" ]; then pass "$name"; else fail "$name" "ERROR:  $message" "$actual"; fi
}

# check_notices NAME EXPECTED <<SQL: the NOTICE messages raised must be EXPECTED, one per
# line; the text of "Generated Command: ..." notices is implementation-specific and elided.
check_notices() {
  local name=$1 expected=$2 actual
  actual=$(run_sql message_store \
    | grep '^NOTICE:  ' | sed -e 's/^NOTICE:  //' -e 's/^Generated Command: .*/Generated Command: .../')
  record "$name" "$actual"
  if [ "$actual" = "$expected" ]; then pass "$name"; else fail "$name" "$expected" "$actual"; fi
}

# A description of everything a (re)install could alter, for before/after comparisons.
catalog_snapshot() {
  admin_pretty -c '\df+ message_store.*' -c '\d+ message_store.*' -c '\dT+ message_store.*' \
    -c '\dp message_store.*' -c '\dn+ message_store' -c '\du message_store' -c '\drds' -c '\dx' 2>&1
  admin_pretty 2>&1 <<'SQL'
SELECT p.oid::regprocedure, p.proacl, pg_get_functiondef(p.oid)
  FROM pg_proc AS p
 WHERE p.pronamespace = 'message_store'::regnamespace
 ORDER BY p.oid::regprocedure::text;
SELECT p.oid::regprocedure, p.proacl FROM pg_proc AS p WHERE p.proname = 'gen_random_uuid' ORDER BY p.oid::regprocedure::text;
SELECT t.typname, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod)
  FROM pg_type AS t JOIN pg_attribute AS a ON a.attrelid = t.typrelid
 WHERE t.typnamespace = 'message_store'::regnamespace AND t.typname = 'message'
 ORDER BY a.attnum;
SQL
}

# The parts of the schema other clients depend on.
shape_snapshot() {
  admin_pretty -c '\df message_store.*' -c '\d message_store.messages' \
    -c '\d message_store.messages_id' -c '\d message_store.messages_stream' \
    -c '\d message_store.messages_category' -c '\d message_store.messages_pkey' \
    -c '\dT message_store.*' -c '\dp message_store.*' -c '\dn+ message_store' 2>&1
  for view in stream_summary type_summary stream_type_summary type_stream_summary \
              category_type_summary type_category_summary; do
    admin_pretty -c "\\d message_store.$view" 2>&1
  done
  admin_pretty -c '\d message_store.message' 2>&1
  admin_pretty 2>&1 <<'SQL'
SELECT p.oid::regprocedure AS function, l.lanname, p.provolatile, p.proisstrict, p.proparallel,
       p.prosecdef, p.procost, p.prorows, p.proretset, p.proconfig, p.proacl
  FROM pg_proc AS p JOIN pg_language AS l ON l.oid = p.prolang
 WHERE p.pronamespace = 'message_store'::regnamespace
 ORDER BY p.oid::regprocedure::text;
SQL
}

install_thalo() { admin -f "$statements" 2>&1; }

echo "== Installing (PostgreSQL on 127.0.0.1:$port, data in $work)"

check "isInstalledQuery is false before the install" "f" postgres <"$installed_query"

if [ -n "$reference_sql" ]; then
  out=$(admin -f "$reference_sql" 2>&1)
  if [ $? -eq 0 ]; then pass "reference install ($reference_sql)"; else fail "reference install" "success" "$out"; fi
else
  if [ -n "$overlay_sql" ]; then
    out=$(admin -f "$overlay_sql" 2>&1)
    if [ $? -eq 0 ]; then pass "base install ($overlay_sql)"; else fail "base install" "success" "$out"; fi
    catalog_snapshot >"$work/catalog-base.txt"
  fi
  out=$(install_thalo)
  if [ $? -eq 0 ]; then pass "install statements run (1st time)"; else fail "install statements run (1st time)" "success" "$out"; fi
  catalog_snapshot >"$work/catalog-1.txt"
  out=$(install_thalo)
  if [ $? -eq 0 ]; then pass "install statements run (2nd time)"; else fail "install statements run (2nd time)" "success" "$out"; fi
  catalog_snapshot >"$work/catalog-2.txt"
  if diff -u "$work/catalog-1.txt" "$work/catalog-2.txt" >"$work/idempotency.diff"; then
    pass "2nd install run changes nothing (functions, relations, types, ACLs, role settings)"
  else
    fail "2nd install run changes nothing" "no difference" "$(cat "$work/idempotency.diff")"
  fi
  if [ -n "$overlay_sql" ]; then
    if diff -u "$work/catalog-base.txt" "$work/catalog-2.txt" >"$work/overlay.diff"; then
      pass "Thalo's statements leave the existing install unchanged"
    else
      fail "Thalo's statements leave the existing install unchanged" "no difference" "$(cat "$work/overlay.diff")"
    fi
  fi
fi

check "isInstalledQuery is true after the install" "t" postgres <"$installed_query"
[ -n "$shape_out" ] && shape_snapshot >"$shape_out"

echo "== Schema shape"

check "message_store_version() is 1.3.0" "1.3.0" <<'SQL'
SELECT message_store_version();
SQL

check "messages table: columns, types, nullability, defaults" "$(cat <<'EOF'
global_position|bigint|not null|nextval('message_store.messages_global_position_seq'::regclass)
position|bigint|not null|
time|timestamp without time zone|not null|(now() AT TIME ZONE 'utc'::text)
stream_name|text|not null|
type|text|not null|
data|jsonb||
metadata|jsonb||
id|uuid|not null|gen_random_uuid()
EOF
)" postgres <<'SQL'
SELECT a.attname, format_type(a.atttypid, a.atttypmod),
       CASE WHEN a.attnotnull THEN 'not null' ELSE '' END,
       coalesce(pg_get_expr(d.adbin, d.adrelid), '')
  FROM pg_attribute AS a
  LEFT JOIN pg_attrdef AS d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE a.attrelid = 'message_store.messages'::regclass AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY a.attnum;
SQL

check "messages table: indexes and primary key" "$(cat <<'EOF'
messages_category|f|f|CREATE INDEX messages_category ON message_store.messages USING btree (message_store.category((stream_name)::character varying), global_position, message_store.category(((metadata ->> 'correlationStreamName'::text))::character varying))
messages_id|t|f|CREATE UNIQUE INDEX messages_id ON message_store.messages USING btree (id)
messages_pkey|t|t|CREATE UNIQUE INDEX messages_pkey ON message_store.messages USING btree (global_position)
messages_stream|t|f|CREATE UNIQUE INDEX messages_stream ON message_store.messages USING btree (stream_name, "position")
EOF
)" postgres <<'SQL'
SELECT c.relname, i.indisunique, i.indisprimary, pg_get_indexdef(i.indexrelid)
  FROM pg_index AS i JOIN pg_class AS c ON c.oid = i.indexrelid
 WHERE i.indrelid = 'message_store.messages'::regclass
 ORDER BY c.relname;
SQL

check "message type attributes" "$(cat <<'EOF'
id|character varying
stream_name|character varying
type|character varying
position|bigint
global_position|bigint
data|character varying
metadata|character varying
time|timestamp without time zone
EOF
)" postgres <<'SQL'
SELECT a.attname, format_type(a.atttypid, a.atttypmod)
  FROM pg_attribute AS a
 WHERE a.attrelid = (SELECT typrelid FROM pg_type WHERE oid = 'message_store.message'::regtype)
   AND a.attnum > 0
 ORDER BY a.attnum;
SQL

check "function signatures, results, volatility, language" "$(cat <<'EOF'
acquire_lock(stream_name character varying) -> bigint v plpgsql
cardinal_id(stream_name character varying) -> character varying i plpgsql
category(stream_name character varying) -> character varying i plpgsql
get_category_messages(category character varying, "position" bigint DEFAULT 1, batch_size bigint DEFAULT 1000, correlation character varying DEFAULT NULL::character varying, consumer_group_member bigint DEFAULT NULL::bigint, consumer_group_size bigint DEFAULT NULL::bigint, condition character varying DEFAULT NULL::character varying) -> SETOF message_store.message v plpgsql
get_last_stream_message(stream_name character varying, type character varying DEFAULT NULL::character varying) -> SETOF message_store.message v plpgsql
get_stream_messages(stream_name character varying, "position" bigint DEFAULT 0, batch_size bigint DEFAULT 1000, condition character varying DEFAULT NULL::character varying) -> SETOF message_store.message v plpgsql
hash_64(value character varying) -> bigint i plpgsql
id(stream_name character varying) -> character varying i plpgsql
is_category(stream_name character varying) -> boolean i plpgsql
message_store_version() -> character varying v plpgsql
stream_version(stream_name character varying) -> bigint v plpgsql
write_message(id character varying, stream_name character varying, type character varying, data jsonb, metadata jsonb DEFAULT NULL::jsonb, expected_version bigint DEFAULT NULL::bigint) -> bigint v plpgsql
EOF
)" postgres <<'SQL'
SELECT p.proname || '(' || pg_get_function_arguments(p.oid) || ') -> ' || pg_get_function_result(p.oid)
       || ' ' || p.provolatile::text || ' ' || l.lanname
  FROM pg_proc AS p JOIN pg_language AS l ON l.oid = p.prolang
 WHERE p.pronamespace = 'message_store'::regnamespace
 ORDER BY p.proname;
SQL

check "report views and their columns" "$(cat <<'EOF'
category_type_summary|category character varying, type text, message_count bigint, percent numeric
stream_summary|stream_name text, message_count bigint, percent numeric
stream_type_summary|stream_name text, type text, message_count bigint, percent numeric
type_category_summary|type text, category character varying, message_count bigint, percent numeric
type_stream_summary|type text, stream_name text, message_count bigint, percent numeric
type_summary|type text, message_count bigint, percent numeric
EOF
)" postgres <<'SQL'
SELECT c.relname, string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum)
  FROM pg_class AS c JOIN pg_attribute AS a ON a.attrelid = c.oid AND a.attnum > 0
 WHERE c.relnamespace = 'message_store'::regnamespace AND c.relkind = 'v'
 GROUP BY c.relname
 ORDER BY c.relname;
SQL

check "message_store role: login, privileges as granted by Message DB" "$(cat <<'EOF'
t|t|t|t|f|f|t|t
true|true|true|true|true|true|true|true|true|true|true|true
true|true|true|true|true|true
EOF
)" postgres <<'SQL'
SELECT r.rolcanlogin,
       has_schema_privilege('message_store', 'message_store', 'USAGE'),
       has_table_privilege('message_store', 'message_store.messages', 'SELECT'),
       has_table_privilege('message_store', 'message_store.messages', 'INSERT'),
       has_table_privilege('message_store', 'message_store.messages', 'UPDATE'),
       has_table_privilege('message_store', 'message_store.messages', 'DELETE'),
       has_sequence_privilege('message_store', 'message_store.messages_global_position_seq', 'USAGE'),
       has_sequence_privilege('message_store', 'message_store.messages_global_position_seq', 'SELECT')
  FROM pg_roles AS r WHERE r.rolname = 'message_store';
SELECT string_agg(has_function_privilege('message_store', p.oid, 'EXECUTE')::text, '|' ORDER BY p.proname)
  FROM pg_proc AS p WHERE p.pronamespace = 'message_store'::regnamespace;
SELECT string_agg(has_table_privilege('message_store', 'message_store.' || v, 'SELECT')::text, '|' ORDER BY v)
  FROM unnest(ARRAY['category_type_summary', 'stream_summary', 'stream_type_summary',
                    'type_category_summary', 'type_stream_summary', 'type_summary']) AS v;
SQL

# (On top of an existing install the role is deliberately left as it is.)
if $thalo_mode && [ -z "$overlay_sql" ]; then
  check "message_store role: search_path set to message_store, public" "message_store, public" <<'SQL'
SHOW search_path;
SQL
fi

check_error "message_store role may not update messages" "permission denied for table messages" <<'SQL'
UPDATE messages SET type = type;
SQL

echo "== Writing"

check "write_message returns gapless stream positions" "$(cat <<'EOF'
0
1
0
2
0
0
1
0
0
EOF
)" <<'SQL'
SELECT write_message(md5('m1')::uuid::varchar, 'account-123', 'Opened', '{"n": 1}');
SELECT write_message(md5('m2')::uuid::varchar, 'account-123', 'Deposited', '{"n": 2}', '{"correlationStreamName": "otherService-42"}');
SELECT write_message(md5('m3')::uuid::varchar, 'account-456', 'Opened', '{"n": 3}');
SELECT write_message(md5('m4')::uuid::varchar, 'account-123', 'Deposited', '{"n": 4}', '{"correlationStreamName": "thirdParty-7"}', 1);
SELECT write_message(md5('m5')::uuid::varchar, 'account-123+456', 'Opened', '{"n": 5}');
SELECT write_message(md5('m6')::uuid::varchar, 'account:command-1', 'Open', '{"n": 6}');
SELECT write_message(md5('m7')::uuid::varchar, 'account-456', 'Deposited', '{"n": 7}', '{"correlationStreamName": "otherService-9"}', 0);
SELECT write_message(md5('m8')::uuid::varchar, 'account', 'Noted', '{"n": 8}');
SELECT write_message(md5('m9')::uuid::varchar, 'account-789', 'Opened', '{"n": 9}', NULL, -1);
SQL

check "positions per stream are gapless" "$(cat <<'EOF'
account|0
account-123|0,1,2
account-123+456|0
account-456|0,1
account-789|0
account:command-1|0
EOF
)" <<'SQL'
SELECT stream_name, string_agg(position::text, ',' ORDER BY global_position)
  FROM messages GROUP BY stream_name ORDER BY stream_name;
SQL

check "global positions increase in write order" "1,2,3,4,5,6,7,8,9|t" <<'SQL'
SELECT string_agg(data->>'n', ',' ORDER BY global_position),
       bool_and(global_position > 0)
  FROM messages;
SQL

check "time defaults to the current UTC time, without zone" "t" <<'SQL'
SELECT bool_and(abs(extract(epoch FROM time - (now() AT TIME ZONE 'utc'))) < 300) FROM messages;
SQL

check_error "expected_version mismatch" "Wrong expected version: 1 (Stream: account-123, Stream Version: 2)" <<'SQL'
SELECT write_message(md5('e1')::uuid::varchar, 'account-123', 'Deposited', '{}', NULL, 1);
SQL

check_error "expected_version -1 on an existing stream" "Wrong expected version: -1 (Stream: account-123, Stream Version: 2)" <<'SQL'
SELECT write_message(md5('e2')::uuid::varchar, 'account-123', 'Deposited', '{}', NULL, -1);
SQL

check_error "expected_version on a missing stream" "Wrong expected version: 0 (Stream: account-999, Stream Version: -1)" <<'SQL'
SELECT write_message(md5('e3')::uuid::varchar, 'account-999', 'Deposited', '{}', NULL, 0);
SQL

check "expected_version equal to the stream version is accepted" "3" <<'SQL'
SELECT write_message(md5('m10')::uuid::varchar, 'account-123', 'Closed', '{"n": 10}', NULL, 2);
SQL

check_error "duplicate message id is rejected" 'duplicate key value violates unique constraint "messages_id"' <<'SQL'
SELECT write_message(md5('m1')::uuid::varchar, 'account-777', 'Opened', '{}');
SQL

check_error "malformed message id is rejected" 'invalid input syntax for type uuid: "not-a-uuid"' <<'SQL'
SELECT write_message('not-a-uuid', 'account-777', 'Opened', '{}');
SQL

check "rejected writes leave no message" "<null>" <<'SQL'
SELECT stream_version('account-777');
SQL

echo "== Reading streams"

check "get_stream_messages returns the stream in order" "$(cat <<'EOF'
account-123|0|Opened|{"n": 1}|<null>|1
account-123|1|Deposited|{"n": 2}|{"correlationStreamName": "otherService-42"}|2
account-123|2|Deposited|{"n": 4}|{"correlationStreamName": "thirdParty-7"}|4
account-123|3|Closed|{"n": 10}|<null>|10
EOF
)" <<'SQL'
SELECT stream_name, position, type, data, metadata, global_position FROM get_stream_messages('account-123');
SQL

check "get_stream_messages with position and batch_size" "1|Deposited
2|Deposited" <<'SQL'
SELECT position, type FROM get_stream_messages('account-123', 1, 2);
SQL

check "get_stream_messages treats NULL position and batch_size as defaults" "4" <<'SQL'
SELECT count(*) FROM get_stream_messages('account-123', NULL, NULL);
SQL

check "get_stream_messages result id is the message id" "t" <<'SQL'
SELECT id = md5('m1')::uuid::varchar FROM get_stream_messages('account-123', 0, 1);
SQL

check_error "get_stream_messages refuses a category" "Must be a stream name: account" <<'SQL'
SELECT * FROM get_stream_messages('account');
SQL

check "stream_version" "3|0|<null>" <<'SQL'
SELECT stream_version('account-123'), stream_version('account-789'), stream_version('account-nothing');
SQL

check "get_last_stream_message without type" "account-123|3|Closed" <<'SQL'
SELECT stream_name, position, type FROM get_last_stream_message('account-123');
SQL

check "get_last_stream_message with type" "2|Deposited|{\"n\": 4}
0|Opened|{\"n\": 1}
0" <<'SQL'
SELECT position, type, data FROM get_last_stream_message('account-123', 'Deposited');
SELECT position, type, data FROM get_last_stream_message('account-123', 'Opened');
SELECT count(*) FROM get_last_stream_message('account-123', 'NeverWritten');
SQL

check "get_last_stream_message of a missing stream returns no row" "0" <<'SQL'
SELECT count(*) FROM get_last_stream_message('account-nothing');
SQL

echo "== Reading categories"

check "get_category_messages returns the category in global order" "$(cat <<'EOF'
1|account-123|0
2|account-123|1
3|account-456|0
4|account-123|2
5|account-123+456|0
7|account-456|1
8|account|0
9|account-789|0
10|account-123|3
EOF
)" <<'SQL'
SELECT global_position, stream_name, position FROM get_category_messages('account');
SQL

check "get_category_messages with position and batch_size" "4|account-123
5|account-123+456" <<'SQL'
SELECT global_position, stream_name FROM get_category_messages('account', 4, 2);
SQL

check "get_category_messages of a category type (account:command)" "6|account:command-1|Open" <<'SQL'
SELECT global_position, stream_name, type FROM get_category_messages('account:command');
SQL

check_error "get_category_messages refuses a stream name" "Must be a category: account-123" <<'SQL'
SELECT * FROM get_category_messages('account-123');
SQL

check "get_category_messages with correlation" "2|account-123
7|account-456" <<'SQL'
SELECT global_position, stream_name FROM get_category_messages('account', correlation => 'otherService');
SQL

check_error "correlation must be a category" "Correlation must be a category (Correlation: otherService-42)" <<'SQL'
SELECT * FROM get_category_messages('account', correlation => 'otherService-42');
SQL

echo "== Consumer groups"

check "writing 40 group streams and compound-id streams" "40
0
0" <<'SQL'
SELECT count(write_message(md5('g' || i)::uuid::varchar, 'group-' || i, 'Joined', jsonb_build_object('i', i)))
  FROM generate_series(1, 40) AS i;
SELECT write_message(md5('g5x')::uuid::varchar, 'group-5+x', 'Joined', '{}');
SELECT write_message(md5('g7y')::uuid::varchar, 'group-7+y', 'Joined', '{}', '{"correlationStreamName": "otherService-1"}');
SQL

for size in 1 2 3 5; do
  for ((member = 0; member < size; member++)); do
    check "consumer group member $member of $size gets the streams with @hash_64(cardinal_id) % $size = $member" "t|t" <<SQL
WITH got AS (
  SELECT global_position FROM get_category_messages('group', 1, -1, NULL, $member, $size)
), expected AS (
  SELECT global_position FROM messages
   WHERE category(stream_name) = 'group' AND @hash_64(cardinal_id(stream_name)) % $size = $member
)
SELECT (SELECT array_agg(global_position ORDER BY global_position) FROM got)
         IS NOT DISTINCT FROM (SELECT array_agg(global_position ORDER BY global_position) FROM expected),
       (SELECT count(*) FROM got) > 0;
SQL
  done
done

check "consumer group members partition the category, compound ids follow their cardinal id" "$(cat <<'EOF'
42|42|1
t
t
EOF
)" <<'SQL'
SELECT (SELECT count(*) FROM get_category_messages('group', 1, -1)),
       (SELECT count(*) FROM get_category_messages('group', 1, -1, NULL, 0, 3))
       + (SELECT count(*) FROM get_category_messages('group', 1, -1, NULL, 1, 3))
       + (SELECT count(*) FROM get_category_messages('group', 1, -1, NULL, 2, 3)),
       (SELECT count(DISTINCT m) FROM generate_series(0, 2) AS m,
          LATERAL get_category_messages('group', 1, -1, NULL, m, 3) AS r
        WHERE r.stream_name IN ('group-5', 'group-5+x'));
SELECT (SELECT count(*) FROM get_category_messages('group', 1, -1, NULL, m, 3)
         WHERE stream_name = 'group-5') = 1
  FROM generate_series(0, 2) AS m
 WHERE EXISTS (SELECT 1 FROM get_category_messages('group', 1, -1, NULL, m, 3) WHERE stream_name = 'group-5+x')
UNION ALL
SELECT (SELECT count(*) FROM get_category_messages('group', 1, -1, NULL, m, 3)
         WHERE stream_name = 'group-7') = 1
  FROM generate_series(0, 2) AS m
 WHERE EXISTS (SELECT 1 FROM get_category_messages('group', 1, -1, NULL, m, 3) WHERE stream_name = 'group-7+y');
SQL

check "a stream named like its category has no cardinal id and no group member" "0" <<'SQL'
SELECT count(*) FROM generate_series(0, 1) AS m, LATERAL get_category_messages('account', 1, -1, NULL, m, 2) AS r
 WHERE r.stream_name = 'account';
SQL

check "consumer group combined with correlation" "t" <<'SQL'
SELECT (SELECT array_agg(stream_name ORDER BY global_position) FROM generate_series(0, 1) AS m,
          LATERAL get_category_messages('group', 1, 1000, 'otherService', m, 2))
       = ARRAY['group-7+y']::varchar[];
SQL

check_error "consumer group member without size" "Consumer group member and size must be specified (Consumer Group Member: 0, Consumer Group Size: <NULL>)" <<'SQL'
SELECT * FROM get_category_messages('group', 1, 1000, NULL, 0, NULL);
SQL
check_error "consumer group size without member" "Consumer group member and size must be specified (Consumer Group Member: <NULL>, Consumer Group Size: 2)" <<'SQL'
SELECT * FROM get_category_messages('group', consumer_group_size => 2);
SQL
check_error "consumer group size 0" "Consumer group size must not be less than 1 (Consumer Group Member: 0, Consumer Group Size: 0)" <<'SQL'
SELECT * FROM get_category_messages('group', 1, 1000, NULL, 0, 0);
SQL
check_error "consumer group member -1" "Consumer group member must not be less than 0 (Consumer Group Member: -1, Consumer Group Size: 2)" <<'SQL'
SELECT * FROM get_category_messages('group', 1, 1000, NULL, -1, 2);
SQL
check_error "consumer group member equal to size" "Consumer group member must be less than the group size (Consumer Group Member: 2, Consumer Group Size: 2)" <<'SQL'
SELECT * FROM get_category_messages('group', 1, 1000, NULL, 2, 2);
SQL
check_error "consumer group member greater than size" "Consumer group member must be less than the group size (Consumer Group Member: 3, Consumer Group Size: 2)" <<'SQL'
SELECT * FROM get_category_messages('group', 1, 1000, NULL, 3, 2);
SQL

echo "== Batch sizes"

check "writing 1005 messages to one stream" "1005|1004" <<'SQL'
SELECT count(*), max(p)
  FROM (SELECT write_message(md5('b' || i)::uuid::varchar, 'bulk-1', 'Tick', jsonb_build_object('i', i)) AS p
          FROM generate_series(1, 1005) AS i) AS written;
SQL

check "batch_size defaults to 1000; -1 is unlimited (stream and category)" "1000|1005|1000|1005|1005" <<'SQL'
SELECT (SELECT count(*) FROM get_stream_messages('bulk-1')),
       (SELECT count(*) FROM get_stream_messages('bulk-1', 0, -1)),
       (SELECT count(*) FROM get_category_messages('bulk')),
       (SELECT count(*) FROM get_category_messages('bulk', 1, -1)),
       (SELECT max(position) + 1 FROM get_stream_messages('bulk-1', batch_size => -1));
SQL

echo "== SQL condition"

check_error "condition refused when message_store.sql_condition is not set (stream)" "Retrieval with SQL condition is not activated" <<'SQL'
SELECT * FROM get_stream_messages('account-123', condition => 'messages.position >= 1');
SQL
check_error "condition refused when message_store.sql_condition is not set (category)" "Retrieval with SQL condition is not activated" <<'SQL'
SELECT * FROM get_category_messages('account', condition => 'messages.position >= 1');
SQL
check_error "condition refused when message_store.sql_condition is off" "Retrieval with SQL condition is not activated" <<'SQL'
SET message_store.sql_condition = off;
SELECT * FROM get_stream_messages('account-123', condition => 'messages.position >= 1');
SQL
check "condition applied when message_store.sql_condition is on" "$(cat <<'EOF'
2|Deposited
3|Closed
account-123|1
account-123|2
account-456|1
account-123|3
EOF
)" <<'SQL'
SET message_store.sql_condition = on;
SELECT position, type FROM get_stream_messages('account-123', condition => 'messages.position >= 2');
SELECT stream_name, position FROM get_category_messages('account', condition => 'messages.position >= 1 AND messages.type <> ''Opened''');
SQL
check "condition combined with correlation and batch size" "account-456|1" <<'SQL'
SET message_store.sql_condition = on;
SELECT stream_name, position FROM get_category_messages('account', 1, 5, 'otherService', condition => 'messages.global_position > 2');
SQL

echo "== Stream name functions"

check "category, id, cardinal_id, is_category" "$(cat <<'EOF'
account-123+456|account|123+456|123|f
account:command-1|account:command|1|1|f
account:command-123+456|account:command|123+456|123|f
account-123-456|account|123-456|123-456|f
account-|account|||f
account|account|<null>|<null>|t
account:command|account:command|<null>|<null>|t
<null>|<null>|<null>|<null>|t
EOF
)" <<'SQL'
SELECT n, category(n), id(n), cardinal_id(n), is_category(n)
  FROM unnest(ARRAY['account-123+456', 'account:command-1', 'account:command-123+456', 'account-123-456',
                    'account-', 'account', 'account:command', NULL]::varchar[]) WITH ORDINALITY AS t(n, i)
 ORDER BY i;
SQL

hash_inputs=(account account-123 "account:command" "" "someCategory" "x+y")
expected_hashes=$(python3 - "${hash_inputs[@]}" <<'PY'
import hashlib, sys
for value in sys.argv[1:]:
    n = int(hashlib.md5(value.encode()).hexdigest()[:16], 16)
    print(n - (1 << 64) if n >= 1 << 63 else n)
PY
)
check "hash_64 is the first 64 bits of MD5 as a signed bigint" "$expected_hashes
<null>" <<'SQL'
SELECT hash_64(v) FROM unnest(ARRAY['account', 'account-123', 'account:command', '', 'someCategory', 'x+y']::varchar[])
  WITH ORDINALITY AS t(v, i) ORDER BY i;
SELECT hash_64(NULL);
SQL

check "acquire_lock returns hash_64 of the category" "t" <<'SQL'
SELECT acquire_lock('account-123+456') = hash_64('account');
SQL

echo "== Report views"

check "report views return rows that add up to all messages" "$(cat <<'EOF'
category_type_summary|t|t
stream_summary|t|t
stream_type_summary|t|t
type_category_summary|t|t
type_stream_summary|t|t
type_summary|t|t
EOF
)" <<'SQL'
WITH total AS (SELECT count(*) AS n FROM messages)
SELECT 'category_type_summary', sum(message_count) = (SELECT n FROM total), abs(sum(percent) - 100) < 0.5 FROM category_type_summary
UNION ALL SELECT 'stream_summary', sum(message_count) = (SELECT n FROM total), abs(sum(percent) - 100) < 0.5 FROM stream_summary
UNION ALL SELECT 'stream_type_summary', sum(message_count) = (SELECT n FROM total), abs(sum(percent) - 100) < 0.5 FROM stream_type_summary
UNION ALL SELECT 'type_category_summary', sum(message_count) = (SELECT n FROM total), abs(sum(percent) - 100) < 0.5 FROM type_category_summary
UNION ALL SELECT 'type_stream_summary', sum(message_count) = (SELECT n FROM total), abs(sum(percent) - 100) < 0.5 FROM type_stream_summary
UNION ALL SELECT 'type_summary', sum(message_count) = (SELECT n FROM total), abs(sum(percent) - 100) < 0.5 FROM type_summary;
SQL

# Every view row against counts computed here from the table.
check "report view contents match message counts and percentages" "$(cat <<'EOF'
category_type_summary|0
stream_summary|0
stream_type_summary|0
type_category_summary|0
type_stream_summary|0
type_summary|0
EOF
)" <<'SQL'
CREATE TEMP VIEW per_stream_type AS
  SELECT stream_name, category(stream_name)::text AS category, type, count(*) AS message_count
    FROM messages GROUP BY 1, 2, 3;
CREATE TEMP VIEW expected_rows AS
  WITH total AS (SELECT count(*) AS n FROM messages)
  SELECT v, k1, k2, sum(message_count) AS message_count,
         round(sum(message_count) * 100.0 / (SELECT n FROM total), 2) AS percent
    FROM (SELECT 'stream_summary' AS v, stream_name AS k1, '' AS k2, message_count FROM per_stream_type
          UNION ALL SELECT 'type_summary', type, '', message_count FROM per_stream_type
          UNION ALL SELECT 'stream_type_summary', stream_name, type, message_count FROM per_stream_type
          UNION ALL SELECT 'type_stream_summary', type, stream_name, message_count FROM per_stream_type
          UNION ALL SELECT 'category_type_summary', category, type, message_count FROM per_stream_type
          UNION ALL SELECT 'type_category_summary', type, category, message_count FROM per_stream_type) AS x
   GROUP BY 1, 2, 3;
CREATE TEMP VIEW actual_rows AS
  SELECT 'stream_summary' AS v, stream_name AS k1, '' AS k2, message_count, percent FROM stream_summary
  UNION ALL SELECT 'type_summary', type, '', message_count, percent FROM type_summary
  UNION ALL SELECT 'stream_type_summary', stream_name, type, message_count, percent FROM stream_type_summary
  UNION ALL SELECT 'type_stream_summary', type, stream_name, message_count, percent FROM type_stream_summary
  UNION ALL SELECT 'category_type_summary', category::text, type, message_count, percent FROM category_type_summary
  UNION ALL SELECT 'type_category_summary', type, category::text, message_count, percent FROM type_category_summary;
SELECT names.v, count(d.v)
  FROM unnest(ARRAY['category_type_summary', 'stream_summary', 'stream_type_summary',
                    'type_category_summary', 'type_stream_summary', 'type_summary']) AS names(v)
  LEFT JOIN ((SELECT * FROM actual_rows EXCEPT ALL SELECT * FROM expected_rows)
             UNION ALL
             (SELECT * FROM expected_rows EXCEPT ALL SELECT * FROM actual_rows)) AS d ON d.v = names.v
 GROUP BY names.v
 ORDER BY names.v;
SQL

check "report views are ordered by their key columns" "t|t|t|t|t|t" <<'SQL'
SELECT (SELECT array_agg(type) FROM type_summary) = (SELECT array_agg(type ORDER BY type) FROM type_summary),
       (SELECT array_agg(stream_name) FROM stream_summary) = (SELECT array_agg(stream_name ORDER BY stream_name) FROM stream_summary),
       (SELECT array_agg(stream_name || '/' || type) FROM stream_type_summary)
         = (SELECT array_agg(stream_name || '/' || type ORDER BY stream_name, type) FROM stream_type_summary),
       (SELECT array_agg(type || '/' || stream_name) FROM type_stream_summary)
         = (SELECT array_agg(type || '/' || stream_name ORDER BY type, stream_name) FROM type_stream_summary),
       (SELECT array_agg(category || '/' || type) FROM category_type_summary)
         = (SELECT array_agg(category || '/' || type ORDER BY category, type) FROM category_type_summary),
       (SELECT array_agg(type || '/' || category) FROM type_category_summary)
         = (SELECT array_agg(type || '/' || category ORDER BY type, category) FROM type_category_summary);
SQL

if [ -n "$transcript" ]; then
  record "report view rows" "$(app <<'SQL'
SELECT 'type_summary', * FROM type_summary;
SELECT 'stream_summary', * FROM stream_summary;
SELECT 'stream_type_summary', * FROM stream_type_summary;
SELECT 'type_stream_summary', * FROM type_stream_summary;
SELECT 'category_type_summary', * FROM category_type_summary;
SELECT 'type_category_summary', * FROM type_category_summary;
SQL
)"
fi

echo "== Debug notices"

lock_hash=$(app -c "SELECT hash_64('notice')")
check_notices "no notices without debug settings" "" <<'SQL'
SELECT write_message(md5('n0')::uuid::varchar, 'notice-0', 'Noted', '{"a": 1}');
SELECT count(*) FROM get_stream_messages('notice-0');
SQL

check_notices "message_store.debug_write: write notices" "» acquire_lock
stream_name: notice-1
_category: notice
_category_name_hash: $lock_hash
» write_message
id (\$1): $(app -c "SELECT md5('n1')::uuid")
stream_name (\$2): notice-1
type (\$3): Noted
data (\$4): {\"a\": 1}
metadata (\$5): {\"b\": 2}
expected_version (\$6): -1
_stream_version: -1
_next_position: 0" <<'SQL'
SET message_store.debug_write = on;
SELECT write_message(md5('n1')::uuid::varchar, 'notice-1', 'Noted', '{"a": 1}', '{"b": 2}', -1);
SELECT count(*) FROM get_stream_messages('notice-1');
SQL

check_notices "message_store.debug_get: read notices" "$(cat <<'EOF'
» get_stream_messages
stream_name ($1): notice-1
position ($2): 0
batch_size ($3): 1000
condition ($4): <NULL>
Generated Command: ...
» get_category_messages
category ($1): notice
position ($2): 1
batch_size ($3): -1
correlation ($4): otherService
consumer_group_member ($5): 0
consumer_group_size ($6): 2
condition: <NULL>
Generated Command: ...
» get_last_message
stream_name ($1): notice-1
type ($2): Noted
Generated Command: ...
» get_last_message
stream_name ($1): notice-1
type ($2): <NULL>
Generated Command: ...
EOF
)" <<'SQL'
SET message_store.debug_get = on;
SELECT write_message(md5('n2')::uuid::varchar, 'notice-1', 'Noted', '{"a": 1}');
SELECT count(*) FROM get_stream_messages('notice-1', NULL, NULL);
SELECT count(*) FROM get_category_messages('notice', NULL, -1, 'otherService', 0, 2);
SELECT count(*) FROM get_last_stream_message('notice-1', 'Noted');
SELECT count(*) FROM get_last_stream_message('notice-1');
SQL

check_notices "message_store.debug: write and read notices" "$(cat <<EOF
» acquire_lock
stream_name: notice-2
_category: notice
_category_name_hash: $lock_hash
» write_message
id (\$1): $(app -c "SELECT md5('n3')::uuid")
stream_name (\$2): notice-2
type (\$3): Noted
data (\$4): {}
metadata (\$5): <NULL>
expected_version (\$6): <NULL>
_stream_version: -1
_next_position: 0
» get_stream_messages
stream_name (\$1): notice-2
position (\$2): 1
batch_size (\$3): 5
condition (\$4): messages.position > 0
Generated Command: ...
EOF
)" <<'SQL'
SET message_store.debug = on;
SET message_store.sql_condition = on;
SELECT write_message(md5('n3')::uuid::varchar, 'notice-2', 'Noted', '{}');
SELECT count(*) FROM get_stream_messages('notice-2', 1, 5, 'messages.position > 0');
SQL

echo "== Concurrency"

# A writer holding its transaction open blocks writers of the same category only.
(app >/dev/null 2>&1 <<'SQL'
BEGIN;
SELECT write_message(md5('l1')::uuid::varchar, 'lockTest-1', 'Held', '{}');
SELECT pg_sleep(3);
COMMIT;
SQL
) &
holder=$!
for _ in $(seq 1 50); do
  held=$(admin -c "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted")
  [ "$held" != "0" ] && break
  sleep 0.1
done
start=$(date +%s.%N)
app -c "SELECT write_message(md5('l2')::uuid::varchar, 'otherLockTest-1', 'Free', '{}')" >/dev/null
other_elapsed=$(python3 -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$start" "$(date +%s.%N)")
app -c "SELECT write_message(md5('l3')::uuid::varchar, 'lockTest-2', 'Waited', '{}')" >/dev/null
same_elapsed=$(python3 -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$start" "$(date +%s.%N)")
wait "$holder"
verdict=$(python3 -c "import sys; print('t' if float(sys.argv[1]) < 1.5 and float(sys.argv[2]) >= 1.5 else 'f')" "$other_elapsed" "$same_elapsed")
record "writers of one category are serialised" "$verdict"
if [ "$verdict" = t ]; then
  pass "writers of one category are serialised (other category: ${other_elapsed:0:4}s, same category: ${same_elapsed:0:4}s)"
else
  fail "writers of one category are serialised" "other category < 1.5s, same category >= 1.5s" \
    "other category ${other_elapsed}s, same category ${same_elapsed}s"
fi
check "the waiting writer got the next global position" "Held|0
Waited|0" <<'SQL'
SELECT type, position FROM get_category_messages('lockTest');
SQL

plan=$(admin -c "SET enable_seqscan = off" -c "EXPLAIN (COSTS OFF) SELECT * FROM message_store.messages
  WHERE message_store.category(stream_name) = 'account' AND global_position >= 1 ORDER BY global_position LIMIT 1000")
if grep -q 'messages_category' <<<"$plan"; then pass "category reads use the messages_category index"
else fail "category reads use the messages_category index" "a plan using messages_category" "$plan"; fi

if [ -n "$then_command" ]; then
  echo "== $then_command"
  if PGHOST=$sock PGPORT=$port PGDATABASE=message_store PGUSER=message_store bash -c "$then_command"; then
    pass "--then command"
  else
    fail "--then command" "exit status 0" "non-zero exit status"
  fi
fi

echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
