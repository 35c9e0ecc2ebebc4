package backend_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/contract-lucidity/contract-lucidity/services/internal/config"
	"github.com/contract-lucidity/contract-lucidity/services/internal/queue"
)

var pdfBytes = []byte("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
var pngBytes = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00")

func zipBytes(t *testing.T, files map[string]string) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for n, b := range files {
		w, _ := zw.Create(n)
		w.Write([]byte(b))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func docxBytes(t *testing.T) []byte {
	return zipBytes(t, map[string]string{
		"[Content_Types].xml": `<Types><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>`,
		"word/document.xml":   `<?xml version="1.0"?><w:document xmlns:w="x"><w:body/></w:document>`,
	})
}

// upload posts a multipart form: project_id first, then the file.
func (e *env) upload(token, projectID, name string, content []byte) *response {
	e.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("project_id", projectID)
	fw, _ := mw.CreateFormFile("file", name)
	fw.Write(content)
	mw.Close()
	req, _ := http.NewRequest("POST", e.http.URL+"/api/documents", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	return e.send(req)
}

// queued returns the jobs waiting in the stream.
func (e *env) queued() []queue.Job {
	e.t.Helper()
	msgs, err := e.rdb.XRange(context.Background(), queue.DefaultStream, "-", "+").Result()
	if err != nil {
		e.t.Fatal(err)
	}
	var out []queue.Job
	for _, m := range msgs {
		var j queue.Job
		json.Unmarshal([]byte(m.Values["job"].(string)), &j)
		out = append(out, j)
	}
	return out
}

func TestUploadIsTypedByContent(t *testing.T) {
	e := newEnv(t)
	p := e.createProject(e.admin, "Uploads")
	cases := []struct {
		name    string
		content []byte
		status  int
		ftype   string
	}{
		{"contract.pdf", pdfBytes, 202, "pdf"},
		{"scan.png", pngBytes, 202, "png"},
		{"contract.docx", docxBytes(t), 202, "docx"},
		{"noextension", pdfBytes, 202, "pdf"},
		{"image.pdf", pngBytes, 415, ""},                                                                   // PNG bytes named .pdf
		{"archive.docx", zipBytes(t, map[string]string{"readme.txt": "hi"}), 415, ""},                      // a zip that is not a DOCX
		{"page.html", []byte("<html><script>alert(1)</script></html>"), 415, ""},                           // unknown content
		{"fake.pdf", []byte("hello, I am text pretending to be a PDF document"), 415, ""},                  // extension alone is not enough
		{"polyglot.pdf", append([]byte("<html><script>alert(1)</script></html>\n"), pdfBytes...), 415, ""}, // HTML before %PDF-
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.upload(e.admin, p, tc.name, tc.content).want(tc.status)
			if tc.status != 202 {
				return
			}
			sum := sha256.Sum256(tc.content)
			if r.str("file_type") != tc.ftype || r.str("sha256") != hex.EncodeToString(sum[:]) ||
				r.str("pipeline_status") != "queued" || r.str("original_name") != tc.name || r.json["size_bytes"].(float64) != float64(len(tc.content)) {
				t.Fatalf("document: %s", r.body)
			}
			id := r.str("id")
			stored, err := os.ReadFile(filepath.Join(e.cfg.StoragePath, "documents", id, "original"))
			if err != nil || !bytes.Equal(stored, tc.content) {
				t.Fatalf("stored file: %v", err)
			}
			found := false
			for _, j := range e.queued() {
				found = found || (j.Kind == queue.KindDocument && j.ID == id)
			}
			if !found {
				t.Fatal("document not enqueued")
			}
		})
	}
	// The admin-editable list is enforced: without png, PNG uploads are refused.
	e.do("PUT", "/api/admin/settings", e.admin, map[string]any{"supported_file_types": []string{"pdf", "docx"}, "max_upload_size_mb": 5}).want(200)
	st := e.do("GET", "/api/settings", e.admin, nil).want(200)
	if fmt.Sprint(st.json["supported_file_types"]) != "[pdf docx]" || st.json["max_upload_size_mb"].(float64) != 5 {
		t.Fatalf("settings: %s", st.body)
	}
	e.upload(e.admin, p, "scan.png", pngBytes).want(415)
	e.upload(e.admin, p, "contract.pdf", pdfBytes).want(202)
	e.do("PUT", "/api/admin/settings", e.admin, map[string]any{"supported_file_types": []string{"exe"}, "max_upload_size_mb": 5}).want(422)
	e.do("PUT", "/api/admin/settings", e.admin, map[string]any{"supported_file_types": []string{"pdf"}, "max_upload_size_mb": 99999}).want(422)
	// Client paths never reach the file system.
	r := e.upload(e.admin, p, "../../../etc/evil.pdf", pdfBytes).want(202)
	if r.str("original_name") != "evil.pdf" {
		t.Fatalf("display name %q", r.str("original_name"))
	}
	if _, err := os.Stat(filepath.Join(e.cfg.StoragePath, "..", "etc")); err == nil {
		t.Fatal("client path used")
	}
}

func TestUploadSizeLimitIsEnforcedWhileStreaming(t *testing.T) {
	e := newEnv(t)
	p := e.createProject(e.admin, "Big")
	e.do("PUT", "/api/admin/settings", e.admin, map[string]any{"supported_file_types": []string{"pdf"}, "max_upload_size_mb": 1}).want(200)
	// A chunked body (no Content-Length), so only the streaming check can stop it.
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		mw.WriteField("project_id", p)
		fw, _ := mw.CreateFormFile("file", "big.pdf")
		fw.Write(pdfBytes)
		chunk := bytes.Repeat([]byte("0123456789abcdef"), 4096)
		for range 64 { // 4 MiB
			if _, err := fw.Write(chunk); err != nil {
				pw.CloseWithError(err)
				return
			}
		}
		mw.Close()
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", e.http.URL+"/api/documents", pr)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+e.admin)
	r := e.send(req).want(413)
	if !strings.Contains(r.detail(), "limit") {
		t.Fatalf("detail %q", r.detail())
	}
	pr.Close()
	// Nothing was kept: no document row, no file.
	var n int
	e.db.QueryRow(context.Background(), "SELECT count(*) FROM documents").Scan(&n)
	tmp, _ := os.ReadDir(filepath.Join(e.cfg.StoragePath, "tmp"))
	docs, _ := os.ReadDir(filepath.Join(e.cfg.StoragePath, "documents"))
	if n != 0 || len(tmp) != 0 || len(docs) != 0 {
		t.Fatalf("leftovers: rows=%d tmp=%d docs=%d", n, len(tmp), len(docs))
	}
	// Just under the limit is accepted.
	e.upload(e.admin, p, "ok.pdf", append(pdfBytes, bytes.Repeat([]byte{' '}, 1<<20-len(pdfBytes))...)).want(202)
}

func TestProjectVisibilityAndRoles(t *testing.T) {
	e := newEnv(t)
	owner := e.createUser("owner@example.com")
	viewer := e.createUser("viewer@example.com")
	outsider := e.createUser("outsider@example.com")
	p := e.createProject(owner.Access, "Acme deal")
	e.do("POST", "/api/projects", owner.Access, map[string]string{"name": "acme DEAL"}).want(409)
	doc := e.upload(owner.Access, p, "a.pdf", pdfBytes).want(202).str("id")
	e.exec(`INSERT INTO clauses (document_id, ordinal, category, text, risk_level) VALUES ($1, 1, 'Governing Law', 'This agreement is governed by Delaware law.', 'low')`, doc)
	var clause string
	e.db.QueryRow(context.Background(), "SELECT id FROM clauses WHERE document_id = $1", doc).Scan(&clause)
	e.do("PUT", "/api/projects/"+p+"/members/"+viewer.User["id"].(string), owner.Access, map[string]string{"role": "viewer"}).want(200)

	// Outsiders see nothing: 404, never 403.
	for _, path := range []string{"/api/projects/" + p, "/api/projects/" + p + "/documents", "/api/projects/" + p + "/members",
		"/api/documents/" + doc, "/api/documents/" + doc + "/file", "/api/documents/" + doc + "/clauses",
		"/api/clauses/" + clause + "/decisions", "/api/clauses/" + clause + "/similar"} {
		e.do("GET", path, outsider.Access, nil).want(404)
	}
	e.upload(outsider.Access, p, "x.pdf", pdfBytes).want(404)
	e.do("POST", "/api/clauses/"+clause+"/decisions", outsider.Access, map[string]string{"decision": "accept"}).want(404)
	e.do("DELETE", "/api/documents/"+doc, outsider.Access, nil).want(404)
	if items := e.do("GET", "/api/projects", outsider.Access, nil).want(200).items(); len(items) != 0 {
		t.Fatalf("outsider lists %v", items)
	}
	if r := e.do("GET", "/api/search?q=Delaware", outsider.Access, nil).want(200); len(r.items()) != 0 {
		t.Fatalf("outsider finds %s", r.body)
	}

	// Viewers read but cannot upload, decide, delete or manage.
	e.do("GET", "/api/documents/"+doc, viewer.Access, nil).want(200)
	e.do("GET", "/api/documents/"+doc+"/clauses", viewer.Access, nil).want(200)
	before := e.auditCount("permission_denied")
	e.upload(viewer.Access, p, "v.pdf", pdfBytes).want(403)
	e.do("POST", "/api/clauses/"+clause+"/decisions", viewer.Access, map[string]string{"decision": "accept"}).want(403)
	e.do("DELETE", "/api/documents/"+doc, viewer.Access, nil).want(403)
	e.do("POST", "/api/documents/"+doc+"/reprocess", viewer.Access, nil).want(403)
	e.do("PATCH", "/api/projects/"+p, viewer.Access, map[string]string{"name": "mine"}).want(403)
	e.do("PUT", "/api/projects/"+p+"/members/"+outsider.User["id"].(string), viewer.Access, map[string]string{"role": "admin"}).want(403)
	if after := e.auditCount("permission_denied"); after != before+6 {
		t.Fatalf("permission_denied events %d -> %d", before, after)
	}
	pl := e.do("GET", "/api/projects", viewer.Access, nil).want(200).items()
	if len(pl) != 1 || pl[0]["my_role"] != "viewer" || pl[0]["document_count"].(float64) != 1 {
		t.Fatalf("viewer projects: %v", pl)
	}

	// Promoted to editor, the same user may decide.
	e.do("PUT", "/api/projects/"+p+"/members/"+viewer.User["id"].(string), owner.Access, map[string]string{"role": "editor"}).want(200)
	e.do("POST", "/api/clauses/"+clause+"/decisions", viewer.Access, map[string]string{"decision": "negotiate", "comment": "cap it"}).want(201)
	// The last project admin cannot leave.
	e.do("DELETE", "/api/projects/"+p+"/members/"+owner.User["id"].(string), owner.Access, nil).want(422)
	members := e.do("GET", "/api/projects/"+p+"/members", viewer.Access, nil).want(200).items()
	if len(members) != 2 {
		t.Fatalf("members: %v", members)
	}
	// System admins see every project.
	if r := e.do("GET", "/api/projects/"+p, e.admin, nil).want(200); r.str("my_role") != "admin" {
		t.Fatalf("admin role %s", r.body)
	}
	e.do("DELETE", "/api/projects/"+p+"/members/"+viewer.User["id"].(string), owner.Access, nil).want(204)
	e.do("GET", "/api/documents/"+doc, viewer.Access, nil).want(404)
}

func TestSupportedFileTypesEnvironmentBoundsTheSetting(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.SupportedFileTypes = []string{"pdf", "docx"} })
	st := e.do("GET", "/api/settings", e.admin, nil).want(200)
	if fmt.Sprint(st.json["supported_file_types"]) != "[pdf docx]" {
		t.Fatalf("seeded settings: %s", st.body)
	}
	e.do("PUT", "/api/admin/settings", e.admin, map[string]any{"supported_file_types": []string{"pdf", "png"}, "max_upload_size_mb": 5}).want(422)
	p := e.createProject(e.admin, "Bounded")
	e.upload(e.admin, p, "scan.png", pngBytes).want(415)
	e.upload(e.admin, p, "a.pdf", pdfBytes).want(202)
}
