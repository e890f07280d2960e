package deploy

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

// repoRoot is the module root: the files under test live there.
func repoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test file")
	}
	return filepath.Dir(filepath.Dir(file))
}

func readFile(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), rel))
	if err != nil {
		t.Fatalf("read %s: %v", rel, err)
	}
	return b
}

// loadCompose loads docker-compose.yml the way `docker compose` does with .env.example as .env
// and every profile active, so run-only services are included.
func loadCompose(t testing.TB) *types.Project {
	t.Helper()
	root := repoRoot(t)
	opts, err := cli.NewProjectOptions(
		[]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root),
		cli.WithEnvFiles(filepath.Join(root, ".env.example")),
		cli.WithDotEnv,
		cli.WithProfiles([]string{"*"}),
	)
	if err != nil {
		t.Fatalf("compose options: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := opts.LoadProject(ctx)
	if err != nil {
		t.Fatalf("load docker-compose.yml with .env.example: %v", err)
	}
	return p
}

// loadRawCompose loads docker-compose.yml without interpolation: values as written, with their
// ${VAR} references.
func loadRawCompose(t testing.TB) map[string]any {
	t.Helper()
	root := repoRoot(t)
	opts, err := cli.NewProjectOptions(
		[]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root),
		cli.WithInterpolation(false),
		cli.WithProfiles([]string{"*"}),
		cli.WithName("ordertable"),
	)
	if err != nil {
		t.Fatalf("compose options: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := opts.LoadModel(ctx)
	if err != nil {
		t.Fatalf("load raw docker-compose.yml: %v", err)
	}
	return m
}

// rawServiceEnv returns service -> variable -> value as written in docker-compose.yml.
func rawServiceEnv(t testing.TB) map[string]map[string]string {
	t.Helper()
	services, _ := loadRawCompose(t)["services"].(map[string]any)
	out := map[string]map[string]string{}
	for name, s := range services {
		svc, _ := s.(map[string]any)
		env := map[string]string{}
		switch e := svc["environment"].(type) {
		case map[string]any:
			for k, v := range e {
				env[k] = fmt.Sprint(v)
			}
		case []any:
			for _, kv := range e {
				k, v, _ := strings.Cut(fmt.Sprint(kv), "=")
				env[k] = v
			}
		}
		out[name] = env
	}
	return out
}

// usesOrdertableImage reports whether the service runs our image (built from ./Dockerfile).
func usesOrdertableImage(s types.ServiceConfig) bool { return s.Build != nil }

// ordertableArgs is the ordertable command line a service runs: entrypoint (minus the binary)
// plus command.
func ordertableArgs(s types.ServiceConfig) []string {
	return append(entrypointArgs(s), s.Command...)
}

// entrypointArgs is the ordertable arguments a service's entrypoint fixes (after the binary).
func entrypointArgs(s types.ServiceConfig) []string {
	if ep := []string(s.Entrypoint); len(ep) > 0 && strings.HasSuffix(ep[0], "/ordertable") {
		return slices.Clone(ep[1:])
	}
	return nil
}

// binary builds cmd/ordertable once per test run, with the default settings of `go test`, so
// the build cache of the other packages' tests serves it (the static build of the Dockerfile is
// checked without compiling, in TestStaticBuildPossible).
var binary struct {
	once sync.Once
	path string
	err  error
}

func ordertableBinary(t testing.TB) string {
	t.Helper()
	binary.once.Do(func() {
		dir, err := os.MkdirTemp("", "ordertable-deploy-test")
		if err != nil {
			binary.err = err
			return
		}
		binary.path = filepath.Join(dir, "ordertable")
		ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", "build", "-o", binary.path, "./cmd/ordertable")
		cmd.Dir = repoRoot(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			binary.err = fmt.Errorf("go build ./cmd/ordertable: %v\n%s", err, out)
		}
	})
	if binary.err != nil {
		t.Fatal(binary.err)
	}
	return binary.path
}

var envTag = regexp.MustCompile(`\[\$([A-Z][A-Z0-9_]*)\]`)

// helpEnv runs `ordertable ARGS... --help` and returns the environment variables its flags
// name as [$VAR], and the help text.
func helpEnv(t testing.TB, args ...string) (map[string]bool, string) {
	t.Helper()
	bin := ordertableBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append(append([]string{}, args...), "--help")...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Env = []string{"HOME=" + t.TempDir()}
	if err := cmd.Run(); err != nil {
		t.Fatalf("ordertable %s --help: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	env := map[string]bool{}
	for _, m := range envTag.FindAllStringSubmatch(out.String(), -1) {
		env[m[1]] = true
	}
	return env, out.String()
}

// subcommands lists the subcommands in a cobra help text ("Available Commands:" section).
func subcommands(help string) []string {
	_, rest, ok := strings.Cut(help, "Available Commands:")
	if !ok {
		return nil
	}
	var names []string
	for _, line := range strings.Split(rest, "\n")[1:] {
		if strings.TrimSpace(line) == "" {
			break
		}
		name := strings.Fields(line)[0]
		if name != "help" && name != "completion" {
			names = append(names, name)
		}
	}
	return names
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// envRefs returns the variables referenced as ${NAME...} in s.
func envRefs(s string) []string {
	var names []string
	for _, m := range varRef.FindAllStringSubmatch(s, -1) {
		names = append(names, m[1])
	}
	return names
}

// varRef matches ${NAME}, ${NAME:-default}, ${NAME:?message} and friends (not $${...}).
var varRef = regexp.MustCompile(`(?:^|[^$])\$\{([A-Za-z_][A-Za-z0-9_]*)((?::?[-?+])[^}]*)?\}`)
