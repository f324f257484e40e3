import ArgumentParser
import GuestBuilder
import Logging

/// The languages Thalo generates guest code for (`thalo new --lang`, `thalo generate --lang`).
enum GuestCodeLanguage: String, ExpressibleByArgument, CaseIterable {
    case swift, rust

    var guestLanguage: GuestLanguage {
        switch self {
        case .swift: .swift
        case .rust: .rust
        }
    }
}

/// What `thalo generate` writes.
enum GenerateFormat: String, ExpressibleByArgument, CaseIterable {
    /// The guest code (Swift, or Rust with `--lang rust`).
    case swift
    /// Codable Swift types for host programs.
    case host
    /// A JSON Schema of every payload.
    case jsonSchema = "json-schema"
    /// The schema model as JSON.
    case json
    /// The normalised ESDL.
    case canonical
}

extension GuestBuilder.Configuration.Optimization: ExpressibleByArgument {}

/// What an acknowledged command has survived (`thalo serve --durability`).
enum Durability: String, ExpressibleByArgument, CaseIterable {
    /// Its events are on disk: fsynced (SQLite `synchronous=FULL`; PostgreSQL as configured,
    /// `synchronous_commit` on by default). Survives a power loss.
    case full
    /// Its events are handed to the operating system (SQLite `synchronous=NORMAL` in WAL
    /// mode; PostgreSQL `synchronous_commit=off`). Survives a crash of Thalo, not a power loss.
    case os
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// `--listen host:port`, parsed once; an empty host is 127.0.0.1.
struct ListenAddress: ExpressibleByArgument, CustomStringConvertible, Hashable {
    var host: String
    var port: Int

    init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    init?(argument text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            return nil
        }
        let host = String(text[..<colon])
        self.init(host: host.isEmpty ? "127.0.0.1" : host, port: port)
    }

    var description: String { "\(host):\(port)" }
    var defaultValueDescription: String { description }
}
