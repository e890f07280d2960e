package bench

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"strings"
	"testing"
	"time"
)

func TestFigureJudgement(t *testing.T) {
	tests := []struct {
		name string
		f    Figure
		want *bool
	}{
		{"ratio meets at-least", ratioOf("g", "a", 90, "docs/s", 100, "base", AtLeast(0.8)), ptr(true)},
		{"ratio misses at-least", ratioOf("g", "a", 70, "docs/s", 100, "base", AtLeast(0.8)), ptr(false)},
		{"ratio meets at-most", ratioOf("g", "a", 150, "ms", 100, "base", AtMost(2)), ptr(true)},
		{"ratio misses at-most", ratioOf("g", "a", 250, "ms", 100, "base", AtMost(2)), ptr(false)},
		{"zero baseline gives no verdict", ratioOf("g", "a", 250, "ms", 0, "base", AtMost(2)), nil},
		{"plain value against target", plain("g", "a", 0, "errors", AtMost(0)), ptr(true)},
		{"no target", plain("g", "a", 3, "s", nil), nil},
		{"not measured", notMeasured("g", "a", "missing"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.f.Pass
			if (got == nil) != (tt.want == nil) || (got != nil && *got != *tt.want) {
				t.Errorf("pass = %v, want %v", show(got), show(tt.want))
			}
		})
	}
}

func TestReportRenderings(t *testing.T) {
	rep := &Report{Figures: []Figure{
		ratioOf("engine", "engine.bulk_docs_per_s", 41000, "docs/s", 50000, "raw bleve", AtLeast(0.8)),
		ratioOf("search", "search.cursor_page_1000_p99", 30, "ms", 10, "page 1 p99", AtMost(1.5)),
		notMeasured("reindex", "reindex.backfill_docs_per_s", "reindex job not available"),
		plain("fanout", "fanout.rename_10k_orders", 4.2, "s", nil),
	}}
	var table bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"41000 docs/s", "0.82", "not measured: reindex job not available", "NO"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatalf("JSON does not round-trip: %v", err)
	}
	if got, want := len(back.Figures), 4; got != want {
		t.Errorf("figures after round-trip = %d, want %d", got, want)
	}
	if back.Figures[2].Ratio != nil || back.Figures[2].NotMeasured == "" {
		t.Errorf("not-measured figure got a number: %+v", back.Figures[2])
	}
	var svg bytes.Buffer
	if err := rep.WriteSVG(&svg); err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(&svg)
	for {
		if _, err := dec.Token(); err != nil {
			if err.Error() != "EOF" {
				t.Fatalf("SVG is not well-formed XML: %v", err)
			}
			break
		}
	}
	if got := len(rep.Failed()); got != 1 {
		t.Errorf("failed figures = %d, want 1", got)
	}
}

func TestPercentile(t *testing.T) {
	var l latencies
	for i := 1; i <= 100; i++ {
		l.add(msd(i))
	}
	if got, want := l.percentile(50), msd(50); got != want {
		t.Errorf("p50 = %v, want %v", got, want)
	}
	if got, want := l.percentile(99), msd(99); got != want {
		t.Errorf("p99 = %v, want %v", got, want)
	}
}

func ptr[T any](v T) *T { return &v }

func show(b *bool) string {
	if b == nil {
		return "nil"
	}
	if *b {
		return "true"
	}
	return "false"
}

func msd(i int) time.Duration { return time.Duration(i) * time.Millisecond }

func TestBudgeted(t *testing.T) {
	tests := []struct {
		n      int
		perSec float64
		d      time.Duration
		floor  int
		want   int
	}{
		{200_000, 1000, 60 * time.Second, 1000, 60_000},
		{5_000, 100_000, 8 * time.Second, 1000, 5_000},
		{5_000, 10, 8 * time.Second, 1000, 1000},
		{500, 10, 8 * time.Second, 1000, 500},
		{5_000, 0, 8 * time.Second, 1000, 5_000},
	}
	for _, tt := range tests {
		if got := budgeted(tt.n, tt.perSec, tt.d, tt.floor); got != tt.want {
			t.Errorf("budgeted(%d, %v, %v, %d) = %d, want %d", tt.n, tt.perSec, tt.d, tt.floor, got, tt.want)
		}
	}
}

func TestAbuseCasesAreDistinct(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range AbuseCases("eyJpIjoib3JkZXJzX3YxIn0.c2ln") {
		if c.Name == "" || seen[c.Name] {
			t.Errorf("abuse case name %q empty or repeated", c.Name)
		}
		seen[c.Name] = true
		if c.Accepts(500) || c.Accepts(200) && !c.LiteralOK {
			t.Errorf("%s: accepts a 5xx or an unexpected 2xx", c.Name)
		}
		if !c.Accepts(400) {
			t.Errorf("%s: does not accept 400", c.Name)
		}
	}
}
