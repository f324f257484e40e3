import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JSON
import Logging
import MessageStore
import Metrics
import NIOCore
import Prometheus
import TestSupport
import Testing
import ThaloRuntime

@testable import ThaloServer

/// The registry `/metrics` exports in these tests; swift-metrics reports to it (bootstrapped
/// once per process, as `thalo serve` does).
let testMetrics: PrometheusCollectorRegistry = {
    let registry = PrometheusCollectorRegistry()
    MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
    return registry
}()

/// Runs `body` against the API's router; when `live`, against a server on a socket, built
/// as `thalo serve` builds it (a test that opens its own connections needs the port).
func withAPI(
    token: String? = nil, limits: APILimits = APILimits(), configuration: RuntimeConfiguration = RuntimeConfiguration(),
    live: Bool = false, _ body: @Sendable (any TestClientProtocol, Runtime<AnyModuleStore>) async throws -> Void
) async throws {
    try await withAPIServer(token: token, limits: limits, configuration: configuration, live: live) { client, runtime, _ in
        try await body(client, runtime)
    }
}

/// Like ``withAPI(token:limits:configuration:live:_:)``, also handing over the API value.
func withAPIServer(
    token: String? = nil, limits: APILimits = APILimits(), configuration: RuntimeConfiguration = RuntimeConfiguration(),
    live: Bool = false,
    _ body: @Sendable (any TestClientProtocol, Runtime<AnyModuleStore>, API<AnyModuleStore>) async throws -> Void
) async throws {
    try await withStore(.sqlite) { (store: AnyMessageStore) async throws -> Void in
        let runtime = Runtime(store: AnyModuleStore(store), configuration: configuration)
        let api = API(
            runtime: runtime, token: token, limits: limits, metrics: testMetrics, storeName: "sqlite",
            logger: Logger(label: "test"))
        // Live, the server is built as `thalo serve` builds it, with the execute fast path.
        let app = Application(
            router: Server.router(api), server: Server.http(api),
            configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: Server.serverName))
        try await app.test(live ? .live : .router) { client in
            try await body(client, runtime, api)
        }
    }
}

extension TestClientProtocol {
    func json(_ uri: String, _ method: HTTPRequest.Method = .get, body: JSONValue? = nil, headers: HTTPFields = [:]) async throws -> (
        Int, JSONValue, String
    ) {
        var headers = headers
        if body != nil { headers[.contentType] = "application/json" }
        return try await execute(uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0.jsonText) }) {
            response in
            let text = String(buffer: response.body)
            return (Int(response.status.code), (try? JSONValue(parsing: text)) ?? .string(text), text)
        }
    }
}

func publishBankAccount(_ client: any TestClientProtocol, token: String? = nil) async throws -> (Int, JSONValue, String) {
    let built = try await ExampleModules.shared.build("bank_account")
    var headers: HTTPFields = [:]
    if let token { headers[.authorization] = "Bearer \(token)" }
    return try await client.json(
        "/v1/modules", .post, body: ["schema": .string(built.schema), "wasm": .string(Data(built.wasm).base64EncodedString())],
        headers: headers)
}

@Suite("HTTP API")
struct APITests {
    @Test("the OpenAPI document is valid and lists exactly the routes the server has")
    func openAPIDocument() async throws {
        let document = try JSONValue(parsing: OpenAPIDocument.text)
        var documented: Set<String> = []
        for (path, item) in document["paths"]?.objectValue ?? [:] {
            for method in (item.objectValue ?? [:]).keys { documented.insert("\(method.uppercased()) \(path)") }
        }
        let runtime = Runtime(store: AnyModuleStore(AnyMessageStore(InMemoryMessageStore())))
        let api = API(
            runtime: runtime, token: nil, limits: APILimits(), metrics: testMetrics, storeName: "memory",
            logger: Logger(label: "test"))
        let routes = Server.router(api).routes.map(\.description)
        #expect(routes.count == 18)
        #expect(documented == Set(routes))
        let python = try await PythonEnvironment.shared.python()
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("thalo-openapi-\(UUID().uuidString).json")
        try OpenAPIDocument.text.write(to: file, atomically: true, encoding: .utf8)
        let check = try await ProcessRunner.output(
            python,
            [
                "-c",
                "import json,sys; from openapi_spec_validator import validate; validate(json.load(open(sys.argv[1]))); print('valid')",
                file.path,
            ])
        #expect(check.status == 0, "\(check.combined)")
        #expect(check.standardOutput.contains("valid"))
        try await withAPI { client, _ in
            let (status, served, _) = try await client.json("/openapi.json")
            #expect(status == 200)
            #expect(served == document)
        }
    }

    @Test("real responses match the OpenAPI schemas, for successes and every error status")
    func responsesMatchSchemas() async throws {
        try await withAPI { client, _ in
            var samples: [JSONValue] = []
            func sample(_ path: String, _ method: String, _ uri: String, body: JSONValue? = nil, headers: HTTPFields = [:]) async throws
                -> (Int, JSONValue)
            {
                let (status, json, text) = try await client.json(uri, method == "post" ? .post : .get, body: body, headers: headers)
                samples.append([
                    "path": .string(path), "method": .string(method), "status": .string(String(status)),
                    "body": (try? JSONValue(parsing: text)) ?? .string(text),
                ])
                return (status, json)
            }
            let built = try await ExampleModules.shared.build("bank_account")
            let publish: JSONValue = ["schema": .string(built.schema), "wasm": .string(Data(built.wasm).base64EncodedString())]
            #expect(try await sample("/v1/modules", "post", "/v1/modules", body: publish).0 == 201)
            // The same module again is a retry; another module under the same version is refused.
            #expect(try await sample("/v1/modules", "post", "/v1/modules", body: publish).0 == 201)
            let other: JSONValue = ["schema": .string(built.schema), "wasm": .string(Data(built.wasm + [0]).base64EncodedString())]
            #expect(try await sample("/v1/modules", "post", "/v1/modules", body: other).0 == 409)
            #expect(try await sample("/v1/modules", "post", "/v1/modules", body: ["schema": "x"]).0 == 400)
            #expect(try await sample("/v1/modules", "get", "/v1/modules").0 == 200)
            #expect(try await sample("/v1/modules/{name}", "get", "/v1/modules/BankAccount").0 == 200)
            #expect(try await sample("/v1/modules/{name}", "get", "/v1/modules/Nope").0 == 404)
            let version = "/v1/modules/{name}/{version}"
            let (detailStatus, detail) = try await sample(version, "get", "/v1/modules/BankAccount/0.1.0")
            #expect(detailStatus == 200)
            #expect(detail["active"] == true)
            #expect(detail["schema"]?["aggregate"]?["commands"]?.arrayValue?.first?["name"] == "open_account")
            #expect(detail["esdl"]?.stringValue?.contains("aggregate BankAccount {") == true)
            #expect(try await sample(version, "get", "/v1/modules/bankAccount/0.1.0").0 == 200)
            let (missingVersion, missing) = try await sample(version, "get", "/v1/modules/BankAccount/0.9.0")
            #expect(missingVersion == 404)
            #expect(missing["error"]?["code"] == "unknownVersion")
            #expect(missing["error"]?["message"]?.stringValue?.contains("published: 0.1.0") == true)
            #expect(try await sample(version, "get", "/v1/modules/Plane/0.1.0").0 == 404)
            let execute = "/v1/execute/{aggregate}/{id}/{command}"
            #expect(try await sample(execute, "post", "/v1/execute/BankAccount/9/open_account", body: ["initial_balance": 10]).0 == 200)
            let key: HTTPFields = [HTTPField.Name("Idempotency-Key")!: UUID().uuidString]
            #expect(
                try await sample(execute, "post", "/v1/execute/BankAccount/9/deposit_funds", body: ["amount": 1], headers: key).0 == 200)
            let (duplicateStatus, duplicate) = try await sample(
                execute, "post", "/v1/execute/BankAccount/9/deposit_funds", body: ["amount": 1], headers: key)
            #expect(duplicateStatus == 200)
            #expect(duplicate["outcome"] == "duplicate")
            let (rejectedStatus, rejected) = try await sample(
                execute, "post", "/v1/execute/BankAccount/9/withdraw_funds", body: ["amount": 100])
            #expect(rejectedStatus == 422)
            #expect(rejected["error"]?["code"] == "rejected")
            #expect(rejected["error"]?["message"] == "insufficient funds")
            let (invalidStatus, invalid) = try await sample(
                execute, "post", "/v1/execute/BankAccount/9/deposit_funds", body: ["amount": "many", "x": 1])
            #expect(invalidStatus == 400)
            #expect(Set(invalid["error"]?["details"]?.arrayValue?.compactMap { $0["path"]?.stringValue } ?? []) == ["amount", "x"])
            #expect(try await sample(execute, "post", "/v1/execute/BankAccount/9/fly", body: [:]).0 == 404)
            #expect(try await sample(execute, "post", "/v1/execute/Plane/9/fly", body: [:]).0 == 404)
            let submit = "/v1/submit/{aggregate}/{id}/{command}"
            #expect(try await sample(submit, "post", "/v1/submit/BankAccount/9/deposit_funds", body: ["amount": 2]).0 == 202)
            #expect(try await sample(submit, "post", "/v1/submit/BankAccount/9/deposit_funds", body: ["amount": []]).0 == 400)
            #expect(try await sample("/v1/aggregates/{aggregate}/{id}", "get", "/v1/aggregates/BankAccount/9").0 == 200)
            #expect(try await sample("/v1/aggregates/{aggregate}/{id}", "get", "/v1/aggregates/BankAccount/9?position=0").0 == 200)
            #expect(try await sample("/v1/aggregates/{aggregate}/{id}", "get", "/v1/aggregates/BankAccount/9?time=yesterday").0 == 400)
            #expect(try await sample("/v1/streams/{stream}", "get", "/v1/streams/bankAccount-9").0 == 200)
            #expect(try await sample("/v1/streams/{stream}", "get", "/v1/streams/bankAccount-9?batchSize=0").0 == 400)
            #expect(
                try await sample("/v1/categories/{category}", "get", "/v1/categories/bankAccount?consumerGroupMember=0&consumerGroupSize=2")
                    .0 == 200)
            #expect(
                try await sample("/v1/categories/{category}", "get", "/v1/categories/bankAccount?consumerGroupMember=5&consumerGroupSize=2")
                    .0 == 400)
            #expect(try await sample("/v1/categories/{category}", "get", "/v1/categories/bankAccount-9").0 == 400)
            #expect(try await sample("/health", "get", "/health").0 == 200)
            var badSample = publish.objectValue!
            badSample["sample"] = -1
            #expect(try await sample("/v1/modules", "post", "/v1/modules", body: .object(badSample)).0 == 400)
            badSample["sample"] = nil
            badSample["force"] = "yes"
            #expect(try await sample("/v1/modules", "post", "/v1/modules", body: .object(badSample)).0 == 400)
            let activate = "/v1/modules/{name}/{version}/activate"
            let (activated, running) = try await sample(activate, "post", "/v1/modules/BankAccount/0.1.0/activate", body: ["compare": true])
            #expect(activated == 200)
            #expect(running["active"] == true)
            #expect(running["check"]?["replayedStreams"] == 1)
            #expect(running["check"]?["passed"] == true)
            #expect(try await sample(activate, "post", "/v1/modules/BankAccount/nope/activate").0 == 404)
            #expect(try await sample(activate, "post", "/v1/modules/BankAccount/9.9.9/activate").0 == 404)

            let python = try await PythonEnvironment.shared.python()
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("thalo-samples-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try OpenAPIDocument.text.write(to: folder.appendingPathComponent("openapi.json"), atomically: true, encoding: .utf8)
            try JSONValue.array(samples).jsonText.write(
                to: folder.appendingPathComponent("samples.json"), atomically: true, encoding: .utf8)
            let script = """
                import json, sys, jsonschema
                doc = json.load(open(sys.argv[1] + "/openapi.json"))
                failures = 0
                for s in json.load(open(sys.argv[1] + "/samples.json")):
                    op = doc["paths"][s["path"]][s["method"]]
                    response = op["responses"].get(s["status"])
                    if response is None:
                        print("undocumented status", s["status"], s["method"], s["path"]); failures += 1; continue
                    if "$ref" in response:
                        response = doc["components"]["responses"][response["$ref"].split("/")[-1]]
                    schema = response["content"]["application/json"]["schema"]
                    root = dict(schema); root["components"] = doc["components"]
                    try:
                        jsonschema.validate(s["body"], root, cls=jsonschema.Draft202012Validator)
                    except jsonschema.ValidationError as error:
                        print("mismatch", s["method"], s["path"], s["status"], error.message); failures += 1
                print("checked", len(json.load(open(sys.argv[1] + "/samples.json"))), "failures", failures)
                sys.exit(1 if failures else 0)
                """
            let check = try await ProcessRunner.output(python, ["-c", script, folder.path])
            #expect(check.status == 0, "\(check.combined)")
            #expect(check.standardOutput.contains("checked \(samples.count) failures 0"))
        }
    }

    @Test("with a token, publishing, commands and reads need it; health, metrics and the document do not")
    func token() async throws {
        try await withAPI(token: "t0ken") { client, _ in
            let (missing, body, _) = try await publishBankAccount(client)
            #expect(missing == 401)
            #expect(body["error"]?["code"] == "unauthorized")
            #expect(try await publishBankAccount(client, token: "wrong").0 == 401)
            #expect(try await publishBankAccount(client, token: "t0ken").0 == 201)
            #expect(try await client.json("/v1/execute/BankAccount/1/open_account", .post, body: ["initial_balance": 1]).0 == 401)
            #expect(try await client.json("/v1/submit/BankAccount/1/open_account", .post, body: ["initial_balance": 1]).0 == 401)
            let authorized: HTTPFields = [.authorization: "Bearer t0ken"]
            #expect(
                try await client.json("/v1/execute/BankAccount/1/open_account", .post, body: ["initial_balance": 1], headers: authorized).0
                    == 200)
            for read in [
                "/v1/streams/bankAccount-1", "/v1/modules", "/v1/modules/BankAccount", "/v1/modules/BankAccount/0.1.0",
                "/v1/categories/bankAccount",
                "/v1/aggregates/BankAccount/1", "/v1/categories/bankAccount/events",
            ] {
                #expect(try await client.json(read).0 == 401, "\(read)")
            }
            #expect(try await client.json("/v1/streams/bankAccount-1", headers: authorized).0 == 200)
            // The scheme is case-insensitive.
            #expect(try await client.json("/v1/streams/bankAccount-1", headers: [.authorization: "bearer t0ken"]).0 == 200)
            #expect(try await client.json("/v1/streams/bankAccount-1", headers: [.authorization: "BEARER  t0ken"]).0 == 200)
            #expect(try await client.json("/v1/streams/bankAccount-1", headers: [.authorization: "Basic t0ken"]).0 == 401)
            #expect(try await client.json("/v1/modules", headers: authorized).0 == 200)
            #expect(try await client.json("/health").0 == 200)
            #expect(try await client.json("/openapi.json").0 == 200)
            #expect(try await client.json("/console").0 == 200, "the console's files are open; its API calls ask for the token")
            #expect(try await client.execute(uri: "/metrics", method: .get) { Int($0.status.code) } == 200)
        }
        // With open reads, reads need no token; commands still do.
        let openReads = APILimits(openReads: true)
        try await withAPI(token: "t0ken", limits: openReads) {
            (client: any TestClientProtocol, _: Runtime<AnyModuleStore>) async throws -> Void in
            #expect(try await publishBankAccount(client, token: "t0ken").0 == 201)
            #expect(try await client.json("/v1/streams/bankAccount-1").0 == 200)
            #expect(try await client.json("/v1/modules").0 == 200)
            #expect(try await client.json("/v1/execute/BankAccount/1/open_account", .post, body: ["initial_balance": 1]).0 == 401)
        }
    }

    @Test("metrics count handled and rejected commands, latency, events written and cache hits")
    func metrics() async throws {
        try await withAPI { client, _ in
            _ = try await publishBankAccount(client)
            _ = try await client.json("/v1/execute/BankAccount/m1/open_account", .post, body: ["initial_balance": 1])
            _ = try await client.json("/v1/execute/BankAccount/m1/deposit_funds", .post, body: ["amount": 1])
            _ = try await client.json("/v1/execute/BankAccount/m1/withdraw_funds", .post, body: ["amount": 99])
            let text = try await client.execute(uri: "/metrics", method: .get) { String(buffer: $0.body) }
            for name in [
                "thalo_commands_handled_total", "thalo_commands_rejected_total", "thalo_command_duration_seconds_bucket",
                "thalo_events_written_total", "thalo_entity_cache_hits_total", "thalo_entity_cache_misses_total",
            ] {
                #expect(text.contains(name), "missing \(name)")
            }
            #expect(text.contains(#"aggregate="BankAccount""#))
        }
    }

    @Test("unknown routes and malformed bodies are JSON errors")
    func malformed() async throws {
        try await withAPI { client, _ in
            let (status, body, _) = try await client.json("/v2/nothing")
            #expect(status == 404)
            #expect(body["error"]?["message"]?.stringValue?.contains("/openapi.json") == true)
            let (badJSON, error, _) = try await client.execute(uri: "/v1/modules", method: .post, body: ByteBuffer(string: "{nope")) {
                response in
                (Int(response.status.code), (try? JSONValue(parsing: String(buffer: response.body))) ?? .null, "")
            }
            #expect(badJSON == 400)
            #expect(error["error"]?["code"] == "invalidJSON")
        }
    }
}
