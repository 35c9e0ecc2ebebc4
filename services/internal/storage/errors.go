package storage

import (
	"context"
	"errors"
	"net"
	"net/http"
	"syscall"

	"github.com/minio/minio-go/v7"
)

// NoSpace reports whether err says the store is full: a full volume or
// quota (ENOSPC, EDQUOT), or an object store's quota or capacity.
func NoSpace(err error) bool {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return true
	}
	switch s3Error(err).Code {
	case "QuotaExceeded", "XMinioStorageFull", "XMinioAdminBucketQuotaExceeded", "StorageFull":
		return true
	}
	return false
}

// Unavailable reports whether err says the store cannot be reached or is
// overloaded right now (worth retrying later), as opposed to refusing the
// request.
func Unavailable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var op *net.OpError
	var dns *net.DNSError
	if errors.As(err, &op) || errors.As(err, &dns) {
		return true
	}
	// Other transports' timeouts; not a local file's error: syscall.Errno
	// is a net.Error too (it has Timeout and Temporary), and a read-only
	// or failing volume does not come back by retrying in a minute.
	var ne net.Error
	var errno syscall.Errno
	if errors.As(err, &ne) && !errors.As(err, &errno) {
		return true
	}
	resp := s3Error(err)
	switch resp.Code {
	case "ServiceUnavailable", "SlowDown", "InternalError", "RequestTimeout", "XMinioServerNotInitialized":
		return true
	}
	return resp.StatusCode >= http.StatusInternalServerError && resp.StatusCode != http.StatusNotImplemented
}

// s3Error is the S3 error response inside err (minio.ToErrorResponse does
// not look through wrapping).
func s3Error(err error) minio.ErrorResponse {
	var resp minio.ErrorResponse
	errors.As(err, &resp)
	return resp
}
