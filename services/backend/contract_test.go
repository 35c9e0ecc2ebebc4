package backend_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

func init() {
	// Downloads: any body is a valid binary string; the media type is checked.
	for _, mt := range []string{"application/pdf", "text/html", "text/plain", "text/calendar", "text/event-stream", "image/png", "image/jpeg", "image/tiff",
		"application/vnd.openxmlformats-officedocument.wordprocessingml.document"} {
		openapi3filter.RegisterBodyDecoder(mt, openapi3filter.FileBodyDecoder)
	}
}

// contractHandler checks every exchange with the backend against the
// OpenAPI document it serves: each response of a described operation
// (status, content type and body), and each request that succeeded. Every
// test that starts a server through startServer is so a contract test too.
func contractHandler(t *testing.T, h http.Handler) http.Handler {
	t.Helper()
	router := contractRouter(t, h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		route, params, err := router.FindRoute(r)
		if err != nil {
			// Not described: health, metrics, the document, unknown paths
			// and methods (answered 404/405 by the mux).
			h.ServeHTTP(w, r)
			return
		}
		var reqBody bytes.Buffer
		body := r.Body
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.TeeReader(body, &reqBody), body}
		cw := &captureWriter{ResponseWriter: w}
		h.ServeHTTP(cw, r)
		if err := checkExchange(r, route, params, &reqBody, cw); err != nil {
			t.Errorf("%s %s -> %d does not match the OpenAPI document: %v\nresponse: %.500s",
				r.Method, r.URL, cw.status, err, cw.body.String())
		}
	})
}

// contractRouter finds operations in the document h serves.
func contractRouter(t *testing.T, h http.Handler) routers.Router {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/openapi.json", nil))
	doc, err := openapi3.NewLoader().LoadFromData(rec.Body.Bytes())
	if err != nil {
		t.Fatalf("load the OpenAPI document: %v", err)
	}
	router, err := legacy.NewRouter(doc) // validates the document
	if err != nil {
		t.Fatal(err)
	}
	return router
}

func checkExchange(r *http.Request, route *routers.Route, params map[string]string, reqBody *bytes.Buffer, cw *captureWriter) error {
	ctx := context.Background()
	opts := &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true,
		AuthenticationFunc: func(_ context.Context, in *openapi3filter.AuthenticationInput) error {
			// A call that succeeded on a secured operation carried a token.
			if !strings.HasPrefix(strings.ToLower(in.RequestValidationInput.Request.Header.Get("Authorization")), "bearer ") {
				return errors.New("no bearer token")
			}
			return nil
		}}
	// What the handler did not read (the end of a multipart body) is
	// still part of the request.
	_, _ = io.Copy(reqBody, r.Body)
	req := r.Clone(ctx)
	req.Body = io.NopCloser(bytes.NewReader(reqBody.Bytes()))
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	if cw.status >= 200 && cw.status < 300 {
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			return fmt.Errorf("request: %w", err)
		}
	}
	err := openapi3filter.ValidateResponse(ctx, &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: cw.status, Header: cw.Header(),
		Body: io.NopCloser(bytes.NewReader(cw.body.Bytes())), Options: opts,
	})
	if err != nil {
		return fmt.Errorf("response: %w", err)
	}
	return nil
}

// captureWriter passes a response through and keeps a copy.
type captureWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (c *captureWriter) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *captureWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	c.body.Write(b)
	return c.ResponseWriter.Write(b)
}

func (c *captureWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// TestContractCheckRejectsWhatTheDocumentDoesNotSay shows that the check
// every test runs is not vacuous: a response or request that differs from
// the document fails it.
func TestContractCheckRejectsWhatTheDocumentDoesNotSay(t *testing.T) {
	e := newEnv(t)
	router := contractRouter(t, e.srv.Handler())
	me := e.do("GET", "/api/auth/me", e.admin, nil).want(200)
	check := func(method, path, reqBody string, status int, respBody string) error {
		r := httptest.NewRequest(method, path, strings.NewReader(reqBody))
		r.Header.Set("Authorization", "Bearer "+e.admin)
		if reqBody != "" {
			r.Header.Set("Content-Type", "application/json")
		}
		route, params, err := router.FindRoute(r)
		if err != nil {
			t.Fatal(err)
		}
		cw := &captureWriter{ResponseWriter: httptest.NewRecorder()}
		cw.Header().Set("Content-Type", "application/json")
		cw.WriteHeader(status)
		cw.Write([]byte(respBody))
		return checkExchange(r, route, params, &bytes.Buffer{}, cw)
	}
	if err := check("GET", "/api/auth/me", "", 200, string(me.body)); err != nil {
		t.Fatalf("the real response fails the check: %v", err)
	}
	for _, c := range []struct {
		name, method, path, req string
		status                  int
		resp                    string
	}{
		{"missing property", "GET", "/api/auth/me", "", 200, `{"id":"` + me.str("id") + `","email":"a@b.c"}`},
		{"value outside the enum", "GET", "/api/auth/me", "", 200, strings.Replace(string(me.body), `"role":"admin"`, `"role":"root"`, 1)},
		{"undocumented status", "GET", "/api/auth/me", "", 418, `{"detail":"teapot"}`},
		{"error without detail", "GET", "/api/auth/me", "", 401, `{"error":"no"}`},
		{"null where not nullable", "GET", "/api/projects", "", 200, `{"items":null,"total":0}`},
		{"request of the wrong type", "POST", "/api/projects", `{"name":5}`, 201, ``},
	} {
		if err := check(c.method, c.path, c.req, c.status, c.resp); err == nil {
			t.Errorf("%s: passes the check", c.name)
		}
	}
}

// TestRepresentativeResponsesMatchTheDocument drives operations the other
// tests do not reach with a success (the contract check validates them).
func TestRepresentativeResponsesMatchTheDocument(t *testing.T) {
	e := newEnv(t, allowLoopbackProviders)
	id := e.createProject(e.admin, "Contract")
	e.do("PATCH", "/api/projects/"+id, e.admin, map[string]string{"description": "renamed"}).want(200)
	caps := e.do("GET", "/api/admin/ai-capabilities", e.admin, nil).want(200)
	if len(caps.items()) == 0 {
		t.Fatalf("no capabilities: %s", caps.body)
	}
	prov := e.do("POST", "/api/admin/ai-providers", e.admin, map[string]any{"name": "p", "kind": "openai",
		"base_url": "http://127.0.0.1:9/v1"}).want(201).str("id")
	e.do("PUT", "/api/admin/ai-capabilities", e.admin, map[string]any{"items": []map[string]any{
		{"capability": "reasoning", "provider_id": prov, "model": "m"},
		{"capability": "generation", "provider_id": nil, "model": ""}}}).want(200)
}
