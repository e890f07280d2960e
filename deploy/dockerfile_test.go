package deploy

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// dockerInstruction is one instruction of the Dockerfile, continuation lines joined.
type dockerInstruction struct {
	Line  int
	Cmd   string // upper case
	Args  string
	Stage int // index of the FROM it belongs to
}

func parseDockerfile(t testing.TB) []dockerInstruction {
	t.Helper()
	var out []dockerInstruction
	stage := -1
	var cur strings.Builder
	start := 0
	for i, line := range strings.Split(string(readFile(t, "Dockerfile")), "\n") {
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if strings.HasPrefix(trimmed, "#") {
			continue // comment inside a continued instruction
		}
		if body, ok := strings.CutSuffix(trimmed, `\`); ok {
			cur.WriteString(body + " ")
			continue
		}
		cur.WriteString(trimmed)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		cmd = strings.ToUpper(cmd)
		if cmd == "FROM" {
			stage++
		}
		out = append(out, dockerInstruction{Line: start, Cmd: cmd, Args: strings.TrimSpace(args), Stage: stage})
		cur.Reset()
	}
	return out
}

func TestDockerfile(t *testing.T) {
	ins := parseDockerfile(t)
	var froms []dockerInstruction
	for _, in := range ins {
		if in.Cmd == "FROM" {
			froms = append(froms, in)
		}
		if strings.Contains(in.Args, ":latest") {
			t.Errorf("Dockerfile:%d: uses latest: %s %s", in.Line, in.Cmd, in.Args)
		}
		if (in.Cmd == "ARG" || in.Cmd == "ENV") && secretVar(strings.ToUpper(in.Args)) {
			t.Errorf("Dockerfile:%d: a secret baked into the image: %s %s", in.Line, in.Cmd, in.Args)
		}
	}
	if len(froms) < 2 {
		t.Fatalf("Dockerfile has %d stages, want a multi-stage build", len(froms))
	}
	// Build stage: the Go release go.mod asks for.
	gomod := string(readFile(t, "go.mod"))
	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindStringSubmatch(gomod)[1]
	if !slices.ContainsFunc(ins, func(in dockerInstruction) bool {
		return in.Cmd == "ARG" && in.Args == "GO_VERSION="+goVersion
	}) || !strings.Contains(froms[0].Args, "golang:${GO_VERSION}") {
		t.Errorf("build stage %q: want golang:${GO_VERSION} with ARG GO_VERSION=%s (go.mod)", froms[0].Args, goVersion)
	}
	var build, runtime []dockerInstruction
	for _, in := range ins {
		switch in.Stage {
		case 0:
			build = append(build, in)
		case len(froms) - 1:
			runtime = append(runtime, in)
		}
	}
	buildText := ""
	for _, in := range build {
		if in.Cmd == "RUN" {
			buildText += in.Args + "\n"
		}
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", `-ldflags="-s -w"`, "./cmd/ordertable", "./deploy/probe"} {
		if !strings.Contains(buildText, want) {
			t.Errorf("build stage RUN lacks %s", want)
		}
	}
	// Runtime stage: distroless static, non-root, the binaries where compose calls them.
	final := froms[len(froms)-1].Args
	if !strings.HasPrefix(final, "gcr.io/distroless/static") || !strings.HasSuffix(final, ":nonroot") {
		t.Errorf("runtime stage FROM %s, want gcr.io/distroless/static...:nonroot", final)
	}
	has := func(cmd, args string) bool {
		return slices.ContainsFunc(runtime, func(in dockerInstruction) bool { return in.Cmd == cmd && in.Args == args })
	}
	for _, want := range []struct{ cmd, args string }{
		{"USER", "nonroot:nonroot"},
		{"ENTRYPOINT", `["/usr/local/bin/ordertable"]`},
		{"COPY", "--from=build /out/ordertable /usr/local/bin/ordertable"},
		{"COPY", "--from=build /out/probe /usr/local/bin/probe"},
		{"COPY", "mappings/*.json /app/mappings/"},
		{"WORKDIR", "/app"},
	} {
		if !has(want.cmd, want.args) {
			t.Errorf("runtime stage lacks %s %s", want.cmd, want.args)
		}
	}
	for _, in := range runtime {
		if in.Cmd == "RUN" {
			t.Errorf("Dockerfile:%d: RUN in the distroless stage (it has no shell)", in.Line)
		}
	}
}

// TestStaticBuildPossible checks, without compiling, that every package of the image's binaries
// builds with CGO_ENABLED=0 for linux, as the Dockerfile builds them.
func TestStaticBuildPossible(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "list", "-e", "-deps",
		"-f", `{{if .Error}}{{.ImportPath}}: {{.Error}}{{"\n"}}{{end}}{{if .CgoFiles}}{{.ImportPath}}: cgo files {{.CgoFiles}}{{"\n"}}{{end}}`,
		"./cmd/ordertable", "./deploy/probe")
	cmd.Dir = repoRoot(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	if s := strings.TrimSpace(string(out)); s != "" {
		t.Errorf("with CGO_ENABLED=0 these packages do not build:\n%s", s)
	}
}

// dockerignore is the exclusion list of .dockerignore, with Docker's semantics: the last
// matching pattern wins, "!" re-includes, a pattern matching a directory excludes its content.
type dockerignore []struct {
	re     *regexp.Regexp
	negate bool
}

func parseDockerignore(t testing.TB) dockerignore {
	t.Helper()
	var out dockerignore
	for _, line := range strings.Split(string(readFile(t, ".dockerignore")), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		negate := strings.HasPrefix(line, "!")
		p := path.Clean(strings.TrimPrefix(strings.TrimPrefix(line, "!"), "/"))
		var re strings.Builder
		re.WriteString("^")
		for i := 0; i < len(p); i++ {
			switch {
			case strings.HasPrefix(p[i:], "**/"):
				re.WriteString("(.*/)?")
				i += 2
			case strings.HasPrefix(p[i:], "**"):
				re.WriteString(".*")
				i++
			case p[i] == '*':
				re.WriteString("[^/]*")
			case p[i] == '?':
				re.WriteString("[^/]")
			default:
				re.WriteString(regexp.QuoteMeta(string(p[i])))
			}
		}
		re.WriteString("$")
		out = append(out, struct {
			re     *regexp.Regexp
			negate bool
		}{regexp.MustCompile(re.String()), negate})
	}
	return out
}

func (d dockerignore) excluded(file string) bool {
	ex := false
	for _, p := range d {
		// The pattern matches the file or one of its parent directories.
		for dir := file; dir != "." && dir != "/"; dir = path.Dir(dir) {
			if p.re.MatchString(dir) {
				ex = !p.negate
				break
			}
		}
	}
	return ex
}

func TestDockerignore(t *testing.T) {
	ig := parseDockerignore(t)
	for _, f := range []string{".git/config", ".env", ".env.local", "bin/ordertable", "internal/x/testdata/fuzz/FuzzX/1"} {
		if !ig.excluded(f) {
			t.Errorf(".dockerignore lets %s into the build context", f)
		}
	}
	need := []string{"go.mod", "go.sum", "cmd/ordertable/main.go", "deploy/probe/main.go",
		"mappings/orders_v1.json", "mappings/orders_v2.json", ".env.example"}
	// Files the binaries embed must reach the build stage too.
	root := repoRoot(t)
	embed := regexp.MustCompile(`(?m)^//go:embed (.+)$`)
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range embed.FindAllStringSubmatch(string(src), -1) {
			for _, pat := range strings.Fields(m[1]) {
				pat = strings.Trim(pat, "`\"")
				pat = strings.TrimPrefix(pat, "all:")
				matches, _ := filepath.Glob(filepath.Join(filepath.Dir(p), pat))
				for _, match := range matches {
					_ = filepath.WalkDir(match, func(q string, d fs.DirEntry, err error) error {
						if err == nil && !d.IsDir() {
							r, _ := filepath.Rel(root, q)
							need = append(need, filepath.ToSlash(r))
						}
						return nil
					})
				}
			}
		}
		return nil
	})
	for _, f := range need {
		if ig.excluded(f) {
			t.Errorf(".dockerignore excludes %s, which the image build needs", f)
		}
	}
}
