package kafkaembed

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

func frame(body string) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
	return append(b, body...)
}

func TestFrameCounter(t *testing.T) {
	stream := append(append(frame("join"), frame("")...), frame("heartbeat")...)
	for _, chunk := range []int{1, 2, 3, 5, 7, len(stream)} {
		var f frameCounter
		for b := stream; len(b) > 0; {
			k := min(chunk, len(b))
			f.feed(b[:k])
			b = b[k:]
		}
		if f.n != 3 {
			t.Errorf("chunks of %d: got %d frames, want 3", chunk, f.n)
		}
	}
	var f frameCounter
	f.feed(frame("join")[:6])
	if f.n != 0 {
		t.Errorf("partial frame: got %d frames, want 0", f.n)
	}
}

// readResult reads once from c in the background.
func readResult(c net.Conn) <-chan error {
	ch := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 64))
		ch <- err
	}()
	return ch
}

// The broker's side of a connection reports the client's close only once the requests the
// client sent have been answered: kfake must see its answer to a held JoinGroup succeed.
func TestHoldConnReportsCloseAfterAnswer(t *testing.T) {
	t.Run("request pending", func(t *testing.T) {
		client, server := net.Pipe()
		hc := newHoldConn(server)
		defer hc.Close()
		go func() {
			_, _ = client.Write(frame("join"))
			_ = client.Close()
		}()
		if _, err := io.ReadFull(hc, make([]byte, len(frame("join")))); err != nil {
			t.Fatal(err)
		}
		read := readResult(hc)
		select {
		case err := <-read:
			t.Fatalf("close reported while the request is unanswered: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
		_, _ = hc.Write(frame("joined")) // the pipe is closed: the write fails, still an answer
		select {
		case err := <-read:
			if !errors.Is(err, io.EOF) {
				t.Errorf("got %v, want EOF", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("close not reported after the answer")
		}
	})
	t.Run("nothing pending", func(t *testing.T) {
		client, server := net.Pipe()
		hc := newHoldConn(server)
		defer hc.Close()
		_ = client.Close()
		select {
		case err := <-readResult(hc):
			if !errors.Is(err, io.EOF) {
				t.Errorf("got %v, want EOF", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("close not reported")
		}
	})
	t.Run("broker closes", func(t *testing.T) {
		client, server := net.Pipe()
		defer client.Close()
		hc := newHoldConn(server)
		go func() { _, _ = client.Write(frame("join")) }()
		if _, err := io.ReadFull(hc, make([]byte, len(frame("join")))); err != nil {
			t.Fatal(err)
		}
		read := readResult(hc)
		_ = hc.Close()
		select {
		case <-read:
		case <-time.After(5 * time.Second):
			t.Fatal("read not ended by Close")
		}
	})
}
