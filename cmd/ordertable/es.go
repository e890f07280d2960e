package main

import (
	"fmt"
	"net"

	"github.com/spf13/cobra"

	"github.com/ordertable/ordertable/internal/esembed"
)

// newESCmd runs the embedded Elasticsearch-compatible engine.
func newESCmd(a *app) *cobra.Command {
	var listen, dataDir string
	var procs int
	var maxContent int64
	cmd := &cobra.Command{
		Use:   "es",
		Short: "Run the embedded Elasticsearch-compatible engine (development, tests, small installs)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			applyProcs(a.logger, procs)
			eng, err := esembed.Open(esembed.Config{DataDir: dataDir, Logger: a.logger, MaxContentLength: maxContent})
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				_ = eng.Close()
				return fmt.Errorf("es: listen %s: %w", listen, err)
			}
			a.logger.Info("es: serving", "addr", ln.Addr().String(), "data", dataDir)
			serveErr := eng.Serve(cmd.Context(), ln)
			closeErr := eng.Close()
			if serveErr != nil {
				return fmt.Errorf("es: serve: %w", serveErr)
			}
			return closeErr
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:9200", "address to serve the Elasticsearch REST API on")
	cmd.Flags().StringVar(&dataDir, "data", "", "data directory (write-ahead log and indices); empty keeps everything in memory")
	cmd.Flags().Int64Var(&maxContent, "max-content-length", 100<<20, "largest request body accepted, in bytes (Elasticsearch's http.max_content_length); a larger one is answered 413")
	addProcsFlag(cmd, &procs)
	return cmd
}
