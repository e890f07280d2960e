package esembed

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// indexSettings are an index's settings: the parsed values the engine uses plus the flat
// "index.*" strings returned by GET _settings. Immutable; updates make a copy.
type indexSettings struct {
	flat              map[string]string
	refreshInterval   time.Duration // < 0: periodic refresh disabled
	gcDeletes         time.Duration
	maxResultWindow   int
	maxTermsCount     int
	arrayObjectsLimit int
}

// Settings the engine accepts; dynamic ones can be changed on an open index.
var knownSettings = map[string]bool{ // name -> dynamic
	"index.number_of_shards":                            false,
	"index.number_of_replicas":                          true,
	"index.refresh_interval":                            true,
	"index.gc_deletes":                                  true,
	"index.max_result_window":                           true,
	"index.auto_expand_replicas":                        true,
	"index.mapping.total_fields.limit":                  true,
	"index.mapping.depth.limit":                         true,
	"index.max_inner_result_window":                     true,
	"index.number_of_routing_shards":                    false,
	"index.translog.durability":                         true,
	"index.translog.sync_interval":                      true,
	"index.query.default_field":                         true,
	"index.blocks.write":                                true,
	"index.blocks.read_only":                            true,
	"index.blocks.read_only_allow_delete":               true,
	"index.hidden":                                      true,
	"index.codec":                                       false,
	"index.search.idle.after":                           true,
	"index.max_terms_count":                             true,
	"index.routing.allocation.include._tier_preference": true,
	"index.write.wait_for_active_shards":                true,
	"index.priority":                                    true,
}

// Settings Elasticsearch sets itself (read-only for users).
var privateSettings = map[string]bool{
	"index.uuid": true, "index.creation_date": true, "index.provided_name": true, "index.version.created": true,
}

// flattenSettings turns {"index":{"a":1}}, {"a":1} or {"index.a":1} into {"index.a":"1"}.
func flattenSettings(raw map[string]any) (map[string]string, error) {
	out := map[string]string{}
	var walk func(prefix string, m map[string]any) error
	walk = func(prefix string, m map[string]any) error {
		for k, v := range m {
			key := prefix + k
			switch t := v.(type) {
			case map[string]any:
				if err := walk(key+".", t); err != nil {
					return err
				}
			case nil:
				out[key] = ""
			case []any:
				parts := make([]string, 0, len(t))
				for _, e := range t {
					parts = append(parts, jsonString(e))
				}
				out[key] = strings.Join(parts, ",")
			default:
				out[key] = jsonString(t)
			}
		}
		return nil
	}
	if err := walk("", raw); err != nil {
		return nil, err
	}
	norm := make(map[string]string, len(out))
	for k, v := range out {
		if !strings.HasPrefix(k, "index.") {
			k = "index." + k
		}
		norm[k] = v
	}
	return norm, nil
}

func validateSettingNames(flat map[string]string, updating bool) *esError {
	for _, k := range sortedKeys(flat) {
		if strings.HasPrefix(k, "index.analysis.") {
			return errUnsupported("setting [" + k + "] (custom analysis)")
		}
		if strings.HasPrefix(k, "index.routing.") || strings.HasPrefix(k, "index.lifecycle.") || strings.HasPrefix(k, "index.blocks.") ||
			strings.HasPrefix(k, "index.mapping.") || strings.HasPrefix(k, "index.max_") || strings.HasPrefix(k, "index.search.") ||
			strings.HasPrefix(k, "index.indexing.") || strings.HasPrefix(k, "index.merge.") || strings.HasPrefix(k, "index.translog.") ||
			strings.HasPrefix(k, "index.unassigned.") || strings.HasPrefix(k, "index.allocation.") || strings.HasPrefix(k, "index.similarity.") {
			// Accepted and returned; they tune Elasticsearch internals the engine has no
			// counterpart for, or limits the engine reads where it has one.
			continue
		}
		if k == "index.soft_deletes.enabled" {
			if flat[k] == "false" {
				return errIllegalArgument("Creating indices with soft-deletes disabled is no longer supported. Please do not specify a value for setting [index.soft_deletes.enabled].")
			}
			continue
		}
		dyn, ok := knownSettings[k]
		if !ok {
			if privateSettings[k] {
				if updating {
					return errIllegalArgument("final %s setting [%s], not updateable", "index", k)
				}
				return errIllegalArgument("private index setting [%s] can not be set explicitly", k)
			}
			return errIllegalArgument("unknown setting [%s] please check that any required plugins are installed, or check the breaking changes documentation for removed settings", k)
		}
		if updating && !dyn {
			return errIllegalArgument("final %s setting [%s], not updateable", "index", k)
		}
	}
	return nil
}

// buildSettings validates flat settings and derives the parsed values.
func buildSettings(flat map[string]string) (*indexSettings, *esError) {
	s := &indexSettings{flat: flat, refreshInterval: time.Second, gcDeletes: 60 * time.Second, maxResultWindow: 10000, maxTermsCount: 65536}
	if v, ok := flat["index.mapping.array_objects.limit"]; ok && v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return nil, errIllegalArgument("Failed to parse value [%s] for setting [index.mapping.array_objects.limit] must be >= 1", v)
		}
		s.arrayObjectsLimit = n
	}
	if v, ok := flat["index.max_terms_count"]; ok && v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, errIllegalArgument("Failed to parse value [%s] for setting [index.max_terms_count] must be >= 0", v)
		}
		s.maxTermsCount = n
	}
	if v, ok := flat["index.number_of_shards"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1024 {
			return nil, errIllegalArgument("Failed to parse value [%s] for setting [index.number_of_shards] must be >= 1", v)
		}
	}
	if v, ok := flat["index.number_of_replicas"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, errIllegalArgument("Failed to parse value [%s] for setting [index.number_of_replicas] must be >= 0", v)
		}
	}
	if v, ok := flat["index.refresh_interval"]; ok && v != "" {
		d, err := parseTimeValue(v)
		if err != nil {
			return nil, errIllegalArgument("failed to parse setting [index.refresh_interval] with value [%s] as a time value: unit is missing or unrecognized", v)
		}
		s.refreshInterval = d
	}
	if v, ok := flat["index.gc_deletes"]; ok && v != "" {
		d, err := parseTimeValue(v)
		if err != nil {
			return nil, errIllegalArgument("failed to parse setting [index.gc_deletes] with value [%s] as a time value: unit is missing or unrecognized", v)
		}
		s.gcDeletes = d
	}
	if v, ok := flat["index.max_result_window"]; ok && v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, errIllegalArgument("Failed to parse value [%s] for setting [index.max_result_window] must be >= 1", v)
		}
		s.maxResultWindow = n
	}
	return s, nil
}

// parseTimeValue parses Elasticsearch time values ("1s", "500ms", "-1", "2m").
func parseTimeValue(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if v == "-1" {
		return -1, nil
	}
	if v == "0" {
		return 0, nil
	}
	units := []struct {
		suffix string
		d      time.Duration
	}{{"nanos", time.Nanosecond}, {"micros", time.Microsecond}, {"ms", time.Millisecond}, {"s", time.Second},
		{"m", time.Minute}, {"h", time.Hour}, {"d", 24 * time.Hour}}
	for _, u := range units {
		if strings.HasSuffix(v, u.suffix) {
			num := strings.TrimSuffix(v, u.suffix)
			f, err := strconv.ParseFloat(num, 64)
			if err != nil || f < 0 {
				return 0, fmt.Errorf("bad time value %q", v)
			}
			return time.Duration(f * float64(u.d)), nil
		}
	}
	return 0, fmt.Errorf("bad time value %q", v)
}

// render returns the settings nested as GET _settings shows them ({"index":{...}}).
func (s *indexSettings) render() map[string]any {
	out := map[string]any{}
	for k, v := range s.flat {
		parts := strings.Split(k, ".")
		m := out
		for _, p := range parts[:len(parts)-1] {
			sub, ok := m[p].(map[string]any)
			if !ok {
				sub = map[string]any{}
				m[p] = sub
			}
			m = sub
		}
		m[parts[len(parts)-1]] = v
	}
	return out
}

// renderFlat returns the settings as flat keys (?flat_settings=true).
func (s *indexSettings) renderFlat() map[string]any {
	out := make(map[string]any, len(s.flat))
	for k, v := range s.flat {
		out[k] = v
	}
	return out
}

func rawNumber(v any) json.Number { return json.Number(jsonString(v)) }
