package entityapi

import (
	"bytes"
	"encoding/json"
)

// Optional is a PATCH field: it tells an absent field (Set false) from an explicit null
// (Set and Null) and a value.
type Optional[T any] struct {
	Set   bool
	Null  bool
	Value T
}

// UnmarshalJSON is only called when the field is present.
func (o *Optional[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		o.Null = true
		return nil
	}
	// A *json.UnmarshalTypeError returned here gets its field name added by the decoder.
	return json.Unmarshal(b, &o.Value)
}
