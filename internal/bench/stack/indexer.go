package stack

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/ordertable/ordertable/indexer"
	"github.com/ordertable/ordertable/internal/esindex"
	"github.com/ordertable/ordertable/internal/esindex/faultproxy"
	"github.com/ordertable/ordertable/internal/kafkaconfig"
)

// IndexerOptions tune the indexer instances a stack starts.
type IndexerOptions struct {
	// Group is the consumer group (default: "<name>-indexer").
	Group string
	// BulkSize, FlushInterval and Workers are passed through (0: the indexer's defaults).
	BulkSize      int
	FlushInterval time.Duration
	Workers       int
}

// EnableIndexers sets the options of every indexer started later. Call before StartIndexer.
func (s *Stack) EnableIndexers(o IndexerOptions) {
	if o.Group == "" {
		o.Group = s.cfg.Name + "-indexer-" + randSuffix()
	}
	s.mu.Lock()
	s.ixOpts = o
	s.mu.Unlock()
}

// IndexerGroup is the indexers' consumer group.
func (s *Stack) IndexerGroup() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ixOpts.Group
}

// Proxy is the fault-injecting proxy between the indexers and the engine.
func (s *Stack) Proxy() *faultproxy.Proxy { return s.proxy }

// StartIndexer starts indexer instance id (no-op when it runs). Its Elasticsearch traffic goes
// through Faults.
func (s *Stack) StartIndexer(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.indexers[id]; r != nil && r.Running() {
		return nil
	}
	if s.ixOpts.Group == "" {
		s.ixOpts.Group = s.cfg.Name + "-indexer-" + randSuffix()
	}
	ix, err := indexer.New(indexer.Config{
		Kafka:         kafkaconfig.Config{Brokers: s.Brokers, ClientID: s.cfg.Name},
		Group:         s.ixOpts.Group,
		ES:            esindex.Config{URLs: []string{s.proxy.URL()}, RequestTimeout: 30 * time.Second},
		BulkSize:      s.ixOpts.BulkSize,
		FlushInterval: s.ixOpts.FlushInterval,
		Workers:       s.ixOpts.Workers,
		InstanceID:    id,
		Logger:        s.log,
	})
	if err != nil {
		return fmt.Errorf("stack: indexer %s: %w", id, err)
	}
	s.indexers[id] = Go("indexer "+id, s.log, ix.Run)
	s.ixRegs[id] = ix.Registry()
	return nil
}

// IndexerEvents is the number of events instance id has processed (indexed or dead-lettered)
// since it started, from its ordertable_indexer_events_total metric.
func (s *Stack) IndexerEvents(id string) (float64, error) {
	s.mu.Lock()
	reg := s.ixRegs[id]
	s.mu.Unlock()
	if reg == nil {
		return 0, fmt.Errorf("stack: no indexer %s", id)
	}
	mfs, err := reg.Gather()
	if err != nil {
		return 0, err
	}
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() != "ordertable_indexer_events_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			total += m.GetCounter().GetValue()
		}
	}
	return total, nil
}

// StartIndexerProcess starts instance id as a child process of bin (`ordertable indexer`),
// so KillIndexer can SIGKILL it: no deferred code runs, no offset is committed on the way out,
// the group membership lingers until its session times out. Its output goes to logFile.
func (s *Stack) StartIndexerProcess(id, bin, logFile string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.ixProcs[id]; p != nil && p.ProcessState == nil {
		return nil
	}
	if s.ixOpts.Group == "" {
		s.ixOpts.Group = s.cfg.Name + "-indexer-" + randSuffix()
	}
	out, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("stack: indexer %s log: %w", id, err)
	}
	args := []string{"indexer", "--kafka-brokers", strings.Join(s.Brokers, ","), "--es-url", s.proxy.URL(),
		"--kafka-group", s.ixOpts.Group, "--listen", "", "--instance-id", id}
	if s.ixOpts.FlushInterval > 0 {
		args = append(args, "--flush-interval", s.ixOpts.FlushInterval.String())
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("stack: indexer %s: %w", id, err)
	}
	go func() { _ = cmd.Wait(); out.Close() }()
	s.ixProcs[id] = cmd
	return nil
}

// KillIndexer stops instance id abruptly. A child process gets SIGKILL. An in-process instance
// has its context cancelled wherever it is: in-flight bulk requests are abandoned and only
// batches already written have their offsets committed.
func (s *Stack) KillIndexer(id string) {
	s.mu.Lock()
	r := s.indexers[id]
	delete(s.indexers, id)
	p := s.ixProcs[id]
	delete(s.ixProcs, id)
	s.mu.Unlock()
	if r != nil {
		r.Stop()
	}
	if p != nil && p.Process != nil {
		_ = p.Process.Kill()
	}
}

// RunningIndexers lists the ids of the running indexer instances.
func (s *Stack) RunningIndexers() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for id, r := range s.indexers {
		if r.Running() {
			ids = append(ids, id)
		}
	}
	return ids
}
