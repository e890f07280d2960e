package reindex

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/ordertable/ordertable/mappings"
)

// Rollback moves the read alias back to the previous index of the last swap, in one _aliases
// call. The previous index kept receiving live writes during the grace period, so nothing is
// lost; the rolled-back index keeps receiving them too, for a roll-forward, until cleanup.
// Past the grace period (the old index no longer a write target) it refuses unless force.
func (r *Reindexer) Rollback(ctx context.Context, force bool) (*Job, error) {
	var job *Job
	err := r.withLease(ctx, "rollback", func(ctx context.Context) error {
		live, err := r.liveIndex(ctx)
		if err != nil {
			return err
		}
		jobs, err := r.store.list(ctx)
		if err != nil {
			return err
		}
		for _, j := range jobs {
			if j.Step == StepSwapped && j.NewIndex == live {
				job = j
				break
			}
		}
		if job == nil || job.OldIndex == "" {
			return fmt.Errorf("%w: no previous index to roll back to (live index %q was not put in place by a reindex swap)", ErrRefused, live)
		}
		exists, err := r.es.indexExists(ctx, job.OldIndex)
		if err != nil {
			return err
		}
		if !exists {
			return fmt.Errorf("%w: previous index %s no longer exists (cleaned up)", ErrRefused, job.OldIndex)
		}
		targets, err := r.es.aliasIndices(ctx, r.cfg.TargetsAlias)
		if err != nil {
			return err
		}
		if !slices.Contains(targets, job.OldIndex) && !force {
			return fmt.Errorf("%w: previous index %s stopped receiving live writes (grace period ended %s); it would serve stale data (use --force, then `ordertable verify --repair`)",
				ErrRefused, job.OldIndex, job.GraceUntil.Format(time.RFC3339))
		}
		actions := []aliasAction{removeAlias(job.NewIndex, r.cfg.Alias), addAlias(job.OldIndex, r.cfg.Alias)}
		if !slices.Contains(targets, job.OldIndex) {
			actions = append(actions, addAlias(job.OldIndex, r.cfg.TargetsAlias))
		}
		if err := r.es.updateAliases(ctx, actions...); err != nil {
			return err
		}
		now := r.cfg.Now().UTC()
		job.Step, job.RolledBackAt, job.GraceUntil = StepRolledBack, now, now.Add(r.cfg.Grace)
		return r.store.put(ctx, job)
	})
	if err != nil {
		return job, fmt.Errorf("reindex rollback: %w", err)
	}
	return job, nil
}

// Abort stops an unfinished job: the new index leaves the write targets and is deleted; the
// read alias was never moved, so readers see nothing.
func (r *Reindexer) Abort(ctx context.Context, jobID string) (*Job, error) {
	var job *Job
	err := r.withLease(ctx, jobID, func(ctx context.Context) error {
		var err error
		if job, err = r.store.get(ctx, jobID); err != nil {
			return err
		}
		if job.Step == StepSwapped {
			return fmt.Errorf("%w: job %s is swapped and live; use `reindex rollback`", ErrRefused, jobID)
		}
		if job.Step == StepAborted {
			return nil
		}
		live, err := r.liveIndex(ctx)
		if err != nil {
			return err
		}
		if live == job.NewIndex {
			return fmt.Errorf("%w: %s is the live index", ErrRefused, job.NewIndex)
		}
		targets, err := r.es.aliasIndices(ctx, r.cfg.TargetsAlias)
		if err != nil {
			return err
		}
		if slices.Contains(targets, job.NewIndex) {
			if err := r.es.updateAliases(ctx, removeAlias(job.NewIndex, r.cfg.TargetsAlias)); err != nil {
				return err
			}
		}
		if err := r.es.deleteIndex(ctx, job.NewIndex); err != nil {
			return err
		}
		job.Step = StepAborted
		return r.store.put(ctx, job)
	})
	if err != nil {
		return job, fmt.Errorf("reindex abort %s: %w", jobID, err)
	}
	return job, nil
}

// CleanupResult says what cleanup did.
type CleanupResult struct {
	Deleted    []string `json:"deleted"`
	Untargeted []string `json:"untargeted"` // left the write targets, kept
	Kept       []string `json:"kept"`
	Waiting    []string `json:"waiting"` // still in their grace period
}

// Cleanup deletes versioned indices other than the live one, keeping the keep newest of
// them, and never one still in its grace period unless force. Kept indices past their grace
// period leave the write targets (they stop costing the indexer writes).
func (r *Reindexer) Cleanup(ctx context.Context, keep int, force bool) (*CleanupResult, error) {
	if keep < 0 {
		return nil, fmt.Errorf("reindex cleanup: --keep %d must be >= 0", keep)
	}
	res := &CleanupResult{}
	err := r.withLease(ctx, "cleanup", func(ctx context.Context) error {
		live, err := r.liveIndex(ctx)
		if err != nil {
			return err
		}
		if live == "" {
			return fmt.Errorf("%w: no live index behind alias %s", ErrRefused, r.cfg.Alias)
		}
		infos, err := r.List(ctx)
		if err != nil {
			return err
		}
		jobs, err := r.store.list(ctx)
		if err != nil {
			return err
		}
		graceUntil := map[string]time.Time{}
		building := map[string]bool{}
		for _, j := range jobs {
			if !j.Step.Terminal() {
				building[j.NewIndex] = true
			}
			// The old index of a swap, and the new index of a rollback, stay for the grace.
			if j.Step == StepSwapped && j.GraceUntil.After(graceUntil[j.OldIndex]) {
				graceUntil[j.OldIndex] = j.GraceUntil
			}
			if j.Step == StepRolledBack && j.GraceUntil.After(graceUntil[j.NewIndex]) {
				graceUntil[j.NewIndex] = j.GraceUntil
			}
		}
		now := r.cfg.Now()
		var old []IndexInfo
		for _, in := range infos {
			if in.Name != live && !building[in.Name] {
				old = append(old, in)
			}
		}
		// Newest first: keep the first keep.
		slices.SortFunc(old, func(a, b IndexInfo) int { return b.MappingVersion - a.MappingVersion })
		for i, in := range old {
			inGrace := now.Before(graceUntil[in.Name])
			if inGrace && !force {
				res.Waiting = append(res.Waiting, in.Name)
				continue
			}
			if i < keep {
				res.Kept = append(res.Kept, in.Name)
				if in.Target {
					if err := r.es.updateAliases(ctx, removeAlias(in.Name, r.cfg.TargetsAlias)); err != nil {
						return err
					}
					res.Untargeted = append(res.Untargeted, in.Name)
				}
				continue
			}
			if err := r.es.deleteIndex(ctx, in.Name); err != nil {
				return err
			}
			res.Deleted = append(res.Deleted, in.Name)
		}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("reindex cleanup: %w", err)
	}
	return res, nil
}

// IndexInfo describes one versioned index.
type IndexInfo struct {
	Name           string `json:"name"`
	MappingVersion int    `json:"mapping_version"`
	Docs           int64  `json:"docs"`
	Live           bool   `json:"live"`
	Target         bool   `json:"target"`
	Job            string `json:"job,omitempty"`
	JobStep        Step   `json:"job_step,omitempty"`
}

// List returns the versioned indices known from the aliases and the jobs, oldest version first.
func (r *Reindexer) List(ctx context.Context) ([]IndexInfo, error) {
	live, err := r.es.aliasIndices(ctx, r.cfg.Alias)
	if err != nil {
		return nil, err
	}
	targets, err := r.es.aliasIndices(ctx, r.cfg.TargetsAlias)
	if err != nil {
		return nil, err
	}
	if err := r.store.ensure(ctx); err != nil {
		return nil, err
	}
	jobs, err := r.store.list(ctx)
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for _, n := range append(append([]string{}, live...), targets...) {
		names[n] = true
	}
	jobOf := map[string]*Job{}
	for _, j := range jobs {
		names[j.NewIndex] = true
		if j.OldIndex != "" {
			names[j.OldIndex] = true
		}
		if _, ok := jobOf[j.NewIndex]; !ok {
			jobOf[j.NewIndex] = j
		}
	}
	var out []IndexInfo
	for n := range names {
		exists, err := r.es.indexExists(ctx, n)
		if err != nil {
			return nil, err
		}
		if !exists {
			continue
		}
		in := IndexInfo{Name: n, Live: slices.Contains(live, n), Target: slices.Contains(targets, n), MappingVersion: versionFromName(n)}
		if mb, err := r.es.mapping(ctx, n); err == nil {
			var mm struct {
				Meta struct {
					MappingVersion int `json:"mapping_version"`
				} `json:"_meta"`
			}
			if json.Unmarshal(mb, &mm) == nil && mm.Meta.MappingVersion > 0 {
				in.MappingVersion = mm.Meta.MappingVersion
			}
		}
		if in.Docs, err = r.es.count(ctx, n); err != nil {
			return nil, err
		}
		if j := jobOf[n]; j != nil {
			in.Job, in.JobStep = j.ID, j.Step
		}
		out = append(out, in)
	}
	slices.SortFunc(out, func(a, b IndexInfo) int {
		if a.MappingVersion != b.MappingVersion {
			return a.MappingVersion - b.MappingVersion
		}
		return compareStrings(a.Name, b.Name)
	})
	return out, nil
}

var versionSuffix = regexp.MustCompile(`_v(\d+)$`)

func versionFromName(n string) int {
	m := versionSuffix.FindStringSubmatch(n)
	if m == nil {
		return 0
	}
	v, _ := strconv.Atoi(m[1])
	return v
}

// Status is the state of the latest job, with live figures.
type Status struct {
	Job      *Job          `json:"job"`
	Live     string        `json:"live"`
	Docs     int64         `json:"docs"`
	Estimate int64         `json:"estimated_docs"`
	Rate     float64       `json:"docs_per_second"`
	ETA      time.Duration `json:"eta_ns"`
	Lag      int64         `json:"lag"`
	LagError string        `json:"lag_error,omitempty"`
	Locked   string        `json:"locked_by,omitempty"`
}

// Status reports the latest job (or jobID's) with progress, rate, ETA and the indexer's lag.
func (r *Reindexer) Status(ctx context.Context, jobID string) (*Status, error) {
	if err := r.store.ensure(ctx); err != nil {
		return nil, err
	}
	st := &Status{Lag: -1}
	var err error
	if st.Live, err = r.liveIndex(ctx); err != nil {
		return nil, err
	}
	if jobID != "" {
		if st.Job, err = r.store.get(ctx, jobID); err != nil {
			return nil, fmt.Errorf("reindex status: job %s: %w", jobID, err)
		}
	} else {
		jobs, err := r.store.list(ctx)
		if err != nil {
			return nil, err
		}
		if len(jobs) > 0 {
			st.Job = jobs[0]
		}
	}
	var l lease
	if _, err := r.es.getDoc(ctx, r.cfg.JobsIndex, leaseID, &l); err == nil && r.cfg.Now().Before(l.ExpiresAt) {
		st.Locked = l.Holder
	}
	if r.cfg.Lag != nil {
		if st.Lag, err = r.cfg.Lag.Lag(ctx); err != nil {
			st.Lag, st.LagError = -1, err.Error()
		}
	}
	if j := st.Job; j != nil {
		st.Docs, st.Estimate = j.Docs(), j.EstimatedDocs
		end := r.cfg.Now()
		if !j.BackfillEnd.IsZero() {
			end = j.BackfillEnd
		}
		if !j.BackfillStart.IsZero() && end.After(j.BackfillStart) {
			st.Rate = float64(st.Docs) / end.Sub(j.BackfillStart).Seconds()
		}
		if st.Rate > 0 && j.BackfillEnd.IsZero() && st.Estimate > st.Docs {
			st.ETA = time.Duration(float64(st.Estimate-st.Docs) / st.Rate * float64(time.Second))
		}
	}
	return st, nil
}

// Jobs returns every recorded job, newest first.
func (r *Reindexer) Jobs(ctx context.Context) ([]*Job, error) {
	if err := r.store.ensure(ctx); err != nil {
		return nil, err
	}
	return r.store.list(ctx)
}

// fieldSet is the set of top-level fields the mapping declares: each index gets exactly these.
func (m *Mapping) fieldSet() mappings.FieldSet { return m.Fields }

func jsonBodiesEqual(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return a == b
	}
	return jsonEqual(x, y)
}

// parseESDuration accepts Elasticsearch time units (d, h, m, s, ms).
func parseESDuration(s string) (time.Duration, error) {
	if len(s) > 1 && s[len(s)-1] == 'd' {
		n, err := strconv.Atoi(s[:len(s)-1])
		if err != nil {
			return 0, err
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, errors.New("want a duration such as 12h or 2d")
	}
	return d, nil
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
