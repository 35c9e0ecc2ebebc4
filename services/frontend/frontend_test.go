package frontend

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/contract-lucidity/contract-lucidity/services/internal/config"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newFrontend starts the frontend in front of upstream on a real loopback port.
func newFrontend(t *testing.T, upstream http.Handler, production bool, maxUpload int64) (*httptest.Server, *Server) {
	t.Helper()
	backend := httptest.NewServer(upstream)
	t.Cleanup(backend.Close)
	u, _ := url.Parse(backend.URL)
	s, err := New(Config{BackendURL: u, Production: production, MaxUploadBytes: maxUpload, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	fe := httptest.NewServer(s)
	t.Cleanup(fe.Close)
	return fe, s
}

func get(t *testing.T, rawURL string, hdr map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	// A transport without automatic gzip so the test sees what was sent.
	resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func readAll(t *testing.T, r io.Reader) []byte {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestProxyStreamsUploadWithoutBuffering(t *testing.T) {
	const chunk = 1 << 20
	const chunks = 16
	firstChunkSeen := make(chan struct{})
	type result struct {
		n    int64
		sum  [32]byte
		xff  string
		path string
	}
	got := make(chan result, 1)
	upstream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		buf := make([]byte, chunk)
		if _, err := io.ReadFull(r.Body, buf); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		h.Write(buf)
		close(firstChunkSeen)
		n, _ := io.Copy(h, r.Body)
		var sum [32]byte
		copy(sum[:], h.Sum(nil))
		got <- result{n: n + chunk, sum: sum, xff: r.Header.Get("X-Forwarded-For"), path: r.URL.Path}
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"id":"d1"}`))
	})
	fe, _ := newFrontend(t, upstream, false, 0)

	pr, pw := io.Pipe()
	want := sha256.New()
	sendErr := make(chan error, 1)
	go func() {
		block := bytes.Repeat([]byte("contract "), chunk/9+1)[:chunk]
		// First megabyte, then wait until the backend has seen it: a proxy
		// that buffered the body would never forward it before the end.
		if _, err := pw.Write(block); err != nil {
			sendErr <- err
			return
		}
		want.Write(block)
		select {
		case <-firstChunkSeen:
		case <-time.After(60 * time.Second):
			pw.CloseWithError(io.ErrUnexpectedEOF)
			sendErr <- errTimeout
			return
		}
		for i := 1; i < chunks; i++ {
			block[0] = byte(i)
			if _, err := pw.Write(block); err != nil {
				sendErr <- err
				return
			}
			want.Write(block)
		}
		sendErr <- pw.Close()
	}()
	req, _ := http.NewRequest(http.MethodPost, fe.URL+"/api/documents", pr)
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("X-Forwarded-For", "203.0.113.7")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := <-sendErr; err != nil {
		t.Fatalf("sending the body: %v (the proxy did not stream the upload)", err)
	}
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status %d: %s", resp.StatusCode, readAll(t, resp.Body))
	}
	r := <-got
	if r.n != chunk*chunks {
		t.Fatalf("backend received %d bytes, want %d", r.n, chunk*chunks)
	}
	var wantSum [32]byte
	copy(wantSum[:], want.Sum(nil))
	if r.sum != wantSum {
		t.Fatal("backend received different bytes than were sent")
	}
	if r.path != "/api/documents" {
		t.Fatalf("backend path %q", r.path)
	}
	if r.xff != "203.0.113.7, 127.0.0.1" {
		t.Fatalf("X-Forwarded-For = %q, want the ingress chain plus the peer", r.xff)
	}
	if resp.Header.Get("Content-Security-Policy") == "" {
		t.Fatal("proxied response lacks the CSP header")
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string { return "backend did not see the first chunk before the body ended" }

var errTimeout = timeoutErr{}

func TestProxyStreamsResponsesAsTheyArrive(t *testing.T) {
	release := make(chan struct{})
	upstream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("first\n"))
		w.(http.Flusher).Flush()
		<-release
		_, _ = w.Write([]byte("second\n"))
	})
	fe, _ := newFrontend(t, upstream, false, 0)
	resp := get(t, fe.URL+"/api/stream", nil)
	line := make([]byte, 6)
	done := make(chan error, 1)
	go func() { _, err := io.ReadFull(resp.Body, line); done <- err }()
	select {
	case err := <-done:
		if err != nil || string(line) != "first\n" {
			t.Fatalf("got %q, %v", line, err)
		}
	case <-time.After(60 * time.Second):
		close(release)
		t.Fatal("the first part of the response was held back by the proxy")
	}
	close(release)
	if rest := readAll(t, resp.Body); string(rest) != "second\n" {
		t.Fatalf("rest %q", rest)
	}
}

// Server-sent events (the live progress stream) pass through event by
// event, with the headers that keep other proxies from buffering them.
func TestProxyStreamsServerSentEvents(t *testing.T) {
	next := make(chan struct{})
	upstream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer t" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("X-Accel-Buffering", "no")
		for _, ev := range []string{"ready", "document"} {
			_, _ = fmt.Fprintf(w, "event: %s\ndata: {}\n\n", ev)
			w.(http.Flusher).Flush()
			select {
			case <-next:
			case <-r.Context().Done():
				return
			}
		}
	})
	fe, _ := newFrontend(t, upstream, false, 0)
	resp := get(t, fe.URL+"/api/projects/x/events", map[string]string{"Authorization": "Bearer t"})
	defer resp.Body.Close()
	if resp.Header.Get("Content-Type") != "text/event-stream" || resp.Header.Get("X-Accel-Buffering") != "no" || resp.ContentLength != -1 {
		t.Fatalf("headers %v, length %d", resp.Header, resp.ContentLength)
	}
	br := bufio.NewReader(resp.Body)
	for _, want := range []string{"ready", "document"} {
		got := make(chan string, 1)
		go func() { l, _ := br.ReadString('\n'); _, _ = br.ReadString('\n'); _, _ = br.ReadString('\n'); got <- l }()
		select {
		case l := <-got:
			if l != "event: "+want+"\n" {
				t.Fatalf("got %q, want the %s event", l, want)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("the %s event was held back by the proxy", want)
		}
		next <- struct{}{}
	}
}

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	upstream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The backend's own copies must not be duplicated.
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "same-origin")
		switch r.URL.Path {
		case "/healthz":
			_, _ = w.Write([]byte("ok"))
		case "/api/missing":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"detail":"not found"}`))
		default:
			_, _ = w.Write([]byte(`{}`))
		}
	})
	for _, production := range []bool{false, true} {
		fe, s := newFrontend(t, upstream, production, 0)
		paths := []string{"/", "/login", "/projects/123", "/admin/users", "/assets/" + s.assets.version + "/js/main.js",
			"/assets/old/css/app.css", "/assets/x/nope.js", "/healthz", "/readyz", "/api/projects", "/api/missing", "/nope.txt"}
		for _, p := range paths {
			resp := get(t, fe.URL+p, nil)
			h := resp.Header
			if got := h.Values("Content-Security-Policy"); len(got) != 1 || got[0] != ContentSecurityPolicy {
				t.Errorf("%s: CSP = %q", p, got)
			}
			for _, name := range []string{"X-Content-Type-Options", "Referrer-Policy", "X-Frame-Options"} {
				if len(h.Values(name)) != 1 {
					t.Errorf("%s: %s = %q, want exactly one", p, name, h.Values(name))
				}
			}
			if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" {
				t.Errorf("%s: nosniff/referrer headers wrong: %v", p, h)
			}
			if hs := h.Get("Strict-Transport-Security"); production != (hs != "") {
				t.Errorf("%s: production=%v but HSTS=%q", p, production, hs)
			}
		}
	}
}

func TestCSPForbidsInlineScriptsAndFraming(t *testing.T) {
	directives := map[string]string{}
	for _, d := range strings.Split(ContentSecurityPolicy, ";") {
		name, val, _ := strings.Cut(strings.TrimSpace(d), " ")
		directives[name] = val
	}
	want := map[string]string{
		"script-src": "'self'", "style-src": "'self'", "connect-src": "'self'", "frame-ancestors": "'none'",
		"base-uri": "'none'", "form-action": "'self'", "object-src": "'none'", "img-src": "'self' data: blob:",
	}
	for k, v := range want {
		if directives[k] != v {
			t.Errorf("%s = %q, want %q", k, directives[k], v)
		}
	}
	if strings.Contains(ContentSecurityPolicy, "unsafe") {
		t.Error("the CSP allows unsafe-*")
	}
}

// The CSP blocks inline scripts, inline event handlers and style attributes:
// the embedded UI must not rely on any of them.
func TestEmbeddedUIHasNoInlineScriptOrStyle(t *testing.T) {
	inlineScript := regexp.MustCompile(`(?is)<script\b([^>]*)>(.*?)</script>`)
	eventAttr := regexp.MustCompile(`(?i)<[^>]+\son[a-z]+\s*=`)
	styleAttr := regexp.MustCompile(`(?i)<[^>]+\sstyle\s*=`)
	styleTag := regexp.MustCompile(`(?i)<style\b`)
	jsURL := regexp.MustCompile(`(?i)javascript:`)
	// In JS: no HTML injection sinks, no string evaluation, no style attributes.
	jsForbidden := regexp.MustCompile(`\.innerHTML\b|\.outerHTML\b|insertAdjacentHTML|document\.write|\beval\(|new Function\(|setAttribute\(\s*['"]style['"]|\.style\.cssText|['"]style['"]\s*:`)
	var html, js int
	err := fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(staticFS, p)
		if err != nil {
			return err
		}
		src := string(b)
		switch {
		case strings.HasSuffix(p, ".html"):
			html++
			for _, m := range inlineScript.FindAllStringSubmatch(src, -1) {
				if !strings.Contains(m[1], "src=") || strings.TrimSpace(m[2]) != "" {
					t.Errorf("%s: inline script %q", p, m[0])
				}
			}
			for _, re := range []*regexp.Regexp{eventAttr, styleAttr, styleTag, jsURL} {
				if loc := re.FindString(src); loc != "" {
					t.Errorf("%s: %q is blocked by the CSP", p, loc)
				}
			}
		case strings.HasSuffix(p, ".js"):
			js++
			if loc := jsForbidden.FindString(src); loc != "" {
				t.Errorf("%s: uses %q", p, loc)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if html == 0 || js < 5 {
		t.Fatalf("found %d HTML and %d JS files; the embed is broken", html, js)
	}
}

func TestAssetsAreVersionedCachedAndCompressed(t *testing.T) {
	fe, s := newFrontend(t, http.NotFoundHandler(), false, 0)
	v := s.assets.version

	index := get(t, fe.URL+"/projects/abc", nil)
	body := string(readAll(t, index.Body))
	if index.StatusCode != 200 || !strings.Contains(body, `src="/assets/`+v+`/js/main.js"`) {
		t.Fatalf("client route did not get index.html with versioned assets: %d %s", index.StatusCode, body)
	}
	if index.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("index.html Cache-Control %q", index.Header.Get("Cache-Control"))
	}
	if strings.Contains(body, assetsPlaceholder) {
		t.Fatal("placeholder left in index.html")
	}

	js := get(t, fe.URL+"/assets/"+v+"/js/main.js", map[string]string{"Accept-Encoding": "gzip"})
	if js.StatusCode != 200 || !strings.HasPrefix(js.Header.Get("Content-Type"), "text/javascript") {
		t.Fatalf("main.js: %d %q", js.StatusCode, js.Header.Get("Content-Type"))
	}
	if !strings.Contains(js.Header.Get("Cache-Control"), "immutable") {
		t.Fatalf("current version not cached long: %q", js.Header.Get("Cache-Control"))
	}
	if js.Header.Get("Content-Encoding") != "gzip" {
		t.Fatal("main.js not gzip-encoded for a client that accepts gzip")
	}
	zr, err := gzip.NewReader(js.Body)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(readAll(t, zr), []byte("import ")) {
		t.Fatal("decompressed main.js is not the module")
	}

	etag := js.Header.Get("ETag")
	again := get(t, fe.URL+"/assets/"+v+"/js/main.js", map[string]string{"If-None-Match": etag})
	if again.StatusCode != http.StatusNotModified {
		t.Fatalf("revalidation with ETag: %d", again.StatusCode)
	}
	old := get(t, fe.URL+"/assets/0123456789ab/css/app.css", nil)
	if old.StatusCode != 200 || old.Header.Get("Cache-Control") != "no-cache" || !strings.HasPrefix(old.Header.Get("Content-Type"), "text/css") {
		t.Fatalf("old version: %d %q %q", old.StatusCode, old.Header.Get("Cache-Control"), old.Header.Get("Content-Type"))
	}
	for _, p := range []string{"/assets/" + v + "/js/nope.js", "/assets/" + v + "/", "/robots.txt", "/assets/" + v + "/index.html"} {
		if r := get(t, fe.URL+p, nil); r.StatusCode != http.StatusNotFound {
			t.Errorf("%s: status %d, want 404", p, r.StatusCode)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, fe.URL+"/projects", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST to a client route: %d", resp.StatusCode)
	}
}

func TestHealthAndReadiness(t *testing.T) {
	healthy := true
	upstream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" || !healthy {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok"))
	})
	fe, _ := newFrontend(t, upstream, false, 0)
	if r := get(t, fe.URL+"/healthz", nil); r.StatusCode != 200 {
		t.Fatalf("healthz %d", r.StatusCode)
	}
	if r := get(t, fe.URL+"/readyz", nil); r.StatusCode != 200 {
		t.Fatalf("readyz with a healthy backend: %d", r.StatusCode)
	}
	healthy = false
	if r := get(t, fe.URL+"/readyz", nil); r.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("readyz with an unhealthy backend: %d", r.StatusCode)
	}

	// A backend nobody listens on.
	dead, _ := url.Parse("http://127.0.0.1:1")
	s, err := New(Config{BackendURL: dead, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	if r := get(t, srv.URL+"/readyz", nil); r.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("readyz without a backend: %d", r.StatusCode)
	}
	if r := get(t, srv.URL+"/healthz", nil); r.StatusCode != 200 {
		t.Fatalf("healthz must not depend on the backend: %d", r.StatusCode)
	}
	r := get(t, srv.URL+"/api/projects", nil)
	if r.StatusCode != http.StatusBadGateway || !strings.Contains(string(readAll(t, r.Body)), `"detail"`) {
		t.Fatalf("unreachable backend: %d", r.StatusCode)
	}
}

func TestUploadAboveCeilingIsRefusedBeforeTheBackend(t *testing.T) {
	called := false
	upstream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		called = true
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusAccepted)
	})
	fe, _ := newFrontend(t, upstream, false, 1<<20)
	resp, err := http.Post(fe.URL+"/api/documents", "application/octet-stream", bytes.NewReader(make([]byte, 2<<20)))
	if err != nil {
		t.Fatal(err)
	}
	b := readAll(t, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(b), "too large") {
		t.Fatalf("status %d %s", resp.StatusCode, b)
	}
	if called {
		t.Fatal("the backend was called for an upload above the ceiling")
	}
	// Below the ceiling it passes.
	resp, err = http.Post(fe.URL+"/api/documents", "application/octet-stream", bytes.NewReader(make([]byte, 1000)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || !called {
		t.Fatalf("small upload: %d called=%v", resp.StatusCode, called)
	}
}

func TestConfigFromEnvironment(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		wantErr string
		check   func(t *testing.T, c Config)
	}{
		{name: "defaults", env: map[string]string{}, check: func(t *testing.T, c Config) {
			if c.BackendURL.String() != "http://localhost:8000" || c.Production || c.MaxUploadBytes != 100<<20+multipartSlack {
				t.Fatalf("%+v", c)
			}
		}},
		{name: "custom", env: map[string]string{"BACKEND_INTERNAL_URL": "http://cl-backend:8000", "MAX_UPLOAD_SIZE_MB": "5"}, check: func(t *testing.T, c Config) {
			if c.BackendURL.Host != "cl-backend:8000" || c.MaxUploadBytes != 5<<20+multipartSlack {
				t.Fatalf("%+v", c)
			}
		}},
		{name: "production https", env: map[string]string{"ENVIRONMENT": "production", "API_BASE_URL": "https://contracts.example.com"}, check: func(t *testing.T, c Config) {
			if !c.Production {
				t.Fatal("not production")
			}
		}},
		{name: "production needs API_BASE_URL", env: map[string]string{"ENVIRONMENT": "production"}, wantErr: "API_BASE_URL"},
		{name: "production needs https", env: map[string]string{"ENVIRONMENT": "production", "API_BASE_URL": "http://contracts.example.com"}, wantErr: "https"},
		{name: "bad environment", env: map[string]string{"ENVIRONMENT": "staging"}, wantErr: "ENVIRONMENT"},
		{name: "bad backend url", env: map[string]string{"BACKEND_INTERNAL_URL": "cl-backend:8000"}, wantErr: "BACKEND_INTERNAL_URL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sc, err := config.LoadFrom(config.Frontend, func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
			var c Config
			if err == nil {
				c, err = FromServiceConfig(sc)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}
