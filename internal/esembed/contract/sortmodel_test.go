package contract

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestRandomSortsAgainstModel compares random sorts (keyword, long, multi-valued long, date,
// boolean; asc/desc; missing first/last) with a model of Elasticsearch's ordering, for one
// full page and for search_after paging. Replay a failure with -seed.
func TestRandomSortsAgainstModel(t *testing.T) {
	e := newEnv(t)
	seed := *seedFlag
	if seed == 0 {
		seed = rand.Uint64()
	}
	t.Logf("seed %d (replay with -seed %d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 7))

	type doc struct {
		id  string
		k   *string
		l   *int64
		m   []int64
		d   *time.Time
		b   *bool
		src map[string]any
	}
	var docs []doc
	bodies := map[string]string{}
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 40; i++ {
		d := doc{id: fmt.Sprintf("d%02d", i), src: map[string]any{"id": fmt.Sprintf("d%02d", i)}}
		if rng.IntN(4) > 0 {
			v := string(rune('a' + rng.IntN(6)))
			d.k, d.src["k"] = &v, v
		}
		if rng.IntN(4) > 0 {
			v := int64(rng.IntN(9) - 4)
			d.l, d.src["l"] = &v, v
		}
		for j := rng.IntN(3); j > 0; j-- {
			d.m = append(d.m, int64(rng.IntN(20)))
		}
		if len(d.m) > 0 {
			d.src["m"] = d.m
		}
		if rng.IntN(4) > 0 {
			v := base.Add(time.Duration(rng.IntN(5)) * 24 * time.Hour)
			d.d, d.src["d"] = &v, v.Format(time.RFC3339)
		}
		if rng.IntN(4) > 0 {
			v := rng.IntN(2) == 1
			d.b, d.src["b"] = &v, v
		}
		enc, _ := json.Marshal(d.src)
		bodies[d.id] = string(enc)
		docs = append(docs, d)
	}
	idx := e.seed(t, "model", `{"mappings": {"properties": {"id": {"type": "keyword"}, "k": {"type": "keyword"},
		"l": {"type": "long"}, "m": {"type": "long"}, "d": {"type": "date"}, "b": {"type": "boolean"}}}}`, bodies)

	type key struct {
		field, order, missing string
	}
	// value returns the sort value of a document for one key, or false when it has none.
	value := func(d doc, k key) (float64, string, bool) {
		switch k.field {
		case "k":
			if d.k == nil {
				return 0, "", false
			}
			return 0, *d.k, true
		case "l":
			if d.l == nil {
				return 0, "", false
			}
			return float64(*d.l), "", true
		case "m":
			if len(d.m) == 0 {
				return 0, "", false
			}
			if k.order == "asc" {
				return float64(slices.Min(d.m)), "", true
			}
			return float64(slices.Max(d.m)), "", true
		case "d":
			if d.d == nil {
				return 0, "", false
			}
			return float64(d.d.UnixMilli()), "", true
		case "b":
			if d.b == nil {
				return 0, "", false
			}
			if *d.b {
				return 1, "", true
			}
			return 0, "", true
		}
		return 0, "", false
	}
	fields := []string{"k", "l", "m", "d", "b"}
	for iter := 0; iter < 25; iter++ {
		var keys []key
		for n := 1 + rng.IntN(2); n > 0; n-- {
			keys = append(keys, key{fields[rng.IntN(len(fields))], []string{"asc", "desc"}[rng.IntN(2)], []string{"_last", "_first"}[rng.IntN(2)]})
		}
		var parts []string
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf(`{%q: {"order": %q, "missing": %q}}`, k.field, k.order, k.missing))
		}
		sortJSON := "[" + strings.Join(parts, ", ") + `, {"id": "asc"}]`
		want := slices.Clone(docs)
		slices.SortStableFunc(want, func(a, b doc) int {
			for _, k := range keys {
				an, as, aok := value(a, k)
				bn, bs, bok := value(b, k)
				if aok != bok {
					if !aok == (k.missing == "_first") {
						return -1
					}
					return 1
				}
				if !aok {
					continue
				}
				c := cmp.Compare(an, bn)
				if c == 0 {
					c = strings.Compare(as, bs)
				}
				if k.order == "desc" {
					c = -c
				}
				if c != 0 {
					return c
				}
			}
			return strings.Compare(a.id, b.id)
		})
		wantIDs := make([]string, len(want))
		for i, d := range want {
			wantIDs[i] = d.id
		}

		full := hitIDs(e.mustRaw(t, 200, http.MethodPost, "/"+idx+"/_search", `{"size": 100, "sort": `+sortJSON+`}`))
		if !slices.Equal(full, wantIDs) {
			t.Errorf("sort %s (seed %d):\n got  %v\n want %v", sortJSON, seed, full, wantIDs)
			continue
		}
		var paged []string
		var after json.RawMessage
		for page := 0; page < 20; page++ {
			body := `{"size": 7, "sort": ` + sortJSON
			if after != nil {
				body += `, "search_after": ` + string(after)
			}
			status, data := e.rawBytes(t, http.MethodPost, "/"+idx+"/_search", body+`}`, "")
			if status != 200 {
				t.Fatalf("sort %s page %d: %d %s", sortJSON, page, status, truncate(string(data), 300))
			}
			var resp struct {
				Hits struct {
					Hits []struct {
						ID   string          `json:"_id"`
						Sort json.RawMessage `json:"sort"`
					} `json:"hits"`
				} `json:"hits"`
			}
			if err := json.Unmarshal(data, &resp); err != nil {
				t.Fatal(err)
			}
			if len(resp.Hits.Hits) == 0 {
				break
			}
			for _, h := range resp.Hits.Hits {
				paged = append(paged, h.ID)
			}
			after = resp.Hits.Hits[len(resp.Hits.Hits)-1].Sort
		}
		if !slices.Equal(paged, wantIDs) {
			t.Errorf("search_after with sort %s (seed %d):\n got  %v\n want %v", sortJSON, seed, paged, wantIDs)
		}
	}
}
