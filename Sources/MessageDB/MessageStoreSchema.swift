// Thalo's own implementation of the Message DB 1.3 `message_store` schema.
//
// Written for Thalo from Message DB's documented interface. Only the public contract is
// shared with Message DB: object names, column names and types, function signatures and
// defaults, result types, error and notice texts, and the meaning of the
// `message_store.*` settings. Everything else (structure, local names, comments) is ours.

/// The Message DB 1.3–compatible `message_store` schema that Thalo installs.
///
/// Thalo writes and reads messages only through the server functions of this schema, so a
/// database set up by ``installStatements`` and a database where the official Message DB
/// 1.3 is installed are interchangeable for Thalo and for other Message DB clients (for
/// example `message-db-py`, which connects as the `message_store` role and calls the
/// functions unqualified).
///
/// ## What gets installed
///
/// Everything lives in the schema `message_store`:
///
/// - the `message_store` role (see *Role* below) and the schema itself;
/// - the `messages` table: `global_position bigserial` (primary key `messages_pkey`),
///   `position bigint`, `time timestamp` (default: now in UTC), `stream_name text`,
///   `type text`, `data jsonb`, `metadata jsonb`, `id uuid` (default `gen_random_uuid()`),
///   with the indexes `messages_id` (unique `id`), `messages_stream` (unique
///   `stream_name, position`) and `messages_category` (`category(stream_name),
///   global_position, category(metadata->>'correlationStreamName')`);
/// - the composite type `message`, the row type of every reading function;
/// - the twelve functions of Message DB 1.3: `message_store_version`, `hash_64`,
///   `acquire_lock`, `category`, `is_category`, `id`, `cardinal_id`, `stream_version`,
///   `write_message`, `get_stream_messages`, `get_category_messages` and
///   `get_last_stream_message` (with the optional `type` argument added in 1.3);
/// - the report views `stream_summary`, `type_summary`, `stream_type_summary`,
///   `type_stream_summary`, `category_type_summary` and `type_category_summary`;
/// - the grants the official installer gives the `message_store` role: `USAGE` on the
///   schema, `SELECT, INSERT` on the table, `USAGE, SELECT` on its sequence, `EXECUTE` on
///   the functions and `SELECT` on the views.
///
/// Behaviour follows Message DB: gapless stream positions, `expected_version` (-1 meaning
/// "no stream yet") checked under a per-category advisory transaction lock,
/// `batch_size` -1 meaning unlimited, consumer groups assigning a stream to member
/// `abs(hash_64(cardinal_id(stream_name))) % consumer_group_size`, the `condition`
/// argument refused unless the `message_store.sql_condition` setting is on (any value
/// except `off`), and debug notices with Message DB's texts when `message_store.debug`,
/// `message_store.debug_get` or `message_store.debug_write` is `on`.
///
/// ## Idempotency and existing installations
///
/// Every statement is self-contained and guarded by a check of the object it creates, so
/// the statements can be run any number of times, one by one on separate connections or
/// together in one transaction:
///
/// - Each statement is a `DO` block that first takes a transaction-level advisory lock
///   (the two-key form, keys `1414024271, 1`, which never collides with the single-key
///   locks of `acquire_lock`), so concurrent installers run one after the other.
/// - An object is created only when nothing of that name exists yet (`to_regclass`,
///   `to_regtype`, `pg_proc` by function *name*), and never with `OR REPLACE`, `DROP` or
///   `ALTER`. A function name that already exists with any signature is left alone, so an
///   older official install (for example 1.2, whose `get_last_stream_message` takes one
///   argument) never gets a second, ambiguous overload.
/// - Grants are given only in the statement that creates the object, right after creating
///   it. Privileges of objects that already existed are therefore never changed (nor
///   re-granted after an administrator revoked them).
/// - The role statement does nothing at all when `message_store.messages` already exists.
///
/// As a result, running these statements on top of an official Message DB installation
/// changes nothing: no function definition, table, index, view, type, privilege or role
/// setting is touched. ``isInstalledQuery`` tells whether a schema (Thalo's or the
/// official one) is present.
///
/// ## Role
///
/// On a fresh install (no `message_store.messages` table yet) the first statement creates
/// the `message_store` role `WITH LOGIN` (no password) if it does not exist and the
/// current user is a superuser or has `CREATEROLE`; otherwise it only raises a notice and
/// the installation goes on without the role (and without grants). If the role has no
/// cluster-wide `search_path` of its own, it gets
/// `ALTER ROLE message_store SET search_path TO message_store, public`, so clients
/// connected as `message_store` can call the functions unqualified. (Message DB relies on
/// the default `"$user", public` search path for the same effect.)
///
/// Because an existing installation is never touched, a schema first installed without
/// the role (by a user lacking `CREATEROLE`) does not get the role or its grants from a
/// later run either: an administrator then creates the role and grants by hand, as the
/// official installer would have.
///
/// ## Deliberate differences from the official installer
///
/// - No `pgcrypto`: PostgreSQL 13 and later have `gen_random_uuid()` built in. The
///   extension is created only when no `gen_random_uuid()` is visible (PostgreSQL 12 and
///   older). No grant is made on `gen_random_uuid()` itself (everyone may execute it).
/// - The function bodies schema-qualify every object they use, so they work whatever the
///   caller's `search_path` is. A `condition` argument is still evaluated against the
///   table as `messages`, so conditions such as `messages.time >= now()` keep working.
/// - `consumer_group_size` is used as a `bigint`; Message DB casts it to `smallint` and
///   so fails for groups larger than 32767 members.
/// - The `Generated Command: …` debug notices show Thalo's own query text.
public enum MessageStoreSchema {
    /// The Message DB version this schema reproduces.
    public static let version = "1.3.0"

    /// Statements to run in order, each one a complete SQL statement (may be a DO block or
    /// a CREATE FUNCTION with $$ bodies). Idempotent.
    ///
    /// Each element is a single `DO` block ending with a semicolon. Run them in this order
    /// with a user that may create schemas in the database (ideally a superuser, so that
    /// the `message_store` role can be created too). They can be sent one by one (each
    /// one commits on its own) or inside one transaction.
    public static let installStatements: [String] =
        [roleStatement, schemaStatement, uuidFunctionStatement, messageTypeStatement, tableStatement]
        + serverFunctions.map(guardedFunctionStatement)
        + indexes.map(guardedIndexStatement)
        + views.map(guardedViewStatement)

    /// A query returning one row with one boolean column, `installed`: whether the
    /// `message_store` schema (Thalo's or the official Message DB) is present, that is
    /// whether the table `message_store.messages` and the function
    /// `message_store.message_store_version()` both exist.
    public static let isInstalledQuery: String = #"""
        SELECT
          EXISTS (
            SELECT 1
            FROM pg_catalog.pg_class AS rel
            JOIN pg_catalog.pg_namespace AS ns ON ns.oid = rel.relnamespace
            WHERE ns.nspname = 'message_store'
              AND rel.relname = 'messages'
              AND rel.relkind IN ('r', 'p')
          )
          AND EXISTS (
            SELECT 1
            FROM pg_catalog.pg_proc AS fn
            JOIN pg_catalog.pg_namespace AS ns ON ns.oid = fn.pronamespace
            WHERE ns.nspname = 'message_store'
              AND fn.proname = 'message_store_version'
              AND fn.pronargs = 0
          ) AS installed
        """#

    // MARK: - Statement building blocks

    /// The advisory lock every install statement takes first (two-key form: "THLO", 1).
    private static let installLock = "PERFORM pg_catalog.pg_advisory_xact_lock(1414024271, 1);"

    /// SQL condition: the `message_store` role exists.
    private static let roleExists =
        "EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'message_store')"

    /// Creates the `message_store` role and its search path, only on a fresh install.
    private static let roleStatement = #"""
        DO $thalo_role$
        DECLARE
          can_manage_roles boolean;
          has_search_path boolean;
        BEGIN
          \#(installLock)

          -- An existing message store, official or ours, keeps its role exactly as it is.
          IF to_regclass('message_store.messages') IS NOT NULL THEN
            RETURN;
          END IF;

          IF NOT \#(roleExists) THEN
            SELECT r.rolsuper OR r.rolcreaterole
              INTO can_manage_roles
              FROM pg_catalog.pg_roles AS r
             WHERE r.rolname = current_user;

            IF NOT coalesce(can_manage_roles, false) THEN
              RAISE NOTICE 'Thalo: role message_store is missing and % may not create it; installing without it', current_user;
              RETURN;
            END IF;

            BEGIN
              CREATE ROLE message_store WITH LOGIN;
            EXCEPTION
              WHEN duplicate_object THEN
                NULL; -- created meanwhile by someone else
            END;
          END IF;

          SELECT EXISTS (
                   SELECT 1
                     FROM pg_catalog.pg_db_role_setting AS s
                     JOIN pg_catalog.pg_roles AS r ON r.oid = s.setrole
                     CROSS JOIN LATERAL unnest(s.setconfig) AS cfg(item)
                    WHERE r.rolname = 'message_store'
                      AND s.setdatabase = 0
                      AND cfg.item LIKE 'search\_path=%')
            INTO has_search_path;

          IF NOT has_search_path THEN
            BEGIN
              ALTER ROLE message_store SET search_path TO message_store, public;
            EXCEPTION
              WHEN insufficient_privilege THEN
                RAISE NOTICE 'Thalo: % may not set the search_path of role message_store; left unchanged', current_user;
            END;
          END IF;
        END
        $thalo_role$;
        """#

    /// Creates the schema when it is missing.
    private static let schemaStatement = #"""
        DO $thalo_schema$
        BEGIN
          \#(installLock)
          IF to_regnamespace('message_store') IS NULL THEN
            CREATE SCHEMA message_store;
          END IF;
        END
        $thalo_schema$;
        """#

    /// Makes `gen_random_uuid()` available: built in since PostgreSQL 13, from `pgcrypto`
    /// before that.
    private static let uuidFunctionStatement = #"""
        DO $thalo_uuid$
        BEGIN
          \#(installLock)
          IF to_regprocedure('gen_random_uuid()') IS NULL THEN
            CREATE EXTENSION IF NOT EXISTS pgcrypto;
          END IF;
        END
        $thalo_uuid$;
        """#

    /// The row type returned by the reading functions.
    private static let messageTypeStatement = #"""
        DO $thalo_type$
        BEGIN
          \#(installLock)
          IF to_regtype('message_store.message') IS NULL THEN
            CREATE TYPE message_store.message AS (
              id varchar,
              stream_name varchar,
              type varchar,
              position bigint,
              global_position bigint,
              data varchar,
              metadata varchar,
              time timestamp
            );
          END IF;
        END
        $thalo_type$;
        """#

    /// The messages table, with the grants on it, its sequence and the schema. Its
    /// absence is what marks a fresh install, so these grants are given only then.
    private static let tableStatement = #"""
        DO $thalo_table$
        BEGIN
          \#(installLock)
          IF to_regclass('message_store.messages') IS NOT NULL THEN
            RETURN;
          END IF;

          -- Column order, types, defaults and constraints as in Message DB 1.3.
          CREATE TABLE message_store.messages (
            global_position bigserial NOT NULL PRIMARY KEY,
            position bigint NOT NULL,
            time timestamp without time zone NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
            stream_name text NOT NULL,
            type text NOT NULL,
            data jsonb,
            metadata jsonb,
            id uuid NOT NULL DEFAULT gen_random_uuid()
          );

          IF \#(roleExists) THEN
            GRANT USAGE ON SCHEMA message_store TO message_store;
            GRANT SELECT, INSERT ON message_store.messages TO message_store;
            GRANT USAGE, SELECT ON SEQUENCE message_store.messages_global_position_seq TO message_store;
          END IF;
        END
        $thalo_table$;
        """#

    // MARK: - Server functions

    /// One server function: its name, its argument types (for the grant) and its DDL.
    private struct ServerFunction: Sendable {
        let name: String
        let argumentTypes: String
        let definition: String
    }

    /// Wraps a function definition so that it is created (and granted) only when no
    /// function of that name exists in `message_store`.
    private static func guardedFunctionStatement(_ function: ServerFunction) -> String {
        """
        DO $thalo_function$
        BEGIN
          \(installLock)
          IF EXISTS (
            SELECT 1
              FROM pg_catalog.pg_proc AS fn
             WHERE fn.pronamespace = 'message_store'::regnamespace
               AND fn.proname = '\(function.name)'
          ) THEN
            RETURN;
          END IF;

          EXECUTE $thalo_ddl$
        \(function.definition)
        $thalo_ddl$;

          IF \(roleExists) THEN
            GRANT EXECUTE ON FUNCTION message_store.\(function.name)(\(function.argumentTypes)) TO message_store;
          END IF;
        END
        $thalo_function$;
        """
    }

    /// The twelve functions of Message DB 1.3, helpers first.
    private static let serverFunctions: [ServerFunction] = [
        ServerFunction(
            name: "message_store_version", argumentTypes: "",
            definition: #"""
                CREATE FUNCTION message_store.message_store_version()
                RETURNS varchar
                LANGUAGE plpgsql
                VOLATILE
                AS $body$
                BEGIN
                  -- The Message DB release whose interface this schema provides.
                  RETURN '\#(version)';
                END;
                $body$
                """#),

        ServerFunction(
            name: "hash_64", argumentTypes: "varchar",
            definition: #"""
                CREATE FUNCTION message_store.hash_64(
                  value varchar
                )
                RETURNS bigint
                LANGUAGE plpgsql
                IMMUTABLE
                AS $body$
                DECLARE
                  leading_hex text;
                BEGIN
                  -- 64 bits of the MD5 digest (its first 16 hex digits) as a signed bigint.
                  leading_hex := substr(md5(hash_64.value), 1, 16);
                  RETURN ('x' || leading_hex)::bit(64)::bigint;
                END;
                $body$
                """#),

        ServerFunction(
            name: "acquire_lock", argumentTypes: "varchar",
            definition: #"""
                CREATE FUNCTION message_store.acquire_lock(
                  stream_name varchar
                )
                RETURNS bigint
                LANGUAGE plpgsql
                VOLATILE
                AS $body$
                DECLARE
                  category_of_stream varchar;
                  lock_key bigint;
                BEGIN
                  -- Writers to one category take turns until their transaction ends, so that a
                  -- category reader never sees a global position before a lower one is committed.
                  category_of_stream := message_store.category(acquire_lock.stream_name);
                  lock_key := message_store.hash_64(category_of_stream);
                  PERFORM pg_advisory_xact_lock(lock_key);

                  IF 'on' IN (current_setting('message_store.debug_write', true),
                              current_setting('message_store.debug', true)) THEN
                    RAISE NOTICE '» acquire_lock';
                    RAISE NOTICE 'stream_name: %', acquire_lock.stream_name;
                    RAISE NOTICE '_category: %', category_of_stream;
                    RAISE NOTICE '_category_name_hash: %', lock_key;
                  END IF;

                  RETURN lock_key;
                END;
                $body$
                """#),

        ServerFunction(
            name: "category", argumentTypes: "varchar",
            definition: #"""
                CREATE FUNCTION message_store.category(
                  stream_name varchar
                )
                RETURNS varchar
                LANGUAGE plpgsql
                IMMUTABLE
                AS $body$
                BEGIN
                  -- Everything before the first dash ("account:command-1" -> "account:command").
                  RETURN split_part(category.stream_name, '-', 1);
                END;
                $body$
                """#),

        ServerFunction(
            name: "is_category", argumentTypes: "varchar",
            definition: #"""
                CREATE FUNCTION message_store.is_category(
                  stream_name varchar
                )
                RETURNS boolean
                LANGUAGE plpgsql
                IMMUTABLE
                AS $body$
                DECLARE
                  dash_at integer;
                BEGIN
                  dash_at := strpos(is_category.stream_name, '-');
                  -- No id separator: the name is a whole category. Like Message DB, a NULL
                  -- name is reported as a category too.
                  RETURN dash_at IS NULL OR dash_at = 0;
                END;
                $body$
                """#),

        ServerFunction(
            name: "id", argumentTypes: "varchar",
            definition: #"""
                CREATE FUNCTION message_store.id(
                  stream_name varchar
                )
                RETURNS varchar
                LANGUAGE plpgsql
                IMMUTABLE
                AS $body$
                DECLARE
                  dash_at integer;
                BEGIN
                  dash_at := strpos(id.stream_name, '-');
                  IF dash_at = 0 THEN
                    RETURN NULL; -- a category has no id
                  END IF;
                  -- Everything after the first dash, compound ids included ("123+456").
                  RETURN substr(id.stream_name, dash_at + 1);
                END;
                $body$
                """#),

        ServerFunction(
            name: "cardinal_id", argumentTypes: "varchar",
            definition: #"""
                CREATE FUNCTION message_store.cardinal_id(
                  stream_name varchar
                )
                RETURNS varchar
                LANGUAGE plpgsql
                IMMUTABLE
                AS $body$
                BEGIN
                  -- The first part of a compound id ("account-123+456" -> "123"); NULL for a category.
                  RETURN split_part(message_store.id(cardinal_id.stream_name), '+', 1);
                END;
                $body$
                """#),

        ServerFunction(
            name: "stream_version", argumentTypes: "varchar",
            definition: #"""
                CREATE FUNCTION message_store.stream_version(
                  stream_name varchar
                )
                RETURNS bigint
                LANGUAGE plpgsql
                VOLATILE
                AS $body$
                DECLARE
                  highest_position bigint;
                BEGIN
                  -- NULL when the stream has no message.
                  SELECT max(m.position)
                    INTO highest_position
                    FROM message_store.messages AS m
                   WHERE m.stream_name = stream_version.stream_name;
                  RETURN highest_position;
                END;
                $body$
                """#),

        ServerFunction(
            name: "write_message",
            argumentTypes: "varchar, varchar, varchar, jsonb, jsonb, bigint",
            definition: #"""
                CREATE FUNCTION message_store.write_message(
                  id varchar,
                  stream_name varchar,
                  "type" varchar,
                  data jsonb,
                  metadata jsonb DEFAULT NULL,
                  expected_version bigint DEFAULT NULL
                )
                RETURNS bigint
                LANGUAGE plpgsql
                VOLATILE
                AS $body$
                DECLARE
                  current_version bigint;
                  new_position bigint;
                  new_id uuid;
                BEGIN
                  PERFORM message_store.acquire_lock(write_message.stream_name);

                  -- -1 stands for "the stream has no message yet".
                  current_version := coalesce(message_store.stream_version(write_message.stream_name), -1);

                  IF write_message.expected_version IS NOT NULL
                     AND write_message.expected_version <> current_version THEN
                    RAISE EXCEPTION 'Wrong expected version: % (Stream: %, Stream Version: %)',
                      write_message.expected_version,
                      write_message.stream_name,
                      current_version;
                  END IF;

                  new_position := current_version + 1;
                  new_id := write_message.id::uuid;

                  INSERT INTO message_store.messages (id, stream_name, position, type, data, metadata)
                  VALUES (
                    new_id,
                    write_message.stream_name,
                    new_position,
                    write_message.type,
                    write_message.data,
                    write_message.metadata
                  );

                  IF 'on' IN (current_setting('message_store.debug_write', true),
                              current_setting('message_store.debug', true)) THEN
                    RAISE NOTICE '» write_message';
                    RAISE NOTICE 'id ($1): %', write_message.id;
                    RAISE NOTICE 'stream_name ($2): %', write_message.stream_name;
                    RAISE NOTICE 'type ($3): %', write_message.type;
                    RAISE NOTICE 'data ($4): %', write_message.data;
                    RAISE NOTICE 'metadata ($5): %', write_message.metadata;
                    RAISE NOTICE 'expected_version ($6): %', write_message.expected_version;
                    RAISE NOTICE '_stream_version: %', current_version;
                    RAISE NOTICE '_next_position: %', new_position;
                  END IF;

                  RETURN new_position;
                END;
                $body$
                """#),

        ServerFunction(
            name: "get_stream_messages",
            argumentTypes: "varchar, bigint, bigint, varchar",
            definition: #"""
                CREATE FUNCTION message_store.get_stream_messages(
                  stream_name varchar,
                  "position" bigint DEFAULT 0,
                  batch_size bigint DEFAULT 1000,
                  condition varchar DEFAULT NULL
                )
                RETURNS SETOF message_store.message
                LANGUAGE plpgsql
                VOLATILE
                AS $body$
                DECLARE
                  from_position bigint := coalesce(get_stream_messages.position, 0);
                  row_limit bigint := coalesce(get_stream_messages.batch_size, 1000);
                  query_text text;
                BEGIN
                  IF message_store.is_category(get_stream_messages.stream_name) THEN
                    RAISE EXCEPTION 'Must be a stream name: %', get_stream_messages.stream_name;
                  END IF;

                  query_text := '
                    SELECT messages.id::varchar, messages.stream_name::varchar, messages.type::varchar,
                           messages.position, messages.global_position,
                           messages.data::varchar, messages.metadata::varchar, messages.time
                      FROM message_store.messages
                     WHERE messages.stream_name = $1
                       AND messages.position >= $2';

                  IF get_stream_messages.condition IS NOT NULL THEN
                    IF coalesce(current_setting('message_store.sql_condition', true), 'off') = 'off' THEN
                      RAISE EXCEPTION 'Retrieval with SQL condition is not activated';
                    END IF;
                    query_text := query_text || '
                       AND (' || get_stream_messages.condition || ')';
                  END IF;

                  query_text := query_text || '
                     ORDER BY messages.position';

                  IF row_limit <> -1 THEN -- -1: the whole stream
                    query_text := query_text || '
                     LIMIT $3';
                  END IF;

                  IF 'on' IN (current_setting('message_store.debug_get', true),
                              current_setting('message_store.debug', true)) THEN
                    RAISE NOTICE '» get_stream_messages';
                    RAISE NOTICE 'stream_name ($1): %', get_stream_messages.stream_name;
                    RAISE NOTICE 'position ($2): %', from_position;
                    RAISE NOTICE 'batch_size ($3): %', row_limit;
                    RAISE NOTICE 'condition ($4): %', get_stream_messages.condition;
                    RAISE NOTICE 'Generated Command: %', query_text;
                  END IF;

                  RETURN QUERY EXECUTE query_text
                    USING get_stream_messages.stream_name, from_position, row_limit;
                END;
                $body$
                """#),

        ServerFunction(
            name: "get_category_messages",
            argumentTypes: "varchar, bigint, bigint, varchar, bigint, bigint, varchar",
            definition: #"""
                CREATE FUNCTION message_store.get_category_messages(
                  category varchar,
                  "position" bigint DEFAULT 1,
                  batch_size bigint DEFAULT 1000,
                  correlation varchar DEFAULT NULL,
                  consumer_group_member bigint DEFAULT NULL,
                  consumer_group_size bigint DEFAULT NULL,
                  condition varchar DEFAULT NULL
                )
                RETURNS SETOF message_store.message
                LANGUAGE plpgsql
                VOLATILE
                AS $body$
                DECLARE
                  from_position bigint := coalesce(get_category_messages.position, 1);
                  row_limit bigint := coalesce(get_category_messages.batch_size, 1000);
                  group_member bigint := get_category_messages.consumer_group_member;
                  group_size bigint := get_category_messages.consumer_group_size;
                  query_text text;
                BEGIN
                  IF NOT message_store.is_category(get_category_messages.category) THEN
                    RAISE EXCEPTION 'Must be a category: %', get_category_messages.category;
                  END IF;

                  query_text := '
                    SELECT messages.id::varchar, messages.stream_name::varchar, messages.type::varchar,
                           messages.position, messages.global_position,
                           messages.data::varchar, messages.metadata::varchar, messages.time
                      FROM message_store.messages
                     WHERE message_store.category(messages.stream_name) = $1
                       AND messages.global_position >= $2';

                  -- Pub/sub: only messages whose correlation stream is in the given category.
                  IF get_category_messages.correlation IS NOT NULL THEN
                    IF strpos(get_category_messages.correlation, '-') > 0 THEN
                      RAISE EXCEPTION 'Correlation must be a category (Correlation: %)',
                        get_category_messages.correlation;
                    END IF;
                    query_text := query_text || '
                       AND message_store.category(messages.metadata->>''correlationStreamName'') = $4';
                  END IF;

                  -- Consumer groups: each stream belongs to one member, by the hash of its cardinal id.
                  IF (group_member IS NULL) <> (group_size IS NULL) THEN
                    RAISE EXCEPTION 'Consumer group member and size must be specified (Consumer Group Member: %, Consumer Group Size: %)',
                      group_member, group_size;
                  END IF;

                  IF group_member IS NOT NULL THEN
                    IF group_size < 1 THEN
                      RAISE EXCEPTION 'Consumer group size must not be less than 1 (Consumer Group Member: %, Consumer Group Size: %)',
                        group_member, group_size;
                    END IF;
                    IF group_member < 0 THEN
                      RAISE EXCEPTION 'Consumer group member must not be less than 0 (Consumer Group Member: %, Consumer Group Size: %)',
                        group_member, group_size;
                    END IF;
                    IF group_member >= group_size THEN
                      RAISE EXCEPTION 'Consumer group member must be less than the group size (Consumer Group Member: %, Consumer Group Size: %)',
                        group_member, group_size;
                    END IF;
                    query_text := query_text || '
                       AND mod(abs(message_store.hash_64(message_store.cardinal_id(messages.stream_name))), $6) = $5';
                  END IF;

                  IF get_category_messages.condition IS NOT NULL THEN
                    IF coalesce(current_setting('message_store.sql_condition', true), 'off') = 'off' THEN
                      RAISE EXCEPTION 'Retrieval with SQL condition is not activated';
                    END IF;
                    query_text := query_text || '
                       AND (' || get_category_messages.condition || ')';
                  END IF;

                  query_text := query_text || '
                     ORDER BY messages.global_position';

                  IF row_limit <> -1 THEN -- -1: the whole category
                    query_text := query_text || '
                     LIMIT $3';
                  END IF;

                  IF 'on' IN (current_setting('message_store.debug_get', true),
                              current_setting('message_store.debug', true)) THEN
                    RAISE NOTICE '» get_category_messages';
                    RAISE NOTICE 'category ($1): %', get_category_messages.category;
                    RAISE NOTICE 'position ($2): %', from_position;
                    RAISE NOTICE 'batch_size ($3): %', row_limit;
                    RAISE NOTICE 'correlation ($4): %', get_category_messages.correlation;
                    RAISE NOTICE 'consumer_group_member ($5): %', group_member;
                    RAISE NOTICE 'consumer_group_size ($6): %', group_size;
                    RAISE NOTICE 'condition: %', get_category_messages.condition;
                    RAISE NOTICE 'Generated Command: %', query_text;
                  END IF;

                  RETURN QUERY EXECUTE query_text
                    USING get_category_messages.category, from_position, row_limit,
                          get_category_messages.correlation, group_member, group_size;
                END;
                $body$
                """#),

        ServerFunction(
            name: "get_last_stream_message",
            argumentTypes: "varchar, varchar",
            definition: #"""
                CREATE FUNCTION message_store.get_last_stream_message(
                  stream_name varchar,
                  "type" varchar DEFAULT NULL
                )
                RETURNS SETOF message_store.message
                LANGUAGE plpgsql
                VOLATILE
                AS $body$
                DECLARE
                  query_text text;
                BEGIN
                  query_text := '
                    SELECT messages.id::varchar, messages.stream_name::varchar, messages.type::varchar,
                           messages.position, messages.global_position,
                           messages.data::varchar, messages.metadata::varchar, messages.time
                      FROM message_store.messages
                     WHERE messages.stream_name = $1';

                  -- Since 1.3: optionally the last message of one type only.
                  IF get_last_stream_message.type IS NOT NULL THEN
                    query_text := query_text || '
                       AND messages.type = $2';
                  END IF;

                  query_text := query_text || '
                     ORDER BY messages.position DESC
                     LIMIT 1';

                  IF 'on' IN (current_setting('message_store.debug_get', true),
                              current_setting('message_store.debug', true)) THEN
                    RAISE NOTICE '» get_last_message';
                    RAISE NOTICE 'stream_name ($1): %', get_last_stream_message.stream_name;
                    RAISE NOTICE 'type ($2): %', get_last_stream_message.type;
                    RAISE NOTICE 'Generated Command: %', query_text;
                  END IF;

                  RETURN QUERY EXECUTE query_text
                    USING get_last_stream_message.stream_name, get_last_stream_message.type;
                END;
                $body$
                """#),
    ]

    // MARK: - Indexes

    /// An index of `message_store.messages`: its name and its DDL.
    private struct MessagesIndex: Sendable {
        let name: String
        let definition: String
    }

    /// Wraps an index definition so that it runs only when no relation of that name exists.
    private static func guardedIndexStatement(_ index: MessagesIndex) -> String {
        """
        DO $thalo_index$
        BEGIN
          \(installLock)
          IF to_regclass('message_store.\(index.name)') IS NULL THEN
            \(index.definition);
          END IF;
        END
        $thalo_index$;
        """
    }

    /// The secondary indexes of Message DB 1.3 (the primary key is `messages_pkey`).
    private static let indexes: [MessagesIndex] = [
        // The message id is unique across the store.
        MessagesIndex(
            name: "messages_id",
            definition: "CREATE UNIQUE INDEX messages_id ON message_store.messages (id)"
        ),
        // One message per stream position; also serves reads of one stream.
        MessagesIndex(
            name: "messages_stream",
            definition: "CREATE UNIQUE INDEX messages_stream ON message_store.messages (stream_name, position)"
        ),
        // Category reads, optionally filtered by correlation category.
        MessagesIndex(
            name: "messages_category",
            definition: #"""
                CREATE INDEX messages_category ON message_store.messages (
                      message_store.category(stream_name),
                      global_position,
                      message_store.category(metadata->>'correlationStreamName')
                    )
                """#
        ),
    ]

    // MARK: - Report views

    /// A report view: its name and the query it shows.
    private struct ReportView: Sendable {
        let name: String
        let query: String
    }

    /// Wraps a view so that it is created (and granted) only when no relation of that name
    /// exists.
    private static func guardedViewStatement(_ view: ReportView) -> String {
        """
        DO $thalo_view$
        BEGIN
          \(installLock)
          IF to_regclass('message_store.\(view.name)') IS NOT NULL THEN
            RETURN;
          END IF;

          CREATE VIEW message_store.\(view.name) AS
        \(view.query);

          IF \(roleExists) THEN
            GRANT SELECT ON message_store.\(view.name) TO message_store;
          END IF;
        END
        $thalo_view$;
        """
    }

    /// A report query: message counts grouped by `keys` (SQL expressions over `messages`,
    /// with their column names), each with its share of all messages in percent (rounded
    /// to two decimals), ordered by the keys.
    private static func summaryQuery(_ keys: [(expression: String, name: String)]) -> String {
        let groupKeys = keys.map { "\($0.expression) AS \($0.name)" }.joined(separator: ", ")
        let columns = keys.map { "per_group.\($0.name)" }.joined(separator: ", ")
        let groupPositions = keys.indices.map { String($0 + 1) }.joined(separator: ", ")
        return """
              SELECT \(columns),
                     per_group.message_count,
                     round(per_group.message_count / sum(per_group.message_count) OVER () * 100, 2) AS percent
                FROM (
                  SELECT \(groupKeys), count(messages.id) AS message_count
                    FROM message_store.messages
                   GROUP BY \(groupPositions)
                ) AS per_group
               ORDER BY \(columns)
            """
    }

    /// The six report views of Message DB 1.3.
    private static let views: [ReportView] = {
        let stream = (expression: "messages.stream_name", name: "stream_name")
        let type = (expression: "messages.type", name: "type")
        let category = (expression: "message_store.category(messages.stream_name)", name: "category")
        return [
            ReportView(name: "stream_summary", query: summaryQuery([stream])),
            ReportView(name: "type_summary", query: summaryQuery([type])),
            ReportView(name: "stream_type_summary", query: summaryQuery([stream, type])),
            ReportView(name: "type_stream_summary", query: summaryQuery([type, stream])),
            ReportView(name: "category_type_summary", query: summaryQuery([category, type])),
            ReportView(name: "type_category_summary", query: summaryQuery([type, category])),
        ]
    }()
}
