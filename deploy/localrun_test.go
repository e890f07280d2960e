package deploy

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/ordertable/ordertable/internal/testenv"
)

// TestComposeEnvironmentRunsLocally runs the ordertable services of docker-compose.yml with the
// environment compose gives them (from .env.example), only the addresses changed: compose's
// host names point to a Kafka broker that requires SASL/PLAIN with the .env credentials, to the
// embedded Elasticsearch engine (`ordertable es`), and to the test PostgreSQL server, whose
// databases and roles deploy/postgres/init-databases.sh creates. Each service must become
// healthy by its own compose health check (the probe binary on its /readyz), then the tools run
// as documented: seed, verify, reindex run to mappings/orders_v2.json (which reads the indexer's
// lag through SASL), verify again.
//
// What this cannot show, Docker being absent: the images, the real Elasticsearch security
// (the embedded engine ignores credentials) and the real Kafka broker's configuration.
func TestComposeEnvironmentRunsLocally(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole pipeline; skipped with -short")
	}
	p := loadCompose(t)
	bin := ordertableBinary(t)
	probe := probeBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	// Kafka with the broker's SASL/PLAIN user from .env.example.
	kenv := p.Services["customers"].Environment
	cluster, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.EnableSASL(),
		kfake.Superuser("PLAIN", deref(kenv["KAFKA_SASL_USER"]), deref(kenv["KAFKA_SASL_PASSWORD"])),
		kfake.SeedTopics(6, "customers", "orders"),
		kfake.SeedTopics(1, "ordertable.dlq"),
	)
	if err != nil {
		t.Fatalf("kafka: %v", err)
	}
	t.Cleanup(cluster.Close)

	// Elasticsearch: the embedded engine, as its own process.
	esAddr := freeAddr(t)
	startProcess(t, "es", bin, []string{"es", "--listen", esAddr}, nil)
	waitHealthy(ctx, t, "es", func() error { return runProbe(ctx, probe, "http://"+esAddr+"/") })

	// PostgreSQL: the init script creates one database and owner role per service.
	admin, err := url.Parse(testenv.AdminDatabaseURL())
	if err != nil {
		t.Fatal(err)
	}
	suffix := strings.TrimPrefix(testenv.UniqueName(""), "_")
	dbName := map[string]string{"customers": "ot_stack_customers_" + suffix, "orders": "ot_stack_orders_" + suffix}
	initEnv := map[string]string{
		"ORDERTABLE_DATABASES": dbName["customers"] + " " + dbName["orders"],
		"POSTGRES_USER":        admin.User.Username(),
		"POSTGRES_DB":          strings.TrimPrefix(admin.Path, "/"),
		"PGHOST":               admin.Hostname(),
		"PGPORT":               admin.Port(),
	}
	if pw, ok := admin.User.Password(); ok {
		initEnv["PGPASSWORD"] = pw
	}
	for svc, db := range dbName {
		initEnv[strings.ToUpper(db)+"_DB_PASSWORD"] = deref(p.Services["postgres"].Environment[strings.ToUpper(svc)+"_DB_PASSWORD"])
	}
	t.Cleanup(func() { dropDatabasesAndRoles(t, admin.String(), dbName["customers"], dbName["orders"]) })
	if out, err := runScript(t, "bash", "deploy/postgres/init-databases.sh", initEnv); err != nil {
		t.Fatalf("init-databases.sh: %v\n%s", err, out)
	}

	// Compose host names -> local addresses; each service gets a free port for its LISTEN.
	listen := map[string]string{}
	for _, svc := range []string{"customers", "orders", "indexer", "search"} {
		listen[svc] = freeAddr(t)
	}
	pgHost := admin.Host
	if admin.Port() == "" {
		pgHost += ":5432"
	}
	rewrite := func(svc, k, v string) string {
		switch k {
		case "LISTEN":
			return listen[svc]
		case "DATABASE_URL":
			u, err := url.Parse(v)
			if err != nil {
				t.Fatalf("%s: DATABASE_URL: %v", svc, err)
			}
			db := dbName[strings.TrimPrefix(u.Path, "/")]
			pw, _ := u.User.Password()
			u.User, u.Host, u.Path = url.UserPassword(db, pw), pgHost, "/"+db
			return u.String()
		}
		r := strings.NewReplacer(
			"http://elasticsearch:9200", "http://"+esAddr,
			"kafka:9092", cluster.ListenAddrs()[0],
			"http://customers:8081", "http://"+listen["customers"],
			"http://orders:8082", "http://"+listen["orders"],
		)
		return r.Replace(v)
	}
	envOf := func(svc string) []string {
		var env []string
		for k, v := range p.Services[svc].Environment {
			env = append(env, k+"="+rewrite(svc, k, deref(v)))
		}
		return env
	}

	for _, svc := range []string{"customers", "orders", "indexer", "search"} {
		s := p.Services[svc]
		startProcess(t, svc, bin, ordertableArgs(s), envOf(svc))
		// The compose health check itself, pointed at the local port.
		hc := []string(s.HealthCheck.Test)
		_, port, _ := strings.Cut(deref(s.Environment["LISTEN"]), ":")
		target := strings.Replace(hc[len(hc)-1], "127.0.0.1:"+port, listen[svc], 1)
		waitHealthy(ctx, t, svc, func() error { return runProbe(ctx, probe, target) })
	}

	// The tools, as docs/production.md and the CI workflow run them.
	tool := func(svc string, args ...string) string {
		t.Helper()
		s := p.Services[svc]
		argv := append(entrypointArgs(s), args...)
		cmd := exec.CommandContext(ctx, bin, argv...)
		cmd.Dir = repoRoot(t) // mappings/ relative, as in the image's WORKDIR /app
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, envOf(svc)...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			t.Fatalf("docker compose run --rm %s %s: %v\n%s", svc, strings.Join(args, " "), err, out.String())
		}
		return out.String()
	}
	tool("seed", "--customers", "10", "--orders", "40", "--seed", "7")
	t.Log(tool("verify"))
	tool("reindex", "run", "--mapping", "mappings/orders_v2.json")
	if out := tool("reindex", "status"); !strings.Contains(out, "orders_v2") {
		t.Errorf("reindex status does not mention orders_v2:\n%s", out)
	}
	tool("verify")
}

// probeBinary builds deploy/probe, the health check of the image.
func probeBinary(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "probe")
	cmd := exec.Command("go", "build", "-o", path, "./deploy/probe")
	cmd.Dir = repoRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./deploy/probe: %v\n%s", err, out)
	}
	return path
}

func runProbe(ctx context.Context, probe, target string) error {
	out, err := exec.CommandContext(ctx, probe, "-timeout", "2s", target).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, bytes.TrimSpace(out))
	}
	return nil
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// lockedBuffer collects a process's output for the failure message.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startProcess starts a long-running ordertable process and stops it (SIGTERM, then kill) when
// the test ends; its output is printed if the test failed.
func startProcess(t *testing.T, name, bin string, args, env []string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("---- %s output ----\n%s", name, tail(out.String(), 4000))
		}
	})
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// waitHealthy polls check until it succeeds or a minute passes.
func waitHealthy(ctx context.Context, t *testing.T, name string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	var err error
	for time.Now().Before(deadline) {
		if err = check(); err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %v", name, ctx.Err())
		case <-tick.C:
		}
	}
	t.Fatalf("%s never became healthy: %v", name, err)
}

func dropDatabasesAndRoles(t *testing.T, adminURL string, names ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, stmt := range []string{"DROP DATABASE IF EXISTS %s WITH (FORCE)", "DROP ROLE IF EXISTS %s"} {
		for _, n := range names {
			cmd := exec.CommandContext(ctx, "psql", adminURL, "-v", "ON_ERROR_STOP=1", "-Atc", fmt.Sprintf(stmt, `"`+n+`"`))
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Logf("cleanup %s: %v %s", n, err, out)
			}
		}
	}
}
