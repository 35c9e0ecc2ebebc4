package backend

import (
	"sync"
	"time"

	"github.com/contract-lucidity/contract-lucidity/services/internal/accesstoken"
)

// principalTTL bounds how long a loaded principal is reused. Revocation
// (disabling a user, a role change, a password change or reset, signing
// out) is a database change that this replica applies to its cache at once
// (reset); other replicas see it when their entry expires. 750 ms, plus
// the time of the query that loaded the entry, keeps that under a second
// without any message between replicas to lose.
const principalTTL = 750 * time.Millisecond

// principalCacheMax bounds the entries; a full cache starts over.
const principalCacheMax = 10_000

// principalCache holds the principals loaded in the last principalTTL, per
// user, session and token generation: a burst of requests of one session
// (a page's calls) costs one query. Only valid principals are cached; the
// *principal values are shared and must not be modified.
type principalCache struct {
	mu sync.Mutex
	m  map[principalKey]cachedPrincipal
	// epoch counts resets: a load that started before a reset must not
	// store what it read, which may predate the revocation.
	epoch uint64
	now   func() time.Time
}

type principalKey struct {
	user, session string
	generation    int64
}

type cachedPrincipal struct {
	p  *principal
	at time.Time
}

func newPrincipalCache() *principalCache {
	return &principalCache{m: map[principalKey]cachedPrincipal{}, now: time.Now}
}

// get returns a fresh entry, or nil and the epoch to pass to put.
func (c *principalCache) get(k principalKey) (*principal, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[k]; ok && c.now().Sub(e.at) < principalTTL {
		return e.p, c.epoch
	}
	return nil, c.epoch
}

// put stores p, loaded since get returned epoch, unless a reset happened
// in between. start is when the load began: the entry ages from then.
func (c *principalCache) put(k principalKey, p *principal, epoch uint64, start time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if epoch != c.epoch {
		return
	}
	if len(c.m) >= principalCacheMax {
		now := c.now()
		for key, e := range c.m {
			if now.Sub(e.at) >= principalTTL {
				delete(c.m, key)
			}
		}
		if len(c.m) >= principalCacheMax {
			c.m = map[principalKey]cachedPrincipal{}
		}
	}
	c.m[k] = cachedPrincipal{p: p, at: start}
}

// reset forgets every entry: this replica revoked something.
func (c *principalCache) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	clear(c.m)
}

// verifiedTokens remembers access tokens whose signature and claims were
// verified, until they expire: a token's validity never changes before
// then (revocation is the principal's business, above). Expired and
// unknown tokens take the full path, with its audit.
type verifiedTokens struct {
	mu sync.Mutex
	m  map[string]verifiedToken
}

type verifiedToken struct {
	claims *accesstoken.Claims // shared: not to be modified
	until  time.Time
}

func (v *verifiedTokens) get(raw string, now time.Time) *accesstoken.Claims {
	v.mu.Lock()
	defer v.mu.Unlock()
	if e, ok := v.m[raw]; ok && now.Before(e.until) {
		return e.claims
	}
	return nil
}

func (v *verifiedTokens) put(raw string, c *accesstoken.Claims, now time.Time) {
	if c.ExpiresAt == nil {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.m == nil || len(v.m) >= principalCacheMax {
		for k, e := range v.m {
			if !now.Before(e.until) {
				delete(v.m, k)
			}
		}
		if v.m == nil || len(v.m) >= principalCacheMax {
			v.m = map[string]verifiedToken{}
		}
	}
	v.m[raw] = verifiedToken{claims: c, until: c.ExpiresAt.Time}
}
