package backend

import (
	"context"
	"errors"
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
)

// limitKind names a rate limit and says what happens when Redis, which
// holds the shared counters, cannot be reached. Sign-ins and uploads are
// refused (503 with Retry-After: an unlimited password guessing run or an
// unbounded upload flood is worse than a short outage); every other call
// proceeds without the limit, so a Redis outage does not take reads down.
type limitKind struct {
	name   string // metric label
	closed bool   // refuse (503) when Redis is unavailable
	detail string // the 503 message
}

var (
	limitAPI      = limitKind{name: "api"}
	limitBadToken = limitKind{name: "bad_token"}
	limitRefresh  = limitKind{name: "refresh"}
	limitLogin    = limitKind{name: "login", closed: true,
		detail: "sign-in is temporarily unavailable; please try again in a few seconds"}
	limitUpload = limitKind{name: "upload", closed: true,
		detail: "uploads are temporarily unavailable; please try again in a few seconds"}
)

const (
	// limiterTimeout bounds one Redis round trip of the limiter, so a hung
	// Redis slows a request by at most this much.
	limiterTimeout = time.Second
	// limiterPause skips Redis for a while after a failure, so an outage
	// does not cost every request a timeout.
	limiterPause = 5 * time.Second
	// outageRetryAfter is the Retry-After of a 503 during an outage.
	outageRetryAfter = 10
)

var errLimiterPaused = errors.New("redis unavailable (recent failure; not retried yet)")

// rateLimit consumes one request from the per-minute budget of key, shared
// by every replica through Redis. Over budget it returns 429 with
// Retry-After; with Redis unavailable it follows kind. perMinute <= 0 means
// no limit. The per-user API limit is served from leases (apiLeases).
func (s *Server) rateLimit(ctx context.Context, kind limitKind, key string, perMinute int) error {
	if perMinute <= 0 {
		return nil // no limit configured (configurations built in code)
	}
	if kind == limitAPI {
		return s.rateLimitLeased(ctx, kind, key, perMinute)
	}
	res, err := s.allow(ctx, key, perMinute)
	if err != nil {
		return s.limiterOutage(ctx, kind, err)
	}
	if res.Allowed > 0 {
		return nil
	}
	retry := max(int(math.Ceil(res.RetryAfter.Seconds())), 1)
	return &apiError{Status: http.StatusTooManyRequests, Detail: "too many requests", RetryAfter: retry}
}

func (s *Server) allow(ctx context.Context, key string, perMinute int) (*redis_rate.Result, error) {
	return s.allowN(ctx, key, perMinute, 1)
}

func (s *Server) allowN(ctx context.Context, key string, perMinute, n int) (*redis_rate.Result, error) {
	if until := s.limiterDownUntil.Load(); until != 0 && time.Now().UnixNano() < until {
		return nil, errLimiterPaused
	}
	lctx, cancel := context.WithTimeout(ctx, limiterTimeout)
	defer cancel()
	res, err := s.limiter.AllowN(lctx, "cl:rl:"+key, redis_rate.PerMinute(perMinute), n)
	if err != nil && ctx.Err() == nil {
		s.limiterDownUntil.Store(time.Now().Add(limiterPause).UnixNano())
	}
	return res, err
}

// limiterOutage applies kind's outage rule to a Redis failure: it is
// logged (at most every 10 s) and counted, then the call proceeds (nil) or
// is refused with 503.
func (s *Server) limiterOutage(ctx context.Context, kind limitKind, err error) error {
	if ctx.Err() != nil {
		return ctx.Err() // the client went away; not an outage
	}
	outcome := "allowed"
	if kind.closed {
		outcome = "refused"
	}
	s.metrics.limiterUnavailable.WithLabelValues(kind.name, outcome).Inc()
	now := time.Now().UnixNano()
	if last := s.limiterLoggedAt.Load(); now-last > int64(10*time.Second) && s.limiterLoggedAt.CompareAndSwap(last, now) {
		s.log.Error("rate limiter unavailable: Redis cannot be reached; API calls proceed without per-user limits, sign-ins and uploads are refused",
			"limit", kind.name, "error", err)
	}
	if kind.closed {
		return &apiError{Status: http.StatusServiceUnavailable, Detail: kind.detail, RetryAfter: outageRetryAfter}
	}
	return nil
}

// The per-user API limit is checked on every authenticated call, so it is
// taken from Redis in leases: a caller that used up its last lease within
// leaseTTL gets one twice as large (up to maxLease), a caller that did not
// gets one request at a time, as without leases. Leased requests are taken
// from the shared budget at once, so the limit holds across replicas; what
// a lease has left when it expires is lost, so a user who stops right after
// a burst may be refused up to maxLease requests (1% of the budget) early
// for the rest of that minute, per replica. With the default budget (100 a
// minute) a lease is one request: exactly the behaviour without leases.
const leaseTTL = time.Second

// maxLease is a hundredth of the budget, at most 100 requests.
func maxLease(perMinute int) int { return min(max(perMinute/100, 1), 100) }

type apiLeases struct {
	mu sync.Mutex
	m  map[string]*apiLease
}

type apiLease struct {
	left    int // requests not yet used
	size    int // of the last lease taken
	expires time.Time
}

func (s *Server) rateLimitLeased(ctx context.Context, kind limitKind, key string, perMinute int) error {
	now := time.Now()
	l := &s.leases
	l.mu.Lock()
	cur := l.m[key]
	if cur != nil && cur.left > 0 && now.Before(cur.expires) {
		cur.left--
		l.mu.Unlock()
		return nil
	}
	size := 1
	if cur != nil && now.Before(cur.expires) { // used up in time: a busy caller
		size = min(cur.size*2, maxLease(perMinute))
	}
	l.mu.Unlock()
	res, err := s.allowN(ctx, key, perMinute, size)
	if err == nil && res.Allowed == 0 && size > 1 {
		size = 1 // near the limit: one at a time
		res, err = s.allowN(ctx, key, perMinute, 1)
	}
	if err != nil {
		return s.limiterOutage(ctx, kind, err)
	}
	if res.Allowed == 0 {
		retry := max(int(math.Ceil(res.RetryAfter.Seconds())), 1)
		return &apiError{Status: http.StatusTooManyRequests, Detail: "too many requests", RetryAfter: retry}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil || len(l.m) >= 10_000 {
		for k, v := range l.m {
			if !now.Before(v.expires) {
				delete(l.m, k)
			}
		}
		if l.m == nil || len(l.m) >= 10_000 {
			l.m = map[string]*apiLease{}
		}
	}
	if cur := l.m[key]; cur != nil && now.Before(cur.expires) { // a concurrent request leased too
		cur.left += size - 1
		cur.size = max(cur.size, size)
		return nil
	}
	l.m[key] = &apiLease{left: size - 1, size: size, expires: now.Add(leaseTTL)}
	return nil
}
