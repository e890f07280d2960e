package reindex

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/ordertable/ordertable/internal/esindex"
)

// ErrNotFound is returned for an index, alias or document that does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned for a version or op_type=create conflict (HTTP 409).
var ErrConflict = errors.New("conflict")

// es is the handful of Elasticsearch calls the reindex job makes, over the project's client
// (addresses, authentication, timeouts and transport retries are its).
type es struct {
	c *esindex.Client
}

// do sends one request; body is marshalled as JSON unless it is []byte (sent as is, for
// NDJSON bodies). 404 and 409 answers also match ErrNotFound and ErrConflict; out, when
// non-nil, receives the decoded 2xx body.
func (e es) do(ctx context.Context, method, path string, body any, out any) error {
	var raw []byte
	switch b := body.(type) {
	case nil:
	case []byte:
		raw = b
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			return fmt.Errorf("%s %s: encode body: %w", method, path, err)
		}
	}
	_, data, err := e.c.Do(ctx, method, path, raw)
	switch esindex.StatusOf(err) {
	case 0:
	case http.StatusNotFound:
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	case http.StatusConflict:
		return fmt.Errorf("%w: %w", ErrConflict, err)
	}
	if err != nil {
		return err
	}
	if out == nil || method == http.MethodHead {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// aliasIndices returns the indices an alias points to (empty when the alias does not exist).
func (e es) aliasIndices(ctx context.Context, alias string) ([]string, error) {
	var out map[string]json.RawMessage
	err := e.do(ctx, http.MethodGet, "/_alias/"+url.PathEscape(alias), nil, &out)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get alias %s: %w", alias, err)
	}
	names := make([]string, 0, len(out))
	for name := range out {
		names = append(names, name)
	}
	slices.Sort(names)
	return names, nil
}

// aliasAction is one action of an _aliases call.
type aliasAction map[string]map[string]string

func addAlias(index, alias string) aliasAction {
	return aliasAction{"add": {"index": index, "alias": alias}}
}

func removeAlias(index, alias string) aliasAction {
	return aliasAction{"remove": {"index": index, "alias": alias}}
}

// updateAliases applies every action atomically.
func (e es) updateAliases(ctx context.Context, actions ...aliasAction) error {
	if err := e.do(ctx, http.MethodPost, "/_aliases", map[string]any{"actions": actions}, nil); err != nil {
		return fmt.Errorf("update aliases: %w", err)
	}
	return nil
}

func (e es) indexExists(ctx context.Context, index string) (bool, error) {
	err := e.do(ctx, http.MethodHead, "/"+url.PathEscape(index), nil, nil)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("index %s exists: %w", index, err)
	}
	return true, nil
}

func (e es) createIndex(ctx context.Context, index string, body any) error {
	if err := e.do(ctx, http.MethodPut, "/"+url.PathEscape(index), body, nil); err != nil {
		return fmt.Errorf("create index %s: %w", index, err)
	}
	return nil
}

func (e es) deleteIndex(ctx context.Context, index string) error {
	err := e.do(ctx, http.MethodDelete, "/"+url.PathEscape(index), nil, nil)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("delete index %s: %w", index, err)
	}
	return nil
}

func (e es) putSettings(ctx context.Context, index string, settings map[string]any) error {
	if err := e.do(ctx, http.MethodPut, "/"+url.PathEscape(index)+"/_settings", map[string]any{"index": settings}, nil); err != nil {
		return fmt.Errorf("put settings %s: %w", index, err)
	}
	return nil
}

// refresh makes writes searchable. It is idempotent, so a request that timed out (a large
// refresh after a build without refreshes can take longer than one request's timeout) is
// simply repeated.
func (e es) refresh(ctx context.Context, index string) error {
	err := esindex.Retry(ctx, esindex.DefaultBackoff(), nil, func(ctx context.Context) error {
		err := e.do(ctx, http.MethodPost, "/"+url.PathEscape(index)+"/_refresh", nil, nil)
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			return fmt.Errorf("request timed out: %w", errRetryable)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("refresh %s: %w", index, err)
	}
	return nil
}

var errRetryable = errors.New("retryable")

func (e es) count(ctx context.Context, index string) (int64, error) {
	var out struct {
		Count int64 `json:"count"`
	}
	if err := e.do(ctx, http.MethodGet, "/"+url.PathEscape(index)+"/_count", nil, &out); err != nil {
		return 0, fmt.Errorf("count %s: %w", index, err)
	}
	return out.Count, nil
}

// mapping returns the mappings body of one concrete index.
func (e es) mapping(ctx context.Context, index string) (json.RawMessage, error) {
	var out map[string]struct {
		Mappings json.RawMessage `json:"mappings"`
	}
	if err := e.do(ctx, http.MethodGet, "/"+url.PathEscape(index)+"/_mapping", nil, &out); err != nil {
		return nil, fmt.Errorf("get mapping %s: %w", index, err)
	}
	for _, m := range out {
		return m.Mappings, nil
	}
	return nil, fmt.Errorf("get mapping %s: %w", index, ErrNotFound)
}

// settings returns the flat index settings of one concrete index ("index.refresh_interval"
// style keys are normalised to the nested form's leaves without the "index." prefix).
func (e es) settings(ctx context.Context, index string) (map[string]any, error) {
	var out map[string]struct {
		Settings map[string]any `json:"settings"`
	}
	if err := e.do(ctx, http.MethodGet, "/"+url.PathEscape(index)+"/_settings", nil, &out); err != nil {
		return nil, fmt.Errorf("get settings %s: %w", index, err)
	}
	for _, s := range out {
		return flattenSettings(s.Settings), nil
	}
	return nil, fmt.Errorf("get settings %s: %w", index, ErrNotFound)
}

// docMeta is the concurrency-control metadata of a stored document.
type docMeta struct {
	SeqNo       int64 `json:"_seq_no"`
	PrimaryTerm int64 `json:"_primary_term"`
}

// getDoc reads a document's _source into out.
func (e es) getDoc(ctx context.Context, index, id string, out any) (docMeta, error) {
	var res struct {
		docMeta
		Found  bool            `json:"found"`
		Source json.RawMessage `json:"_source"`
	}
	if err := e.do(ctx, http.MethodGet, "/"+url.PathEscape(index)+"/_doc/"+url.PathEscape(id), nil, &res); err != nil {
		return docMeta{}, fmt.Errorf("get %s/%s: %w", index, id, err)
	}
	if !res.Found {
		return docMeta{}, fmt.Errorf("get %s/%s: %w", index, id, ErrNotFound)
	}
	if err := json.Unmarshal(res.Source, out); err != nil {
		return docMeta{}, fmt.Errorf("get %s/%s: decode: %w", index, id, err)
	}
	return res.docMeta, nil
}

// putDoc writes one document. q adds query parameters such as op_type=create, if_seq_no or
// refresh (job state is small and must be read back at once).
func (e es) putDoc(ctx context.Context, index, id string, doc any, q url.Values) (docMeta, error) {
	if q == nil {
		q = url.Values{}
	}
	var res docMeta
	path := "/" + url.PathEscape(index) + "/_doc/" + url.PathEscape(id) + "?" + q.Encode()
	if err := e.do(ctx, http.MethodPut, path, doc, &res); err != nil {
		return docMeta{}, fmt.Errorf("put %s/%s: %w", index, id, err)
	}
	return res, nil
}

func (e es) deleteDoc(ctx context.Context, index, id string, q url.Values) error {
	if q == nil {
		q = url.Values{}
	}
	q.Set("refresh", "true")
	path := "/" + url.PathEscape(index) + "/_doc/" + url.PathEscape(id) + "?" + q.Encode()
	if err := e.do(ctx, http.MethodDelete, path, nil, nil); err != nil {
		return fmt.Errorf("delete %s/%s: %w", index, id, err)
	}
	return nil
}

// flattenSettings turns {"index":{"refresh_interval":"1s"}} or {"index.refresh_interval":"1s"}
// into {"refresh_interval":"1s"}, so file settings and live settings compare.
func flattenSettings(in map[string]any) map[string]any {
	out := map[string]any{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		if m, ok := v.(map[string]any); ok {
			for k, sub := range m {
				key := k
				if prefix != "" {
					key = prefix + "." + k
				}
				walk(key, sub)
			}
			return
		}
		out[strings.TrimPrefix(prefix, "index.")] = v
	}
	walk("", in)
	return out
}
