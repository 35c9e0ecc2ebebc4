package backend

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/contract-lucidity/contract-lucidity/services/internal/storage"
)

// MaxUploadDuration bounds one upload request (a read deadline on its
// connection). A temporary upload file not written for longer than this is
// certainly abandoned, whichever replica created it.
const MaxUploadDuration = time.Hour

var errShuttingDown = &apiError{Status: http.StatusServiceUnavailable, RetryAfter: 5,
	Detail: "the server is restarting and the upload was not stored; please upload the file again"}

// upload is one upload request in flight.
type upload struct {
	rc *http.ResponseController
	// ctx is the request's context, cancelled as well when shutdown gives
	// up waiting: the store then abandons the upload (removes its
	// temporary file, aborts its multipart upload).
	ctx     context.Context
	cancel  context.CancelFunc
	aborted atomic.Bool
}

// uploadTracker knows the uploads in flight, so shutdown can abort them
// cleanly instead of leaving partial files behind.
type uploadTracker struct {
	mu      sync.Mutex
	active  map[*upload]struct{}
	closing bool
	wg      sync.WaitGroup
}

// begin registers an upload; false once shutdown has aborted uploads.
func (t *uploadTracker) begin(w http.ResponseWriter, r *http.Request) (*upload, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closing {
		return nil, false
	}
	u := &upload{rc: http.NewResponseController(w)}
	u.ctx, u.cancel = context.WithCancel(r.Context())
	// Best effort: not every ResponseWriter supports deadlines.
	_ = u.rc.SetReadDeadline(time.Now().Add(MaxUploadDuration))
	t.active[u] = struct{}{}
	t.wg.Add(1)
	return u, true
}

func (t *uploadTracker) end(u *upload) {
	t.mu.Lock()
	delete(t.active, u)
	t.mu.Unlock()
	u.cancel()
	t.wg.Done()
}

// abortUploads stops reading every upload body (the handlers see a read
// error, answer 503 and remove their temporary file) and waits up to wait
// for them to finish. It returns how many were aborted.
func (s *Server) abortUploads(wait time.Duration) int {
	t := &s.uploads
	t.mu.Lock()
	t.closing = true
	n := 0
	for u := range t.active {
		u.aborted.Store(true)
		_ = u.rc.SetReadDeadline(time.Now())
		n++
	}
	t.mu.Unlock()
	s.metrics.uploadsAborted.Add(float64(n))
	done := make(chan struct{})
	go func() { t.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(wait):
	}
	return n
}

// abandonLeftovers cancels the uploads whose handlers did not finish in
// time, as the process is about to exit: the store removes what they
// wrote (what a killed process leaves, RemoveStale finds later).
func (t *uploadTracker) abandonLeftovers(log *slog.Logger) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for u := range t.active {
		u.cancel()
		log.Warn("abandoned an unfinished upload")
	}
}

// readError maps an error reading the client's body: too large, cut off by
// shutdown, or malformed.
func (u *upload) readError(err error) error {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return errStatus(http.StatusRequestEntityTooLarge, "upload exceeds the size limit")
	case u.aborted.Load():
		return errShuttingDown
	}
	var ne interface{ Timeout() bool }
	if errors.As(err, &ne) && ne.Timeout() {
		return errStatus(http.StatusRequestTimeout, "the upload took longer than %s", MaxUploadDuration)
	}
	return unprocessable("malformed multipart body")
}

// storageFailure marks an error of our storage, not of the client's body.
type storageFailure struct{ err error }

func (e *storageFailure) Error() string { return e.err.Error() }
func (e *storageFailure) Unwrap() error { return e.err }

// storageError answers an upload the storage could not take: 507 when it
// is full (a volume, a quota), 503 with Retry-After when it cannot be
// reached, 500 otherwise; all are logged as errors and counted, since they
// need an operator.
func (s *Server) storageError(ctx context.Context, op string, err error) error {
	switch {
	case storage.NoSpace(err):
		s.metrics.uploadStorageErrors.WithLabelValues("no_space").Inc()
		s.log.ErrorContext(ctx, "upload not stored: document storage is full", "op", op, "error", err)
		return &apiError{Status: http.StatusInsufficientStorage,
			Detail: "the server's document storage is full, so the file was not stored; please try again later or ask an administrator to free space"}
	case storage.Unavailable(err):
		s.metrics.uploadStorageErrors.WithLabelValues("unavailable").Inc()
		s.log.ErrorContext(ctx, "upload not stored: document storage unavailable", "op", op, "error", err)
		return &apiError{Status: http.StatusServiceUnavailable, RetryAfter: outageRetryAfter,
			Detail: "the document storage is unavailable, so the file was not stored; please try again in a minute"}
	}
	s.metrics.uploadStorageErrors.WithLabelValues("io").Inc()
	s.log.ErrorContext(ctx, "upload not stored: storage error", "op", op, "error", err)
	return &apiError{Status: http.StatusInternalServerError, Detail: "the file could not be stored; please try again later"}
}

// storageReadError answers a download the storage could not serve: 503
// with Retry-After when it cannot be reached (logged), the error otherwise.
func (s *Server) storageReadError(ctx context.Context, err error) error {
	if storage.Unavailable(err) {
		s.log.ErrorContext(ctx, "document storage unavailable", "error", err)
		return &apiError{Status: http.StatusServiceUnavailable, RetryAfter: outageRetryAfter,
			Detail: "the document storage is unavailable; please try again in a minute"}
	}
	return err
}

// removeStaleUploads deletes what uploads abandoned by a crash or a
// killed process (of this or another replica) left: temporary files,
// incomplete multipart uploads.
func (s *Server) removeStaleUploads() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, err := s.store.RemoveStale(ctx, MaxUploadDuration+time.Minute)
	if err != nil {
		s.log.Warn("removing abandoned upload files failed", "error", err)
	}
	if n > 0 {
		s.log.Info("removed abandoned upload files", "count", n)
	}
}

// sweepStaleUploads repeats removeStaleUploads while serving, so files
// abandoned by another replica do not wait for our next restart.
func (s *Server) sweepStaleUploads(done <-chan struct{}) {
	t := time.NewTicker(30 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			s.removeStaleUploads()
		}
	}
}
