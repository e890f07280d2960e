package esindex

import (
	"github.com/spf13/pflag"
)

// BindFlags defines the shared Elasticsearch flags on fs, writing into c: --es-url
// (comma-separated), --es-username, --es-password, --es-api-key, --es-ca-cert,
// --es-insecure-skip-verify. Their environment fallbacks (ES_URL, ...) come from cliflags.
func BindFlags(fs *pflag.FlagSet, c *Config, defaultURL string) {
	var def []string
	if defaultURL != "" {
		def = []string{defaultURL}
	}
	fs.StringSliceVar(&c.URLs, "es-url", def, "Elasticsearch URL (comma-separated for several nodes)")
	fs.StringVar(&c.Username, "es-username", "", "Elasticsearch basic-auth user")
	fs.StringVar(&c.Password, "es-password", "", "Elasticsearch basic-auth password")
	fs.StringVar(&c.APIKey, "es-api-key", "", "Elasticsearch API key (base64), instead of user and password")
	fs.StringVar(&c.CACertFile, "es-ca-cert", "", "PEM file of CAs trusted for https Elasticsearch URLs")
	fs.BoolVar(&c.InsecureSkipVerify, "es-insecure-skip-verify", false, "skip TLS verification of Elasticsearch (development only)")
}
