package validate_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/contract-lucidity/contract-lucidity/services/backend"
	"github.com/contract-lucidity/contract-lucidity/services/frontend"
	"github.com/contract-lucidity/contract-lucidity/services/internal/config"
	"github.com/contract-lucidity/contract-lucidity/services/internal/testenv/stacktest"
	"github.com/contract-lucidity/contract-lucidity/services/internal/validate"
)

const (
	testEmail    = "validate@example.com"
	testPassword = "Validate-Passw0rd-123"
)

func call(t *testing.T, base, method, path, token string, body any, want int) map[string]any {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, base+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, want, data)
	}
	var out map[string]any
	json.Unmarshal(data, &out)
	return out
}

// front is what an ingress and the frontend make of the backend: the
// production frontend (security headers, HSTS), behind TLS or not, and an
// optional middleware for a misconfigured ingress. Each front gets its own
// client address (X-Forwarded-For, as an ingress sets it), so the per-IP
// login limit of one scenario does not spill into another.
func front(t *testing.T, api string, tlsOn bool, clientIP string, mw func(http.Handler) http.Handler) (base, caFile string) {
	t.Helper()
	be, _ := url.Parse(api)
	fe, err := frontend.New(frontend.Config{BackendURL: be, Production: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Set("X-Forwarded-For", clientIP)
		fe.ServeHTTP(w, r)
	})
	if mw != nil {
		h = mw(h)
	}
	if !tlsOn {
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		return srv.URL, ""
	}
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	caFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	return srv.URL, caFile
}

// TestDeploymentChecks runs validate deployment against the running stack
// behind a production frontend and TLS: everything passes. Then each
// deliberately broken setting fails its check, and only that one, with a
// message that says what is wrong.
func TestDeploymentChecks(t *testing.T) {
	st, err := stacktest.Start(stacktest.Options{Env: map[string]string{
		"RATE_LIMIT_LOGIN_PER_MINUTE": "5",
		"CORS_ORIGINS":                "https://contracts.example.com",
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tok := call(t, st.API, "POST", "/api/auth/login", "", map[string]string{"email": stacktest.AdminEmail, "password": st.AdminPassword}, 200)
	admin := call(t, st.API, "POST", "/api/auth/change-password", tok["access_token"].(string),
		map[string]string{"current_password": st.AdminPassword, "new_password": "Admin-Passw0rd-123"}, 200)["access_token"].(string)
	call(t, st.API, "POST", "/api/users", admin, map[string]string{"email": testEmail, "password": testPassword}, 201)

	// The same database and Redis, a backend whose login limit is
	// effectively off.
	lookup := func(k string) (string, bool) {
		if k == "RATE_LIMIT_LOGIN_PER_MINUTE" {
			return "1000000", true
		}
		v, ok := st.Env[k]
		return v, ok
	}
	cfg, err := config.LoadFrom(config.Backend, lookup)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	unlimited, err := backend.New(ctx, cfg, backend.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer unlimited.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go unlimited.Serve(ctx, ln)
	unlimitedAPI := "http://" + ln.Addr().String()
	if err := stacktest.WaitReady(unlimitedAPI+"/readyz", 30e9); err != nil {
		t.Fatal(err)
	}

	corsStar := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Origin") != "" {
				w.Header().Set("Access-Control-Allow-Origin", "*")
			}
			next.ServeHTTP(w, r)
		})
	}
	cases := []struct {
		name     string
		api      string
		tls      bool
		mw       func(http.Handler) http.Handler
		failures map[string]string // check -> part of its detail
	}{
		{name: "good", api: st.API, tls: true},
		{name: "http API_BASE_URL", api: st.API, failures: map[string]string{
			"https": "is http: serve the instance over https", "HSTS": "not served over https"}},
		{name: "CORS *", api: st.API, tls: true, mw: corsStar, failures: map[string]string{
			"CORS": "Access-Control-Allow-Origin: *"}},
		{name: "no login rate limit", api: unlimitedAPI, tls: true, failures: map[string]string{
			"login rate limit": "no 429 after 12 failed sign-ins"}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			base, ca := front(t, tc.api, tc.tls, fmt.Sprintf("203.0.113.%d", i+1), tc.mw)
			r := validate.Deployment(context.Background(), base, validate.DeploymentOptions{
				CAFile: ca, Email: testEmail, Password: testPassword, LoginAttempts: 12})
			var buf bytes.Buffer
			r.Write(&buf, "table")
			got := map[string]string{}
			for _, x := range r {
				if x.Status == validate.Warn {
					t.Errorf("WARN %s: %s", x.Check, x.Detail)
				}
				if x.Status == validate.Fail {
					got[x.Check] = x.Detail
				}
			}
			for check, want := range tc.failures {
				if !strings.Contains(got[check], want) {
					t.Errorf("%s: want FAIL with %q\n%s", check, want, buf.String())
				}
			}
			if len(got) != len(tc.failures) {
				t.Errorf("failures %v, want exactly %v\n%s", got, tc.failures, buf.String())
			}
			if !strings.Contains(buf.String(), "PASS    token refresh") {
				t.Errorf("token refresh did not pass:\n%s", buf.String())
			}
		})
	}
}
