// Package reindex builds a new versioned index of the orders table from the source services
// while live events keep flowing, verifies it and swaps the read alias to it atomically, with
// an instant rollback. Every step is recorded in the jobs index and is idempotent, so a job that
// crashed at any point resumes with `run`. README.md beside this file has the state machine and
// the argument for why no live event is lost between dual-write registration and backfill.
package reindex

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/ordertable/ordertable/indexer"
	"github.com/ordertable/ordertable/internal/esindex"
)

// Config configures the reindex job. Zero values take the defaults of setDefaults.
type Config struct {
	// ES is the Elasticsearch client. Required.
	ES *esindex.Client
	// Orders and Customers read the source services. Required for backfill and verify.
	Orders    OrderLister
	Customers CustomerGetter
	// Lag reports the indexer group's consumer lag; nil skips the catch-up wait (with a warning).
	Lag LagReader
	// Alias is the read alias (default "orders"); TargetsAlias the write-target alias the indexer
	// writes to (default "orders_targets"); JobsIndex holds job state (default "ordertable-jobs").
	Alias        string
	TargetsAlias string
	JobsIndex    string
	// StatePrefix names the indexer's join-state indices (default "ordertable-state"): the
	// last snapshots of deleted customers are read there.
	StatePrefix string
	// Slices is the number of id ranges the backfill splits the table into (default 64), worked
	// by Workers goroutines (default 4). PageSize orders per source page and bulk (default 1000).
	Slices   int
	Workers  int
	PageSize int
	// Throttle is how the backfill shares the engine with live searches (README.md, "Being a
	// good citizen"): "adaptive" (default) paces its writes at a rate that follows the latency
	// of a probe search on the read alias; "off" paces them only at MaxRate.
	Throttle string
	// ThrottleTarget is the probe search's latency ÷ its latency before the backfill above which
	// the adaptive throttle slows the backfill down (default 1.75; must be > 1).
	ThrottleTarget float64
	// MaxRate caps the backfill at this many documents per second over all workers (0: none).
	MaxRate float64
	// RefreshEvery is how often the new index is refreshed while the backfill writes, so its
	// count follows the backfill and the finish step's refresh is short (default 1s; negative:
	// only at finish). ProbeEvery is how often the adaptive throttle probes (default 250ms).
	RefreshEvery time.Duration
	ProbeEvery   time.Duration
	// GCDeletes is index.gc_deletes during the build: how long a delete's tombstone rejects
	// older writes. It must exceed the whole build (default 24h).
	GCDeletes string
	// MaxLag is the consumer lag under which the indexer counts as caught up (default 100);
	// LagTimeout bounds the wait (default 10m).
	MaxLag     int64
	LagTimeout time.Duration
	// Grace is how long the previous index keeps receiving writes after a swap, so a rollback
	// loses nothing (default 24h).
	Grace time.Duration
	// VerifyMode is "counts", "sample" (default) or "full"; SampleSize orders for sample.
	VerifyMode string
	SampleSize int
	// SettleTimeout is how long verify re-checks a difference before reporting it (writes in
	// flight resolve themselves); default 1m. It must outlast an indexer failover: a killed
	// instance's partitions wait for its session to expire (10s) and for the rebalance (up to
	// 20s), and a dual write it left half done (the live index updated, the new one not) is
	// only redone after that.
	SettleTimeout time.Duration
	// LeaseTTL is the lock's lifetime without renewal (default 1m; renewed every third).
	LeaseTTL time.Duration
	// CheckpointEvery is how often backfill checkpoints are saved (default 1s).
	CheckpointEvery time.Duration
	// Progress receives the progress bar (TTY) or plain progress lines; nil shows none.
	Progress    io.Writer
	ProgressTTY bool
	// OnThrottle, when set, receives the backfill throttle's state after each probe (the
	// benchmark logs the controller's course with it).
	OnThrottle func(ThrottleState)
	// BeforeStep, when set, is called before each step runs; an error stops the job there
	// (tests use it to simulate crashes).
	BeforeStep func(ctx context.Context, step Step) error
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

func (c *Config) setDefaults() {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.Alias, "orders")
	def(&c.TargetsAlias, "orders_targets")
	def(&c.JobsIndex, "ordertable-jobs")
	def(&c.StatePrefix, indexer.DefaultStatePrefix)
	def(&c.GCDeletes, "24h")
	def(&c.VerifyMode, "sample")
	if c.Slices == 0 {
		c.Slices = 64
	}
	if c.Workers == 0 {
		c.Workers = 4
	}
	if c.PageSize == 0 {
		c.PageSize = 1000
	}
	def(&c.Throttle, ThrottleAdaptive)
	if c.ThrottleTarget == 0 {
		c.ThrottleTarget = 1.75
	}
	if c.RefreshEvery == 0 {
		c.RefreshEvery = time.Second
	}
	if c.ProbeEvery == 0 {
		c.ProbeEvery = 250 * time.Millisecond
	}
	if c.MaxLag == 0 {
		c.MaxLag = 100
	}
	if c.LagTimeout == 0 {
		c.LagTimeout = 10 * time.Minute
	}
	if c.Grace == 0 {
		c.Grace = 24 * time.Hour
	}
	if c.SampleSize == 0 {
		c.SampleSize = 2000
	}
	if c.SettleTimeout == 0 {
		c.SettleTimeout = time.Minute
	}
	if c.LeaseTTL == 0 {
		c.LeaseTTL = time.Minute
	}
	if c.CheckpointEvery == 0 {
		c.CheckpointEvery = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Validate reports every problem with the configuration.
func (c Config) Validate() error {
	var errs []error
	if c.ES == nil {
		errs = append(errs, errors.New("ES client is required"))
	}
	if c.Slices < 1 || c.Workers < 1 {
		errs = append(errs, fmt.Errorf("slices %d and workers %d must be >= 1", c.Slices, c.Workers))
	}
	if c.PageSize < 1 || c.PageSize > maxIDsPerCall {
		errs = append(errs, fmt.Errorf("page size %d must be in 1..%d", c.PageSize, maxIDsPerCall))
	}
	if _, err := time.ParseDuration(c.GCDeletes); err != nil {
		if _, err2 := parseESDuration(c.GCDeletes); err2 != nil {
			errs = append(errs, fmt.Errorf("gc_deletes %q: %w", c.GCDeletes, err2))
		}
	}
	if c.Throttle != ThrottleAdaptive && c.Throttle != ThrottleOff {
		errs = append(errs, fmt.Errorf("throttle %q: want %s or %s", c.Throttle, ThrottleAdaptive, ThrottleOff))
	}
	if c.ThrottleTarget <= 1 {
		errs = append(errs, fmt.Errorf("throttle target %g must be above 1 (a latency ratio)", c.ThrottleTarget))
	}
	if c.MaxRate < 0 || c.ProbeEvery < 0 {
		errs = append(errs, errors.New("max rate and probe interval must not be negative"))
	}
	if !slices.Contains([]string{"counts", "sample", "full"}, c.VerifyMode) {
		errs = append(errs, fmt.Errorf("verify mode %q: want counts, sample or full", c.VerifyMode))
	}
	if c.Alias == c.TargetsAlias {
		errs = append(errs, errors.New("read alias and write-target alias must differ"))
	}
	if c.MaxLag < 0 || c.Grace < 0 || c.SampleSize < 0 {
		errs = append(errs, errors.New("max lag, grace and sample size must not be negative"))
	}
	return errors.Join(errs...)
}

// Reindexer runs reindex jobs.
type Reindexer struct {
	cfg   Config
	es    es
	bulk  *esindex.BulkWriter
	store jobStore
	log   *slog.Logger
}

// New validates the configuration and returns a Reindexer.
func New(cfg Config) (*Reindexer, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("reindex: config: %w", err)
	}
	e := es{c: cfg.ES}
	return &Reindexer{cfg: cfg, es: e, bulk: cfg.ES.NewBulkWriter(esindex.BulkOptions{}),
		store: jobStore{es: e, index: cfg.JobsIndex, now: cfg.Now}, log: cfg.Logger}, nil
}

// liveIndex returns the single index behind the read alias ("" when there is none).
func (r *Reindexer) liveIndex(ctx context.Context) (string, error) {
	idx, err := r.es.aliasIndices(ctx, r.cfg.Alias)
	if err != nil {
		return "", err
	}
	switch len(idx) {
	case 0:
		return "", nil
	case 1:
		return idx[0], nil
	}
	return "", fmt.Errorf("alias %s points to %d indices %v; it must point to exactly one", r.cfg.Alias, len(idx), idx)
}

// liveMapping reads the mapping and settings of an index back as a Mapping.
func (r *Reindexer) liveMapping(ctx context.Context, index string) (*Mapping, error) {
	mb, err := r.es.mapping(ctx, index)
	if err != nil {
		return nil, err
	}
	settings, err := r.es.settings(ctx, index)
	if err != nil {
		return nil, err
	}
	body := fmt.Appendf(nil, `{"settings":{},"mappings":%s}`, mb)
	m, err := ParseMapping(body)
	if err != nil {
		return nil, fmt.Errorf("live index %s: %w", index, err)
	}
	m.Settings = settings
	return m, nil
}

// Plan compares a mapping file with the live index.
func (r *Reindexer) Plan(ctx context.Context, m *Mapping) (Plan, error) {
	live, err := r.liveIndex(ctx)
	if err != nil {
		return Plan{}, fmt.Errorf("reindex plan: %w", err)
	}
	var lm *Mapping
	if live != "" {
		if lm, err = r.liveMapping(ctx, live); err != nil {
			return Plan{}, fmt.Errorf("reindex plan: %w", err)
		}
	}
	p := diff(m, lm, live)
	if p.Problem == "" && p.NewIndex == live {
		p.Problem = fmt.Sprintf("the new index name %s is the live index", live)
	}
	return p, nil
}

// RunOptions select how far run goes.
type RunOptions struct {
	// MappingFile is recorded in the job for status.
	MappingFile string
	// Until stops after this step (e.g. StepVerified to swap by hand); empty runs to the swap.
	Until Step
	// Force swaps even when verification failed.
	Force bool
}

// Run starts or resumes the job that builds m's index and carries it through the steps.
func (r *Reindexer) Run(ctx context.Context, m *Mapping, opt RunOptions) (*Job, error) {
	id := m.IndexName()
	var job *Job
	err := r.withLease(ctx, id, func(ctx context.Context) error {
		var err error
		job, err = r.prepare(ctx, m, opt.MappingFile)
		if err != nil || job.Step.Terminal() {
			return err
		}
		return r.advance(ctx, job, m, opt)
	})
	if err != nil {
		return job, fmt.Errorf("reindex %s: %w", id, err)
	}
	return job, nil
}

// prepare loads the job for m or creates it after checking the plan.
func (r *Reindexer) prepare(ctx context.Context, m *Mapping, file string) (*Job, error) {
	jobs, err := r.store.list(ctx)
	if err != nil {
		return nil, err
	}
	for _, j := range jobs {
		if j.ID != m.IndexName() && !j.Step.Terminal() {
			return nil, fmt.Errorf("%w: job %s (mapping_version %d) is unfinished at step %q; resume it with `reindex run --mapping` of that version or `reindex abort %s`",
				ErrRefused, j.ID, j.MappingVersion, j.Step, j.ID)
		}
	}
	job, err := r.store.get(ctx, m.IndexName())
	switch {
	case errors.Is(err, ErrNotFound):
	case err != nil:
		return nil, err
	default:
		if !jsonBodiesEqual(job.Mapping, string(m.Body)) {
			return nil, fmt.Errorf("%w: job %s was started with a different mapping body; abort it (`reindex abort %s`) or bump mapping_version",
				ErrRefused, job.ID, job.ID)
		}
		switch job.Step {
		case StepSwapped:
			r.log.Info("reindex: already done", "job", job.ID, "swapped_at", job.SwappedAt)
			return job, nil
		case StepRolledBack:
			exists, err := r.es.indexExists(ctx, job.NewIndex)
			if err != nil {
				return nil, err
			}
			targets, err := r.es.aliasIndices(ctx, r.cfg.TargetsAlias)
			if err != nil {
				return nil, err
			}
			switch {
			case !exists:
				r.log.Info("reindex: the rolled-back index is gone; starting over", "job", job.ID)
			case slices.Contains(targets, job.NewIndex):
				// Still receiving live writes since the rollback: roll forward after a new
				// verification.
				live, err := r.liveIndex(ctx)
				if err != nil {
					return nil, err
				}
				job.OldIndex, job.Step, job.Verify, job.RolledBackAt = live, StepFinished, nil, time.Time{}
				r.log.Info("reindex: rolling forward", "job", job.ID, "from", live)
				return job, r.store.put(ctx, job)
			default:
				return nil, fmt.Errorf("%w: job %s was rolled back and %s no longer receives writes; `reindex abort %s` deletes it, then run again",
					ErrRefused, job.ID, job.NewIndex, job.ID)
			}
		case StepAborted:
			r.log.Info("reindex: the job was aborted; starting over", "job", job.ID)
		default:
			r.log.Info("reindex: resuming", "job", job.ID, "step", job.Step)
			return job, nil
		}
	}
	plan, err := r.Plan(ctx, m)
	if err != nil {
		return nil, err
	}
	if plan.Problem != "" {
		return nil, fmt.Errorf("%w: %s", ErrRefused, plan.Problem)
	}
	now := r.cfg.Now().UTC()
	job = &Job{
		ID: m.IndexName(), Alias: r.cfg.Alias, NewIndex: m.IndexName(), OldIndex: plan.LiveIndex,
		MappingVersion: m.Version, MappingFile: file, Mapping: string(m.Body), Step: StepPlanned, CreatedAt: now,
	}
	if err := r.store.put(ctx, job); err != nil {
		return nil, err
	}
	r.log.Info("reindex: planned", "job", job.ID, "old", job.OldIndex, "added", plan.Added, "removed", plan.Removed, "changed", plan.Changed)
	return job, nil
}

// advance runs the remaining steps.
func (r *Reindexer) advance(ctx context.Context, job *Job, m *Mapping, opt RunOptions) error {
	steps := []struct {
		done Step
		run  func(context.Context, *Job, *Mapping) error
	}{
		{StepCreated, r.create},
		{StepRegistered, r.register},
		{StepBackfilled, r.backfill},
		{StepFinished, r.finish},
		{StepVerified, r.verifyStep},
		{StepSwapped, func(ctx context.Context, j *Job, _ *Mapping) error { return r.swap(ctx, j, opt.Force) }},
	}
	for _, s := range steps {
		if job.Step.atLeast(s.done) {
			continue
		}
		if r.cfg.BeforeStep != nil {
			if err := r.cfg.BeforeStep(ctx, s.done); err != nil {
				return err
			}
		}
		start := time.Now()
		r.log.Info("reindex: step", "job", job.ID, "step", s.done)
		if err := s.run(ctx, job, m); err != nil {
			job.Error = err.Error()
			if saveErr := r.store.put(context.WithoutCancel(ctx), job); saveErr != nil {
				r.log.Warn("reindex: save error state", "err", saveErr)
			}
			return fmt.Errorf("step %s: %w", s.done, err)
		}
		job.Step, job.Error = s.done, ""
		if err := r.store.put(ctx, job); err != nil {
			return err
		}
		r.log.Info("reindex: step done", "job", job.ID, "step", s.done, "took", time.Since(start).Round(time.Millisecond))
		if opt.Until != "" && s.done == opt.Until {
			return nil
		}
	}
	return nil
}

// create makes the new index with build settings. A crash after the create call but before
// the state was saved leaves the index behind; it is adopted when its mapping version matches.
func (r *Reindexer) create(ctx context.Context, job *Job, m *Mapping) error {
	exists, err := r.es.indexExists(ctx, job.NewIndex)
	if err != nil {
		return err
	}
	if exists {
		lm, err := r.liveMapping(ctx, job.NewIndex)
		if err != nil {
			return err
		}
		if lm.Version != m.Version || !jsonEqual(lm.Properties, m.Properties) {
			return fmt.Errorf("%w: index %s already exists with another mapping (version %d); delete it first",
				ErrRefused, job.NewIndex, lm.Version)
		}
		r.log.Info("reindex: adopting existing index", "index", job.NewIndex)
		return r.es.putSettings(ctx, job.NewIndex, map[string]any{"refresh_interval": "-1", "gc_deletes": r.cfg.GCDeletes})
	}
	body, err := m.buildBody(r.cfg.GCDeletes)
	if err != nil {
		return err
	}
	return r.es.createIndex(ctx, job.NewIndex, body)
}

// register adds the new index to the write-target alias: from the next batch each indexer
// instance fetches, it writes live events to the new index too (see README.md for why no event
// can fall between this and the backfill's start).
func (r *Reindexer) register(ctx context.Context, job *Job, _ *Mapping) error {
	targets, err := r.es.aliasIndices(ctx, r.cfg.TargetsAlias)
	if err != nil {
		return err
	}
	actions := []aliasAction{}
	if !slices.Contains(targets, job.NewIndex) {
		actions = append(actions, addAlias(job.NewIndex, r.cfg.TargetsAlias))
	}
	// The live index must be a target too (a first setup may not have registered it).
	if job.OldIndex != "" && !slices.Contains(targets, job.OldIndex) {
		actions = append(actions, addAlias(job.OldIndex, r.cfg.TargetsAlias))
	}
	if len(actions) == 0 {
		return nil
	}
	return r.es.updateAliases(ctx, actions...)
}

// finish restores production settings, refreshes, and waits for the indexer to catch up.
func (r *Reindexer) finish(ctx context.Context, job *Job, m *Mapping) error {
	if err := r.es.putSettings(ctx, job.NewIndex, m.productionSettings()); err != nil {
		return err
	}
	if err := r.es.refresh(ctx, job.NewIndex); err != nil {
		return err
	}
	lag, err := r.waitLag(ctx)
	job.Lag = lag
	return err
}

// waitLag polls the indexer's consumer lag until it is at most MaxLag.
func (r *Reindexer) waitLag(ctx context.Context) (int64, error) {
	if r.cfg.Lag == nil {
		r.log.Warn("reindex: no consumer group configured (--kafka-group); not waiting for the indexer to catch up")
		return -1, nil
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.LagTimeout)
	defer cancel()
	var last int64 = -1
	for {
		lag, err := r.cfg.Lag.Lag(ctx)
		if err == nil {
			last = lag
			if lag <= r.cfg.MaxLag {
				r.log.Info("reindex: indexer caught up", "lag", lag, "max", r.cfg.MaxLag)
				return lag, nil
			}
			r.log.Info("reindex: waiting for the indexer", "lag", lag, "max", r.cfg.MaxLag)
		} else {
			r.log.Warn("reindex: read consumer lag", "err", err)
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return last, fmt.Errorf("indexer lag %d still above %d after %s (is the indexer running, and is --kafka-group its group? last error: %v); run again to resume",
					last, r.cfg.MaxLag, r.cfg.LagTimeout, err)
			}
			return last, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// ErrVerifyFailed is returned when verification finds differences.
var ErrVerifyFailed = errors.New("verification failed")

// verifyStep checks the new index before the swap.
func (r *Reindexer) verifyStep(ctx context.Context, job *Job, m *Mapping) error {
	res, err := r.verifyJob(ctx, job, m)
	if err != nil {
		return err
	}
	job.Verify = res
	if !res.OK {
		if saveErr := r.store.put(ctx, job); saveErr != nil {
			return saveErr
		}
		return fmt.Errorf("%w: %s; inspect with `ordertable verify --index %s`, repair with --repair, then `reindex run` again (or `reindex swap --force`)",
			ErrVerifyFailed, res.Detail, job.NewIndex)
	}
	return nil
}

// swap moves the read alias to the new index in one _aliases call. The old index stays in
// the write-target alias for the grace period.
func (r *Reindexer) swap(ctx context.Context, job *Job, force bool) error {
	if job.Verify == nil || !job.Verify.OK {
		if !force {
			return fmt.Errorf("%w: swap without a passed verification (use --force to swap anyway)", ErrRefused)
		}
		r.log.Warn("reindex: swapping without a passed verification (--force)", "job", job.ID)
	}
	current, err := r.es.aliasIndices(ctx, r.cfg.Alias)
	if err != nil {
		return err
	}
	actions := []aliasAction{}
	for _, idx := range current {
		if idx != job.NewIndex {
			actions = append(actions, removeAlias(idx, r.cfg.Alias))
		}
	}
	if !slices.Contains(current, job.NewIndex) {
		actions = append(actions, addAlias(job.NewIndex, r.cfg.Alias))
	}
	if len(actions) > 0 {
		if err := r.es.updateAliases(ctx, actions...); err != nil {
			return err
		}
	}
	now := r.cfg.Now().UTC()
	job.SwappedAt = now
	job.GraceUntil = now.Add(r.cfg.Grace)
	return nil
}

// Swap runs the swap step of a verified job by hand (after `run --until verified`).
func (r *Reindexer) Swap(ctx context.Context, jobID string, force bool) (*Job, error) {
	var job *Job
	err := r.withLease(ctx, jobID, func(ctx context.Context) error {
		var err error
		if job, err = r.store.get(ctx, jobID); err != nil {
			return err
		}
		if job.Step == StepSwapped {
			return nil
		}
		if !job.Step.atLeast(StepFinished) || job.Step.Terminal() {
			return fmt.Errorf("%w: job %s is at step %q; run it first", ErrRefused, job.ID, job.Step)
		}
		if err := r.swap(ctx, job, force); err != nil {
			return err
		}
		job.Step = StepSwapped
		return r.store.put(ctx, job)
	})
	if err != nil {
		return job, fmt.Errorf("reindex swap %s: %w", jobID, err)
	}
	return job, nil
}

// withLease runs fn holding the lock, renewing it; fn's context is cancelled if it is lost.
func (r *Reindexer) withLease(ctx context.Context, job string, fn func(context.Context) error) error {
	if err := r.store.ensure(ctx); err != nil {
		return err
	}
	holder := holderName()
	meta, err := r.store.acquire(ctx, holder, job, r.cfg.LeaseTTL)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	var mu sync.Mutex
	stop := make(chan struct{})
	wg.Go(func() {
		t := time.NewTicker(r.cfg.LeaseTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				mu.Lock()
				next, err := r.store.renew(ctx, holder, job, r.cfg.LeaseTTL, meta)
				if err == nil {
					meta = next
				}
				mu.Unlock()
				if errors.Is(err, ErrLocked) {
					cancel(err)
					return
				}
				if err != nil {
					r.log.Warn("reindex: renew lock", "err", err)
				}
			}
		}
	})
	err = fn(ctx)
	close(stop)
	wg.Wait()
	if cause := context.Cause(ctx); err != nil && cause != nil && errors.Is(cause, ErrLocked) {
		err = fmt.Errorf("%w (%w)", err, cause)
	}
	mu.Lock()
	defer mu.Unlock()
	if relErr := r.store.release(context.WithoutCancel(ctx), meta); relErr != nil {
		r.log.Warn("reindex: release lock", "err", relErr)
	}
	return err
}
