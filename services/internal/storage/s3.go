package storage

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/encrypt"

	"github.com/contract-lucidity/contract-lucidity/services/internal/config"
)

// S3 is a Store in an S3-compatible bucket (STORAGE_BACKEND=s3): objects
// at STORAGE_S3_PREFIX + key, never public (no ACLs are set, no URLs are
// handed out: downloads stream through the backend). Uploads are
// multipart, holding one part (STORAGE_S3_PART_SIZE_MB) in memory; a failed
// upload is aborted, so no object, complete or partial, appears.
//
// The trash is a prefix: TrashDocument copies each file (server-side) to
// trash/<key>/<unix seconds>-<random> and only then deletes it from its
// key, so a backup always finds it in one place or the other.
type S3 struct {
	client *minio.Client
	core   minio.Core
	cfg    config.S3
	sse    encrypt.ServerSide // nil: none requested
	log    *slog.Logger
}

var _ Store = (*S3)(nil)

// S3Options adjust OpenS3.
type S3Options struct {
	Log *slog.Logger
	// Wait is how long OpenS3 retries a store it cannot reach (default
	// 30 s); refused credentials or a missing bucket fail at once.
	Wait time.Duration
}

// NewS3Client builds a client for cfg: TLS unless the endpoint said
// http://, trusting CAFile's certificates besides the system's.
func NewS3Client(cfg config.S3, caVar string) (*minio.Client, error) {
	return newS3Client(cfg, caVar, 0)
}

// newS3Client is NewS3Client with at most maxRetries attempts per request
// (0: minio-go's default, 10).
func newS3Client(cfg config.S3, caVar string, maxRetries int) (*minio.Client, error) {
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
			return nil, fmt.Errorf("%s: %w", caVar, err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s %s holds no PEM certificate", caVar, cfg.CAFile)
		}
		transport.TLSClientConfig.RootCAs = pool
	}
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:        credentials.NewStaticV4(cfg.AccessKeyID, cfg.SecretAccessKey, ""),
		Secure:       cfg.Secure,
		Region:       cfg.Region,
		BucketLookup: lookup,
		Transport:    transport,
		MaxRetries:   maxRetries,
	})
	if err != nil {
		return nil, fmt.Errorf("s3 client for %s: %w", cfg.Endpoint, err)
	}
	return client, nil
}

// NewS3 returns the store without contacting it; OpenS3 also probes it.
func NewS3(cfg config.S3, log *slog.Logger) (*S3, error) {
	client, err := NewS3Client(cfg, "STORAGE_S3_CA_FILE")
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &S3{client: client, core: minio.Core{Client: client}, cfg: cfg, log: log}
	if cfg.SSE != config.SSENone {
		s.sse = encrypt.NewSSE()
	}
	return s, nil
}

// OpenS3 returns the store after a probe that writes, reads back and
// deletes a small object below .cl-probe/: refused credentials, a missing
// bucket or a missing permission fail with a message naming the setting
// to check. The probe also settles server-side encryption: with
// STORAGE_S3_SSE=auto a store that refuses SSE-S3 is used without it (a
// warning is logged); with s3, a store that refuses or does not confirm it
// is an error.
func OpenS3(ctx context.Context, cfg config.S3, opts S3Options) (*S3, error) {
	s, err := NewS3(cfg, opts.Log)
	if err != nil {
		return nil, err
	}
	wait := opts.Wait
	if wait <= 0 {
		wait = 30 * time.Second
	}
	pctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	for {
		err = s.probe(pctx)
		if err == nil || !Unavailable(err) {
			break
		}
		select {
		case <-pctx.Done():
			return nil, fmt.Errorf("document storage %s unreachable: %w", s, err)
		case <-time.After(time.Second):
		}
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (s *S3) probe(ctx context.Context) error {
	// One attempt per request: OpenS3 retries what is worth retrying, and
	// a store that answers SSE requests with an internal error must not
	// cost minio-go's ten attempts.
	client, err := newS3Client(s.cfg, "STORAGE_S3_CA_FILE", 1)
	if err != nil {
		return err
	}
	// Listing first: some stores create a missing bucket on the first
	// write, and a typo in STORAGE_S3_BUCKET must not quietly start a new
	// one (a GET, unlike HEAD bucket, says why it is refused).
	lctx, cancel := context.WithCancel(ctx)
	for o := range client.ListObjects(lctx, s.cfg.Bucket, minio.ListObjectsOptions{Prefix: s.cfg.Prefix, MaxKeys: 1}) {
		if o.Err != nil {
			cancel()
			return s.explain("list", o.Err)
		}
		break
	}
	cancel()
	key := s.cfg.Prefix + probeDir + "/" + randomSuffix()
	body := []byte("contract-lucidity storage probe\n")
	put := func() error {
		_, err := client.PutObject(ctx, s.cfg.Bucket, key, bytes.NewReader(body), int64(len(body)),
			minio.PutObjectOptions{ServerSideEncryption: s.sse, ContentType: "text/plain"})
		return err
	}
	err = put()
	if err != nil && s.sse != nil && refusedSSE(err) {
		// The store answered; does it take the object without SSE?
		sse := s.sse
		s.sse = nil
		perr := put()
		if perr != nil {
			s.sse = sse // not about encryption
		} else if s.cfg.SSE == config.SSES3 {
			return fmt.Errorf("document storage %s refused server-side encryption (STORAGE_S3_SSE=s3): %s", s, describe(err))
		} else {
			s.log.Warn("the document store refuses server-side encryption (SSE-S3); storing without it (enable encryption on the bucket, or set STORAGE_S3_SSE=none to silence this)",
				"store", s.String(), "answer", describe(err))
		}
		err = perr
	}
	if err != nil {
		return s.explain("write", err)
	}
	defer func() {
		if err := client.RemoveObject(context.WithoutCancel(ctx), s.cfg.Bucket, key, minio.RemoveObjectOptions{}); err != nil {
			s.log.Warn("could not remove the storage probe object", "key", key, "error", describe(err))
		}
	}()
	st, err := client.StatObject(ctx, s.cfg.Bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return s.explain("read", err)
	}
	obj, err := client.GetObject(ctx, s.cfg.Bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return s.explain("read", err)
	}
	got, err := io.ReadAll(obj)
	obj.Close()
	if err != nil {
		return s.explain("read", err)
	}
	if !bytes.Equal(got, body) {
		return fmt.Errorf("document storage %s returned other bytes than were written", s)
	}
	encryption := st.Metadata.Get("X-Amz-Server-Side-Encryption")
	switch {
	case s.sse == nil:
		encryption = "not requested"
	case encryption == "" && s.cfg.SSE == config.SSES3:
		return fmt.Errorf("document storage %s accepted but does not confirm server-side encryption (STORAGE_S3_SSE=s3)", s)
	case encryption == "":
		encryption = "requested, not confirmed by the store"
	}
	s.log.Info("document storage ready", "store", s.String(), "server_side_encryption", encryption)
	return nil
}

// explain turns a probe failure into a message naming what to check.
func (s *S3) explain(op string, err error) error {
	resp := s3Error(err)
	switch resp.Code {
	case "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken", "AuthorizationHeaderMalformed":
		return fmt.Errorf("document storage %s refused the credentials (%s): check STORAGE_S3_ACCESS_KEY_ID, STORAGE_S3_SECRET_ACCESS_KEY and STORAGE_S3_REGION", s, resp.Code)
	case "AccessDenied":
		return fmt.Errorf("document storage %s: access denied to %s objects below %q (the credentials need read, write, delete and list on the bucket)", s, op, s.cfg.Prefix)
	case "NoSuchBucket":
		return fmt.Errorf("document storage %s: bucket %q does not exist (STORAGE_S3_BUCKET)", s, s.cfg.Bucket)
	}
	return fmt.Errorf("document storage %s: %s test object: %w", s, op, err)
}

// refusedSSE: the store answered a request for SSE-S3 with an error that
// is not about credentials or the bucket (stores without SSE answer
// NotImplemented, InvalidArgument, or an internal error).
func refusedSSE(err error) bool {
	switch s3Error(err).Code {
	case "", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken", "AuthorizationHeaderMalformed",
		"AccessDenied", "NoSuchBucket", "SlowDown", "ServiceUnavailable":
		return false
	}
	return true
}

func (s *S3) String() string { return "s3 " + s.cfg.String() }

func (s *S3) object(key string) (string, error) {
	if err := CheckKey(key); err != nil {
		return "", err
	}
	return s.cfg.Prefix + key, nil
}

// Put streams r as a multipart upload (one part in memory) or, with a
// known size up to one part, a single PUT. An error of r fails the upload,
// which minio-go then aborts.
func (s *S3) Put(ctx context.Context, key string, r io.Reader, size int64) (int64, error) {
	name, err := s.object(key)
	if err != nil {
		return 0, err
	}
	g := &guardedReader{r: r}
	info, err := s.client.PutObject(ctx, s.cfg.Bucket, name, g, size, minio.PutObjectOptions{
		PartSize:             s.cfg.PartSize,
		ServerSideEncryption: s.sse,
		ContentType:          "application/octet-stream",
	})
	if err != nil {
		var re *readError
		if errors.As(err, &re) {
			return g.n, re.err // the reader's error, as the interface promises
		}
		return g.n, fmt.Errorf("store %s: %w", key, err)
	}
	if size < 0 && !g.eof {
		// The upload ended before the reader did (more than 10,000
		// parts): what is stored is not the whole file.
		_ = s.client.RemoveObject(context.WithoutCancel(ctx), s.cfg.Bucket, name, minio.RemoveObjectOptions{})
		return g.n, fmt.Errorf("store %s: larger than %d parts of %d MiB (STORAGE_S3_PART_SIZE_MB)", key, 10000, s.cfg.PartSize>>20)
	}
	return info.Size, nil
}

// readError carries an error of the caller's reader through minio-go.
type readError struct{ err error }

func (e *readError) Error() string { return e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

// guardedReader hands minio-go only io.EOF as the end: any other error,
// io.ErrUnexpectedEOF from a cut request body included (which minio-go
// would take for the end of the stream and complete a truncated object),
// becomes a readError that fails the upload.
type guardedReader struct {
	r   io.Reader
	n   int64
	eof bool
}

func (g *guardedReader) Read(b []byte) (int, error) {
	n, err := g.r.Read(b)
	g.n += int64(n)
	switch {
	case err == io.EOF:
		g.eof = true
	case err != nil:
		err = &readError{err}
	}
	return n, err
}

type s3File struct {
	*minio.Object
	info Info
}

func (f s3File) Info() Info { return f.info }

func (s *S3) open(ctx context.Context, name, key string) (File, error) {
	obj, err := s.client.GetObject(ctx, s.cfg.Bucket, name, minio.GetObjectOptions{})
	if err != nil {
		return nil, s.fail("open", key, err)
	}
	st, err := obj.Stat()
	if err != nil {
		obj.Close()
		return nil, s.fail("open", key, err)
	}
	return s3File{obj, Info{Key: key, Size: st.Size, ModTime: st.LastModified}}, nil
}

// fail wraps an S3 error; a missing object wraps fs.ErrNotExist.
func (s *S3) fail(op, key string, err error) error {
	if isNotFound(err) {
		return notExist(key)
	}
	return fmt.Errorf("%s %s in %s: %w", op, key, s, err)
}

func isNotFound(err error) bool {
	code := s3Error(err).Code
	return code == "NoSuchKey" || code == "NotFound"
}

func (s *S3) Open(ctx context.Context, key string) (File, error) {
	name, err := s.object(key)
	if err != nil {
		return nil, err
	}
	return s.open(ctx, name, key)
}

func (s *S3) Stat(ctx context.Context, key string) (Info, error) {
	name, err := s.object(key)
	if err != nil {
		return Info{}, err
	}
	st, err := s.client.StatObject(ctx, s.cfg.Bucket, name, minio.StatObjectOptions{})
	if err != nil {
		return Info{}, s.fail("stat", key, err)
	}
	return Info{Key: key, Size: st.Size, ModTime: st.LastModified}, nil
}

func (s *S3) Remove(ctx context.Context, key string) error {
	name, err := s.object(key)
	if err != nil {
		return err
	}
	if err := s.client.RemoveObject(ctx, s.cfg.Bucket, name, minio.RemoveObjectOptions{}); err != nil && !isNotFound(err) {
		return fmt.Errorf("remove %s from %s: %w", key, s, err)
	}
	return nil
}

// LocalFile downloads the object into os.TempDir (the worker's
// size-limited /tmp): pdftotext and tesseract read files, not streams.
func (s *S3) LocalFile(ctx context.Context, key string) (string, func(), error) {
	f, err := s.Open(ctx, key)
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	tmp, err := os.CreateTemp("", "cl-document-*")
	if err != nil {
		return "", nil, fmt.Errorf("local copy of %s: %w", key, err)
	}
	release := func() { os.Remove(tmp.Name()) }
	_, err = io.Copy(tmp, f)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		release()
		return "", nil, fmt.Errorf("local copy of %s: %w", key, err)
	}
	return tmp.Name(), release, nil
}

func (s *S3) List(ctx context.Context, fn func(Info) error) error {
	for _, top := range []string{"documents/", "reports/"} {
		for o := range s.client.ListObjects(ctx, s.cfg.Bucket, minio.ListObjectsOptions{Prefix: s.cfg.Prefix + top, Recursive: true}) {
			if o.Err != nil {
				return fmt.Errorf("list %s: %w", s, o.Err)
			}
			if err := fn(Info{Key: strings.TrimPrefix(o.Key, s.cfg.Prefix), Size: o.Size, ModTime: o.LastModified}); err != nil {
				return err
			}
		}
	}
	return nil
}

// trashPrefix is where copies of key go: one object per trashing, named
// by its time, so the newest is the last in listing order (until 2286).
func (s *S3) trashPrefix(key string) string { return s.cfg.Prefix + trashDir + "/" + key + "/" }

// TrashDocument copies each file to the trash, then deletes it from its
// key: at every moment the file is at its key, in the trash, or both.
func (s *S3) TrashDocument(ctx context.Context, documentID string, reportIDs []string) error {
	keys, err := trashKeys(documentID, reportIDs)
	if err != nil {
		return err
	}
	for o := range s.client.ListObjects(ctx, s.cfg.Bucket, minio.ListObjectsOptions{Prefix: s.cfg.Prefix + documentPrefix(documentID), Recursive: true}) {
		if o.Err != nil {
			return fmt.Errorf("trash document %s in %s: %w", documentID, s, o.Err)
		}
		if key := strings.TrimPrefix(o.Key, s.cfg.Prefix); key != DocumentKey(documentID) {
			keys = append(keys, key)
		}
	}
	return s.trash(ctx, keys)
}

func (s *S3) TrashReports(ctx context.Context, projectID string, reportIDs []string) error {
	if !uuidRE.MatchString(projectID) {
		return fmt.Errorf("invalid project id %q", projectID)
	}
	keys, err := reportKeys(reportIDs)
	if err != nil {
		return err
	}
	return s.trash(ctx, keys)
}

func (s *S3) trash(ctx context.Context, keys []string) error {
	stamp := strconv.FormatInt(time.Now().Unix(), 10) + "-" + randomSuffix()
	for _, key := range keys {
		src := s.cfg.Prefix + key
		_, err := s.client.ComposeObject(ctx,
			minio.CopyDestOptions{Bucket: s.cfg.Bucket, Object: s.trashPrefix(key) + stamp, Encryption: s.sse},
			minio.CopySrcOptions{Bucket: s.cfg.Bucket, Object: src})
		if isNotFound(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("trash %s in %s: %w", key, s, err)
		}
		if err := s.client.RemoveObject(ctx, s.cfg.Bucket, src, minio.RemoveObjectOptions{}); err != nil && !isNotFound(err) {
			return fmt.Errorf("trash %s in %s: %w", key, s, err)
		}
	}
	return nil
}

func (s *S3) OpenIncludingTrash(ctx context.Context, key string) (File, error) {
	f, err := s.Open(ctx, key)
	if errors.Is(err, os.ErrNotExist) {
		return s.openTrashed(ctx, key, err)
	}
	if err != nil {
		return nil, err
	}
	// The object may be trashed between Open and the first read (minio-go
	// fetches the content lazily): that read then finds the trashed copy.
	return &trashedMeanwhile{File: f, reopen: func() (File, error) { return s.openTrashed(ctx, key, err) }}, nil
}

// openTrashed opens the newest trashed copy of key, else returns notFound.
func (s *S3) openTrashed(ctx context.Context, key string, notFound error) (File, error) {
	newest := ""
	for o := range s.client.ListObjects(ctx, s.cfg.Bucket, minio.ListObjectsOptions{Prefix: s.trashPrefix(key), Recursive: true}) {
		if o.Err != nil {
			return nil, fmt.Errorf("list the trash of %s: %w", s, o.Err)
		}
		if o.Key > newest {
			newest = o.Key
		}
	}
	if newest == "" {
		if notFound == nil {
			notFound = notExist(key)
		}
		return nil, notFound
	}
	return s.open(ctx, newest, key)
}

// trashedMeanwhile reads the trashed copy when the object vanished before
// its first byte was read. Sequential reads only: ReadAt and Seek go to the
// object as opened.
type trashedMeanwhile struct {
	File
	reopen  func() (File, error)
	started bool
}

func (f *trashedMeanwhile) Read(p []byte) (int, error) {
	n, err := f.File.Read(p)
	if !f.started && n == 0 && err != nil && isNotFound(err) {
		nf, rerr := f.reopen()
		if rerr != nil {
			return 0, err
		}
		f.File.Close()
		f.File = nf
		n, err = f.File.Read(p)
	}
	if n > 0 {
		f.started = true
	}
	return n, err
}

// PurgeTrash removes trashed copies whose name says they were trashed
// before cutoff; objects with other names are left alone.
func (s *S3) PurgeTrash(ctx context.Context, cutoff time.Time) (int, error) {
	n := 0
	for o := range s.client.ListObjects(ctx, s.cfg.Bucket, minio.ListObjectsOptions{Prefix: s.cfg.Prefix + trashDir + "/", Recursive: true}) {
		if o.Err != nil {
			return n, fmt.Errorf("list the trash of %s: %w", s, o.Err)
		}
		stamp, _, ok := strings.Cut(path.Base(o.Key), "-")
		sec, err := strconv.ParseInt(stamp, 10, 64)
		if !ok || err != nil || !time.Unix(sec, 0).Before(cutoff) {
			continue
		}
		if err := s.client.RemoveObject(ctx, s.cfg.Bucket, o.Key, minio.RemoveObjectOptions{}); err != nil && !isNotFound(err) {
			return n, fmt.Errorf("purge %s from %s: %w", o.Key, s, err)
		}
		n++
	}
	return n, nil
}

// RemoveStale aborts multipart uploads below the prefix that were started
// more than olderThan ago: a process killed during an upload leaves one
// (invisible, but it holds its parts' storage). A lifecycle rule
// (AbortIncompleteMultipartUpload) on the bucket does the same.
func (s *S3) RemoveStale(ctx context.Context, olderThan time.Duration) (int, error) {
	cutoff := time.Now().Add(-olderThan)
	n := 0
	var errs []error
	for u := range s.client.ListIncompleteUploads(ctx, s.cfg.Bucket, s.cfg.Prefix, true) {
		if u.Err != nil {
			return n, fmt.Errorf("list incomplete uploads in %s: %w", s, u.Err)
		}
		if !u.Initiated.Before(cutoff) {
			continue
		}
		if err := s.core.AbortMultipartUpload(ctx, s.cfg.Bucket, u.Key, u.UploadID); err != nil && s3Error(err).Code != "NoSuchUpload" {
			errs = append(errs, fmt.Errorf("abort the upload of %s: %w", u.Key, err))
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

func (s *S3) CheckEmpty(ctx context.Context) error {
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for o := range s.client.ListObjects(lctx, s.cfg.Bucket, minio.ListObjectsOptions{Prefix: s.cfg.Prefix, Recursive: true}) {
		if o.Err != nil {
			return fmt.Errorf("check that the storage is empty: %w", o.Err)
		}
		if strings.HasPrefix(o.Key, s.cfg.Prefix+probeDir+"/") {
			continue
		}
		return &notEmpty{fmt.Sprintf("the document storage %s is not empty (it has %s)", s, strings.TrimPrefix(o.Key, s.cfg.Prefix))}
	}
	return nil
}

func randomSuffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// describe is an S3 error's code and message (no request details).
func describe(err error) string {
	if resp := s3Error(err); resp.Code != "" {
		return resp.Code + ": " + resp.Message
	}
	return err.Error()
}
