"""The OpenAPI 3.1 description of /api/v1, served at /api/v1/openapi.json (kept beside the code it describes)."""

from __future__ import annotations

from typing import Any

_ERRORS = {"$ref": "#/components/schemas/Errors"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error_responses(*statuses: int) -> dict[str, Any]:
    descriptions = {
        400: "Invalid request (errorCode e.g. STRING_TOO_LONG, REQUIRED_FIELD_MISSING, INVALID_FIELD)",
        401: "INVALID_SESSION_ID: missing, expired or revoked token",
        403: "API_DISABLED_FOR_USER (the user lacks 'API Enabled') or INSUFFICIENT_ACCESS (token scope)",
        404: "NOT_FOUND",
    }
    return {str(status): _json(_ERRORS, descriptions[status]) for status in statuses}


def _query(name: str, description: str, required: bool = True) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "schema": {"type": "string"}, "description": description}


def _path(name: str, schema_type: str = "integer") -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": schema_type}}


def openapi_document(base_url: str) -> dict[str, Any]:
    read = [{"crm": ["crm.read"]}]
    write = [{"crm": ["crm.write"]}]
    records = {"$ref": "#/components/schemas/RecordList"}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Callbridge built-in CRM REST API",
            "version": "1.0.0",
            "description": "Search for screen pops, read records, log activities. "
            "Authorise with a bearer token from the CRM's OpenID Connect provider.",
        },
        "servers": [{"url": f"{base_url}/api/v1"}],
        "security": read,
        "paths": {
            "/search/phone": {
                "get": {
                    "summary": "Contacts, accounts and leads whose phone matches (compared in E.164)",
                    "parameters": [
                        _query("number", "A phone number in any format; extensions are ignored"),
                        _query(
                            "region",
                            "Two-letter region (e.g. GB) in which numbers without a country code, the query's "
                            "and the stored ones, are read too (besides the organisation's default region)",
                            required=False,
                        ),
                    ],
                    "responses": {
                        "200": _json(
                            {
                                "allOf": [
                                    records,
                                    {
                                        "type": "object",
                                        "properties": {
                                            "number": {"type": "string"},
                                            "e164": {"type": ["string", "null"]},
                                        },
                                    },
                                ]
                            },
                            "Matches (empty when the number cannot be read)",
                        ),
                        **_error_responses(400, 401, 403),
                    },
                }
            },
            "/search/case-number": {
                "get": {
                    "summary": "The case with this case number (leading zeros optional)",
                    "parameters": [_query("caseNumber", "e.g. 00001042 or 1042")],
                    "responses": {"200": _json(records, "Matching cases"), **_error_responses(401, 403)},
                }
            },
            "/search/rules": {
                "post": {
                    "summary": "Records whose fields equal the given values (case-insensitive; phones in E.164)",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RuleSearch"}}},
                    },
                    "responses": {"200": _json(records, "Matches"), **_error_responses(400, 401, 403)},
                }
            },
            "/records/{objectType}/{id}": {
                "get": {
                    "summary": "Read one record",
                    "parameters": [
                        {
                            "name": "objectType",
                            "in": "path",
                            "required": True,
                            "schema": {"enum": ["contact", "account", "lead", "case", "activity"]},
                        },
                        _path("id"),
                    ],
                    "responses": {
                        "200": _json({"$ref": "#/components/schemas/Record"}, "The record"),
                        **_error_responses(401, 403, 404),
                    },
                }
            },
            "/activities": {
                "get": {
                    "summary": "Activities of one record (newest first), or the 50 newest",
                    "parameters": [
                        {
                            "name": f"{kind}Id",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
                        }
                        for kind in ("contact", "account", "case", "lead")
                    ],
                    "responses": {"200": _json(records, "Activities"), **_error_responses(400, 401, 403)},
                },
                "post": {
                    "summary": "Create an activity",
                    "security": write,
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ActivityInput"}}},
                    },
                    "responses": {
                        "201": _json({"$ref": "#/components/schemas/SaveResult"}, "Created"),
                        **_error_responses(400, 401, 403),
                    },
                },
            },
            "/activities/by-external-id/{externalId}": {
                "put": {
                    "summary": "Create or update the activity with this external id (idempotent)",
                    "description": "The same external id twice leaves one activity. On update, fields not sent "
                    "keep their value. comments longer than the configured byte limit (default 4000 bytes "
                    "of UTF-8) are refused with STRING_TOO_LONG and nothing is saved. An existing activity is "
                    "changed only by its owner or an admin (403 INSUFFICIENT_ACCESS_OR_READONLY otherwise).",
                    "security": write,
                    "parameters": [_path("externalId", "string")],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ActivityInput"}}},
                    },
                    "responses": {
                        "201": _json({"$ref": "#/components/schemas/SaveResult"}, "Created"),
                        "200": _json({"$ref": "#/components/schemas/SaveResult"}, "Updated"),
                        **_error_responses(400, 401, 403),
                    },
                }
            },
            "/activities/{id}/attachments": {
                "post": {
                    "summary": "Attach a file (e.g. the full log whose comments had to be cut)",
                    "description": "Only the activity's owner or an admin may attach (403 "
                    "INSUFFICIENT_ACCESS_OR_READONLY otherwise).",
                    "security": write,
                    "parameters": [_path("id")],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/AttachmentInput"}}},
                    },
                    "responses": {
                        "201": _json({"$ref": "#/components/schemas/Attachment"}, "Attached"),
                        **_error_responses(400, 401, 403, 404),
                    },
                },
                "get": {
                    "summary": "The attachments of an activity",
                    "parameters": [_path("id")],
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "properties": {
                                    "records": {"type": "array", "items": {"$ref": "#/components/schemas/Attachment"}}
                                },
                            },
                            "Attachments",
                        ),
                        **_error_responses(401, 403, 404),
                    },
                },
            },
            "/attachments/{id}/body": {
                "get": {
                    "summary": "The content of an attachment, with its content type",
                    "parameters": [_path("id")],
                    "responses": {"200": {"description": "The bytes"}, **_error_responses(401, 403, 404)},
                }
            },
            "/users": {
                "get": {
                    "summary": "CRM users",
                    "description": "Admins see every user; other users see only themselves.",
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "properties": {
                                    "records": {"type": "array", "items": {"$ref": "#/components/schemas/User"}}
                                },
                            },
                            "Users",
                        ),
                        **_error_responses(401, 403),
                    },
                }
            },
            "/limits": {
                "get": {
                    "summary": "Limits a connector must respect",
                    "responses": {
                        "200": _json(
                            {"type": "object", "properties": {"activityCommentsMaxBytes": {"type": "integer"}}},
                            "Limits",
                        ),
                        **_error_responses(401, 403),
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {
                "crm": {
                    "type": "oauth2",
                    "flows": {
                        "authorizationCode": {
                            "authorizationUrl": f"{base_url}/oauth2/authorize",
                            "tokenUrl": f"{base_url}/oauth2/token",
                            "refreshUrl": f"{base_url}/oauth2/token",
                            "scopes": {
                                "crm.read": "Search and read records",
                                "crm.write": "Create and update activities",
                            },
                        }
                    },
                }
            },
            "schemas": {
                "Errors": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["errorCode", "message", "fields"],
                        "properties": {
                            "errorCode": {"type": "string", "examples": ["STRING_TOO_LONG"]},
                            "message": {"type": "string"},
                            "fields": {"type": "array", "items": {"type": "string"}},
                        },
                    },
                },
                "Record": {
                    "type": "object",
                    "description": "Common keys plus the object's own camelCase fields",
                    "required": ["objectType", "id", "name", "url"],
                    "properties": {
                        "objectType": {"enum": ["contact", "account", "lead", "case", "activity"]},
                        "id": {"type": "integer"},
                        "name": {"type": "string"},
                        "url": {"type": "string", "description": "The record page in the CRM"},
                        "createdAt": {"type": "string", "format": "date-time"},
                        "firstName": {"type": ["string", "null"]},
                        "lastName": {"type": "string"},
                        "email": {"type": ["string", "null"]},
                        "phone": {"type": ["string", "null"], "description": "As entered"},
                        "mobilePhone": {"type": ["string", "null"]},
                        "accountId": {"type": ["integer", "null"]},
                        "contactId": {"type": ["integer", "null"]},
                        "caseNumber": {"type": "string"},
                        "subject": {"type": "string"},
                        "status": {"type": "string"},
                    },
                    "additionalProperties": True,
                },
                "RecordList": {
                    "type": "object",
                    "required": ["totalSize", "records"],
                    "properties": {
                        "totalSize": {"type": "integer"},
                        "records": {"type": "array", "items": {"$ref": "#/components/schemas/Record"}},
                    },
                },
                "RuleSearch": {
                    "type": "object",
                    "required": ["objectType", "rules"],
                    "properties": {
                        "objectType": {"enum": ["contact", "account", "lead", "case"]},
                        "match": {"enum": ["all", "any"], "default": "all"},
                        "rules": {
                            "type": "array",
                            "minItems": 1,
                            "items": {
                                "type": "object",
                                "required": ["field", "value"],
                                "properties": {
                                    "field": {
                                        "type": "string",
                                        "description": "contact: id firstName lastName email phone mobilePhone "
                                        "accountId; account: id name phone website; lead: id firstName lastName "
                                        "company email phone mobilePhone; case: id caseNumber subject status "
                                        "contactId accountId",
                                    },
                                    "value": {"type": "string"},
                                },
                            },
                        },
                    },
                },
                "ActivityInput": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["subject", "type", "direction"],
                    "properties": {
                        "subject": {"type": "string", "maxLength": 255},
                        "type": {"enum": ["call", "chat", "voicemail"]},
                        "direction": {"enum": ["inbound", "outbound"]},
                        "start": {"type": "string", "format": "date-time"},
                        "durationSeconds": {"type": "integer", "minimum": 0},
                        "disposition": {"type": "string", "maxLength": 255},
                        "comments": {"type": "string", "description": "At most 4000 bytes of UTF-8 by default"},
                        "contactId": {"type": "integer"},
                        "accountId": {"type": "integer"},
                        "caseId": {"type": "integer"},
                        "leadId": {"type": "integer"},
                        "externalId": {"type": "string", "maxLength": 255},
                    },
                },
                "SaveResult": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "success": {"type": "boolean"},
                        "errors": {"type": "array", "items": {}},
                        "created": {"type": "boolean"},
                        "record": {"$ref": "#/components/schemas/Record"},
                    },
                },
                "AttachmentInput": {
                    "type": "object",
                    "required": ["name", "body"],
                    "properties": {
                        "name": {"type": "string"},
                        "contentType": {"type": "string", "default": "text/plain; charset=utf-8"},
                        "body": {"type": "string", "contentEncoding": "base64"},
                    },
                },
                "Attachment": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "activityId": {"type": "integer"},
                        "name": {"type": "string"},
                        "contentType": {"type": "string"},
                        "size": {"type": "integer"},
                        "bodyUrl": {"type": "string"},
                    },
                },
                "User": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "name": {"type": "string"},
                        "email": {"type": "string"},
                        "roles": {"type": "array", "items": {"type": "string"}},
                        "active": {"type": "boolean"},
                        "apiEnabled": {"type": "boolean"},
                    },
                },
            },
        },
    }
