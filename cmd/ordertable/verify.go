package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/ordertable/ordertable/reindex"
)

func newVerifyCmd(a *app) *cobra.Command {
	o := &reindexOpts{}
	var (
		opt      reindex.VerifyOptions
		maxPrint int
	)
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Compare the orders index with the source services; exit non-zero while differences remain",
		Long: `verify streams the source services' orders (with their customers) and the index's documents side by
side in id order and reports missing, extra and stale documents. Differences are re-checked for a
while before being reported, so writes in flight do not count. --repair rewrites them from the sources
(external versions: a newer live write always wins) and deletes extra ones.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.with(a, false, func(r *reindex.Reindexer) error {
				printed := 0
				out := cmd.OutOrStdout()
				opt.Report = func(d reindex.Difference) {
					if o.jsonOut || printed >= maxPrint {
						return
					}
					printed++
					fmt.Fprintf(out, "%s %s %s\n", d.Kind, d.ID, d.Detail)
				}
				res, err := r.Verify(cmd.Context(), opt)
				if err != nil {
					return err
				}
				o.print(out, res, func(w io.Writer) {
					fmt.Fprintf(w, "verify %s (%s): %d checked, %d documents in the index: %d missing, %d extra, %d stale\n",
						opt.Index, res.Mode, res.Checked, res.IndexCount, res.Missing, res.Extra, res.Stale)
				})
				if !res.OK {
					return fmt.Errorf("verify: %d differences remain", res.Missing+res.Extra+res.Stale)
				}
				return nil
			})
		},
	}
	o.connFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&opt.Index, "index", "orders", "index or alias to check")
	f.StringVar(&opt.Mode, "mode", "full", "full (every order), sample, or counts")
	f.IntVar(&opt.SampleSize, "sample", 2000, "orders compared in sample mode")
	f.BoolVar(&opt.Repair, "repair", false, "rewrite missing and stale documents from the sources, delete extra ones")
	f.IntVar(&maxPrint, "max-print", 100, "differences printed at most")
	return cmd
}
