package contract

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// twoIndices creates indices a and b with na and nb refreshed documents each.
func twoIndices(t *testing.T, e *env, na, nb int) (string, string) {
	t.Helper()
	mapping := `{"mappings": {"properties": {"src": {"type": "keyword"}, "n": {"type": "long"}}}}`
	a, b := e.createIndex(t, "a", mapping), e.createIndex(t, "b", mapping)
	for _, ix := range []struct {
		name string
		n    int
	}{{a, na}, {b, nb}} {
		var sb strings.Builder
		for i := 0; i < ix.n; i++ {
			fmt.Fprintf(&sb, `{"index": {"_index": %q, "_id": "%d"}}`+"\n"+`{"src": %q, "n": %d}`+"\n", ix.name, i, ix.name, i)
		}
		if ix.n > 0 {
			status, data := e.rawBytes(t, http.MethodPost, "/_bulk?refresh=true", sb.String(), "application/x-ndjson")
			if status != 200 || strings.Contains(string(data), `"errors":true`) {
				t.Fatalf("seed %s: %d %s", ix.name, status, truncate(string(data), 300))
			}
		}
	}
	return a, b
}

func aliasActions(actions ...string) string {
	return `{"actions": [` + strings.Join(actions, ",") + `]}`
}

func TestAliases(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	a, b := twoIndices(t, e, 3, 2)
	alias := uniqueName("alias")

	r := e.mustRaw(t, 200, http.MethodPost, "/_aliases", aliasActions(`{"add": {"index": "`+a+`", "alias": "`+alias+`"}}`))
	if r["acknowledged"] != true {
		t.Errorf("_aliases add: got %s, want acknowledged", show(r))
	}
	if n := searchCount(t, e, alias); n != 3 {
		t.Errorf("search through alias on a: got %d hits, want 3", n)
	}
	got := e.mustRaw(t, 200, http.MethodGet, "/_alias/"+alias, nil)
	if _, ok := path(got, a+".aliases."+alias).(map[string]any); !ok || len(got) != 1 {
		t.Errorf("GET /_alias/%s: got %s, want only %s", alias, show(got), a)
	}
	if got := e.mustRaw(t, 200, http.MethodGet, "/"+a+"/_alias/"+alias, nil); path(got, a+".aliases."+alias) == nil {
		t.Errorf("GET /{index}/_alias/{name}: got %s", show(got))
	}
	if got := e.mustRaw(t, 200, http.MethodGet, "/_alias", nil); path(got, a+".aliases."+alias) == nil || path(got, b+".aliases") == nil {
		t.Errorf("GET /_alias: got %s, want every index with its aliases", truncate(show(got), 300))
	}
	if ok, err := e.typed.Indices.ExistsAlias(alias).IsSuccess(ctx); err != nil || !ok {
		t.Errorf("HEAD /_alias/%s: got %v, %v; want true", alias, ok, err)
	}
	ga, err := e.typed.Indices.GetAlias().Name(alias).Do(ctx)
	if err != nil || len(ga) != 1 {
		t.Errorf("typed get alias: got %v, %v; want one index", ga, err)
	}

	// Atomic swap: remove and add in one request.
	e.mustRaw(t, 200, http.MethodPost, "/_aliases", aliasActions(
		`{"remove": {"index": "`+a+`", "alias": "`+alias+`"}}`,
		`{"add": {"index": "`+b+`", "alias": "`+alias+`"}}`))
	if n := searchCount(t, e, alias); n != 2 {
		t.Errorf("search after swap to b: got %d hits, want 2", n)
	}

	// All or nothing: a failing action leaves every other action unapplied.
	other := uniqueName("other")
	status, body := e.raw(t, http.MethodPost, "/_aliases", aliasActions(
		`{"add": {"index": "`+a+`", "alias": "`+other+`"}}`,
		`{"remove": {"index": "`+a+`", "alias": "`+alias+`", "must_exist": true}}`))
	checkErrorShape(t, status, body, 404, "aliases_not_found_exception")
	if ok, _ := e.typed.Indices.ExistsAlias(other).IsSuccess(ctx); ok {
		t.Errorf("alias %s exists after a failed _aliases request", other)
	}
	status, body = e.raw(t, http.MethodPost, "/_aliases", aliasActions(
		`{"add": {"index": "`+a+`", "alias": "`+other+`"}}`,
		`{"add": {"index": "`+uniqueName("missing")+`", "alias": "`+other+`"}}`))
	checkErrorShape(t, status, body, 404, "index_not_found_exception")
	if ok, _ := e.typed.Indices.ExistsAlias(other).IsSuccess(ctx); ok {
		t.Errorf("alias %s exists after a failed _aliases request", other)
	}
	// must_exist is only for remove.
	status, _ = e.raw(t, http.MethodPost, "/_aliases", aliasActions(`{"add": {"index": "`+a+`", "alias": "`+other+`", "must_exist": true}}`))
	if status != 400 {
		t.Errorf("add with must_exist: got %d, want 400", status)
	}
	status, _ = e.raw(t, http.MethodPost, "/_aliases", aliasActions(`{"explode": {"index": "`+a+`", "alias": "`+other+`"}}`))
	if status != 400 {
		t.Errorf("unknown alias action: got %d, want 400", status)
	}

	// An alias over both indices searches both.
	e.mustRaw(t, 200, http.MethodPut, "/"+a+"/_alias/"+alias, nil)
	if n := searchCount(t, e, alias); n != 5 {
		t.Errorf("search through an alias on a and b: got %d hits, want 5", n)
	}
	if n := searchCount(t, e, a+","+b); n != 5 {
		t.Errorf("search a,b: got %d hits, want 5", n)
	}
	if n := searchCount(t, e, "ct-a-*"); n < 3 {
		t.Errorf("search ct-a-*: got %d hits, want ≥ 3", n)
	}

	// Deleting one index of it leaves the alias on the other.
	e.mustRaw(t, 200, http.MethodDelete, "/"+a+"/_alias/"+alias, nil)
	if n := searchCount(t, e, alias); n != 2 {
		t.Errorf("after DELETE /a/_alias: got %d hits, want 2", n)
	}
	status, body = e.raw(t, http.MethodDelete, "/"+a+"/_alias/"+alias, nil)
	checkErrorShape(t, status, body, 404, "aliases_not_found_exception")
	status, body = e.raw(t, http.MethodGet, "/_alias/"+uniqueName("nope"), nil)
	if status != 404 {
		t.Errorf("GET a missing alias: got %d %s, want 404", status, show(body))
	}

	// _cat/aliases, text and JSON.
	status, text := e.rawBytes(t, http.MethodGet, "/_cat/aliases/"+alias, nil, "")
	if status != 200 || !strings.Contains(string(text), alias) || !strings.Contains(string(text), b) {
		t.Errorf("_cat/aliases: got %d %q", status, text)
	}
	status, js := e.rawBytes(t, http.MethodGet, "/_cat/aliases/"+alias+"?format=json", nil, "")
	if status != 200 || !strings.Contains(string(js), `"alias":"`+alias+`"`) {
		t.Errorf("_cat/aliases?format=json: got %d %s", status, js)
	}

	// remove_index drops an index and frees its name for an alias (the reindex cut-over).
	e.mustRaw(t, 200, http.MethodPost, "/_aliases", aliasActions(
		`{"remove_index": {"index": "`+a+`"}}`,
		`{"add": {"index": "`+b+`", "alias": "`+a+`"}}`))
	if ok, _ := e.typed.Indices.ExistsAlias(a).IsSuccess(ctx); !ok {
		t.Errorf("alias %s (the removed index's name) missing after remove_index", a)
	}
	if n := searchCount(t, e, a); n != 2 {
		t.Errorf("search %s after remove_index+add: got %d hits, want b's 2", a, n)
	}
	// The order of the actions doesn't matter: indices are removed before aliases are added.
	c := e.createIndex(t, "c", "")
	status, body = e.raw(t, http.MethodPost, "/_aliases", aliasActions(
		`{"add": {"index": "`+b+`", "alias": "`+c+`"}}`,
		`{"remove_index": {"index": "`+c+`"}}`))
	if status != 200 {
		t.Errorf("add alias named like an index, then remove_index that index: got %d %s, want 200", status, show(body))
	}
	if ok, _ := e.typed.Indices.ExistsAlias(c).IsSuccess(ctx); !ok {
		t.Errorf("alias %s missing after add + remove_index", c)
	}
}

func TestAliasWriteIndex(t *testing.T) {
	e := newEnv(t)
	a, b := twoIndices(t, e, 0, 0)
	alias := uniqueName("w")

	// One index: writes go through.
	e.mustRaw(t, 200, http.MethodPut, "/"+a+"/_alias/"+alias, nil)
	r := e.mustRaw(t, 201, http.MethodPut, "/"+alias+"/_doc/1", `{"src": "x"}`)
	if r["_index"] != a {
		t.Errorf("write through a one-index alias: _index %v, want %s", r["_index"], a)
	}
	if g := e.mustRaw(t, 200, http.MethodGet, "/"+alias+"/_doc/1", nil); g["_index"] != a {
		t.Errorf("get through alias: got %s", show(g))
	}

	// Two indices and no write index: writes are refused.
	e.mustRaw(t, 200, http.MethodPut, "/"+b+"/_alias/"+alias, nil)
	status, body := e.raw(t, http.MethodPut, "/"+alias+"/_doc/2", `{"src": "x"}`)
	checkErrorShape(t, status, body, 400, "illegal_argument_exception")
	if rs, _ := path(body, "error.reason").(string); !strings.Contains(rs, "no write index is defined for alias") {
		t.Errorf("reason: got %q, want 'no write index is defined for alias'", rs)
	}
	status, data := e.rawBytes(t, http.MethodPost, "/_bulk", `{"index": {"_index": "`+alias+`", "_id": "2"}}`+"\n{}\n", "application/x-ndjson")
	if resp := decode(t, data); status != 200 || jsonInt(path(resp, "items.0.index.status")) != 400 {
		t.Errorf("bulk write through a multi-index alias: got %d %s, want an item 400", status, show(resp))
	}

	// is_write_index picks the target.
	e.mustRaw(t, 200, http.MethodPost, "/_aliases", aliasActions(`{"add": {"index": "`+b+`", "alias": "`+alias+`", "is_write_index": true}}`))
	r = e.mustRaw(t, 201, http.MethodPut, "/"+alias+"/_doc/3?refresh=true", `{"src": "y"}`)
	if r["_index"] != b {
		t.Errorf("write with is_write_index on b: _index %v, want %s", r["_index"], b)
	}
	got := e.mustRaw(t, 200, http.MethodGet, "/_alias/"+alias, nil)
	if path(got, b+".aliases."+alias+".is_write_index") != true {
		t.Errorf("GET alias: got %s, want is_write_index true on %s", show(got), b)
	}
	// Creating an index whose name is an alias fails.
	status, body = e.raw(t, http.MethodPut, "/"+alias, "")
	if status != 400 {
		t.Errorf("create index named like an alias: got %d %s, want 400", status, show(body))
	}
}

// TestAliasSwapUnderConcurrentSearches swaps an alias between two indices of the same size
// while searches run: every search must succeed and see exactly one index's documents.
func TestAliasSwapUnderConcurrentSearches(t *testing.T) {
	e := newEnv(t)
	const docs, minSwaps, minSearches, searchers = 50, 50, 400, 4
	a, b := twoIndices(t, e, docs, docs)
	alias := uniqueName("swap")
	e.mustRaw(t, 200, http.MethodPut, "/"+a+"/_alias/"+alias, nil)

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	var done atomic.Bool
	var searches, bad atomic.Int64
	var mu sync.Mutex
	var problems []string
	var wg sync.WaitGroup
	for w := 0; w < searchers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && !done.Load() {
				res, err := e.typed.Search().Index(alias).Size(0).TrackTotalHits(true).Do(ctx)
				searches.Add(1)
				var total int64 = -1
				if err == nil && res.Hits.Total != nil {
					total = res.Hits.Total.Value
				}
				if err != nil || total != docs {
					bad.Add(1)
					mu.Lock()
					if len(problems) < 10 {
						problems = append(problems, fmt.Sprintf("total %d, err %v", total, err))
					}
					mu.Unlock()
				}
			}
		}()
	}
	// Swap until enough searches overlapped the swaps (bounded by the context).
	from, to := a, b
	swaps := 0
	for ctx.Err() == nil && (swaps < minSwaps || searches.Load() < minSearches) {
		status, body := e.raw(t, http.MethodPost, "/_aliases", aliasActions(
			`{"remove": {"index": "`+from+`", "alias": "`+alias+`"}}`,
			`{"add": {"index": "`+to+`", "alias": "`+alias+`"}}`))
		if status != 200 {
			t.Errorf("swap %d: %d %s", swaps, status, show(body))
			break
		}
		from, to = to, from
		swaps++
	}
	done.Store(true)
	wg.Wait()
	if ctx.Err() != nil {
		t.Errorf("ran out of time: %d swaps, %d searches", swaps, searches.Load())
	}
	if bad.Load() > 0 {
		t.Errorf("%d of %d searches during %d swaps failed or saw other than %d hits: %v", bad.Load(), searches.Load(), swaps, docs, problems)
	}
	t.Logf("%d searches during %d swaps", searches.Load(), swaps)
}
