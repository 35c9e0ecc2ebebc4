package e2e_test

import (
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/contract-lucidity/contract-lucidity/services/worker"
	"github.com/contract-lucidity/contract-lucidity/services/worker/fixtures"
)

// With STORAGE_BACKEND=s3 the whole path runs through the object store:
// the upload is streamed into it (encrypted by the server), the worker
// extracts from a temporary local copy it removes, downloads stream
// through the API (ranges too) and the object is not readable without
// credentials; a deleted document moves to the trash prefix; an upload
// cut off half-way leaves no object and no incomplete upload.
func TestObjectStorageEndToEnd(t *testing.T) {
	t.Parallel()
	s := s3st
	ctx := context.Background()
	client, err := s.s3.Client()
	if err != nil {
		t.Fatal(err)
	}
	project := s.newProject(t)
	dir, _ := fixtures.CUADDir()
	data, err := os.ReadFile(filepath.Join(dir, "pdf", "ADAMSGOLFINC_03_21_2005-EX-10.17-ENDORSEMENT_AGREEMENT.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	doc := s.upload(t, project, "adams.pdf", data)
	key := "instance/documents/" + doc.ID + "/original"
	st, err := client.StatObject(ctx, s.s3.Bucket, key, minio.StatObjectOptions{})
	if err != nil || st.Size != int64(len(data)) {
		t.Fatalf("object %s: %d bytes, %v", key, st.Size, err)
	}
	if sse := st.Metadata.Get("X-Amz-Server-Side-Encryption"); sse != "AES256" {
		t.Fatalf("object stored with encryption %q", sse)
	}
	resp, err := http.Get("http://" + s.s3.Endpoint + "/" + s.s3.Bucket + "/" + key)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("anonymous GET of the object: %d", resp.StatusCode)
	}

	if d := s.waitDone(t, doc.ID, 3*time.Minute); d.PipelineStatus != worker.StatusComplete || len(s.clauses(t, doc.ID)) < 5 {
		t.Fatalf("pipeline: %s %s", d.PipelineStatus, deref(d.ErrorMessage))
	}
	if got := s.download(t, "/api/documents/"+doc.ID+"/file"); !bytes.Equal(got, data) {
		t.Fatalf("download: %d bytes, uploaded %d", len(got), len(data))
	}
	req, _ := http.NewRequest("GET", s.url+"/api/documents/"+doc.ID+"/file", nil)
	req.Header.Set("Authorization", "Bearer "+s.token)
	req.Header.Set("Range", "bytes=100-199")
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else {
		var part bytes.Buffer
		part.ReadFrom(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(part.Bytes(), data[100:200]) {
			t.Fatalf("range request: %d, %d bytes", resp.StatusCode, part.Len())
		}
	}
	// That the worker removes its local copies is checked after all the
	// tests (TestMain): other tests' documents are being processed now.

	s.mustCall(t, "DELETE", "/api/documents/"+doc.ID, nil, 204, nil)
	if _, err := client.StatObject(ctx, s.s3.Bucket, key, minio.StatObjectOptions{}); minio.ToErrorResponse(err).Code != "NoSuchKey" {
		t.Fatalf("deleted document still at its key: %v", err)
	}
	var trashed []string
	for o := range client.ListObjects(ctx, s.s3.Bucket, minio.ListObjectsOptions{Prefix: "instance/trash/documents/" + doc.ID + "/", Recursive: true}) {
		trashed = append(trashed, o.Key)
	}
	if len(trashed) != 1 {
		t.Fatalf("trash holds %v", trashed)
	}

	// An upload cut off half-way, after its first 8 MiB part was stored
	// (the client disconnects).
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("project_id", project)
	fw, _ := mw.CreateFormFile("file", "cut.pdf")
	fw.Write(append(append([]byte{}, data...), bytes.Repeat([]byte("0"), 12<<20)...))
	mw.Close()
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	head := fmt.Sprintf("POST /api/documents HTTP/1.1\r\nHost: backend\r\nAuthorization: Bearer %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
		s.token, mw.FormDataContentType(), body.Len())
	if _, err := conn.Write(append([]byte(head), body.Bytes()[:10<<20]...)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	conn.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		// Other tests upload to the same bucket: look for objects without
		// a row.
		var objects, uploads []string
		for o := range client.ListObjects(ctx, s.s3.Bucket, minio.ListObjectsOptions{Prefix: "instance/documents/", Recursive: true}) {
			var n int
			s.pool.QueryRow(ctx, `SELECT count(*) FROM documents WHERE storage_key = $1`, strings.TrimPrefix(o.Key, "instance/")).Scan(&n)
			if n == 0 && strings.TrimPrefix(o.Key, "instance/") != "documents/"+doc.ID+"/original" {
				objects = append(objects, o.Key)
			}
		}
		for u := range client.ListIncompleteUploads(ctx, s.s3.Bucket, "instance/", true) {
			uploads = append(uploads, u.Key)
		}
		var rows int
		s.pool.QueryRow(ctx, `SELECT count(*) FROM documents WHERE project_id = $1`, project).Scan(&rows)
		if len(objects) == 0 && len(uploads) == 0 && rows == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a cut upload: objects %v, incomplete uploads %v, %d rows", objects, uploads, rows)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
