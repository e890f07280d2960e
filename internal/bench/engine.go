package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/blevesearch/bleve/v2"
	blevemapping "github.com/blevesearch/bleve/v2/mapping"
	"github.com/elastic/go-elasticsearch/v8/esutil"

	"github.com/ordertable/ordertable/mappings"
)

// bleveMappingFor translates the orders mapping into the bleve mapping an engine on bleve
// needs at the least: the same fields with the same kinds, doc values for sorting, and the
// document source stored so hits can be returned. It is the raw baseline's mapping.
func bleveMappingFor(m *mappings.Mapping) *blevemapping.IndexMappingImpl {
	dm := bleve.NewDocumentStaticMapping()
	for _, name := range m.Fields.Names() {
		f := m.Fields[name]
		fms := []*blevemapping.FieldMapping{bleveField(f.Type)}
		for _, sub := range f.Fields {
			fm := bleveField(sub.Type)
			fm.Name = sub.Name
			fms = append(fms, fm)
		}
		dm.AddFieldMappingsAt(name, fms...)
	}
	src := bleve.NewTextFieldMapping()
	src.Index, src.Store, src.IncludeInAll, src.DocValues = false, true, false, false
	dm.AddFieldMappingsAt("_source", src)
	im := bleve.NewIndexMapping()
	im.DefaultMapping = dm
	im.IndexDynamic, im.StoreDynamic, im.DocValuesDynamic = false, false, false
	return im
}

func bleveField(esType string) *blevemapping.FieldMapping {
	var fm *blevemapping.FieldMapping
	switch esType {
	case "keyword":
		fm = bleve.NewKeywordFieldMapping()
	case "text":
		fm = bleve.NewTextFieldMapping()
		fm.DocValues = false
	case "date":
		fm = bleve.NewDateTimeFieldMapping()
	case "boolean":
		fm = bleve.NewBooleanFieldMapping()
	default:
		fm = bleve.NewNumericFieldMapping()
	}
	fm.Store, fm.IncludeInAll = false, false
	return fm
}

// rawBleveDocsPerSec indexes the documents with bleve batches into a fresh scorch index in dir:
// the engine's upper bound, with none of HTTP, JSON bulk parsing, versioning or the
// write-ahead log. Each document is decoded from its JSON like the engine must.
func rawBleveDocsPerSec(ctx context.Context, dir string, m *mappings.Mapping, ids []string, bodies [][]byte, batchSize int) (float64, error) {
	idx, err := bleve.New(dir, bleveMappingFor(m))
	if err != nil {
		return 0, fmt.Errorf("raw bleve: create %s: %w", dir, err)
	}
	defer idx.Close()
	start := time.Now()
	b := idx.NewBatch()
	for i := range ids {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		var doc map[string]any
		if err := json.Unmarshal(bodies[i], &doc); err != nil {
			return 0, fmt.Errorf("raw bleve: decode doc %d: %w", i, err)
		}
		doc["_source"] = string(bodies[i])
		if err := b.Index(ids[i], doc); err != nil {
			return 0, fmt.Errorf("raw bleve: batch add: %w", err)
		}
		if b.Size() >= batchSize {
			if err := idx.Batch(b); err != nil {
				return 0, fmt.Errorf("raw bleve: batch: %w", err)
			}
			b.Reset()
		}
	}
	if b.Size() > 0 {
		if err := idx.Batch(b); err != nil {
			return 0, fmt.Errorf("raw bleve: batch: %w", err)
		}
	}
	return rate(len(ids), time.Since(start)), nil
}

// createIndex creates index from a mapping body with its settings overridden.
func createIndex(ctx context.Context, es esConn, index string, m *mappings.Mapping, settings map[string]any) error {
	var body map[string]any
	if err := json.Unmarshal(m.Body, &body); err != nil {
		return fmt.Errorf("create %s: mapping body: %w", index, err)
	}
	s, _ := body["settings"].(map[string]any)
	if s == nil {
		s = map[string]any{}
	}
	for k, v := range settings {
		s[k] = v
	}
	body["settings"] = s
	if err := es.do(ctx, http.MethodPut, "/"+index, body, nil); err != nil {
		return fmt.Errorf("create %s: %w", index, err)
	}
	return nil
}

// engineBulkDocsPerSec sends the documents through the official client's BulkIndexer into a
// fresh index with the mapping's own settings and the indexer's external versioning, and stops
// the clock when a refresh made all of them searchable.
func engineBulkDocsPerSec(ctx context.Context, es esConn, index string, m *mappings.Mapping, ids []string, versions []int64, bodies [][]byte, workers int) (float64, error) {
	if err := createIndex(ctx, es, index, m, nil); err != nil {
		return 0, err
	}
	var failed atomic.Int64
	var firstErr atomic.Value
	bi, err := esutil.NewBulkIndexer(esutil.BulkIndexerConfig{
		Client:     es.c,
		Index:      index,
		NumWorkers: workers,
		// ~1000 documents per request: big enough to amortise a request, small enough that the
		// engine's refreshes index earlier requests while later ones are parsed (measured here
		// as faster than 2 MB requests, which serialise parsing and indexing).
		FlushBytes: 400 << 10,
		OnError: func(_ context.Context, err error) {
			failed.Add(1)
			firstErr.CompareAndSwap(nil, err.Error())
		},
	})
	if err != nil {
		return 0, fmt.Errorf("engine bulk: %w", err)
	}
	start := time.Now()
	for i := range ids {
		err := bi.Add(ctx, esutil.BulkIndexerItem{
			Action:      "index",
			DocumentID:  ids[i],
			Version:     &versions[i],
			VersionType: "external",
			Body:        bytes.NewReader(bodies[i]),
			OnFailure: func(_ context.Context, _ esutil.BulkIndexerItem, res esutil.BulkIndexerResponseItem, err error) {
				failed.Add(1)
				if err != nil {
					firstErr.CompareAndSwap(nil, err.Error())
				} else {
					firstErr.CompareAndSwap(nil, fmt.Sprintf("%d %s: %s", res.Status, res.Error.Type, res.Error.Reason))
				}
			},
		})
		if err != nil {
			return 0, fmt.Errorf("engine bulk: add: %w", err)
		}
	}
	if err := bi.Close(ctx); err != nil {
		return 0, fmt.Errorf("engine bulk: close: %w", err)
	}
	n, err := es.count(ctx, index)
	elapsed := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("engine bulk: %w", err)
	}
	if f := failed.Load(); f > 0 {
		return 0, fmt.Errorf("engine bulk: %d items failed, first: %v", f, firstErr.Load())
	}
	if n != len(ids) {
		return 0, fmt.Errorf("engine bulk: %d documents searchable, want %d", n, len(ids))
	}
	return rate(len(ids), elapsed), nil
}
