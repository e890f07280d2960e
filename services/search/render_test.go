package search

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// oldOrdersResponse is how a page was built and encoded before render.go: each _source
// decoded into a map, the columns copied into an item map, json.Marshal (gin's c.JSON).
type oldOrdersResponse struct {
	Index          string                       `json:"index"`
	MappingVersion int                          `json:"mapping_version"`
	Columns        []Column                     `json:"columns"`
	Sort           []SortKey                    `json:"sort"`
	Items          []map[string]json.RawMessage `json:"items"`
	Total          total                        `json:"total"`
	NextCursor     *string                      `json:"next_cursor"`
	FreshAsOf      *string                      `json:"fresh_as_of"`
}

var renderStrings = []string{"", "Smith", `quote " and \ backslash`, "<b>bold</b> & co", "Émile", "日本",
	"line\u2028sep\u2029", "tab\there", "emoji 🎉", "control \u0001"}

func randomRawValue(r *rand.Rand, depth int) string {
	ws := func() string { return []string{"", " ", "\n  ", "\t"}[r.IntN(4)] }
	n := 7
	if depth > 2 {
		n = 5
	}
	switch r.IntN(n) {
	case 0:
		return "null"
	case 1:
		return []string{"true", "false"}[r.IntN(2)]
	case 2:
		return []string{"0", "-12", "3.25", "1e21", "-0.5E-7", "12345678901234567890"}[r.IntN(6)]
	case 3, 4:
		b, _ := json.Marshal(renderStrings[r.IntN(len(renderStrings))])
		s := string(b)
		if r.IntN(3) == 0 { // escapes as other encoders write them
			s = strings.ReplaceAll(s, "&", `\u0026`)
			s = strings.ReplaceAll(s, "É", `\u00c9`)
		}
		return s
	case 5:
		var parts []string
		for range r.IntN(4) {
			parts = append(parts, ws()+randomRawValue(r, depth+1)+ws())
		}
		return "[" + strings.Join(parts, ",") + "]"
	default:
		var parts []string
		for range r.IntN(4) {
			k, _ := json.Marshal(renderStrings[r.IntN(len(renderStrings))])
			parts = append(parts, ws()+string(k)+ws()+":"+ws()+randomRawValue(r, depth+1))
		}
		return "{" + strings.Join(parts, ",") + ws() + "}"
	}
}

// randomSource is an order document as another writer might have produced it: columns,
// metadata and unknown fields, whitespace, escaped keys, duplicate keys.
func randomSource(r *rand.Rand, cols []Column) []byte {
	var parts []string
	for range 1 + r.IntN(12) {
		var key string
		switch r.IntN(6) {
		case 0:
			key = `"_meta_` + fmt.Sprint(r.IntN(3)) + `"`
		case 1:
			key = `"unknown <&>"`
		default:
			name := cols[r.IntN(len(cols))].Name
			key = `"` + name + `"`
			if r.IntN(5) == 0 { // the same key, escaped
				key = `"\u00` + fmt.Sprintf("%x", name[0]) + name[1:] + `"`
			}
		}
		parts = append(parts, key+[]string{":", " : "}[r.IntN(2)]+randomRawValue(r, 0))
	}
	return []byte("{" + strings.Join(parts, ",") + "}")
}

// TestRenderMatchesEncodingJSON: a page is byte for byte what the map-and-json.Marshal code
// wrote, over random documents.
func TestRenderMatchesEncodingJSON(t *testing.T) {
	seed := testSeed(t)
	r := rand.New(rand.NewPCG(seed, seed^0xe1de))
	tb := tableV(t, "v2")
	for i := 0; i < 500; i++ {
		cursor := "c<&>" + fmt.Sprint(i)
		var next *string
		if r.IntN(2) == 0 {
			next = &cursor
		}
		old := oldOrdersResponse{Index: "orders_v2", MappingVersion: 2, Columns: tb.Columns,
			Sort: []SortKey{{Column: "customer_name"}, {Column: "order_id", Desc: true}}, Items: []map[string]json.RawMessage{},
			Total: total{Value: int64(r.IntN(1000)), Relation: "eq"}, NextCursor: next}
		resp := ordersResponse{Index: old.Index, MappingVersion: old.MappingVersion, Columns: old.Columns, Sort: old.Sort,
			Items: pageItems{layout: tb.itemLayout()}, Total: old.Total, NextCursor: old.NextCursor}
		for range r.IntN(6) {
			src := randomSource(r, tb.Columns)
			if !json.Valid(src) {
				t.Fatalf("generator made invalid JSON: %s", src)
			}
			var m map[string]json.RawMessage
			if err := json.Unmarshal(src, &m); err != nil {
				t.Fatal(err)
			}
			item := map[string]json.RawMessage{}
			for _, c := range tb.Columns {
				if v, ok := m[c.Name]; ok {
					item[c.Name] = v
				}
			}
			old.Items = append(old.Items, item)
			if err := resp.Items.add(src); err != nil {
				t.Fatalf("add %s: %v", src, err)
			}
		}
		want, err := json.Marshal(old)
		if err != nil {
			t.Fatal(err)
		}
		got, err := resp.appendJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("page %d:\n got %s\nwant %s", i, got, want)
		}
		// encoding/json users of ordersResponse get the same through MarshalJSON.
		if viaMarshal, err := json.Marshal(resp); err != nil || !bytes.Equal(viaMarshal, want) {
			t.Fatalf("json.Marshal(ordersResponse) = %s, %v; want %s", viaMarshal, err, want)
		}
	}
}

func TestVisitObjectRejectsNonObjects(t *testing.T) {
	for _, src := range []string{"", "null", "[]", `"x"`, "12", " [ {} ] "} {
		if err := visitObject([]byte(src), func(string, []byte) {}); err == nil {
			t.Errorf("visitObject(%q): no error, want one", src)
		}
	}
}

// FuzzVisitObject: on any valid JSON object, the scanner sees the members encoding/json
// decodes (the last of duplicate keys winning).
func FuzzVisitObject(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1}`, `{"a" : [1, {"b":"}"}], "c\"d":null, "a":"x\\"}`, ` { "\u00e9" : {"x":[]} } `, `{"k":"\u2028<>&"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		var want map[string]json.RawMessage
		if !json.Valid(src) || json.Unmarshal(src, &want) != nil || want == nil {
			if json.Valid(src) {
				if err := visitObject(src, func(string, []byte) {}); err == nil && !bytes.HasPrefix(bytes.TrimSpace(src), []byte("{")) {
					t.Fatalf("visitObject(%q) accepted a non-object", src)
				}
			}
			return
		}
		got := map[string]json.RawMessage{}
		if err := visitObject(src, func(k string, v []byte) { got[k] = v }); err != nil {
			t.Fatalf("visitObject(%q): %v", src, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("visitObject(%q) = %v, want %v", src, got, want)
		}
		// And a value copied through appendCompactHTML is what encoding/json writes.
		for k, v := range got {
			w, err := json.Marshal(json.RawMessage(v))
			if err != nil {
				t.Fatal(err)
			}
			if c := appendCompactHTML(nil, v); !bytes.Equal(c, w) {
				t.Fatalf("appendCompactHTML(%s) of %q = %s, want %s", v, k, c, w)
			}
		}
	})
}

// TestPageItemsNullAndEmptySource: a null _source is an empty item, as a map decoded from
// null was; a missing one is an error, as before.
func TestPageItemsNullAndEmptySource(t *testing.T) {
	p := pageItems{layout: tableV(t, "v2").itemLayout()}
	if err := p.add([]byte(" null ")); err != nil {
		t.Fatalf("add(null): %v", err)
	}
	if got := string(p.appendJSON(nil)); got != "[{}]" {
		t.Fatalf("items of a null source = %s, want [{}]", got)
	}
	if err := p.add(nil); err == nil {
		t.Fatalf("add(missing source): no error, want one")
	}
}
