// Package httpserver is the common HTTP frame of every ordertable server: a gin engine with
// structured request logging, panic recovery, a body-size limit, Prometheus metrics, /healthz
// and /readyz, and a graceful shutdown tied to the caller's context.
package httpserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ordertable/ordertable/internal/apierror"
)

// ReadyFunc reports whether the server can do useful work (its dependencies answer).
type ReadyFunc func(ctx context.Context) error

// Config configures a server frame.
type Config struct {
	// Name labels metrics and logs, e.g. "customers".
	Name string
	// Logger receives one line per request (debug for 2xx/3xx, warn for 5xx).
	Logger *slog.Logger
	// MaxBodyBytes bounds request bodies; larger ones get 413. Default 1 MiB.
	MaxBodyBytes int64
	// Ready is polled by /readyz; nil means always ready.
	Ready ReadyFunc
	// Registry receives the HTTP metrics; nil creates a private one with Go/process collectors.
	Registry *prometheus.Registry
}

// Server is a gin engine plus its observability endpoints.
type Server struct {
	Engine   *gin.Engine
	Registry *prometheus.Registry
	cfg      Config
}

// New builds the frame. Add routes to s.Engine, then call Serve.
func New(cfg Config) *Server {
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	reg := cfg.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.HandleMethodNotAllowed = true
	e.ContextWithFallback = true
	reqs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ordertable_http_requests_total", Help: "HTTP requests by route and status.",
		ConstLabels: prometheus.Labels{"server": cfg.Name},
	}, []string{"method", "route", "status"})
	dur := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "ordertable_http_request_duration_seconds", Help: "HTTP request latency by route.",
		ConstLabels: prometheus.Labels{"server": cfg.Name},
		Buckets:     []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	}, []string{"method", "route"})
	reg.MustRegister(reqs, dur)
	log := cfg.Logger
	e.Use(func(c *gin.Context) {
		start := time.Now()
		if c.Request.Body != nil {
			c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, cfg.MaxBodyBytes)
		}
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		status := c.Writer.Status()
		reqs.WithLabelValues(c.Request.Method, route, strconv.Itoa(status)).Inc()
		dur.WithLabelValues(c.Request.Method, route).Observe(time.Since(start).Seconds())
		lvl := slog.LevelDebug
		if status >= 500 {
			lvl = slog.LevelWarn
		}
		log.Log(c, lvl, "http request", "method", c.Request.Method, "route", route,
			"status", status, "duration", time.Since(start))
	})
	e.Use(gin.CustomRecovery(func(c *gin.Context, rec any) {
		log.Error("panic in handler", "route", c.FullPath(), "panic", fmt.Sprint(rec))
		apierror.Write(c, apierror.Internal())
	}))
	e.NoRoute(func(c *gin.Context) { apierror.Write(c, apierror.NotFound("no such route: "+c.Request.URL.Path)) })
	e.NoMethod(func(c *gin.Context) {
		apierror.Write(c, apierror.New(http.StatusMethodNotAllowed, "method_not_allowed", c.Request.Method+" is not allowed on "+c.Request.URL.Path))
	})
	e.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	e.GET("/readyz", func(c *gin.Context) {
		if cfg.Ready != nil {
			ctx, cancel := context.WithTimeout(c, 2*time.Second)
			defer cancel()
			if err := cfg.Ready(ctx); err != nil {
				apierror.Write(c, apierror.New(http.StatusServiceUnavailable, "not_ready", err.Error()))
				return
			}
		}
		c.JSON(http.StatusOK, gin.H{"status": "ready"})
	})
	e.GET("/metrics", gin.WrapH(promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})))
	return &Server{Engine: e, Registry: reg, cfg: cfg}
}

// IsBodyTooLarge reports whether err came from the body-size limit; handlers answer 413.
func IsBodyTooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}

// Serve serves on ln until ctx is cancelled, then shuts down gracefully (in-flight requests
// get up to 10 s). It returns nil after a clean shutdown.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.Engine,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("%s: serve: %w", s.cfg.Name, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("%s: shutdown: %w", s.cfg.Name, err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("%s: serve: %w", s.cfg.Name, err)
	}
	return nil
}

// ListenAndServe listens on addr and calls Serve.
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s: listen %s: %w", s.cfg.Name, addr, err)
	}
	return s.Serve(ctx, ln)
}
