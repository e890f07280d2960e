package indexer

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/ordertable/ordertable/internal/events"
	"github.com/ordertable/ordertable/internal/kafkaconfig"
	"github.com/ordertable/ordertable/internal/testenv"
)

// The consumer-group tests run bare members built from the indexer's consumer configuration
// (consumerConfig) and its rejoin loop, without Elasticsearch: they are about who owns which
// partition when members die, not about indexing.

var groupTopics = []string{events.TopicCustomers, events.TopicOrders}

// killSwitch is the network of one simulated process: every broker connection of the member's
// client is dialled through it, and kill cuts them all at once and refuses new ones, as a
// SIGKILL does (the kernel closes the sockets; the process never talks again).
type killSwitch struct {
	mu    sync.Mutex
	conns []net.Conn
	dead  bool
	// onParkedJoin, when set, is called once a JoinGroup request has gone unanswered for
	// parkedAfter: the broker holds it until the rebalance completes.
	onParkedJoin func()
}

const parkedAfter = 200 * time.Millisecond

var errKilled = errors.New("process killed")

func (k *killSwitch) Dial(network, addr string) (net.Conn, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.dead {
		return nil, errKilled
	}
	c, err := net.DialTimeout(network, addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	k.conns = append(k.conns, c)
	return &watchedConn{Conn: c, ks: k}, nil
}

func (k *killSwitch) kill() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.dead = true
	for _, c := range k.conns {
		_ = c.Close()
	}
	k.conns = nil
}

func (k *killSwitch) killed() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.dead
}

// watchedConn notices JoinGroup requests (sarama writes each request in one Write) and whether
// their answer arrived.
type watchedConn struct {
	net.Conn
	ks    *killSwitch
	reads atomic.Int64
}

const apiJoinGroup = 11

func (c *watchedConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if err == nil && len(b) >= 6 && int16(binary.BigEndian.Uint16(b[4:6])) == apiJoinGroup && c.ks.onParkedJoin != nil {
		before := c.reads.Load()
		time.AfterFunc(parkedAfter, func() {
			if c.reads.Load() == before {
				c.ks.onParkedJoin()
			}
		})
	}
	return n, err
}

func (c *watchedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.reads.Add(1)
	}
	return n, err
}

// groupMember is one consumer-group member: its own sarama client (its own "process") running
// the indexer's consumer configuration.
type groupMember struct {
	name    string
	brokers []string
	group   string
	ks      *killSwitch
	cancel  context.CancelFunc
	done    chan struct{}

	mu     sync.Mutex
	gen    int32
	claims map[string][]int32 // nil outside a session
	errs   []error            // returned by Consume
}

func startMember(t *testing.T, brokers []string, group, name string, ks *killSwitch) *groupMember {
	t.Helper()
	sc, err := consumerConfig(Config{Kafka: kafkaconfig.Config{Brokers: brokers}, InstanceID: name, BulkSize: 200})
	if err != nil {
		t.Fatal(err)
	}
	sc.Net.Proxy.Enable = true
	sc.Net.Proxy.Dialer = ks
	ctx, cancel := context.WithCancel(context.Background())
	m := &groupMember{name: name, brokers: brokers, group: group, ks: ks, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(m.done)
		var g sarama.ConsumerGroup
		for g == nil {
			var err error
			if g, err = sarama.NewConsumerGroup(brokers, group, sc); err != nil {
				select {
				case <-ctx.Done():
					return
				case <-time.After(100 * time.Millisecond):
				}
			}
		}
		go func() {
			for range g.Errors() {
			}
		}()
		for ctx.Err() == nil {
			if err := g.Consume(ctx, groupTopics, m); err != nil {
				if ctx.Err() == nil {
					m.mu.Lock()
					m.errs = append(m.errs, err)
					m.mu.Unlock()
				}
				select {
				case <-ctx.Done():
				case <-time.After(100 * time.Millisecond):
				}
			}
		}
		_ = g.Close()
	}()
	t.Cleanup(m.stop)
	return m
}

// stop ends the member gracefully (it leaves the group as Indexer.Run does on shutdown).
func (m *groupMember) stop() {
	m.cancel()
	select {
	case <-m.done:
	case <-time.After(time.Minute):
	}
}

// kill ends the member abruptly, without a word to the broker.
func (m *groupMember) kill() {
	m.ks.kill()
	m.cancel()
}

func (m *groupMember) Setup(s sarama.ConsumerGroupSession) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gen, m.claims = s.GenerationID(), s.Claims()
	return nil
}

func (m *groupMember) Cleanup(sarama.ConsumerGroupSession) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.claims = nil
	return nil
}

func (m *groupMember) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for {
		select {
		case <-sess.Context().Done():
			return nil
		case _, ok := <-claim.Messages():
			if !ok {
				return nil
			}
		}
	}
}

// owns checks that members, all in a session of the same generation, own every partition of
// the topics (want: topic -> partition count) exactly once between them.
func owns(want map[string]int32, members ...*groupMember) error {
	got := map[string][]int32{}
	gen := int32(-1)
	for _, m := range members {
		m.mu.Lock()
		g, claims := m.gen, m.claims
		m.mu.Unlock()
		if claims == nil {
			return fmt.Errorf("%s is not in a session", m.name)
		}
		if gen != -1 && g != gen {
			return fmt.Errorf("members in generations %d and %d", gen, g)
		}
		gen = g
		for topic, ps := range claims {
			got[topic] = append(got[topic], ps...)
		}
	}
	for topic, n := range want {
		ps := slices.Sorted(slices.Values(got[topic]))
		if len(ps) != int(n) || (n > 0 && (ps[0] != 0 || ps[n-1] != n-1 || len(slices.Compact(ps)) != int(n))) {
			return fmt.Errorf("generation %d: %s partitions owned %v, want 0..%d once each", gen, topic, got[topic], n-1)
		}
	}
	return nil
}

func partitionCounts(t *testing.T, brokers []string) map[string]int32 {
	t.Helper()
	c := testClient(t, brokers)
	want := map[string]int32{}
	for _, topic := range groupTopics {
		ps, err := c.Partitions(topic)
		if err != nil {
			t.Fatal(err)
		}
		want[topic] = int32(len(ps))
	}
	return want
}

// describeGroup says who the coordinator counts as members, for failure messages.
func describeGroup(brokers []string, group string) string {
	sc, err := kafkaconfig.Config{Brokers: brokers}.Sarama()
	if err != nil {
		return err.Error()
	}
	adm, err := sarama.NewClusterAdmin(brokers, sc)
	if err != nil {
		return err.Error()
	}
	defer adm.Close()
	ds, err := adm.DescribeConsumerGroups([]string{group})
	if err != nil || len(ds) != 1 {
		return fmt.Sprintf("describe group: %v", err)
	}
	var out []string
	for id, m := range ds[0].Members {
		a, _ := m.GetMemberAssignment()
		var parts map[string][]int32
		if a != nil {
			parts = a.Topics
		}
		out = append(out, fmt.Sprintf("%s (client %s) owns %v", id, m.ClientId, parts))
	}
	slices.Sort(out)
	return fmt.Sprintf("group %s state %s, %d members: %v", group, ds[0].State, len(out), out)
}

// waitOwns waits until members own every partition, failing the test after bound.
func waitOwns(t *testing.T, bound time.Duration, want map[string]int32, members ...*groupMember) time.Duration {
	t.Helper()
	start := time.Now()
	var err error
	for time.Since(start) < bound {
		if err = owns(want, members...); err == nil {
			return time.Since(start)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("after %s the live members do not own every partition: %v; %s", bound, err, describeGroup(members[0].brokers, members[0].group))
	return 0
}

// groupTest skips with -short (the tests wait for rebalances) and returns the brokers, a new
// group name, the topics' partition counts and the indexer's consumer configuration.
func groupTest(t *testing.T) (brokers []string, group string, want map[string]int32, sc *sarama.Config) {
	t.Helper()
	if testing.Short() {
		t.Skip("waits for consumer-group rebalances; skipped with -short")
	}
	brokers = testenv.KafkaBrokers(t)
	sc, err := consumerConfig(Config{Kafka: kafkaconfig.Config{Brokers: brokers}})
	if err != nil {
		t.Fatal(err)
	}
	return brokers, testenv.UniqueName("group"), partitionCounts(t, brokers), sc
}

// TestGroupRecoversFromMemberKilledMidJoin kills a member while its JoinGroup is held by the
// coordinator (the rebalance it started is waiting for the others to rejoin) and restarts it,
// as the chaos suite does to the indexers. The protocol bounds how long the group may then go
// without owners for some partitions: a dead member is out once its session times out and a
// rebalance completes within the rebalance timeout, so the live members must own every
// partition again within session timeout + rebalance timeout of the restart (plus a few
// seconds of scheduling slack). Several rounds: the embedded broker used to lose track of such
// a member only when a race went one way (see internal/kafkaembed/hold.go), half the time.
func TestGroupRecoversFromMemberKilledMidJoin(t *testing.T) {
	brokers, group, want, sc := groupTest(t)
	bound := sc.Consumer.Group.Session.Timeout + sc.Consumer.Group.Rebalance.Timeout + 5*time.Second

	a := startMember(t, brokers, group, "a", &killSwitch{})
	b := startMember(t, brokers, group, "b", &killSwitch{})
	waitOwns(t, bound, want, a, b)
	for round := 1; round <= 4; round++ {
		ks := &killSwitch{}
		var once sync.Once
		killed := make(chan struct{})
		ks.onParkedJoin = func() {
			once.Do(func() {
				ks.kill()
				close(killed)
			})
		}
		c := startMember(t, brokers, group, "c", ks)
		select {
		case <-killed:
		case <-time.After(bound):
			t.Fatalf("round %d: c's JoinGroup was never held by the coordinator", round)
		}
		c.kill()
		// The supervisor restarts it under the same name.
		c2 := startMember(t, brokers, group, "c", &killSwitch{})
		d := waitOwns(t, bound, want, a, b, c2)
		t.Logf("round %d: a, b and the restarted c own every partition %s after the restart", round, d.Round(100*time.Millisecond))
		c2.stop()
		waitOwns(t, bound, want, a, b)
	}
}

// TestGroupJoinOutlastsRebalanceTimeout: a member that keeps heartbeating but is slow to rejoin
// (a consumer finishing its batch; the Java consumer heartbeats from a background thread
// meanwhile) makes the coordinator hold the other members' JoinGroups for the whole rebalance
// timeout. The indexer's consumer must wait for that answer: giving up on it (a read timeout no
// longer than the rebalance timeout) makes it rejoin, which starts the next rebalance.
func TestGroupJoinOutlastsRebalanceTimeout(t *testing.T) {
	brokers, group, want, sc := groupTest(t)
	rebalance := sc.Consumer.Group.Rebalance.Timeout

	// The slow member speaks the group protocol by hand: join, sync, then only heartbeat.
	client, err := sarama.NewClient(brokers, sc)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	coord, err := client.Coordinator(group)
	if err != nil {
		t.Fatal(err)
	}
	join := func(memberID string) *sarama.JoinGroupResponse {
		req := sarama.NewJoinGroupRequest(kafkaconfig.Version)
		req.GroupId, req.MemberId, req.ProtocolType = group, memberID, "consumer"
		req.SessionTimeout = int32(sc.Consumer.Group.Session.Timeout / time.Millisecond)
		req.RebalanceTimeout = int32(rebalance / time.Millisecond)
		if err := req.AddGroupProtocolMetadata("roundrobin", &sarama.ConsumerGroupMemberMetadata{Topics: groupTopics}); err != nil {
			t.Fatal(err)
		}
		resp, err := coord.JoinGroup(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	jr := join("")
	if errors.Is(jr.Err, sarama.ErrMemberIdRequired) {
		jr = join(jr.MemberId)
	}
	if !errors.Is(jr.Err, sarama.ErrNoError) || jr.LeaderId != jr.MemberId {
		t.Fatalf("slow member join: %v, leader %q, member %q", jr.Err, jr.LeaderId, jr.MemberId)
	}
	sreq := &sarama.SyncGroupRequest{GroupId: group, MemberId: jr.MemberId, GenerationId: jr.GenerationId}
	if err := sreq.AddGroupAssignmentMember(jr.MemberId, &sarama.ConsumerGroupMemberAssignment{}); err != nil {
		t.Fatal(err)
	}
	if sr, err := coord.SyncGroup(sreq); err != nil || !errors.Is(sr.Err, sarama.ErrNoError) {
		t.Fatalf("slow member sync: %v %v", err, sr)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var rebalancing atomic.Bool
	go func() {
		for ctx.Err() == nil {
			hr, err := coord.Heartbeat(&sarama.HeartbeatRequest{GroupId: group, MemberId: jr.MemberId, GenerationId: jr.GenerationId})
			if err == nil && errors.Is(hr.Err, sarama.ErrRebalanceInProgress) {
				rebalancing.Store(true)
			}
			select {
			case <-ctx.Done():
			case <-time.After(sc.Consumer.Group.Heartbeat.Interval):
			}
		}
	}()

	m := startMember(t, brokers, group, "m", &killSwitch{})
	start := time.Now()
	waitOwns(t, rebalance+15*time.Second, want, m)
	t.Logf("the new member owns every partition %s after it started (rebalance timeout %s; the slow member saw the rebalance: %v)",
		time.Since(start).Round(100*time.Millisecond), rebalance, rebalancing.Load())
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.errs) > 0 {
		t.Errorf("the new member's Consume failed while the coordinator held its JoinGroup: %v", m.errs)
	}
}
