package testenv

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// The S3 server stores and returns objects for its identity, refuses a
// wrong secret, and serves HTTPS with a certificate that chains to CAFile.
func TestS3StoresObjectsForItsIdentityOnly(t *testing.T) {
	s := S3TB(t)
	ctx := context.Background()
	c, err := s.Client()
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(strings.Repeat("contract ", 1000))
	if _, err := c.PutObject(ctx, s.Bucket, "a/b.txt", bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	obj, err := c.GetObject(ctx, s.Bucket, "a/b.txt", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(obj)
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("read back %d bytes (%v)", len(got), err)
	}

	bad, _ := minio.New(s.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(s.AccessKey, "wrong-secret", ""),
		Region: s.Region, BucketLookup: minio.BucketLookupPath})
	if _, err := bad.ListBuckets(ctx); err == nil {
		t.Fatal("a wrong secret was accepted")
	}

	pem, err := os.ReadFile(s.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	sc, err := minio.New(s.TLSEndpoint, &minio.Options{Creds: credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""),
		Secure: true, Transport: tr, Region: s.Region, BucketLookup: minio.BucketLookupPath})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sc.StatObject(ctx, s.Bucket, "a/b.txt", minio.StatObjectOptions{}); err != nil {
		t.Fatalf("HTTPS with the CA: %v", err)
	}
	untrusted, _ := minio.New(s.TLSEndpoint, &minio.Options{Creds: credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""),
		Secure: true, Region: s.Region, BucketLookup: minio.BucketLookupPath})
	if _, err := untrusted.StatObject(ctx, s.Bucket, "a/b.txt", minio.StatObjectOptions{}); err == nil {
		t.Fatal("HTTPS without the CA was trusted")
	}
}
