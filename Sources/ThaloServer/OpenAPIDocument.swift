/// The OpenAPI 3.1 description of the HTTP API, served at `/openapi.json`.
///
/// Tests check that it is a valid OpenAPI document, that its paths are exactly the routes
/// the server registers, and that real responses match its schemas.
public enum OpenAPIDocument {
    public static let text = #"""
        {
          "openapi": "3.1.0",
          "info": {
            "title": "Thalo",
            "version": "0.2.0",
            "description": "Event-sourcing runtime: publish aggregate modules (ESDL + wasm), execute and submit commands, read streams and categories. When the server has a token, every operation but health, metrics and this document needs it (thalo serve --open-reads lets reads through without it). Limits (thalo serve options): command bodies up to 1 MiB (--max-command-bytes), publish bodies up to 64 MiB (--max-publish-bytes), batchSize up to 10000 (--max-batch-size), 256 event-stream subscribers (--max-subscribers)."
          },
          "servers": [{ "url": "http://127.0.0.1:7878" }],
          "security": [{ "bearer": [] }],
          "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer", "description": "Authorization: Bearer <token>, when the server was started with --token (the scheme name is case-insensitive)." } },
            "parameters": {
              "aggregate": { "name": "aggregate", "in": "path", "required": true, "description": "Aggregate name (BankAccount) or category (bankAccount).", "schema": { "type": "string", "minLength": 1 } },
              "id": { "name": "id", "in": "path", "required": true, "description": "Entity id: the stream name after the category; at most 200 characters, no whitespace or control characters, not ending in '-'.", "schema": { "type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[^\\s\\x00-\\x1f\\x7f]*[^\\s\\x00-\\x1f\\x7f-]$" } },
              "command": { "name": "command", "in": "path", "required": true, "description": "Command name as written in the ESDL file.", "schema": { "type": "string", "minLength": 1 } },
              "idempotencyKey": { "name": "Idempotency-Key", "in": "header", "required": false, "description": "The command id (a UUID). Repeating it with the same command and payload is idempotent; reusing it for anything else is 409 idempotencyKeyReused.", "schema": { "type": "string", "format": "uuid", "pattern": "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$" } },
              "correlation": { "name": "Correlation-Stream-Name", "in": "header", "required": false, "description": "Copied to the events' correlationStreamName; a stream name of at most 300 characters.", "schema": { "type": "string", "maxLength": 300, "pattern": "^[^\\s\\x00-\\x1f\\x7f:-][^\\s\\x00-\\x1f\\x7f-]*-[^\\s\\x00-\\x1f\\x7f]*[^\\s\\x00-\\x1f\\x7f-]$" } },
              "reply": { "name": "Reply-Stream-Name", "in": "header", "required": false, "description": "Copied to the events' replyStreamName; rejections of submitted commands are written there. A stream (category-id) of at most 300 characters, not in the event category of a published aggregate (400 invalidReplyStream otherwise).", "schema": { "type": "string", "maxLength": 300, "pattern": "^[^\\s\\x00-\\x1f\\x7f:-][^\\s\\x00-\\x1f\\x7f-]*-[^\\s\\x00-\\x1f\\x7f]*[^\\s\\x00-\\x1f\\x7f-]$" } },
              "batchSize": { "name": "batchSize", "in": "query", "required": false, "description": "Most messages to return, 1 to the server's maximum (10000 by default).", "schema": { "type": "integer", "minimum": 1, "maximum": 10000, "default": 1000 } },
              "consumerGroupMember": { "name": "consumerGroupMember", "in": "query", "required": false, "description": "With consumerGroupSize: read only this member's share of the category (Message DB consumer groups). Must be below consumerGroupSize; both or neither.", "schema": { "type": "integer", "minimum": 0, "maximum": 9223372036854775806 } },
              "consumerGroupSize": { "name": "consumerGroupSize", "in": "query", "required": false, "description": "With consumerGroupMember: the number of members.", "schema": { "type": "integer", "minimum": 1, "maximum": 9223372036854775807 } },
              "correlationQuery": { "name": "correlation", "in": "query", "required": false, "description": "Only messages whose metadata's correlationStreamName is in this category.", "schema": { "$ref": "#/components/schemas/Category" } },
              "category": { "name": "category", "in": "path", "required": true, "description": "A category: a name without '-', such as bankAccount or bankAccount:command.", "schema": { "$ref": "#/components/schemas/Category" } },
              "globalPosition": { "name": "position", "in": "query", "required": false, "description": "Global position to start from.", "schema": { "type": "integer", "minimum": 0, "maximum": 9223372036854775807, "default": 1 } }
            },
            "schemas": {
              "StreamName": { "type": "string", "description": "category-id: at most 300 characters, no whitespace or control characters, a '-' with something on both sides.", "maxLength": 300, "pattern": "^[^\\s\\x00-\\x1f\\x7f:-][^\\s\\x00-\\x1f\\x7f-]*-[^\\s\\x00-\\x1f\\x7f]*[^\\s\\x00-\\x1f\\x7f-]$" },
              "Category": { "type": "string", "description": "A category name: at most 300 characters, no '-', whitespace or control characters.", "maxLength": 300, "pattern": "^[^\\s\\x00-\\x1f\\x7f:-][^\\s\\x00-\\x1f\\x7f-]*$" },
              "Error": {
                "type": "object",
                "required": ["error"],
                "properties": {
                  "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {
                      "code": { "type": "string", "description": "invalidPayload, invalidEntityID, invalidModule, invalidRequest, invalidJSON, invalidArgument, invalidStreamName, invalidReplyStream, bodyTooLarge, payloadTooLarge, unknownAggregate, unknownCommand, unknownEntity, unknownVersion, notFound, methodNotAllowed, rejected, conflict, idempotencyKeyReused, categoryTaken, versionExists, moduleFailure, invalidEvents, unauthorized, tooManySubscribers, unavailable, connectionFailed, …" },
                      "message": { "type": "string" },
                      "details": { "type": "array", "items": { "type": "object", "required": ["path", "code", "message"], "properties": { "path": { "type": "string" }, "code": { "type": "string" }, "message": { "type": "string" } } }, "description": "Payload problems with their field paths: at most 100, then one entry of code more-problems with the count of the rest." },
                      "aggregate": { "type": "string" },
                      "moduleVersion": { "type": "string" }
                    }
                  }
                }
              },
              "Message": {
                "type": "object",
                "required": ["id", "streamName", "type", "position", "globalPosition", "data", "metadata", "time"],
                "properties": {
                  "id": { "type": "string", "format": "uuid" },
                  "streamName": { "type": "string" },
                  "type": { "type": "string" },
                  "position": { "type": "integer" },
                  "globalPosition": { "type": "integer" },
                  "data": { "type": "object" },
                  "metadata": { "type": ["object", "null"] },
                  "time": { "type": "string", "format": "date-time" }
                }
              },
              "Messages": { "type": "object", "required": ["messages"], "properties": { "messages": { "type": "array", "items": { "$ref": "#/components/schemas/Message" } } } },
              "Module": {
                "type": "object",
                "required": ["name", "version", "category", "size", "publishedAt"],
                "properties": {
                  "name": { "type": "string" }, "version": { "type": "string" }, "category": { "type": "string" },
                  "size": { "type": "integer" }, "publishedAt": { "type": "string", "format": "date-time" }, "active": { "type": "boolean" },
                  "check": { "$ref": "#/components/schemas/DeployCheck" }
                }
              },
              "ModuleVersion": {
                "type": "object",
                "required": ["name", "version", "category", "size", "publishedAt", "active", "schema", "esdl"],
                "properties": {
                  "name": { "type": "string" }, "version": { "type": "string" }, "category": { "type": "string" },
                  "size": { "type": "integer" }, "publishedAt": { "type": "string", "format": "date-time" }, "active": { "type": "boolean" },
                  "schema": { "type": "object", "required": ["version", "aggregate", "events", "types"], "description": "The schema in its JSON form: aggregate.commands with parameters ({name, type}) and returns, events and types with fields; types written as in ESDL (\"[String?]?\")." },
                  "esdl": { "type": "string", "description": "The schema as ESDL in the canonical layout." }
                }
              },
              "Modules": { "type": "object", "required": ["modules"], "properties": { "modules": { "type": "array", "items": { "$ref": "#/components/schemas/Module" } } } },
              "Publish": {
                "type": "object",
                "required": ["schema", "wasm"],
                "properties": {
                  "schema": { "type": "string", "description": "The ESDL source; its version is the module's version." },
                  "wasm": { "type": "string", "contentEncoding": "base64", "description": "The module binary." },
                  "name": { "type": "string", "description": "When given, the schema's aggregate must have this name." },
                  "file": { "type": "string", "description": "File name used in ESDL diagnostics." },
                  "force": { "type": "boolean", "description": "Publish even when the deploy check finds problems." },
                  "sample": { "type": "integer", "minimum": 0, "maximum": 2147483647, "description": "Replay only this many streams of the category (default: all)." },
                  "compare": { "type": "boolean", "description": "Also report streams whose state view differs between the running and the new version." }
                }
              },
              "DeployFinding": {
                "type": "object", "required": ["message"],
                "properties": { "stream": { "type": "string" }, "position": { "type": "integer" }, "message": { "type": "string" } }
              },
              "DeployCheck": {
                "type": "object",
                "required": ["streams", "replayedStreams", "replayedEvents", "storedEventTypes", "schemaProblems", "replayFailures", "differences", "seconds", "passed"],
                "properties": {
                  "previousVersion": { "type": "string" },
                  "streams": { "type": "integer" }, "replayedStreams": { "type": "integer" }, "replayedEvents": { "type": "integer" },
                  "storedEventTypes": { "type": "array", "items": { "type": "string" } },
                  "schemaProblems": { "type": "array", "items": { "type": "string" } },
                  "replayFailures": { "type": "array", "items": { "$ref": "#/components/schemas/DeployFinding" } },
                  "differences": { "type": "array", "items": { "$ref": "#/components/schemas/DeployFinding" } },
                  "seconds": { "type": "number" }, "passed": { "type": "boolean" }
                }
              },
              "CommandResult": {
                "type": "object",
                "required": ["outcome", "aggregate", "streamName", "commandId", "moduleVersion", "events"],
                "properties": {
                  "outcome": { "enum": ["recorded", "duplicate", "ignored"] },
                  "reason": { "type": ["string", "null"] },
                  "aggregate": { "type": "string" }, "streamName": { "type": "string" },
                  "commandId": { "type": "string", "format": "uuid" }, "moduleVersion": { "type": "string" },
                  "events": { "type": "array", "items": { "$ref": "#/components/schemas/Message" } }
                }
              },
              "SubmitReceipt": {
                "type": "object",
                "required": ["commandId", "streamName", "position", "globalPosition", "duplicate"],
                "properties": {
                  "commandId": { "type": "string", "format": "uuid" }, "streamName": { "type": "string" },
                  "position": { "type": "integer" }, "globalPosition": { "type": "integer" }, "duplicate": { "type": "boolean" }
                }
              },
              "Entity": {
                "type": "object",
                "required": ["aggregate", "streamName", "version", "moduleVersion", "state", "events"],
                "properties": {
                  "aggregate": { "type": "string" }, "streamName": { "type": "string" }, "version": { "type": "integer" },
                  "moduleVersion": { "type": "string" }, "state": { "description": "The module's JSON state view, or null." },
                  "events": { "type": "array", "items": { "$ref": "#/components/schemas/Message" } }
                }
              },
              "Health": {
                "type": "object",
                "required": ["status", "store", "aggregates"],
                "properties": { "status": { "const": "ok" }, "store": { "enum": ["sqlite", "postgres", "memory"] }, "aggregates": { "type": "object", "additionalProperties": { "type": "string" } } }
              },
              "Cluster": {
                "type": "object",
                "required": ["node", "nodes", "partitions"],
                "properties": {
                  "node": { "type": "string", "description": "The node that answered." },
                  "nodes": { "type": "array", "items": { "type": "object", "required": ["id", "startedAt", "lastHeartbeat", "live"], "properties": {
                    "id": { "type": "string" }, "startedAt": { "type": "string", "format": "date-time" }, "lastHeartbeat": { "type": "string", "format": "date-time" }, "live": { "type": "boolean" } } } },
                  "partitions": { "type": "array", "items": { "type": "object", "required": ["category", "consumer", "partition", "partitions", "owner", "epoch", "expiresAt", "position", "lag"], "properties": {
                    "category": { "type": "string", "description": "The command or projection category, e.g. bankAccount:command." },
                    "consumer": { "type": "string", "description": "The consumer reading it: thalo for the command consumers, a projection's name otherwise." },
                    "partition": { "type": "integer", "minimum": 0 }, "partitions": { "type": "integer", "minimum": 1 },
                    "owner": { "type": ["string", "null"], "description": "The node holding an unexpired lease." },
                    "epoch": { "type": "integer", "minimum": 0 }, "expiresAt": { "type": ["string", "null"], "format": "date-time" },
                    "position": { "type": ["integer", "null"], "description": "The last global position its consumer recorded." },
                    "lag": { "type": ["integer", "null"], "description": "Messages of the partition after that position." } } } }
                }
              }
            },
            "responses": {
              "BadRequest": { "description": "Invalid input (with field paths in details).", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
              "Unauthorized": { "description": "A bearer token is required or wrong.", "headers": { "WWW-Authenticate": { "schema": { "type": "string" } } }, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
              "NotFound": { "description": "Unknown aggregate, command or entity.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
              "Conflict": { "description": "The entity kept changing, the version is not newer than the newest published one, the category belongs to another aggregate, or an idempotency key was reused for something else.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
              "TooLarge": { "description": "The body is larger than the server accepts for this route, or the payload is too large for the module's memory.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
              "Rejected": { "description": "The aggregate rejected the command.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
              "ServerError": { "description": "The module failed, or the store failed.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
              "Unavailable": { "description": "The store is unavailable, the server is stopping, or (event streams) all subscriber places are taken.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }
            }
          },
          "paths": {
            "/": {
              "get": { "operationId": "home", "summary": "Redirects to the console.", "security": [], "responses": { "302": { "description": "To /console", "headers": { "Location": { "schema": { "const": "/console" } } } } } }
            },
            "/console": {
              "get": { "operationId": "console", "summary": "The Thalo Console, a web UI for modules, streams, entities (time travel, command forms) and the cluster. Its files are open; the API calls it makes need the token like any client's.", "security": [], "responses": { "200": { "description": "The page", "content": { "text/html": { "schema": { "type": "string" } } } } } }
            },
            "/console/{file}": {
              "get": {
                "operationId": "consoleFile", "summary": "A file of the console: its scripts (JavaScript modules) and stylesheet.", "security": [],
                "parameters": [{ "name": "file", "in": "path", "required": true, "schema": { "type": "string", "minLength": 1 }, "examples": { "script": { "value": "console.js" }, "stylesheet": { "value": "console.css" } } }],
                "responses": {
                  "200": { "description": "The file", "content": { "text/javascript": { "schema": { "type": "string" } }, "text/css": { "schema": { "type": "string" } }, "text/html": { "schema": { "type": "string" } } } },
                  "404": { "$ref": "#/components/responses/NotFound" }
                }
              }
            },
            "/health": {
              "get": { "operationId": "health", "summary": "Liveness, store kind and running module versions.", "security": [], "responses": { "200": { "description": "OK", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Health" } } } } } }
            },
            "/metrics": {
              "get": { "operationId": "metrics", "summary": "Prometheus metrics: commands handled, rejected, dead-lettered, latency histogram, events written, cache hits.", "security": [], "responses": { "200": { "description": "Prometheus text format", "content": { "text/plain": { "schema": { "type": "string" } } } } } }
            },
            "/openapi.json": {
              "get": { "operationId": "openapi", "summary": "This document.", "security": [], "responses": { "200": { "description": "OpenAPI 3.1", "content": { "application/json": { "schema": { "type": "object" } } } } } }
            },
            "/v1/cluster": {
              "get": { "operationId": "cluster", "summary": "The nodes sharing the command streams and the partition each holds, with positions and lag. The embedded store is a cluster of one that consumes each command category whole.", "responses": { "200": { "description": "OK", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Cluster" } } } }, "401": { "$ref": "#/components/responses/Unauthorized" }, "503": { "$ref": "#/components/responses/Unavailable" } } }
            },
            "/v1/modules": {
              "get": { "operationId": "listModules", "summary": "Every published module version.", "responses": { "200": { "description": "OK", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Modules" } } } }, "401": { "$ref": "#/components/responses/Unauthorized" }, "503": { "$ref": "#/components/responses/Unavailable" } } },
              "post": {
                "operationId": "publishModule", "summary": "Publish a module version (ESDL + wasm); it runs new commands at once. The module must implement every command and event of its schema, and pass the deploy check against the stored history (409 incompatibleSchema or replayFailed, unless force). Its version must be newer than every published one (409 versionExists), except that the newest version sent again with the same ESDL and wasm is a retry: not stored twice, checked and made the running version again.",
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Publish" } } } },
                "responses": {
                  "201": { "description": "Published", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Module" } } } },
                  "400": { "$ref": "#/components/responses/BadRequest" }, "401": { "$ref": "#/components/responses/Unauthorized" }, "409": { "$ref": "#/components/responses/Conflict" },
                  "413": { "$ref": "#/components/responses/TooLarge" }, "503": { "$ref": "#/components/responses/Unavailable" }
                }
              }
            },
            "/v1/modules/{name}": {
              "get": {
                "operationId": "moduleVersions", "summary": "The published versions of one aggregate.",
                "parameters": [{ "name": "name", "in": "path", "required": true, "schema": { "type": "string", "minLength": 1 } }],
                "responses": { "200": { "description": "OK", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Modules" } } } }, "401": { "$ref": "#/components/responses/Unauthorized" }, "404": { "$ref": "#/components/responses/NotFound" }, "503": { "$ref": "#/components/responses/Unavailable" } }
              }
            },
            "/v1/modules/{name}/{version}": {
              "get": {
                "operationId": "moduleVersion", "summary": "One published version with its schema (JSON and ESDL), and whether it is the running one.",
                "parameters": [{ "name": "name", "in": "path", "required": true, "schema": { "type": "string", "minLength": 1 } }, { "name": "version", "in": "path", "required": true, "schema": { "type": "string", "minLength": 1 } }],
                "responses": { "200": { "description": "OK", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ModuleVersion" } } } }, "401": { "$ref": "#/components/responses/Unauthorized" }, "404": { "$ref": "#/components/responses/NotFound" }, "503": { "$ref": "#/components/responses/Unavailable" } }
              }
            },
            "/v1/modules/{name}/{version}/activate": {
              "post": {
                "operationId": "activateModule", "summary": "Make a published version the running one, live (rollback or roll forward), after the same deploy check as publishing.",
                "parameters": [{ "name": "name", "in": "path", "required": true, "schema": { "type": "string", "minLength": 1 } }, { "name": "version", "in": "path", "required": true, "schema": { "type": "string", "minLength": 1 } }],
                "requestBody": { "required": false, "content": { "application/json": { "schema": { "type": "object", "properties": { "force": { "type": "boolean" }, "sample": { "type": "integer", "minimum": 0, "maximum": 2147483647 }, "compare": { "type": "boolean" } } } } } },
                "responses": {
                  "200": { "description": "Running", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Module" } } } },
                  "400": { "$ref": "#/components/responses/BadRequest" }, "401": { "$ref": "#/components/responses/Unauthorized" }, "404": { "$ref": "#/components/responses/NotFound" },
                  "409": { "$ref": "#/components/responses/Conflict" }, "413": { "$ref": "#/components/responses/TooLarge" }, "503": { "$ref": "#/components/responses/Unavailable" }
                }
              }
            },
            "/v1/execute/{aggregate}/{id}/{command}": {
              "post": {
                "operationId": "execute", "summary": "Handle a command now and return the events it wrote.",
                "parameters": [{ "$ref": "#/components/parameters/aggregate" }, { "$ref": "#/components/parameters/id" }, { "$ref": "#/components/parameters/command" }, { "$ref": "#/components/parameters/idempotencyKey" }, { "$ref": "#/components/parameters/correlation" }, { "$ref": "#/components/parameters/reply" }],
                "requestBody": { "required": false, "content": { "application/json": { "schema": { "type": "object", "description": "The command's parameters, keyed by the ESDL names." } } } },
                "responses": {
                  "200": { "description": "Recorded, duplicate or ignored", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/CommandResult" } } } },
                  "400": { "$ref": "#/components/responses/BadRequest" }, "401": { "$ref": "#/components/responses/Unauthorized" }, "404": { "$ref": "#/components/responses/NotFound" },
                  "409": { "$ref": "#/components/responses/Conflict" }, "413": { "$ref": "#/components/responses/TooLarge" }, "422": { "$ref": "#/components/responses/Rejected" },
                  "500": { "$ref": "#/components/responses/ServerError" }, "503": { "$ref": "#/components/responses/Unavailable" }
                }
              }
            },
            "/v1/submit/{aggregate}/{id}/{command}": {
              "post": {
                "operationId": "submit", "summary": "Write a command to the entity's command stream; the command consumer handles it. Commands whose outcome cannot be written are parked in {category}:command+deadLetter-{consumer}.",
                "parameters": [{ "$ref": "#/components/parameters/aggregate" }, { "$ref": "#/components/parameters/id" }, { "$ref": "#/components/parameters/command" }, { "$ref": "#/components/parameters/idempotencyKey" }, { "$ref": "#/components/parameters/correlation" }, { "$ref": "#/components/parameters/reply" }],
                "requestBody": { "required": false, "content": { "application/json": { "schema": { "type": "object" } } } },
                "responses": {
                  "202": { "description": "Written to the command stream", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/SubmitReceipt" } } } },
                  "400": { "$ref": "#/components/responses/BadRequest" }, "401": { "$ref": "#/components/responses/Unauthorized" }, "404": { "$ref": "#/components/responses/NotFound" },
                  "409": { "$ref": "#/components/responses/Conflict" }, "413": { "$ref": "#/components/responses/TooLarge" }, "503": { "$ref": "#/components/responses/Unavailable" }
                }
              }
            },
            "/v1/aggregates/{aggregate}/{id}": {
              "get": {
                "operationId": "entity", "summary": "An entity's events and state, now or as of a stream position and/or a time (time travel; with both, whichever comes first).",
                "parameters": [{ "$ref": "#/components/parameters/aggregate" }, { "$ref": "#/components/parameters/id" },
                  { "name": "position", "in": "query", "required": false, "schema": { "type": "integer", "minimum": 0, "maximum": 9223372036854775807 } },
                  { "name": "time", "in": "query", "required": false, "schema": { "type": "string", "format": "date-time" } }],
                "responses": { "200": { "description": "OK", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Entity" } } } }, "400": { "$ref": "#/components/responses/BadRequest" }, "401": { "$ref": "#/components/responses/Unauthorized" }, "404": { "$ref": "#/components/responses/NotFound" }, "500": { "$ref": "#/components/responses/ServerError" }, "503": { "$ref": "#/components/responses/Unavailable" } }
              }
            },
            "/v1/streams/{stream}": {
              "get": {
                "operationId": "readStream", "summary": "Read a stream from a position (get_stream_messages). A category name is a 400: read it at /v1/categories/{category}.",
                "parameters": [{ "name": "stream", "in": "path", "required": true, "schema": { "$ref": "#/components/schemas/StreamName" } },
                  { "name": "position", "in": "query", "required": false, "schema": { "type": "integer", "minimum": 0, "maximum": 9223372036854775807, "default": 0 } }, { "$ref": "#/components/parameters/batchSize" }],
                "responses": { "200": { "description": "OK", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Messages" } } } }, "400": { "$ref": "#/components/responses/BadRequest" }, "401": { "$ref": "#/components/responses/Unauthorized" }, "503": { "$ref": "#/components/responses/Unavailable" } }
              }
            },
            "/v1/categories/{category}": {
              "get": {
                "operationId": "readCategory", "summary": "Read a category from a global position (get_category_messages).",
                "parameters": [{ "$ref": "#/components/parameters/category" }, { "$ref": "#/components/parameters/globalPosition" }, { "$ref": "#/components/parameters/batchSize" },
                  { "$ref": "#/components/parameters/correlationQuery" }, { "$ref": "#/components/parameters/consumerGroupMember" }, { "$ref": "#/components/parameters/consumerGroupSize" }],
                "responses": { "200": { "description": "OK", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Messages" } } } }, "400": { "$ref": "#/components/responses/BadRequest" }, "401": { "$ref": "#/components/responses/Unauthorized" }, "503": { "$ref": "#/components/responses/Unavailable" } }
              }
            },
            "/v1/categories/{category}/events": {
              "get": {
                "operationId": "subscribe", "summary": "Subscribe to a category as Server-Sent Events: catch up, then live, until the client disconnects. Each event's id is the global position; reconnect with Last-Event-ID to resume after it.",
                "parameters": [{ "$ref": "#/components/parameters/category" }, { "$ref": "#/components/parameters/globalPosition" },
                  { "name": "Last-Event-ID", "in": "header", "required": false, "description": "The global position of the last event received; the stream resumes after it.", "schema": { "type": "integer", "minimum": 0, "maximum": 9223372036854775806 } },
                  { "name": "batchSize", "in": "query", "required": false, "schema": { "type": "integer", "minimum": 1, "maximum": 10000, "default": 500 } },
                  { "name": "keepAlive", "in": "query", "required": false, "description": "Seconds between keep-alive comments when idle, 1 to 300.", "schema": { "type": "number", "minimum": 1, "maximum": 300, "default": 15 } },
                  { "$ref": "#/components/parameters/correlationQuery" }, { "$ref": "#/components/parameters/consumerGroupMember" }, { "$ref": "#/components/parameters/consumerGroupSize" }],
                "responses": {
                  "200": {
                    "description": "text/event-stream (the schema describes one event, as OpenAPI 3.1 reads it): each event's data is a Message and its id the message's global position; a read failure sends one event named error whose data is an Error, and ends the stream.",
                    "content": { "text/event-stream": {
                      "schema": {
                        "oneOf": [
                          { "type": "object", "required": ["id", "data"], "properties": { "id": { "type": "string", "pattern": "^[0-9]+$" }, "data": { "type": "string", "contentMediaType": "application/json", "contentSchema": { "$ref": "#/components/schemas/Message" } } }, "not": { "required": ["event"] } },
                          { "type": "object", "required": ["event", "data"], "properties": { "event": { "const": "error" }, "data": { "type": "string", "contentMediaType": "application/json", "contentSchema": { "$ref": "#/components/schemas/Error" } } } }
                        ]
                      }
                    } }
                  },
                  "400": { "$ref": "#/components/responses/BadRequest" }, "401": { "$ref": "#/components/responses/Unauthorized" }, "503": { "$ref": "#/components/responses/Unavailable" }
                }
              }
            }
          }
        }
        """#
}
