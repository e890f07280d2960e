package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/ordertable/ordertable/internal/esindex"
	"github.com/ordertable/ordertable/internal/events"
	"github.com/ordertable/ordertable/internal/kafkaconfig"
	"github.com/ordertable/ordertable/reindex"
	"github.com/ordertable/ordertable/services/customers"
	"github.com/ordertable/ordertable/services/orders"
)

// reindexOpts are the connection and tuning flags shared by `reindex ...` and `verify`.
type reindexOpts struct {
	es                                 esindex.Config
	kafka                              kafkaconfig.Config
	ordersURL, customersURL, authToken string
	kafkaGroup                         string
	cfg                                reindex.Config
	jsonOut                            bool
}

func (o *reindexOpts) connFlags(c *cobra.Command) {
	f := c.PersistentFlags()
	esindex.BindFlags(f, &o.es, "http://127.0.0.1:9200")
	kafkaconfig.BindFlags(f, &o.kafka, "127.0.0.1:9092")
	f.StringVar(&o.ordersURL, "orders-url", "http://127.0.0.1:8082", "PurchaseOrderService base URL")
	f.StringVar(&o.customersURL, "customers-url", "http://127.0.0.1:8081", "CustomerService base URL")
	f.StringVar(&o.authToken, "auth-token", "", "bearer token for the source services")
	f.StringVar(&o.kafkaGroup, "kafka-group", "ordertable-indexer", "the indexer's consumer group, whose lag finish waits on (empty: don't wait)")
	f.StringVar(&o.cfg.Alias, "alias", "orders", "read alias of the table")
	f.StringVar(&o.cfg.TargetsAlias, "targets-alias", "orders_targets", "write-target alias the indexer writes to")
	f.StringVar(&o.cfg.JobsIndex, "jobs-index", "ordertable-jobs", "index holding reindex job state")
	f.IntVar(&o.cfg.PageSize, "page-size", 1000, "orders per source page and bulk request (<= 1000)")
	f.DurationVar(&o.cfg.SettleTimeout, "settle-timeout", time.Minute, "how long verify re-checks a difference before reporting it (longer than an indexer failover)")
	f.BoolVar(&o.jsonOut, "json", false, "print results as JSON")
}

// open builds the Reindexer; close releases its connections.
func (o *reindexOpts) open(a *app, needLag bool) (r *reindex.Reindexer, closeFn func(), err error) {
	client, err := esindex.NewClient(o.es)
	if err != nil {
		return nil, nil, err
	}
	cfg := o.cfg
	cfg.ES = client
	cfg.Logger = a.logger
	cfg.Orders = orders.NewClient(o.ordersURL, o.authToken, nil)
	cfg.Customers = customers.NewClient(o.customersURL, o.authToken, nil)
	cfg.Progress = os.Stderr
	cfg.ProgressTTY = term.IsTerminal(int(os.Stderr.Fd()))
	closeFn = func() {}
	if needLag && o.kafkaGroup != "" {
		lag, err := reindex.NewKafkaLag(o.kafka, o.kafkaGroup, []string{events.TopicCustomers, events.TopicOrders})
		if err != nil {
			return nil, nil, err
		}
		cfg.Lag = lag
		closeFn = func() { _ = lag.Close() }
	}
	r, err = reindex.New(cfg)
	if err != nil {
		closeFn()
		return nil, nil, err
	}
	return r, closeFn, nil
}

// with opens the Reindexer, runs fn and releases the connections.
func (o *reindexOpts) with(a *app, needLag bool, fn func(r *reindex.Reindexer) error) error {
	r, closeFn, err := o.open(a, needLag)
	if err != nil {
		return err
	}
	defer closeFn()
	return fn(r)
}

func (o *reindexOpts) print(w io.Writer, v any, text func(w io.Writer)) {
	if o.jsonOut {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(v)
		return
	}
	text(w)
}

func newReindexCmd(a *app) *cobra.Command {
	o := &reindexOpts{}
	cmd := &cobra.Command{
		Use:   "reindex",
		Short: "Build a new versioned orders index from the sources and swap to it with zero downtime",
		Long: `reindex adds or changes columns of the orders table without downtime: it creates the next
versioned index, registers it as a write target (the indexer dual-writes live events), backfills it
from the source services in parallel checkpointed slices, restores production settings, waits for the
indexer to catch up, verifies, and moves the read alias in one atomic call. Every step is recorded in
Elasticsearch; after a crash, "reindex run" with the same mapping resumes where it stopped.`,
	}
	o.connFlags(cmd)
	cmd.AddCommand(
		newReindexPlanCmd(a, o), newReindexRunCmd(a, o), newReindexSwapCmd(a, o), newReindexStatusCmd(a, o),
		newReindexListCmd(a, o), newReindexRollbackCmd(a, o), newReindexCleanupCmd(a, o), newReindexAbortCmd(a, o),
	)
	return cmd
}

func newReindexPlanCmd(a *app, o *reindexOpts) *cobra.Command {
	var file string
	c := &cobra.Command{
		Use:   "plan --mapping FILE",
		Short: "Show how a mapping file differs from the live index and whether a rebuild is needed",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := reindex.LoadMapping(file)
			if err != nil {
				return err
			}
			return o.with(a, false, func(r *reindex.Reindexer) error {
				p, err := r.Plan(cmd.Context(), m)
				if err != nil {
					return err
				}
				o.print(cmd.OutOrStdout(), p, func(w io.Writer) {
					fmt.Fprintf(w, "live index:  %s (mapping_version %d)\n", orNone(p.LiveIndex), p.LiveVersion)
					fmt.Fprintf(w, "new index:   %s (mapping_version %d)\n", p.NewIndex, p.NewVersion)
					fmt.Fprintf(w, "added:       %s\n", list(p.Added))
					fmt.Fprintf(w, "removed:     %s\n", list(p.Removed))
					fmt.Fprintf(w, "changed:     %s\n", list(p.Changed))
					if len(p.Settings) > 0 {
						fmt.Fprintf(w, "settings:    %s\n", list(p.Settings))
					}
					fmt.Fprintf(w, "rebuild:     %v\n", yesNo(p.Rebuild))
				})
				if p.Problem != "" {
					return fmt.Errorf("%w: %s", reindex.ErrRefused, p.Problem)
				}
				return nil
			})
		},
	}
	c.Flags().StringVar(&file, "mapping", "", "mapping file, e.g. mappings/orders_v2.json (required)")
	_ = c.MarkFlagRequired("mapping")
	return c
}

func newReindexRunCmd(a *app, o *reindexOpts) *cobra.Command {
	var (
		file  string
		until string
		force bool
	)
	c := &cobra.Command{
		Use:   "run --mapping FILE",
		Short: "Start or resume the job for a mapping and carry it through to the swap",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := reindex.LoadMapping(file)
			if err != nil {
				return err
			}
			return o.with(a, true, func(r *reindex.Reindexer) error {
				job, err := r.Run(cmd.Context(), m, reindex.RunOptions{MappingFile: file, Until: reindex.Step(until), Force: force})
				if job != nil {
					printJob(cmd.OutOrStdout(), o, job)
				}
				return err
			})
		},
	}
	f := c.Flags()
	f.StringVar(&file, "mapping", "", "mapping file, e.g. mappings/orders_v2.json (required)")
	_ = c.MarkFlagRequired("mapping")
	f.StringVar(&until, "until", "", "stop after this step: created, registered, backfilled, finished, verified")
	f.BoolVar(&force, "force", false, "swap even if verification failed")
	f.IntVar(&o.cfg.Slices, "slices", 64, "id ranges the backfill is split into")
	f.IntVar(&o.cfg.Workers, "workers", 4, "slices backfilled in parallel")
	f.StringVar(&o.cfg.Throttle, "throttle", reindex.ThrottleAdaptive, "backfill pacing: adaptive (follow the read alias's search latency) or off (only --max-rate)")
	f.Float64Var(&o.cfg.ThrottleTarget, "throttle-target", 1.75, "search latency ÷ its latency before the backfill above which the adaptive throttle slows the backfill (> 1)")
	f.Float64Var(&o.cfg.MaxRate, "max-rate", 0, "cap on the backfill in docs/s over all workers (0: none)")
	f.DurationVar(&o.cfg.RefreshEvery, "refresh-every", time.Second, "refresh the new index this often while backfilling, so its count follows the backfill (negative: only at finish)")
	f.StringVar(&o.cfg.GCDeletes, "gc-deletes", "24h", "index.gc_deletes during the build; must exceed the build's duration")
	f.Int64Var(&o.cfg.MaxLag, "max-lag", 100, "indexer consumer lag under which it counts as caught up")
	f.DurationVar(&o.cfg.LagTimeout, "lag-timeout", 10*time.Minute, "how long finish waits for the indexer to catch up")
	f.DurationVar(&o.cfg.Grace, "grace", 24*time.Hour, "how long the previous index keeps receiving writes after the swap (rollback window)")
	f.StringVar(&o.cfg.VerifyMode, "verify", "sample", "verification before the swap: counts, sample or full")
	f.IntVar(&o.cfg.SampleSize, "sample", 2000, "orders compared field by field in sample mode")
	return c
}

func newReindexSwapCmd(a *app, o *reindexOpts) *cobra.Command {
	var force bool
	c := &cobra.Command{
		Use:   "swap JOB",
		Short: "Move the read alias to a finished job's index (after `run --until verified`)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.with(a, false, func(r *reindex.Reindexer) error {
				job, err := r.Swap(cmd.Context(), args[0], force)
				if job != nil {
					printJob(cmd.OutOrStdout(), o, job)
				}
				return err
			})
		},
	}
	c.Flags().BoolVar(&force, "force", false, "swap even if verification failed")
	c.Flags().DurationVar(&o.cfg.Grace, "grace", 24*time.Hour, "how long the previous index keeps receiving writes")
	return c
}

func newReindexStatusCmd(a *app, o *reindexOpts) *cobra.Command {
	return &cobra.Command{
		Use:   "status [JOB]",
		Short: "Show the current (or given) job: step, progress, rate, ETA, indexer lag",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.with(a, true, func(r *reindex.Reindexer) error {
				id := ""
				if len(args) == 1 {
					id = args[0]
				}
				st, err := r.Status(cmd.Context(), id)
				if err != nil {
					return err
				}
				o.print(cmd.OutOrStdout(), st, func(w io.Writer) {
					fmt.Fprintf(w, "live index:  %s\n", orNone(st.Live))
					if st.Lag >= 0 {
						fmt.Fprintf(w, "indexer lag: %d events\n", st.Lag)
					} else if st.LagError != "" {
						fmt.Fprintf(w, "indexer lag: unknown (%s)\n", st.LagError)
					}
					if st.Locked != "" {
						fmt.Fprintf(w, "running:     %s\n", st.Locked)
					}
					if st.Job == nil {
						fmt.Fprintln(w, "job:         none")
						return
					}
					j := st.Job
					fmt.Fprintf(w, "job:         %s (%s -> %s), step %s\n", j.ID, orNone(j.OldIndex), j.NewIndex, j.Step)
					if j.Error != "" {
						fmt.Fprintf(w, "last error:  %s\n", j.Error)
					}
					if len(j.Slices) > 0 {
						done := 0
						for _, s := range j.Slices {
							if s.Done {
								done++
							}
						}
						pct := ""
						if st.Estimate > 0 {
							pct = fmt.Sprintf(" (%.1f%% of ~%d)", 100*float64(st.Docs)/float64(st.Estimate), st.Estimate)
						}
						fmt.Fprintf(w, "backfill:    %d docs%s, %d/%d slices, %.0f docs/s", st.Docs, pct, done, len(j.Slices), st.Rate)
						if st.ETA > 0 {
							fmt.Fprintf(w, ", ETA %s", st.ETA.Round(time.Second))
						}
						fmt.Fprintln(w)
					}
					if j.Throttle != nil && len(j.Slices) > 0 {
						fmt.Fprintf(w, "throttle:    %s%s\n", j.Throttle, throttleNote(j))
					}
					if v := j.Verify; v != nil {
						fmt.Fprintf(w, "verify:      %s (%s) %s\n", map[bool]string{true: "passed", false: "FAILED"}[v.OK], v.Mode, v.Detail)
					}
					if !j.GraceUntil.IsZero() {
						fmt.Fprintf(w, "grace until: %s\n", j.GraceUntil.Format(time.RFC3339))
					}
				})
				return nil
			})
		},
	}
}

func newReindexListCmd(a *app, o *reindexOpts) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the versioned indices: which is live, which receive writes, doc counts, mapping versions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.with(a, false, func(r *reindex.Reindexer) error {
				infos, err := r.List(cmd.Context())
				if err != nil {
					return err
				}
				o.print(cmd.OutOrStdout(), infos, func(w io.Writer) {
					tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "INDEX\tVERSION\tDOCS\tLIVE\tWRITES\tJOB")
					for _, in := range infos {
						job := ""
						if in.Job != "" {
							job = string(in.JobStep)
						}
						fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\n", in.Name, in.MappingVersion, in.Docs, yesNo(in.Live), yesNo(in.Target), job)
					}
					_ = tw.Flush()
				})
				return nil
			})
		},
	}
}

func newReindexRollbackCmd(a *app, o *reindexOpts) *cobra.Command {
	var force bool
	c := &cobra.Command{
		Use:   "rollback",
		Short: "Move the read alias back to the previous index (instant; it kept receiving writes)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.with(a, false, func(r *reindex.Reindexer) error {
				job, err := r.Rollback(cmd.Context(), force)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "rolled back: %s is live again (%s still receives writes until %s)\n",
					job.OldIndex, job.NewIndex, job.GraceUntil.Format(time.RFC3339))
				return nil
			})
		},
	}
	c.Flags().BoolVar(&force, "force", false, "roll back even to an index that stopped receiving writes")
	c.Flags().DurationVar(&o.cfg.Grace, "grace", 24*time.Hour, "how long the rolled-back index keeps receiving writes")
	return c
}

func newReindexCleanupCmd(a *app, o *reindexOpts) *cobra.Command {
	var (
		keep  int
		force bool
	)
	c := &cobra.Command{
		Use:   "cleanup --keep N",
		Short: "Delete old versioned indices past their grace period, keeping the N newest besides the live one",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.with(a, false, func(r *reindex.Reindexer) error {
				res, err := r.Cleanup(cmd.Context(), keep, force)
				if err != nil {
					return err
				}
				o.print(cmd.OutOrStdout(), res, func(w io.Writer) {
					fmt.Fprintf(w, "deleted:                 %s\n", list(res.Deleted))
					fmt.Fprintf(w, "kept:                    %s\n", list(res.Kept))
					fmt.Fprintf(w, "stopped receiving writes: %s\n", list(res.Untargeted))
					fmt.Fprintf(w, "in grace period:         %s\n", list(res.Waiting))
				})
				return nil
			})
		},
	}
	c.Flags().IntVar(&keep, "keep", 1, "old versions to keep besides the live index")
	c.Flags().BoolVar(&force, "force", false, "also delete indices still in their grace period (no rollback to them)")
	return c
}

func newReindexAbortCmd(a *app, o *reindexOpts) *cobra.Command {
	return &cobra.Command{
		Use:   "abort JOB",
		Short: "Abandon an unfinished job: stop writing to its index and delete it (readers are unaffected)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.with(a, false, func(r *reindex.Reindexer) error {
				job, err := r.Abort(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "aborted %s: index %s deleted\n", job.ID, job.NewIndex)
				return nil
			})
		},
	}
}

func printJob(w io.Writer, o *reindexOpts, j *reindex.Job) {
	o.print(w, j, func(w io.Writer) {
		fmt.Fprintf(w, "job %s: step %s", j.ID, j.Step)
		if j.Docs() > 0 {
			fmt.Fprintf(w, ", %d docs backfilled", j.Docs())
		}
		if j.Verify != nil {
			fmt.Fprintf(w, ", verify %s", map[bool]string{true: "passed", false: "failed"}[j.Verify.OK])
		}
		if j.Step == reindex.StepSwapped {
			fmt.Fprintf(w, "; %s is live, %s receives writes until %s (rollback window)", j.NewIndex, orNone(j.OldIndex), j.GraceUntil.Format(time.RFC3339))
		}
		fmt.Fprintln(w)
	})
}

// throttleNote says whether the throttle figures are live or those at the backfill's end.
func throttleNote(j *reindex.Job) string {
	if !j.BackfillEnd.IsZero() {
		return fmt.Sprintf(", %d cuts (at the end of the backfill)", j.Throttle.Cuts)
	}
	return fmt.Sprintf(", %d cuts", j.Throttle.Cuts)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func list(s []string) string {
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, ", ")
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
