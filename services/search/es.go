package search

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/ordertable/ordertable/internal/esindex"
)

// Errors of the Elasticsearch side, mapped to HTTP statuses by the handlers.
var (
	// errIndexGone: the concrete index no longer exists (a cursor outlived its index).
	errIndexGone = errors.New("index no longer exists")
	// errNoLiveIndex: the read alias is missing or does not name exactly one index.
	errNoLiveIndex = errors.New("no live index behind the alias")
)

// store is the search API's view of Elasticsearch: the alias, mappings and _search, all over
// the official client. Nothing the user typed reaches it except as values inside JSON built
// by query.go.
type store struct {
	client *esindex.Client
	es     *elasticsearch.Client
}

// liveIndex resolves the read alias to its one concrete index.
func (s *store) liveIndex(ctx context.Context, alias string) (string, error) {
	idx, err := s.client.AliasIndices(ctx, alias)
	if errors.Is(err, esindex.ErrNoAlias) {
		return "", fmt.Errorf("%w: %v", errNoLiveIndex, err)
	}
	if err != nil {
		return "", err
	}
	if len(idx) != 1 {
		return "", fmt.Errorf("%w: alias %q names %d indices %v", errNoLiveIndex, alias, len(idx), idx)
	}
	return idx[0], nil
}

// mapping returns the "mappings" object of a concrete index.
func (s *store) mapping(ctx context.Context, index string) ([]byte, error) {
	res, err := s.es.Indices.GetMapping(s.es.Indices.GetMapping.WithContext(ctx), s.es.Indices.GetMapping.WithIndex(index))
	if err != nil {
		return nil, fmt.Errorf("get mapping %s: %w", index, err)
	}
	defer drain(res)
	if res.StatusCode == http.StatusNotFound {
		return nil, fmt.Errorf("get mapping %s: %w", index, errIndexGone)
	}
	if res.IsError() {
		return nil, fmt.Errorf("get mapping %s: %w", index, responseError(res))
	}
	var body map[string]struct {
		Mappings json.RawMessage `json:"mappings"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("get mapping %s: decode: %w", index, err)
	}
	m, ok := body[index]
	if !ok || len(m.Mappings) == 0 {
		return nil, fmt.Errorf("get mapping %s: %w: answer names no such index", index, ErrMapping)
	}
	return m.Mappings, nil
}

// searchResponse is the part of a _search answer the API reads.
type searchResponse struct {
	Hits struct {
		Total *struct {
			Value    int64  `json:"value"`
			Relation string `json:"relation"`
		} `json:"total"`
		Hits []struct {
			Index  string            `json:"_index"`
			ID     string            `json:"_id"`
			Source borrowedJSON      `json:"_source"`
			Sort   []json.RawMessage `json:"sort"`
		} `json:"hits"`
	} `json:"hits"`
	Aggregations map[string]struct {
		Buckets []struct {
			Key      json.RawMessage `json:"key"`
			DocCount int64           `json:"doc_count"`
		} `json:"buckets"`
	} `json:"aggregations"`
}

// search runs body against one concrete index.
func (s *store) search(ctx context.Context, index string, body any) (*searchResponse, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("search %s: encode: %w", index, err)
	}
	res, err := s.es.Search(s.es.Search.WithContext(ctx), s.es.Search.WithIndex(index), s.es.Search.WithBody(bytes.NewReader(b)))
	if err != nil {
		return nil, fmt.Errorf("search %s: %w", index, err)
	}
	defer drain(res)
	if res.StatusCode == http.StatusNotFound {
		return nil, fmt.Errorf("search %s: %w", index, errIndexGone)
	}
	if res.IsError() {
		return nil, fmt.Errorf("search %s: %w", index, responseError(res))
	}
	raw, err := readBody(res)
	if err != nil {
		return nil, fmt.Errorf("search %s: read: %w", index, err)
	}
	var out searchResponse
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("search %s: decode: %w", index, err)
	}
	return &out, nil
}

// borrowedJSON is a raw JSON value that shares the memory of the answer it was decoded from
// (json.Unmarshal validates the whole input first, then hands each value its slice of it):
// a page's sources are not copied out of the engine's answer, which stays alive as long as
// they do. Only for input nobody writes to after decoding.
type borrowedJSON []byte

// UnmarshalJSON keeps data without copying it.
func (b *borrowedJSON) UnmarshalJSON(data []byte) error {
	*b = data
	return nil
}

// readBody reads a response body, in one allocation when its length is announced (the
// announced length is only a hint: a body the transport decompressed is longer).
func readBody(res *esapi.Response) ([]byte, error) {
	var buf bytes.Buffer
	if n, err := strconv.Atoi(res.Header.Get("Content-Length")); err == nil && n >= 0 && n <= 64<<20 {
		buf.Grow(n + bytes.MinRead) // room for the read that sees EOF
	}
	if _, err := buf.ReadFrom(res.Body); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func responseError(res *esapi.Response) error {
	b, _ := io.ReadAll(io.LimitReader(res.Body, 2048))
	return fmt.Errorf("elasticsearch answered %d: %s", res.StatusCode, strings.TrimSpace(string(b)))
}

// drain lets the transport reuse the connection.
func drain(res *esapi.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 1<<20))
	_ = res.Body.Close()
}
