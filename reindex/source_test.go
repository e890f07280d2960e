package reindex

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ordertable/ordertable/indexer"
	"github.com/ordertable/ordertable/internal/entityapi"
	"github.com/ordertable/ordertable/internal/events"
)

var seedFlag = flag.Uint64("seed", 0, "seed for randomized tests (0: random)")

// testRand returns a seeded generator and logs the seed so a failure can be replayed with -seed.
func testRand(t testing.TB) *rand.Rand {
	t.Helper()
	seed := *seedFlag
	if seed == 0 {
		seed = rand.Uint64()
	}
	t.Logf("seed %d (replay with -seed=%d)", seed, seed)
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// newUUIDv7 makes a UUIDv7 string for millisecond ms with random low bits.
func newUUIDv7(rng *rand.Rand, ms int64) string {
	hi := rng.Uint64()
	lo := rng.Uint64()
	return fmt.Sprintf("%08x-%04x-7%03x-%04x-%012x", uint64(ms)>>16, uint64(ms)&0xffff, hi&0xfff,
		0x8000|(hi>>12)&0x3fff, lo&0xffffffffffff)
}

// memSource is an in-memory PurchaseOrderService and CustomerService with the list APIs'
// semantics (keyset pages by id, exclusive bounds). Hooks let tests act while a page is in
// flight.
type memSource struct {
	mu        sync.Mutex
	orders    map[string]events.Order
	customers map[string]events.Customer
	// onPage, when set, runs after a page was read and before it is returned.
	onPage func(after, before string, page []events.Order)
	pages  int
}

var (
	_ OrderLister    = (*memSource)(nil)
	_ CustomerGetter = (*memSource)(nil)
)

func newMemSource() *memSource {
	return &memSource{orders: map[string]events.Order{}, customers: map[string]events.Customer{}}
}

func (s *memSource) List(ctx context.Context, after, before string, limit int) (entityapi.Page[events.Order], error) {
	if err := ctx.Err(); err != nil {
		return entityapi.Page[events.Order]{}, err
	}
	s.mu.Lock()
	ids := make([]string, 0, len(s.orders))
	for id := range s.orders {
		if (after == "" || id > after) && (before == "" || id < before) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	more := len(ids) > limit
	if more {
		ids = ids[:limit]
	}
	page := make([]events.Order, 0, len(ids))
	for _, id := range ids {
		page = append(page, s.orders[id])
	}
	s.pages++
	hook := s.onPage
	s.mu.Unlock()
	if hook != nil {
		hook(after, before, page)
	}
	var next *string
	if more {
		next = &ids[len(ids)-1]
	}
	return entityapi.Page[events.Order]{Items: page, Next: next}, nil
}

func (s *memSource) BatchGet(ctx context.Context, ids []string) ([]events.Customer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]events.Customer, 0, len(ids))
	for _, id := range ids {
		if c, ok := s.customers[id]; ok {
			out = append(out, c)
		}
	}
	return out, nil
}

func (s *memSource) pageCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pages
}

// seed fills the source with nCustomers customers and nOrders orders created over the last
// span, and returns the customer ids.
func (s *memSource) seed(rng *rand.Rand, nCustomers, nOrders int, span time.Duration) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now().UTC()
	start := now.Add(-span)
	countries := []string{"DE", "FR", "US", "JP", "BR", "NL", "SE"}
	custIDs := make([]string, nCustomers)
	for i := range custIDs {
		ms := start.UnixMilli() + rng.Int64N(max(1, span.Milliseconds()))
		id := newUUIDv7(rng, ms)
		custIDs[i] = id
		s.customers[id] = events.Customer{ID: id, Name: fmt.Sprintf("Customer %d", i), Email: fmt.Sprintf("c%d@example.com", i),
			Country: countries[rng.IntN(len(countries))], CreatedAt: start, UpdatedAt: start, Version: 1}
	}
	for i := range nOrders {
		ms := start.UnixMilli() + rng.Int64N(max(1, span.Milliseconds()))
		id := newUUIDv7(rng, ms)
		created := time.UnixMilli(ms).UTC()
		s.orders[id] = events.Order{ID: id, OrderNumber: fmt.Sprintf("PO-%07d", i), CustomerID: custIDs[rng.IntN(len(custIDs))],
			Status: "placed", Total: fmt.Sprintf("%d.%02d", rng.IntN(10000), rng.IntN(100)), Currency: "EUR",
			PlacedAt: &created, CreatedAt: created, UpdatedAt: created, Version: 1}
	}
	return custIDs
}

func TestUUIDHelpers(t *testing.T) {
	rng := testRand(t)
	for range 1000 {
		ms := rng.Int64N(1 << 47)
		id := newUUIDv7(rng, ms)
		got, ok := uuidv7Millis(id)
		if !ok || got != ms {
			t.Fatalf("uuidv7Millis(%s): got %d %v, want %d", id, got, ok, ms)
		}
		if b := uuidBoundary(ms); !(b < id) || !(uuidBoundary(ms+1) > id) {
			t.Fatalf("boundaries %s, %s do not bracket %s", b, uuidBoundary(ms+1), id)
		}
		if n, p := uuidNext(id), uuidPrev(id); !(p < id && id < n) || uuidPrev(n) != id || uuidNext(p) != id {
			t.Fatalf("next/prev of %s: %s %s", id, n, p)
		}
	}
	for _, tc := range []struct{ in, next string }{
		{"00000000-0000-7000-8000-00000000000f", "00000000-0000-7000-8000-000000000010"},
		{"00000000-0000-7000-8fff-ffffffffffff", "00000000-0000-7000-9000-000000000000"},
	} {
		if got := uuidNext(tc.in); got != tc.next {
			t.Errorf("uuidNext(%s): got %s, want %s", tc.in, got, tc.next)
		}
	}
	if _, ok := uuidv7Millis("not-a-uuid"); ok {
		t.Error("uuidv7Millis accepted garbage")
	}
	if _, ok := uuidv7Millis("0190a0b0-c0d0-4000-8000-000000000000"); ok {
		t.Error("uuidv7Millis accepted a v4 UUID")
	}
}

// TestPlanSlicesPartition checks that the slices cover every id exactly once, including ids
// created after planning (open last slice).
func TestPlanSlicesPartition(t *testing.T) {
	rng := testRand(t)
	src := newMemSource()
	src.seed(rng, 20, 3000, 72*time.Hour)
	r, err := New(Config{ES: nil, Orders: src, Customers: src, Slices: 16})
	if err == nil {
		t.Fatal("New without ES client: got nil error")
	}
	r = &Reindexer{cfg: Config{Orders: src, Customers: src, Slices: 16, Now: time.Now}, log: discardLogger()}
	slicesPlan, err := r.planSlices(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(slicesPlan) != 16 || slicesPlan[0].After != "" || slicesPlan[15].Before != "" {
		t.Fatalf("got %d slices (first after %q, last before %q), want 16 open at both ends", len(slicesPlan), slicesPlan[0].After, slicesPlan[15].Before)
	}
	// An order created now falls in the open last slice.
	late := newUUIDv7(rng, time.Now().Add(time.Hour).UnixMilli())
	src.orders[late] = events.Order{ID: late, CustomerID: "x", Version: 1}
	seen := map[string]int{}
	for _, s := range slicesPlan {
		cursor := s.After
		for {
			page, next, err := listOrders(context.Background(), src, cursor, s.Before, 100)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range page {
				seen[o.ID]++
			}
			if next == "" {
				break
			}
			cursor = next
		}
	}
	if len(seen) != len(src.orders) {
		t.Errorf("slices cover %d ids, want %d", len(seen), len(src.orders))
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("id %s seen %d times, want once", id, n)
		}
	}
}

func TestDocDifference(t *testing.T) {
	placed := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	o := events.Order{ID: "o1", OrderNumber: "PO-1", CustomerID: "c1", Status: "paid", Total: "10.50", Currency: "EUR",
		PlacedAt: &placed, CreatedAt: placed, UpdatedAt: placed, Version: 3}
	c := &indexer.CustomerState{Customer: events.Customer{ID: "c1", Name: "Ada", Country: "DE", Version: 2}}
	m, err := ParseMappingFile(readMapping(t, "orders_v2.json"))
	if err != nil {
		t.Fatal(err)
	}
	fields := m.Fields
	good, err := buildDoc(fields, o, c, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	roundTrip := canonical(good.Fields).(map[string]any)
	roundTrip["indexed_at"] = "2000-01-01T00:00:00Z"
	for _, tc := range []struct {
		name   string
		mutate func(d map[string]any)
		want   []string
	}{
		{"equal (indexed_at ignored)", func(map[string]any) {}, nil},
		{"stale customer", func(d map[string]any) { d["customer_country"] = "FR"; d["customer_version"] = 1.0 }, []string{"customer_country", "customer_version"}},
		{"missing column", func(d map[string]any) { delete(d, "customer_country") }, []string{"customer_country"}},
		{"unmapped field", func(d map[string]any) { d["bogus"] = 1.0 }, []string{"bogus"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := canonical(roundTrip).(map[string]any)
			tc.mutate(d)
			got := docDifference(fields, o, c, d)
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("got %q, want it to name %s", got, w)
				}
			}
			if len(tc.want) == 0 && got != "" {
				t.Errorf("got %q, want no difference", got)
			}
		})
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
