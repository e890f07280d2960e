package indexer

import (
	"encoding/json"
	"errors"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/ordertable/ordertable/internal/events"
	"github.com/ordertable/ordertable/mappings"
)

func TestDocVersion(t *testing.T) {
	tests := []struct {
		name      string
		ov, cv    int64
		want      int64
		wantRange bool
	}{
		{"first versions", 1, 1, 1<<32 | 1, false},
		{"customer unknown", 3, 0, 3 << 32, false},
		{"max order", MaxOrderVersion, 0, MaxOrderVersion << 32, false},
		{"max customer", 1, MaxCustomerVersion, 1<<32 | MaxCustomerVersion, false},
		{"order 0", 0, 1, 0, true},
		{"order too big", MaxOrderVersion + 1, 1, 0, true},
		{"negative customer", 1, -1, 0, true},
		{"customer reserved for deletes", 1, MaxCustomerVersion + 1, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DocVersion(tt.ov, tt.cv)
			if tt.wantRange {
				if !errors.Is(err, ErrVersionRange) {
					t.Fatalf("got %d, %v, want ErrVersionRange", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %d, %v, want %d", got, err, tt.want)
			}
			if got <= 0 {
				t.Fatalf("got %d, want a positive external version", got)
			}
			if o, c := SplitVersion(got); o != tt.ov || c != tt.cv {
				t.Fatalf("split: got %d,%d want %d,%d", o, c, tt.ov, tt.cv)
			}
		})
	}
}

// TestDocVersionOrdering checks the properties the protocol relies on: a newer order version
// wins whatever the customer versions (an order moved to a customer with a lower version), a
// newer customer wins for the same order version, and a delete beats every document of its
// order version and older.
func TestDocVersionOrdering(t *testing.T) {
	must := func(v int64, err error) int64 {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for ov := int64(1); ov < 50; ov += 7 {
		for _, cv := range []int64{0, 1, 2, 1000, MaxCustomerVersion} {
			if a, b := must(DocVersion(ov, cv)), must(DocVersion(ov+1, 0)); a >= b {
				t.Errorf("(%d,%d)=%d >= (%d,0)=%d", ov, cv, a, ov+1, b)
			}
			if cv < MaxCustomerVersion {
				if a, b := must(DocVersion(ov, cv)), must(DocVersion(ov, cv+1)); a >= b {
					t.Errorf("(%d,%d) >= (%d,%d)", ov, cv, ov, cv+1)
				}
			}
			if a, d := must(DocVersion(ov, cv)), must(DeleteVersion(ov)); a >= d {
				t.Errorf("doc (%d,%d)=%d >= delete(%d)=%d", ov, cv, a, ov, d)
			}
			if d, b := must(DeleteVersion(ov)), must(DocVersion(ov+1, 0)); d >= b {
				t.Errorf("delete(%d) >= doc(%d,0)", ov, ov+1)
			}
		}
	}
	if _, err := DeleteVersion(0); !errors.Is(err, ErrVersionRange) {
		t.Errorf("DeleteVersion(0): got %v, want ErrVersionRange", err)
	}
}

func fixture() (events.Order, *CustomerState) {
	placed := time.Date(2026, 3, 4, 5, 6, 7, 123456000, time.FixedZone("x", 3600))
	o := events.Order{
		ID: "o1", OrderNumber: "PO-0001", CustomerID: "c1", Status: "placed", Total: "1234.50",
		Currency: "EUR", PlacedAt: &placed, CreatedAt: placed.Add(-time.Hour), UpdatedAt: placed, Version: 4,
	}
	c := &CustomerState{Customer: events.Customer{ID: "c1", Name: "Ada Lovelace", Email: "ada@example.com", Country: "GB", Version: 7}}
	return o, c
}

func TestBuildDocumentPerMapping(t *testing.T) {
	now := time.Date(2026, 11, 25, 1, 0, 0, 0, time.UTC)
	all, err := mappings.All()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range all {
		t.Run(m.Index, func(t *testing.T) {
			o, c := fixture()
			doc, err := BuildDocument(o, c, m.Fields, now)
			if err != nil {
				t.Fatal(err)
			}
			got := make([]string, 0, len(doc.Fields))
			for k := range doc.Fields {
				got = append(got, k)
			}
			sort.Strings(got)
			if want := m.Fields.Names(); !slices.Equal(got, want) {
				t.Fatalf("fields: got %v, want exactly the mapping's %v", got, want)
			}
			if want, _ := DocVersion(4, 7); doc.Version != want || doc.ID != "o1" {
				t.Fatalf("got id %s version %d, want o1 %d", doc.ID, doc.Version, want)
			}
		})
	}
}

func TestBuildDocumentValues(t *testing.T) {
	all := mappings.FieldSet{}
	for _, n := range CatalogFields() {
		all[n] = mappings.Field{Name: n}
	}
	now := time.Date(2026, 11, 25, 1, 0, 0, 0, time.UTC)
	o, c := fixture()
	tests := []struct {
		name string
		o    events.Order
		c    *CustomerState
		want string
	}{
		{"joined", o, c, `{"created_at":"2026-03-04T03:06:07.123456Z","currency":"EUR","customer_country":"GB","customer_deleted":false,"customer_email":"ada@example.com","customer_id":"c1","customer_name":"Ada Lovelace","customer_version":7,"indexed_at":"2026-11-25T01:00:00Z","order_id":"o1","order_number":"PO-0001","order_version":4,"placed_at":"2026-03-04T04:06:07.123456Z","status":"placed","total":1234.50,"updated_at":"2026-03-04T04:06:07.123456Z"}`},
		{"customer unknown", o, nil, `{"created_at":"2026-03-04T03:06:07.123456Z","currency":"EUR","customer_deleted":false,"customer_id":"c1","customer_version":0,"indexed_at":"2026-11-25T01:00:00Z","order_id":"o1","order_number":"PO-0001","order_version":4,"placed_at":"2026-03-04T04:06:07.123456Z","status":"placed","total":1234.50,"updated_at":"2026-03-04T04:06:07.123456Z"}`},
		{"customer deleted keeps its last snapshot", o, &CustomerState{Customer: c.Customer, Deleted: true}, `{"created_at":"2026-03-04T03:06:07.123456Z","currency":"EUR","customer_country":"GB","customer_deleted":true,"customer_email":"ada@example.com","customer_id":"c1","customer_name":"Ada Lovelace","customer_version":7,"indexed_at":"2026-11-25T01:00:00Z","order_id":"o1","order_number":"PO-0001","order_version":4,"placed_at":"2026-03-04T04:06:07.123456Z","status":"placed","total":1234.50,"updated_at":"2026-03-04T04:06:07.123456Z"}`},
		{"draft without placed_at", func() events.Order { d := o; d.PlacedAt = nil; d.Status = "draft"; d.Total = "0"; return d }(), c, `{"created_at":"2026-03-04T03:06:07.123456Z","currency":"EUR","customer_country":"GB","customer_deleted":false,"customer_email":"ada@example.com","customer_id":"c1","customer_name":"Ada Lovelace","customer_version":7,"indexed_at":"2026-11-25T01:00:00Z","order_id":"o1","order_number":"PO-0001","order_version":4,"status":"draft","total":0,"updated_at":"2026-03-04T04:06:07.123456Z"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := BuildDocument(tt.o, tt.c, all, now)
			if err != nil {
				t.Fatal(err)
			}
			b, err := json.Marshal(doc.Fields)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.want {
				t.Fatalf("got  %s\nwant %s", b, tt.want)
			}
		})
	}
}

func TestBuildDocumentRejects(t *testing.T) {
	fields := mappings.FieldSet{"order_id": {}}
	o, c := fixture()
	bad := o
	bad.Total = "12,50"
	if _, err := BuildDocument(bad, c, fields, time.Time{}); err == nil {
		t.Error("total 12,50: got nil error")
	}
	other := *c
	other.Customer.ID = "c2"
	if _, err := BuildDocument(o, &other, fields, time.Time{}); err == nil {
		t.Error("wrong customer: got nil error")
	}
	huge := o
	huge.Version = MaxOrderVersion + 1
	if _, err := BuildDocument(huge, c, fields, time.Time{}); !errors.Is(err, ErrVersionRange) {
		t.Errorf("huge version: got %v, want ErrVersionRange", err)
	}
	if _, err := BuildDocument(o, c, mappings.FieldSet{"shoe_size": {}}, time.Time{}); err == nil {
		t.Error("unknown field: got nil error")
	}
}

func TestCheckFields(t *testing.T) {
	all, err := mappings.All()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range all {
		if err := CheckFields(m.Fields); err != nil {
			t.Errorf("%s: %v", m.Index, err)
		}
	}
	if err := CheckFields(mappings.FieldSet{"order_id": {}, "shoe_size": {}}); err == nil {
		t.Error("got nil error for shoe_size")
	}
	if !sort.StringsAreSorted(catalogFields) {
		t.Error("catalogFields must stay sorted (binary search)")
	}
}

func FuzzBuildDocumentTotal(f *testing.F) {
	for _, s := range []string{"0", "1234.50", "-3.1", "1e5", "", "NaN", "12,5"} {
		f.Add(s)
	}
	fields := mappings.FieldSet{"total": {}}
	f.Fuzz(func(t *testing.T, total string) {
		o, c := fixture()
		o.Total = total
		doc, err := BuildDocument(o, c, fields, time.Time{})
		if err != nil {
			return
		}
		b, err := json.Marshal(doc.Fields)
		if err != nil {
			t.Fatalf("accepted total %q produces invalid JSON: %v", total, err)
		}
		if !json.Valid(b) {
			t.Fatalf("invalid JSON %s", b)
		}
	})
}
