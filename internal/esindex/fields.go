package esindex

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sync"

	"github.com/ordertable/ordertable/mappings"
)

// fieldCache remembers the fields of concrete indices. A concrete index's mapping of the orders
// table never changes after creation (dynamic: strict, new columns need a new index), so an
// entry stays valid for the index's lifetime; a deleted and re-created index of the same name is
// the one case it misses, and ForgetFields handles it.
type fieldCache struct {
	mu sync.Mutex
	m  map[string]mappings.FieldSet
}

func newFieldCache() *fieldCache { return &fieldCache{m: map[string]mappings.FieldSet{}} }

// Fields returns the top-level fields the concrete index declares, from GET /{index}/_mapping,
// cached per index name.
func (c *Client) Fields(ctx context.Context, index string) (mappings.FieldSet, error) {
	c.fields.mu.Lock()
	fs, ok := c.fields.m[index]
	c.fields.mu.Unlock()
	if ok {
		return fs, nil
	}
	_, body, err := c.Do(ctx, http.MethodGet, "/"+url.PathEscape(index)+"/_mapping", nil)
	if err != nil {
		return nil, fmt.Errorf("fields of %s: %w", index, err)
	}
	var res map[string]struct {
		Mappings json.RawMessage `json:"mappings"`
	}
	if err := json.Unmarshal(body, &res); err != nil {
		return nil, fmt.Errorf("fields of %s: decode: %w", index, err)
	}
	entry, ok := res[index]
	if !ok {
		return nil, fmt.Errorf("fields of %s: not in the _mapping answer", index)
	}
	fs, err = mappings.ParseFields(entry.Mappings)
	if err != nil {
		return nil, fmt.Errorf("fields of %s: %w", index, err)
	}
	c.fields.mu.Lock()
	c.fields.m[index] = fs
	c.fields.mu.Unlock()
	return fs, nil
}

// ForgetFields drops the cached fields of index (after deleting it).
func (c *Client) ForgetFields(index string) {
	c.fields.mu.Lock()
	delete(c.fields.m, index)
	c.fields.mu.Unlock()
}
