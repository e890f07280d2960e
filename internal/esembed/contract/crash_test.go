package contract

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esutil"
)

// repoRoot walks up from the package directory to go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the package directory")
		}
		dir = parent
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// engineProcess is `ordertable es` running as a child process.
type engineProcess struct {
	cmd  *exec.Cmd
	addr string
	out  *bytes.Buffer
}

func startEngine(t *testing.T, bin, dataDir string) *engineProcess {
	t.Helper()
	addr := freePort(t)
	out := &bytes.Buffer{}
	cmd := exec.Command(bin, "es", "--listen", addr, "--data", dataDir)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	p := &engineProcess{cmd: cmd, addr: addr, out: out}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	waitFor(t, 60*time.Second, "ordertable es answers on "+addr, func() (bool, string) {
		select {
		case <-exited:
			t.Fatalf("ordertable es exited: %s", out.String())
		default:
		}
		resp, err := http.Get("http://" + addr + "/")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	})
	return p
}

// TestCrashRecovery kills the engine with SIGKILL in the middle of a bulk load and checks that
// every write it acknowledged is there after a restart on the same data directory, with its
// version, as well as the index, its mapping, settings, alias and tombstones.
func TestCrashRecovery(t *testing.T) {
	if os.Getenv("ES_URL") != "" {
		t.Skip("crash recovery runs the embedded engine as a child process; ES_URL is set")
	}
	if testing.Short() {
		t.Skip("builds the binary: skipped in -short mode")
	}
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "ordertable")
	build := exec.Command("go", "build", "-o", bin, "./cmd/ordertable")
	build.Dir = repoRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dataDir := filepath.Join(tmp, "data")

	p := startEngine(t, bin, dataDir)
	e := clientsFor(t, "http://"+p.addr)
	idx := "crash-orders"
	alias := "crash-live"
	e.mustRaw(t, 200, http.MethodPut, "/"+idx, `{"settings": {"refresh_interval": "-1", "index.gc_deletes": "1h"},
		"mappings": {"dynamic": "strict", "properties": {"n": {"type": "long"}, "s": {"type": "keyword"}}},
		"aliases": {"`+alias+`": {}}}`)
	// A tombstone: external delete at version 100 of a document that never existed.
	if status, body := e.raw(t, http.MethodDelete, "/"+idx+"/_doc/tomb?version=100&version_type=external", nil); status != 404 {
		t.Fatalf("tombstone delete: %d %s", status, show(body))
	}

	// Two crash cycles: bulk-index until killed, restart, check; the second cycle also replays
	// on top of a recovered directory.
	want := map[string]int64{}
	next := 0
	for cycle := 1; cycle <= 2; cycle++ {
		acked, last := bulkUntilKilled(t, e, p, idx, next)
		next = last + 1
		for k, v := range acked {
			want[k] = v
		}
		t.Logf("cycle %d: killed after %d acknowledged items (%d in all)", cycle, len(acked), len(want))

		p = startEngine(t, bin, dataDir)
		e = clientsFor(t, "http://"+p.addr)
		checkRecovered(t, e, idx, alias, want)
	}
}

// bulkUntilKilled bulk-indexes documents d<from>, d<from+1>, ... with external versions and
// SIGKILLs the engine once 2000 items are acknowledged. It returns the acknowledged ids with
// their versions and the last id number it tried.
func bulkUntilKilled(t *testing.T, e *env, p *engineProcess, idx string, from int) (map[string]int64, int) {
	t.Helper()
	var mu sync.Mutex
	acked := map[string]int64{}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	bi, err := esutil.NewBulkIndexer(esutil.BulkIndexerConfig{
		Client: e.plain, Index: idx, NumWorkers: 2, FlushBytes: 8 << 10, FlushInterval: 50 * time.Millisecond,
		OnError: func(context.Context, error) {},
	})
	if err != nil {
		t.Fatal(err)
	}
	var last atomic.Int64
	loaderDone := make(chan struct{})
	go func() {
		defer close(loaderDone)
		for i := from; ctx.Err() == nil && i < from+200000; i++ {
			last.Store(int64(i))
			id := fmt.Sprintf("d%07d", i)
			v := int64(i%5 + 1)
			_ = bi.Add(ctx, esutil.BulkIndexerItem{
				Action: "index", DocumentID: id, Version: &v, VersionType: "external",
				Body: strings.NewReader(fmt.Sprintf(`{"n": %d, "s": "%s"}`, i, strings.Repeat("x", 100))),
				OnSuccess: func(_ context.Context, it esutil.BulkIndexerItem, res esutil.BulkIndexerResponseItem) {
					mu.Lock()
					acked[it.DocumentID] = res.Version
					mu.Unlock()
				},
			})
		}
		closeCtx, cancelClose := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancelClose()
		_ = bi.Close(closeCtx)
	}()

	waitFor(t, 60*time.Second, "2000 acknowledged bulk items", func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		return len(acked) >= 2000, fmt.Sprintf("%d acknowledged", len(acked))
	})
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill: %v", err)
	}
	cancel()
	<-loaderDone
	mu.Lock()
	defer mu.Unlock()
	out := make(map[string]int64, len(acked))
	for k, v := range acked {
		out[k] = v
	}
	return out, int(last.Load())
}

// checkRecovered asserts the index metadata and every acknowledged document after a restart.
func checkRecovered(t *testing.T, e *env, idx, alias string, want map[string]int64) {
	t.Helper()
	settings := e.mustRaw(t, 200, http.MethodGet, "/"+idx+"/_settings", nil)
	if got := path(settings, idx+".settings.index.refresh_interval"); got != "-1" {
		t.Errorf("refresh_interval after restart: got %v, want -1", got)
	}
	if ok, _ := e.typed.Indices.ExistsAlias(alias).IsSuccess(ctxT(t)); !ok {
		t.Errorf("alias %s lost in the crash", alias)
	}
	status, body := e.raw(t, http.MethodPut, "/"+idx+"/_doc/x", `{"unknown": 1}`)
	checkErrorShape(t, status, body, 400, "strict_dynamic_mapping_exception")
	status, body = e.raw(t, http.MethodPut, "/"+idx+"/_doc/tomb?version=99&version_type=external", `{"n": 1}`)
	checkErrorShape(t, status, body, 409, "version_conflict_engine_exception")

	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	var missing, wrong []string
	for start := 0; start < len(keys); start += 500 {
		batch := keys[start:min(start+500, len(keys))]
		docs := make([]string, len(batch))
		for i, id := range batch {
			docs[i] = fmt.Sprintf(`{"_id": %q}`, id)
		}
		resp := e.mustRaw(t, 200, http.MethodPost, "/"+idx+"/_mget?_source=false", `{"docs": [`+strings.Join(docs, ",")+`]}`)
		got, _ := resp["docs"].([]any)
		for i, id := range batch {
			if i >= len(got) || path(got[i], "found") != true {
				missing = append(missing, id)
				continue
			}
			if v := int64(jsonInt(path(got[i], "_version"))); v != want[id] {
				wrong = append(wrong, fmt.Sprintf("%s: _version %d, want %d", id, v, want[id]))
			}
		}
	}
	if len(missing) > 0 {
		t.Errorf("%d of %d acknowledged documents lost in the crash, e.g. %v", len(missing), len(want), missing[:min(5, len(missing))])
	}
	if len(wrong) > 0 {
		t.Errorf("%d documents with a wrong version after restart, e.g. %v", len(wrong), wrong[:min(5, len(wrong))])
	}
	// Replayed documents are searchable after a refresh.
	e.mustRaw(t, 200, http.MethodPost, "/"+idx+"/_refresh", nil)
	if c := e.mustRaw(t, 200, http.MethodGet, "/"+alias+"/_count", nil); jsonInt(c["count"]) < len(want) {
		t.Errorf("count after restart: got %v, want ≥ %d", c["count"], len(want))
	}
}

func clientsFor(t *testing.T, u string) *env {
	t.Helper()
	cfg := elasticsearch.Config{Addresses: []string{u}, MaxRetries: 1}
	typed, err := elasticsearch.NewTypedClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := elasticsearch.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &env{url: u, typed: typed, plain: plain}
}
