package customers

import (
	"github.com/ordertable/ordertable/internal/entityapi"
)

// OpenAPI returns the service's OpenAPI 3 document (served at /openapi.json; a copy is
// checked in as openapi.json and kept current by the golden test).
func OpenAPI() []byte {
	name := map[string]any{"type": "string", "minLength": 1, "maxLength": MaxNameLen, "description": "Person or company name; trimmed; no control characters."}
	email := map[string]any{"type": "string", "format": "email", "maxLength": MaxEmailLen, "description": "A bare address (no display name) whose domain has a dot."}
	country := map[string]any{"type": "string", "pattern": "^[A-Za-z]{2}$", "description": "ISO 3166-1 alpha-2 code; stored upper case.", "enum": anySlice(Countries())}
	return entityapi.OpenAPI(entityapi.OpenAPISpec{
		Title:       "ordertable CustomerService",
		Description: "Customers of the purchase-order system: people and companies with a country.",
		Kind:        "customer", Plural: "customers",
		Entity: map[string]any{"type": "object", "required": []any{"id", "name", "email", "country", "created_at", "updated_at", "version"},
			"properties": map[string]any{
				"id":   map[string]any{"type": "string", "format": "uuid", "description": "UUIDv7, assigned by the service."},
				"name": name, "email": email, "country": map[string]any{"type": "string", "description": "ISO 3166-1 alpha-2, upper case."},
				"created_at": map[string]any{"type": "string", "format": "date-time"},
				"updated_at": map[string]any{"type": "string", "format": "date-time"},
				"version":    map[string]any{"type": "integer", "format": "int64", "minimum": 1, "description": "1 on create, +1 on every change."},
			}},
		Create: map[string]any{"type": "object", "additionalProperties": false, "required": []any{"name", "email", "country"},
			"properties": map[string]any{"name": name, "email": email, "country": country}},
		Patch: map[string]any{"type": "object", "additionalProperties": false, "description": "Fields to change; none may be null.",
			"properties": map[string]any{"name": name, "email": email, "country": country}},
		Example: map[string]any{"id": "01936f0e-7b7c-7cc1-9d1c-5b1f3c1e2a10", "name": "Ada Lovelace", "email": "ada@example.com", "country": "GB",
			"created_at": "2026-11-25T10:00:00.123456Z", "updated_at": "2026-11-25T10:00:00.123456Z", "version": 1},
		CreateExample: map[string]any{"name": "Ada Lovelace", "email": "ada@example.com", "country": "GB"},
	})
}

func anySlice(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
