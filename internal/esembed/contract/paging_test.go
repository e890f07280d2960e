package contract

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestSearchAfterWithMissingValues pages the way the search API does: sort on a column with
// `missing`, a unique tiebreaker, and search_after fed with the sort values of the last hit as
// they came back, including those of documents without the column. Every document must come
// once, in Elasticsearch's order.
func TestSearchAfterWithMissingValues(t *testing.T) {
	e := newEnv(t)
	type row struct {
		id   string
		l    *int64
		k    *string
		d    *time.Time
		docJ string
	}
	var rows []row
	docs := map[string]string{}
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 30; i++ {
		r := row{id: fmt.Sprintf("id%02d", i)}
		doc := map[string]any{"id": r.id}
		if i%4 != 0 {
			v := int64((i * 7) % 11) // duplicates on purpose
			r.l = &v
			doc["l"] = v
		}
		if i%5 != 0 {
			v := string(rune('a' + (i*3)%7))
			r.k = &v
			doc["k"] = v
		}
		if i%3 != 0 {
			v := base.Add(time.Duration((i*5)%13) * time.Hour)
			r.d = &v
			doc["d"] = v.Format(time.RFC3339)
		}
		b, _ := json.Marshal(doc)
		docs[r.id] = string(b)
		rows = append(rows, r)
	}
	idx := e.seed(t, "paging", `{"mappings": {"properties": {"id": {"type": "keyword"}, "l": {"type": "long"}, "k": {"type": "keyword"}, "d": {"type": "date"}}}}`, docs)

	expected := func(field, order, missing string) []string {
		sorted := slices.Clone(rows)
		slices.SortStableFunc(sorted, func(a, b row) int {
			var am, bm bool
			var c int
			switch field {
			case "l":
				am, bm = a.l == nil, b.l == nil
				if !am && !bm {
					c = cmp.Compare(*a.l, *b.l)
				}
			case "k":
				am, bm = a.k == nil, b.k == nil
				if !am && !bm {
					c = strings.Compare(*a.k, *b.k)
				}
			case "d":
				am, bm = a.d == nil, b.d == nil
				if !am && !bm {
					c = a.d.Compare(*b.d)
				}
			}
			if am != bm {
				if am == (missing == "_first") {
					return -1
				}
				return 1
			}
			if order == "desc" {
				c = -c
			}
			if c == 0 {
				c = strings.Compare(a.id, b.id)
			}
			return c
		})
		ids := make([]string, len(sorted))
		for i, r := range sorted {
			ids[i] = r.id
		}
		return ids
	}

	// The sort value of a missing long is the substituted one: the largest long where missing
	// values sort after the others in that direction, the smallest where before.
	for _, tt := range []struct{ order, missing, want string }{
		{"asc", "_last", "9223372036854775807"}, {"asc", "_first", "-9223372036854775808"},
		{"desc", "_last", "-9223372036854775808"}, {"desc", "_first", "9223372036854775807"},
	} {
		resp := e.mustRaw(t, 200, http.MethodPost, "/"+idx+"/_search", `{"query": {"ids": {"values": ["id00"]}}, "sort": [{"l": {"order": "`+tt.order+`", "missing": "`+tt.missing+`"}}]}`)
		if got := show(path(resp, "hits.hits.0.sort")); got != "["+tt.want+"]" {
			t.Errorf("sort value of a missing long, %s missing %s: got %s, want [%s]", tt.order, tt.missing, got, tt.want)
		}
	}

	for _, field := range []string{"l", "k", "d"} {
		for _, order := range []string{"asc", "desc"} {
			for _, missing := range []string{"_last", "_first"} {
				name := field + " " + order + " missing " + missing
				t.Run(name, func(t *testing.T) {
					sort := fmt.Sprintf(`[{%q: {"order": %q, "missing": %q}}, {"id": "asc"}]`, field, order, missing)
					var got []string
					var after json.RawMessage
					for page := 0; page < 20; page++ {
						body := `{"size": 4, "track_total_hits": false, "sort": ` + sort
						if after != nil {
							body += `, "search_after": ` + string(after)
						}
						status, data := e.rawBytes(t, http.MethodPost, "/"+idx+"/_search", body+`}`, "")
						if status != 200 {
							t.Fatalf("page %d (search_after %s): %d %s", page, after, status, truncate(string(data), 400))
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
							t.Fatalf("decode: %v", err)
						}
						if len(resp.Hits.Hits) == 0 {
							break
						}
						for _, h := range resp.Hits.Hits {
							got = append(got, h.ID)
						}
						after = resp.Hits.Hits[len(resp.Hits.Hits)-1].Sort
					}
					if want := expected(field, order, missing); !slices.Equal(got, want) {
						t.Errorf("got  %v\nwant %v", got, want)
					}
				})
			}
		}
	}
}
