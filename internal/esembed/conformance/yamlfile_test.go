package conformance

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"

	"github.com/goccy/go-yaml"
)

// step is one entry of a setup, teardown or test section: `- do: {...}`, `- match: {...}`.
type step struct {
	kind string
	arg  any
}

// testCase is one named section of a YAML test file.
type testCase struct {
	name  string
	steps []step
}

// testFile is a parsed YAML test file.
type testFile struct {
	path     string // relative to the test root, e.g. "index/10_with_id.yml"
	setup    []step
	teardown []step
	tests    []testCase
}

// parseTestFile reads a multi-document YAML test file.
func parseTestFile(path, rel string) (*testFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseTestYAML(data, rel)
}

func parseTestYAML(data []byte, rel string) (*testFile, error) {
	tf := &testFile{path: rel}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", rel, err)
		}
		if doc == nil {
			continue
		}
		m, ok := normalize(doc).(map[string]any)
		if !ok {
			return nil, fmt.Errorf("parse %s: document is %T, want a map", rel, doc)
		}
		// A document normally holds one section; accept several, in a stable order.
		names := make([]string, 0, len(m))
		for k := range m {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, name := range names {
			steps, err := parseSteps(m[name])
			if err != nil {
				return nil, fmt.Errorf("parse %s: section %q: %w", rel, name, err)
			}
			switch name {
			case "setup":
				tf.setup = append(tf.setup, steps...)
			case "teardown":
				tf.teardown = append(tf.teardown, steps...)
			default:
				tf.tests = append(tf.tests, testCase{name: name, steps: steps})
			}
		}
	}
	return tf, nil
}

func parseSteps(v any) ([]step, error) {
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("section is %T, want a list", v)
	}
	steps := make([]step, 0, len(list))
	for i, item := range list {
		m, ok := item.(map[string]any)
		if !ok || len(m) != 1 {
			return nil, fmt.Errorf("step %d: want a single-key map, got %v", i, item)
		}
		for k, a := range m {
			steps = append(steps, step{kind: k, arg: a})
		}
	}
	return steps, nil
}

// normalize turns decoded YAML into JSON-like values: map[string]any, []any, string, bool,
// nil and json.Number for every number, so integers and floats compare exactly and large
// longs keep their digits.
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalize(e)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[fmt.Sprint(k)] = normalize(e)
		}
		return out
	case yaml.MapSlice:
		out := make(map[string]any, len(x))
		for _, it := range x {
			out[fmt.Sprint(it.Key)] = normalize(it.Value)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e)
		}
		return out
	case int:
		return json.Number(strconv.FormatInt(int64(x), 10))
	case int64:
		return json.Number(strconv.FormatInt(x, 10))
	case uint64:
		return json.Number(strconv.FormatUint(x, 10))
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return fmt.Sprint(x)
		}
		return json.Number(strconv.FormatFloat(x, 'g', -1, 64))
	case float32:
		return json.Number(strconv.FormatFloat(float64(x), 'g', -1, 32))
	default:
		if s, ok := v.(fmt.Stringer); ok && v != nil {
			if _, isNum := v.(json.Number); !isNum {
				return s.String()
			}
		}
		return v
	}
}
