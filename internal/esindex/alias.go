package esindex

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"time"

	"github.com/ordertable/ordertable/mappings"
)

// Alias names of the orders table.
const (
	// AliasRead points to exactly one live index; the search API reads it.
	AliasRead = "orders"
	// AliasTargets points to every index that must receive live writes.
	AliasTargets = "orders_targets"
)

// ErrNoAlias means the alias does not exist (the table was never bootstrapped).
var ErrNoAlias = errors.New("alias does not exist")

// AliasIndices returns the concrete indices an alias points to, sorted, or ErrNoAlias.
func (c *Client) AliasIndices(ctx context.Context, alias string) ([]string, error) {
	_, body, err := c.Do(ctx, http.MethodGet, "/_alias/"+url.PathEscape(alias), nil)
	if StatusOf(err) == http.StatusNotFound {
		return nil, fmt.Errorf("alias %s: %w", alias, ErrNoAlias)
	}
	if err != nil {
		return nil, fmt.Errorf("alias %s: %w", alias, err)
	}
	var res map[string]json.RawMessage
	if err := json.Unmarshal(body, &res); err != nil {
		return nil, fmt.Errorf("alias %s: decode: %w", alias, err)
	}
	out := make([]string, 0, len(res))
	for idx := range res {
		out = append(out, idx)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("alias %s: %w", alias, ErrNoAlias)
	}
	sort.Strings(out)
	return out, nil
}

// LiveIndex returns the one index behind AliasRead. More than one is a broken layout and an
// error: a search would mix two versions of the table.
func (c *Client) LiveIndex(ctx context.Context) (string, error) {
	idx, err := c.AliasIndices(ctx, AliasRead)
	if err != nil {
		return "", err
	}
	if len(idx) != 1 {
		return "", fmt.Errorf("alias %s points to %d indices %v, want exactly one", AliasRead, len(idx), idx)
	}
	return idx[0], nil
}

// Targets returns every index behind AliasTargets: the indices that must receive live writes.
// Callers must not cache it across batches (see the package documentation).
func (c *Client) Targets(ctx context.Context) ([]string, error) {
	return c.AliasIndices(ctx, AliasTargets)
}

// AliasAction is one action of an atomic POST /_aliases call.
type AliasAction struct {
	Add         *AliasRef `json:"add,omitempty"`
	Remove      *AliasRef `json:"remove,omitempty"`
	RemoveIndex *AliasRef `json:"remove_index,omitempty"`
}

// AliasRef names an index and (except for remove_index) an alias.
type AliasRef struct {
	Index     string `json:"index"`
	Alias     string `json:"alias,omitempty"`
	MustExist *bool  `json:"must_exist,omitempty"`
}

// UpdateAliases applies the actions atomically: all of them or none.
func (c *Client) UpdateAliases(ctx context.Context, actions ...AliasAction) error {
	body, err := json.Marshal(map[string]any{"actions": actions})
	if err != nil {
		return fmt.Errorf("update aliases: %w", err)
	}
	if _, _, err := c.Do(ctx, http.MethodPost, "/_aliases", body); err != nil {
		return fmt.Errorf("update aliases: %w", err)
	}
	return nil
}

// bootstrapWait is how long an instance that lost the race to create the first index waits for
// the winner to add the aliases before adding them itself (the winner may have crashed).
const bootstrapWait = 15 * time.Second

// Bootstrap makes sure the table exists: if AliasRead is missing it creates index m.Index from
// m.Body and points AliasRead and AliasTargets at it in one atomic _aliases call. If AliasRead
// exists but AliasTargets does not (a layout from before write targets), it points AliasTargets
// at the live index. It reports whether it changed anything.
//
// It is idempotent and safe when several instances race: only the instance whose create
// succeeded adds the aliases; the others wait for them (and add them themselves, idempotently,
// only if the winner died between its two calls).
func (c *Client) Bootstrap(ctx context.Context, m *mappings.Mapping) (changed bool, err error) {
	live, err := c.LiveIndex(ctx)
	switch {
	case err == nil:
		if _, err := c.Targets(ctx); errors.Is(err, ErrNoAlias) {
			return true, c.UpdateAliases(ctx, AliasAction{Add: &AliasRef{Index: live, Alias: AliasTargets}})
		} else if err != nil {
			return false, fmt.Errorf("bootstrap: %w", err)
		}
		return false, nil
	case !errors.Is(err, ErrNoAlias):
		return false, fmt.Errorf("bootstrap: %w", err)
	}
	created, err := c.CreateIndex(ctx, m.Index, m.Body)
	if err != nil {
		return false, fmt.Errorf("bootstrap: %w", err)
	}
	if !created {
		deadline := time.Now().Add(bootstrapWait)
		for time.Now().Before(deadline) {
			if _, err := c.LiveIndex(ctx); err == nil {
				return false, nil
			}
			select {
			case <-ctx.Done():
				return false, fmt.Errorf("bootstrap: %w", ctx.Err())
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	err = c.UpdateAliases(ctx,
		AliasAction{Add: &AliasRef{Index: m.Index, Alias: AliasRead}},
		AliasAction{Add: &AliasRef{Index: m.Index, Alias: AliasTargets}},
	)
	if err != nil {
		return false, fmt.Errorf("bootstrap: %w", err)
	}
	return true, nil
}
