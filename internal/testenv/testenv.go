// Package testenv gives tests their infrastructure endpoints. Each comes from the environment
// when set (DATABASE_URL, KAFKA_BROKERS, ES_URL), so the same suites run against real
// clusters; otherwise an embedded engine is started for the test and stopped after it.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ordertable/ordertable/internal/events"
	"github.com/ordertable/ordertable/internal/kafkaembed"
)

// DefaultDatabaseURL is the local PostgreSQL server used when DATABASE_URL is unset.
const DefaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// AdminDatabaseURL is the server tests create their databases on.
func AdminDatabaseURL() string {
	if u := os.Getenv("DATABASE_URL"); u != "" {
		return u
	}
	return DefaultDatabaseURL
}

// NewDatabase creates a uniquely named database for the test, returns its URL and drops it
// (terminating leftover connections) when the test ends.
func NewDatabase(t testing.TB, prefix string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin := AdminDatabaseURL()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("testenv: connect %s: %v (set DATABASE_URL)", redact(admin), err)
	}
	defer conn.Close(ctx)
	name := fmt.Sprintf("ot_%s_%s", sanitize(prefix), randHex(6))
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("testenv: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Logf("testenv: drop %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Logf("testenv: drop %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("testenv: parse %s: %v", redact(admin), err)
	}
	u.Path = "/" + name
	return u.String()
}

// KafkaBrokers returns KAFKA_BROKERS, or starts an embedded broker with the ordertable topics
// for this test. Tests that share a real cluster must use unique group and topic names.
func KafkaBrokers(t testing.TB) []string {
	t.Helper()
	if b := EnvKafkaBrokers(); b != nil {
		return b
	}
	return []string{EmbeddedKafka(t, "").Addr()}
}

// EnvKafkaBrokers returns KAFKA_BROKERS split at commas, or nil when it is unset (for tests
// whose stack starts its own broker then).
func EnvKafkaBrokers() []string {
	if b := os.Getenv("KAFKA_BROKERS"); b != "" {
		return strings.Split(b, ",")
	}
	return nil
}

// EmbeddedKafka always starts an embedded broker (for fault-injection tests that need its
// controls), persisting in dataDir when non-empty.
func EmbeddedKafka(t testing.TB, dataDir string) *kafkaembed.Broker {
	t.Helper()
	b, err := kafkaembed.Start(kafkaembed.Config{
		DataDir: dataDir,
		Topics:  []string{events.TopicCustomers, events.TopicOrders, events.TopicDLQ},
	})
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(b.Close)
	return b
}

// UniqueName returns prefix plus a random suffix, for groups, topics and indices.
func UniqueName(prefix string) string { return prefix + "_" + randHex(4) }

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func sanitize(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '_' {
			b.WriteRune(r)
		}
		if b.Len() >= 20 {
			break
		}
	}
	return b.String()
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparseable url>"
	}
	return u.Redacted()
}
