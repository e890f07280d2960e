package main

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/ordertable/ordertable/services/search"
)

// newSearchCmd serves the search API and the order table web page.
func newSearchCmd(a *app) *cobra.Command {
	var cfg search.Config
	var listen, esURL string
	cmd := &cobra.Command{
		Use:   "search",
		Short: "Serve the order table: search API (/v1/orders), web page (/) and /openapi.json",
		Long: "Serves the sortable order table over the Elasticsearch read alias. Columns come from the\n" +
			"live index mapping, so a reindex that adds a column needs no restart.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Logger = a.logger
			cfg.ES.URLs = strings.Split(esURL, ",")
			svc, err := search.New(cfg)
			if err != nil {
				return err
			}
			if cfg.CursorSecret == "" {
				a.logger.Warn("search: no --cursor-secret; cursors are signed with a random key and stop working after a restart or on another replica")
			}
			a.logger.Info("search: serving", "listen", listen, "alias", cfg.Alias, "es", esURL)
			return svc.ListenAndServe(cmd.Context(), listen)
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", "127.0.0.1:8080", "address to serve the API and web page on")
	f.StringVar(&esURL, "es-url", "http://127.0.0.1:9200", "Elasticsearch URL (comma-separated for several nodes)")
	f.StringVar(&cfg.ES.Username, "es-username", "", "Elasticsearch basic-auth user")
	f.StringVar(&cfg.ES.Password, "es-password", "", "Elasticsearch basic-auth password")
	f.StringVar(&cfg.ES.APIKey, "es-api-key", "", "Elasticsearch API key (base64 id:key)")
	f.StringVar(&cfg.ES.CACertFile, "es-ca-cert", "", "PEM file of CAs to trust for an https Elasticsearch URL")
	f.StringVar(&cfg.Alias, "alias", "orders", "read alias naming the live orders index")
	f.StringVar(&cfg.CursorSecret, "cursor-secret", "", "HMAC key for paging cursors (>= 16 bytes; random per process when empty, so share one across replicas)")
	f.IntVar(&cfg.MaxInFlight, "max-in-flight", 64, "concurrent /v1 requests; more wait briefly, then get 429")
	f.IntVar(&cfg.TotalHitsBound, "total-hits-bound", 10000, "totals are exact up to this many hits (track_total_hits)")
	return cmd
}
