package backend

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// MaxUploadDuration bounds one upload request (a read deadline on its
// connection). A temporary upload file not written for longer than this is
// certainly abandoned, whichever replica created it.
const MaxUploadDuration = time.Hour

var errShuttingDown = &apiError{Status: http.StatusServiceUnavailable, RetryAfter: 5,
	Detail: "the server is restarting and the upload was not stored; please upload the file again"}

// upload is one upload request in flight.
type upload struct {
	rc      *http.ResponseController
	tmp     string // its temporary file, once created
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
func (t *uploadTracker) begin(w http.ResponseWriter) (*upload, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closing {
		return nil, false
	}
	u := &upload{rc: http.NewResponseController(w)}
	// Best effort: not every ResponseWriter supports deadlines.
	_ = u.rc.SetReadDeadline(time.Now().Add(MaxUploadDuration))
	t.active[u] = struct{}{}
	t.wg.Add(1)
	return u, true
}

func (t *uploadTracker) setTemp(u *upload, name string) {
	t.mu.Lock()
	u.tmp = name
	t.mu.Unlock()
}

func (t *uploadTracker) end(u *upload) {
	t.mu.Lock()
	delete(t.active, u)
	t.mu.Unlock()
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

// removeLeftovers deletes the temporary files of uploads whose handlers
// did not finish in time, as the process is about to exit.
func (t *uploadTracker) removeLeftovers(log *slog.Logger) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for u := range t.active {
		if u.tmp != "" {
			if err := os.Remove(u.tmp); err == nil {
				log.Warn("removed the partial file of an unfinished upload")
			}
		}
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

type storageWriter struct{ w io.Writer }

func (sw storageWriter) Write(b []byte) (int, error) {
	n, err := sw.w.Write(b)
	if err != nil {
		err = &storageFailure{err: err}
	}
	return n, err
}

// storageError answers an upload the storage could not take: 507 when the
// volume is full (or over quota), 500 otherwise; both are logged as errors
// and counted, since they need an operator.
func (s *Server) storageError(ctx context.Context, op string, err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		s.metrics.uploadStorageErrors.WithLabelValues("no_space").Inc()
		s.log.ErrorContext(ctx, "upload not stored: document storage is full", "op", op, "error", err)
		return &apiError{Status: http.StatusInsufficientStorage,
			Detail: "the server's document storage is full, so the file was not stored; please try again later or ask an administrator to free space"}
	}
	s.metrics.uploadStorageErrors.WithLabelValues("io").Inc()
	s.log.ErrorContext(ctx, "upload not stored: storage error", "op", op, "error", err)
	return &apiError{Status: http.StatusInternalServerError, Detail: "the file could not be stored; please try again later"}
}

// removeStaleUploads deletes temporary upload files abandoned by a crash
// or a killed process (of this or another replica).
func (s *Server) removeStaleUploads() {
	n, err := s.store.RemoveStaleTemp(MaxUploadDuration + time.Minute)
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
