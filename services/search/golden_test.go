package search

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestColumnsGolden pins the columns the API derives from each mapping version, the contract
// the web page renders from (types, sortability, formats, facets).
func TestColumnsGolden(t *testing.T) {
	for _, v := range []string{"v1", "v2"} {
		t.Run(v, func(t *testing.T) {
			tb := tableV(t, v)
			got, err := json.MarshalIndent(columnsResponse{Index: "orders_" + v, Alias: "orders", MappingVersion: tb.MappingVersion, Columns: tb.Columns}, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join("testdata", "columns_"+v+".golden.json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("columns of %s differ from %s (run with -update if intended):\n%s", v, path, got)
			}
		})
	}
}
