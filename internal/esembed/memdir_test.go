package esembed

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// TestInMemoryIndexMergesSegments: an in-memory index under steady refreshed writes keeps a
// bounded number of segments (scorch merges only an index with a path; without one, every
// refresh stayed a segment and searches slowed down for as long as the engine ran).
func TestInMemoryIndexMergesSegments(t *testing.T) {
	ts := newTestServer(t)
	ts.must(200, "PUT", "/m", map[string]any{"mappings": map[string]any{"properties": map[string]any{"n": map[string]any{"type": "keyword"}}}})
	const refreshes = 300
	for i := range refreshes {
		ts.must(201, "PUT", fmt.Sprintf("/m/_doc/%d?refresh=true", i), map[string]any{"n": strconv.Itoa(i)})
	}
	ix := ts.eng.indices["m"]
	segments := func() uint64 {
		st := ix.pinned.StatsMap()
		mem, _ := st["num_root_memorysegments"].(uint64)
		file, _ := st["num_root_filesegments"].(uint64)
		return mem + file
	}
	deadline := time.Now().Add(20 * time.Second)
	for segments() > refreshes/10 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := segments(); n > refreshes/10 {
		t.Fatalf("%d refreshed writes left %d segments, want them merged to at most %d", refreshes, n, refreshes/10)
	}
	out := ts.must(200, "POST", "/m/_count", nil)
	if got := get(out, "count"); fmt.Sprint(got) != strconv.Itoa(refreshes) {
		t.Fatalf("count %v, want %d", got, refreshes)
	}
}

// TestInMemoryDirectories: an engine removes its directory when it closes, and the next
// engine removes the directories whose lock nobody holds (engines killed before closing).
func TestInMemoryDirectories(t *testing.T) {
	eng, err := Open(Config{})
	if err != nil {
		t.Fatal(err)
	}
	dir := eng.memDir
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("in-memory engine directory: %v", err)
	}
	if err := eng.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("after Close, %s: %v, want it removed", dir, err)
	}

	base := t.TempDir()
	mk := func(name string, lock bool) string {
		d := filepath.Join(base, name)
		if err := os.MkdirAll(filepath.Join(d, "x"), 0o755); err != nil {
			t.Fatal(err)
		}
		if lock {
			if err := os.WriteFile(filepath.Join(d, memLockName), nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	dead := mk(memDirPrefix+"dead", true)
	live := mk(memDirPrefix+"live", true)
	creating := mk(memDirPrefix+"creating", false)
	stale := mk(memDirPrefix+"stale", false)
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	other := mk("unrelated", false)
	if err := os.Chtimes(other, old, old); err != nil {
		t.Fatal(err)
	}
	// A running engine holds its directory's lock (another open file: flock excludes it even
	// within this process).
	lf, err := os.OpenFile(filepath.Join(live, memLockName), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	removeOrphanMemDirs(base, time.Minute)
	for d, want := range map[string]bool{dead: false, live: true, creating: true, stale: false, other: true} {
		_, err := os.Stat(d)
		if got := err == nil; got != want {
			t.Errorf("%s exists: got %v, want %v", filepath.Base(d), got, want)
		}
	}
}
