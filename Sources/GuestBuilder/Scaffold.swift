import Foundation

/// Creates a new aggregate project (`thalo new <name>`): a folder with a schema, a Swift
/// (or Rust) aggregate that builds and works, a README, and a given-when-then spec.
///
/// For `thalo new shopping_cart` (or `ShoppingCart`, or `shopping-cart`) the folder is
/// `shopping_cart/` with:
///
/// - `shopping_cart.esdl`: the aggregate `ShoppingCart` with `start(name: String)` and
///   `rename(name: String)`;
/// - `ShoppingCart.swift`: its implementation (start once; rename only when started and
///   to a different, non-empty name); with `language: .rust`, `shopping_cart.rs`;
/// - `Tests/shopping_cart.spec.json`: scenarios in the spec format below;
/// - `README.md`: how to build, test and publish.
///
/// ## The spec format
///
/// A JSON file of given-when-then scenarios, run against the built module by the
/// runtime's test helper. Each scenario starts from a fresh entity:
///
/// ```json
/// {
///   "aggregate": "ShoppingCart",
///   "scenarios": [
///     {
///       "name": "a started cart cannot be started again",
///       "given": [{ "type": "Started", "payload": { "name": "groceries" } }],
///       "when": { "command": "start", "payload": { "name": "other" } },
///       "then": { "error": { "command": "already started" } }
///     }
///   ]
/// }
/// ```
///
/// - `given`: events applied first, in order. Each may add `"metadata"` (an object,
///   default `{}`); positions are 0, 1, 2, … in the entity's stream.
/// - `when`: the command, its `payload`, and optionally `"position"` (its position in the
///   command stream; default -1, executed directly) and `"metadata"`.
/// - `then`: exactly one of `"events"` (the events the handler returns, each
///   `{ "type", "payload" }`, compared as JSON values; `[]` for none) or `"error"`, an
///   object with one key naming the contract's error case: `{"command": message}`,
///   `{"ignore": reason-or-null}`, `{"deserializeCommand": message}`,
///   `{"deserializeEvent": message}`, `{"unknownCommand": null}`, `{"unknownEvent": null}`;
///   a message of `null` matches any message. Optionally `"state"`: the JSON state view
///   expected after the returned events are applied (or after `given` for an error).
public enum Scaffold {
    /// Creates the project folder `<directory>/<snake_name>` and returns its URL.
    ///
    /// - Parameters:
    ///   - name: The aggregate's name in any of `ShoppingCart`, `shopping_cart`, `shopping-cart`.
    ///   - directory: The folder to create the project in.
    ///   - language: Swift (the default) or Rust; C has no generated code to scaffold.
    /// - Throws: ``GuestBuildError`` when the name is not usable or the folder exists.
    public static func create(name: String, in directory: URL, language: GuestLanguage = .swift) throws -> URL {
        guard language != .c else {
            throw GuestBuildError(
                .outputFailed, "thalo new scaffolds Swift or Rust aggregates, not C",
                hint: "see Examples/c_counter and docs/module-contract.md for a module in C")
        }
        let words = name.split(whereSeparator: { $0 == "_" || $0 == "-" || $0 == " " }).flatMap { splitCamelCase(String($0)) }
        guard !words.isEmpty,
            name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }),
            let first = name.first, first.isLetter
        else {
            throw GuestBuildError(
                .outputFailed, "'\(name)' is not a usable aggregate name",
                hint: "use letters, digits, '_' or '-', starting with a letter, e.g. shopping_cart")
        }
        let aggregate = words.map { $0.prefix(1).uppercased() + $0.dropFirst().lowercased() }.joined()
        let snake = words.map { $0.lowercased() }.joined(separator: "_")
        let project = directory.appendingPathComponent(snake)
        guard !FileManager.default.fileExists(atPath: project.path) else {
            throw GuestBuildError(.outputFailed, "\(project.path) already exists", hint: "choose another name or folder")
        }
        let files: [(String, String)] = [
            ("\(snake).esdl", schema(aggregate)),
            language == .rust ? ("\(snake).rs", rustSource(aggregate)) : ("\(aggregate).swift", source(aggregate)),
            ("Tests/\(snake).spec.json", spec(aggregate)),
            ("README.md", language == .rust ? rustReadme(aggregate, snake) : readme(aggregate, snake)),
        ]
        do {
            try FileManager.default.createDirectory(
                at: project.appendingPathComponent("Tests"), withIntermediateDirectories: true)
            for (path, contents) in files {
                try contents.write(to: project.appendingPathComponent(path), atomically: true, encoding: .utf8)
            }
        } catch {
            throw GuestBuildError(.outputFailed, "cannot create \(project.path): \(error.localizedDescription)")
        }
        return project
    }

    private static func splitCamelCase(_ word: String) -> [String] {
        var words: [String] = []
        var current = ""
        for character in word {
            if character.isUppercase, let last = current.last, last.isLowercase || last.isNumber {
                words.append(current)
                current = ""
            }
            current.append(character)
        }
        if !current.isEmpty { words.append(current) }
        return words
    }

    private static func schema(_ aggregate: String) -> String {
        """
        version = "0.1.0"

        // \(aggregate): started once with a name, then renamed.
        aggregate \(aggregate) {
          start(name: String) -> Started
          rename(name: String) -> Renamed
        }

        event Started {
          name: String
        }

        event Renamed {
          name: String
        }

        """
    }

    private static func source(_ aggregate: String) -> String {
        """
        /// The \(aggregate) aggregate. `thalo build` generates `\(aggregate)Aggregate` (the
        /// protocol below implements), the event types and the module's exports from the
        /// schema; the guest SDK provides `Context`, `AggregateError` and `JSONValue`.
        struct \(aggregate): \(aggregate)Aggregate {
            /// The name, once started.
            var name: String? = nil

            init(id: String) {}

            func handleStart(_ ctx: Context, name: String) throws(AggregateError) -> Started {
                guard self.name == nil else { throw .fatal("already started") }
                guard !name.isEmpty else { throw .fatal("a name is required") }
                return Started(name: name)
            }

            func handleRename(_ ctx: Context, name: String) throws(AggregateError) -> Renamed {
                guard let current = self.name else { throw .fatal("not started") }
                guard !name.isEmpty else { throw .fatal("a name is required") }
                // Renaming to the same name changes nothing: ignore the command. Strings
                // are compared byte by byte; `==` would link the Unicode tables.
                if utf8Equal(current, name) { throw .ignore("same name") }
                return Renamed(name: name)
            }

            mutating func apply(_ event: Started, _ ctx: Context) {
                name = event.name
            }

            mutating func apply(_ event: Renamed, _ ctx: Context) {
                name = event.name
            }

            var state: JSONValue? {
                ["name": name.map { JSONValue.string($0) } ?? .null]
            }
        }

        """
    }

    private static func rustSource(_ aggregate: String) -> String {
        """
        //! The \(aggregate) aggregate. `thalo build` generates the trait `\(aggregate)Aggregate`
        //! (implemented below), the event types and the module's exports from the schema; the
        //! guest SDK (`thalo`) provides `Context`, `AggregateError` and `JsonValue`.

        use crate::*;

        pub struct \(aggregate) {
            /// The name, once started.
            name: Option<String>,
        }

        impl \(aggregate)Aggregate for \(aggregate) {
            fn new(_id: &str) -> Self {
                \(aggregate) { name: None }
            }

            fn handle_start(&self, _ctx: &Context, name: String) -> Result<Started, AggregateError> {
                if self.name.is_some() {
                    return Err(AggregateError::fatal("already started"));
                }
                if name.is_empty() {
                    return Err(AggregateError::fatal("a name is required"));
                }
                Ok(Started { name })
            }

            fn handle_rename(&self, _ctx: &Context, name: String) -> Result<Renamed, AggregateError> {
                let current = match &self.name {
                    Some(current) => current,
                    None => return Err(AggregateError::fatal("not started")),
                };
                if name.is_empty() {
                    return Err(AggregateError::fatal("a name is required"));
                }
                // Renaming to the same name changes nothing: ignore the command.
                if *current == name {
                    return Err(AggregateError::ignore("same name"));
                }
                Ok(Renamed { name })
            }

            fn apply_started(&mut self, event: Started, _ctx: &Context) {
                self.name = Some(event.name);
            }

            fn apply_renamed(&mut self, event: Renamed, _ctx: &Context) {
                self.name = Some(event.name);
            }

            fn state(&self) -> Option<JsonValue> {
                let name = match &self.name {
                    Some(name) => JsonValue::String(name.clone()),
                    None => JsonValue::Null,
                };
                Some(JsonValue::object([("name", name)]))
            }
        }

        """
    }

    private static func spec(_ aggregate: String) -> String {
        """
        {
          "aggregate": "\(aggregate)",
          "scenarios": [
            {
              "name": "starting records Started",
              "given": [],
              "when": { "command": "start", "payload": { "name": "first" } },
              "then": { "events": [{ "type": "Started", "payload": { "name": "first" } }], "state": { "name": "first" } }
            },
            {
              "name": "starting twice is rejected",
              "given": [{ "type": "Started", "payload": { "name": "first" } }],
              "when": { "command": "start", "payload": { "name": "second" } },
              "then": { "error": { "command": "already started" }, "state": { "name": "first" } }
            },
            {
              "name": "renaming before starting is rejected",
              "given": [],
              "when": { "command": "rename", "payload": { "name": "second" } },
              "then": { "error": { "command": "not started" } }
            },
            {
              "name": "renaming records Renamed",
              "given": [{ "type": "Started", "payload": { "name": "first" } }],
              "when": { "command": "rename", "payload": { "name": "second" } },
              "then": { "events": [{ "type": "Renamed", "payload": { "name": "second" } }], "state": { "name": "second" } }
            },
            {
              "name": "renaming to the same name is ignored",
              "given": [{ "type": "Started", "payload": { "name": "first" } }],
              "when": { "command": "rename", "payload": { "name": "first" } },
              "then": { "error": { "ignore": "same name" } }
            }
          ]
        }

        """
    }

    private static func readme(_ aggregate: String, _ snake: String) -> String {
        """
        # \(aggregate)

        A Thalo aggregate written in Swift (Embedded Swift, compiled to WebAssembly).

        | file | what it is |
        | --- | --- |
        | `\(snake).esdl` | the schema: commands, the events they record, their fields |
        | `\(aggregate).swift` | the aggregate: one handler per command, one `apply` per event |
        | `Tests/\(snake).spec.json` | given-when-then scenarios for the module |

        ## Build

        ```sh
        thalo build .
        ```

        writes `.build/\(snake).wasm`. `thalo build` reads the schema, generates the Swift
        types, the `\(aggregate)Aggregate` protocol and the module's exports, and compiles
        them with the guest SDK and your sources (`swiftc` for `wasm32-unknown-none-wasm`,
        then `wasm-ld`). To read the generated code: `thalo generate \(snake).esdl`, or open
        `.build/\(snake).build/\(snake).generated.swift` after a build.

        Handlers decide and return an event without changing the entity; `apply` changes it
        once the event is recorded. Throw `.fatal("why")` to reject a command and
        `.ignore` / `.ignore("why")` to skip one. Aggregates are deterministic: no clock,
        no randomness; `ctx.time` is the message's time. Prefer `utf8Equal(a, b)` to
        `a == b` on strings: it is byte-wise and much cheaper in wasm.

        ## Test

        `Tests/\(snake).spec.json` holds scenarios: events given, a command, the events
        or error expected, and optionally the state view afterwards. Files under `Tests/`
        are not part of the module.

        ## Publish

        ```sh
        thalo publish \(snake).esdl .build/\(snake).wasm
        thalo execute \(aggregate) 1 start '{"name": "first"}'
        ```

        """
    }

    private static func rustReadme(_ aggregate: String, _ snake: String) -> String {
        """
        # \(aggregate)

        A Thalo aggregate written in Rust, compiled to WebAssembly.

        | file | what it is |
        | --- | --- |
        | `\(snake).esdl` | the schema: commands, the events they record, their fields |
        | `\(snake).rs` | the aggregate: one handler per command, one `apply_…` per event |
        | `Tests/\(snake).spec.json` | given-when-then scenarios for the module |

        ## Build

        ```sh
        thalo build .
        ```

        writes `.build/\(snake).wasm`. It needs Rust with the standard library for
        `wasm32-unknown-unknown` (on Debian: `apt-get install rustc libstd-rust-dev-wasm32`;
        `$RUSTC` picks another compiler). `thalo build` reads the schema, generates the Rust
        types, the `\(aggregate)Aggregate` trait and the module's exports, and compiles them
        with the Rust guest SDK and every `.rs` file of this folder in one `rustc` run (no
        Cargo, no crates). To read the generated code: `thalo generate --lang rust
        \(snake).esdl`, or open `.build/\(snake).build/` after a build.

        Handlers decide and return events without changing the entity; `apply_…` changes it
        once an event is recorded. Return `Err(AggregateError::fatal("why"))` to reject a
        command and `Err(AggregateError::ignore("why"))` to skip one. Aggregates are
        deterministic: no clock, no randomness; `ctx.time` is the message's time.

        ## Test

        ```sh
        thalo test .
        ```

        runs the scenarios of `Tests/\(snake).spec.json`: events given, a command, the events
        or error expected, and optionally the state view afterwards.

        ## Publish

        ```sh
        thalo publish \(snake).esdl .build/\(snake).wasm
        thalo execute \(aggregate) 1 start '{"name": "first"}'
        ```

        """
    }
}
