package esembed

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/keyword"
	"github.com/blevesearch/bleve/v2/index/scorch"
	bmapping "github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/search"
)

// Benchmarks compare the engine with raw bleve doing the same work, measured in the same run:
//
//	go test ./internal/esembed -run '^$' -bench 'Bulk' -benchtime 3x
//	ESEMBED_BENCH_DOCS=1000000 go test ./internal/esembed -run TestLargeScaleFigures -v -timeout 60m
//
// The 1,000,000-document figures (sorted search p50/p99, search_after depth, RSS) come from
// TestLargeScaleFigures, which only runs when ESEMBED_BENCH_DOCS is set.

var statuses = []string{"open", "paid", "shipped", "delivered", "cancelled"}
var currencies = []string{"EUR", "USD", "GBP", "JPY"}
var countries = []string{"FR", "DE", "US", "GB", "JP", "IT", "ES", "NL"}
var firstNames = []string{"Ada", "Bob", "Chloé", "Dmitri", "Eve", "Farah", "Gus", "Hana", "Ivan", "Jun"}
var lastNames = []string{"Smith", "Müller", "Dupont", "Rossi", "Tanaka", "Khan", "Novak", "Silva"}

// orderDoc is a ~1 KB order-like document of the orders_v2 mapping.
func orderDoc(r *rand.Rand, i int) map[string]any {
	placed := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.IntN(365*24*3600)) * time.Second)
	return map[string]any{
		"order_number":     fmt.Sprintf("ORD-%08d", i),
		"status":           statuses[r.IntN(len(statuses))],
		"total":            float64(r.IntN(1000000)) / 100,
		"currency":         currencies[r.IntN(len(currencies))],
		"placed_at":        placed.Format(time.RFC3339),
		"updated_at":       placed.Add(time.Hour).Format(time.RFC3339),
		"customer_name":    firstNames[r.IntN(len(firstNames))] + " " + lastNames[r.IntN(len(lastNames))] + " " + strconv.Itoa(r.IntN(10000)),
		"customer_country": countries[r.IntN(len(countries))],
		"customer_id":      fmt.Sprintf("cust-%06d-%s", r.IntN(100000), strings.Repeat("x", 200)),
		"order_id":         fmt.Sprintf("order-%08d-%s", i, strings.Repeat("y", 400)),
		"customer_deleted": r.IntN(50) == 0,
		"order_version":    r.Int64N(1 << 40),
		"customer_version": r.Int64N(1 << 20),
		"indexed_at":       placed.Add(2 * time.Hour).Format(time.RFC3339Nano),
	}
}

func ordersV2Body(tb testing.TB) []byte {
	b, err := os.ReadFile("../../mappings/orders_v2.json")
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// rawBleveMapping is the bleve mapping equivalent to orders_v2 for the raw baseline.
func rawBleveMapping() bmapping.IndexMapping {
	im := bleve.NewIndexMapping()
	dm := bleve.NewDocumentStaticMapping()
	kw := func() *bmapping.FieldMapping {
		f := bleve.NewKeywordFieldMapping()
		f.Analyzer = keyword.Name
		f.DocValues = true
		return f
	}
	num := func() *bmapping.FieldMapping { f := bleve.NewNumericFieldMapping(); f.DocValues = true; return f }
	dt := func() *bmapping.FieldMapping { f := bleve.NewDateTimeFieldMapping(); f.DocValues = true; return f }
	for _, k := range []string{"order_number", "status", "currency", "customer_country", "customer_id", "order_id"} {
		dm.AddFieldMappingsAt(k, kw())
	}
	for _, k := range []string{"total", "order_version", "customer_version"} {
		dm.AddFieldMappingsAt(k, num())
	}
	for _, k := range []string{"placed_at", "updated_at", "indexed_at"} {
		dm.AddFieldMappingsAt(k, dt())
	}
	b := bleve.NewBooleanFieldMapping()
	b.DocValues = true
	dm.AddFieldMappingsAt("customer_deleted", b)
	txt := bleve.NewTextFieldMapping()
	txt.Analyzer = "standard"
	txt.IncludeTermVectors = true
	kwSub := kw()
	kwSub.Name = "customer_name.keyword"
	dm.AddFieldMappingsAt("customer_name", txt, kwSub)
	im.DefaultMapping = dm
	im.StoreDynamic = false
	im.DocValuesDynamic = false
	return im
}

func bulkBody(docs []map[string]any, from, to int, index string) []byte {
	var buf bytes.Buffer
	for i := from; i < to; i++ {
		fmt.Fprintf(&buf, `{"index":{"_index":%q,"_id":"o%d"}}`+"\n", index, i)
		b, _ := json.Marshal(docs[i])
		buf.Write(b)
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

func post(tb testing.TB, client *http.Client, url string, body []byte) []byte {
	resp, err := client.Post(url, "application/x-ndjson", bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		tb.Fatalf("POST %s: %d %s", url, resp.StatusCode, out)
	}
	return out
}

func startEngine(tb testing.TB, dir string) (string, *Engine, func()) {
	eng, err := Open(Config{DataDir: dir})
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- eng.Serve(ctx, ln) }()
	return "http://" + ln.Addr().String(), eng, func() { cancel(); <-done; _ = eng.Close() }
}

const benchBatch = 1000

// BenchmarkBulk indexes the same 1 KB order documents through the engine's HTTP _bulk API
// (JSON in, per-item JSON out, then a refresh that makes them searchable) and through raw
// bleve batches; compare the docs/s of the two sub-benchmarks.
func BenchmarkBulk(b *testing.B) {
	n := 20000
	if v, err := strconv.Atoi(os.Getenv("ESEMBED_BENCH_BULK_DOCS")); err == nil {
		n = v
	}
	r := rand.New(rand.NewPCG(1, 2))
	docs := make([]map[string]any, n)
	for i := range docs {
		docs[i] = orderDoc(r, i)
	}
	bodies := make([][]byte, 0, n/benchBatch+1)
	for i := 0; i < n; i += benchBatch {
		bodies = append(bodies, bulkBody(docs, i, min(i+benchBatch, n), "orders"))
	}
	b.Run("http", func(b *testing.B) {
		for it := 0; it < b.N; it++ {
			b.StopTimer()
			url, _, stop := startEngine(b, "")
			client := &http.Client{}
			req, _ := http.NewRequest(http.MethodPut, url+"/orders", bytes.NewReader(bytes.Replace(ordersV2Body(b), []byte(`"refresh_interval": "1s"`), []byte(`"refresh_interval": "-1"`), 1)))
			req.Header.Set("Content-Type", "application/json")
			if resp, err := client.Do(req); err != nil || resp.StatusCode != 200 {
				b.Fatalf("create: %v %v", err, resp)
			}
			b.StartTimer()
			for _, body := range bodies {
				post(b, client, url+"/_bulk", body)
			}
			post(b, client, url+"/orders/_refresh", nil)
			b.StopTimer()
			stop()
			b.StartTimer()
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "docs/s")
	})
	b.Run("raw_bleve", func(b *testing.B) {
		for it := 0; it < b.N; it++ {
			b.StopTimer()
			idx, err := bleve.NewUsing("", rawBleveMapping(), scorch.Name, scorch.Name, nil)
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			for i := 0; i < n; i += benchBatch {
				batch := idx.NewBatch()
				for j := i; j < min(i+benchBatch, n); j++ {
					if err := batch.Index("o"+strconv.Itoa(j), docs[j]); err != nil {
						b.Fatal(err)
					}
				}
				if err := idx.Batch(batch); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			_ = idx.Close()
			b.StartTimer()
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "docs/s")
	})
}

// percentile returns the p-th percentile of ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[int(float64(len(s)-1)*p)]
}

func rssMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			kb, _ := strconv.Atoi(f[1])
			return float64(kb) / 1024
		}
	}
	return 0
}

// procMem is the process's resident memory in MB: all of it, its anonymous part and its
// file-backed part (mmapped files).
type procMem struct{ rss, anon, file float64 }

func procMemMB() procMem {
	var m procMem
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return m
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.Atoi(f[1])
		switch f[0] {
		case "VmRSS:":
			m.rss = float64(kb) / 1024
		case "RssAnon:":
			m.anon = float64(kb) / 1024
		case "RssFile:":
			m.file = float64(kb) / 1024
		}
	}
	return m
}

var _ = search.HighTerm
