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
        "version": "0.1.0",
        "description": "Event-sourcing runtime: publish aggregate modules (ESDL + wasm), execute and submit commands, read streams and categories. Publishing and command endpoints require a bearer token when the server has one."
      },
      "servers": [{ "url": "http://127.0.0.1:7878" }],
      "components": {
        "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
        "parameters": {
          "aggregate": { "name": "aggregate", "in": "path", "required": true, "description": "Aggregate name (BankAccount) or category (bankAccount).", "schema": { "type": "string" } },
          "id": { "name": "id", "in": "path", "required": true, "description": "Entity id: the stream name after the category.", "schema": { "type": "string" } },
          "command": { "name": "command", "in": "path", "required": true, "description": "Command name as written in the ESDL file.", "schema": { "type": "string" } },
          "idempotencyKey": { "name": "Idempotency-Key", "in": "header", "required": false, "description": "The command id (a UUID). Repeating it is idempotent.", "schema": { "type": "string", "format": "uuid" } },
          "correlation": { "name": "Correlation-Stream-Name", "in": "header", "required": false, "description": "Copied to the events' correlationStreamName.", "schema": { "type": "string" } },
          "reply": { "name": "Reply-Stream-Name", "in": "header", "required": false, "description": "Copied to the events' replyStreamName; rejections of submitted commands are written there.", "schema": { "type": "string" } },
          "batchSize": { "name": "batchSize", "in": "query", "required": false, "description": "Most messages to return; -1 for no limit.", "schema": { "type": "integer", "default": 1000 } },
          "consumerGroupMember": { "name": "consumerGroupMember", "in": "query", "required": false, "schema": { "type": "integer", "minimum": 0 } },
          "consumerGroupSize": { "name": "consumerGroupSize", "in": "query", "required": false, "schema": { "type": "integer", "minimum": 1 } },
          "correlationQuery": { "name": "correlation", "in": "query", "required": false, "description": "Only messages whose metadata's correlationStreamName is in this category.", "schema": { "type": "string" } }
        },
        "schemas": {
          "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
              "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                  "code": { "type": "string", "description": "invalidPayload, invalidEntityID, invalidModule, invalidRequest, invalidJSON, invalidArgument, invalidStreamName, unknownAggregate, unknownCommand, rejected, conflict, versionExists, moduleFailure, invalidEvents, unauthorized, connectionFailed, …" },
                  "message": { "type": "string" },
                  "details": { "type": "array", "items": { "type": "object", "required": ["path", "code", "message"], "properties": { "path": { "type": "string" }, "code": { "type": "string" }, "message": { "type": "string" } } } },
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
              "size": { "type": "integer" }, "publishedAt": { "type": "string", "format": "date-time" }, "active": { "type": "boolean" }
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
              "file": { "type": "string", "description": "File name used in ESDL diagnostics." }
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
          }
        },
        "responses": {
          "BadRequest": { "description": "Invalid input (with field paths in details).", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
          "Unauthorized": { "description": "A bearer token is required or wrong.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
          "NotFound": { "description": "Unknown aggregate or command.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
          "Conflict": { "description": "The entity kept changing, or the version exists.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
          "Rejected": { "description": "The aggregate rejected the command.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
          "ServerError": { "description": "The module failed, or the store is unavailable.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }
        }
      },
      "paths": {
        "/health": {
          "get": { "operationId": "health", "summary": "Liveness, store kind and running module versions.", "responses": { "200": { "description": "OK", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Health" } } } } } }
        },
        "/metrics": {
          "get": { "operationId": "metrics", "summary": "Prometheus metrics: commands handled, rejected, latency histogram, events written, cache hits.", "responses": { "200": { "description": "Prometheus text format", "content": { "text/plain": { "schema": { "type": "string" } } } } } }
        },
        "/openapi.json": {
          "get": { "operationId": "openapi", "summary": "This document.", "responses": { "200": { "description": "OpenAPI 3.1", "content": { "application/json": { "schema": { "type": "object" } } } } } }
        },
        "/v1/modules": {
          "get": { "operationId": "listModules", "summary": "Every published module version.", "responses": { "200": { "description": "OK", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Modules" } } } } } },
          "post": {
            "operationId": "publishModule", "summary": "Publish a module version (ESDL + wasm); it runs new commands at once.", "security": [{ "bearer": [] }],
            "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Publish" } } } },
            "responses": {
              "201": { "description": "Published", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Module" } } } },
              "400": { "$ref": "#/components/responses/BadRequest" }, "401": { "$ref": "#/components/responses/Unauthorized" }, "409": { "$ref": "#/components/responses/Conflict" }
            }
          }
        },
        "/v1/modules/{name}": {
          "get": {
            "operationId": "moduleVersions", "summary": "The published versions of one aggregate.",
            "parameters": [{ "name": "name", "in": "path", "required": true, "schema": { "type": "string" } }],
            "responses": { "200": { "description": "OK", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Modules" } } } }, "404": { "$ref": "#/components/responses/NotFound" } }
          }
        },
        "/v1/execute/{aggregate}/{id}/{command}": {
          "post": {
            "operationId": "execute", "summary": "Handle a command now and return the events it wrote.", "security": [{ "bearer": [] }],
            "parameters": [{ "$ref": "#/components/parameters/aggregate" }, { "$ref": "#/components/parameters/id" }, { "$ref": "#/components/parameters/command" }, { "$ref": "#/components/parameters/idempotencyKey" }, { "$ref": "#/components/parameters/correlation" }, { "$ref": "#/components/parameters/reply" }],
            "requestBody": { "required": false, "content": { "application/json": { "schema": { "type": "object", "description": "The command's parameters, keyed by the ESDL names." } } } },
            "responses": {
              "200": { "description": "Recorded, duplicate or ignored", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/CommandResult" } } } },
              "400": { "$ref": "#/components/responses/BadRequest" }, "401": { "$ref": "#/components/responses/Unauthorized" }, "404": { "$ref": "#/components/responses/NotFound" },
              "409": { "$ref": "#/components/responses/Conflict" }, "422": { "$ref": "#/components/responses/Rejected" }, "500": { "$ref": "#/components/responses/ServerError" }, "503": { "$ref": "#/components/responses/ServerError" }
            }
          }
        },
        "/v1/submit/{aggregate}/{id}/{command}": {
          "post": {
            "operationId": "submit", "summary": "Write a command to the entity's command stream; the command consumer handles it.", "security": [{ "bearer": [] }],
            "parameters": [{ "$ref": "#/components/parameters/aggregate" }, { "$ref": "#/components/parameters/id" }, { "$ref": "#/components/parameters/command" }, { "$ref": "#/components/parameters/idempotencyKey" }, { "$ref": "#/components/parameters/correlation" }, { "$ref": "#/components/parameters/reply" }],
            "requestBody": { "required": false, "content": { "application/json": { "schema": { "type": "object" } } } },
            "responses": {
              "202": { "description": "Written to the command stream", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/SubmitReceipt" } } } },
              "400": { "$ref": "#/components/responses/BadRequest" }, "401": { "$ref": "#/components/responses/Unauthorized" }, "404": { "$ref": "#/components/responses/NotFound" }, "409": { "$ref": "#/components/responses/Conflict" }
            }
          }
        },
        "/v1/aggregates/{aggregate}/{id}": {
          "get": {
            "operationId": "entity", "summary": "An entity's events and state, now or as of a stream position or a time (time travel).",
            "parameters": [{ "$ref": "#/components/parameters/aggregate" }, { "$ref": "#/components/parameters/id" },
              { "name": "position", "in": "query", "required": false, "schema": { "type": "integer", "minimum": 0 } },
              { "name": "time", "in": "query", "required": false, "schema": { "type": "string", "format": "date-time" } }],
            "responses": { "200": { "description": "OK", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Entity" } } } }, "400": { "$ref": "#/components/responses/BadRequest" }, "404": { "$ref": "#/components/responses/NotFound" } }
          }
        },
        "/v1/streams/{stream}": {
          "get": {
            "operationId": "readStream", "summary": "Read a stream from a position (get_stream_messages).",
            "parameters": [{ "name": "stream", "in": "path", "required": true, "schema": { "type": "string" } },
              { "name": "position", "in": "query", "required": false, "schema": { "type": "integer", "default": 0 } }, { "$ref": "#/components/parameters/batchSize" }],
            "responses": { "200": { "description": "OK", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Messages" } } } }, "400": { "$ref": "#/components/responses/BadRequest" } }
          }
        },
        "/v1/categories/{category}": {
          "get": {
            "operationId": "readCategory", "summary": "Read a category from a global position (get_category_messages).",
            "parameters": [{ "name": "category", "in": "path", "required": true, "schema": { "type": "string" } },
              { "name": "position", "in": "query", "required": false, "schema": { "type": "integer", "default": 1 } }, { "$ref": "#/components/parameters/batchSize" },
              { "$ref": "#/components/parameters/correlationQuery" }, { "$ref": "#/components/parameters/consumerGroupMember" }, { "$ref": "#/components/parameters/consumerGroupSize" }],
            "responses": { "200": { "description": "OK", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Messages" } } } }, "400": { "$ref": "#/components/responses/BadRequest" } }
          }
        },
        "/v1/categories/{category}/events": {
          "get": {
            "operationId": "subscribe", "summary": "Subscribe to a category as Server-Sent Events: catch up, then live. Each event's id is the global position; reconnect with Last-Event-ID to resume.",
            "parameters": [{ "name": "category", "in": "path", "required": true, "schema": { "type": "string" } },
              { "name": "position", "in": "query", "required": false, "schema": { "type": "integer", "default": 1 } },
              { "name": "Last-Event-ID", "in": "header", "required": false, "schema": { "type": "integer" } },
              { "name": "batchSize", "in": "query", "required": false, "schema": { "type": "integer", "default": 500 } },
              { "name": "keepAlive", "in": "query", "required": false, "description": "Seconds between keep-alive comments when idle.", "schema": { "type": "number", "default": 15 } },
              { "$ref": "#/components/parameters/correlationQuery" }, { "$ref": "#/components/parameters/consumerGroupMember" }, { "$ref": "#/components/parameters/consumerGroupSize" }],
            "responses": { "200": { "description": "text/event-stream; each data line is a Message", "content": { "text/event-stream": { "schema": { "type": "string" } } } }, "400": { "$ref": "#/components/responses/BadRequest" } }
          }
        }
      }
    }
    """#
}
