package backup_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/contract-lucidity/contract-lucidity/services/internal/backup"
	"github.com/contract-lucidity/contract-lucidity/services/internal/testenv"
)

// The S3 destination against a real S3-compatible server (SeaweedFS):
// TLS by default (trusting a private CA), a multipart upload streamed from
// the archive, list, verify, restore; a failed backup leaves no object;
// and plain HTTP is used only when the endpoint says http://.
func TestS3DestinationRoundTrip(t *testing.T) {
	s3 := testenv.S3TB(t)
	env := map[string]string{
		"BACKUP_S3_ENDPOINT":          s3.TLSEndpoint, // host:port: TLS
		"BACKUP_S3_CA_FILE":           s3.CAFile,
		"BACKUP_S3_REGION":            s3.Region,
		"BACKUP_S3_ACCESS_KEY_ID":     s3.AccessKey,
		"BACKUP_S3_SECRET_ACCESS_KEY": s3.SecretKey,
		"BACKUP_S3_FORCE_PATH_STYLE":  "true",
		"BACKUP_S3_PART_SIZE_MB":      "5",
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	dest, err := backup.Open("s3://"+s3.Bucket+"/nightly/cl", lookup)
	if err != nil {
		t.Fatal(err)
	}
	if got := dest.String(); got != "s3://"+s3.Bucket+"/nightly/cl" || strings.Contains(got, s3.SecretKey) {
		t.Fatalf("destination name %q", got)
	}

	src := newInstance(t)
	fx := populate(t, src, 3)
	// An incompressible 7 MiB document makes the archive span two 5 MiB parts.
	if _, err := src.upload(context.Background(), fx.project, fx.lawyer, "scan.pdf", randomBytes(7<<20, 1)); err != nil {
		t.Fatal(err)
	}
	m := create(t, src, dest)
	if m.Archive.Size < 7<<20 {
		t.Fatalf("archive of %d bytes: the multipart path was not exercised", m.Archive.Size)
	}

	// A backup that fails half-way leaves nothing behind.
	ctx, cancel := context.WithCancel(context.Background())
	_, err = backup.Create(ctx, src.pool, src.store, dest, backup.Options{AfterSnapshot: cancel})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled backup: %v", err)
	}
	client, _ := s3.Client()
	var keys []string
	for o := range client.ListObjects(context.Background(), s3.Bucket, minio.ListObjectsOptions{Recursive: true}) {
		keys = append(keys, o.Key)
	}
	if len(keys) != 2 || !strings.HasPrefix(keys[0], "nightly/cl/"+m.ID+"/") {
		t.Fatalf("objects in the bucket: %v (want only the good backup's archive and manifest)", keys)
	}

	entries, err := backup.List(context.Background(), dest)
	if err != nil || len(entries) != 1 || entries[0].ID != m.ID || !entries[0].Complete {
		t.Fatalf("list: %+v %v", entries, err)
	}
	if _, err := backup.Verify(context.Background(), dest, m.ID); err != nil {
		t.Fatal(err)
	}
	dst := emptyInstance(t)
	if _, err := restore(dst, dest, m.ID); err != nil {
		t.Fatal(err)
	}
	if d := diffMaps(fingerprint(t, src.pool), fingerprint(t, dst.pool)); len(d) > 0 {
		t.Fatalf("restored tables differ: %v", d)
	}
	if d := diffMaps(storedFiles(t, src.store), storedFiles(t, dst.store)); len(d) > 0 {
		t.Fatalf("restored files differ: %v", d)
	}

	// TLS is the default: the plain HTTP port without a scheme fails, and
	// works only when the endpoint spells out http://.
	env["BACKUP_S3_ENDPOINT"] = s3.Endpoint
	plain, err := backup.Open("s3://"+s3.Bucket+"/nightly/cl", lookup)
	if err != nil {
		t.Fatal(err)
	}
	lctx, lcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer lcancel()
	if _, err := backup.List(lctx, plain); err == nil {
		t.Fatal("TLS to the plain HTTP port succeeded: is TLS off by default?")
	}
	env["BACKUP_S3_ENDPOINT"] = "http://" + s3.Endpoint
	plain, err = backup.Open("s3://"+s3.Bucket+"/nightly/cl", lookup)
	if err != nil {
		t.Fatal(err)
	}
	if entries, err := backup.List(context.Background(), plain); err != nil || len(entries) != 1 {
		t.Fatalf("list over http://: %v %v", entries, err)
	}
	// Wrong credentials are an error, not an empty list.
	env["BACKUP_S3_SECRET_ACCESS_KEY"] = "wrong"
	bad, _ := backup.Open("s3://"+s3.Bucket+"/nightly/cl", lookup)
	if _, err := backup.List(context.Background(), bad); err == nil {
		t.Fatal("wrong credentials listed the bucket")
	} else if strings.Contains(err.Error(), "wrong") || strings.Contains(err.Error(), s3.SecretKey) {
		t.Fatalf("an error shows a secret: %v", err)
	}
}

func TestS3ConfigFromEnv(t *testing.T) {
	env := func(m map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	keys := map[string]string{"BACKUP_S3_ACCESS_KEY_ID": "id", "BACKUP_S3_SECRET_ACCESS_KEY": "secret"}
	with := func(k, v string) map[string]string {
		m := map[string]string{k: v}
		for a, b := range keys {
			m[a] = b
		}
		return m
	}
	c, err := backup.S3ConfigFromEnv(env(keys))
	if err != nil || c.Endpoint != "s3.amazonaws.com" || !c.Secure || c.Region != "us-east-1" || c.PathStyle || c.PartSize != 16<<20 {
		t.Fatalf("defaults: %+v %v", c, err)
	}
	if c, err := backup.S3ConfigFromEnv(env(with("BACKUP_S3_ENDPOINT", "https://minio.local:9000"))); err != nil || c.Endpoint != "minio.local:9000" || !c.Secure {
		t.Fatalf("https endpoint: %+v %v", c, err)
	}
	if c, err := backup.S3ConfigFromEnv(env(with("BACKUP_S3_ENDPOINT", "http://minio.local:9000"))); err != nil || c.Secure {
		t.Fatalf("http endpoint: %+v %v", c, err)
	}
	for _, bad := range []map[string]string{
		{}, with("BACKUP_S3_ENDPOINT", "ftp://x"), with("BACKUP_S3_FORCE_PATH_STYLE", "maybe"), with("BACKUP_S3_PART_SIZE_MB", "1"),
	} {
		if _, err := backup.S3ConfigFromEnv(env(bad)); err == nil {
			t.Errorf("accepted %v", bad)
		}
	}
}
