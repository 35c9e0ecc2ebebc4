package backend

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// apiError is an error with a status and a message safe to show the client.
type apiError struct {
	Status int
	Detail string
	// RetryAfter, when set, is sent as the Retry-After header (seconds).
	RetryAfter int
}

func (e *apiError) Error() string { return fmt.Sprintf("%d: %s", e.Status, e.Detail) }

func errStatus(status int, format string, args ...any) error {
	return &apiError{Status: status, Detail: fmt.Sprintf(format, args...)}
}

var (
	errNotFound       = &apiError{Status: http.StatusNotFound, Detail: "not found"}
	errUnauthorized   = &apiError{Status: http.StatusUnauthorized, Detail: "not authenticated"}
	errForbidden      = &apiError{Status: http.StatusForbidden, Detail: "forbidden"}
	errMustChange     = &apiError{Status: http.StatusForbidden, Detail: "password change required"}
	errBadCredentials = &apiError{Status: http.StatusUnauthorized, Detail: "invalid email or password"}
)

// errorJSON is the body of every error response.
type errorJSON struct {
	Detail string `json:"detail"`
}

func unprocessable(format string, args ...any) error {
	return errStatus(http.StatusUnprocessableEntity, format, args...)
}

// handlerFunc is an HTTP handler that returns an error; errors become
// {"detail": ...} responses without internals.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (s *Server) adapt(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	}
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &ae):
	case errors.As(err, &mbe):
		ae = &apiError{Status: http.StatusRequestEntityTooLarge, Detail: "request body too large"}
	case errors.Is(err, pgx.ErrNoRows):
		ae = errNotFound
	case isUniqueViolation(err):
		ae = &apiError{Status: http.StatusConflict, Detail: "already exists"}
	case databaseUnavailable(err) && r.Context().Err() == nil:
		// An outage (or refused credentials mid-rotation) is not the
		// client's fault and not a bug: the client may retry shortly.
		s.metrics.databaseUnavailable.Inc()
		s.log.WarnContext(r.Context(), "database unavailable", "method", r.Method, "route", r.Pattern, "error", err)
		ae = errDatabaseUnavailable
	default:
		if r.Context().Err() == nil {
			s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "route", r.Pattern, "error", err)
		}
		ae = &apiError{Status: http.StatusInternalServerError, Detail: "internal error"}
	}
	if ae.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(ae.RetryAfter))
	}
	writeJSON(w, ae.Status, errorJSON{Detail: ae.Detail})
}

var errDatabaseUnavailable = &apiError{Status: http.StatusServiceUnavailable, RetryAfter: 5,
	Detail: "the database is temporarily unavailable; please try again in a few seconds"}

// databaseUnavailable reports whether err means PostgreSQL could not be
// reached or refused the connection (down, restarting, failing over, or
// refusing a password), as opposed to a failing statement.
func databaseUnavailable(err error) bool {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "08"), // connection exception
			pe.Code == "28P01", pe.Code == "28000", // credentials refused (e.g. mid-rotation)
			pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03", // shutdown, crash, cannot connect now
			pe.Code == "53300": // too many connections
			return true
		}
		return false
	}
	// A connection lost mid-statement.
	return pgconn.SafeToRetry(err) || errors.Is(err, io.ErrUnexpectedEOF) || isNetError(err)
}

func isNetError(err error) bool {
	var ne net.Error
	var oe *net.OpError
	return errors.As(err, &oe) || (errors.As(err, &ne) && ne.Timeout())
}

func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v)
}

// decodeJSON reads a JSON body of at most 1 MiB into v.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		if errors.Is(err, io.EOF) {
			return unprocessable("request body required")
		}
		return unprocessable("invalid JSON body")
	}
	return nil
}

// page is a list response; Total counts all matches, not only Items.
type page[T any] struct {
	Items []T   `json:"items"`
	Total int64 `json:"total"`
}

func (page[T]) schemaName() string { return schemaName(reflect.TypeFor[T]()) + "Page" }

// pagination reads ?limit=&offset= (limit 1..max, default def).
func pagination(r *http.Request, def, max int) (limit, offset int, err error) {
	limit, offset = def, 0
	if v := r.URL.Query().Get("limit"); v != "" {
		n, e := strconv.Atoi(v)
		if e != nil || n < 1 {
			return 0, 0, unprocessable("limit must be a positive integer")
		}
		limit = min(n, max)
	}
	if v := r.URL.Query().Get("offset"); v != "" {
		n, e := strconv.Atoi(v)
		if e != nil || n < 0 {
			return 0, 0, unprocessable("offset must be a non-negative integer")
		}
		offset = n
	}
	return limit, offset, nil
}

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// pathID returns a UUID path parameter; anything else is 404.
func pathID(r *http.Request, name string) (string, error) {
	v := r.PathValue(name)
	if !uuidRE.MatchString(v) {
		return "", errNotFound
	}
	return strings.ToLower(v), nil
}

func validUUID(s string) bool { return uuidRE.MatchString(s) }
