package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/ordertable/ordertable/internal/bench"
	"github.com/ordertable/ordertable/internal/bench/stack"
	"github.com/ordertable/ordertable/internal/esindex"
	"github.com/ordertable/ordertable/internal/testenv"
	"github.com/ordertable/ordertable/mappings"
)

// abuseBound is how long any hostile request may take to be answered.
const abuseBound = 5 * time.Second

// TestAbuseSearchAPI sends every hostile request of bench.AbuseCases to the public search API
// and requires an acceptable answer (4xx; or 2xx where the input is harmless as literal text)
// within abuseBound, and that the API still answers normal requests afterwards. The latency
// of normal traffic under abuse is a bench figure (ordertable bench --only abuse), not
// asserted here.
func TestAbuseSearchAPI(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	brokers := testenv.EnvKafkaBrokers()
	st, err := stack.Start(ctx, stack.Config{ESURL: os.Getenv("ES_URL"), KafkaBrokers: brokers,
		AdminDatabaseURL: testenv.AdminDatabaseURL(), WorkDir: t.TempDir(), Name: "abuse"})
	if err != nil {
		t.Fatalf("start stack: %v", err)
	}
	defer st.Close()
	loadTable(ctx, t, st.ESURL, 30)
	base, err := st.StartSearch()
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Timeout: 2 * abuseBound}
	cursor := validCursor(ctx, t, hc, base)
	for _, c := range bench.AbuseCases(cursor) {
		t.Run(c.Name, func(t *testing.T) {
			status, took, err := c.Do(ctx, hc, base)
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			t.Logf("%s %s: status %d in %s", c.Method, c.Path, status, took.Round(time.Millisecond))
			if !c.Accepts(status) {
				t.Errorf("status %d, want %s", status, c.WantText())
			}
			if took > abuseBound {
				t.Errorf("answered in %s, want within %s", took, abuseBound)
			}
		})
	}
	// Still healthy for everyone else.
	res, err := hc.Get(base + "/v1/orders?size=10&sort=-total")
	if err != nil {
		t.Fatalf("normal request after the abuse: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("normal request after the abuse: status %d, want 200", res.StatusCode)
	}
}

// loadTable creates the orders table (orders_v1 behind the aliases) and writes n documents.
func loadTable(ctx context.Context, t *testing.T, esURL string, n int) {
	t.Helper()
	es, err := esindex.NewClient(esindex.Config{URLs: []string{esURL}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := mappings.First()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := es.Bootstrap(ctx, m); err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	var body bytes.Buffer
	for i := range n {
		fmt.Fprintf(&body, `{"index":{"_index":%q,"_id":"0190a1b2-0000-7000-8000-%012d"}}`+"\n", m.Index, i)
		doc := map[string]any{"order_id": fmt.Sprintf("0190a1b2-0000-7000-8000-%012d", i), "order_number": fmt.Sprintf("PO-2026-%06d", i),
			"status": []string{"placed", "paid", "shipped"}[i%3], "total": float64(i) * 10.5, "currency": "EUR",
			"placed_at": time.Date(2026, 1, 1+i%28, 0, 0, 0, 0, time.UTC).Format(time.RFC3339), "updated_at": "2026-02-01T00:00:00Z",
			"customer_id": "c1", "customer_name": fmt.Sprintf("Customer %d", i%7), "customer_deleted": false,
			"order_version": 1, "customer_version": 1, "indexed_at": "2026-02-01T00:00:00Z"}
		b, _ := json.Marshal(doc)
		body.Write(b)
		body.WriteByte('\n')
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, esURL+"/_bulk?refresh=true", &body)
	req.Header.Set("Content-Type", "application/x-ndjson")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("load documents: %v", err)
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || bytes.Contains(raw, []byte(`"errors":true`)) {
		t.Fatalf("load documents: HTTP %d: %.300s", res.StatusCode, raw)
	}
}

// validCursor returns a next_cursor of a real first page.
func validCursor(ctx context.Context, t *testing.T, hc *http.Client, base string) string {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/orders?size=5&sort=-placed_at", nil)
	res, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var p struct {
		NextCursor *string `json:"next_cursor"`
	}
	if err := json.NewDecoder(res.Body).Decode(&p); err != nil || res.StatusCode != 200 || p.NextCursor == nil {
		t.Fatalf("first page: status %d, err %v, cursor %v", res.StatusCode, err, p.NextCursor)
	}
	return *p.NextCursor
}
