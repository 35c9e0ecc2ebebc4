package backup

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"

	"github.com/minio/minio-go/v7"

	"github.com/contract-lucidity/contract-lucidity/services/internal/config"
	"github.com/contract-lucidity/contract-lucidity/services/internal/storage"
)

// S3Config is an S3-compatible destination's connection, from BACKUP_S3_*.
type S3Config = config.S3

// S3ConfigFromEnv reads BACKUP_S3_ENDPOINT (host[:port], or a URL; default
// s3.amazonaws.com; TLS unless the URL says http://), BACKUP_S3_REGION
// (us-east-1), BACKUP_S3_ACCESS_KEY_ID and BACKUP_S3_SECRET_ACCESS_KEY
// (required), BACKUP_S3_FORCE_PATH_STYLE (false), BACKUP_S3_PART_SIZE_MB (16)
// and BACKUP_S3_CA_FILE (extra trusted CA certificates, PEM).
func S3ConfigFromEnv(env func(string) (string, bool)) (S3Config, error) {
	return config.S3FromEnv("BACKUP_S3_", 16, env)
}

type s3Dest struct {
	client *minio.Client
	bucket string
	prefix string // "" or "a/b/" (with the trailing slash)
	cfg    S3Config
}

// newS3 connects to the destination the way the document storage does
// (storage.NewS3Client: TLS, the extra CA).
func newS3(cfg S3Config, bucket, prefix string) (*s3Dest, error) {
	client, err := storage.NewS3Client(cfg, "BACKUP_S3_CA_FILE")
	if err != nil {
		return nil, err
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
