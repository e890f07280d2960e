package deploy

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
)

// The services issue 7 asks for, and what each one is.
var wantServices = map[string]string{
	"elasticsearch": "infrastructure",
	"kibana":        "infrastructure",
	"kafka":         "infrastructure",
	"postgres":      "infrastructure",
	"setup":         "one-shot",
	"kibana-setup":  "provisioner",
	"kafka-setup":   "one-shot",
	"customers":     "ordertable",
	"orders":        "ordertable",
	"indexer":       "ordertable",
	"search":        "ordertable",
	"reindex":       "tool",
	"seed":          "tool",
	"verify":        "tool",
}

func TestComposeHasEveryService(t *testing.T) {
	p := loadCompose(t)
	for _, name := range sortedKeys(wantServices) {
		if _, ok := p.Services[name]; !ok {
			t.Errorf("service %s (%s) missing from docker-compose.yml", name, wantServices[name])
		}
	}
	for _, name := range sortedKeys(p.Services) {
		if _, ok := wantServices[name]; !ok {
			t.Errorf("service %s is not described by this test: add it to wantServices", name)
		}
	}
}

func TestComposeImagesArePinned(t *testing.T) {
	p := loadCompose(t)
	pinned := regexp.MustCompile(`^[a-z0-9./_-]+(:[A-Za-z0-9._-]+)?(@sha256:[0-9a-f]{64})?$`)
	for _, name := range sortedKeys(p.Services) {
		s := p.Services[name]
		if usesOrdertableImage(s) {
			if s.Build.Dockerfile != "Dockerfile" || filepath.Clean(s.Build.Context) != repoRoot(t) {
				t.Errorf("%s: build %s/%s, want the root Dockerfile", name, s.Build.Context, s.Build.Dockerfile)
			}
			continue
		}
		img := s.Image
		ref, digest, _ := strings.Cut(img, "@")
		slash := strings.LastIndex(ref, "/")
		colon := strings.LastIndex(ref, ":")
		tag := ""
		if colon > slash {
			tag = ref[colon+1:]
		}
		switch {
		case !pinned.MatchString(img):
			t.Errorf("%s: image %q is not a plain reference", name, img)
		case tag == "" && digest == "":
			t.Errorf("%s: image %q has neither tag nor digest", name, img)
		case tag == "latest" || strings.HasSuffix(tag, "-latest"):
			t.Errorf("%s: image %q uses latest", name, img)
		case !regexp.MustCompile(`\d+\.\d+`).MatchString(tag) && digest == "":
			t.Errorf("%s: image %q: tag %q names no version", name, img, tag)
		}
	}
	// Elasticsearch and Kibana must be the same 8.x release.
	es, kb := p.Services["elasticsearch"].Image, p.Services["kibana"].Image
	esTag, kbTag := es[strings.LastIndex(es, ":")+1:], kb[strings.LastIndex(kb, ":")+1:]
	if esTag != kbTag || !strings.HasPrefix(esTag, "8.") {
		t.Errorf("elasticsearch %s and kibana %s: want the same 8.x version", esTag, kbTag)
	}
}

// longRunning reports whether the service stays up after `docker compose up`: not a tool, and
// restarted or reporting health (kibana-setup idles, healthy, once its work is done).
func longRunning(s types.ServiceConfig) bool {
	return len(s.Profiles) == 0 && (s.Restart != "no" || s.HealthCheck != nil && !s.HealthCheck.Disable)
}

// TestComposeUpWaitSucceeds checks what `docker compose up --wait` needs to exit 0: every
// one-shot service that exits must be awaited by a long-running service with
// service_completed_successfully, or compose counts its exit as a failure (docker/compose#10596).
func TestComposeUpWaitSucceeds(t *testing.T) {
	p := loadCompose(t)
	for _, name := range sortedKeys(p.Services) {
		s := p.Services[name]
		if longRunning(s) || len(s.Profiles) > 0 {
			continue
		}
		adopted := false
		for _, other := range p.Services {
			if d, ok := other.DependsOn[name]; ok && longRunning(other) && d.Condition == types.ServiceConditionCompletedSuccessfully {
				adopted = true
			}
		}
		if !adopted {
			t.Errorf("one-shot %s: no long-running service waits for it with service_completed_successfully, so `docker compose up --wait` fails when it exits", name)
		}
	}
}

func TestComposeHealthchecks(t *testing.T) {
	p := loadCompose(t)
	for _, name := range sortedKeys(p.Services) {
		s := p.Services[name]
		if !longRunning(s) {
			if kind := wantServices[name]; kind != "one-shot" && kind != "tool" {
				t.Errorf("%s: restart %q / profiles %v, but it is a %s service", name, s.Restart, s.Profiles, kind)
			}
			continue
		}
		hc := s.HealthCheck
		if hc == nil || hc.Disable || len(hc.Test) < 2 || hc.Test[0] == "NONE" {
			t.Errorf("%s: no health check", name)
			continue
		}
		if hc.Interval == nil || hc.Timeout == nil || hc.Retries == nil {
			t.Errorf("%s: health check without interval, timeout and retries", name)
		}
		test := strings.Join(hc.Test[1:], " ")
		if strings.Contains(test, "sleep") {
			t.Errorf("%s: health check sleeps: %s", name, test)
		}
		if usesOrdertableImage(s) {
			// The distroless image has no shell: exec form, with the bundled probe.
			if hc.Test[0] != "CMD" || hc.Test[1] != "/usr/local/bin/probe" || !strings.HasSuffix(test, "/readyz") {
				t.Errorf("%s: health check %v, want [CMD /usr/local/bin/probe http://127.0.0.1:PORT/readyz]", name, hc.Test)
			}
			port := listenPort(s)
			if port == "" || !strings.Contains(test, "127.0.0.1:"+port+"/") {
				t.Errorf("%s: health check %q does not probe LISTEN port %q", name, test, port)
			}
		}
	}
}

func listenPort(s types.ServiceConfig) string {
	if v := s.Environment["LISTEN"]; v != nil {
		_, port, _ := strings.Cut(*v, ":")
		return port
	}
	return ""
}

// TestComposeStartOrder checks that every wait is on health or on a one-shot service's success,
// and that each component waits for what its configuration says it talks to.
func TestComposeStartOrder(t *testing.T) {
	p := loadCompose(t)
	for _, name := range sortedKeys(p.Services) {
		s := p.Services[name]
		for dep, d := range s.DependsOn {
			target, ok := p.Services[dep]
			if !ok {
				t.Errorf("%s depends on unknown service %s", name, dep)
				continue
			}
			want := types.ServiceConditionHealthy
			if !longRunning(target) {
				want = types.ServiceConditionCompletedSuccessfully
			}
			if d.Condition != want {
				t.Errorf("%s depends on %s with condition %q, want %q", name, dep, d.Condition, want)
			}
		}
	}
	// What each service needs first, read from its own configuration.
	for _, name := range sortedKeys(p.Services) {
		s := p.Services[name]
		env := func(k string) string {
			if v := s.Environment[k]; v != nil {
				return *v
			}
			return ""
		}
		var needs []string
		if strings.Contains(env("ES_URL"), "elasticsearch:") {
			needs = append(needs, "setup") // users and roles exist
		}
		if strings.Contains(env("KAFKA_BROKERS"), "kafka:") {
			needs = append(needs, "kafka-setup") // topics exist
		}
		if strings.Contains(env("DATABASE_URL"), "@postgres:") {
			needs = append(needs, "postgres")
		}
		for _, k := range []string{"CUSTOMERS_URL", "ORDERS_URL"} {
			if v := env(k); v != "" {
				needs = append(needs, strings.Split(strings.TrimPrefix(v, "http://"), ":")[0])
			}
		}
		switch name {
		case "kibana":
			needs = append(needs, "setup") // kibana_system password
		case "kibana-setup":
			needs = append(needs, "kibana")
		case "setup":
			needs = append(needs, "elasticsearch")
		case "kafka-setup":
			needs = append(needs, "kafka")
		case "search", "reindex":
			needs = append(needs, "indexer") // it creates orders_v1 and the aliases
		}
		for _, n := range needs {
			if n == name {
				continue
			}
			if !dependsOn(p, name, n, map[string]bool{}) {
				t.Errorf("%s does not wait for %s (directly or through another service)", name, n)
			}
		}
	}
}

func dependsOn(p *types.Project, from, to string, seen map[string]bool) bool {
	if seen[from] {
		return false
	}
	seen[from] = true
	for dep := range p.Services[from].DependsOn {
		if dep == to || dependsOn(p, dep, to, seen) {
			return true
		}
	}
	return false
}

// secretVar reports whether a variable name holds a secret.
func secretVar(name string) bool {
	for _, w := range []string{"PASSWORD", "SECRET", "TOKEN", "API_KEY", "ENCRYPTIONKEY", "ENCRYPTION_KEY", "JAAS"} {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

func TestComposeHasNoSecretLiterals(t *testing.T) {
	envs := rawServiceEnv(t)
	for _, svc := range sortedKeys(envs) {
		for _, k := range sortedKeys(envs[svc]) {
			v := envs[svc][k]
			secretRefs := 0
			for _, ref := range envRefs(v) {
				if secretVar(ref) {
					secretRefs++
				}
			}
			carriesSecret := secretVar(k) || strings.Contains(v, "@") && strings.Contains(v, "://")
			if carriesSecret && secretRefs == 0 && !strings.HasPrefix(v, "$$") {
				t.Errorf("%s: %s=%q: a secret must come from .env as ${..._PASSWORD/SECRET/TOKEN/KEY}", svc, k, v)
			}
		}
	}
	// A secret never has a default in the compose file: ${VAR:?message}, never ${VAR:-x}.
	text := composeWithoutComments(t)
	for _, m := range varRef.FindAllStringSubmatch(text, -1) {
		if secretVar(m[1]) && !strings.HasPrefix(m[2], ":?") {
			t.Errorf("docker-compose.yml: ${%s%s}: a secret must be required (${%s:?...}), without default", m[1], m[2], m[1])
		}
	}
	for _, pat := range []string{`(?i)password\s*[:=]\s*["']?[A-Za-z0-9]`, `changeme`, `change-me`} {
		for _, line := range strings.Split(text, "\n") {
			if regexp.MustCompile(pat).MatchString(line) && !strings.Contains(line, "${") && !strings.HasPrefix(strings.TrimSpace(line), "#") {
				t.Errorf("docker-compose.yml: literal credential? %q", strings.TrimSpace(line))
			}
		}
	}
}

// TestComposeEnvMatchesBinaryFlags checks that every variable given to an ordertable container
// is one the command it runs accepts: `ordertable <cmd> --help` names each flag's variable as
// [$NAME]. Variables of the shared contract that a command does not accept yet are reported and
// skipped; any other unknown variable fails.
func TestComposeEnvMatchesBinaryFlags(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	p := loadCompose(t)
	var gaps []string
	for _, name := range sortedKeys(p.Services) {
		s := p.Services[name]
		if !usesOrdertableImage(s) {
			continue
		}
		args := ordertableArgs(s)
		var path []string
		for _, a := range args {
			if strings.HasPrefix(a, "-") {
				break
			}
			path = append(path, a)
		}
		if len(path) == 0 {
			t.Errorf("%s: runs no ordertable subcommand (entrypoint %v, command %v)", name, s.Entrypoint, s.Command)
			continue
		}
		accepted, help := helpEnv(t, path...)
		if strings.Contains(help, "Unknown command") || !strings.Contains(help, "Usage:") {
			t.Errorf("%s: ordertable %s is not a command:\n%s", name, strings.Join(path, " "), help)
			continue
		}
		// A service whose entrypoint fixes a parent command (reindex) runs any of its
		// subcommands (`docker compose run --rm reindex run ...`): a variable is fine when one
		// of them takes it.
		if ep := entrypointArgs(s); len(ep) > 0 {
			_, parentHelp := helpEnv(t, ep...)
			for _, sub := range subcommands(parentHelp) {
				more, _ := helpEnv(t, append(slices.Clone(ep), sub)...)
				for k := range more {
					accepted[k] = true
				}
				path = ep
			}
		}
		for _, k := range sortedKeys(s.Environment) {
			switch {
			case accepted[k]:
			case contractVars[k]:
				gaps = append(gaps, fmt.Sprintf("%s: ordertable %s has no flag for %s (--%s)",
					name, strings.Join(path, " "), k, strings.ToLower(strings.ReplaceAll(k, "_", "-"))))
			default:
				t.Errorf("%s: %s is not a flag of `ordertable %s` nor of the shared contract (typo?)",
					name, k, strings.Join(path, " "))
			}
		}
	}
	if len(gaps) > 0 {
		t.Skipf("the binary still lacks flags of the shared contract, so compose passes variables nothing reads:\n  %s",
			strings.Join(gaps, "\n  "))
	}
}

// contractVars are the flags every engineer agreed on (shared conventions); a command missing
// one is a gap in the binary, not an error of docker-compose.yml.
var contractVars = map[string]bool{
	"DATABASE_URL": true, "KAFKA_BROKERS": true, "KAFKA_GROUP": true,
	"KAFKA_SASL_MECHANISM": true, "KAFKA_SASL_USER": true, "KAFKA_SASL_PASSWORD": true, "KAFKA_TLS": true,
	"ES_URL": true, "ES_USERNAME": true, "ES_PASSWORD": true, "ES_API_KEY": true,
	"LISTEN": true, "CUSTOMERS_URL": true, "ORDERS_URL": true, "AUTH_TOKEN": true,
	"CURSOR_SECRET": true, "LOG_LEVEL": true, "LOG_JSON": true,
}

func TestComposeReindexIsRunOnly(t *testing.T) {
	p := loadCompose(t)
	r := p.Services["reindex"]
	if !slices.Contains(r.Profiles, "tools") {
		t.Errorf("reindex: profiles %v, want [tools] so `docker compose up` does not start it", r.Profiles)
	}
	if r.Restart != "no" {
		t.Errorf("reindex: restart %q, want no", r.Restart)
	}
	// `docker compose run --rm reindex run --mapping mappings/orders_v2.json` replaces the
	// command: the entrypoint must end with the reindex command itself.
	if ep := []string(r.Entrypoint); len(ep) != 2 || ep[0] != "/usr/local/bin/ordertable" || ep[1] != "reindex" {
		t.Errorf("reindex: entrypoint %v, want [/usr/local/bin/ordertable reindex]", ep)
	}
	if _, err := os.Stat(filepath.Join(repoRoot(t), "mappings", "orders_v2.json")); err != nil {
		t.Errorf("mappings/orders_v2.json: %v", err)
	}
	df := string(readFile(t, "Dockerfile"))
	if !regexp.MustCompile(`(?m)^WORKDIR /app$`).MatchString(df) || !regexp.MustCompile(`(?m)^COPY mappings/\*\.json /app/mappings/$`).MatchString(df) {
		t.Error("Dockerfile: the runtime stage must have WORKDIR /app and COPY mappings/*.json /app/mappings/ so the relative --mapping path resolves")
	}
}

func TestComposeOrdertableContainersAreHardened(t *testing.T) {
	p := loadCompose(t)
	for _, name := range sortedKeys(p.Services) {
		s := p.Services[name]
		if !usesOrdertableImage(s) {
			continue
		}
		if !s.ReadOnly {
			t.Errorf("%s: read_only is off", name)
		}
		if !slices.Contains(s.CapDrop, "ALL") {
			t.Errorf("%s: cap_drop %v, want ALL", name, s.CapDrop)
		}
		if !slices.Contains(s.SecurityOpt, "no-new-privileges:true") {
			t.Errorf("%s: security_opt %v, want no-new-privileges:true", name, s.SecurityOpt)
		}
		if s.User != "" && s.User != "nonroot" && s.User != "65532" {
			t.Errorf("%s: user %q overrides the image's nonroot user", name, s.User)
		}
	}
}

func TestComposePortsOnLoopback(t *testing.T) {
	p := loadCompose(t)
	for _, name := range sortedKeys(p.Services) {
		for _, port := range p.Services[name].Ports {
			if port.HostIP != "127.0.0.1" {
				t.Errorf("%s: port %s:%d published on %q, want 127.0.0.1 (put a proxy in front to expose it)",
					name, port.Published, port.Target, port.HostIP)
			}
		}
	}
	// The conventional ports of the project.
	want := map[string]uint32{"search": 8080, "customers": 8081, "orders": 8082, "elasticsearch": 9200, "kibana": 5601}
	for svc, port := range want {
		found := false
		for _, pc := range p.Services[svc].Ports {
			found = found || pc.Target == port && pc.Published == fmt.Sprint(port)
		}
		if !found {
			t.Errorf("%s: port %d not published as %d", svc, port, port)
		}
	}
}

func TestComposeElasticsearchIsSecured(t *testing.T) {
	p := loadCompose(t)
	es := p.Services["elasticsearch"].Environment
	for k, want := range map[string]string{
		"xpack.security.enabled": "true",
		"discovery.type":         "single-node",
	} {
		if v := es[k]; v == nil || *v != want {
			t.Errorf("elasticsearch: %s=%v, want %s", k, deref(v), want)
		}
	}
	if v := deref(es["ES_JAVA_OPTS"]); !regexp.MustCompile(`-Xms(\S+) -Xmx(\S+)`).MatchString(v) {
		t.Errorf("elasticsearch: ES_JAVA_OPTS=%q, want the heap set (-Xms = -Xmx)", v)
	}
	if len(p.Services["elasticsearch"].Volumes) == 0 {
		t.Error("elasticsearch: no data volume")
	}
	kb := p.Services["kibana"].Environment
	if deref(kb["ELASTICSEARCH_USERNAME"]) != "kibana_system" {
		t.Errorf("kibana: ELASTICSEARCH_USERNAME=%q, want kibana_system", deref(kb["ELASTICSEARCH_USERNAME"]))
	}
	// Each component logs in as its own user, never as elastic.
	users := map[string]string{"search": "ordertable_search", "indexer": "ordertable_indexer", "reindex": "ordertable_reindex"}
	for svc, user := range users {
		if got := deref(p.Services[svc].Environment["ES_USERNAME"]); got != user {
			t.Errorf("%s: ES_USERNAME=%q, want %s", svc, got, user)
		}
	}
	for _, name := range sortedKeys(p.Services) {
		if name == "elasticsearch" || name == "setup" || name == "kibana-setup" {
			continue
		}
		if _, ok := p.Services[name].Environment["ELASTIC_PASSWORD"]; ok {
			t.Errorf("%s: has the elastic superuser password", name)
		}
	}
}

func TestComposeKafkaIsKRaftWithSASL(t *testing.T) {
	p := loadCompose(t)
	k := p.Services["kafka"].Environment
	if v := deref(k["KAFKA_PROCESS_ROLES"]); v != "broker,controller" {
		t.Errorf("kafka: KAFKA_PROCESS_ROLES=%q, want broker,controller (KRaft, one node)", v)
	}
	if v := deref(k["KAFKA_ZOOKEEPER_CONNECT"]); v != "" {
		t.Errorf("kafka: ZooKeeper configured: %q", v)
	}
	id := deref(k["CLUSTER_ID"])
	if b, err := base64.RawURLEncoding.DecodeString(id); err != nil || len(b) != 16 {
		t.Errorf("kafka: CLUSTER_ID %q is not a base64url 16-byte id (%v)", id, err)
	}
	protocols := map[string]string{}
	for _, kv := range strings.Split(deref(k["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"]), ",") {
		l, proto, _ := strings.Cut(kv, ":")
		protocols[l] = proto
	}
	// Every listener reachable from outside the container authenticates.
	for _, l := range strings.Split(deref(k["KAFKA_LISTENERS"]), ",") {
		lname, addr, _ := strings.Cut(l, "://")
		local := strings.HasPrefix(addr, "127.0.0.1:") || strings.HasPrefix(addr, "localhost:")
		if !local && protocols[lname] != "SASL_PLAINTEXT" && protocols[lname] != "SASL_SSL" {
			t.Errorf("kafka: listener %s on %q uses %s, want SASL", lname, addr, protocols[lname])
		}
		if strings.HasPrefix(protocols[lname], "SASL") {
			jaas := "KAFKA_LISTENER_NAME_" + lname + "_PLAIN_SASL_JAAS_CONFIG"
			if v := deref(k[jaas]); !strings.Contains(v, "PlainLoginModule required user_") {
				t.Errorf("kafka: listener %s has no JAAS users (%s=%q)", lname, jaas, v)
			}
		}
	}
	// KRaft wiring: what the broker would refuse at start.
	parse := func(v string) map[string]string {
		out := map[string]string{}
		for _, l := range strings.Split(v, ",") {
			name, addr, _ := strings.Cut(l, "://")
			out[name] = addr
		}
		return out
	}
	listeners, advertised := parse(deref(k["KAFKA_LISTENERS"])), parse(deref(k["KAFKA_ADVERTISED_LISTENERS"]))
	port := func(addr string) string { return addr[strings.LastIndex(addr, ":")+1:] }
	controller := deref(k["KAFKA_CONTROLLER_LISTENER_NAMES"])
	if _, ok := listeners[controller]; !ok {
		t.Errorf("kafka: controller listener %s is not in KAFKA_LISTENERS", controller)
	}
	if _, ok := advertised[controller]; ok {
		t.Errorf("kafka: controller listener %s must not be advertised", controller)
	}
	if ib := deref(k["KAFKA_INTER_BROKER_LISTENER_NAME"]); advertised[ib] == "" {
		t.Errorf("kafka: inter-broker listener %q is not advertised", ib)
	}
	for name, addr := range advertised {
		if l, ok := listeners[name]; !ok || port(l) != port(addr) {
			t.Errorf("kafka: advertised %s://%s has no listener on that port", name, addr)
		}
	}
	for name := range listeners {
		if protocols[name] == "" {
			t.Errorf("kafka: listener %s has no security protocol", name)
		}
	}
	voter := deref(k["KAFKA_CONTROLLER_QUORUM_VOTERS"])
	if id, addr, _ := strings.Cut(voter, "@"); id != deref(k["KAFKA_NODE_ID"]) || port(addr) != port(listeners[controller]) {
		t.Errorf("kafka: quorum voters %q do not name node %s on the controller port", voter, deref(k["KAFKA_NODE_ID"]))
	}
	for key := range k {
		if rest, ok := strings.CutPrefix(key, "KAFKA_LISTENER_NAME_"); ok {
			if l, _, _ := strings.Cut(rest, "_"); listeners[l] == "" {
				t.Errorf("kafka: %s configures listener %s, which does not exist", key, l)
			}
		}
	}
	if !strings.Contains(deref(k["KAFKA_SASL_ENABLED_MECHANISMS"]), "PLAIN") {
		t.Error("kafka: PLAIN is not in KAFKA_SASL_ENABLED_MECHANISMS (the default is GSSAPI)")
	}
	mounted := false
	for _, v := range p.Services["kafka"].Volumes {
		mounted = mounted || v.Target == deref(k["KAFKA_LOG_DIRS"])
	}
	if !mounted {
		t.Errorf("kafka: KAFKA_LOG_DIRS %s is not on a volume", deref(k["KAFKA_LOG_DIRS"]))
	}
	for _, name := range []string{"customers", "orders", "indexer", "reindex"} {
		e := p.Services[name].Environment
		if deref(e["KAFKA_SASL_MECHANISM"]) != "PLAIN" || deref(e["KAFKA_SASL_USER"]) == "" || deref(e["KAFKA_SASL_PASSWORD"]) == "" {
			t.Errorf("%s: Kafka SASL settings missing", name)
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// TestEnvExample checks .env.example against docker-compose.yml: every variable the compose
// file reads is documented there, nothing stale, secrets are placeholders that still work.
func TestEnvExample(t *testing.T) {
	example := parseEnvFile(t, ".env.example")
	text := composeWithoutComments(t)
	used := map[string]string{}
	for _, m := range varRef.FindAllStringSubmatch(text, -1) {
		used[m[1]] = m[2]
	}
	for _, name := range sortedKeys(used) {
		if _, ok := example[name]; !ok {
			t.Errorf(".env.example lacks %s (used by docker-compose.yml)", name)
		}
		// The pinned defaults in the compose file and .env.example agree.
		if def, ok := strings.CutPrefix(used[name], ":-"); ok && example[name] != def {
			t.Errorf("%s: .env.example says %q, docker-compose.yml defaults to %q", name, example[name], def)
		}
	}
	for _, name := range sortedKeys(example) {
		if _, ok := used[name]; !ok {
			t.Errorf(".env.example sets %s, which docker-compose.yml never reads", name)
		}
		v := example[name]
		if !secretVar(name) {
			continue
		}
		if !strings.Contains(v, "change-me") {
			t.Errorf(".env.example: %s must be an obvious placeholder (change-me...), got %q", name, v)
		}
		if len(v) < 6 {
			t.Errorf(".env.example: %s is shorter than Elasticsearch's 6-character minimum", name)
		}
		if !regexp.MustCompile(`^[A-Za-z0-9._~-]+$`).MatchString(v) {
			t.Errorf(".env.example: %s=%q has characters that need escaping in a URL", name, v)
		}
	}
	if len(example["KIBANA_ENCRYPTION_KEY"]) < 32 {
		t.Error(".env.example: KIBANA_ENCRYPTION_KEY must be at least 32 characters")
	}
	if r, n := example["INDEXER_REPLICAS"], example["KAFKA_PARTITIONS"]; len(r) > len(n) || len(r) == len(n) && r > n {
		t.Errorf(".env.example: INDEXER_REPLICAS=%s above KAFKA_PARTITIONS=%s", r, n)
	}
	if len(example["CURSOR_SECRET"]) < 16 {
		t.Error(".env.example: CURSOR_SECRET must be at least 16 bytes (search --cursor-secret)")
	}
	gitignore := string(readFile(t, ".gitignore"))
	if !regexp.MustCompile(`(?m)^/?\.env$`).MatchString(gitignore) {
		t.Error(".gitignore does not ignore .env")
	}
}

// composeWithoutComments is docker-compose.yml without its comment lines.
func composeWithoutComments(t testing.TB) string {
	var b strings.Builder
	for _, line := range strings.Split(string(readFile(t, "docker-compose.yml")), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

func parseEnvFile(t testing.TB, rel string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for i, line := range strings.Split(string(readFile(t, rel)), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || !regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`).MatchString(k) {
			t.Errorf("%s:%d: not NAME=value: %q", rel, i+1, line)
			continue
		}
		if _, dup := out[k]; dup {
			t.Errorf("%s:%d: %s set twice", rel, i+1, k)
		}
		out[k] = v
	}
	return out
}
