package reindex

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestProgressLines: plain progress lines carry the count, rate, percentage and ETA against
// the estimate, and no made-up percentage or ETA when there is none (a first build).
func TestProgressLines(t *testing.T) {
	for _, tc := range []struct {
		name         string
		total        int64
		want, reject []string
	}{
		{"estimate", 1000, []string{"backfill: 250/1000 docs (25.0%)", "docs/s", "ETA ", "throttle off"}, nil},
		{"no estimate", 0, []string{"backfill: 250 docs,", "docs/s", "total unknown", "throttle off"}, []string{"%", "ETA"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			p := newProgress(&buf, false, tc.total, 0, time.Hour, func() string { return "throttle off" })
			p.Add(250)
			p.Finish()
			out := buf.String()
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("got %q, want it to contain %q", out, w)
				}
			}
			for _, r := range tc.reject {
				if strings.Contains(out, r) {
					t.Errorf("got %q, want no %q", out, r)
				}
			}
		})
	}
}

// TestProgressBarGrowsPastALowEstimate: orders created during the build push the count past
// the estimate; the terminal bar keeps counting instead of finishing at its first maximum.
func TestProgressBarGrowsPastALowEstimate(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf, true, 10, 0, time.Hour, func() string { return "" })
	p.Add(250)
	p.Add(250)
	bp, ok := p.(*barProgress)
	if !ok {
		t.Fatalf("terminal progress with an estimate is %T, want a bar", p)
	}
	if got := bp.bar.State().CurrentNum; got != 500 {
		t.Fatalf("bar count %d after 500 documents, want 500", got)
	}
	p.Finish()
}
