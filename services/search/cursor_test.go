package search

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

func TestCursorRoundTrip(t *testing.T) {
	cc := cursorCodec{key: []byte("0123456789abcdef0123")}
	in := cursor{Index: "orders_v2", Sort: []string{"customer_name", "-total", "order_id"}, Hash: "h1",
		After: []json.RawMessage{json.RawMessage(`"Ada"`), json.RawMessage(`9223372036854775807`), json.RawMessage(`null`)}}
	s, err := cc.encode(in)
	if err != nil {
		t.Fatal(err)
	}
	if url.QueryEscape(s) != s {
		t.Errorf("cursor %q needs URL escaping", s)
	}
	out, err := cc.decode(s)
	if err != nil {
		t.Fatal(err)
	}
	in.V = cursorVersion
	if !reflect.DeepEqual(out, in) {
		t.Errorf("got %+v, want %+v (big numbers must survive exactly)", out, in)
	}
}

func TestCursorRejects(t *testing.T) {
	cc := cursorCodec{key: []byte("0123456789abcdef0123")}
	other := cursorCodec{key: []byte("another-key-entirely")}
	good := cursor{Index: "orders_v1", Sort: []string{"order_id"}, Hash: "h", After: []json.RawMessage{json.RawMessage(`"x"`)}}
	sign := func(c cursorCodec, payload string) string {
		return base64.RawURLEncoding.EncodeToString([]byte(payload)) + "." + base64.RawURLEncoding.EncodeToString(c.sign([]byte(payload)))
	}
	foreign, _ := other.encode(good)
	valid, _ := cc.encode(good)
	p, sig, _ := strings.Cut(valid, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(p)
	tampered := base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(raw), "orders_v1", "orders_v9", 1))) + "." + sig
	cases := map[string]string{
		"empty":          "",
		"no dot":         "abc",
		"bad base64":     "!!!.???",
		"foreign key":    foreign,
		"tampered":       tampered,
		"truncated sig":  valid[:len(valid)-3],
		"not json":       sign(cc, "nope"),
		"unknown field":  sign(cc, `{"v":1,"i":"orders_v1","s":["order_id"],"h":"h","a":["x"],"z":1}`),
		"wrong version":  sign(cc, `{"v":2,"i":"orders_v1","s":["order_id"],"h":"h","a":["x"]}`),
		"bad index":      sign(cc, `{"v":1,"i":"../_all","s":["order_id"],"h":"h","a":["x"]}`),
		"upper index":    sign(cc, `{"v":1,"i":"Orders","s":["order_id"],"h":"h","a":["x"]}`),
		"length differs": sign(cc, `{"v":1,"i":"orders_v1","s":["order_id"],"h":"h","a":["x","y"]}`),
		"no sort":        sign(cc, `{"v":1,"i":"orders_v1","s":[],"h":"h","a":[]}`),
		"no hash":        sign(cc, `{"v":1,"i":"orders_v1","s":["order_id"],"h":"","a":["x"]}`),
		"object value":   sign(cc, `{"v":1,"i":"orders_v1","s":["order_id"],"h":"h","a":[{"script":"x"}]}`),
		"array value":    sign(cc, `{"v":1,"i":"orders_v1","s":["order_id"],"h":"h","a":[["x"]]}`),
	}
	for name, s := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := cc.decode(s); !errors.Is(err, errCursor) {
				t.Errorf("got %v, want errCursor", err)
			}
		})
	}
}

// FuzzCursorDecode: no input panics, and whatever decodes re-encodes to a cursor that decodes
// to the same value (so a valid cursor can never be ambiguous).
func FuzzCursorDecode(f *testing.F) {
	cc := cursorCodec{key: []byte("fuzz-key-0123456789")}
	good, _ := cc.encode(cursor{Index: "orders_v1", Sort: []string{"-total", "order_id"}, Hash: "h", After: []json.RawMessage{json.RawMessage(`12.5`), json.RawMessage(`"id"`)}})
	f.Add(good)
	f.Add("")
	f.Add(".")
	f.Add("eyJ2IjoxfQ.AAAA")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := cc.decode(s)
		if err != nil {
			if !errors.Is(err, errCursor) {
				t.Fatalf("error %v does not wrap errCursor", err)
			}
			return
		}
		again, err := cc.encode(c)
		if err != nil {
			t.Fatal(err)
		}
		c2, err := cc.decode(again)
		if err != nil || !reflect.DeepEqual(c, c2) {
			t.Fatalf("re-encoded cursor differs: %+v vs %+v (%v)", c, c2, err)
		}
	})
}

// FuzzParseParams: no query string panics; accepted ones bind to a mapping or fail with a
// 400, and the search body they build is valid JSON whose sort matches the bound sort.
func FuzzParseParams(f *testing.F) {
	for _, s := range []string{
		"", "sort=customer_name,-placed_at&q=ada&filter.status=paid,shipped&size=50",
		"filter.total=>=100", "filter.total=10..20", "filter.placed_at=2026-01-01..2026-02-01",
		`filter.customer_name=a\,b`, "filter.customer_deleted=true", "size=201", "q=%00", "sort=+x",
		"filter.placed_at=>2026-01-01T00:00:00Z", "filter.total=..", "filter.total=1e400",
	} {
		f.Add(s)
	}
	v2 := tableV(f, "v2")
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		p, err := parseParams(v, limits())
		if err != nil {
			return
		}
		q, err := bind(p, v2, []string{"-placed_at"}, limits())
		if err != nil {
			return
		}
		if q.size < 1 || q.size > 200 || len(q.sort) == 0 || len(q.sort) > 5 || len(q.filters) > 10 {
			t.Fatalf("limits broken: size %d sort %d filters %d", q.size, len(q.sort), len(q.filters))
		}
		if q.sort[len(q.sort)-1].Column != tiebreaker && !containsColumn(q.sort, tiebreaker) {
			t.Fatalf("no tiebreaker in %v", q.sortTokens())
		}
		b, err := json.Marshal(searchBody(v2, q, nil, 10000))
		if err != nil || !json.Valid(b) {
			t.Fatalf("body: %v", err)
		}
		if strings.Contains(string(b), "query_string") {
			t.Fatalf("query_string in %s", b)
		}
		_ = q.hash()
	})
}

func containsColumn(keys []SortKey, col string) bool {
	for _, k := range keys {
		if k.Column == col {
			return true
		}
	}
	return false
}
