// Package e2e drives the real backend (HTTP API) and the real worker
// together on real PostgreSQL and Redis: uploads go in through the API and
// come out analysed, as a user would see them.
package e2e_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/contract-lucidity/contract-lucidity/services/internal/testenv"
	"github.com/contract-lucidity/contract-lucidity/services/internal/testenv/stacktest"
	"github.com/contract-lucidity/contract-lucidity/services/worker"
	"github.com/contract-lucidity/contract-lucidity/services/worker/extract"
	"github.com/contract-lucidity/contract-lucidity/services/worker/fixtures"
)

const newPass = "Settled-Admin-Passw0rd!"

// stack is one backend and one worker sharing PostgreSQL, Redis and storage.
type stack struct {
	name  string
	url   string
	token string
	pool  *pgxpool.Pool
	s3    *testenv.S3 // the object store of the S3 stack
}

// st keeps documents on the filesystem; s3st in object storage
// (SeaweedFS, STORAGE_BACKEND=s3).
var st, s3st *stack

func TestMain(m *testing.M) {
	code, err := run(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(code)
}

func run(m *testing.M) (int, error) {
	var logger *slog.Logger
	if os.Getenv("E2E_VERBOSE") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	// The worker's local copies of stored objects go to a directory of this
	// package's own, so the check after the tests sees only ours.
	tmp, err := os.MkdirTemp("", "cl-e2e-tmp-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)
	for _, s3 := range []bool{false, true} {
		s, err := stacktest.Start(stacktest.Options{Logger: logger, S3: s3,
			Env:    map[string]string{"WORKER_VISIBILITY_TIMEOUT": "1m"},
			Worker: worker.Options{PollBlock: 200 * time.Millisecond}})
		if err != nil {
			return 0, err
		}
		defer s.Close()
		stk := &stack{name: "filesystem", url: s.API, pool: s.Pool, s3: s.S3}
		if s3 {
			stk.name, s3st = "s3", stk
		} else {
			st = stk
		}
		if err := stk.settle(s.AdminPassword); err != nil {
			return 0, err
		}
	}
	// Set once the servers run (PostgreSQL's files need a directory its
	// user can read); the in-process worker reads it at each copy.
	os.Setenv("TMPDIR", tmp)
	code := m.Run()
	if code == 0 {
		if err := noLocalCopiesLeft(tmp); err != nil {
			return 1, err
		}
	}
	return code, nil
}

// noLocalCopiesLeft checks that the worker removed every local copy it made
// of a stored object (S3's LocalFile), once the last document is done.
func noLocalCopiesLeft(dir string) error {
	var left []string
	for range 50 {
		left, _ = filepath.Glob(filepath.Join(dir, "cl-document-*"))
		if len(left) == 0 {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("the worker left its local copies of stored documents: %v", left)
}

// settle signs the seeded admin in and changes the password.
func (s *stack) settle(initial string) error {
	var login struct {
		AccessToken string `json:"access_token"`
	}
	if err := s.call("POST", "/api/auth/login", "", map[string]string{"email": stacktest.AdminEmail, "password": initial}, 200, &login); err != nil {
		return err
	}
	var changed struct {
		AccessToken string `json:"access_token"`
	}
	if err := s.call("POST", "/api/auth/change-password", login.AccessToken,
		map[string]string{"current_password": initial, "new_password": newPass}, 200, &changed); err != nil {
		return err
	}
	s.token = changed.AccessToken
	return nil
}

// eachStorage runs f against the filesystem stack and the S3 stack.
func eachStorage(t *testing.T, f func(t *testing.T, s *stack)) {
	for _, s := range []*stack{st, s3st} {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			f(t, s)
		})
	}
}

// call makes a JSON API call and decodes the answer into out.
func (s *stack) call(method, path, token string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.url+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, data)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

func mustCall(t *testing.T, method, path string, body any, want int, out any) {
	t.Helper()
	st.mustCall(t, method, path, body, want, out)
}

func (s *stack) mustCall(t *testing.T, method, path string, body any, want int, out any) {
	t.Helper()
	if err := s.call(method, path, s.token, body, want, out); err != nil {
		t.Fatal(err)
	}
}

func newProject(t *testing.T) string { t.Helper(); return st.newProject(t) }

func (s *stack) newProject(t *testing.T) string {
	t.Helper()
	var p struct{ ID string }
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	s.mustCall(t, "POST", "/api/projects", map[string]string{"name": t.Name() + "-" + hex.EncodeToString(b)}, 201, &p)
	return p.ID
}

type document struct {
	ID             string         `json:"id"`
	OriginalName   string         `json:"original_name"`
	FileType       string         `json:"file_type"`
	PipelineStatus string         `json:"pipeline_status"`
	Progress       int            `json:"progress"`
	ErrorMessage   *string        `json:"error_message"`
	PageCount      *int           `json:"page_count"`
	ClauseCount    int            `json:"clause_count"`
	Analyzer       string         `json:"analyzer"`
	Facts          map[string]any `json:"facts"`
}

// upload posts a file through the API (multipart: project_id, then file).
func upload(t *testing.T, project, name string, data []byte) document {
	t.Helper()
	return st.upload(t, project, name, data)
}

func (s *stack) upload(t *testing.T, project, name string, data []byte) document {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("project_id", project)
	fw, _ := mw.CreateFormFile("file", name)
	_, _ = fw.Write(data)
	_ = mw.Close()
	req, _ := http.NewRequest("POST", s.url+"/api/documents", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 202 {
		t.Fatalf("upload %s: %d %s", name, resp.StatusCode, body)
	}
	var d document
	if err := json.Unmarshal(body, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// waitDone polls the document through the API until complete or failed.
func waitDone(t *testing.T, id string, timeout time.Duration) document {
	t.Helper()
	return st.waitDone(t, id, timeout)
}

func (s *stack) waitDone(t *testing.T, id string, timeout time.Duration) document {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var d document
		s.mustCall(t, "GET", "/api/documents/"+id, nil, 200, &d)
		if d.PipelineStatus == worker.StatusComplete || d.PipelineStatus == worker.StatusFailed {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("document %s still %s (%d%%) after %s", id, d.PipelineStatus, d.Progress, timeout)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

type clause struct {
	ID          string  `json:"id"`
	Ordinal     int     `json:"ordinal"`
	Heading     string  `json:"heading"`
	Category    string  `json:"category"`
	Confidence  float64 `json:"confidence"`
	Text        string  `json:"text"`
	RiskLevel   string  `json:"risk_level"`
	Explanation string  `json:"explanation"`
}

func clauses(t *testing.T, id string) []clause { t.Helper(); return st.clauses(t, id) }

func (s *stack) clauses(t *testing.T, id string) []clause {
	t.Helper()
	var page struct{ Items []clause }
	s.mustCall(t, "GET", "/api/documents/"+id+"/clauses", nil, 200, &page)
	return page.Items
}

// download GETs a file through the API.
func (s *stack) download(t *testing.T, path string) []byte {
	t.Helper()
	req, _ := http.NewRequest("GET", s.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return b
}

func TestCUADContractsGoFromUploadToAnalysedClauses(t *testing.T) {
	t.Parallel()
	pdfs, err := fixtures.CUADPDFs()
	if err != nil {
		t.Fatal(err)
	}
	labels, err := fixtures.LoadLabels()
	if err != nil {
		t.Fatal(err)
	}
	project := newProject(t)
	ids := map[string]string{} // contract name -> document id
	for _, p := range pdfs {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		ids[fixtures.ContractName(p)] = upload(t, project, filepath.Base(p), data).ID
	}
	// Categories checked against the labels: common in CUAD and clear-cut.
	checked := []string{"Governing Law", "Anti-Assignment", "License Grant", "Audit Rights", "Cap on Liability", "Insurance"}
	found, labelled := map[string]int{}, map[string]int{}
	for name, id := range ids {
		d := waitDone(t, id, 5*time.Minute)
		if d.PipelineStatus != worker.StatusComplete {
			t.Errorf("%s: %s (%s)", name, d.PipelineStatus, deref(d.ErrorMessage))
			continue
		}
		cs := clauses(t, id)
		if len(cs) < 5 || d.PageCount == nil || *d.PageCount < 1 || d.Progress != 100 {
			t.Errorf("%s: %d clauses, pages %v, progress %d", name, len(cs), d.PageCount, d.Progress)
		}
		cats := map[string]bool{}
		for i, c := range cs {
			if c.Ordinal != i+1 || c.Text == "" || c.Category == "" || c.Explanation == "" {
				t.Errorf("%s: bad clause %+v", name, c)
				break
			}
			switch c.RiskLevel {
			case "low", "medium", "high":
			default:
				t.Errorf("%s: risk %q", name, c.RiskLevel)
			}
			cats[c.Category] = true
		}
		for _, cat := range checked {
			if labels.Has(name, cat) {
				labelled[cat]++
				if cats[cat] {
					found[cat]++
				}
			}
		}
	}
	total, hits := 0, 0
	for _, cat := range checked {
		t.Logf("%-18s found in %d of %d contracts labelled with it", cat, found[cat], labelled[cat])
		total += labelled[cat]
		hits += found[cat]
	}
	if labelled["Governing Law"] < 10 || float64(found["Governing Law"]) < 0.8*float64(labelled["Governing Law"]) {
		t.Errorf("Governing Law clauses found in %d of %d labelled contracts", found["Governing Law"], labelled["Governing Law"])
	}
	if float64(hits) < 0.6*float64(total) {
		t.Errorf("labelled categories found: %d of %d", hits, total)
	}
}

func TestDOCXAndOCRImageUploads(t *testing.T) {
	t.Parallel()
	eachStorage(t, testDOCXAndOCRImageUploads)
}

func testDOCXAndOCRImageUploads(t *testing.T, st *stack) {
	project := st.newProject(t)
	docx, err := fixtures.SampleDOCX()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := fixtures.CUADDir()
	if err != nil {
		t.Fatal(err)
	}
	png, err := fixtures.RenderPage(filepath.Join(dir, "pdf", "ADAMSGOLFINC_03_21_2005-EX-10.17-ENDORSEMENT_AGREEMENT.pdf"), 2, 200, "png")
	if err != nil {
		t.Fatal(err)
	}
	dDocx := st.upload(t, project, "msa.docx", docx)
	dPNG := st.upload(t, project, "scan.png", png)

	d := st.waitDone(t, dDocx.ID, 3*time.Minute)
	if d.PipelineStatus != worker.StatusComplete || d.FileType != "docx" {
		t.Fatalf("docx: %s %s %s", d.FileType, d.PipelineStatus, deref(d.ErrorMessage))
	}
	if got := st.download(t, "/api/documents/"+dDocx.ID+"/file"); !bytes.Equal(got, docx) {
		t.Errorf("docx downloads %d bytes, uploaded %d", len(got), len(docx))
	}
	var gov bool
	for _, c := range st.clauses(t, dDocx.ID) {
		if strings.Contains(c.Text, "laws of the State of Delaware") {
			gov = true
			if c.Category != "Governing Law" {
				t.Errorf("governing law clause classified as %q: %q", c.Category, c.Text)
			}
		}
	}
	if !gov {
		t.Error("docx: no clause with the governing law text")
	}

	d = st.waitDone(t, dPNG.ID, 3*time.Minute)
	if d.PipelineStatus != worker.StatusComplete || d.FileType != "png" {
		t.Fatalf("png: %s %s %s", d.FileType, d.PipelineStatus, deref(d.ErrorMessage))
	}
	var text strings.Builder
	for _, c := range st.clauses(t, dPNG.ID) {
		text.WriteString(c.Text + "\n")
	}
	for _, w := range []string{"ENDORSEMENT", "WATSON", "ADAMS GOLF"} {
		if !strings.Contains(text.String(), w) {
			t.Errorf("OCR'd clauses lack %q", w)
		}
	}
}

func TestDamagedAndPasswordProtectedPDFsFailWithClearErrors(t *testing.T) {
	t.Parallel()
	project := newProject(t)
	enc, err := fixtures.EncryptedPDF("hunter2-secret")
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		upload(t, project, "locked.pdf", enc).ID:                   extract.MsgEncryptedPDF,
		upload(t, project, "broken.pdf", fixtures.CorruptPDF()).ID: extract.MsgCorruptPDF,
	}
	for id, want := range cases {
		d := waitDone(t, id, 2*time.Minute)
		if d.PipelineStatus != worker.StatusFailed || d.ErrorMessage == nil || *d.ErrorMessage != want {
			t.Errorf("%s: %s %q, want failed %q", d.OriginalName, d.PipelineStatus, deref(d.ErrorMessage), want)
		}
	}
}

func TestReportThroughTheAPI(t *testing.T) {
	t.Parallel()
	eachStorage(t, testReportThroughTheAPI)
}

func testReportThroughTheAPI(t *testing.T, st *stack) {
	project := st.newProject(t)
	dir, _ := fixtures.CUADDir()
	data, err := os.ReadFile(filepath.Join(dir, "pdf", "ADAMSGOLFINC_03_21_2005-EX-10.17-ENDORSEMENT_AGREEMENT.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	doc := st.upload(t, project, "adams-endorsement.pdf", data)
	if d := st.waitDone(t, doc.ID, 3*time.Minute); d.PipelineStatus != worker.StatusComplete {
		t.Fatalf("%s %s", d.PipelineStatus, deref(d.ErrorMessage))
	}
	cs := st.clauses(t, doc.ID)
	var decided clause
	for _, c := range cs {
		if c.Category != "Other" {
			decided = c
			break
		}
	}
	if decided.ID == "" {
		t.Fatal("no classified clause")
	}
	st.mustCall(t, "POST", "/api/clauses/"+decided.ID+"/decisions", map[string]string{"decision": "negotiate", "comment": "Cap this exposure."}, 201, nil)
	var rp struct{ ID, Status string }
	st.mustCall(t, "POST", "/api/documents/"+doc.ID+"/reports", nil, 202, &rp)
	deadline := time.Now().Add(2 * time.Minute)
	for rp.Status != "complete" {
		if rp.Status == "failed" || time.Now().After(deadline) {
			t.Fatalf("report status %s", rp.Status)
		}
		time.Sleep(200 * time.Millisecond)
		st.mustCall(t, "GET", "/api/reports/"+rp.ID, nil, 200, &rp)
	}
	get := func(format string) []byte {
		return st.download(t, "/api/reports/"+rp.ID+"/download?format="+format)
	}
	html := string(get("html"))
	for _, want := range []string{"adams-endorsement.pdf", "<svg", decided.Category, "Cap this exposure.", "negotiate"} {
		if !strings.Contains(html, want) {
			t.Errorf("HTML report lacks %q", want)
		}
	}
	pdfPath := filepath.Join(t.TempDir(), "report.pdf")
	if err := os.WriteFile(pdfPath, get("pdf"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdftotext", pdfPath, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext on the report: %v %s", err, out)
	}
	for _, want := range []string{"adams-endorsement.pdf", decided.Category, "Cap this exposure."} {
		if !strings.Contains(string(out), want) {
			t.Errorf("PDF report lacks %q", want)
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
