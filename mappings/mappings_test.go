package mappings

import (
	"strings"
	"testing"
)

func TestEmbeddedMappingsParse(t *testing.T) {
	all, err := All()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < 2 {
		t.Fatalf("got %d mappings, want at least orders_v1 and orders_v2", len(all))
	}
	for i, m := range all {
		if m.Version != i+1 {
			t.Errorf("mapping %d: got version %d, want %d", i, m.Version, i+1)
		}
		if m.Index != IndexName(m.Version) {
			t.Errorf("got index %s, want %s", m.Index, IndexName(m.Version))
		}
		if m.Dynamic != "strict" {
			t.Errorf("%s: got dynamic %q, want strict", m.Index, m.Dynamic)
		}
	}
	v1, v2 := all[0], all[1]
	if v1.Fields.Has("customer_country") {
		t.Error("orders_v1 declares customer_country; the reindex demo needs it absent")
	}
	if !v2.Fields.Has("customer_country") {
		t.Error("orders_v2 lacks customer_country")
	}
	if got := v1.Fields["customer_name"].SortField(); got != "customer_name.keyword" {
		t.Errorf("customer_name sort field: got %q, want customer_name.keyword", got)
	}
	if got := v1.Fields["total"].ScalingFactor; got != 100 {
		t.Errorf("total scaling factor: got %v, want 100", got)
	}
	cols := v1.ColumnsInOrder()
	if len(cols) == 0 || cols[0].Name != "order_number" {
		t.Errorf("first column: got %+v, want order_number", cols)
	}
	if c := v2.Columns["customer_country"]; !c.Visible || !c.Facet || c.Label == "" {
		t.Errorf("customer_country column: got %+v", c)
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		name, index, body, want string
	}{
		{"not json", "orders_v1", `{`, "unexpected EOF"},
		{"unknown top key", "orders_v1", `{"mappings":{},"aliases":{}}`, "unknown field"},
		{"wrong version", "orders_v2", `{"mappings":{"_meta":{"table":"orders","mapping_version":1}}}`, "means index orders_v1"},
		{"column without field", "orders_v1", `{"mappings":{"_meta":{"table":"orders","mapping_version":1,"columns":{"x":{"label":"X"}}}}}`, "column x has no field"},
		{"field without column", "orders_v1", `{"mappings":{"_meta":{"table":"orders","mapping_version":1,"columns":{}},"properties":{"x":{"type":"keyword"}}}}`, "field x has no column"},
		{"visible text not sortable", "orders_v1", `{"mappings":{"_meta":{"table":"orders","mapping_version":1,"columns":{"x":{"label":"X","visible":true}}},"properties":{"x":{"type":"text"}}}}`, "not sortable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.index, []byte(tt.body))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want error containing %q", err, tt.want)
			}
		})
	}
}

func TestParseFieldsFromGetMapping(t *testing.T) {
	fs, err := ParseFields([]byte(`{"dynamic":"strict","properties":{"a":{"type":"keyword"},"b":{"type":"text","fields":{"keyword":{"type":"keyword"}}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(fs.Names(), ","); got != "a,b" {
		t.Fatalf("got %s, want a,b", got)
	}
	if got := fs["b"].Fields["keyword"].Name; got != "b.keyword" {
		t.Fatalf("got %s, want b.keyword", got)
	}
}

func TestVersionOf(t *testing.T) {
	for in, want := range map[string]int{"orders_v1": 1, "orders_v12": 12, "orders_v0": 0, "orders_v01": 0, "orders": 0, "x_v1": 0} {
		got, ok := VersionOf(in)
		if got != want || ok != (want > 0) {
			t.Errorf("VersionOf(%q): got %d,%v, want %d", in, got, ok, want)
		}
	}
}
