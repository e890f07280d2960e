// Package orders is the PurchaseOrderService: purchase orders stored in their own
// PostgreSQL database, served under /v1/orders, and published as events to the "orders" Kafka
// topic through the transactional outbox. Orders refer to customers of the CustomerService,
// which is asked whether a customer exists when an order is created or moved.
//
// order.go holds the business rules, store.go the storage, http.go the routes, service.go the
// wiring and client.go the Go client.
package orders

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ordertable/ordertable/internal/entity"
	"github.com/ordertable/ordertable/internal/entityapi"
	"github.com/ordertable/ordertable/internal/events"
)

// Order is the entity, exactly as it travels in events and in the HTTP API.
type Order = events.Order

// Statuses of an order.
const (
	StatusDraft     = "draft"
	StatusPlaced    = "placed"
	StatusPaid      = "paid"
	StatusShipped   = "shipped"
	StatusCancelled = "cancelled"
)

// Statuses lists every valid status.
func Statuses() []string {
	return []string{StatusDraft, StatusPlaced, StatusPaid, StatusShipped, StatusCancelled}
}

func validStatus(s string) bool {
	switch s {
	case StatusDraft, StatusPlaced, StatusPaid, StatusShipped, StatusCancelled:
		return true
	}
	return false
}

// MaxTotalDigits bounds the integer part of a total.
const MaxTotalDigits = 15

// totalPattern is a non-negative decimal without exponent, sign or leading zeros.
var totalPattern = regexp.MustCompile(`^(0|[1-9][0-9]{0,14})(\.[0-9]+)?$`)

// CreateInput is the body of POST /v1/orders. Status defaults to draft; placed_at defaults
// to the creation time when the order is created beyond draft.
type CreateInput struct {
	CustomerID string     `json:"customer_id"`
	Status     string     `json:"status,omitempty"`
	Total      string     `json:"total"`
	Currency   string     `json:"currency"`
	PlacedAt   *time.Time `json:"placed_at,omitempty"`
}

// Patch is the body of PATCH /v1/orders/{id}: only present fields change; placed_at may be
// set to null.
type Patch struct {
	CustomerID entityapi.Optional[string]    `json:"customer_id"`
	Status     entityapi.Optional[string]    `json:"status"`
	Total      entityapi.Optional[string]    `json:"total"`
	Currency   entityapi.Optional[string]    `json:"currency"`
	PlacedAt   entityapi.Optional[time.Time] `json:"placed_at"`
}

// PatchInput is what clients send to update: nil fields stay unchanged (ClearPlacedAt sends
// placed_at: null).
type PatchInput struct {
	CustomerID    *string
	Status        *string
	Total         *string
	Currency      *string
	PlacedAt      *time.Time
	ClearPlacedAt bool
}

// MarshalJSON writes only the fields to change.
func (p PatchInput) MarshalJSON() ([]byte, error) {
	m := map[string]any{}
	if p.CustomerID != nil {
		m["customer_id"] = *p.CustomerID
	}
	if p.Status != nil {
		m["status"] = *p.Status
	}
	if p.Total != nil {
		m["total"] = *p.Total
	}
	if p.Currency != nil {
		m["currency"] = *p.Currency
	}
	if p.PlacedAt != nil {
		m["placed_at"] = *p.PlacedAt
	}
	if p.ClearPlacedAt {
		m["placed_at"] = nil
	}
	return json.Marshal(m)
}

// ErrUnknownCustomer means the order names a customer the CustomerService does not know.
var ErrUnknownCustomer = errors.New("unknown customer")

// newOrder validates in; the id, number and timestamps are set by the store.
func newOrder(in CreateInput, now time.Time) (Order, error) {
	o := Order{CustomerID: in.CustomerID, Status: in.Status, Total: in.Total, Currency: in.Currency, PlacedAt: in.PlacedAt}
	if o.Status == "" {
		o.Status = StatusDraft
	}
	if err := normalise(&o, now, false); err != nil {
		return Order{}, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Order{}, err
	}
	o.ID = id.String()
	o.CreatedAt, o.UpdatedAt, o.Version = now, now, 1
	return o, nil
}

// applyPatch returns cur changed by p and whether anything changed; a change bumps the
// version and updated_at.
func applyPatch(cur Order, p Patch, now time.Time) (Order, bool, error) {
	var errs entity.Errors
	next := cur
	for _, f := range []struct {
		name string
		o    entityapi.Optional[string]
		dst  *string
	}{
		{"customer_id", p.CustomerID, &next.CustomerID},
		{"status", p.Status, &next.Status},
		{"total", p.Total, &next.Total},
		{"currency", p.Currency, &next.Currency},
	} {
		switch {
		case !f.o.Set:
		case f.o.Null:
			errs.Add(f.name, "cannot be null")
		default:
			*f.dst = f.o.Value
		}
	}
	if p.PlacedAt.Set {
		if p.PlacedAt.Null {
			next.PlacedAt = nil
		} else {
			t := p.PlacedAt.Value
			next.PlacedAt = &t
		}
	}
	if err := errs.Err(); err != nil {
		return cur, false, err
	}
	if err := normalise(&next, now, p.PlacedAt.Set && p.PlacedAt.Null); err != nil {
		return cur, false, err
	}
	if sameOrder(cur, next) {
		return cur, false, nil
	}
	next.Version = cur.Version + 1
	next.UpdatedAt = now
	return next, true, nil
}

func sameOrder(a, b Order) bool {
	samePlaced := (a.PlacedAt == nil) == (b.PlacedAt == nil) && (a.PlacedAt == nil || a.PlacedAt.Equal(*b.PlacedAt))
	return a.CustomerID == b.CustomerID && a.Status == b.Status && a.Total == b.Total && a.Currency == b.Currency && samePlaced
}

// normalise canonicalises fields and reports every invalid one. An order that has been
// placed (placed, paid, shipped) must have placed_at: when the client left it out it is
// stamped with now; when the client cleared it explicitly (clearedPlacedAt) that is an error.
func normalise(o *Order, now time.Time, clearedPlacedAt bool) error {
	var errs entity.Errors
	o.CustomerID = strings.ToLower(strings.TrimSpace(o.CustomerID))
	o.Status = strings.ToLower(strings.TrimSpace(o.Status))
	o.Currency = strings.ToUpper(strings.TrimSpace(o.Currency))
	o.Total = strings.TrimSpace(o.Total)
	if o.CustomerID == "" {
		errs.Add("customer_id", "is required")
	} else if _, err := uuid.Parse(o.CustomerID); err != nil || len(o.CustomerID) != 36 {
		errs.Add("customer_id", "must be a customer id (UUID)")
	}
	if !validStatus(o.Status) {
		errs.Add("status", "must be one of draft, placed, paid, shipped, cancelled")
	}
	minor, currencyOK := MinorUnits(o.Currency)
	switch {
	case o.Currency == "":
		errs.Add("currency", "is required")
	case !currencyOK:
		errs.Add("currency", "must be an ISO 4217 currency code, e.g. EUR")
	}
	switch {
	case o.Total == "":
		errs.Add("total", "is required")
	case !totalPattern.MatchString(o.Total):
		errs.Add("total", fmt.Sprintf("must be a non-negative decimal string with at most %d integer digits, e.g. \"1234.50\"", MaxTotalDigits))
	case currencyOK:
		if _, frac, ok := strings.Cut(o.Total, "."); ok && len(frac) > minor {
			errs.Add("total", fmt.Sprintf("has %d decimal places; %s allows at most %d", len(frac), o.Currency, minor))
		}
	}
	if o.PlacedAt != nil {
		t := o.PlacedAt.UTC().Truncate(time.Microsecond)
		o.PlacedAt = &t
		if t.Year() < 1970 || t.After(now.Add(24*time.Hour)) {
			errs.Add("placed_at", "must be between 1970 and one day from now")
		}
	} else if o.Status == StatusPlaced || o.Status == StatusPaid || o.Status == StatusShipped {
		if clearedPlacedAt {
			errs.Add("placed_at", "cannot be null while the status is "+o.Status)
		} else {
			t := now
			o.PlacedAt = &t
		}
	}
	return errs.Err()
}
