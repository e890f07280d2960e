package reindex

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/ordertable/ordertable/internal/esindex"
)

// Step is a state of the reindex state machine (see README.md). A job records the last step
// it completed; run resumes with the next one.
type Step string

// Steps in order.
const (
	StepPlanned    Step = "planned"    // job document written, nothing built yet
	StepCreated    Step = "created"    // new index exists with build settings
	StepRegistered Step = "registered" // new index is in the write-target alias
	StepBackfilled Step = "backfilled" // every slice copied from the sources
	StepFinished   Step = "finished"   // production settings, refreshed, indexer caught up
	StepVerified   Step = "verified"   // counts (and sample or full) match
	StepSwapped    Step = "swapped"    // read alias on the new index
	StepRolledBack Step = "rolled_back"
	StepAborted    Step = "aborted"
)

var stepOrder = []Step{StepPlanned, StepCreated, StepRegistered, StepBackfilled, StepFinished, StepVerified, StepSwapped}

// after reports whether s is at or past want in the build order.
func (s Step) atLeast(want Step) bool {
	return slices.Index(stepOrder, s) >= slices.Index(stepOrder, want) && slices.Index(stepOrder, want) >= 0
}

// Terminal reports whether the job can no longer advance.
func (s Step) Terminal() bool { return s == StepSwapped || s == StepRolledBack || s == StepAborted }

// Slice is one id range of the backfill and its checkpoint.
type Slice struct {
	// After and Before bound the ids (exclusive; empty = open).
	After  string `json:"after"`
	Before string `json:"before"`
	// Cursor is the last id written; the slice resumes after it.
	Cursor string `json:"cursor"`
	Done   bool   `json:"done"`
	Docs   int64  `json:"docs"`
}

// VerifyResult is the outcome of a verification.
type VerifyResult struct {
	Mode       string    `json:"mode"` // counts, sample or full
	At         time.Time `json:"at"`
	OK         bool      `json:"ok"`
	IndexCount int64     `json:"index_count"`
	LiveCount  int64     `json:"live_count"`
	Checked    int64     `json:"checked"`
	Missing    int64     `json:"missing"`
	Extra      int64     `json:"extra"`
	Stale      int64     `json:"stale"`
	Examples   []string  `json:"examples,omitempty"`
	Detail     string    `json:"detail,omitempty"`
}

// Job is the persistent state of one reindex, stored in the jobs index under its new index name.
type Job struct {
	ID             string    `json:"id"` // = NewIndex
	Alias          string    `json:"alias"`
	NewIndex       string    `json:"new_index"`
	OldIndex       string    `json:"old_index"`
	MappingVersion int       `json:"mapping_version"`
	MappingFile    string    `json:"mapping_file"`
	Mapping        string    `json:"mapping"` // the full body, so a resume needs no file
	Step           Step      `json:"step"`
	Error          string    `json:"error,omitempty"`
	Slices         []Slice   `json:"slices,omitempty"`
	EstimatedDocs  int64     `json:"estimated_docs"`
	BackfillStart  time.Time `json:"backfill_started_at,omitzero"`
	BackfillEnd    time.Time `json:"backfill_finished_at,omitzero"`
	BackfillDocs   int64     `json:"backfill_docs"`
	// Throttle is the backfill throttle's state at the last checkpoint.
	Throttle     *ThrottleState `json:"throttle,omitempty"`
	Lag          int64          `json:"lag"`
	Verify       *VerifyResult  `json:"verify,omitempty"`
	SwappedAt    time.Time      `json:"swapped_at,omitzero"`
	GraceUntil   time.Time      `json:"grace_until,omitzero"`
	RolledBackAt time.Time      `json:"rolled_back_at,omitzero"`
	CreatedAt    time.Time      `json:"created_at"`
	UpdatedAt    time.Time      `json:"updated_at"`
	Kind         string         `json:"kind"` // "job"; the lease document has "lease"
}

// Docs is the number of documents the backfill wrote so far.
func (j *Job) Docs() int64 {
	var n int64
	for _, s := range j.Slices {
		n += s.Docs
	}
	return n
}

const leaseID = "_lease"

// lease is the lock document: one reindex at a time.
type lease struct {
	Kind      string    `json:"kind"`
	Holder    string    `json:"holder"`
	Job       string    `json:"job"`
	ExpiresAt time.Time `json:"expires_at"`
}

// ErrLocked is returned when another reindex holds the lock.
var ErrLocked = errors.New("another reindex is running")

// jobStore reads and writes job documents and the lease.
type jobStore struct {
	es    es
	index string
	now   func() time.Time
}

func (s jobStore) ensure(ctx context.Context) error {
	ok, err := s.es.indexExists(ctx, s.index)
	if err != nil || ok {
		return err
	}
	body := map[string]any{
		"settings": map[string]any{"number_of_shards": 1, "number_of_replicas": 0},
		"mappings": map[string]any{"dynamic": false, "properties": map[string]any{
			"kind": map[string]any{"type": "keyword"}, "id": map[string]any{"type": "keyword"},
			"step": map[string]any{"type": "keyword"}, "created_at": map[string]any{"type": "date"},
		}},
	}
	err = s.es.createIndex(ctx, s.index, body)
	if esindex.StatusOf(err) == http.StatusBadRequest {
		// Created concurrently (resource_already_exists_exception).
		if ok, _ := s.es.indexExists(ctx, s.index); ok {
			return nil
		}
	}
	return err
}

func (s jobStore) get(ctx context.Context, id string) (*Job, error) {
	var j Job
	if _, err := s.es.getDoc(ctx, s.index, id, &j); err != nil {
		return nil, err
	}
	return &j, nil
}

func (s jobStore) put(ctx context.Context, j *Job) error {
	j.UpdatedAt = s.now().UTC()
	j.Kind = "job"
	if _, err := s.es.putDoc(ctx, s.index, j.ID, j, url.Values{"refresh": {"true"}}); err != nil {
		return fmt.Errorf("save job %s: %w", j.ID, err)
	}
	return nil
}

// list returns every job, newest first.
func (s jobStore) list(ctx context.Context) ([]*Job, error) {
	var out struct {
		Hits struct {
			Hits []struct {
				Source Job `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	q := map[string]any{"size": 1000, "query": map[string]any{"term": map[string]any{"kind": "job"}}}
	err := s.es.do(ctx, http.MethodPost, "/"+url.PathEscape(s.index)+"/_search", q, &out)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	jobs := make([]*Job, 0, len(out.Hits.Hits))
	for _, h := range out.Hits.Hits {
		j := h.Source
		jobs = append(jobs, &j)
	}
	slices.SortFunc(jobs, func(a, b *Job) int { return b.CreatedAt.Compare(a.CreatedAt) })
	return jobs, nil
}

// holderName identifies this process in the lease.
func holderName() string {
	host, _ := os.Hostname()
	return host + ":" + strconv.Itoa(os.Getpid()) + ":" + strconv.FormatInt(time.Now().UnixNano(), 36)
}

// acquire takes the lease for job (op_type=create), taking over an expired one with optimistic
// concurrency so two takers cannot both win.
func (s jobStore) acquire(ctx context.Context, holder, job string, ttl time.Duration) (docMeta, error) {
	l := lease{Kind: "lease", Holder: holder, Job: job, ExpiresAt: s.now().UTC().Add(ttl)}
	meta, err := s.es.putDoc(ctx, s.index, leaseID, l, url.Values{"op_type": {"create"}, "refresh": {"true"}})
	if err == nil {
		return meta, nil
	}
	if !errors.Is(err, ErrConflict) {
		return docMeta{}, fmt.Errorf("acquire lock: %w", err)
	}
	var cur lease
	curMeta, err := s.es.getDoc(ctx, s.index, leaseID, &cur)
	if errors.Is(err, ErrNotFound) {
		return s.acquire(ctx, holder, job, ttl) // released in between
	}
	if err != nil {
		return docMeta{}, fmt.Errorf("acquire lock: %w", err)
	}
	if s.now().Before(cur.ExpiresAt) {
		return docMeta{}, fmt.Errorf("%w: %s holds the lock for job %s until %s (it renews while alive; wait, or let it expire if that process is gone)",
			ErrLocked, cur.Holder, cur.Job, cur.ExpiresAt.Format(time.RFC3339))
	}
	meta, err = s.es.putDoc(ctx, s.index, leaseID, l, ifMatch(curMeta))
	if errors.Is(err, ErrConflict) {
		return docMeta{}, fmt.Errorf("%w: another process took over the expired lock first", ErrLocked)
	}
	if err != nil {
		return docMeta{}, fmt.Errorf("take over expired lock: %w", err)
	}
	return meta, nil
}

// renew extends the lease; ErrLocked means it was lost.
func (s jobStore) renew(ctx context.Context, holder, job string, ttl time.Duration, meta docMeta) (docMeta, error) {
	l := lease{Kind: "lease", Holder: holder, Job: job, ExpiresAt: s.now().UTC().Add(ttl)}
	next, err := s.es.putDoc(ctx, s.index, leaseID, l, ifMatch(meta))
	if errors.Is(err, ErrConflict) || errors.Is(err, ErrNotFound) {
		return docMeta{}, fmt.Errorf("%w: lock lost (taken over after expiry)", ErrLocked)
	}
	return next, err
}

func (s jobStore) release(ctx context.Context, meta docMeta) error {
	err := s.es.deleteDoc(ctx, s.index, leaseID, ifMatch(meta))
	if err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrConflict) {
		return fmt.Errorf("release lock: %w", err)
	}
	return nil
}

func ifMatch(m docMeta) url.Values {
	return url.Values{"if_seq_no": {strconv.FormatInt(m.SeqNo, 10)}, "if_primary_term": {strconv.FormatInt(m.PrimaryTerm, 10)}, "refresh": {"true"}}
}
