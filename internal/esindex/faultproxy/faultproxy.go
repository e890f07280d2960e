// Package faultproxy is an HTTP proxy that injects Elasticsearch failures between a client and
// a cluster: whole-request 429/5xx answers (before or after forwarding), per-item 429s in bulk
// answers, added latency, and the cluster going down (connections refused) and coming back on
// the same address. Tests, benchmarks and the chaos command put it in front of the embedded
// engine or a real cluster to show that no write is lost.
package faultproxy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Faults says what to inject. Rates are probabilities in [0, 1] per matching request (or per
// bulk item for ItemRejectRate).
type Faults struct {
	// PathContains limits faults to requests whose path contains it (e.g. "/_bulk"); empty
	// matches every request.
	PathContains string
	// RejectRate answers without forwarding, with RejectStatus (default 429).
	RejectRate   float64
	RejectStatus int
	// FailAfterRate forwards the request, then discards the answer and replies 502: the write
	// happened but the client can't know (exercises idempotent retries).
	FailAfterRate float64
	// ItemRejectRate rewrites items of a forwarded _bulk answer to 429 (the write happened).
	ItemRejectRate float64
	// Latency is added before forwarding.
	Latency time.Duration
}

// Stats counts what the proxy did.
type Stats struct {
	Requests      int64 // requests received while up
	Rejected      int64 // answered RejectStatus without forwarding
	FailedAfter   int64 // forwarded, answered 502
	ItemsRejected int64 // bulk items rewritten to 429
}

// Proxy is a running fault-injecting proxy.
type Proxy struct {
	target *url.URL
	rp     *httputil.ReverseProxy
	addr   string

	mu     sync.Mutex
	rng    *rand.Rand
	faults Faults
	ln     net.Listener
	srv    *http.Server
	conns  map[net.Conn]struct{}

	requests, rejected, failedAfter, itemsRejected atomic.Int64
}

// Start listens on 127.0.0.1 (a free port) and forwards to target (e.g. http://127.0.0.1:9200).
// seed makes the injected faults reproducible.
func Start(target string, seed uint64) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("faultproxy: target %q: bad url", target)
	}
	p := &Proxy{
		target: u,
		rng:    rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		conns:  map[net.Conn]struct{}{},
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(u); r.Out.Host = u.Host },
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 64,
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			w.Header().Set("X-Elastic-Product", "Elasticsearch")
			w.WriteHeader(http.StatusBadGateway)
			_, _ = fmt.Fprintf(w, `{"error":{"type":"proxy_error","reason":%q},"status":502}`, err.Error())
		},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen: %w", err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	return p, nil
}

// URL is the proxy's base URL, for ES_URL / esindex.Config.URLs.
func (p *Proxy) URL() string { return "http://" + p.addr }

// SetFaults replaces the injected faults; the zero Faults forwards everything untouched.
func (p *Proxy) SetFaults(f Faults) {
	if f.RejectStatus == 0 {
		f.RejectStatus = http.StatusTooManyRequests
	}
	p.mu.Lock()
	p.faults = f
	p.mu.Unlock()
}

// Stats returns the counters so far.
func (p *Proxy) Stats() Stats {
	return Stats{Requests: p.requests.Load(), Rejected: p.rejected.Load(), FailedAfter: p.failedAfter.Load(), ItemsRejected: p.itemsRejected.Load()}
}

// Down stops listening and closes every open connection: clients get "connection refused"
// until Up.
func (p *Proxy) Down() {
	p.mu.Lock()
	srv := p.srv
	p.srv, p.ln = nil, nil
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// Up listens again on the same address after Down.
func (p *Proxy) Up() error {
	p.mu.Lock()
	up := p.srv != nil
	p.mu.Unlock()
	if up {
		return nil
	}
	var ln net.Listener
	var err error
	// The port was ours a moment ago; retry briefly in case the OS holds it.
	for range 50 {
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("faultproxy: relisten %s: %w", p.addr, err)
	}
	p.serve(ln)
	return nil
}

// Close stops the proxy.
func (p *Proxy) Close() { p.Down() }

func (p *Proxy) serve(ln net.Listener) {
	srv := &http.Server{
		Handler:           http.HandlerFunc(p.handle),
		ReadHeaderTimeout: 10 * time.Second,
		ConnState: func(c net.Conn, s http.ConnState) {
			p.mu.Lock()
			defer p.mu.Unlock()
			switch s {
			case http.StateNew:
				p.conns[c] = struct{}{}
			case http.StateClosed, http.StateHijacked:
				delete(p.conns, c)
			}
		},
	}
	p.mu.Lock()
	p.ln, p.srv = ln, srv
	p.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

type decision struct {
	reject, failAfter bool
	status            int
	itemRate          float64
	latency           time.Duration
}

func (p *Proxy) decide(r *http.Request) decision {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.faults
	if f.PathContains != "" && !strings.Contains(r.URL.Path, f.PathContains) {
		return decision{}
	}
	d := decision{status: f.RejectStatus, itemRate: f.ItemRejectRate, latency: f.Latency}
	if f.RejectRate > 0 && p.rng.Float64() < f.RejectRate {
		d.reject = true
	} else if f.FailAfterRate > 0 && p.rng.Float64() < f.FailAfterRate {
		d.failAfter = true
	}
	return d
}

func (p *Proxy) chance(rate float64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rng.Float64() < rate
}

func (p *Proxy) handle(w http.ResponseWriter, r *http.Request) {
	p.requests.Add(1)
	d := p.decide(r)
	if d.latency > 0 {
		select {
		case <-time.After(d.latency):
		case <-r.Context().Done():
			return
		}
	}
	if d.reject {
		p.rejected.Add(1)
		writeError(w, d.status)
		return
	}
	if !d.failAfter && (d.itemRate == 0 || !strings.HasSuffix(r.URL.Path, "/_bulk")) {
		p.rp.ServeHTTP(w, r)
		return
	}
	rec := &recorder{header: http.Header{}, status: http.StatusOK}
	p.rp.ServeHTTP(rec, r)
	if d.failAfter {
		p.failedAfter.Add(1)
		writeError(w, http.StatusBadGateway)
		return
	}
	body := rec.body.Bytes()
	if rec.status == http.StatusOK {
		body = p.rejectItems(body, d.itemRate)
	}
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Header().Del("Content-Encoding")
	w.WriteHeader(rec.status)
	_, _ = w.Write(body)
}

// rejectItems rewrites a random share of a bulk answer's items to 429.
func (p *Proxy) rejectItems(body []byte, rate float64) []byte {
	var res map[string]json.RawMessage
	if json.Unmarshal(body, &res) != nil {
		return body
	}
	var items []map[string]map[string]any
	if json.Unmarshal(res["items"], &items) != nil {
		return body
	}
	n := 0
	for _, it := range items {
		for _, v := range it {
			if p.chance(rate) {
				v["status"] = http.StatusTooManyRequests
				v["error"] = map[string]any{"type": "es_rejected_execution_exception", "reason": "injected by faultproxy"}
				delete(v, "result")
				n++
			}
		}
	}
	if n == 0 {
		return body
	}
	p.itemsRejected.Add(int64(n))
	res["items"], _ = json.Marshal(items)
	res["errors"] = json.RawMessage("true")
	out, err := json.Marshal(res)
	if err != nil {
		return body
	}
	return out
}

func writeError(w http.ResponseWriter, status int) {
	w.Header().Set("X-Elastic-Product", "Elasticsearch")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	typ := "es_rejected_execution_exception"
	if status != http.StatusTooManyRequests {
		typ = "injected_failure"
	}
	_, _ = fmt.Fprintf(w, `{"error":{"type":%q,"reason":"injected by faultproxy"},"status":%d}`, typ, status)
}

type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) WriteHeader(s int)           { r.status = s }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }

var _ http.ResponseWriter = (*recorder)(nil)
