package esembed

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
)

// stdJSON is what replyStatus wrote before appendJSON: encoding/json, HTML characters left
// as they are, without the trailing newline.
func stdJSON(t testing.TB, v any) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatalf("encoding/json: %v", err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte{'\n'})
}

var jsonTestStrings = []string{"", "plain", "with space", `quote "q"`, `back\slash`, "tab\tnew\nline\r",
	"\b\f\x00\x1f\x7f", "<html> & </html>", "Émile Zoë", "日本語", "line\u2028sep\u2029", "bad \xff utf8 \xc3",
	"emoji 🎉", "order_id", "_source"}

func randomJSONValue(r *rand.Rand, depth int) any {
	n := 12
	if depth > 3 {
		n = 9 // scalars only
	}
	switch r.IntN(n) {
	case 0:
		return nil
	case 1:
		return r.IntN(2) == 0
	case 2:
		return jsonTestStrings[r.IntN(len(jsonTestStrings))]
	case 3:
		return []float64{0, math.Copysign(0, -1), 1, -1.5, 1e-7, 1e-6, 123456789.125, 1e20, 1e21, 3e-300, math.MaxFloat64, -2.5e-9, 0.1}[r.IntN(13)]
	case 4:
		return r.Int64() - r.Int64()
	case 5:
		return []any{r.IntN(1000) - 500, uint64(math.MaxUint64) - uint64(r.IntN(9)), int32(r.IntN(100)), uint32(r.IntN(100))}[r.IntN(4)]
	case 6:
		b, _ := json.Marshal(map[string]any{"a": r.IntN(9), "s": jsonTestStrings[r.IntN(len(jsonTestStrings))]})
		return storedSource(b)
	case 7:
		return json.RawMessage(` { "raw" : [1, 2 ,3] } `) // encoding/json compacts it
	case 8:
		return struct {
			A string `json:"a"`
			B int    `json:"b,omitempty"`
		}{A: "<x>"} // anything else goes through encoding/json
	case 9, 10:
		m := map[string]any{}
		for range r.IntN(5) {
			m[jsonTestStrings[r.IntN(len(jsonTestStrings))]] = randomJSONValue(r, depth+1)
		}
		if r.IntN(8) == 0 {
			return map[string]any(nil)
		}
		return m
	default:
		var s []any
		if r.IntN(8) > 0 {
			s = []any{}
		}
		for range r.IntN(5) {
			s = append(s, randomJSONValue(r, depth+1))
		}
		return s
	}
}

// TestEncodeJSONMatchesEncodingJSON: responses are byte for byte what encoding/json wrote
// (with SetEscapeHTML(false)), for every kind of value they are built from.
func TestEncodeJSONMatchesEncodingJSON(t *testing.T) {
	seed := testSeed(t)
	r := rand.New(rand.NewPCG(seed, seed^0x15a7))
	for i := 0; i < 3000; i++ {
		v := randomJSONValue(r, 0)
		want := stdJSON(t, v)
		got, err := encodeJSON(v)
		if err != nil {
			t.Fatalf("value %d: %v", i, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("value %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

func TestEncodeJSONErrors(t *testing.T) {
	for _, v := range []any{math.NaN(), math.Inf(1), map[string]any{"x": []any{math.Inf(-1)}}, map[string]any{"f": func() {}}} {
		if b, err := encodeJSON(v); err == nil {
			t.Errorf("encodeJSON(%v) = %s, want an error as encoding/json gives", v, b)
		}
	}
}

// TestStoredSourceWrittenVerbatim: a stored source is written as the engine stored it, not
// re-validated (that is the point), and a missing one is null.
func TestStoredSourceWrittenVerbatim(t *testing.T) {
	got, err := encodeJSON(map[string]any{"_source": storedSource(`{"b": 1,  "a":[ 2 ]}`), "none": storedSource(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"_source":{"b": 1,  "a":[ 2 ]},"none":null}`; string(got) != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func FuzzEncodeJSONString(f *testing.F) {
	for _, s := range jsonTestStrings {
		f.Add(s, 1.5)
	}
	f.Fuzz(func(t *testing.T, s string, x float64) {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return
		}
		v := map[string]any{s: []any{s, x}}
		got, err := encodeJSON(v)
		if err != nil {
			t.Fatal(err)
		}
		if want := stdJSON(t, v); !bytes.Equal(got, want) {
			t.Fatalf("got %s, want %s", got, want)
		}
	})
}
