package orders

import (
	"github.com/ordertable/ordertable/internal/entityapi"
)

// OpenAPI returns the service's OpenAPI 3 document (served at /openapi.json; a copy is
// checked in as openapi.json and kept current by the golden test).
func OpenAPI() []byte {
	anyOf := func(ss []string) []any {
		out := make([]any, len(ss))
		for i, s := range ss {
			out[i] = s
		}
		return out
	}
	customerID := map[string]any{"type": "string", "format": "uuid", "description": "Id of an existing customer of the CustomerService (checked on create and when it changes)."}
	status := map[string]any{"type": "string", "enum": anyOf(Statuses()), "description": "Defaults to draft on create."}
	total := map[string]any{"type": "string", "pattern": `^(0|[1-9][0-9]{0,14})(\.[0-9]+)?$`,
		"description": "Exact non-negative decimal as a string (never a JSON number), with at most the currency's minor-unit decimals (JPY 0, EUR 2, KWD 3); returned exactly as sent."}
	currency := map[string]any{"type": "string", "enum": anyOf(Currencies()), "description": "ISO 4217 code; stored upper case."}
	placedAt := map[string]any{"type": "string", "format": "date-time", "nullable": true,
		"description": "When the order was placed; set to the time of the change when the status leaves draft without one; must stay set while placed, paid or shipped."}
	return entityapi.OpenAPI(entityapi.OpenAPISpec{
		Title:       "ordertable PurchaseOrderService",
		Description: "Purchase orders of customers of the CustomerService.",
		Kind:        "order", Plural: "orders",
		Entity: map[string]any{"type": "object",
			"required": []any{"id", "order_number", "customer_id", "status", "total", "currency", "placed_at", "created_at", "updated_at", "version"},
			"properties": map[string]any{
				"id":           map[string]any{"type": "string", "format": "uuid", "description": "UUIDv7, assigned by the service."},
				"order_number": map[string]any{"type": "string", "pattern": `^PO-\d{4}-\d{6,}$`, "description": "Unique human-readable number assigned by the service (PO-<year>-<sequence>)."},
				"customer_id":  customerID, "status": status, "total": total, "currency": currency, "placed_at": placedAt,
				"created_at": map[string]any{"type": "string", "format": "date-time"},
				"updated_at": map[string]any{"type": "string", "format": "date-time"},
				"version":    map[string]any{"type": "integer", "format": "int64", "minimum": 1, "description": "1 on create, +1 on every change."},
			}},
		Create: map[string]any{"type": "object", "additionalProperties": false, "required": []any{"customer_id", "total", "currency"},
			"properties": map[string]any{"customer_id": customerID, "status": status, "total": total, "currency": currency, "placed_at": placedAt}},
		Patch: map[string]any{"type": "object", "additionalProperties": false, "description": "Fields to change; only placed_at may be null.",
			"properties": map[string]any{"customer_id": customerID, "status": status, "total": total, "currency": currency, "placed_at": placedAt}},
		Example: map[string]any{"id": "01936f0e-9a2b-7d4e-8f10-2c3d4e5f6a7b", "order_number": "PO-2026-000123",
			"customer_id": "01936f0e-7b7c-7cc1-9d1c-5b1f3c1e2a10", "status": "paid", "total": "1234.50", "currency": "EUR",
			"placed_at": "2026-11-25T10:05:00Z", "created_at": "2026-11-25T10:04:00.5Z", "updated_at": "2026-11-25T10:06:00.25Z", "version": 3},
		CreateExample: map[string]any{"customer_id": "01936f0e-7b7c-7cc1-9d1c-5b1f3c1e2a10", "total": "1234.50", "currency": "EUR", "status": "placed"},
		WriteErrors:   map[string]string{"503": "The CustomerService could not be reached to verify customer_id; nothing was changed, retry later."},
	})
}
