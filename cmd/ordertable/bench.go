package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ordertable/ordertable/internal/bench"
)

func newBenchCmd(a *app) *cobra.Command {
	var (
		cfg     bench.Config
		out     string
		brokers string
		only    []string
		mdOut   string
		cpuProf string
		procs   int
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure the whole system; print one table of figures with same-run baselines",
		Long: `bench starts the embedded stack in-process (or uses ES_URL, KAFKA_BROKERS and
DATABASE_URL), measures every figure against a baseline taken in the same run, prints one table,
and writes it as JSON (--out) with an SVG chart beside it (same name, .svg).
--quick takes about a minute; the full run stays under 15 minutes on 2 cores.
Figure groups: ` + strings.Join(bench.Groups, ", ") + `.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			applyProcs(a.logger, procs)
			if brokers != "" {
				cfg.KafkaBrokers = strings.Split(brokers, ",")
			}
			cfg.Only = only
			cfg.Progress = cmd.ErrOrStderr()
			if a.logLevel == "debug" {
				cfg.Logger = a.logger // the components' own logs drown the progress lines otherwise
			}
			if cpuProf != "" {
				f, err := os.Create(cpuProf)
				if err != nil {
					return fmt.Errorf("cpu profile: %w", err)
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return fmt.Errorf("cpu profile: %w", err)
				}
				defer pprof.StopCPUProfile()
			}
			rep, runErr := bench.Run(cmd.Context(), cfg)
			if rep == nil {
				return runErr
			}
			rep.Command = "ordertable " + strings.Join(os.Args[1:], " ")
			if err := rep.WriteTable(cmd.OutOrStdout()); err != nil {
				return err
			}
			if out != "" {
				if err := writeReport(out, rep.WriteJSON); err != nil {
					return err
				}
				svg := strings.TrimSuffix(out, ".json") + ".svg"
				if err := writeReport(svg, rep.WriteSVG); err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s and %s\n", out, svg)
			}
			if mdOut != "" {
				if err := writeReport(mdOut, rep.WriteMarkdown); err != nil {
					return err
				}
			}
			if missed := rep.Failed(); len(missed) > 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "%d figure(s) missed their target\n", len(missed))
			}
			return runErr
		},
	}
	f := cmd.Flags()
	f.BoolVar(&cfg.Quick, "quick", false, "small sizes: about a minute")
	f.StringVar(&out, "out", "", "write the report as JSON to this file, and an SVG chart beside it")
	f.StringVar(&mdOut, "markdown", "", "also write the table as Markdown to this file")
	f.StringVar(&cfg.ESURL, "es-url", "", "Elasticsearch URL to measure (default: start the embedded engine)")
	f.StringVar(&brokers, "kafka-brokers", "", "comma-separated Kafka brokers (default: start the embedded broker)")
	f.StringVar(&cfg.DatabaseURL, "database-url", "", "PostgreSQL URL allowed to create the run's databases (default: local server)")
	f.StringVar(&cfg.WorkDir, "work-dir", "", "directory for the embedded engines' data (default: a temporary one)")
	f.Uint64Var(&cfg.Seed, "seed", 0, "seed of the generated data (default: from the clock, printed)")
	f.StringSliceVar(&only, "only", nil, "run only these figure groups")
	f.StringVar(&cpuProf, "cpuprofile", "", "write a CPU profile of the whole run (every in-process component) to this file")
	addProcsFlag(cmd, &procs)
	return cmd
}

// writeReport writes one rendering of the report to path.
func writeReport(path string, render func(io.Writer) error) error {
	var b bytes.Buffer
	if err := render(&b); err != nil {
		return fmt.Errorf("bench: render %s: %w", path, err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return nil
}
