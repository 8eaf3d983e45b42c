//! The service's OpenAPI 3.1 document, served at `GET /openapi.json` (a test checks
//! that it lists exactly the routes the router serves).

use serde_json::{Value, json};

/// The document.
pub fn document() -> Value {
    let error = json!({"$ref": "#/components/schemas/Error"});
    let error_responses = json!({
        "400": {"description": "Malformed request; `field` names the JSON path", "content": {"application/json": {"schema": error}}},
        "401": {"description": "Missing or invalid bearer token", "content": {"application/json": {"schema": error}}},
        "404": {"description": "Unknown canary config", "content": {"application/json": {"schema": error}}},
        "413": {"description": "Body over the limit", "content": {"application/json": {"schema": error}}},
        "415": {"description": "Content-Type is not JSON (a missing Content-Type is read as JSON)", "content": {"application/json": {"schema": error}}},
        "422": {"description": "Config or query unusable (e.g. Prometheus rejected the query)", "content": {"application/json": {"schema": error}}},
        "502": {"description": "Metric source failed", "content": {"application/json": {"schema": error}}},
        "503": {"description": "Shutting down or at capacity", "content": {"application/json": {"schema": error}}},
        "504": {"description": "Metric source or judgement timed out", "content": {"application/json": {"schema": error}}}
    });
    let mut judge_responses = error_responses.clone();
    judge_responses["200"] = json!({
        "description": "A verdict (pass, marginal or fail: all are 200)",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/JudgeResponse"}}}
    });
    let text = json!({"text/plain": {"schema": {"type": "string"}}});
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Serin judge service",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Statistical canary judgement for Argo Rollouts, Flagger and Kayenta clients."
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error", "kind"],
                    "properties": {"error": {"type": "string"}, "kind": {"type": "string"}, "field": {"type": "string"}}
                },
                "Scope": {
                    "type": "object",
                    "required": ["scope"],
                    "properties": {
                        "scope": {"type": "string"},
                        "location": {"type": "string"},
                        "params": {"type": "object", "additionalProperties": {"type": "string"}}
                    }
                },
                "Thresholds": {
                    "type": "object",
                    "required": ["pass", "marginal"],
                    "properties": {"pass": {"type": "number"}, "marginal": {"type": "number"}}
                },
                "JudgeRequest": {
                    "type": "object",
                    "additionalProperties": false,
                    "properties": {
                        "config": {"type": "object", "description": "Inline Kayenta canary config"},
                        "configName": {"type": "string", "description": "Name or id of a served config"},
                        "endpoint": {"type": "string", "description": "Configured Prometheus endpoint name"},
                        "baseline": {"$ref": "#/components/schemas/Scope"},
                        "canary": {"$ref": "#/components/schemas/Scope"},
                        "scopes": {"type": "object", "additionalProperties": {
                            "type": "object", "properties": {"baseline": {"$ref": "#/components/schemas/Scope"}, "canary": {"$ref": "#/components/schemas/Scope"}}
                        }},
                        "start": {"type": "string", "format": "date-time"},
                        "end": {"type": "string", "format": "date-time"},
                        "lookback": {"type": ["string", "number"], "examples": ["10m"]},
                        "step": {"type": ["string", "number"], "examples": ["30s"]},
                        "thresholds": {"$ref": "#/components/schemas/Thresholds"},
                        "data": {"type": "object", "additionalProperties": {
                            "type": "object",
                            "required": ["baseline", "canary"],
                            "properties": {
                                "baseline": {"type": "array", "items": {"type": ["number", "null", "string"]}},
                                "canary": {"type": "array", "items": {"type": ["number", "null", "string"]}},
                                "baselineTimes": {"type": "array", "description": "one per baseline value: Unix seconds or RFC 3339", "items": {"type": ["number", "string"]}},
                                "canaryTimes": {"type": "array", "description": "one per canary value: Unix seconds or RFC 3339", "items": {"type": ["number", "string"]}}
                            }
                        }}
                    }
                },
                "JudgeResponse": {
                    "type": "object",
                    "required": ["verdict", "score", "reasons", "judgeResult"],
                    "properties": {
                        "verdict": {"type": "string", "enum": ["pass", "marginal", "fail"]},
                        "score": {"type": "number"},
                        "reasons": {"type": "array", "items": {"type": "string"}},
                        "judgeResult": {"type": "object", "description": "Kayenta's judgeResult plus evidence per metric"},
                        "queries": {"type": "array", "items": {"type": "object"}}
                    }
                },
                "FlaggerPayload": {
                    "type": "object",
                    "required": ["name", "namespace"],
                    "properties": {
                        "name": {"type": "string"}, "namespace": {"type": "string"},
                        "phase": {"type": "string"}, "checksum": {"type": "string"},
                        "metadata": {"type": "object", "additionalProperties": {"type": "string"}}
                    }
                }
            }
        },
        "security": [{"bearer": []}, {}],
        "paths": {
            "/judge": {"post": {
                "summary": "Judge a canary against its baseline",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/JudgeRequest"}}}},
                "responses": judge_responses
            }},
            "/flagger/judge": {"post": {
                "summary": "Flagger webhook: 200 on pass, 412 with a one-line reason on fail",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/FlaggerPayload"}}}},
                "responses": {
                    "200": {"description": "Pass", "content": text},
                    "412": {"description": "Fail (or marginal, by default)", "content": text},
                    "400": {"description": "Bad payload", "content": text},
                    "415": {"description": "Content-Type is not JSON", "content": text},
                    "502": {"description": "Metric source failed", "content": text}
                }
            }},
            "/canaryConfig": {"get": {
                "summary": "Kayenta: list canary configs",
                "parameters": [{"name": "application", "in": "query", "schema": {"type": "string"}}],
                "responses": {"200": {"description": "Configs", "content": {"application/json": {"schema": {"type": "array", "items": {
                    "type": "object", "properties": {"id": {"type": "string"}, "name": {"type": "string"}}
                }}}}}}
            }},
            "/canary/{id}": {
                "post": {
                    "summary": "Kayenta: start a canary execution for config `id`",
                    "parameters": [
                        {"name": "id", "in": "path", "required": true, "schema": {"type": "string"}},
                        {"name": "metricsAccountName", "in": "query", "schema": {"type": "string"}}
                    ],
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object"}}}},
                    "responses": {"200": {"description": "Started", "content": {"application/json": {"schema": {
                        "type": "object", "properties": {"canaryExecutionId": {"type": "string"}}
                    }}}}}
                },
                "get": {
                    "summary": "Kayenta: state of execution `id`",
                    "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                    "responses": {
                        "200": {"description": "Execution", "content": {"application/json": {"schema": {"type": "object"}}}},
                        "404": {"description": "Unknown or expired", "content": {"application/json": {"schema": error}}}
                    }
                }
            },
            "/healthz": {"get": {"summary": "Liveness", "security": [], "responses": {"200": {"description": "ok", "content": text}}}},
            "/readyz": {"get": {"summary": "Readiness (503 while shutting down)", "security": [], "responses": {
                "200": {"description": "Ready"}, "503": {"description": "Shutting down"}
            }}},
            "/metrics": {"get": {"summary": "Prometheus metrics", "security": [], "responses": {"200": {"description": "OpenMetrics text"}}}},
            "/openapi.json": {"get": {"summary": "This document", "security": [], "responses": {"200": {"description": "OpenAPI 3.1"}}}}
        }
    })
}
