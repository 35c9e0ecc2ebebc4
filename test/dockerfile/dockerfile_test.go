// Package dockerfile checks the repository's Dockerfile without a Docker
// engine: the two published targets exist, every COPY --from names an
// earlier stage, the build paths exist, and both images run as a numeric
// non-root user (so Kubernetes' runAsNonRoot can verify it).
package dockerfile

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

type stage struct {
	name         string
	base         string
	instructions []string // joined continuation lines, comments removed
}

// parse splits a Dockerfile into stages. It handles line continuations and
// comments, which is all our Dockerfile uses.
func parse(t *testing.T, path string) []stage {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer f.Close()
	var (
		stages []stage
		buf    strings.Builder
	)
	flush := func() {
		line := strings.TrimSpace(buf.String())
		buf.Reset()
		if line == "" {
			return
		}
		fields := strings.Fields(line)
		if strings.EqualFold(fields[0], "FROM") {
			s := stage{}
			args := fields[1:]
			for len(args) > 0 && strings.HasPrefix(args[0], "--") {
				args = args[1:]
			}
			if len(args) > 0 {
				s.base = args[0]
			}
			if len(args) == 3 && strings.EqualFold(args[1], "AS") {
				s.name = args[2]
			}
			stages = append(stages, s)
			return
		}
		if len(stages) > 0 {
			stages[len(stages)-1].instructions = append(stages[len(stages)-1].instructions, line)
		}
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			buf.WriteString(strings.TrimSuffix(line, "\\"))
			buf.WriteString(" ")
			continue
		}
		buf.WriteString(line)
		flush()
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	flush()
	return stages
}

func lastInstruction(s stage, keyword string) string {
	out := ""
	for _, in := range s.instructions {
		if f := strings.Fields(in); strings.EqualFold(f[0], keyword) {
			out = strings.TrimSpace(in[len(f[0]):])
		}
	}
	return out
}

func TestDockerfileTargets(t *testing.T) {
	root := filepath.Join("..", "..")
	stages := parse(t, filepath.Join(root, "Dockerfile"))
	byName := map[string]stage{}
	for i, s := range stages {
		if s.name == "" {
			t.Errorf("stage %d (FROM %s) has no name", i, s.base)
		}
		// Every COPY --from must name a stage defined earlier.
		for _, in := range s.instructions {
			m := regexp.MustCompile(`^COPY\s+.*--from=(\S+)`).FindStringSubmatch(in)
			if m == nil {
				continue
			}
			if _, ok := byName[m[1]]; !ok {
				t.Errorf("stage %q copies from %q, which is not an earlier stage", s.name, m[1])
			}
		}
		byName[s.name] = s
	}

	tests := []struct {
		target     string
		base       string
		entrypoint string
	}{
		{"operator", "gcr.io/distroless/static-debian12:nonroot", `["/manager"]`},
		{"app", "debian:bookworm-slim", `["/usr/local/bin/contract-lucidity"]`},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			s, ok := byName[tt.target]
			if !ok {
				t.Fatalf("no stage named %q", tt.target)
			}
			if tag, _, _ := strings.Cut(s.base, "@"); tag != tt.base {
				t.Errorf("base image = %q, want %q (optionally pinned @sha256:...)", s.base, tt.base)
			}
			if got := lastInstruction(s, "USER"); got != "65532:65532" {
				t.Errorf("USER = %q, want the numeric non-root 65532:65532", got)
			}
			if got := lastInstruction(s, "ENTRYPOINT"); got != tt.entrypoint {
				t.Errorf("ENTRYPOINT = %q, want %q", got, tt.entrypoint)
			}
		})
	}

	// A base image is a tag, or a tag pinned to a full digest that
	// `make pin-images` resolved; never a digest alone or a partial one.
	for _, s := range stages {
		if _, isStage := byName[s.base]; isStage || s.base == "scratch" {
			continue
		}
		tag, digest, pinned := strings.Cut(s.base, "@")
		if !strings.Contains(tag, ":") {
			t.Errorf("stage %q: base %q has no tag (Renovate and readers need one)", s.name, s.base)
		}
		if pinned && !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(digest) {
			t.Errorf("stage %q: base %q: malformed digest", s.name, s.base)
		}
	}

	// The app image carries the tools the worker shells out to.
	run := strings.Join(byName["app"].instructions, "\n")
	for _, pkg := range []string{"poppler-utils", "tesseract-ocr", "tesseract-ocr-eng", "ca-certificates"} {
		if !regexp.MustCompile(`\s` + regexp.QuoteMeta(pkg) + `\s`).MatchString(run) {
			t.Errorf("app stage does not install %s", pkg)
		}
	}

	// The build commands point at packages that exist.
	for _, p := range []string{"main.go", "services/cmd/contract-lucidity", "go.mod", "go.sum"} {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			t.Errorf("Dockerfile builds from %s: %v", p, err)
		}
	}
}

// The build context must keep the Go sources: .dockerignore may not exclude
// anything the two go build commands read.
func TestDockerignoreKeepsSources(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		switch strings.TrimPrefix(line, "/") {
		case "api", "controllers", "services", "internal", "pkg", "main.go", "go.mod", "go.sum", "*.go", "**/*.go":
			t.Errorf(".dockerignore excludes %q, which the image build needs", line)
		}
	}
}
