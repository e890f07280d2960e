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

// TestSearchHitMatchesMap: a searchHit is written as encoding/json wrote the map a hit used
// to be, whichever parts the request asked for.
func TestSearchHitMatchesMap(t *testing.T) {
	seed := testSeed(t)
	r := rand.New(rand.NewPCG(seed, seed^0x417))
	for i := 0; i < 2000; i++ {
		h := &searchHit{index: jsonTestStrings[r.IntN(len(jsonTestStrings))], id: jsonTestStrings[r.IntN(len(jsonTestStrings))]}
		m := map[string]any{"_index": h.index, "_id": h.id, "_score": nil}
		if r.IntN(2) == 0 {
			f := []float64{0, 1.5, 3e-9, 12}[r.IntN(4)]
			h.score, m["_score"] = f, f
		}
		if r.IntN(2) == 0 {
			h.version, h.hasVersion = r.Int64N(1e12), true
			m["_version"] = h.version
		}
		if r.IntN(2) == 0 {
			h.seqNo, h.hasSeqNo = r.Int64N(1e6), true
			m["_seq_no"], m["_primary_term"] = h.seqNo, primaryTerm
		}
		if r.IntN(3) > 0 {
			b, _ := json.Marshal(map[string]any{"customer_name": jsonTestStrings[r.IntN(len(jsonTestStrings))], "total": r.IntN(100)})
			h.source, h.hasSource = storedSource(b), true
			m["_source"] = json.RawMessage(b)
		}
		if r.IntN(4) == 0 {
			h.fields = map[string]any{"placed_at": []any{"2026-01-01T00:00:00.000Z"}}
			m["fields"] = h.fields
		}
		if r.IntN(2) == 0 {
			h.sort, h.hasSort = []any{jsonTestStrings[r.IntN(len(jsonTestStrings))], 12.5, nil}, true
			m["sort"] = h.sort
		}
		got, err := encodeJSON([]any{h})
		if err != nil {
			t.Fatal(err)
		}
		if want := stdJSON(t, []any{m}); !bytes.Equal(got, want) {
			t.Fatalf("hit %d:\n got %s\nwant %s", i, got, want)
		}
		if viaStd := stdJSON(t, h); !bytes.Equal(viaStd, got[1:len(got)-1]) {
			t.Fatalf("encoding/json of a searchHit: %s, want %s", viaStd, got[1:len(got)-1])
		}
	}
}
