package config

import (
	"strings"
	"testing"
)

func TestStorageBackendS3(t *testing.T) {
	with := func(kv ...string) map[string]string {
		m := map[string]string{"DATABASE_URL": "postgres://localhost/cl", "REDIS_URL": "redis://localhost:6379/0",
			"STORAGE_BACKEND": "s3", "STORAGE_S3_BUCKET": "contracts",
			"STORAGE_S3_ACCESS_KEY_ID": "AKIAEXAMPLE", "STORAGE_S3_SECRET_ACCESS_KEY": "a-long-random-secret-value"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	c, err := LoadFrom(Worker, env(with()))
	if err != nil {
		t.Fatal(err)
	}
	s := c.StorageS3
	if c.StorageBackend != StorageS3 || s.Endpoint != "s3.amazonaws.com" || !s.Secure || s.Region != "us-east-1" || s.Bucket != "contracts" ||
		s.Prefix != "" || s.PathStyle || s.PartSize != 8<<20 || s.SSE != SSEAuto {
		t.Fatalf("defaults: %+v", s)
	}
	c, err = LoadFrom(Backend, env(with("STORAGE_S3_ENDPOINT", "http://seaweedfs:8333", "STORAGE_S3_PREFIX", "/cl/prod/",
		"STORAGE_S3_FORCE_PATH_STYLE", "true", "STORAGE_S3_SSE", "none", "STORAGE_S3_PART_SIZE_MB", "16")))
	if err != nil {
		t.Fatal(err)
	}
	if s := c.StorageS3; s.Endpoint != "seaweedfs:8333" || s.Secure || s.Prefix != "cl/prod/" || !s.PathStyle || s.SSE != SSENone || s.PartSize != 16<<20 {
		t.Fatalf("settings: %+v", s)
	}
	if got := c.StorageS3.String(); got != "http://seaweedfs:8333/contracts/cl/prod/" || strings.Contains(got, "secret") {
		t.Fatalf("String() = %q", got)
	}
	// The filesystem backend does not need (or check) the S3 settings, and
	// migrate does not read the storage at all.
	if c, err := LoadFrom(Worker, env(with("STORAGE_BACKEND", "filesystem", "STORAGE_S3_BUCKET", ""))); err != nil || c.StorageBackend != StorageFilesystem {
		t.Fatalf("filesystem: %v", err)
	}
	if _, err := LoadFrom(Migrate, env(with("STORAGE_S3_BUCKET", ""))); err != nil {
		t.Fatalf("migrate with incomplete storage settings: %v", err)
	}
	for _, tc := range []struct {
		kv   []string
		want string
	}{
		{[]string{"STORAGE_BACKEND", "gcs"}, "STORAGE_BACKEND"},
		{[]string{"STORAGE_S3_BUCKET", ""}, "STORAGE_S3_BUCKET"},
		{[]string{"STORAGE_S3_ACCESS_KEY_ID", ""}, "STORAGE_S3_ACCESS_KEY_ID"},
		{[]string{"STORAGE_S3_SECRET_ACCESS_KEY", ""}, "STORAGE_S3_SECRET_ACCESS_KEY"},
		{[]string{"STORAGE_S3_ENDPOINT", "ftp://x"}, "STORAGE_S3_ENDPOINT"},
		{[]string{"STORAGE_S3_SSE", "kms"}, "STORAGE_S3_SSE"},
		{[]string{"STORAGE_S3_PART_SIZE_MB", "1"}, "STORAGE_S3_PART_SIZE_MB"},
		{[]string{"STORAGE_S3_PREFIX", "a/../b"}, "STORAGE_S3_PREFIX"},
		{[]string{"ENVIRONMENT", "production", "STORAGE_S3_SECRET_ACCESS_KEY", "minioadmin"}, "STORAGE_S3_SECRET_ACCESS_KEY"},
	} {
		_, err := LoadFrom(Worker, env(with(tc.kv...)))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v", tc.kv, err)
		}
		if err != nil && strings.Contains(err.Error(), "a-long-random-secret-value") {
			t.Errorf("%v: the error shows the secret", tc.kv)
		}
	}
}
