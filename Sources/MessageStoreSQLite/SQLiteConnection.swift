import CSQLite
import MessageStore

/// `SQLITE_TRANSIENT`: SQLite copies bound text before the call returns.
private let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// One SQLite connection with a cache of prepared statements.
///
/// Not thread-safe: the store uses each connection from one thread at a time (the writer
/// thread owns one; readers check one out of a pool). `@unchecked Sendable` so that the
/// pool can hand a connection from one task to the next; it is never used by two at once.
final class SQLiteConnection: @unchecked Sendable {
    let handle: OpaquePointer
    private var statements: [String: Statement] = [:]
    let path: String

    init(path: String, readOnly: Bool) throws(MessageStoreError) {
        var handle: OpaquePointer?
        let flags =
            (readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE))
            | SQLITE_OPEN_NOMUTEX
        let status = sqlite3_open_v2(path, &handle, flags, nil)
        guard status == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            if let handle { sqlite3_close_v2(handle) }
            throw MessageStoreError(.connectionFailed, "cannot open the SQLite database at \(path): \(message)")
        }
        self.handle = handle
        self.path = path
        sqlite3_busy_timeout(handle, 10_000)
        sqlite3_extended_result_codes(handle, 1)
    }

    deinit {
        statements.removeAll()
        sqlite3_close_v2(handle)
    }

    var lastErrorMessage: String { String(cString: sqlite3_errmsg(handle)) }

    func error(_ context: String) -> MessageStoreError {
        MessageStoreError(.storage, "SQLite error while \(context) (\(path)): \(lastErrorMessage)")
    }

    /// Runs SQL that returns no rows (may hold several statements).
    func execute(_ sql: String) throws(MessageStoreError) {
        var message: UnsafeMutablePointer<CChar>?
        if sqlite3_exec(handle, sql, nil, nil, &message) != SQLITE_OK {
            let text = message.map { String(cString: $0) } ?? lastErrorMessage
            sqlite3_free(message)
            throw MessageStoreError(.storage, "SQLite error running \(sql.prefix(60)) (\(path)): \(text)")
        }
    }

    /// A prepared statement for `sql`, reused across calls and reset before returning.
    func statement(_ sql: String) throws(MessageStoreError) -> Statement {
        if let cached = statements[sql] {
            cached.reset()
            return cached
        }
        var raw: OpaquePointer?
        guard sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &raw, nil) == SQLITE_OK, let raw else {
            throw error("preparing \(sql.prefix(80))")
        }
        let statement = Statement(raw, connection: self)
        statements[sql] = statement
        return statement
    }

    /// A statement prepared for one use (for SQL built at run time).
    func uncachedStatement(_ sql: String) throws(MessageStoreError) -> Statement {
        var raw: OpaquePointer?
        guard sqlite3_prepare_v2(handle, sql, -1, &raw, nil) == SQLITE_OK, let raw else {
            throw error("preparing \(sql.prefix(80))")
        }
        return Statement(raw, connection: self)
    }
}

/// A prepared statement: bind by 1-based index, step, read columns by 0-based index.
final class Statement {
    let raw: OpaquePointer
    unowned let connection: SQLiteConnection

    init(_ raw: OpaquePointer, connection: SQLiteConnection) {
        self.raw = raw
        self.connection = connection
    }

    deinit { sqlite3_finalize(raw) }

    func reset() {
        sqlite3_reset(raw)
        sqlite3_clear_bindings(raw)
    }

    func bind(_ index: Int32, _ value: String) {
        sqlite3_bind_text(raw, index, value, -1, transient)
    }

    func bind(_ index: Int32, _ value: String?) {
        if let value { bind(index, value) } else { sqlite3_bind_null(raw, index) }
    }

    func bind(_ index: Int32, bytes: [UInt8]) {
        bytes.withUnsafeBytes { buffer in
            _ = sqlite3_bind_blob(raw, index, buffer.baseAddress, Int32(buffer.count), transient)
        }
    }

    func bytes(_ column: Int32) -> [UInt8] {
        guard let pointer = sqlite3_column_blob(raw, column) else { return [] }
        let count = Int(sqlite3_column_bytes(raw, column))
        return Array(UnsafeRawBufferPointer(start: pointer, count: count))
    }

    func bind(_ index: Int32, _ value: Int64) {
        sqlite3_bind_int64(raw, index, value)
    }

    func bind(_ index: Int32, _ value: Int64?) {
        if let value { bind(index, value) } else { sqlite3_bind_null(raw, index) }
    }

    /// Steps once; returns whether a row is available.
    func step(_ context: @autoclosure () -> String) throws(MessageStoreError) -> Bool {
        switch sqlite3_step(raw) {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            let failure = connection.error(context())
            sqlite3_reset(raw)
            throw failure
        }
    }

    /// The last step's result code for constraint checks.
    var extendedErrorCode: Int32 { sqlite3_extended_errcode(connection.handle) }

    func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(raw, column) }

    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(raw, column) == SQLITE_NULL }

    func text(_ column: Int32) -> String {
        guard let pointer = sqlite3_column_text(raw, column) else { return "" }
        let count = Int(sqlite3_column_bytes(raw, column))
        return String(decoding: UnsafeBufferPointer(start: pointer, count: count), as: UTF8.self)
    }

    func optionalText(_ column: Int32) -> String? {
        isNull(column) ? nil : text(column)
    }
}
