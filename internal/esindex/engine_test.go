package esindex_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/ordertable/ordertable/internal/esindex"
	"github.com/ordertable/ordertable/internal/esindex/faultproxy"
	"github.com/ordertable/ordertable/internal/testenv"
	"github.com/ordertable/ordertable/mappings"
)

func newClient(t *testing.T, url string) *esindex.Client {
	t.Helper()
	c, err := esindex.NewClient(esindex.Config{URLs: []string{url}, MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// These tests use the alias names of the contract, so they need an engine of their own: the
// embedded one (they skip on a shared ES_URL).
func engine(t *testing.T) string {
	t.Helper()
	return testenv.EmbeddedES(t, "")
}

func TestBootstrapRaceAndIdempotence(t *testing.T) {
	c := newClient(t, engine(t))
	ctx := context.Background()
	m, err := mappings.First()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.LiveIndex(ctx); !errors.Is(err, esindex.ErrNoAlias) {
		t.Fatalf("fresh engine: got %v, want ErrNoAlias", err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() { _, errs[i] = c.Bootstrap(ctx, m) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	live, err := c.LiveIndex(ctx)
	if err != nil || live != "orders_v1" {
		t.Fatalf("live: got %q, %v, want orders_v1", live, err)
	}
	targets, err := c.Targets(ctx)
	if err != nil || len(targets) != 1 || targets[0] != "orders_v1" {
		t.Fatalf("targets: got %v, %v, want [orders_v1]", targets, err)
	}
	if changed, err := c.Bootstrap(ctx, m); err != nil || changed {
		t.Fatalf("second bootstrap: got changed=%v, %v, want false, nil", changed, err)
	}
	fs, err := c.Fields(ctx, "orders_v1")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(fs.Names()), fmt.Sprint(m.Fields.Names()); got != want {
		t.Fatalf("fields: got %s, want %s", got, want)
	}
	// A layout with the read alias but no target alias gets the target alias.
	if err := c.UpdateAliases(ctx, esindex.AliasAction{Remove: &esindex.AliasRef{Index: "orders_v1", Alias: esindex.AliasTargets}}); err != nil {
		t.Fatal(err)
	}
	if changed, err := c.Bootstrap(ctx, m); err != nil || !changed {
		t.Fatalf("repair bootstrap: got changed=%v, %v, want true, nil", changed, err)
	}
	if targets, err := c.Targets(ctx); err != nil || len(targets) != 1 {
		t.Fatalf("targets after repair: got %v, %v", targets, err)
	}
}

func TestBulkExternalVersionsOnEngine(t *testing.T) {
	c := newClient(t, engine(t))
	ctx := context.Background()
	if _, err := c.CreateIndex(ctx, "v", []byte(`{"mappings":{"dynamic":"strict","properties":{"n":{"type":"long"}}}}`)); err != nil {
		t.Fatal(err)
	}
	w := c.NewBulkWriter(esindex.BulkOptions{Refresh: "true"})
	write := func(ops ...esindex.Op) []esindex.ItemResult {
		t.Helper()
		res, err := w.Write(ctx, ops)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	doc := func(id string, v int64, n any) esindex.Op {
		return esindex.Op{Type: esindex.OpIndex, Index: "v", ID: id, Version: v, Doc: map[string]any{"n": n}}
	}
	res := write(doc("a", 10, 1), doc("b", 10, 1), doc("c", 1, "not a number"), doc("d", 1, 1))
	for i, want := range []esindex.Outcome{esindex.Applied, esindex.Applied, esindex.Rejected, esindex.Applied} {
		if res[i].Outcome != want {
			t.Errorf("first write %d: got %v (%s), want %v", i, res[i].Outcome, res[i].Reason(), want)
		}
	}
	res = write(doc("a", 9, 2), doc("a", 10, 2), doc("b", 11, 2),
		esindex.Op{Type: esindex.OpDelete, Index: "v", ID: "d", Version: 5},
		esindex.Op{Type: esindex.OpDelete, Index: "v", ID: "never", Version: 5})
	for i, want := range []esindex.Outcome{esindex.Conflict, esindex.Conflict, esindex.Applied, esindex.Applied, esindex.Applied} {
		if res[i].Outcome != want {
			t.Errorf("second write %d: got %v (%s), want %v", i, res[i].Outcome, res[i].Reason(), want)
		}
	}
	// The delete's tombstone refuses an older version.
	if res := write(doc("d", 4, 3)); res[0].Outcome != esindex.Conflict {
		t.Errorf("write under tombstone: got %v, want conflict", res[0].Outcome)
	}
	_, body, err := c.Do(ctx, http.MethodGet, "/v/_doc/b", nil)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Source map[string]any `json:"_source"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if got.Source["n"] != float64(2) {
		t.Errorf("b: got source %v, want {n:2}", got.Source)
	}
	if res := write(doc("b", 11, 3), doc("b", 12, 4)); res[0].Outcome != esindex.Conflict || res[1].Outcome != esindex.Applied {
		t.Errorf("b at 11 then 12: got %v, %v, want conflict, applied", res[0].Outcome, res[1].Outcome)
	}
	_, body, err = c.Do(ctx, http.MethodGet, "/v/_doc/b", nil)
	if err != nil {
		t.Fatal(err)
	}
	var final struct {
		Version int64 `json:"_version"`
	}
	if err := json.Unmarshal(body, &final); err != nil || final.Version != 12 {
		t.Errorf("b: got _version %d (%v), want the external version 12", final.Version, err)
	}
}

func TestBulkThroughFaultProxy(t *testing.T) {
	url := engine(t)
	p, err := faultproxy.Start(url, 42)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	c := newClient(t, p.URL())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := c.CreateIndex(ctx, "f", []byte(`{"mappings":{"properties":{"n":{"type":"long"}}}}`)); err != nil {
		t.Fatal(err)
	}
	p.SetFaults(faultproxy.Faults{PathContains: "/_bulk", RejectRate: 0.3, FailAfterRate: 0.2, ItemRejectRate: 0.2})
	retries := map[string]int{}
	var mu sync.Mutex
	w := c.NewBulkWriter(esindex.BulkOptions{
		Backoff: esindex.Backoff{Base: time.Millisecond, Max: 10 * time.Millisecond},
		OnRetry: func(r string, n int) { mu.Lock(); retries[r] += n; mu.Unlock() },
	})
	var ops []esindex.Op
	for i := range 200 {
		ops = append(ops, esindex.Op{Type: esindex.OpIndex, Index: "f", ID: fmt.Sprint(i), Version: 7, Doc: map[string]int{"n": i}})
	}
	for round := range 5 {
		res, err := w.Write(ctx, ops[round*40:(round+1)*40])
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range res {
			if r.Outcome == esindex.Rejected {
				t.Fatalf("op %d rejected: %s", i, r.Reason())
			}
		}
	}
	st := p.Stats()
	if st.Rejected == 0 || st.FailedAfter == 0 || st.ItemsRejected == 0 {
		t.Fatalf("proxy injected too little to test anything: %+v", st)
	}
	// Down, then up while a write waits: nothing is lost.
	p.SetFaults(faultproxy.Faults{})
	p.Down()
	done := make(chan error, 1)
	go func() {
		_, err := w.Write(ctx, []esindex.Op{{Type: esindex.OpIndex, Index: "f", ID: "late", Version: 1, Doc: map[string]int{"n": -1}}})
		done <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := retries["transport"]
		mu.Unlock()
		if n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no transport retries while down: %v", retries)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := p.Up(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := c.Refresh(ctx, "f"); err != nil {
		t.Fatal(err)
	}
	_, body, err := c.Do(ctx, http.MethodGet, "/f/_count", nil)
	if err != nil {
		t.Fatal(err)
	}
	var cnt struct{ Count int }
	if err := json.Unmarshal(body, &cnt); err != nil {
		t.Fatal(err)
	}
	if cnt.Count != 201 {
		t.Fatalf("count: got %d, want 201", cnt.Count)
	}
	t.Logf("proxy %+v, writer retries %v", st, retries)
}
