// Package events defines the change events that the source services publish to Kafka and the
// indexer and reindex job consume: their types, their JSON codec and their validation.
//
// Every event carries the full snapshot of its entity after the change (for a delete, the last
// snapshot with the delete's version), so consumers never call back into a service and replaying
// or duplicating an event is harmless: the entity version orders snapshots of one entity.
package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Topic names. Each topic is keyed by entity id and compacted: the latest event per key is a
// complete description of that entity.
const (
	TopicCustomers = "customers"
	TopicOrders    = "orders"
	// TopicDLQ receives events the indexer cannot process, with the reason in a header.
	TopicDLQ = "ordertable.dlq"
)

// Type names an event.
type Type string

// Event types.
const (
	CustomerCreated Type = "customer.created"
	CustomerUpdated Type = "customer.updated"
	CustomerDeleted Type = "customer.deleted"
	OrderCreated    Type = "order.created"
	OrderUpdated    Type = "order.updated"
	OrderDeleted    Type = "order.deleted"
)

// Deleted reports whether the type is a deletion.
func (t Type) Deleted() bool { return t == CustomerDeleted || t == OrderDeleted }

// Topic returns the topic events of this type belong to, or "" for an unknown type.
func (t Type) Topic() string {
	switch t {
	case CustomerCreated, CustomerUpdated, CustomerDeleted:
		return TopicCustomers
	case OrderCreated, OrderUpdated, OrderDeleted:
		return TopicOrders
	}
	return ""
}

// Customer is the CustomerService entity as it travels in events and in its HTTP API.
type Customer struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Email     string    `json:"email"`
	Country   string    `json:"country"` // ISO 3166-1 alpha-2
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Version   int64     `json:"version"`
}

// Order is the PurchaseOrderService entity as it travels in events and in its HTTP API.
type Order struct {
	ID          string     `json:"id"`
	OrderNumber string     `json:"order_number"`
	CustomerID  string     `json:"customer_id"`
	Status      string     `json:"status"`   // draft|placed|paid|shipped|cancelled
	Total       string     `json:"total"`    // exact decimal, e.g. "1234.50"
	Currency    string     `json:"currency"` // ISO 4217
	PlacedAt    *time.Time `json:"placed_at"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	Version     int64      `json:"version"`
}

// Event is one change of one entity. Exactly one of Customer and Order is set, matching Type.
type Event struct {
	ID       string    `json:"id"`        // UUIDv7 of the event, unique per change
	Type     Type      `json:"type"`      // e.g. "order.updated"
	Time     time.Time `json:"time"`      // commit time of the change at the source
	EntityID string    `json:"entity_id"` // id of the customer or order; also the Kafka key
	Version  int64     `json:"version"`   // entity version after the change (1 on create)
	Customer *Customer `json:"customer,omitempty"`
	Order    *Order    `json:"order,omitempty"`
}

// ErrInvalid marks an event that decodes but breaks the schema.
var ErrInvalid = errors.New("invalid event")

// MaxSize bounds an encoded event; larger payloads are rejected before decoding.
const MaxSize = 1 << 20

// Encode returns the JSON form of a valid event.
func Encode(e Event) ([]byte, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	return json.Marshal(e)
}

// Decode parses and validates one event. Unknown fields are rejected so that a producer
// writing a newer schema is noticed instead of silently misread.
func Decode(b []byte) (Event, error) {
	var e Event
	if len(b) > MaxSize {
		return e, fmt.Errorf("%w: %d bytes exceeds %d", ErrInvalid, len(b), MaxSize)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return Event{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if dec.More() {
		return Event{}, fmt.Errorf("%w: trailing data after event", ErrInvalid)
	}
	if err := e.Validate(); err != nil {
		return Event{}, err
	}
	return e, nil
}

// Validate checks the envelope and that the snapshot matches it.
func (e Event) Validate() error {
	var errs []error
	if e.ID == "" {
		errs = append(errs, errors.New("id is empty"))
	}
	if e.EntityID == "" {
		errs = append(errs, errors.New("entity_id is empty"))
	}
	if e.Version < 1 {
		errs = append(errs, fmt.Errorf("version %d < 1", e.Version))
	}
	if e.Time.IsZero() {
		errs = append(errs, errors.New("time is missing"))
	}
	switch e.Type.Topic() {
	case TopicCustomers:
		switch {
		case e.Customer == nil:
			errs = append(errs, errors.New("customer snapshot is missing"))
		case e.Order != nil:
			errs = append(errs, errors.New("customer event carries an order"))
		case e.Customer.ID != e.EntityID:
			errs = append(errs, fmt.Errorf("customer.id %q != entity_id %q", e.Customer.ID, e.EntityID))
		case e.Customer.Version != e.Version:
			errs = append(errs, fmt.Errorf("customer.version %d != version %d", e.Customer.Version, e.Version))
		}
	case TopicOrders:
		switch {
		case e.Order == nil:
			errs = append(errs, errors.New("order snapshot is missing"))
		case e.Customer != nil:
			errs = append(errs, errors.New("order event carries a customer"))
		case e.Order.ID != e.EntityID:
			errs = append(errs, fmt.Errorf("order.id %q != entity_id %q", e.Order.ID, e.EntityID))
		case e.Order.Version != e.Version:
			errs = append(errs, fmt.Errorf("order.version %d != version %d", e.Order.Version, e.Version))
		case e.Order.CustomerID == "":
			errs = append(errs, errors.New("order.customer_id is empty"))
		}
	default:
		errs = append(errs, fmt.Errorf("unknown type %q", e.Type))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalid, errors.Join(errs...))
	}
	return nil
}
