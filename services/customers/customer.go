// Package customers is the CustomerService: customers (name, email, country) stored in their
// own PostgreSQL database, served under /v1/customers, and published as events to the
// "customers" Kafka topic through the transactional outbox.
//
// customer.go holds the business rules, store.go the storage, http.go the routes,
// service.go the wiring and client.go the Go client.
package customers

import (
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/ordertable/ordertable/internal/entity"
	"github.com/ordertable/ordertable/internal/entityapi"
	"github.com/ordertable/ordertable/internal/events"
)

// Customer is the entity, exactly as it travels in events and in the HTTP API.
type Customer = events.Customer

// Limits on field sizes.
const (
	MaxNameLen  = 200
	MaxEmailLen = 254 // RFC 5321 path limit
)

// CreateInput is the body of POST /v1/customers.
type CreateInput struct {
	Name    string `json:"name"`
	Email   string `json:"email"`
	Country string `json:"country"`
}

// Patch is the body of PATCH /v1/customers/{id}: only present fields change.
type Patch struct {
	Name    entityapi.Optional[string] `json:"name"`
	Email   entityapi.Optional[string] `json:"email"`
	Country entityapi.Optional[string] `json:"country"`
}

// PatchInput is what clients send to update: nil fields stay unchanged.
type PatchInput struct {
	Name    *string `json:"name,omitempty"`
	Email   *string `json:"email,omitempty"`
	Country *string `json:"country,omitempty"`
}

// newCustomer validates in and returns the version-1 customer created at now.
func newCustomer(in CreateInput, now time.Time) (Customer, error) {
	c := Customer{Name: in.Name, Email: in.Email, Country: in.Country}
	if err := normalise(&c); err != nil {
		return Customer{}, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Customer{}, err
	}
	c.ID = id.String()
	c.CreatedAt, c.UpdatedAt, c.Version = now, now, 1
	return c, nil
}

// applyPatch returns cur changed by p, and whether anything changed. A change bumps the
// version and updated_at; an unchanged result keeps cur as it is (no new version, no event).
func applyPatch(cur Customer, p Patch, now time.Time) (Customer, bool, error) {
	var errs entity.Errors
	next := cur
	set := func(field string, o entityapi.Optional[string], dst *string) {
		if !o.Set {
			return
		}
		if o.Null {
			errs.Add(field, "cannot be null")
			return
		}
		*dst = o.Value
	}
	set("name", p.Name, &next.Name)
	set("email", p.Email, &next.Email)
	set("country", p.Country, &next.Country)
	if err := errs.Err(); err != nil {
		return cur, false, err
	}
	if err := normalise(&next); err != nil {
		return cur, false, err
	}
	if next.Name == cur.Name && next.Email == cur.Email && next.Country == cur.Country {
		return cur, false, nil
	}
	next.Version = cur.Version + 1
	next.UpdatedAt = now
	return next, true, nil
}

// normalise trims fields, upper-cases the country and reports every invalid field.
func normalise(c *Customer) error {
	var errs entity.Errors
	c.Name = strings.TrimSpace(c.Name)
	c.Email = strings.TrimSpace(c.Email)
	c.Country = strings.ToUpper(strings.TrimSpace(c.Country))
	switch {
	case c.Name == "":
		errs.Add("name", "is required")
	case utf8.RuneCountInString(c.Name) > MaxNameLen:
		errs.Add("name", "must be at most 200 characters")
	case strings.IndexFunc(c.Name, unicode.IsControl) >= 0:
		errs.Add("name", "must not contain control characters")
	}
	if msg := checkEmail(c.Email); msg != "" {
		errs.Add("email", msg)
	}
	switch {
	case c.Country == "":
		errs.Add("country", "is required")
	case !ValidCountry(c.Country):
		errs.Add("country", "must be an ISO 3166-1 alpha-2 country code, e.g. DE")
	}
	return errs.Err()
}

// checkEmail accepts a bare addr-spec (no display name) whose domain has a dot.
func checkEmail(s string) string {
	if s == "" {
		return "is required"
	}
	if len(s) > MaxEmailLen {
		return "must be at most 254 characters"
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return "must be an email address like name@example.com"
	}
	at := strings.LastIndexByte(s, '@')
	domain := s[at+1:]
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") {
		return "must have a domain like example.com"
	}
	return ""
}
