package esembed

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esutil"
	"github.com/elastic/go-elasticsearch/v8/typedapi/types"
	"github.com/elastic/go-elasticsearch/v8/typedapi/types/enums/sortorder"
)

// TestOfficialClient checks the official Go clients (low-level, typed, BulkIndexer) work
// unchanged against the engine, including the product check.
func TestOfficialClient(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	es, err := elasticsearch.NewClient(elasticsearch.Config{Addresses: []string{ts.url}})
	if err != nil {
		t.Fatal(err)
	}
	info, err := es.Info()
	if err != nil {
		t.Fatalf("Info: %v", err)
	}
	info.Body.Close()
	if info.StatusCode != 200 {
		t.Fatalf("Info: got status %d", info.StatusCode)
	}
	typed, err := elasticsearch.NewTypedClient(elasticsearch.Config{Addresses: []string{ts.url}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := typed.Indices.Create("items").Mappings(&types.TypeMapping{Properties: map[string]types.Property{
		"name": types.NewKeywordProperty(), "n": types.NewLongNumberProperty()}}).Do(ctx); err != nil {
		t.Fatalf("create: %v", err)
	}
	var failed atomic.Int64
	bi, err := esutil.NewBulkIndexer(esutil.BulkIndexerConfig{Client: es, Index: "items", FlushBytes: 4096})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 500; i++ {
		err := bi.Add(ctx, esutil.BulkIndexerItem{Action: "index", DocumentID: "d" + itoa(i),
			Body:      strings.NewReader(`{"name":"n` + itoa(i%50) + `","n":` + itoa(i) + `}`),
			OnFailure: func(context.Context, esutil.BulkIndexerItem, esutil.BulkIndexerResponseItem, error) { failed.Add(1) }})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := bi.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if st := bi.Stats(); st.NumFailed != 0 || st.NumIndexed != 500 || failed.Load() != 0 {
		t.Fatalf("bulk stats: %+v", st)
	}
	if _, err := typed.Indices.Refresh().Index("items").Do(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := typed.Search().Index("items").Size(3).
		Sort(types.SortOptions{SortOptions: map[string]types.FieldSort{"n": {Order: &sortorder.Desc}}}).
		Query(&types.Query{Term: map[string]types.TermQuery{"name": {Value: "n7"}}}).Do(ctx)
	if err != nil {
		t.Fatalf("search: %v", err)
	}
	if res.Hits.Total.Value != 10 || len(res.Hits.Hits) != 3 || *res.Hits.Hits[0].Id_ != "d457" {
		t.Fatalf("search: got total %d, first %v", res.Hits.Total.Value, *res.Hits.Hits[0].Id_)
	}
	_, err = typed.Indices.Get("missing-index").Do(ctx)
	if err == nil || !strings.Contains(err.Error(), "index_not_found_exception") {
		t.Fatalf("get on missing index: got %v, want index_not_found_exception", err)
	}
}
