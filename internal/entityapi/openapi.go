package entityapi

import (
	"encoding/json"
	"strings"
)

// OpenAPISpec describes one entity service for its OpenAPI 3 document. Both source services
// build their documents from the same skeleton, so the shared API shape is documented once.
type OpenAPISpec struct {
	// Title and Description of the service.
	Title, Description string
	// Kind is the singular entity name ("customer"), Plural the collection ("customers").
	Kind, Plural string
	// Entity, Create and Patch are JSON Schemas of the entity and the write bodies.
	Entity, Create, Patch map[string]any
	// Example is an entity, CreateExample a create body.
	Example, CreateExample map[string]any
	// WriteErrors lists extra error statuses of create/update with their meaning.
	WriteErrors map[string]string
}

// OpenAPI renders the document.
func OpenAPI(s OpenAPISpec) []byte {
	title := strings.ToUpper(s.Kind[:1]) + s.Kind[1:]
	ref := func(name string) map[string]any { return map[string]any{"$ref": "#/components/schemas/" + name} }
	jsonBody := func(schema map[string]any, example any) map[string]any {
		m := map[string]any{"schema": schema}
		if example != nil {
			m["example"] = example
		}
		return map[string]any{"application/json": m}
	}
	errResp := func(desc string) map[string]any {
		return map[string]any{"description": desc, "content": jsonBody(ref("Error"), nil)}
	}
	entityResp := func(desc string) map[string]any {
		return map[string]any{"description": desc, "content": jsonBody(ref(title), s.Example),
			"headers": map[string]any{"ETag": map[string]any{"description": "The entity version, quoted; send it back in If-Match.", "schema": map[string]any{"type": "string"}}}}
	}
	idParam := map[string]any{"name": "id", "in": "path", "required": true, "description": "The " + s.Kind + " id (UUIDv7).",
		"schema": map[string]any{"type": "string", "format": "uuid"}}
	ifMatch := map[string]any{"name": "If-Match", "in": "header", "required": false,
		"description": "Only apply the change if the " + s.Kind + " is at this version (accepts 3, \"3\" or W/\"3\"); otherwise 412.",
		"schema":      map[string]any{"type": "string"}}
	cursor := func(name, desc string) map[string]any {
		return map[string]any{"name": name, "in": "query", "required": false, "description": desc, "schema": map[string]any{"type": "string", "format": "uuid"}}
	}
	security := []any{map[string]any{"bearerAuth": []any{}}}
	writeResponses := func(ok string, okResp map[string]any, extra ...string) map[string]any {
		r := map[string]any{
			ok:    okResp,
			"400": errResp("Malformed JSON, unknown fields, wrong JSON types or a malformed If-Match."),
			"401": errResp("A bearer token is configured and the request does not carry it."),
			"413": errResp("The request body exceeds 1 MiB."),
			"422": errResp("Validation failed; details lists every invalid field."),
		}
		for _, code := range extra {
			switch code {
			case "404":
				r["404"] = errResp("No " + s.Kind + " has this id.")
			case "412":
				r["412"] = errResp("If-Match names another version than the current one.")
			}
		}
		for code, desc := range s.WriteErrors {
			r[code] = errResp(desc)
		}
		return r
	}
	coll := "/v1/" + s.Plural
	doc := map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{"title": s.Title, "version": "1.0.0", "description": s.Description +
			"\n\nEvery change (create, update, delete) is published as an event with the full snapshot to the Kafka topic `" + s.Plural +
			"` (see internal/events/README.md). A failed request changes nothing and emits no event. All errors share one shape: " +
			"`{\"error\":{\"code\",\"message\",\"details\":[{\"field\",\"message\"}]}}`."},
		"paths": map[string]any{
			coll: map[string]any{
				"get": map[string]any{
					"operationId": "list" + title + "s", "summary": "List " + s.Plural + " by id (keyset pages), or look up a batch by ids",
					"description": "Without ids: a page of at most limit " + s.Plural + " ordered by id with after < id < before (both optional, exclusive); `next` is the last id of the page when more follow, else null. Pages are stable under concurrent writes. With ids (comma separated, at most 1000, not combinable with the others): the " + s.Plural + " that exist, by id; unknown ids are simply absent.",
					"parameters": []any{
						cursor("after", "Exclusive lower id bound (the previous page's next)."),
						cursor("before", "Exclusive upper id bound."),
						map[string]any{"name": "limit", "in": "query", "required": false, "description": "Page size, 1..1000.",
							"schema": map[string]any{"type": "integer", "minimum": 1, "maximum": MaxListLimit, "default": DefaultListLimit}},
						map[string]any{"name": "ids", "in": "query", "required": false, "description": "Comma-separated ids for a batch lookup (at most 1000).",
							"schema": map[string]any{"type": "string"}},
					},
					"responses": map[string]any{
						"200": map[string]any{"description": "A page (with next) or a batch (without next).", "content": jsonBody(ref(title+"Page"), nil)},
						"400": errResp("Malformed or unknown query parameters."),
					},
				},
				"post": map[string]any{
					"operationId": "create" + title, "summary": "Create a " + s.Kind, "security": security,
					"requestBody": map[string]any{"required": true, "content": jsonBody(ref(title+"Create"), s.CreateExample)},
					"responses": func() map[string]any {
						r := writeResponses("201", entityResp("Created; Location names the new "+s.Kind+"."))
						r["201"].(map[string]any)["headers"].(map[string]any)["Location"] = map[string]any{"schema": map[string]any{"type": "string"}}
						return r
					}(),
				},
			},
			coll + "/{id}": map[string]any{
				"parameters": []any{idParam},
				"get": map[string]any{"operationId": "get" + title, "summary": "Get a " + s.Kind,
					"responses": map[string]any{"200": entityResp("The " + s.Kind + "."), "404": errResp("No " + s.Kind + " has this id.")}},
				"patch": map[string]any{"operationId": "update" + title, "summary": "Change some fields of a " + s.Kind,
					"description": "Only the fields present change. A change increments version; a patch that changes nothing returns the " + s.Kind + " unchanged and emits no event.",
					"security":    security, "parameters": []any{ifMatch},
					"requestBody": map[string]any{"required": true, "content": jsonBody(ref(title+"Patch"), nil)},
					"responses":   writeResponses("200", entityResp("The changed "+s.Kind+"."), "404", "412")},
				"delete": map[string]any{"operationId": "delete" + title, "summary": "Delete a " + s.Kind,
					"description": "The deletion event carries the last snapshot with version + 1.",
					"security":    security, "parameters": []any{ifMatch},
					"responses": map[string]any{"204": map[string]any{"description": "Deleted."},
						"400": errResp("Malformed If-Match."), "401": errResp("Missing or wrong bearer token."),
						"404": errResp("No " + s.Kind + " has this id."), "412": errResp("If-Match names another version than the current one.")}},
			},
			"/healthz":      map[string]any{"get": map[string]any{"summary": "Liveness", "responses": map[string]any{"200": map[string]any{"description": "The process runs."}}}},
			"/readyz":       map[string]any{"get": map[string]any{"summary": "Readiness (database reachable)", "responses": map[string]any{"200": map[string]any{"description": "Ready."}, "503": errResp("Not ready.")}}},
			"/metrics":      map[string]any{"get": map[string]any{"summary": "Prometheus metrics (HTTP, outbox relay lag and throughput)", "responses": map[string]any{"200": map[string]any{"description": "Prometheus text format."}}}},
			"/openapi.json": map[string]any{"get": map[string]any{"summary": "This document", "responses": map[string]any{"200": map[string]any{"description": "OpenAPI 3 document."}}}},
		},
		"components": map[string]any{
			"securitySchemes": map[string]any{"bearerAuth": map[string]any{"type": "http", "scheme": "bearer",
				"description": "Required on POST, PATCH and DELETE when the service runs with --auth-token."}},
			"schemas": map[string]any{
				title:            s.Entity,
				title + "Create": s.Create,
				title + "Patch":  s.Patch,
				title + "Page": map[string]any{"type": "object", "required": []any{"items"}, "properties": map[string]any{
					"items": map[string]any{"type": "array", "items": ref(title)},
					"next":  map[string]any{"type": "string", "nullable": true, "description": "Cursor for the next page (pass as after); null on the last page. Absent for batch lookups."},
				}},
				"Error": map[string]any{"type": "object", "required": []any{"error"}, "properties": map[string]any{
					"error": map[string]any{"type": "object", "required": []any{"code", "message"}, "properties": map[string]any{
						"code":    map[string]any{"type": "string", "description": "Stable machine-readable code, e.g. validation_failed, not_found, version_mismatch."},
						"message": map[string]any{"type": "string"},
						"details": map[string]any{"type": "array", "items": map[string]any{"type": "object", "properties": map[string]any{
							"field": map[string]any{"type": "string"}, "message": map[string]any{"type": "string"}}}},
					}},
				}},
			},
		},
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		panic(err) // maps of plain values always marshal
	}
	return append(b, '\n')
}
