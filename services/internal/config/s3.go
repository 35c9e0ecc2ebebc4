package config

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// S3 is the connection to an S3-compatible object store: the document
// storage (STORAGE_S3_*) or a backup destination (BACKUP_S3_*).
type S3 struct {
	Endpoint        string // host[:port]
	Secure          bool   // TLS; off only for an explicit http:// endpoint
	Region          string
	AccessKeyID     string
	SecretAccessKey string
	PathStyle       bool   // bucket in the path, not the host name (MinIO, SeaweedFS, ...)
	PartSize        uint64 // multipart part size: the memory one upload holds; 10,000 parts cap an object
	CAFile          string // PEM certificates trusted besides the system's (a private CA)

	// Document storage only.
	Bucket string
	Prefix string // "" or "a/b/": keys below it
	SSE    string // SSEAuto, SSES3 or SSENone
}

// Server-side encryption modes of STORAGE_S3_SSE.
const (
	// SSEAuto asks for SSE-S3 when the store accepts it and stores
	// without it (with a warning) when the store refuses it.
	SSEAuto = "auto"
	// SSES3 requires SSE-S3 (AES256, keys managed by the store).
	SSES3 = "s3"
	// SSENone never asks for it (encryption configured on the bucket).
	SSENone = "none"
)

// Storage backends of STORAGE_BACKEND.
const (
	StorageFilesystem = "filesystem"
	StorageS3         = "s3"
)

// S3FromEnv reads the S3 settings named prefix+ENDPOINT (host[:port] or a
// URL; default s3.amazonaws.com; TLS unless the URL says http://), REGION
// (us-east-1), ACCESS_KEY_ID and SECRET_ACCESS_KEY (required),
// FORCE_PATH_STYLE (false), PART_SIZE_MB (defPartMB, 5..5120) and CA_FILE.
func S3FromEnv(prefix string, defPartMB int, lookup func(string) (string, bool)) (S3, error) {
	l := loader{lookup: lookup}
	c := l.s3(prefix, defPartMB)
	if len(l.errs) > 0 {
		return S3{}, errors.Join(l.errs...)
	}
	return c, nil
}

func (l *loader) s3(prefix string, defPartMB int) S3 {
	c := S3{Endpoint: l.str(prefix+"ENDPOINT", "s3.amazonaws.com"), Secure: true,
		Region:      l.str(prefix+"REGION", "us-east-1"),
		AccessKeyID: l.str(prefix+"ACCESS_KEY_ID", ""), SecretAccessKey: l.str(prefix+"SECRET_ACCESS_KEY", "")}
	if strings.Contains(c.Endpoint, "://") {
		u, err := url.Parse(c.Endpoint)
		switch {
		case err != nil || u.Host == "" || (u.Path != "" && u.Path != "/"):
			l.fail(prefix+"ENDPOINT", "wants host[:port] or http(s)://host[:port], got %q", c.Endpoint)
		case u.Scheme == "https":
			c.Endpoint = u.Host
		case u.Scheme == "http":
			c.Endpoint, c.Secure = u.Host, false
		default:
			l.fail(prefix+"ENDPOINT", "scheme must be http or https, got %q", u.Scheme)
		}
	}
	if c.AccessKeyID == "" {
		l.fail(prefix+"ACCESS_KEY_ID", "is required")
	}
	if c.SecretAccessKey == "" {
		l.fail(prefix+"SECRET_ACCESS_KEY", "is required")
	}
	c.PathStyle = l.boolean(prefix+"FORCE_PATH_STYLE", false)
	c.PartSize = uint64(l.integer(prefix+"PART_SIZE_MB", defPartMB, 5, 5120)) << 20
	c.CAFile = l.str(prefix+"CA_FILE", "")
	return c
}

// storageS3 reads STORAGE_S3_*: the connection, STORAGE_S3_BUCKET
// (required), STORAGE_S3_PREFIX and STORAGE_S3_SSE.
func (l *loader) storageS3() S3 {
	c := l.s3("STORAGE_S3_", 8)
	c.Bucket = l.str("STORAGE_S3_BUCKET", "")
	if c.Bucket == "" {
		l.fail("STORAGE_S3_BUCKET", "is required with STORAGE_BACKEND=s3")
	}
	if p := strings.Trim(l.str("STORAGE_S3_PREFIX", ""), "/"); p != "" {
		if strings.Contains(p, "//") || strings.Contains(p, "..") || strings.Contains(p, "\\") {
			l.fail("STORAGE_S3_PREFIX", "must be a plain key prefix like cl/production, got %q", p)
		}
		c.Prefix = p + "/"
	}
	c.SSE = strings.ToLower(l.str("STORAGE_S3_SSE", SSEAuto))
	switch c.SSE {
	case SSEAuto, SSES3, SSENone:
	default:
		l.fail("STORAGE_S3_SSE", "must be auto, s3 or none, got %q", c.SSE)
	}
	return c
}

// String names the store for people: endpoint and bucket, never a key.
func (c S3) String() string {
	scheme := "https"
	if !c.Secure {
		scheme = "http"
	}
	s := fmt.Sprintf("%s://%s", scheme, c.Endpoint)
	if c.Bucket != "" {
		s += "/" + c.Bucket + "/" + c.Prefix
	}
	return s
}

// StorageS3FromEnv reads STORAGE_S3_* whatever STORAGE_BACKEND says (the
// storage migration needs both stores).
func StorageS3FromEnv(lookup func(string) (string, bool)) (S3, error) {
	l := loader{lookup: lookup}
	c := l.storageS3()
	if len(l.errs) > 0 {
		return S3{}, errors.Join(l.errs...)
	}
	return c, nil
}
