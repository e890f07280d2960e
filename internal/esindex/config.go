// Package esindex is ordertable's access to Elasticsearch: client configuration, the alias
// layout of the orders table (read alias, write-target alias, bootstrap), the fields each
// concrete index declares, and a bulk writer that reads responses item by item, treats
// external-version conflicts as success and retries throttling and server errors forever with
// capped exponential backoff.
//
// The alias layout is a contract between the indexer, the reindex job and the search API:
//
//   - AliasRead ("orders") points to exactly one live index (orders_v1, orders_v2, ...): the
//     search API reads it.
//   - AliasTargets ("orders_targets") points to every index that must receive live writes: the
//     live one, one being built by a reindex, and the previous one during the rollback grace
//     period. The indexer reads it after fetching each batch and before writing it.
package esindex

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
)

// Config configures a connection to Elasticsearch (or the embedded engine).
type Config struct {
	// URLs are the node addresses, e.g. http://127.0.0.1:9200. Required.
	URLs []string
	// Username and Password enable HTTP basic authentication when Username is set.
	Username string
	Password string
	// APIKey is a base64 API key ("id:key" encoded); it takes precedence over basic auth.
	APIKey string
	// CACertFile is a PEM file of CAs to trust for https URLs; empty uses the system pool.
	CACertFile string
	// InsecureSkipVerify disables TLS verification (development clusters only).
	InsecureSkipVerify bool
	// RequestTimeout bounds one HTTP request (a bulk of several MB included). Default 60 s.
	RequestTimeout time.Duration
	// MaxRetries is how often the transport retries a request that failed with a connection
	// error or 429/502/503/504 before returning it to the caller. Default 3. Callers that must
	// never drop work (the bulk writer) retry on top of this, forever.
	MaxRetries int
	// Transport replaces the HTTP transport (tests put a fault proxy or a recorder here).
	Transport http.RoundTripper
}

func (c *Config) setDefaults() {
	if c.RequestTimeout == 0 {
		c.RequestTimeout = 60 * time.Second
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = 3
	}
}

// Validate reports every problem with the configuration.
func (c Config) Validate() error {
	var errs []error
	if len(c.URLs) == 0 {
		errs = append(errs, errors.New("no Elasticsearch URL (--es-url)"))
	}
	for _, raw := range c.URLs {
		u, err := url.Parse(raw)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("es url %q: %w", raw, err))
		case u.Scheme != "http" && u.Scheme != "https":
			errs = append(errs, fmt.Errorf("es url %q: scheme must be http or https", raw))
		case u.Host == "":
			errs = append(errs, fmt.Errorf("es url %q: no host", raw))
		}
	}
	if c.Password != "" && c.Username == "" {
		errs = append(errs, errors.New("es password without username"))
	}
	if c.RequestTimeout < 0 {
		errs = append(errs, fmt.Errorf("request timeout %v < 0", c.RequestTimeout))
	}
	if c.MaxRetries < 0 {
		errs = append(errs, fmt.Errorf("max retries %d < 0", c.MaxRetries))
	}
	if c.CACertFile != "" {
		if _, err := os.Stat(c.CACertFile); err != nil {
			errs = append(errs, fmt.Errorf("es ca cert: %w", err))
		}
	}
	return errors.Join(errs...)
}

// NewClient returns a client for the configured cluster. It does not contact the cluster.
func NewClient(cfg Config) (*Client, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("esindex: %w", err)
	}
	tr := cfg.Transport
	if tr == nil {
		ht := &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConnsPerHost:   32,
			IdleConnTimeout:       90 * time.Second,
			ResponseHeaderTimeout: cfg.RequestTimeout,
			TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.InsecureSkipVerify}, //nolint:gosec // opt-in for dev clusters
		}
		if cfg.CACertFile != "" {
			pem, err := os.ReadFile(cfg.CACertFile)
			if err != nil {
				return nil, fmt.Errorf("esindex: read ca cert: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("esindex: %s holds no PEM certificate", cfg.CACertFile)
			}
			ht.TLSClientConfig.RootCAs = pool
		}
		tr = ht
	}
	esCfg := elasticsearch.Config{
		Addresses:     cfg.URLs,
		Username:      cfg.Username,
		Password:      cfg.Password,
		APIKey:        cfg.APIKey,
		Transport:     tr,
		MaxRetries:    cfg.MaxRetries,
		RetryOnStatus: []int{429, 502, 503, 504},
		RetryBackoff:  func(attempt int) time.Duration { return DefaultBackoff().Delay(attempt) },
	}
	es, err := elasticsearch.NewClient(esCfg)
	if err != nil {
		return nil, fmt.Errorf("esindex: new client: %w", err)
	}
	typed, err := elasticsearch.NewTypedClient(esCfg)
	if err != nil {
		return nil, fmt.Errorf("esindex: new typed client: %w", err)
	}
	bulkCfg := esCfg
	bulkCfg.DisableRetry = true
	bulkES, err := elasticsearch.NewClient(bulkCfg)
	if err != nil {
		return nil, fmt.Errorf("esindex: new bulk client: %w", err)
	}
	return &Client{ES: es, Typed: typed, bulkES: bulkES, timeout: cfg.RequestTimeout, fields: newFieldCache()}, nil
}

// Backoff is a capped exponential backoff with full jitter.
type Backoff struct {
	// Base is the first delay's upper bound.
	Base time.Duration
	// Max caps every delay.
	Max time.Duration
}

// DefaultBackoff starts at 100 ms and is capped at 5 s.
func DefaultBackoff() Backoff { return Backoff{Base: 100 * time.Millisecond, Max: 5 * time.Second} }

// Delay returns the wait before retry number attempt (1-based): a random duration in
// [d/2, d] where d = min(Max, Base·2^(attempt-1)). Half of it is fixed so that a fleet of
// writers backs off noticeably; the other half is jitter so they don't retry in lockstep.
func (b Backoff) Delay(attempt int) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	d := b.Base
	for i := 1; i < attempt && d < b.Max; i++ {
		d *= 2
	}
	if d > b.Max {
		d = b.Max
	}
	if d <= 0 {
		return 0
	}
	return d/2 + rand.N(d/2+1)
}
