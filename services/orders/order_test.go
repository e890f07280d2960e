package orders

import (
	"strings"
	"testing"
	"time"
)

func TestMinorUnits(t *testing.T) {
	for code, want := range map[string]int{"EUR": 2, "USD": 2, "JPY": 0, "KRW": 0, "KWD": 3, "BHD": 3, "CLF": 4, "XCG": 2} {
		if got, ok := MinorUnits(code); !ok || got != want {
			t.Errorf("MinorUnits(%q) = %d, %v; want %d", code, got, ok, want)
		}
	}
	for _, code := range []string{"XAU", "XTS", "XXX", "eur", "EURO", "", "BTC"} {
		if _, ok := MinorUnits(code); ok {
			t.Errorf("MinorUnits(%q) accepted", code)
		}
	}
}

func TestTotals(t *testing.T) {
	now := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	cid := "01932f4e-0000-7000-8000-000000000000"
	for _, tc := range []struct {
		total, currency string
		ok              bool
	}{
		{"0", "EUR", true}, {"0.00", "EUR", true}, {"1234.5", "EUR", true}, {"999999999999999.99", "EUR", true},
		{"100", "JPY", true}, {"1.234", "KWD", true},
		{"100.0", "JPY", false}, {"1.234", "EUR", false}, {"-1", "EUR", false}, {"+1", "EUR", false},
		{"1e3", "EUR", false}, {"01", "EUR", false}, {".5", "EUR", false}, {"5.", "EUR", false},
		{"1,5", "EUR", false}, {"1 000", "EUR", false}, {"1000000000000000", "EUR", false}, {"NaN", "EUR", false},
	} {
		o, err := newOrder(CreateInput{CustomerID: cid, Total: tc.total, Currency: tc.currency}, now)
		if (err == nil) != tc.ok {
			t.Errorf("total %q %s: err %v, want ok=%v", tc.total, tc.currency, err, tc.ok)
		}
		if err == nil && o.Total != tc.total {
			t.Errorf("total %q stored as %q; totals must round-trip exactly", tc.total, o.Total)
		}
	}
}

func TestPlacedAtRules(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	cid := "01932f4e-0000-7000-8000-000000000000"
	o, err := newOrder(CreateInput{CustomerID: cid, Total: "1", Currency: "EUR", Status: "PAID"}, now)
	if err != nil || o.Status != "paid" || o.PlacedAt == nil || !o.PlacedAt.Equal(now) {
		t.Fatalf("paid without placed_at: got %+v, %v; want placed_at = now", o, err)
	}
	var p Patch
	p.Status.Set, p.Status.Value = true, "shipped"
	next, changed, err := applyPatch(o, p, now.Add(time.Hour))
	if err != nil || !changed || !next.PlacedAt.Equal(now) {
		t.Fatalf("shipping keeps placed_at: got %+v, %v", next, err)
	}
	p = Patch{}
	p.PlacedAt.Set, p.PlacedAt.Null = true, true
	if _, _, err := applyPatch(o, p, now); err == nil || !strings.Contains(err.Error(), "placed_at") {
		t.Fatalf("clearing placed_at of a paid order: got %v, want a placed_at error", err)
	}
}

// Business rules see raw client strings: they must never panic, and what they accept must be
// storable exactly (numeric round trip) and within the currency's precision.
func FuzzNewOrder(f *testing.F) {
	f.Add("01932f4e-0000-7000-8000-000000000000", "paid", "12.50", "eur")
	f.Add("x", "", "1e9", "JPY")
	f.Add("", "DRAFT", "0.0001", "CLF")
	now := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, customerID, status, total, currency string) {
		o, err := newOrder(CreateInput{CustomerID: customerID, Status: status, Total: total, Currency: currency}, now)
		if err != nil {
			return
		}
		minor, ok := MinorUnits(o.Currency)
		if !ok || !validStatus(o.Status) || !totalPattern.MatchString(o.Total) {
			t.Fatalf("accepted invalid order %+v", o)
		}
		if _, frac, _ := strings.Cut(o.Total, "."); len(frac) > minor {
			t.Fatalf("accepted %s with %d decimals for %s", o.Total, len(frac), o.Currency)
		}
	})
}
