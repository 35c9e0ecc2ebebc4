package backup

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Config is an S3-compatible destination's connection, from BACKUP_S3_*.
type S3Config struct {
	Endpoint        string // host[:port]
	Secure          bool   // TLS; off only for an explicit http:// endpoint
	Region          string
	AccessKeyID     string
	SecretAccessKey string
	PathStyle       bool   // bucket in the path, not the host name (MinIO, SeaweedFS, ...)
	PartSize        uint64 // multipart part size: the memory an upload holds, and 10,000 parts cap the archive
	CAFile          string // PEM certificates trusted besides the system's (a private CA)
}

// S3ConfigFromEnv reads BACKUP_S3_ENDPOINT (host[:port], or a URL; default
// s3.amazonaws.com; TLS unless the URL says http://), BACKUP_S3_REGION
// (us-east-1), BACKUP_S3_ACCESS_KEY_ID and BACKUP_S3_SECRET_ACCESS_KEY
// (required), BACKUP_S3_FORCE_PATH_STYLE (false), BACKUP_S3_PART_SIZE_MB (16)
// and BACKUP_S3_CA_FILE (extra trusted CA certificates, PEM).
func S3ConfigFromEnv(env func(string) (string, bool)) (S3Config, error) {
	get := func(k, def string) string {
		if v, ok := env(k); ok && strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v)
		}
		return def
	}
	var errs []error
	c := S3Config{Endpoint: get("BACKUP_S3_ENDPOINT", "s3.amazonaws.com"), Secure: true,
		Region:      get("BACKUP_S3_REGION", "us-east-1"),
		AccessKeyID: get("BACKUP_S3_ACCESS_KEY_ID", ""), SecretAccessKey: get("BACKUP_S3_SECRET_ACCESS_KEY", "")}
	if strings.Contains(c.Endpoint, "://") {
		u, err := url.Parse(c.Endpoint)
		switch {
		case err != nil || u.Host == "" || (u.Path != "" && u.Path != "/"):
			errs = append(errs, fmt.Errorf("BACKUP_S3_ENDPOINT: want host[:port] or http(s)://host[:port], got %q", c.Endpoint))
		case u.Scheme == "https":
			c.Endpoint = u.Host
		case u.Scheme == "http":
			c.Endpoint, c.Secure = u.Host, false
		default:
			errs = append(errs, fmt.Errorf("BACKUP_S3_ENDPOINT: scheme must be http or https, got %q", u.Scheme))
		}
	}
	if c.AccessKeyID == "" {
		errs = append(errs, errors.New("BACKUP_S3_ACCESS_KEY_ID is required for an s3:// destination"))
	}
	if c.SecretAccessKey == "" {
		errs = append(errs, errors.New("BACKUP_S3_SECRET_ACCESS_KEY is required for an s3:// destination"))
	}
	if v := get("BACKUP_S3_FORCE_PATH_STYLE", "false"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("BACKUP_S3_FORCE_PATH_STYLE: want true or false, got %q", v))
		}
		c.PathStyle = b
	}
	mb, err := strconv.Atoi(get("BACKUP_S3_PART_SIZE_MB", "16"))
	if err != nil || mb < 5 || mb > 5120 {
		errs = append(errs, errors.New("BACKUP_S3_PART_SIZE_MB: want a number of MiB between 5 and 5120"))
	}
	c.PartSize = uint64(mb) << 20
	c.CAFile = get("BACKUP_S3_CA_FILE", "")
	if len(errs) > 0 {
		return S3Config{}, errors.Join(errs...)
	}
	return c, nil
}

type s3Dest struct {
	client *minio.Client
	bucket string
	prefix string // "" or "a/b/" (with the trailing slash)
	cfg    S3Config
}

func newS3(cfg S3Config, bucket, prefix string) (*s3Dest, error) {
	lookup := minio.BucketLookupAuto
	if cfg.PathStyle {
		lookup = minio.BucketLookupPath
	}
	transport, err := minio.DefaultTransport(cfg.Secure)
	if err != nil {
		return nil, err
	}
	if cfg.CAFile != "" && transport.TLSClientConfig != nil {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("BACKUP_S3_CA_FILE: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("BACKUP_S3_CA_FILE %s holds no PEM certificate", cfg.CAFile)
		}
		transport.TLSClientConfig.RootCAs = pool
	}
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:        credentials.NewStaticV4(cfg.AccessKeyID, cfg.SecretAccessKey, ""),
		Secure:       cfg.Secure,
		Region:       cfg.Region,
		BucketLookup: lookup,
		Transport:    transport,
	})
	if err != nil {
		return nil, fmt.Errorf("s3 client for %s: %w", cfg.Endpoint, err)
	}
	if prefix != "" {
		prefix += "/"
	}
	return &s3Dest{client: client, bucket: bucket, prefix: prefix, cfg: cfg}, nil
}

func (s *s3Dest) String() string { return "s3://" + path.Join(s.bucket, s.prefix) }

// Put streams r as a multipart upload holding one part in memory; a failed
// upload is aborted, so no object appears.
func (s *s3Dest) Put(ctx context.Context, name string, r io.Reader, size int64) error {
	_, err := s.client.PutObject(ctx, s.bucket, s.prefix+name, r, size, minio.PutObjectOptions{
		PartSize:    s.cfg.PartSize,
		ContentType: contentType(name),
	})
	if err != nil {
		return fmt.Errorf("upload %s to %s: %w", name, s, err)
	}
	return nil
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".json":
		return "application/json"
	case ".gz":
		return "application/gzip"
	}
	return "application/octet-stream"
}

func (s *s3Dest) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	obj, err := s.client.GetObject(ctx, s.bucket, s.prefix+name, minio.GetObjectOptions{})
	if err == nil {
		_, err = obj.Stat()
	}
	if err != nil {
		if obj != nil {
			obj.Close()
		}
		if notFound(err) {
			return nil, fmt.Errorf("%s in %s: %w", name, s, fs.ErrNotExist)
		}
		return nil, fmt.Errorf("download %s from %s: %w", name, s, err)
	}
	return obj, nil
}

func notFound(err error) bool {
	code := minio.ToErrorResponse(err).Code
	return code == "NoSuchKey" || code == "NotFound"
}

func (s *s3Dest) List(ctx context.Context) ([]Object, error) {
	var out []Object
	for o := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix, Recursive: true}) {
		if o.Err != nil {
			return nil, fmt.Errorf("list %s: %w", s, o.Err)
		}
		out = append(out, Object{Name: strings.TrimPrefix(o.Key, s.prefix), Size: o.Size, Modified: o.LastModified})
	}
	return out, nil
}

func (s *s3Dest) Delete(ctx context.Context, names ...string) error {
	for _, n := range names {
		if err := s.client.RemoveObject(ctx, s.bucket, s.prefix+n, minio.RemoveObjectOptions{}); err != nil && !notFound(err) {
			return fmt.Errorf("delete %s from %s: %w", n, s, err)
		}
	}
	return nil
}
