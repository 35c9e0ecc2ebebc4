package backend_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/contract-lucidity/contract-lucidity/services/internal/config"
	"github.com/contract-lucidity/contract-lucidity/services/internal/queue"
)

// unit returns a 384-dimensional L2-normalised vector pointing mostly along axis i.
func unit(i int, mix float64) []float32 {
	v := make([]float32, 384)
	v[i] = float32(math.Sqrt(1 - mix*mix))
	v[(i+1)%384] = float32(mix)
	return v
}

func TestDocumentLifecycle(t *testing.T) {
	e := newEnv(t)
	p := e.createProject(e.admin, "Lifecycle")
	var ids []string
	for i := range 3 {
		ids = append(ids, e.upload(e.admin, p, fmt.Sprintf("c%d.pdf", i), pdfBytes).want(202).str("id"))
	}
	// Pagination, newest first.
	r := e.do("GET", "/api/projects/"+p+"/documents?limit=2&offset=0", e.admin, nil).want(200)
	if len(r.items()) != 2 || r.json["total"].(float64) != 3 {
		t.Fatalf("page 1: %s", r.body)
	}
	r = e.do("GET", "/api/projects/"+p+"/documents?limit=2&offset=2", e.admin, nil).want(200)
	if len(r.items()) != 1 || r.json["total"].(float64) != 3 {
		t.Fatalf("page 2: %s", r.body)
	}
	e.do("GET", "/api/projects/"+p+"/documents?limit=-1", e.admin, nil).want(422)

	doc, other := ids[0], ids[1]
	// What the worker would write.
	e.exec(`UPDATE documents SET pipeline_status = 'complete', progress = 100, facts = '{"parties":["Acme","Beta"]}',
		page_count = 2, analyzer = 'offline/v1', completed_at = now() WHERE id = $1`, doc)
	e.exec(`INSERT INTO clauses (document_id, ordinal, heading, category, confidence, text, risk_level, explanation, embedding) VALUES
		($1, 1, '1. Law', 'Governing Law', 0.9, 'This Agreement shall be governed by the laws of Delaware.', 'low', 'standard', $3),
		($1, 2, '2. Liability', 'Cap On Liability', 0.8, 'Liability is unlimited for all damages.', 'high', 'uncapped', $4),
		($2, 1, '1. Law', 'Governing Law', 0.9, 'Governed by the laws of the State of New York.', 'low', 'standard', $5),
		($2, 2, '2. Term', 'Renewal Term', 0.7, 'The term ends after five years.', 'medium', '', $6),
		($2, 3, '3. Cap', 'Cap On Liability', 0.3, 'Liability under this agreement is capped at the fees paid.', 'low', '', $7),
		($2, 4, 'SUPPLY AGREEMENT', 'Document Name', 0.9, 'SUPPLY AGREEMENT between the parties.', 'low', '', NULL)`,
		doc, other, unit(0, 0), unit(10, 0), unit(0, 0.3), unit(10, 0.9), unit(0, 0.2))
	d := e.do("GET", "/api/documents/"+doc, e.admin, nil).want(200)
	if d.str("pipeline_status") != "complete" || d.json["progress"].(float64) != 100 || d.json["clause_count"].(float64) != 2 ||
		d.json["facts"].(map[string]any)["parties"] == nil || d.json["page_count"].(float64) != 2 {
		t.Fatalf("document: %s", d.body)
	}
	// Download returns the original bytes as an attachment.
	dl := e.do("GET", "/api/documents/"+doc+"/file", e.admin, nil).want(200)
	if string(dl.body) != string(pdfBytes) || !strings.HasPrefix(dl.header.Get("Content-Disposition"), "attachment") ||
		dl.header.Get("Content-Type") != "application/pdf" {
		t.Fatalf("download: %v", dl.header)
	}

	// Clauses with filters.
	cl := e.do("GET", "/api/documents/"+doc+"/clauses", e.admin, nil).want(200).items()
	if len(cl) != 2 || cl[0]["ordinal"].(float64) != 1 || cl[0]["latest_decision"] != nil {
		t.Fatalf("clauses: %v", cl)
	}
	high := e.do("GET", "/api/documents/"+doc+"/clauses?risk=high", e.admin, nil).want(200).items()
	if len(high) != 1 || high[0]["category"] != "Cap On Liability" {
		t.Fatalf("risk filter: %v", high)
	}
	cat := e.do("GET", "/api/documents/"+doc+"/clauses?category=Governing+Law", e.admin, nil).want(200).items()
	if len(cat) != 1 || cat[0]["ordinal"].(float64) != 1 {
		t.Fatalf("category filter: %v", cat)
	}
	e.do("GET", "/api/documents/"+doc+"/clauses?risk=extreme", e.admin, nil).want(422)
	law, liability := cl[0]["id"].(string), cl[1]["id"].(string)

	// Decisions: history and latest.
	e.do("POST", "/api/clauses/"+liability+"/decisions", e.admin, map[string]string{"decision": "reject", "comment": "no"}).want(201)
	dec := e.do("POST", "/api/clauses/"+liability+"/decisions", e.admin, map[string]string{"decision": "negotiate", "comment": "cap at fees"}).want(201)
	if dec.str("decision") != "negotiate" || dec.json["decided_by"].(map[string]any)["email"] != adminEmail || dec.str("clause_id") != liability {
		t.Fatalf("decision: %s", dec.body)
	}
	e.do("POST", "/api/clauses/"+liability+"/decisions", e.admin, map[string]string{"decision": "maybe"}).want(422)
	hist := e.do("GET", "/api/clauses/"+liability+"/decisions", e.admin, nil).want(200).items()
	if len(hist) != 2 || hist[0]["decision"] != "negotiate" {
		t.Fatalf("history: %v", hist)
	}
	all := e.do("GET", "/api/documents/"+doc+"/decisions", e.admin, nil).want(200).items()
	if len(all) != 2 || all[0]["clause_id"] != liability {
		t.Fatalf("document decisions: %v", all)
	}
	cl = e.do("GET", "/api/documents/"+doc+"/clauses?risk=high", e.admin, nil).want(200).items()
	if ld := cl[0]["latest_decision"].(map[string]any); ld["decision"] != "negotiate" || ld["comment"] != "cap at fees" {
		t.Fatalf("latest decision: %v", ld)
	}

	// Similar clauses come from other documents: only those at least 0.4
	// alike (not the unrelated term clause), the same category first even
	// when a clause of another category is closer.
	sim := e.do("GET", "/api/clauses/"+law+"/similar?limit=5", e.admin, nil).want(200).items()
	if len(sim) != 2 || sim[0]["document_id"] != other || sim[0]["category"] != "Governing Law" ||
		sim[0]["document_name"] != "c1.pdf" || sim[0]["project_id"] != p || sim[0]["score"].(float64) < 0.9 ||
		sim[1]["category"] != "Cap On Liability" || sim[1]["score"].(float64) <= sim[0]["score"].(float64) {
		t.Fatalf("similar: %v", sim)
	}
	// Confidence in words; a value category is never shown as a clause's.
	for _, c := range e.do("GET", "/api/documents/"+other+"/clauses", e.admin, nil).want(200).items() {
		want := map[string]string{"1. Law": "likely", "2. Term": "likely", "3. Cap": "possible"}[c["heading"].(string)]
		if c["heading"] == "SUPPLY AGREEMENT" {
			if c["category"] != "Other" || c["likelihood"] != nil || c["confidence"].(float64) != 0 {
				t.Errorf("a Document Name clause is shown as %v (%v)", c["category"], c["likelihood"])
			}
		} else if c["likelihood"] != want {
			t.Errorf("%s: likelihood %v, want %s", c["heading"], c["likelihood"], want)
		}
	}
	// Filtering by category follows the category shown: the value row is
	// among Other's, and nothing is filed under Document Name.
	if o := e.do("GET", "/api/documents/"+other+"/clauses?category=Other", e.admin, nil).want(200).items(); len(o) != 1 || o[0]["heading"] != "SUPPLY AGREEMENT" {
		t.Errorf("category=Other: %v", o)
	}
	if n := e.do("GET", "/api/documents/"+other+"/clauses?category=Document+Name", e.admin, nil).want(200).items(); len(n) != 0 {
		t.Errorf("category=Document Name: %v", n)
	}
	// Clauses of projects the caller cannot see never appear.
	q := e.createProject(e.admin, "Hidden")
	hidden := e.upload(e.admin, q, "secret.pdf", pdfBytes).want(202).str("id")
	e.exec(`INSERT INTO clauses (document_id, ordinal, category, text, risk_level, embedding)
		VALUES ($1, 1, 'Governing Law', 'Governed by the laws of Delaware, secretly.', 'low', $2)`, hidden, unit(0, 0.1))
	if all := e.do("GET", "/api/clauses/"+law+"/similar", e.admin, nil).want(200).items(); len(all) != 3 || all[0]["document_id"] != hidden ||
		all[2]["category"] != "Cap On Liability" {
		t.Fatalf("admin similar: %v", all)
	}
	member := e.createUser("member@example.com")
	e.do("PUT", "/api/projects/"+p+"/members/"+member.User["id"].(string), e.admin, map[string]string{"role": "viewer"}).want(200)
	mine := e.do("GET", "/api/clauses/"+law+"/similar", member.Access, nil).want(200).items()
	if len(mine) != 2 || mine[0]["document_id"] != other {
		t.Fatalf("member similar: %v", mine)
	}
	if hits := e.do("GET", "/api/search?q=delaware", member.Access, nil).want(200).items(); len(hits) != 1 || hits[0]["document_id"] != doc {
		t.Fatalf("member search: %v", hits)
	}
	e.do("DELETE", "/api/projects/"+q, e.admin, nil).want(204)

	// Full-text search with stemming, scoped by project.
	hits := e.do("GET", "/api/search?q=governed&project_id="+p, e.admin, nil).want(200).items()
	if len(hits) != 2 || hits[0]["rank"].(float64) <= 0 {
		t.Fatalf("search: %v", hits)
	}
	e.do("GET", "/api/search?q=", e.admin, nil).want(422)

	// Reports: request, not ready, then complete.
	rep := e.do("POST", "/api/documents/"+doc+"/reports", e.admin, nil).want(202)
	repID := rep.str("id")
	if rep.str("status") != "queued" || !slices.ContainsFunc(e.queued(), func(j queue.Job) bool { return j.Kind == queue.KindReport && j.ID == repID }) {
		t.Fatalf("report not queued: %s", rep.body)
	}
	e.do("GET", "/api/reports/"+repID+"/download?format=html", e.admin, nil).want(409)
	os.MkdirAll(filepath.Join(e.cfg.StoragePath, "reports"), 0o755)
	os.WriteFile(filepath.Join(e.cfg.StoragePath, "reports", repID+".html"), []byte("<h1>Report</h1>"), 0o644)
	e.exec(`UPDATE document_reports SET status = 'complete', html_key = $2, completed_at = now() WHERE id = $1`, repID, "reports/"+repID+".html")
	if got := e.do("GET", "/api/reports/"+repID, e.admin, nil).want(200); got.str("status") != "complete" {
		t.Fatalf("report: %s", got.body)
	}
	html := e.do("GET", "/api/reports/"+repID+"/download?format=html", e.admin, nil).want(200)
	if string(html.body) != "<h1>Report</h1>" || !strings.HasPrefix(html.header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("report download: %q %v", html.body, html.header)
	}
	e.do("GET", "/api/reports/"+repID+"/download?format=pdf", e.admin, nil).want(409)
	if l := e.do("GET", "/api/documents/"+doc+"/reports", e.admin, nil).want(200).items(); len(l) != 1 {
		t.Fatalf("reports: %v", l)
	}

	// Reprocess resets the status and enqueues again.
	before := len(e.queued())
	rp := e.do("POST", "/api/documents/"+doc+"/reprocess", e.admin, nil).want(202)
	if rp.str("pipeline_status") != "queued" || rp.json["progress"].(float64) != 0 || len(e.queued()) != before+1 {
		t.Fatalf("reprocess: %s", rp.body)
	}

	// Delete removes the row and the clauses, and moves the files to the
	// trash (a running backup may still need them; the worker purges it).
	e.do("DELETE", "/api/documents/"+doc, e.admin, nil).want(204)
	e.do("GET", "/api/documents/"+doc, e.admin, nil).want(404)
	if _, err := os.Stat(filepath.Join(e.cfg.StoragePath, "documents", doc)); !os.IsNotExist(err) {
		t.Fatalf("document directory still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(e.cfg.StoragePath, "reports", repID+".html")); !os.IsNotExist(err) {
		t.Fatalf("report file still there: %v", err)
	}
	trashed, _ := filepath.Glob(filepath.Join(e.cfg.StoragePath, "trash", "*-"+doc+"-*"))
	if len(trashed) != 1 {
		t.Fatalf("trash entries of the document: %v", trashed)
	}
	if b, err := os.ReadFile(filepath.Join(trashed[0], "reports", repID+".html")); err != nil || string(b) != "<h1>Report</h1>" {
		t.Fatalf("report file in the trash: %q %v", b, err)
	}
	if st, err := os.Stat(filepath.Join(trashed[0], "documents", doc, "original")); err != nil || st.Size() != int64(len(pdfBytes)) {
		t.Fatalf("document file in the trash: %v", err)
	}
	var n int
	e.db.QueryRow(context.Background(), "SELECT count(*) FROM clauses WHERE document_id = $1", doc).Scan(&n)
	if n != 0 {
		t.Fatal("clauses survived")
	}
	// Deleting the project moves the remaining files to the trash.
	e.do("DELETE", "/api/projects/"+p, e.admin, nil).want(204)
	if _, err := os.Stat(filepath.Join(e.cfg.StoragePath, "documents", other)); !os.IsNotExist(err) {
		t.Fatal("project files survived")
	}
	if trashed, _ := filepath.Glob(filepath.Join(e.cfg.StoragePath, "trash", "*-"+other+"-*", "documents", other, "original")); len(trashed) != 1 {
		t.Fatalf("project document in the trash: %v", trashed)
	}
	e.do("GET", "/api/documents/not-a-uuid", e.admin, nil).want(404)
}

// allowLoopbackProviders admits the tests' fake providers on 127.0.0.1.
func allowLoopbackProviders(c *config.Config) { c.AIAllowPrivateEndpoints = true }

func TestProviderKeyIsWriteOnly(t *testing.T) {
	e := newEnv(t, allowLoopbackProviders)
	const key = "sk-test-SUPERSECRET-0123456789abcdef"
	var gotAuth string
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth = r.Header.Get("Authorization")
		if r.URL.Path != "/v1/models" || gotAuth != "Bearer "+key {
			w.WriteHeader(401)
			fmt.Fprintf(w, `{"error":"Incorrect API key provided: %s"}`, strings.TrimPrefix(gotAuth, "Bearer "))
			return
		}
		io.WriteString(w, `{"data":[{"id":"gpt-4o-mini"}]}`)
	}))
	defer fake.Close()
	var bodies []string
	keep := func(r *response) *response { bodies = append(bodies, string(r.body)); return r }

	cr := keep(e.do("POST", "/api/admin/ai-providers", e.admin, map[string]any{"name": "Local", "kind": "openai",
		"base_url": fake.URL + "/v1", "model": "gpt-4o-mini", "embedding_model": "text-embedding-3-small", "api_key": key}).want(201))
	id := cr.str("id")
	if cr.json["has_api_key"] != true || cr.json["api_key"] != nil {
		t.Fatalf("create: %s", cr.body)
	}
	keep(e.do("POST", "/api/admin/ai-providers", e.admin, map[string]any{"name": "Bad", "kind": "gemini", "base_url": "https://x"}).want(422))
	keep(e.do("POST", "/api/admin/ai-providers", e.admin, map[string]any{"name": "Local", "kind": "openai", "base_url": "https://x"}).want(409))
	keep(e.do("GET", "/api/admin/ai-providers", e.admin, nil).want(200))
	test := keep(e.do("POST", "/api/admin/ai-providers/"+id+"/test", e.admin, nil).want(200))
	if test.json["ok"] != true || gotAuth != "Bearer "+key {
		t.Fatalf("test: %s (auth %q)", test.body, gotAuth)
	}
	// A wrong key: the provider echoes it; the response must not.
	keep(e.do("PATCH", "/api/admin/ai-providers/"+id, e.admin, map[string]any{"api_key": key + "-wrong"}).want(200))
	bad := keep(e.do("POST", "/api/admin/ai-providers/"+id+"/test", e.admin, nil).want(200))
	if bad.json["ok"] != false || !strings.Contains(bad.str("detail"), "401") {
		t.Fatalf("bad key test: %s", bad.body)
	}
	keep(e.do("PATCH", "/api/admin/ai-providers/"+id, e.admin, map[string]any{"api_key": key, "active": false}).want(200))
	caps := keep(e.do("PUT", "/api/admin/ai-capabilities", e.admin, map[string]any{"items": []map[string]any{
		{"capability": "embeddings", "provider_id": id, "model": "text-embedding-3-small"}}}).want(200))
	found := false
	for _, c := range caps.items() {
		found = found || (c["capability"] == "embeddings" && c["provider_id"] == id)
	}
	if !found || len(caps.items()) != 5 {
		t.Fatalf("capabilities: %s", caps.body)
	}
	keep(e.do("PUT", "/api/admin/ai-capabilities", e.admin, map[string]any{"items": []map[string]any{{"capability": "telepathy"}}}).want(422))
	keep(e.do("GET", "/api/admin/audit?limit=500", e.admin, nil).want(200))
	// Stored encrypted, never in plaintext.
	var sealed []byte
	e.db.QueryRow(context.Background(), "SELECT api_key_encrypted FROM ai_providers WHERE id = $1", id).Scan(&sealed)
	if len(sealed) == 0 || strings.Contains(string(sealed), "SUPERSECRET") {
		t.Fatal("key not encrypted at rest")
	}
	for _, b := range append(bodies, e.logs.String()) {
		if strings.Contains(b, "SUPERSECRET") {
			t.Fatalf("key leaked: %s", b)
		}
	}
	keep(e.do("DELETE", "/api/admin/ai-providers/"+id, e.admin, nil).want(204))
	e.do("DELETE", "/api/admin/ai-providers/"+id, e.admin, nil).want(404)
}

func TestOpenAPIDocumentListsEveryRoute(t *testing.T) {
	e := newEnv(t)
	r := e.do("GET", "/api/openapi.json", "", nil).want(200)
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(r.body, &doc); err != nil || !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("document: %v %s", err, doc.OpenAPI)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for m := range ops {
			documented[strings.ToUpper(m)+" "+path] = true
		}
	}
	// Served on the backend's address for the kubelet, Prometheus and
	// tools; not part of the described API.
	undescribed := map[string]bool{"GET /healthz": true, "GET /readyz": true, "GET /metrics": true, "GET /api/openapi.json": true}
	routes := e.srv.Routes()
	for _, rt := range routes {
		if !documented[rt] && !undescribed[rt] {
			t.Errorf("route %s is not in the OpenAPI document", rt)
		}
		delete(documented, rt)
		// Every registered route answers (not the mux's 404 / 405).
		method, path, _ := strings.Cut(rt, " ")
		path = strings.NewReplacer("{id}", "00000000-0000-4000-8000-000000000000", "{user_id}", "00000000-0000-4000-8000-000000000000",
			"{page}", "1").Replace(path)
		req, _ := http.NewRequest(method, e.http.URL+path, nil)
		resp, err := e.http.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		// Unauthenticated, a registered route answers 401 (or its own
		// validation error); 404/405 would mean the mux does not serve it.
		if resp.StatusCode == http.StatusMethodNotAllowed || resp.StatusCode == http.StatusNotFound {
			t.Errorf("%s is not served: %d", rt, resp.StatusCode)
		}
	}
	for extra := range documented {
		t.Errorf("documented but not registered: %s", extra)
	}
	if len(routes) < 45 {
		t.Fatalf("only %d routes", len(routes))
	}
}

func TestHealthReadinessMetricsAndErrors(t *testing.T) {
	e := newEnv(t)
	e.do("GET", "/healthz", "", nil).want(200)
	rd := e.do("GET", "/readyz", "", nil).want(200)
	if rd.json["postgres"] != "ok" || rd.json["redis"] != "ok" {
		t.Fatalf("readyz: %s", rd.body)
	}
	e.do("GET", "/api/projects", e.admin, nil).want(200)
	nf := e.do("GET", "/api/nothing-here", e.admin, nil).want(404)
	if nf.detail() == "" {
		t.Fatalf("404 body: %s", nf.body)
	}
	bad := e.do("POST", "/api/projects", e.admin, strings.NewReader("{not json"), "Content-Type", "application/json").want(422)
	if bad.detail() != "invalid JSON body" {
		t.Fatalf("detail %q", bad.detail())
	}
	e.do("GET", "/metrics", "", nil).want(404) // its own listener (BACKEND_METRICS_ADDR)
	rec := httptest.NewRecorder()
	e.srv.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	m := struct{ body []byte }{rec.Body.Bytes()}
	for _, want := range []string{`cl_http_requests_total{code="200",method="GET",route="/api/projects"}`, `cl_queue_depth`,
		`cl_http_request_duration_seconds_bucket{method="GET",route="/api/projects"`} {
		if !strings.Contains(string(m.body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// Readiness reflects a lost dependency.
	e.srv.Close()
	if r := e.do("GET", "/readyz", "", nil); r.status != http.StatusServiceUnavailable {
		t.Fatalf("readyz after close: %d", r.status)
	}
}

func TestServeShutsDownGracefully(t *testing.T) {
	cfg := testConfig(t)
	srv, _, _ := startServer(t, cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("healthz %d", resp.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve returned %v", err)
	}
	if _, err := http.Get("http://" + ln.Addr().String() + "/healthz"); err == nil {
		t.Fatal("still serving after shutdown")
	}
}

func TestAnthropicProviderConnectionTest(t *testing.T) {
	e := newEnv(t, allowLoopbackProviders)
	const key = "sk-ant-TESTKEY-abcdefghijklmnop"
	var path, gotKey, version string
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path, gotKey, version = r.URL.Path, r.Header.Get("x-api-key"), r.Header.Get("anthropic-version")
		io.WriteString(w, `{"content":[{"type":"text","text":"p"}]}`)
	}))
	defer fake.Close()
	id := e.do("POST", "/api/admin/ai-providers", e.admin, map[string]any{"name": "Claude", "kind": "anthropic",
		"base_url": fake.URL, "model": "claude-test", "api_key": key}).want(201).str("id")
	r := e.do("POST", "/api/admin/ai-providers/"+id+"/test", e.admin, nil).want(200)
	if r.json["ok"] != true || path != "/v1/messages" || gotKey != key || version == "" {
		t.Fatalf("test: %s path=%s version=%q", r.body, path, version)
	}
	// Unreachable provider: a clear failure, no key in it.
	fake.Close()
	r = e.do("POST", "/api/admin/ai-providers/"+id+"/test", e.admin, nil).want(200)
	if r.json["ok"] != false || strings.Contains(string(r.body), "TESTKEY") {
		t.Fatalf("unreachable: %s", r.body)
	}
}
