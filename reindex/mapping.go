package reindex

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"

	"github.com/ordertable/ordertable/indexer"
	"github.com/ordertable/ordertable/mappings"
)

// Mapping is a versioned index body from mappings/: settings plus mappings whose _meta names
// the table, its mapping_version and its columns.
type Mapping struct {
	// Body is the file as read: the exact index-creation body.
	Body json.RawMessage
	// Settings are the production settings, flattened ("refresh_interval", "number_of_replicas").
	Settings map[string]any
	// Mappings is the "mappings" object.
	Mappings map[string]any
	// Table is _meta.table, the base name of the versioned indices.
	Table string
	// Version is _meta.mapping_version.
	Version int
	// Properties are the top-level field definitions.
	Properties map[string]any
	// Fields are the same, typed, as the indexer's catalog takes them.
	Fields mappings.FieldSet
}

// ErrInvalidMapping marks a mapping file that cannot be used.
var ErrInvalidMapping = errors.New("invalid mapping")

// LoadMapping reads and validates a mapping file.
func LoadMapping(path string) (*Mapping, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read mapping: %w", err)
	}
	m, err := ParseMappingFile(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// ParseMappingFile validates a mapping meant to be built: ParseMapping's checks, the table's
// rules (mappings.Parse: every column mapped and sortable when visible) and that the indexer's
// field catalog can compute every field (otherwise the column would stay empty forever).
func ParseMappingFile(b []byte) (*Mapping, error) {
	m, err := ParseMapping(b)
	if err != nil {
		return nil, err
	}
	var errs []error
	if _, err := mappings.Parse(m.IndexName(), b); err != nil {
		errs = append(errs, err)
	}
	if err := indexer.CheckFields(m.Fields); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrInvalidMapping, errors.Join(errs...))
	}
	return m, nil
}

// ParseMapping decodes and validates an index body.
func ParseMapping(b []byte) (*Mapping, error) {
	var raw struct {
		Settings map[string]any `json:"settings"`
		Mappings map[string]any `json:"mappings"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidMapping, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data", ErrInvalidMapping)
	}
	m := &Mapping{Body: append(json.RawMessage(nil), b...), Mappings: raw.Mappings, Settings: flattenSettings(raw.Settings)}
	var errs []error
	if raw.Settings == nil {
		errs = append(errs, errors.New("settings are missing"))
	}
	if raw.Mappings == nil {
		return nil, fmt.Errorf("%w: mappings are missing", ErrInvalidMapping)
	}
	meta, _ := raw.Mappings["_meta"].(map[string]any)
	if meta == nil {
		errs = append(errs, errors.New("mappings._meta is missing"))
	}
	m.Table, _ = meta["table"].(string)
	if m.Table == "" || strings.ToLower(m.Table) != m.Table || strings.ContainsAny(m.Table, ` "*\<|,>/?#:`) {
		errs = append(errs, fmt.Errorf("_meta.table %q must be a lower-case index name", m.Table))
	}
	if n, ok := meta["mapping_version"].(json.Number); ok {
		v, err := n.Int64()
		if err != nil || v < 1 {
			errs = append(errs, fmt.Errorf("_meta.mapping_version %s must be an integer >= 1", n))
		}
		m.Version = int(v)
	} else {
		errs = append(errs, errors.New("_meta.mapping_version is missing"))
	}
	m.Properties, _ = raw.Mappings["properties"].(map[string]any)
	if len(m.Properties) == 0 {
		errs = append(errs, errors.New("mappings.properties is empty"))
	}
	for name, p := range m.Properties {
		def, ok := p.(map[string]any)
		if !ok {
			errs = append(errs, fmt.Errorf("property %s is not an object", name))
			continue
		}
		if t, _ := def["type"].(string); t == "" {
			if _, nested := def["properties"]; !nested {
				errs = append(errs, fmt.Errorf("property %s has no type", name))
			}
		}
	}
	if cols, ok := meta["columns"].(map[string]any); ok {
		for name := range cols {
			if _, ok := m.Properties[name]; !ok {
				errs = append(errs, fmt.Errorf("_meta.columns.%s has no property", name))
			}
		}
	} else {
		errs = append(errs, errors.New("_meta.columns is missing"))
	}
	if _, ok := m.Properties["order_id"]; !ok {
		errs = append(errs, errors.New("property order_id is required (verify streams by it)"))
	}
	for _, k := range []string{"order_version", "customer_version"} {
		if _, ok := m.Properties[k]; !ok {
			errs = append(errs, fmt.Errorf("property %s is required (versions decide staleness)", k))
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrInvalidMapping, errors.Join(errs...))
	}
	mb, err := json.Marshal(raw.Mappings)
	if err == nil {
		m.Fields, err = mappings.ParseFields(mb)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidMapping, err)
	}
	return m, nil
}

// IndexName is the versioned index this mapping builds, e.g. orders_v2.
func (m *Mapping) IndexName() string { return fmt.Sprintf("%s_v%d", m.Table, m.Version) }

// Fields lists the top-level properties, sorted.
func (m *Mapping) FieldNames() []string {
	names := make([]string, 0, len(m.Properties))
	for k := range m.Properties {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// buildBody is the creation body with build settings: no refresh, no replicas, and deletes
// remembered for gcDeletes so a stale backfill write cannot resurrect a deleted order.
func (m *Mapping) buildBody(gcDeletes string) (map[string]any, error) {
	var body map[string]any
	if err := json.Unmarshal(m.Body, &body); err != nil {
		return nil, fmt.Errorf("decode mapping body: %w", err)
	}
	settings := map[string]any{}
	for k, v := range m.Settings {
		settings[k] = v
	}
	settings["refresh_interval"] = "-1"
	settings["number_of_replicas"] = 0
	settings["gc_deletes"] = gcDeletes
	body["settings"] = map[string]any{"index": unflatten(settings)}
	return body, nil
}

// productionSettings are the dynamic settings restored at finish: the file's, with
// gc_deletes back to the file's value or the engine default.
func (m *Mapping) productionSettings() map[string]any {
	out := map[string]any{"refresh_interval": "1s", "number_of_replicas": 1, "gc_deletes": nil}
	for k, v := range m.Settings {
		if staticSetting(k) {
			continue
		}
		out[k] = v
	}
	return out
}

// staticSetting reports settings fixed at creation, which a settings update must not send.
func staticSetting(k string) bool {
	return k == "number_of_shards" || strings.HasPrefix(k, "analysis.") || k == "codec" ||
		strings.HasPrefix(k, "sort.") || k == "routing_partition_size"
}

func unflatten(flat map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range flat {
		parts := strings.Split(k, ".")
		cur := out
		for _, p := range parts[:len(parts)-1] {
			next, ok := cur[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				cur[p] = next
			}
			cur = next
		}
		cur[parts[len(parts)-1]] = v
	}
	return out
}

// Plan is the difference between a mapping file and the live index.
type Plan struct {
	LiveIndex   string   `json:"live_index"`
	LiveVersion int      `json:"live_version"`
	NewIndex    string   `json:"new_index"`
	NewVersion  int      `json:"new_version"`
	Added       []string `json:"added"`
	Removed     []string `json:"removed"`
	Changed     []string `json:"changed"`
	// Settings lists static settings that differ (they need a rebuild too).
	Settings []string `json:"settings"`
	// MetaOnly is set when only _meta (labels, visibility) differs: no rebuild needed.
	MetaOnly bool `json:"meta_only"`
	// Rebuild tells whether a new index must be built.
	Rebuild bool `json:"rebuild"`
	// Problem, when non-empty, is why the mapping must be refused.
	Problem string `json:"problem,omitempty"`
}

// ErrRefused marks a request the job declines to carry out; the message says why.
var ErrRefused = errors.New("refused")

// diff compares a mapping with the live one (nil when there is no live index yet).
func diff(next *Mapping, live *Mapping, liveIndex string) Plan {
	p := Plan{NewIndex: next.IndexName(), NewVersion: next.Version, LiveIndex: liveIndex}
	if live == nil {
		p.Added = next.FieldNames()
		p.Rebuild = true
		return p
	}
	p.LiveVersion = live.Version
	for _, f := range next.FieldNames() {
		old, ok := live.Properties[f]
		switch {
		case !ok:
			p.Added = append(p.Added, f)
		case !jsonEqual(old, next.Properties[f]):
			p.Changed = append(p.Changed, f)
		}
	}
	for _, f := range live.FieldNames() {
		if _, ok := next.Properties[f]; !ok {
			p.Removed = append(p.Removed, f)
		}
	}
	for k, v := range next.Settings {
		if staticSetting(k) && !jsonEqual(v, live.Settings[k]) {
			p.Settings = append(p.Settings, k)
		}
	}
	slices.Sort(p.Settings)
	structural := len(p.Added)+len(p.Removed)+len(p.Changed)+len(p.Settings) > 0 ||
		!jsonEqual(withoutKeys(next.Mappings, "_meta", "properties"), withoutKeys(live.Mappings, "_meta", "properties"))
	p.Rebuild = structural
	p.MetaOnly = !structural && !jsonEqual(next.Mappings["_meta"], live.Mappings["_meta"])
	switch {
	case !structural && !p.MetaOnly:
		p.Problem = fmt.Sprintf("mapping is identical to the live index %s: nothing to do", liveIndex)
	case !structural:
		p.Problem = fmt.Sprintf("only _meta differs from %s: no rebuild needed (update the live mapping's _meta instead)", liveIndex)
	case next.Version <= live.Version:
		p.Problem = fmt.Sprintf("mapping_version %d must be greater than the live index's %d", next.Version, live.Version)
	}
	return p
}

func withoutKeys(m map[string]any, keys ...string) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		if !slices.Contains(keys, k) {
			out[k] = v
		}
	}
	return out
}

// jsonEqual compares two decoded JSON values by their canonical encoding, so json.Number and
// float64 forms of the same number compare equal.
func jsonEqual(a, b any) bool {
	return reflect.DeepEqual(canonical(a), canonical(b))
}

func canonical(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var out any
	_ = json.Unmarshal(b, &out)
	return normalizeScalars(out)
}

// normalizeScalars maps settings-style strings ("0", "1") and numbers to one form: the
// engine reports every setting as a string.
func normalizeScalars(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, sub := range t {
			t[k] = normalizeScalars(sub)
		}
		return t
	case []any:
		for i, sub := range t {
			t[i] = normalizeScalars(sub)
		}
		return t
	case float64:
		return fmt.Sprint(t)
	case bool:
		return fmt.Sprint(t)
	}
	return v
}
