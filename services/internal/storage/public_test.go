package storage

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
)

// Objects are private: no ACL is set on an upload or a trashed copy, so
// the store refuses a request without the credentials (only the backend,
// after its own authorisation, reads them). SeaweedFS honours canned ACLs:
// an object stored public-read would be served here.
func TestS3ObjectsAreNotPublic(t *testing.T) {
	s := newS3(t)
	ctx := context.Background()
	anonymous := func(object string) {
		t.Helper()
		u := "http://" + s.cfg.Endpoint + "/" + s.cfg.Bucket + "/" + (&url.URL{Path: object}).EscapedPath()
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusForbidden || strings.Contains(string(b), "confidential") {
			t.Errorf("anonymous GET %s: %d %.60q, want 403", object, resp.StatusCode, b)
		}
	}
	for _, size := range []int64{-1, 21} { // multipart, single PUT
		put := func() {
			if _, err := s.Put(ctx, DocumentKey(docID), strings.NewReader("confidential contract"), size); err != nil {
				t.Fatal(err)
			}
		}
		put()
		anonymous(s.cfg.Prefix + DocumentKey(docID))
		if err := s.TrashDocument(ctx, docID, nil); err != nil {
			t.Fatal(err)
		}
		for o := range s.client.ListObjects(ctx, s.cfg.Bucket, minio.ListObjectsOptions{Prefix: s.trashPrefix(DocumentKey(docID))}) {
			anonymous(o.Key)
		}
	}
}
