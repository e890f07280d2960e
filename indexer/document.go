package indexer

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/ordertable/ordertable/internal/events"
	"github.com/ordertable/ordertable/mappings"
)

// CustomerState is what the indexer knows of an order's customer: the latest snapshot and
// whether the customer was deleted (then Customer is its last snapshot, with the delete's
// version).
type CustomerState struct {
	Customer events.Customer `json:"customer"`
	Deleted  bool            `json:"deleted"`
}

// Versions are packed into one external document version: the order version in the high 32
// bits, the customer version in the low 32. A document built from a newer order snapshot always
// wins, whatever customer it carries (which is what an order moving to another customer needs:
// the new customer's version may be lower than the old one's); for one order version, the newer
// customer snapshot wins.
const (
	// MaxOrderVersion keeps order<<32 | customer a positive int64.
	MaxOrderVersion = 1<<31 - 1
	// MaxCustomerVersion is the largest customer version a document can carry; one more is
	// reserved for deletes (see DeleteVersion).
	MaxCustomerVersion = 1<<32 - 2
)

// ErrVersionRange means a version doesn't fit the composite document version.
var ErrVersionRange = errors.New("version out of range")

// DocVersion is the external version of a document built from order version orderVersion and
// customer version customerVersion (0 when the customer is not known yet).
func DocVersion(orderVersion, customerVersion int64) (int64, error) {
	if orderVersion < 1 || orderVersion > MaxOrderVersion {
		return 0, fmt.Errorf("%w: order version %d not in [1, %d]", ErrVersionRange, orderVersion, int64(MaxOrderVersion))
	}
	if customerVersion < 0 || customerVersion > MaxCustomerVersion {
		return 0, fmt.Errorf("%w: customer version %d not in [0, %d]", ErrVersionRange, customerVersion, int64(MaxCustomerVersion))
	}
	return orderVersion<<32 | customerVersion, nil
}

// DeleteVersion is the external version of the delete of an order deleted at orderVersion: it
// is above every document version of that order version (whatever its customer), so no write
// built from the deleted order or an older snapshot can resurrect the document while
// Elasticsearch remembers the tombstone; the order-state tombstone covers the time after that.
func DeleteVersion(orderVersion int64) (int64, error) {
	if orderVersion < 1 || orderVersion > MaxOrderVersion {
		return 0, fmt.Errorf("%w: order version %d not in [1, %d]", ErrVersionRange, orderVersion, int64(MaxOrderVersion))
	}
	return orderVersion<<32 | (MaxCustomerVersion + 1), nil
}

// SplitVersion unpacks a document version into order and customer versions.
func SplitVersion(v int64) (orderVersion, customerVersion int64) {
	return v >> 32, v & (1<<32 - 1)
}

// source is what one document is computed from.
type source struct {
	o         *events.Order
	c         *CustomerState // nil: the customer is not known yet
	indexedAt time.Time
}

func timeValue(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// decimal is an exact decimal as the services write it: optional sign, digits, optional
// fraction.
var decimal = regexp.MustCompile(`^-?[0-9]{1,30}(\.[0-9]{1,18})?$`)

// catalogFields is every column the field catalog computes (see value), sorted.
var catalogFields = []string{
	"created_at", "currency", "customer_country", "customer_deleted", "customer_email",
	"customer_id", "customer_name", "customer_version", "indexed_at", "order_id",
	"order_number", "order_version", "placed_at", "status", "total", "updated_at",
}

// value is the field catalog: it computes column name of the document built from s.
// ok=false leaves the field out of the document (absent and null are the same to Elasticsearch:
// no value); known=false means the catalog has no such column.
func value(name string, s *source) (v any, ok, known bool) {
	o, c := s.o, s.c
	str := func(x string) (any, bool, bool) { return x, x != "", true }
	cust := func(get func(*events.Customer) string) (any, bool, bool) {
		if c == nil {
			return nil, false, true
		}
		return str(get(&c.Customer))
	}
	switch name {
	case "order_id":
		return o.ID, true, true
	case "order_number":
		return str(o.OrderNumber)
	case "status":
		return str(o.Status)
	case "total":
		// The exact decimal goes into the JSON as a number literal, never through float64:
		// Elasticsearch parses it once (scaled_float rounds to its scaling factor).
		return json.Number(o.Total), o.Total != "", true
	case "currency":
		return str(o.Currency)
	case "placed_at":
		if o.PlacedAt == nil {
			return nil, false, true
		}
		return timeValue(*o.PlacedAt), true, true
	case "created_at":
		return timeValue(o.CreatedAt), !o.CreatedAt.IsZero(), true
	case "updated_at":
		return timeValue(o.UpdatedAt), !o.UpdatedAt.IsZero(), true
	case "customer_id":
		return o.CustomerID, true, true
	case "customer_name":
		return cust(func(c *events.Customer) string { return c.Name })
	case "customer_email":
		return cust(func(c *events.Customer) string { return c.Email })
	case "customer_country":
		return cust(func(c *events.Customer) string { return c.Country })
	case "customer_deleted":
		return c != nil && c.Deleted, true, true
	case "order_version":
		return o.Version, true, true
	case "customer_version":
		return customerVersion(c), true, true
	case "indexed_at":
		return timeValue(s.indexedAt), !s.indexedAt.IsZero(), true
	}
	return nil, false, false
}

func customerVersion(c *CustomerState) int64 {
	if c == nil {
		return 0
	}
	return c.Customer.Version
}

// CatalogFields returns the names of every column the field catalog can compute, sorted.
func CatalogFields() []string { return slices.Clone(catalogFields) }

// CheckFields reports the fields of a target index that the catalog can't compute: such a
// field would stay empty forever, so the indexer refuses to write to that index and the reindex
// job refuses to build it.
func CheckFields(fields mappings.FieldSet) error {
	var errs []error
	for _, n := range fields.Names() {
		if _, found := slices.BinarySearch(catalogFields, n); !found {
			errs = append(errs, fmt.Errorf("field %s is not in the indexer's field catalog", n))
		}
	}
	return errors.Join(errs...)
}

// Document is one order document with its external version.
type Document struct {
	ID      string
	Version int64
	Fields  map[string]any
}

// BuildDocument computes the document of order o joined with its customer state c (nil when the
// customer is not known yet), with exactly the fields that fields declares. indexedAt fills
// indexed_at (zero leaves it out). The reindex backfill uses the same function, so its
// documents and versions equal the indexer's.
func BuildDocument(o events.Order, c *CustomerState, fields mappings.FieldSet, indexedAt time.Time) (Document, error) {
	if c != nil && c.Customer.ID != o.CustomerID {
		return Document{}, fmt.Errorf("order %s: customer state %s is not its customer %s", o.ID, c.Customer.ID, o.CustomerID)
	}
	if o.Total != "" && !decimal.MatchString(o.Total) {
		return Document{}, fmt.Errorf("order %s: total %q is not a decimal", o.ID, o.Total)
	}
	v, err := DocVersion(o.Version, customerVersion(c))
	if err != nil {
		return Document{}, fmt.Errorf("order %s: %w", o.ID, err)
	}
	src := source{o: &o, c: c, indexedAt: indexedAt}
	doc := make(map[string]any, len(fields))
	var errs []error
	for name := range fields {
		val, ok, known := value(name, &src)
		if !known {
			errs = append(errs, fmt.Errorf("field %s is not in the indexer's field catalog", name))
			continue
		}
		if ok {
			doc[name] = val
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Document{}, fmt.Errorf("order %s: %w", o.ID, err)
	}
	return Document{ID: o.ID, Version: v, Fields: doc}, nil
}
