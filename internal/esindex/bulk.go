package esindex

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// OpType is a bulk action.
type OpType string

// Bulk actions the writer sends.
const (
	OpIndex  OpType = "index"
	OpDelete OpType = "delete"
)

// Op is one bulk action.
type Op struct {
	Type  OpType
	Index string
	ID    string
	// Version, when > 0, is sent with version_type=external: the write happens only if it is
	// greater than the stored version (or tombstone), otherwise the item answers 409.
	Version int64
	// Doc is the document of an index action: json.RawMessage or any value json.Marshal takes.
	Doc any
}

// Outcome classifies the final answer for one item.
type Outcome int

// Item outcomes. Applied and Conflict are both success for a versioned writer.
const (
	// Applied: the write took effect (created, updated, deleted, or a delete of a missing doc).
	Applied Outcome = iota
	// Conflict: 409, the stored version is already as new or newer.
	Conflict
	// Rejected: a permanent 4xx for this item (mapping or parse error, bad id): retrying the
	// same action can't succeed, the caller must dead-letter its source.
	Rejected
)

func (o Outcome) String() string {
	switch o {
	case Applied:
		return "applied"
	case Conflict:
		return "conflict"
	case Rejected:
		return "rejected"
	}
	return "outcome(" + strconv.Itoa(int(o)) + ")"
}

// ItemResult is the final answer for one Op, at the same position as its Op.
type ItemResult struct {
	Outcome Outcome
	Status  int
	// Result is Elasticsearch's result: created, updated, deleted, not_found, noop.
	Result string
	// ErrType and ErrReason describe a rejection.
	ErrType   string
	ErrReason string
}

// Reason is a one-line description of a rejection, for logs and dead letters.
func (r ItemResult) Reason() string {
	return fmt.Sprintf("status %d: %s: %s", r.Status, r.ErrType, r.ErrReason)
}

// BulkOptions configures a BulkWriter.
type BulkOptions struct {
	// MaxBytes splits a Write into requests of at most about this many bytes. Default 8 MiB.
	MaxBytes int
	// Backoff paces retries; zero means DefaultBackoff().
	Backoff Backoff
	// Refresh is passed as ?refresh= when set ("true", "wait_for"); tests use it.
	Refresh string
	// OnRequest, when set, is called after every _bulk request with its duration, item count
	// and error (nil when Elasticsearch answered 2xx, whatever the items said).
	OnRequest func(d time.Duration, items int, err error)
	// OnRetry, when set, is called once per retried request or item with a reason:
	// "transport", "status_429", "status_5xx", "item_429", "item_5xx".
	OnRetry func(reason string, n int)
}

// BulkWriter sends bulk requests and reads their answers item by item. Throttled (429) and
// failed (5xx, transport error) work is retried with capped exponential backoff and jitter
// until it succeeds or ctx ends: nothing is ever dropped. It is safe for concurrent use.
type BulkWriter struct {
	c    *Client
	opts BulkOptions
}

// NewBulkWriter returns a writer over c.
func (c *Client) NewBulkWriter(opts BulkOptions) *BulkWriter {
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = 8 << 20
	}
	if opts.Backoff == (Backoff{}) {
		opts.Backoff = DefaultBackoff()
	}
	return &BulkWriter{c: c, opts: opts}
}

type bulkMeta struct {
	Index       string `json:"_index"`
	ID          string `json:"_id"`
	Version     int64  `json:"version,omitempty"`
	VersionType string `json:"version_type,omitempty"`
}

// encodeOp returns the NDJSON lines of one op.
func encodeOp(op Op) ([]byte, error) {
	meta := bulkMeta{Index: op.Index, ID: op.ID}
	if op.Version > 0 {
		meta.Version, meta.VersionType = op.Version, "external"
	}
	var buf bytes.Buffer
	line, err := json.Marshal(map[OpType]bulkMeta{op.Type: meta})
	if err != nil {
		return nil, err
	}
	buf.Write(line)
	buf.WriteByte('\n')
	switch op.Type {
	case OpIndex:
		var doc []byte
		if raw, ok := op.Doc.(json.RawMessage); ok {
			doc = raw
		} else if doc, err = json.Marshal(op.Doc); err != nil {
			return nil, err
		}
		if !json.Valid(doc) || bytes.ContainsAny(doc, "\n") {
			// NDJSON can't carry a newline inside a line; compact it.
			var c bytes.Buffer
			if err := json.Compact(&c, doc); err != nil {
				return nil, fmt.Errorf("document: %w", err)
			}
			doc = c.Bytes()
		}
		buf.Write(doc)
		buf.WriteByte('\n')
	case OpDelete:
	default:
		return nil, fmt.Errorf("unknown op type %q", op.Type)
	}
	return buf.Bytes(), nil
}

type bulkItem struct {
	Status int    `json:"status"`
	Result string `json:"result"`
	Error  *struct {
		Type   string `json:"type"`
		Reason string `json:"reason"`
	} `json:"error"`
}

// Write performs every op and returns one result per op, in order. It returns an error only
// when ctx ends before every op has a final answer, when an op can't be encoded, or when
// Elasticsearch rejects a whole request with a non-retryable status (a bug, not a data error).
func (w *BulkWriter) Write(ctx context.Context, ops []Op) ([]ItemResult, error) {
	results := make([]ItemResult, len(ops))
	lines := make([][]byte, len(ops))
	for i, op := range ops {
		b, err := encodeOp(op)
		if err != nil {
			return nil, fmt.Errorf("bulk: op %d (%s %s/%s): %w", i, op.Type, op.Index, op.ID, err)
		}
		lines[i] = b
	}
	pending := make([]int, len(ops))
	for i := range pending {
		pending[i] = i
	}
	path := "/_bulk"
	if w.opts.Refresh != "" {
		path += "?refresh=" + w.opts.Refresh
	}
	attempt := 0
	for len(pending) > 0 {
		var retry []int
		for start := 0; start < len(pending); {
			end, size := start, 0
			for end < len(pending) && (end == start || size+len(lines[pending[end]]) <= w.opts.MaxBytes) {
				size += len(lines[pending[end]])
				end++
			}
			chunk := pending[start:end]
			start = end
			again, err := w.send(ctx, path, chunk, lines, results)
			if err != nil {
				return nil, err
			}
			retry = append(retry, again...)
		}
		pending = retry
		if len(pending) == 0 {
			break
		}
		attempt++
		if err := sleep(ctx, w.opts.Backoff.Delay(attempt)); err != nil {
			return nil, fmt.Errorf("bulk: %d ops still pending: %w", len(pending), err)
		}
	}
	return results, nil
}

// send posts one request for the ops at idx and fills their results. It returns the ops to
// retry (all of them after a transport error or a retryable whole-request status).
func (w *BulkWriter) send(ctx context.Context, path string, idx []int, lines [][]byte, results []ItemResult) ([]int, error) {
	var body bytes.Buffer
	for _, i := range idx {
		body.Write(lines[i])
	}
	start := time.Now()
	_, data, err := w.c.doBulk(ctx, path, body.Bytes())
	if w.opts.OnRequest != nil {
		w.opts.OnRequest(time.Since(start), len(idx), err)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("bulk: %w", ctx.Err())
		}
		if !IsRetryable(err) {
			return nil, fmt.Errorf("bulk: %w", err)
		}
		w.retried(retryReason(err), len(idx))
		return idx, nil
	}
	var res struct {
		Items []map[string]bulkItem `json:"items"`
	}
	if err := json.Unmarshal(data, &res); err != nil {
		// A truncated or garbled answer: the writes may or may not have happened; they are
		// versioned and idempotent, so sending them again is safe.
		w.retried("transport", len(idx))
		return idx, nil
	}
	if len(res.Items) != len(idx) {
		w.retried("transport", len(idx))
		return idx, nil
	}
	var retry []int
	var n429, n5xx int
	for k, item := range res.Items {
		i := idx[k]
		var it bulkItem
		for _, v := range item {
			it = v
		}
		r := ItemResult{Status: it.Status, Result: it.Result}
		if it.Error != nil {
			r.ErrType, r.ErrReason = it.Error.Type, it.Error.Reason
		}
		switch {
		case it.Status >= 200 && it.Status < 300:
			r.Outcome = Applied
		case it.Status == http.StatusNotFound && it.Error == nil:
			// Delete of a missing document: the tombstone with our version is recorded.
			r.Outcome = Applied
		case it.Status == http.StatusConflict:
			r.Outcome = Conflict
		case it.Status == http.StatusTooManyRequests:
			n429++
			retry = append(retry, i)
			continue
		case it.Status >= 500 || it.Status == 0:
			n5xx++
			retry = append(retry, i)
			continue
		default:
			r.Outcome = Rejected
		}
		results[i] = r
	}
	if n429 > 0 {
		w.retried("item_429", n429)
	}
	if n5xx > 0 {
		w.retried("item_5xx", n5xx)
	}
	return retry, nil
}

func (w *BulkWriter) retried(reason string, n int) {
	if w.opts.OnRetry != nil {
		w.opts.OnRetry(reason, n)
	}
}

func retryReason(err error) string {
	switch s := StatusOf(err); {
	case s == http.StatusTooManyRequests:
		return "status_429"
	case s >= 500:
		return "status_5xx"
	}
	return "transport"
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Retry calls op until it succeeds, returns a non-retryable error (see IsRetryable), or ctx
// ends, sleeping with backoff between attempts. onRetry, when not nil, sees each retried error.
func Retry(ctx context.Context, b Backoff, onRetry func(error), op func(ctx context.Context) error) error {
	if b == (Backoff{}) {
		b = DefaultBackoff()
	}
	for attempt := 1; ; attempt++ {
		err := op(ctx)
		if err == nil || !IsRetryable(err) {
			return err
		}
		if ctx.Err() != nil {
			return errors.Join(err, ctx.Err())
		}
		if onRetry != nil {
			onRetry(err)
		}
		if err := sleep(ctx, b.Delay(attempt)); err != nil {
			return err
		}
	}
}
