package events

import (
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

func validOrderEvent() Event {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	return Event{
		ID: "0193a0c0-0000-7000-8000-000000000001", Type: OrderUpdated, Time: now,
		EntityID: "o1", Version: 3,
		Order: &Order{ID: "o1", OrderNumber: "PO-2026-000001", CustomerID: "c1", Status: "paid",
			Total: "12.50", Currency: "EUR", PlacedAt: &now, CreatedAt: now, UpdatedAt: now, Version: 3},
	}
}

func TestRoundTrip(t *testing.T) {
	in := validOrderEvent()
	b, err := Encode(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if out.Order.Total != in.Order.Total || out.Version != in.Version || !out.Time.Equal(in.Time) {
		t.Fatalf("got %+v, want %+v", out, in)
	}
}

func TestDecodeRejects(t *testing.T) {
	cases := map[string]string{
		"empty":          ``,
		"not json":       `{`,
		"unknown field":  `{"id":"e","type":"order.created","time":"2026-01-01T00:00:00Z","entity_id":"o","version":1,"order":{"id":"o","customer_id":"c","version":1},"extra":1}`,
		"unknown type":   `{"id":"e","type":"order.exploded","time":"2026-01-01T00:00:00Z","entity_id":"o","version":1}`,
		"no snapshot":    `{"id":"e","type":"order.created","time":"2026-01-01T00:00:00Z","entity_id":"o","version":1}`,
		"id mismatch":    `{"id":"e","type":"order.created","time":"2026-01-01T00:00:00Z","entity_id":"o","version":1,"order":{"id":"x","customer_id":"c","version":1}}`,
		"version zero":   `{"id":"e","type":"customer.created","time":"2026-01-01T00:00:00Z","entity_id":"c","version":0,"customer":{"id":"c","version":0}}`,
		"trailing":       `{"id":"e","type":"customer.created","time":"2026-01-01T00:00:00Z","entity_id":"c","version":1,"customer":{"id":"c","version":1}} {}`,
		"wrong snapshot": `{"id":"e","type":"customer.created","time":"2026-01-01T00:00:00Z","entity_id":"c","version":1,"order":{"id":"c","customer_id":"c","version":1}}`,
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Decode([]byte(in))
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("got %v, want ErrInvalid", err)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	b, _ := Encode(validOrderEvent())
	f.Add(b)
	f.Add([]byte(`{"id":"e","type":"customer.deleted","time":"2026-01-01T00:00:00Z","entity_id":"c","version":2,"customer":{"id":"c","version":2}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, in []byte) {
		e, err := Decode(in)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		// Whatever decodes must re-encode and decode to the same envelope.
		b, err := Encode(e)
		if err != nil {
			t.Fatalf("decoded event does not re-encode: %v", err)
		}
		if _, err := Decode(b); err != nil {
			t.Fatalf("re-encoded event does not decode: %v", err)
		}
	})
}

// The schema documentation must not drift from the codec: every JSON example in README.md
// that is an event must decode.
func TestReadmeExamplesDecode(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```json\n(.*?)```").FindAllStringSubmatch(string(b), -1)
	if len(blocks) < 6 {
		t.Fatalf("got %d JSON examples in README.md, want at least 6 (one per event type)", len(blocks))
	}
	seen := map[Type]bool{}
	for i, m := range blocks {
		if !strings.Contains(m[1], `"entity_id"`) {
			continue // not an event (e.g. a header or a DLQ example)
		}
		e, err := Decode([]byte(m[1]))
		if err != nil {
			t.Errorf("example %d: %v\n%s", i+1, err, m[1])
			continue
		}
		seen[e.Type] = true
	}
	for _, typ := range []Type{CustomerCreated, CustomerUpdated, CustomerDeleted, OrderCreated, OrderUpdated, OrderDeleted} {
		if !seen[typ] {
			t.Errorf("README.md has no decodable example of %s", typ)
		}
	}
}
