package conformance

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// version is a major.minor.patch release number.
type version [3]int

func parseVersion(s string) (version, error) {
	var v version
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "-_ "); i >= 0 {
		s = s[:i]
	}
	parts := strings.Split(s, ".")
	if len(parts) == 0 || parts[0] == "" {
		return v, fmt.Errorf("version %q: empty", s)
	}
	for i := 0; i < len(parts) && i < 3; i++ {
		digits := parts[i]
		for j, r := range digits { // "0Beta1" -> "0"
			if r < '0' || r > '9' {
				digits = digits[:j]
				break
			}
		}
		n, err := strconv.Atoi(digits)
		if err != nil {
			return v, fmt.Errorf("version %q: %w", s, err)
		}
		v[i] = n
	}
	return v, nil
}

func (v version) cmp(o version) int {
	for i := range v {
		if v[i] != o[i] {
			if v[i] < o[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

func (v version) String() string { return fmt.Sprintf("%d.%d.%d", v[0], v[1], v[2]) }

// inVersionRanges reports whether v lies in a skip range list: "all", " - 6.99.99",
// "7.4.0 - ", "8.0.0 - 8.5.99, 8.8.0 - ".
func inVersionRanges(ranges string, v version) (bool, error) {
	ranges = strings.TrimSpace(ranges)
	if ranges == "all" {
		return true, nil
	}
	for _, r := range strings.Split(ranges, ",") {
		r = strings.TrimSpace(r)
		lo, hi, ok := strings.Cut(r, " - ")
		if !ok {
			switch {
			case strings.HasPrefix(r, "- "), strings.HasPrefix(r, "-"):
				lo, hi = "", strings.TrimPrefix(strings.TrimPrefix(r, "-"), " ")
			case strings.HasSuffix(r, " -"), strings.HasSuffix(r, "-"):
				lo, hi = strings.TrimSuffix(strings.TrimSuffix(r, "-"), " "), ""
			default:
				lo, hi = r, r
			}
		}
		lo, hi = strings.TrimSpace(lo), strings.TrimSpace(hi)
		in := true
		if lo != "" {
			lv, err := parseVersion(lo)
			if err != nil {
				return false, err
			}
			in = in && v.cmp(lv) >= 0
		}
		if hi != "" {
			hv, err := parseVersion(hi)
			if err != nil {
				return false, err
			}
			in = in && v.cmp(hv) <= 0
		}
		if in {
			return true, nil
		}
	}
	return false, nil
}

// runnerFeatures are the YAML runner features this runner implements (warnings are accepted
// and not checked, which the brief allows).
var runnerFeatures = map[string]bool{
	"headers": true, "allowed_warnings": true, "allowed_warnings_regex": true, "warnings": true,
	"warnings_regex": true, "contains": true, "stash_in_key": true, "stash_in_path": true,
	"embedded_stash_key": true, "arbitrary_key": true, "transform_and_set": true,
	"default_shards": true, "node_selector": true, "close_to": true, "capabilities": true,
	"no_xpack": true, "regex": true, "exists": true, "is_after": true,
}

// target describes the server under test for prerequisite checks.
type target struct {
	version version
	// features are the named cluster features the server claims; nil claims them all, as
	// the latest 8.x release has every feature these tests name.
	features map[string]bool
	// capable answers a `capabilities` requirement (nil: not supported).
	capable func(req map[string]any) bool
}

// hasClusterFeature resolves the synthetic gte_vX.Y.Z features from the version.
func (tg *target) hasClusterFeature(f string) bool {
	if strings.HasPrefix(f, "gte_v") {
		v, err := parseVersion(strings.TrimPrefix(f, "gte_v"))
		return err == nil && tg.version.cmp(v) >= 0
	}
	return tg.features == nil || tg.features[f]
}

func stringList(v any) []string {
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		return []string{x}
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			out = append(out, scalarString(e))
		}
		return out
	}
	return []string{scalarString(v)}
}

// checkPrerequisites evaluates the leading skip/requires steps of a section. It returns a
// skip reason (category first, for the summary) or "".
func (tg *target) checkPrerequisites(steps []step) string {
	for _, s := range steps {
		if s.kind != "skip" && s.kind != "requires" {
			break // only the leading steps are prerequisites
		}
		m, _ := s.arg.(map[string]any)
		if s.kind == "requires" {
			for _, f := range stringList(m["test_runner_features"]) {
				if !runnerFeatures[f] {
					return "runner feature not supported: " + f
				}
			}
			for _, f := range stringList(m["cluster_features"]) {
				if !tg.hasClusterFeature(f) {
					return "requires cluster feature not claimed: " + f
				}
			}
			if r := tg.checkCapabilities(m["capabilities"]); r != "" {
				return r
			}
			continue
		}
		// skip: features (legacy runner features), version, cluster_features, awaits_fix,
		// known_issues, os.
		for _, f := range stringList(m["features"]) {
			if !runnerFeatures[f] {
				return "runner feature not supported: " + f
			}
		}
		if r := tg.checkCapabilities(m["capabilities"]); r != "" {
			return r
		}
		if vr, ok := m["version"]; ok {
			in, err := inVersionRanges(scalarString(vr), tg.version)
			if err != nil {
				return "runner: bad skip version: " + err.Error()
			}
			if in {
				return fmt.Sprintf("version-gated: skip.version %q covers %s", strings.TrimSpace(scalarString(vr)), tg.version)
			}
		}
		for _, f := range stringList(m["cluster_features"]) {
			if tg.hasClusterFeature(f) {
				return "skip: cluster feature present: " + f
			}
		}
		if _, ok := m["awaits_fix"]; ok {
			return "skip: awaits_fix"
		}
		if ki, ok := m["known_issues"].([]any); ok {
			for _, issue := range ki {
				im, _ := issue.(map[string]any)
				if tg.hasClusterFeature(scalarString(im["cluster_feature"])) && !tg.hasClusterFeature(scalarString(im["fixed_by"])) {
					return "skip: known issue " + scalarString(im["cluster_feature"])
				}
			}
		}
		if _, ok := m["os"]; ok {
			return "runner feature not supported: skip_os"
		}
	}
	return ""
}

func (tg *target) checkCapabilities(v any) string {
	if v == nil {
		return ""
	}
	list, ok := v.([]any)
	if !ok {
		list = []any{v}
	}
	for _, c := range list {
		cm, _ := c.(map[string]any)
		if tg.capable == nil || !tg.capable(cm) {
			return "capabilities not supported: " + strings.Join(stringList(cm["capabilities"]), ",")
		}
	}
	return ""
}

// outOfScope names the features a section's requests need that the embedded engine leaves to
// real Elasticsearch (routing, shards, scripts, stored fields, close/open, dynamic
// templates, pipelines), or "".
func outOfScope(sections ...[]step) string {
	found := map[string]bool{}
	for _, steps := range sections {
		for _, s := range steps {
			if s.kind != "do" {
				continue
			}
			m, _ := s.arg.(map[string]any)
			for api, params := range m {
				if doOptions[api] {
					continue
				}
				switch {
				case api == "indices.close" || api == "indices.open":
					found["close/open"] = true
				case strings.HasPrefix(api, "ingest."):
					found["pipelines"] = true
				case strings.HasPrefix(api, "scripts") || api == "put_script" || api == "get_script":
					found["scripts"] = true
				}
				pm, _ := params.(map[string]any)
				for k, v := range pm {
					switch k {
					case "routing":
						found["routing"] = true
					case "pipeline":
						found["pipelines"] = true
					case "stored_fields":
						found["stored fields"] = true
					case "body":
						scanBody(v, found)
					}
				}
			}
		}
	}
	if len(found) == 0 {
		return ""
	}
	names := sortedKeys(found)
	sort.Strings(names)
	return "out of scope: " + strings.Join(names, ", ")
}

func scanBody(v any, found map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			switch k {
			case "_routing", "routing", "index_routing", "search_routing", "number_of_routing_shards", "routing_path":
				found["routing"] = true
			case "script", "script_fields", "scripted_upsert", "script_score":
				found["scripts"] = true
			case "stored_fields":
				found["stored fields"] = true
			case "store":
				if b, ok := e.(bool); ok && b {
					found["stored fields"] = true
				}
			case "dynamic_templates":
				found["dynamic templates"] = true
			case "pipeline", "default_pipeline", "final_pipeline":
				found["pipelines"] = true
			case "number_of_shards", "index.number_of_shards":
				if n, err := strconv.Atoi(scalarString(e)); err == nil && n > 1 {
					found["shards"] = true
				}
			}
			scanBody(e, found)
		}
	case []any:
		for _, e := range x {
			scanBody(e, found)
		}
	case string:
		// NDJSON or JSON bodies given as text.
		for _, key := range []string{`"_routing"`, `"routing"`, `"script"`, `"pipeline"`, `"dynamic_templates"`} {
			if strings.Contains(x, key) {
				scanBody(map[string]any{strings.Trim(key, `"`): true}, found)
			}
		}
	}
}
