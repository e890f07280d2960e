package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ordertable/ordertable/internal/testenv"
)

// recorded is one request a fake Elasticsearch or Kibana received.
type recorded struct {
	Method, Path, User, Password, ContentType string
	Header                                    http.Header
	Body                                      []byte
}

// fakeServer records requests and answers with respond.
func fakeServer(t *testing.T, respond func(r recorded) (int, string)) (*httptest.Server, func() []recorded) {
	t.Helper()
	var mu sync.Mutex
	var got []recorded
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		user, pw, _ := r.BasicAuth()
		rec := recorded{Method: r.Method, Path: r.URL.RequestURI(), User: user, Password: pw,
			ContentType: r.Header.Get("Content-Type"), Header: r.Header.Clone(), Body: body}
		mu.Lock()
		got = append(got, rec)
		mu.Unlock()
		status, answer := respond(rec)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, answer)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []recorded {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(got)
	}
}

// runScript runs a deploy script with exactly env (plus PATH and HOME) and returns its output.
func runScript(t *testing.T, interpreter, script string, env map[string]string) (string, error) {
	t.Helper()
	if _, err := exec.LookPath(interpreter); err != nil {
		t.Fatalf("%s is needed to test %s: %v", interpreter, script, err)
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatalf("curl is needed to test %s: %v", script, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, interpreter, filepath.Join(repoRoot(t), script))
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// Passwords with characters that need escaping in JSON and in curl's config file.
var setupEnv = map[string]string{
	"ELASTIC_PASSWORD":       `el"astic\pw-1`,
	"KIBANA_SYSTEM_PASSWORD": "kibana-pw-2",
	"ES_SEARCH_PASSWORD":     `search"pw-3`,
	"ES_INDEXER_PASSWORD":    `indexer\pw-4`,
	"ES_REINDEX_PASSWORD":    "reindex pw 5",
}

func TestElasticsearchSetupScript(t *testing.T) {
	srv, requests := fakeServer(t, func(recorded) (int, string) { return 200, `{"created":true}` })
	env := map[string]string{"ES_URL": srv.URL + "/", "ROLES_DIR": filepath.Join(repoRoot(t), "deploy/elasticsearch/roles")}
	for k, v := range setupEnv {
		env[k] = v
	}
	out, err := runScript(t, "bash", "deploy/elasticsearch/setup.sh", env)
	if err != nil {
		t.Fatalf("setup.sh: %v\n%s", err, out)
	}
	for k, v := range setupEnv {
		if strings.Contains(out, v) {
			t.Errorf("setup.sh printed %s", k)
		}
	}
	if strings.Contains(out, "WARNING") {
		t.Errorf("setup.sh warns although no placeholder is used:\n%s", out)
	}
	reqs := requests()
	byPath := map[string]recorded{}
	for _, r := range reqs {
		if r.User != "elastic" || r.Password != setupEnv["ELASTIC_PASSWORD"] {
			t.Errorf("%s %s: authenticated as %q/%q, want elastic with ELASTIC_PASSWORD", r.Method, r.Path, r.User, r.Password)
		}
		if r.ContentType != "application/json" {
			t.Errorf("%s %s: Content-Type %q", r.Method, r.Path, r.ContentType)
		}
		if !json.Valid(r.Body) {
			t.Errorf("%s %s: body is not JSON: %s", r.Method, r.Path, r.Body)
		}
		byPath[r.Method+" "+r.Path] = r
	}
	jsonField := func(key, field string) any {
		var m map[string]any
		_ = json.Unmarshal(byPath[key].Body, &m)
		return m[field]
	}
	if got := jsonField("POST /_security/user/kibana_system/_password", "password"); got != setupEnv["KIBANA_SYSTEM_PASSWORD"] {
		t.Errorf("kibana_system password: got %v", got)
	}
	for _, c := range []struct{ user, env string }{
		{"ordertable_search", "ES_SEARCH_PASSWORD"},
		{"ordertable_indexer", "ES_INDEXER_PASSWORD"},
		{"ordertable_reindex", "ES_REINDEX_PASSWORD"},
	} {
		key := "PUT /_security/user/" + c.user
		if _, ok := byPath[key]; !ok {
			t.Errorf("no %s", key)
			continue
		}
		if got := jsonField(key, "password"); got != setupEnv[c.env] {
			t.Errorf("%s: password %q, want $%s", c.user, got, c.env)
		}
		if got := fmt.Sprint(jsonField(key, "roles")); got != "["+c.user+"]" {
			t.Errorf("%s: roles %s, want only [%s]", c.user, got, c.user)
		}
		role := readFile(t, "deploy/elasticsearch/roles/"+c.user+".json")
		if got := byPath["PUT /_security/role/"+c.user].Body; !bytes.Equal(got, role) {
			t.Errorf("role %s: sent %s, want the file's content", c.user, got)
		}
	}
	// kibana_system first: Kibana waits for this script, roles before the users holding them.
	var order []string
	for _, r := range reqs {
		order = append(order, r.Path)
	}
	if len(order) != 7 || order[0] != "/_security/user/kibana_system/_password" || !strings.HasPrefix(order[1], "/_security/role/") || !strings.HasPrefix(order[6], "/_security/user/") {
		t.Errorf("request order %v", order)
	}
}

func TestElasticsearchSetupScriptWarnsOnPlaceholders(t *testing.T) {
	srv, _ := fakeServer(t, func(recorded) (int, string) { return 200, `{}` })
	env := map[string]string{"ES_URL": srv.URL, "ROLES_DIR": filepath.Join(repoRoot(t), "deploy/elasticsearch/roles")}
	example := parseEnvFile(t, ".env.example")
	for k := range setupEnv {
		env[k] = example[k]
	}
	out, err := runScript(t, "bash", "deploy/elasticsearch/setup.sh", env)
	if err != nil {
		t.Fatalf("setup.sh: %v\n%s", err, out)
	}
	for k := range setupEnv {
		if !strings.Contains(out, "WARNING: "+k+" still has the public placeholder") {
			t.Errorf("no warning for %s:\n%s", k, out)
		}
		if strings.Contains(out, example[k]) {
			t.Errorf("setup.sh printed the value of %s", k)
		}
	}
}

func TestElasticsearchSetupScriptFailsOnRefusal(t *testing.T) {
	srv, requests := fakeServer(t, func(r recorded) (int, string) {
		if strings.HasPrefix(r.Path, "/_security/role/ordertable_indexer") {
			return 400, `{"error":{"type":"parse_exception","reason":"unknown privilege [wrte]"}}`
		}
		return 200, `{}`
	})
	env := map[string]string{"ES_URL": srv.URL, "ROLES_DIR": filepath.Join(repoRoot(t), "deploy/elasticsearch/roles")}
	for k, v := range setupEnv {
		env[k] = v
	}
	out, err := runScript(t, "bash", "deploy/elasticsearch/setup.sh", env)
	if err == nil {
		t.Fatalf("setup.sh succeeded although Elasticsearch refused a role:\n%s", out)
	}
	if !strings.Contains(out, "unknown privilege [wrte]") || !strings.Contains(out, "HTTP 400") {
		t.Errorf("setup.sh output does not show Elasticsearch's answer:\n%s", out)
	}
	for _, r := range requests() {
		if strings.HasPrefix(r.Path, "/_security/user/ordertable_") {
			t.Errorf("setup.sh went on after the failure: %s %s", r.Method, r.Path)
		}
	}
	// A missing variable stops it before any request.
	delete(env, "ES_REINDEX_PASSWORD")
	before := len(requests())
	if out, err := runScript(t, "bash", "deploy/elasticsearch/setup.sh", env); err == nil || !strings.Contains(out, "ES_REINDEX_PASSWORD") {
		t.Errorf("setup.sh without ES_REINDEX_PASSWORD: err %v, output:\n%s", err, out)
	}
	if len(requests()) != before {
		t.Error("setup.sh sent requests with a variable missing")
	}
}

func TestKibanaImportScript(t *testing.T) {
	ndjson := readFile(t, "mappings/kibana/ordertable.ndjson")
	for _, tc := range []struct {
		name    string
		answer  string
		wantErr string
	}{
		{"success", `{"success":true,"successCount":7}`, ""},
		{"object errors", `{"success":false,"successCount":6,"errors":[{"id":"ordertable-overview","error":{"type":"missing_references"}}]}`, "missing_references"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, requests := fakeServer(t, func(r recorded) (int, string) {
				if strings.HasPrefix(r.Path, "/api/saved_objects/_import") {
					return 200, tc.answer
				}
				return 200, `{"acknowledged":true}`
			})
			out, err := runScript(t, "bash", "deploy/kibana/import.sh", map[string]string{
				"KIBANA_URL":         srv.URL,
				"ELASTIC_PASSWORD":   setupEnv["ELASTIC_PASSWORD"],
				"KIBANA_OBJECTS_DIR": filepath.Join(repoRoot(t), "mappings/kibana"),
			})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(out, tc.wantErr) {
					t.Fatalf("import.sh: err %v, want a failure showing %q:\n%s", err, tc.wantErr, out)
				}
				return
			}
			if err != nil {
				t.Fatalf("import.sh: %v\n%s", err, out)
			}
			reqs := requests()
			if len(reqs) != 2 {
				t.Fatalf("got %d requests, want import + default data view", len(reqs))
			}
			imp := reqs[0]
			if imp.Method != "POST" || imp.Path != "/api/saved_objects/_import?overwrite=true" {
				t.Errorf("import: %s %s", imp.Method, imp.Path)
			}
			for _, r := range reqs {
				if r.Header.Get("kbn-xsrf") == "" || r.User != "elastic" || r.Password != setupEnv["ELASTIC_PASSWORD"] {
					t.Errorf("%s %s: missing kbn-xsrf or elastic credentials", r.Method, r.Path)
				}
			}
			_, params, err := mime.ParseMediaType(imp.ContentType)
			if err != nil {
				t.Fatalf("import Content-Type %q: %v", imp.ContentType, err)
			}
			part, err := multipart.NewReader(bytes.NewReader(imp.Body), params["boundary"]).NextPart()
			if err != nil {
				t.Fatalf("import body is not multipart: %v", err)
			}
			body, _ := io.ReadAll(part)
			if part.FormName() != "file" || !strings.HasSuffix(part.FileName(), ".ndjson") || !bytes.Equal(body, ndjson) {
				t.Errorf("import part %q (file %q, %d bytes): want field file with ordertable.ndjson", part.FormName(), part.FileName(), len(body))
			}
			var def struct {
				DataViewID string `json:"data_view_id"`
				Force      bool   `json:"force"`
			}
			if err := json.Unmarshal(reqs[1].Body, &def); err != nil || reqs[1].Path != "/api/data_views/default" || def.DataViewID != "ordertable-orders" || !def.Force {
				t.Errorf("default data view request %s %s: %+v (%v)", reqs[1].Method, reqs[1].Path, def, err)
			}
		})
	}
}

func TestKafkaTopicsScript(t *testing.T) {
	// A stand-in kafka-topics.sh records its arguments and the client configuration.
	bin := t.TempDir()
	log := filepath.Join(bin, "calls")
	stub := "#!/bin/sh\nprintf '%s\\n' \"$*\" >>" + log + "\n" +
		"for a in \"$@\"; do case $prev in --command-config) cp \"$a\" " + log + ".props ;; esac; prev=$a; done\n"
	if err := os.WriteFile(filepath.Join(bin, "kafka-topics.sh"), []byte(stub), 0o755); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"KAFKA_BIN": bin, "KAFKA_BOOTSTRAP": "kafka:9092", "KAFKA_PARTITIONS": "12",
		"KAFKA_SASL_USER": "ordertable", "KAFKA_SASL_PASSWORD": `kafka"pw`}
	out, err := runScript(t, "sh", "deploy/kafka/create-topics.sh", env)
	if err != nil {
		t.Fatalf("create-topics.sh: %v\n%s", err, out)
	}
	calls, _ := os.ReadFile(log)
	for _, want := range []string{
		"--create --if-not-exists --topic customers --partitions 12 --replication-factor 1 --config cleanup.policy=compact",
		"--create --if-not-exists --topic orders --partitions 12 --replication-factor 1 --config cleanup.policy=compact",
		"--create --if-not-exists --topic ordertable.dlq --partitions 1",
	} {
		if !strings.Contains(string(calls), want) {
			t.Errorf("kafka-topics.sh never called with %q; calls:\n%s", want, calls)
		}
	}
	props, _ := os.ReadFile(log + ".props")
	if !strings.Contains(string(props), `security.protocol=SASL_PLAINTEXT`) || !strings.Contains(string(props), `username="ordertable" password="kafka\"pw";`) {
		t.Errorf("client properties:\n%s", props)
	}
	if strings.Contains(out, "kafka\"pw") {
		t.Error("create-topics.sh printed the password")
	}
	env["KAFKA_PARTITIONS"] = "0"
	if out, err := runScript(t, "sh", "deploy/kafka/create-topics.sh", env); err == nil {
		t.Errorf("KAFKA_PARTITIONS=0 accepted:\n%s", out)
	}
}

// TestPostgresInitScript runs the init script against the test PostgreSQL server with unique
// database names, twice (it must be idempotent), and checks each role owns its database and
// cannot connect to the other one.
func TestPostgresInitScript(t *testing.T) {
	if testing.Short() {
		t.Skip("needs PostgreSQL; skipped with -short")
	}
	if _, err := exec.LookPath("psql"); err != nil {
		t.Fatalf("psql is needed: %v", err)
	}
	admin, err := url.Parse(testenv.AdminDatabaseURL())
	if err != nil {
		t.Fatal(err)
	}
	suffix := strings.ToLower(strings.TrimPrefix(testenv.UniqueName(""), "_"))
	names := []string{"ot_init_a_" + suffix, "ot_init_b_" + suffix}
	env := map[string]string{
		"ORDERTABLE_DATABASES": strings.Join(names, " "),
		"POSTGRES_USER":        admin.User.Username(),
		"POSTGRES_DB":          strings.TrimPrefix(admin.Path, "/"),
		"PGHOST":               admin.Hostname(),
		"PGPORT":               admin.Port(),
		"PGSSLMODE":            admin.Query().Get("sslmode"),
	}
	if pw, ok := admin.User.Password(); ok {
		env["PGPASSWORD"] = pw
	}
	for _, n := range names {
		env[strings.ToUpper(n)+"_DB_PASSWORD"] = "pw-" + n
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin.String())
	if err != nil {
		t.Fatalf("connect %s: %v (set DATABASE_URL)", admin.Redacted(), err)
	}
	defer conn.Close(ctx)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin.String())
		if err != nil {
			t.Logf("cleanup: %v", err)
			return
		}
		defer c.Close(ctx)
		for _, n := range names {
			if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{n}.Sanitize()+" WITH (FORCE)"); err != nil {
				t.Logf("cleanup: %v", err)
			}
		}
		for _, n := range names {
			if _, err := c.Exec(ctx, "DROP ROLE IF EXISTS "+pgx.Identifier{n}.Sanitize()); err != nil {
				t.Logf("cleanup: %v", err)
			}
		}
	})
	for run := 1; run <= 2; run++ {
		if out, err := runScript(t, "bash", "deploy/postgres/init-databases.sh", env); err != nil {
			t.Fatalf("run %d: init-databases.sh: %v\n%s", run, err, out)
		}
	}
	for i, n := range names {
		var owner string
		if err := conn.QueryRow(ctx, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1", n).Scan(&owner); err != nil {
			t.Fatalf("database %s: %v", n, err)
		}
		if owner != n {
			t.Errorf("database %s owned by %s, want %s", n, owner, n)
		}
		var super, createdb bool
		if err := conn.QueryRow(ctx, "SELECT rolsuper, rolcreatedb FROM pg_roles WHERE rolname = $1", n).Scan(&super, &createdb); err != nil {
			t.Fatalf("role %s: %v", n, err)
		}
		if super || createdb {
			t.Errorf("role %s: superuser %v, createdb %v; want neither", n, super, createdb)
		}
		var canOwn, canOther bool
		other := names[1-i]
		if err := conn.QueryRow(ctx, "SELECT has_database_privilege($1, $2, 'CONNECT'), has_database_privilege($1, $3, 'CONNECT')", n, n, other).Scan(&canOwn, &canOther); err != nil {
			t.Fatal(err)
		}
		if !canOwn || canOther {
			t.Errorf("role %s: CONNECT own database %v, other database %v; want true, false", n, canOwn, canOther)
		}
	}
	// A missing password stops the script.
	delete(env, strings.ToUpper(names[1])+"_DB_PASSWORD")
	if out, err := runScript(t, "bash", "deploy/postgres/init-databases.sh", env); err == nil || !strings.Contains(out, "_DB_PASSWORD is not set") {
		t.Errorf("without a password: err %v, output:\n%s", err, out)
	}
}
