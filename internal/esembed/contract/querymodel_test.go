package contract

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"testing"
	"time"
)

// qdoc is a document of the query model: every field may be missing; m is multi-valued.
type qdoc struct {
	id string
	k  *string
	l  *int64
	m  []int64
	b  *bool
}

// query is a generated query: its JSON and the model's verdict for a document.
type query struct {
	json  any
	match func(qdoc) bool
}

func genLeaf(rng *rand.Rand) query {
	letter := func() string { return string(rune('a' + rng.IntN(5))) }
	switch rng.IntN(8) {
	case 0:
		v := letter()
		return query{map[string]any{"term": map[string]any{"k": v}}, func(d qdoc) bool { return d.k != nil && *d.k == v }}
	case 1:
		vs := []string{letter(), letter()}
		return query{map[string]any{"terms": map[string]any{"k": vs}}, func(d qdoc) bool { return d.k != nil && slices.Contains(vs, *d.k) }}
	case 2:
		lo, hi := int64(rng.IntN(10)-5), int64(rng.IntN(10)-5)
		incLo, incHi := rng.IntN(2) == 0, rng.IntN(2) == 0
		r := map[string]any{}
		if incLo {
			r["gte"] = lo
		} else {
			r["gt"] = lo
		}
		if incHi {
			r["lte"] = hi
		} else {
			r["lt"] = hi
		}
		in := func(v int64) bool {
			return (v > lo || incLo && v == lo) && (v < hi || incHi && v == hi)
		}
		if rng.IntN(2) == 0 {
			return query{map[string]any{"range": map[string]any{"l": r}}, func(d qdoc) bool { return d.l != nil && in(*d.l) }}
		}
		return query{map[string]any{"range": map[string]any{"m": r}}, func(d qdoc) bool { return slices.ContainsFunc(d.m, in) }}
	case 3:
		f := []string{"k", "l", "m", "b"}[rng.IntN(4)]
		return query{map[string]any{"exists": map[string]any{"field": f}}, func(d qdoc) bool {
			switch f {
			case "k":
				return d.k != nil
			case "l":
				return d.l != nil
			case "m":
				return len(d.m) > 0
			}
			return d.b != nil
		}}
	case 4:
		v := rng.IntN(2) == 0
		return query{map[string]any{"term": map[string]any{"b": v}}, func(d qdoc) bool { return d.b != nil && *d.b == v }}
	case 5:
		v := int64(rng.IntN(8))
		return query{map[string]any{"term": map[string]any{"m": v}}, func(d qdoc) bool { return slices.Contains(d.m, v) }}
	case 6:
		ids := []string{fmt.Sprintf("q%02d", rng.IntN(30)), fmt.Sprintf("q%02d", rng.IntN(30))}
		return query{map[string]any{"ids": map[string]any{"values": ids}}, func(d qdoc) bool { return slices.Contains(ids, d.id) }}
	default:
		p := letter()
		return query{map[string]any{"prefix": map[string]any{"k": p}}, func(d qdoc) bool { return d.k != nil && *d.k == p }}
	}
}

func genQuery(rng *rand.Rand, depth int) query {
	if depth == 0 || rng.IntN(3) == 0 {
		return genLeaf(rng)
	}
	clauses := func() []query {
		var qs []query
		for n := rng.IntN(3); n > 0; n-- {
			qs = append(qs, genQuery(rng, depth-1))
		}
		return qs
	}
	must, filter, should, mustNot := clauses(), clauses(), clauses(), clauses()
	b := map[string]any{}
	for name, qs := range map[string][]query{"must": must, "filter": filter, "should": should, "must_not": mustNot} {
		if len(qs) > 0 {
			list := make([]any, len(qs))
			for i, q := range qs {
				list[i] = q.json
			}
			b[name] = list
		}
	}
	// Without must or filter, at least one should clause must match; with them, none needs to.
	msm := 0
	if len(should) > 0 && len(must) == 0 && len(filter) == 0 {
		msm = 1
	}
	if len(should) > 0 && rng.IntN(3) == 0 {
		msm = 1 + rng.IntN(len(should))
		b["minimum_should_match"] = msm
	}
	return query{map[string]any{"bool": b}, func(d qdoc) bool {
		for _, q := range must {
			if !q.match(d) {
				return false
			}
		}
		for _, q := range filter {
			if !q.match(d) {
				return false
			}
		}
		for _, q := range mustNot {
			if q.match(d) {
				return false
			}
		}
		n := 0
		for _, q := range should {
			if q.match(d) {
				n++
			}
		}
		return n >= msm
	}}
}

// TestRandomQueriesAgainstModel runs random term, terms, range, exists, ids, prefix and nested
// bool queries (with minimum_should_match) on random documents and compares the hits and
// _count with a model. Replay a failure with -seed.
func TestRandomQueriesAgainstModel(t *testing.T) {
	seed := *seedFlag
	if seed == 0 {
		seed = rand.Uint64()
	}
	t.Logf("seed %d (replay with -seed %d)", seed, seed)
	runQueryModel(t, seed)
}

// TestQueryModelRegressions replays the seeds that once found a difference.
func TestQueryModelRegressions(t *testing.T) {
	for _, tc := range []struct {
		seed uint64
		what string
	}{
		// A bool with must and minimum_should_match inside a filter matched documents that
		// met none of its shoulds: bleve optimises an unscored should clause into a plain
		// union that drops the minimum.
		{14037646382232543157, "minimum_should_match inside a filter"},
	} {
		t.Run(tc.what, func(t *testing.T) { runQueryModel(t, tc.seed) })
	}
}

func runQueryModel(t *testing.T, seed uint64) {
	e := newDetachedEnv(t)
	rng := rand.New(rand.NewPCG(seed, 11))
	var docs []qdoc
	bodies := map[string]string{}
	for i := 0; i < 30; i++ {
		d := qdoc{id: fmt.Sprintf("q%02d", i)}
		src := map[string]any{}
		if rng.IntN(4) > 0 {
			v := string(rune('a' + rng.IntN(5)))
			d.k, src["k"] = &v, v
		}
		if rng.IntN(4) > 0 {
			v := int64(rng.IntN(10) - 5)
			d.l, src["l"] = &v, v
		}
		for j := rng.IntN(4); j > 0; j-- {
			d.m = append(d.m, int64(rng.IntN(8)))
		}
		if len(d.m) > 0 {
			src["m"] = d.m
		}
		if rng.IntN(4) > 0 {
			v := rng.IntN(2) == 0
			d.b, src["b"] = &v, v
		}
		enc, _ := json.Marshal(src)
		bodies[d.id] = string(enc)
		docs = append(docs, d)
	}
	idx := e.seed(t, "qmodel", `{"mappings": {"properties": {"k": {"type": "keyword"}, "l": {"type": "long"}, "m": {"type": "integer"}, "b": {"type": "boolean"}}}}`, bodies)
	for iter := 0; iter < 60; iter++ {
		q := genQuery(rng, 2)
		var want []string
		for _, d := range docs {
			if q.match(d) {
				want = append(want, d.id)
			}
		}
		qj, _ := json.Marshal(q.json)
		if testing.Verbose() {
			t.Logf("query %d: %s", iter, qj)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		status, body, err := e.tryRaw(ctx, http.MethodPost, "/"+idx+"/_search", `{"size": 100, "query": `+string(qj)+`}`)
		cancel()
		if err != nil || status != 200 {
			// A query that doesn't answer keeps the engine busy: stop generating more.
			t.Fatalf("query %s (seed %d): got %d %v, want an answer within 10s", qj, seed, status, err)
		}
		got := hitIDs(body)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("query %s (seed %d):\n got  %v\n want %v", qj, seed, got, want)
			continue
		}
		if c := e.mustRaw(t, 200, http.MethodPost, "/"+idx+"/_count", `{"query": `+string(qj)+`}`); jsonInt(c["count"]) != len(want) {
			t.Errorf("_count %s (seed %d): got %v, want %d", qj, seed, c["count"], len(want))
		}
	}
}
