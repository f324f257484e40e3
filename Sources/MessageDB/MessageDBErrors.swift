import Foundation
import MessageStore
import NIOCore
import PostgresNIO

/// Turns PostgresNIO errors into ``MessageStoreError``s with Message DB's texts.
enum MessageDBErrors {
    static func translate(
        _ error: any Error, stream: StreamName, expectedVersion: ExpectedVersion?, messages: [NewMessage]
    ) -> MessageStoreError {
        if let error = error as? MessageStoreError { return error }
        if let psql = error as? PSQLError, let server = psql.serverInfo {
            let text = server[.message] ?? ""
            if text.hasPrefix("Wrong expected version") {
                return MessageStoreError(.wrongExpectedVersion, text, actualVersion: actualVersion(in: text))
            }
            if server[.sqlState] == "23505" {
                let ids = messages.map { $0.id.lowercasedText }.joined(separator: ", ")
                return MessageStoreError(
                    .duplicateMessageID, "Duplicate message id: a message with id \(ids) is already in the store (\(text))")
            }
        }
        return translate(error, context: "writing to \(stream)")
    }

    static func translate(_ error: any Error, context: String) -> MessageStoreError {
        if let error = error as? MessageStoreError { return error }
        if let psql = error as? PSQLError {
            if let server = psql.serverInfo {
                let text = server[.message] ?? "unknown error"
                let state = server[.sqlState] ?? ""
                if text.contains("Retrieval with SQL condition is not activated") {
                    return MessageStoreError(.conditionNotAllowed, text)
                }
                if state == "P0001" || state.hasPrefix("22") {
                    return MessageStoreError(.invalidArgument, text)
                }
                // A limit of PostgreSQL's (54000: an index entry too large, say): the same
                // request fails the same way every time, so it is not worth retrying.
                if state.hasPrefix("54") {
                    return MessageStoreError(.invalidArgument, "PostgreSQL cannot do this while \(context): \(text)")
                }
                if state == "3F000" || state == "42883" {
                    return MessageStoreError(
                        .storage,
                        "the message_store schema is missing or incomplete (\(text)); install it with `thalo db install --database-url …`")
                }
                if state == "42501" {
                    return MessageStoreError(
                        .storage,
                        "PostgreSQL refused while \(context): \(text); the role Thalo connects as needs the rights `thalo db install --database-url … --grant-to ROLE` gives (run it once as an administrator)"
                    )
                }
                if state.hasPrefix("08") || state == "57P03" || state == "3D000" || state == "28P01" || state == "28000" {
                    return MessageStoreError(.connectionFailed, "cannot use the database while \(context): \(text)")
                }
                return MessageStoreError(.storage, "PostgreSQL error while \(context): \(text)")
            }
            switch psql.code {
            case .connectionError, .serverClosedConnection, .clientClosedConnection, .poolClosed, .sslUnsupported,
                .failedToAddSSLHandler, .uncleanShutdown:
                let underlying = psql.underlying.map { " (\($0))" } ?? ""
                return MessageStoreError(
                    .connectionFailed,
                    "cannot reach PostgreSQL while \(context): \(psql.code)\(underlying); check that the server is running and the database URL is right"
                )
            default:
                return MessageStoreError(.storage, "PostgreSQL error while \(context): \(psql.code)")
            }
        }
        if error is CancellationError { return MessageStoreError(.unavailable, "cancelled while \(context)") }
        return MessageStoreError(.connectionFailed, "cannot reach PostgreSQL while \(context): \(error)")
    }

    /// The `Stream Version: V` of Message DB's wrong-expected-version text.
    static func actualVersion(in text: String) -> Int64? {
        guard let range = text.range(of: "Stream Version: ") else { return nil }
        let digits = text[range.upperBound...].prefix { $0 == "-" || $0.isNumber }
        return Int64(digits) ?? -1
    }
}
