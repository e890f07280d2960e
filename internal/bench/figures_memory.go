package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/IBM/sarama"
	"github.com/google/uuid"

	"github.com/ordertable/ordertable/internal/events"
	"github.com/ordertable/ordertable/internal/kafkaconfig"
	"github.com/ordertable/ordertable/internal/kafkaembed"
	"github.com/ordertable/ordertable/services/customers"
)

// rss reads a process's resident set size and its peak (VmRSS, VmHWM) in bytes.
func rss(pid int) (cur, peak int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("parse %s: %w", k, err)
		}
		if k == "VmRSS" {
			cur = kb << 10
		} else {
			peak = kb << 10
		}
	}
	return cur, peak, sc.Err()
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

// child is a component running as a child process of the ordertable binary.
type child struct {
	name string
	cmd  *exec.Cmd
	out  *os.File
}

func startChild(ctx context.Context, bin, logDir, name string, args ...string) (*child, error) {
	out, err := os.Create(filepath.Join(logDir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	return &child{name: name, cmd: cmd, out: out}, nil
}

func (c *child) stop() {
	_ = c.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-done
	}
	c.out.Close()
}

func (c *child) alive() error {
	if c.cmd.ProcessState != nil {
		return fmt.Errorf("%s exited: %s", c.name, c.cmd.ProcessState)
	}
	return nil
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// memoryFigures measures figure 8 with the search engine and one indexer as child processes of
// this binary (`ordertable es`, `ordertable indexer`) so each has its own RSS: order events for
// N orders are produced into an in-process broker and indexed, then 9N more. Each component's
// RSS after 10N ÷ its RSS after N is the growth (1 = flat, 10 = linear); the peak is VmHWM. The
// bench process itself (services, relays, the in-process stack of the other figures) is
// reported as one.
func (r *run) memoryFigures(ctx context.Context) ([]Figure, error) {
	_, selfPeak, err := rss(os.Getpid())
	if err != nil {
		return nil, fmt.Errorf("read RSS: %w (Linux /proc only)", err)
	}
	self := plain("memory", "memory.bench_process_peak_rss", mb(selfPeak), "MB", nil)
	self.Note = "the bench process: in-process services, relays, broker, engine and indexers of the other figures"
	bin, err := os.Executable()
	if err != nil || strings.HasSuffix(bin, ".test") {
		return []Figure{self}, errors.New("per-component RSS needs the ordertable binary (run `ordertable bench`)")
	}
	work := filepath.Join(r.work, "memory")
	if err := os.MkdirAll(work, 0o755); err != nil {
		return []Figure{self}, err
	}
	broker, err := kafkaembed.Start(kafkaembed.Config{Topics: []string{events.TopicCustomers, events.TopicOrders, events.TopicDLQ}})
	if err != nil {
		return []Figure{self}, err
	}
	defer broker.Close()
	esAddr, err := freeAddr()
	if err != nil {
		return []Figure{self}, err
	}
	esProc, err := startChild(ctx, bin, work, "es", "es", "--listen", esAddr)
	if err != nil {
		return []Figure{self}, err
	}
	defer esProc.stop()
	esURL := "http://" + esAddr
	es, err := newESConn(esURL)
	if err != nil {
		return []Figure{self}, err
	}
	if err := waitFor(ctx, 30*time.Second, 100*time.Millisecond, "es child answers", func(ctx context.Context) (bool, error) {
		if err := esProc.alive(); err != nil {
			return false, err
		}
		return es.do(ctx, http.MethodGet, "/", nil, nil) == nil, nil
	}); err != nil {
		return []Figure{self}, err
	}
	ixProc, err := startChild(ctx, bin, work, "indexer", "indexer", "--kafka-brokers", broker.Addr(), "--es-url", esURL,
		"--kafka-group", "bench-memory", "--listen", "", "--instance-id", "bench-memory")
	if err != nil {
		return []Figure{self}, err
	}
	defer ixProc.stop()

	r.mu.Lock()
	n := budgeted(r.sizes.MemoryN, r.rawDocsS/10, r.sizes.Budget, 200)
	r.mu.Unlock()
	custs := syntheticCustomers(r.sizes.Customers)
	if err := produceCustomers(ctx, broker.Addr(), custs); err != nil {
		return []Figure{self}, err
	}
	type sample struct{ esRSS, ixRSS int64 }
	load := func(total, add int, seed uint64) (sample, error) {
		r.progress("memory: %d order events → indexer child → es child (total %d)", add, total)
		if err := produceOrders(ctx, []string{broker.Addr()}, custs, add, seed); err != nil {
			return sample{}, err
		}
		if err := waitFor(ctx, 20*time.Minute, 200*time.Millisecond, fmt.Sprintf("%d orders indexed", total), func(ctx context.Context) (bool, error) {
			for _, c := range []*child{esProc, ixProc} {
				if err := c.alive(); err != nil {
					return false, err
				}
			}
			k, err := es.count(ctx, "orders")
			return k >= total, err
		}); err != nil {
			return sample{}, err
		}
		e, _, err := rss(esProc.cmd.Process.Pid)
		if err != nil {
			return sample{}, err
		}
		i, _, err := rss(ixProc.cmd.Process.Pid)
		return sample{e, i}, err
	}
	atN, err := load(n, n, r.cfg.Seed+30)
	if err != nil {
		return []Figure{self}, err
	}
	at10N, err := load(10*n, 9*n, r.cfg.Seed+31)
	if err != nil {
		return []Figure{self}, err
	}
	_, esPeak, _ := rss(esProc.cmd.Process.Pid)
	_, ixPeak, _ := rss(ixProc.cmd.Process.Pid)
	_, selfPeak, _ = rss(os.Getpid())
	self.Value = mb(selfPeak)
	esPk := plain("memory", "memory.es_peak_rss", mb(esPeak), "MB", nil)
	esPk.Note = fmt.Sprintf("`ordertable es` child (in memory), %d orders indexed", 10*n)
	esGrowth := ratioOf("memory", "memory.es_rss_at_10n", mb(at10N.esRSS), "MB", mb(atN.esRSS), fmt.Sprintf("RSS at N=%d", n), nil)
	esGrowth.Note = "ratio = growth from N to 10N orders (1 flat, 10 linear); the in-memory engine holds its index in RAM"
	ixPk := plain("memory", "memory.indexer_peak_rss", mb(ixPeak), "MB", nil)
	ixPk.Note = fmt.Sprintf("`ordertable indexer` child consuming %d events in two backlogs", 10*n+len(custs))
	ixGrowth := ratioOf("memory", "memory.indexer_rss_at_10n", mb(at10N.ixRSS), "MB", mb(atN.ixRSS), fmt.Sprintf("RSS at N=%d", n), AtMost(2))
	ixGrowth.Note = "the indexer keeps its join state in Elasticsearch, so its memory should stay flat as data grows"
	return []Figure{self, esPk, esGrowth, ixPk, ixGrowth}, nil
}

// syntheticCustomers makes customers that exist only as events (for the memory figure).
func syntheticCustomers(n int) []customers.Customer {
	g := newDocGen(1, n)
	now := time.Now().UTC()
	out := make([]customers.Customer, n)
	for i := range out {
		out[i] = customers.Customer{ID: uuid.Must(uuid.NewV7()).String(), Name: g.customerName(i),
			Email: fmt.Sprintf("m%d@example.com", i), Country: benchCountries[i%len(benchCountries)], CreatedAt: now, UpdatedAt: now, Version: 1}
	}
	return out
}

// produceCustomers writes a customer.created event per customer straight into Kafka.
func produceCustomers(ctx context.Context, broker string, custs []customers.Customer) error {
	sc, err := kafkaconfig.Config{Brokers: []string{broker}, ClientID: "bench"}.Producer()
	if err != nil {
		return err
	}
	p, err := sarama.NewSyncProducer([]string{broker}, sc)
	if err != nil {
		return err
	}
	defer p.Close()
	var msgs []*sarama.ProducerMessage
	for i := range custs {
		c := custs[i]
		b, err := events.Encode(events.Event{ID: uuid.Must(uuid.NewV7()).String(), Type: events.CustomerCreated, Time: c.CreatedAt,
			EntityID: c.ID, Version: 1, Customer: &c})
		if err != nil {
			return err
		}
		msgs = append(msgs, &sarama.ProducerMessage{Topic: events.TopicCustomers, Key: sarama.StringEncoder(c.ID), Value: sarama.ByteEncoder(b)})
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return p.SendMessages(msgs)
}
