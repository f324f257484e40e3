import ESDL
import Hummingbird
import JSON
import MessageStore
import ThaloRuntime

/// An error as the API returns it: an HTTP status and a JSON body
/// `{"error": {"code", "message", "details"?, …}}`. This is the only place where errors
/// become HTTP statuses.
struct APIError: Error, HTTPResponseError {
    var status: HTTPResponse.Status
    var code: String
    var message: String
    var details: [PayloadError] = []
    var extra: [String: JSONValue] = [:]
    /// For 405: the methods the path allows (the `Allow` header).
    var allow: [String] = []

    init(
        _ status: HTTPResponse.Status, code: String, message: String, details: [PayloadError] = [], extra: [String: JSONValue] = [:],
        allow: [String] = []
    ) {
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.extra = extra
        self.allow = allow
    }

    /// The status and code of a runtime error.
    init(_ error: RuntimeError) {
        let status: HTTPResponse.Status
        var code = error.code.description
        switch error.code {
        case .invalidPayload, .invalidEntityID, .invalidModule, .invalidReplyStream: status = .badRequest
        case .unknownAggregate, .unknownCommand: status = .notFound
        case .rejected: status = .unprocessableContent
        case .conflict, .versionExists, .idempotencyKeyReused, .categoryTaken, .incompatibleSchema, .replayFailed: status = .conflict
        case .payloadTooLarge: status = .contentTooLarge
        case .unavailable: status = .serviceUnavailable
        case .store:
            if let storeError = error.storeError {
                self.init(storeError)
                self.message = error.message
                return
            }
            status = .internalServerError
        default: status = .internalServerError
        }
        if error.code == .moduleFailure || error.code == .invalidEvents { code = error.code.description }
        var extra: [String: JSONValue] = [:]
        if let aggregate = error.aggregate { extra["aggregate"] = .string(aggregate) }
        if let version = error.moduleVersion { extra["moduleVersion"] = .string(version) }
        self.init(status, code: code, message: error.message, details: error.payloadErrors, extra: extra)
    }

    /// The status and code of a message store error.
    init(_ error: MessageStoreError) {
        let status: HTTPResponse.Status
        switch error.code {
        case .invalidStreamName, .invalidArgument, .invalidData, .invalidMetadata, .invalidMessage, .conditionNotAllowed:
            status = .badRequest
        case .wrongExpectedVersion, .duplicateMessageID: status = .conflict
        case .connectionFailed, .unavailable: status = .serviceUnavailable
        default: status = .internalServerError
        }
        self.init(status, code: error.code.description, message: error.message)
    }

    /// Any error a handler throws.
    static func from(_ error: any Error) -> APIError {
        switch error {
        case let error as APIError: error
        case let error as RuntimeError: APIError(error)
        case let error as MessageStoreError: APIError(error)
        default: APIError(.internalServerError, code: "internal", message: "internal error: \(error)")
        }
    }

    var body: String {
        var output = JSONOutput()
        output.object { root in
            root.member("error") { error in
                error.object { object in
                    object.string("code", code)
                    object.string("message", message)
                    if !details.isEmpty {
                        object.member("details") { list in
                            list.array(details) { output, detail in
                                output.object { item in
                                    item.string("path", detail.path)
                                    item.string("code", detail.code.rawValue)
                                    item.string("message", detail.message)
                                }
                            }
                        }
                    }
                    for key in extra.keys.sorted() { object.value(key, extra[key]) }
                }
            }
        }
        return output.text
    }

    /// The headers of the answer: its content type, and what a 401 or a 405 adds.
    var headers: HTTPFields {
        var headers = HTTPFields.json
        if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer realm=\"thalo\"" }
        if !allow.isEmpty { headers[.allow] = allow.joined(separator: ", ") }
        return headers
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }
}
