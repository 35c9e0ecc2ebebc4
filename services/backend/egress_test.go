package backend_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// internalService is a real server standing for something inside the
// network (a metadata service, Redis, an admin API); it counts requests
// and answers with data that must never reach an administrator's screen.
func internalService(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, "INTERNAL-SECRET aws_secret_access_key=abc")
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func (e *env) createProvider(baseURL string) *response {
	e.t.Helper()
	return e.do("POST", "/api/admin/ai-providers", e.admin, map[string]any{"name": "p-" + randHex(4), "kind": "openai",
		"base_url": baseURL, "model": "m", "api_key": "sk-test-key"})
}

// By default a provider base URL cannot point inside the network: address
// literals are refused when saved, host names when they connect (so a name
// that resolves to an internal address, now or after a DNS change, is
// refused too), and nothing reaches the internal service.
func TestProviderEndpointsCannotReachInternalServices(t *testing.T) {
	e := newEnv(t)
	internal, hits := internalService(t)
	for _, u := range []string{"http://169.254.169.254/latest/meta-data", "http://[fd00:ec2::254]/latest", "http://[::ffff:169.254.169.254]/",
		internal.URL, "http://10.0.0.1/v1"} {
		r := e.createProvider(u).want(422)
		if !strings.Contains(r.detail(), "not allowed") {
			t.Fatalf("%s: %s", u, r.body)
		}
	}
	port := internal.URL[strings.LastIndex(internal.URL, ":"):]
	id := e.createProvider("http://localhost" + port + "/v1").want(201).str("id")
	r := e.do("POST", "/api/admin/ai-providers/"+id+"/test", e.admin, nil).want(200)
	if r.json["ok"] != false || !strings.Contains(r.str("detail"), "not allowed") || strings.Contains(r.str("detail"), "127.0.0.1") {
		t.Fatalf("test of an internal host name: %s", r.body)
	}
	e.do("PATCH", "/api/admin/ai-providers/"+id, e.admin, map[string]any{"base_url": "http://169.254.169.254"}).want(422)
	if hits.Load() != 0 {
		t.Fatalf("the internal service received %d requests", hits.Load())
	}
}

// With private endpoints allowed (an in-cluster model server), metadata
// addresses are still refused, redirects are not followed, and the
// endpoint's answer is not shown.
func TestAllowedPrivateEndpointsStillGuarded(t *testing.T) {
	e := newEnv(t, allowLoopbackProviders)
	internal, hits := internalService(t)
	e.createProvider("http://169.254.169.254/latest/meta-data").want(422)

	id := e.createProvider(internal.URL + "/v1").want(201).str("id")
	r := e.do("POST", "/api/admin/ai-providers/"+id+"/test", e.admin, nil).want(200)
	if r.json["ok"] != false || strings.Contains(string(r.body), "INTERNAL-SECRET") || !strings.Contains(r.str("detail"), "HTTP 500") {
		t.Fatalf("answer echoed: %s", r.body)
	}
	before := hits.Load()
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, internal.URL+"/secret", http.StatusFound)
	}))
	defer redirector.Close()
	id = e.createProvider(redirector.URL + "/v1").want(201).str("id")
	r = e.do("POST", "/api/admin/ai-providers/"+id+"/test", e.admin, nil).want(200)
	if r.json["ok"] != false || !strings.Contains(r.str("detail"), "redirect") || hits.Load() != before {
		t.Fatalf("redirect: %s (internal hits %d -> %d)", r.body, before, hits.Load())
	}
}
