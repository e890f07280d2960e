package orders

import (
	"net/http"

	"github.com/ordertable/ordertable/internal/entityapi"
)

// Client calls the PurchaseOrderService HTTP API: Create, Update, Delete, Get, List (keyset
// pages), BatchGet and Each. API errors are *apierror.Error with Status set
// (entityapi.IsNotFound tells a 404); an unreachable service wraps entityapi.ErrUnavailable.
type Client = entityapi.Client[Order, CreateInput, PatchInput]

// NewClient returns a client for the service at baseURL (e.g. http://127.0.0.1:8082); token
// is sent as a bearer token when non-empty; hc may be nil.
func NewClient(baseURL, token string, hc *http.Client) *Client {
	return entityapi.NewClient[Order, CreateInput, PatchInput](baseURL, "/v1/orders", token, hc)
}
