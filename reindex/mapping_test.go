package reindex

import (
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
)

func readMapping(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../mappings/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// editMapping decodes a mapping file, lets edit change it and re-encodes it.
func editMapping(t testing.TB, body []byte, edit func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func mappingsOf(m map[string]any) map[string]any { return m["mappings"].(map[string]any) }
func metaOf(m map[string]any) map[string]any     { return mappingsOf(m)["_meta"].(map[string]any) }
func propsOf(m map[string]any) map[string]any    { return mappingsOf(m)["properties"].(map[string]any) }

func TestParseMappingFiles(t *testing.T) {
	for _, tc := range []struct {
		file    string
		version int
		index   string
	}{
		{"orders_v1.json", 1, "orders_v1"},
		{"orders_v2.json", 2, "orders_v2"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			m, err := ParseMapping(readMapping(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if m.Version != tc.version || m.IndexName() != tc.index {
				t.Errorf("got version %d index %s, want %d %s", m.Version, m.IndexName(), tc.version, tc.index)
			}
		})
	}
}

func TestParseMappingRejectsInvalid(t *testing.T) {
	v2 := readMapping(t, "orders_v2.json")
	for _, tc := range []struct {
		name string
		body []byte
		want string
	}{
		{"not json", []byte("{"), "invalid mapping"},
		{"trailing data", append(append([]byte{}, v2...), []byte("{}")...), "trailing"},
		{"unknown top-level key", editMapping(t, v2, func(m map[string]any) { m["aliases"] = map[string]any{} }), "unknown field"},
		{"no mappings", editMapping(t, v2, func(m map[string]any) { delete(m, "mappings") }), "mappings are missing"},
		{"no meta", editMapping(t, v2, func(m map[string]any) { delete(mappingsOf(m), "_meta") }), "_meta is missing"},
		{"no version", editMapping(t, v2, func(m map[string]any) { delete(metaOf(m), "mapping_version") }), "mapping_version is missing"},
		{"version zero", editMapping(t, v2, func(m map[string]any) { metaOf(m)["mapping_version"] = 0 }), "must be an integer >= 1"},
		{"bad table", editMapping(t, v2, func(m map[string]any) { metaOf(m)["table"] = "Orders!" }), "lower-case index name"},
		{"column without property", editMapping(t, v2, func(m map[string]any) { delete(propsOf(m), "customer_country") }), "_meta.columns.customer_country has no property"},
		{"property without type", editMapping(t, v2, func(m map[string]any) { propsOf(m)["status"] = map[string]any{} }), "property status has no type"},
		{"no order_id", editMapping(t, v2, func(m map[string]any) {
			delete(propsOf(m), "order_id")
			delete(metaOf(m)["columns"].(map[string]any), "order_id")
		}), "order_id is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseMapping(tc.body)
			if !errors.Is(err, ErrInvalidMapping) {
				t.Fatalf("got %v, want ErrInvalidMapping", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %q, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestDiff(t *testing.T) {
	v1b, v2b := readMapping(t, "orders_v1.json"), readMapping(t, "orders_v2.json")
	mustParse := func(b []byte) *Mapping {
		m, err := ParseMapping(b)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	v1, v2 := mustParse(v1b), mustParse(v2b)
	metaOnly := mustParse(editMapping(t, v1b, func(m map[string]any) {
		metaOf(m)["columns"].(map[string]any)["status"].(map[string]any)["label"] = "State"
	}))
	changed := mustParse(editMapping(t, v2b, func(m map[string]any) {
		propsOf(m)["order_number"] = map[string]any{"type": "text"}
		delete(propsOf(m), "customer_country")
		delete(metaOf(m)["columns"].(map[string]any), "customer_country")
		metaOf(m)["mapping_version"] = 3
	}))
	notBumped := mustParse(editMapping(t, v2b, func(m map[string]any) { metaOf(m)["mapping_version"] = 1 }))
	for _, tc := range []struct {
		name                    string
		next, live              *Mapping
		added, removed, changed []string
		rebuild, metaOnly       bool
		problem                 string
	}{
		{name: "first index", next: v1, live: nil, added: v1.FieldNames(), rebuild: true},
		{name: "add column", next: v2, live: v1, added: []string{"customer_country"}, rebuild: true},
		{name: "identical", next: v2, live: v2, problem: "identical"},
		{name: "meta only", next: metaOnly, live: v1, metaOnly: true, problem: "only _meta differs"},
		{name: "change and remove", next: changed, live: v1, changed: []string{"order_number"}, rebuild: true},
		{name: "version not bumped", next: notBumped, live: v1, added: []string{"customer_country"}, rebuild: true, problem: "must be greater"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := diff(tc.next, tc.live, "orders_v1")
			if !slices.Equal(p.Added, tc.added) || !slices.Equal(p.Removed, tc.removed) || !slices.Equal(p.Changed, tc.changed) {
				t.Errorf("got added %v removed %v changed %v, want %v %v %v", p.Added, p.Removed, p.Changed, tc.added, tc.removed, tc.changed)
			}
			if p.Rebuild != tc.rebuild || p.MetaOnly != tc.metaOnly {
				t.Errorf("got rebuild %v metaOnly %v, want %v %v", p.Rebuild, p.MetaOnly, tc.rebuild, tc.metaOnly)
			}
			if (tc.problem == "") != (p.Problem == "") || !strings.Contains(p.Problem, tc.problem) {
				t.Errorf("got problem %q, want %q", p.Problem, tc.problem)
			}
		})
	}
}

func TestBuildBodyAndProductionSettings(t *testing.T) {
	m, err := ParseMapping(readMapping(t, "orders_v2.json"))
	if err != nil {
		t.Fatal(err)
	}
	body, err := m.buildBody("12h")
	if err != nil {
		t.Fatal(err)
	}
	idx := body["settings"].(map[string]any)["index"].(map[string]any)
	for k, want := range map[string]any{"refresh_interval": "-1", "number_of_replicas": 0, "gc_deletes": "12h"} {
		if !jsonEqual(idx[k], want) {
			t.Errorf("build setting %s: got %v, want %v", k, idx[k], want)
		}
	}
	if !jsonEqual(idx["number_of_shards"], 1) {
		t.Errorf("number_of_shards: got %v, want 1 (static settings kept)", idx["number_of_shards"])
	}
	prod := m.productionSettings()
	if !jsonEqual(prod["refresh_interval"], "1s") || !jsonEqual(prod["number_of_replicas"], 0) || prod["gc_deletes"] != nil {
		t.Errorf("production settings: got %v, want the file's refresh/replicas and gc_deletes reset", prod)
	}
	if _, ok := prod["number_of_shards"]; ok {
		t.Errorf("production settings must not carry the static number_of_shards: %v", prod)
	}
}
