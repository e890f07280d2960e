package search

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// cursor is the state of a page sequence, handed to clients as an opaque signed token:
// base64url(JSON) "." base64url(HMAC-SHA256(JSON)). The signature lets the API trust the
// index name and search_after values it gets back without re-validating them against data.
type cursor struct {
	V     int    `json:"v"`
	Index string `json:"i"`
	// Sort is the full sort spec including the tiebreaker, e.g. ["customer_name","-placed_at","order_id"].
	Sort []string `json:"s"`
	// Hash is query.hash() of the request that produced the cursor.
	Hash string `json:"h"`
	// After are the sort values of the last item returned, passed to search_after as they came.
	After []json.RawMessage `json:"a"`
}

const cursorVersion = 1

// errCursor is a malformed, forged or foreign cursor.
var errCursor = errors.New("invalid cursor")

var indexNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.\-]{0,254}$`)

type cursorCodec struct{ key []byte }

func (cc cursorCodec) encode(c cursor) (string, error) {
	c.V = cursorVersion
	payload, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("encode cursor: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(payload) + "." +
		base64.RawURLEncoding.EncodeToString(cc.sign(payload)), nil
}

func (cc cursorCodec) sign(payload []byte) []byte {
	m := hmac.New(sha256.New, cc.key)
	m.Write(payload)
	return m.Sum(nil)
}

// decode verifies the signature before looking at the content, then checks the shape.
func (cc cursorCodec) decode(s string) (cursor, error) {
	var c cursor
	p, sig, ok := strings.Cut(s, ".")
	if !ok {
		return c, fmt.Errorf("%w: not a cursor", errCursor)
	}
	payload, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return c, fmt.Errorf("%w: not a cursor", errCursor)
	}
	mac, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(mac, cc.sign(payload)) {
		return c, fmt.Errorf("%w: bad signature (cursors are only valid on the server process or secret that issued them)", errCursor)
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("%w: %v", errCursor, err)
	}
	switch {
	case c.V != cursorVersion:
		return c, fmt.Errorf("%w: unsupported version %d", errCursor, c.V)
	case !indexNameRE.MatchString(c.Index):
		return c, fmt.Errorf("%w: bad index name", errCursor)
	case len(c.Sort) == 0 || len(c.Sort) != len(c.After):
		return c, fmt.Errorf("%w: sort and values disagree", errCursor)
	case c.Hash == "":
		return c, fmt.Errorf("%w: no query hash", errCursor)
	}
	for _, v := range c.After {
		if !isJSONScalar(v) {
			return c, fmt.Errorf("%w: sort values must be scalars", errCursor)
		}
	}
	return c, nil
}

func isJSONScalar(v json.RawMessage) bool {
	v = bytes.TrimSpace(v)
	if len(v) == 0 || v[0] == '{' || v[0] == '[' {
		return false
	}
	return json.Valid(v)
}
