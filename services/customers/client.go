package customers

import (
	"net/http"

	"github.com/ordertable/ordertable/internal/entityapi"
)

// Client calls the CustomerService HTTP API: Create, Update, Delete, Get, List (keyset pages),
// BatchGet and Each. API errors are *apierror.Error with Status set (entityapi.IsNotFound
// tells a 404); an unreachable service wraps entityapi.ErrUnavailable.
type Client = entityapi.Client[Customer, CreateInput, PatchInput]

// NewClient returns a client for the service at baseURL (e.g. http://127.0.0.1:8081); token
// is sent as a bearer token when non-empty; hc may be nil.
func NewClient(baseURL, token string, hc *http.Client) *Client {
	return entityapi.NewClient[Customer, CreateInput, PatchInput](baseURL, "/v1/customers", token, hc)
}
