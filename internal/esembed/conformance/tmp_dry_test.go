package conformance

import (
	"path/filepath"
	"testing"
	"fmt"
	"sort"
)

func TestTmpDry(t *testing.T) {
	files, _ := filepath.Glob("/work/shared/es-rest-tests/test/*/*.yml")
	tg := &target{version: version{8,19,0}, features: map[string]bool{}}
	spec, _ := loadRestSpec("/work/shared/es-rest-tests/api")
	reasons := map[string]int{}
	run := 0
	paramErrs := map[string]int{}
	for _, f := range files {
		tf, _ := parseTestFile(f, f)
		for _, tc := range tf.tests {
			r := tg.checkPrerequisites(tf.setup)
			if r == "" { r = tg.checkPrerequisites(tc.steps) }
			if r == "" { r = outOfScope(tf.setup, tc.steps, tf.teardown) }
			if r != "" { reasons[r]++; continue }
			run++
			for _, s := range append(append([]step{}, tf.setup...), tc.steps...) {
				if s.kind != "do" { continue }
				m := s.arg.(map[string]any)
				for k, v := range m {
					switch k { case "catch","headers","warnings","allowed_warnings","node_selector","warnings_regex","allowed_warnings_regex": continue }
					if m["catch"] == "param" { continue }
					pm, _ := v.(map[string]any)
					params := map[string]string{}
					hasBody := false
					for pk, pv := range pm { if pk == "body" { hasBody = true; continue }; if pk == "ignore" {continue}; params[pk] = scalarString(pv) }
					if _, _, err := spec.buildCall(k, params, hasBody); err != nil { paramErrs[err.Error()]++ }
				}
			}
		}
	}
	keys := make([]string, 0)
	for k := range reasons { keys = append(keys, k) }
	sort.Strings(keys)
	for _, k := range keys { fmt.Println(reasons[k], k) }
	fmt.Println("run", run)
	for k, v := range paramErrs { fmt.Println("ERR", v, k) }
}
