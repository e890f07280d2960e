package kafkaembed

import (
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"time"
)

// The embedded broker (kfake, at the version go.mod pins) forgets a consumer-group member whose
// connection dies while the broker holds one of its requests (a JoinGroup waiting for the
// rebalance, a SyncGroup waiting for the leader's assignment): when it finally answers, the send
// to the dead connection fails, and kfake then never starts the member's session timer (it
// starts it only after a successful send). The member stays in the group, is handed partitions,
// and is never expired, so those partitions go unconsumed until some later rebalance happens to
// drop it; a rebalance that waits for it keeps the other members' JoinGroups unanswered until
// their clients time out (kfake, unlike Kafka, also expires members while they wait in
// JoinGroup). Whether the send fails is a race (kfake's reply picks at random between its
// buffered response channel and the connection's done channel), so about half the members
// killed in the middle of a join are kept this way. Kafka instead expires such a member one
// session timeout after the answer. A consumer killed while it joins the group (the chaos
// suite's SIGKILLed indexers) hits this; indexer.TestGroupRecoversFromMemberKilledMidJoin
// reproduces it.
//
// holdListener makes kfake behave like Kafka here: when a client closes its connection while
// requests it sent are still unanswered, the broker's side of the connection reports the close
// only once those requests have been answered (or after holdMax). The answer then "succeeds",
// kfake starts the session timer, and the dead member is expired as Kafka would expire it.

// holdMax bounds how long a closed connection is kept for an answer that never comes.
const holdMax = 5 * time.Minute

type holdListener struct{ net.Listener }

func (l holdListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return newHoldConn(c), nil
}

// holdConn is the broker's side of one client connection.
type holdConn struct {
	net.Conn
	mu        sync.Mutex
	requests  frameCounter  // read by the broker
	responses frameCounter  // written by the broker
	answered  chan struct{} // closed (and replaced) whenever a response is written or on Close
	closed    bool
}

func newHoldConn(c net.Conn) *holdConn {
	return &holdConn{Conn: c, answered: make(chan struct{})}
}

func (c *holdConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.mu.Lock()
	c.requests.feed(b[:n])
	c.mu.Unlock()
	if err == nil || n > 0 || errors.Is(err, net.ErrClosed) {
		return n, err
	}
	// The client is gone: report it once everything it asked has been answered.
	timeout := time.NewTimer(holdMax)
	defer timeout.Stop()
	for {
		c.mu.Lock()
		pending := c.requests.n > c.responses.n && !c.closed
		ch := c.answered
		c.mu.Unlock()
		if !pending {
			return 0, err
		}
		select {
		case <-ch:
		case <-timeout.C:
			return 0, err
		}
	}
}

func (c *holdConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.mu.Lock()
	before := c.responses.n
	c.responses.feed(b[:n])
	if err != nil {
		// A response the client will never read still counts as answered.
		c.responses.n = max(c.responses.n, before+1)
	}
	if c.responses.n != before {
		close(c.answered)
		c.answered = make(chan struct{})
	}
	c.mu.Unlock()
	return n, err
}

func (c *holdConn) Close() error {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		close(c.answered)
		c.answered = make(chan struct{})
	}
	c.mu.Unlock()
	return c.Conn.Close()
}

// frameCounter counts the complete frames of a Kafka byte stream: each is a 4-byte big-endian
// size followed by that many bytes.
type frameCounter struct {
	hdr  [4]byte
	hdrN int
	left uint32 // bytes of the current frame still to come, once hdrN == 4
	n    int    // complete frames
}

func (f *frameCounter) feed(b []byte) {
	for len(b) > 0 {
		if f.hdrN < 4 {
			k := copy(f.hdr[f.hdrN:], b)
			f.hdrN += k
			b = b[k:]
			if f.hdrN == 4 {
				f.left = binary.BigEndian.Uint32(f.hdr[:])
				if f.left == 0 {
					f.n++
					f.hdrN = 0
				}
			}
			continue
		}
		k := min(uint32(len(b)), f.left)
		f.left -= k
		b = b[k:]
		if f.left == 0 {
			f.n++
			f.hdrN = 0
		}
	}
}
