package backend_test

import (
	"context"
	"strings"
	"testing"

	"github.com/contract-lucidity/contract-lucidity/services/internal/config"
	"github.com/contract-lucidity/contract-lucidity/services/internal/testenv"
)

// When the object store goes away, uploads and downloads answer 503 with
// Retry-After and a message saying so (not a 500, not a missing file), no
// row is left without its file, and what was stored before is served again
// once the store is back.
func TestObjectStoreOutageAnswers503AndLosesNothing(t *testing.T) {
	s3 := testenv.S3TB(t)
	e := newEnv(t, func(c *config.Config) {
		c.StorageBackend = config.StorageS3
		c.StorageS3 = config.S3{Endpoint: s3.Endpoint, Region: s3.Region, AccessKeyID: s3.AccessKey, SecretAccessKey: s3.SecretKey,
			PathStyle: true, PartSize: 5 << 20, Bucket: s3.Bucket, Prefix: "outage/", SSE: config.SSENone}
	})
	p := e.createProject(e.admin, "Outage")
	doc := e.upload(e.admin, p, "contract.pdf", pdfBytes).want(202).str("id")

	s3.Pause(t)
	r := e.upload(e.admin, p, "second.pdf", pdfBytes).want(503)
	if r.header.Get("Retry-After") == "" || !strings.Contains(r.detail(), "storage is unavailable") {
		t.Fatalf("upload during the outage: Retry-After %q, detail %q", r.header.Get("Retry-After"), r.detail())
	}
	var n int
	if err := e.db.QueryRow(context.Background(), `SELECT count(*) FROM documents WHERE project_id = $1`, p).Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d document rows (%v), want the first only", n, err)
	}
	r = e.do("GET", "/api/documents/"+doc+"/file", e.admin, nil).want(503)
	if r.header.Get("Retry-After") == "" {
		t.Fatalf("download during the outage: no Retry-After: %s", r.body)
	}
	if m := e.metrics(); !strings.Contains(m, `cl_upload_storage_errors_total{reason="unavailable"} 1`) {
		t.Error("the lost upload is not counted as unavailable")
	}

	s3.Resume(t)
	if got := e.do("GET", "/api/documents/"+doc+"/file", e.admin, nil).want(200).body; string(got) != string(pdfBytes) {
		t.Fatalf("after the outage the download returns %d bytes, want %d", len(got), len(pdfBytes))
	}
	e.upload(e.admin, p, "third.pdf", pdfBytes).want(202)
}
