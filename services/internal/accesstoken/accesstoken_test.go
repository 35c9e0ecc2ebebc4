package accesstoken

import (
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	oldKey = "old-key-old-key-old-key-old-key-0123456789"
	newKey = "new-key-new-key-new-key-new-key-0123456789"
)

func claims(now time.Time) Claims {
	gen := int64(3)
	return Claims{Role: "user", Generation: &gen, Session: "family-1", RegisteredClaims: jwt.RegisteredClaims{
		Subject: "user-1", IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)), ID: "jti-1",
	}}
}

// forge signs arbitrary claims and headers, as an attacker or a foreign
// issuer sharing the key would.
func forge(t *testing.T, m jwt.SigningMethod, key any, header map[string]any, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, c)
	for k, v := range header {
		if v == nil {
			delete(tok.Header, k)
		} else {
			tok.Header[k] = v
		}
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRotationKeepsPreviousKeyTokensValid(t *testing.T) {
	before, _ := NewRing(oldKey)
	after, _ := NewRing(newKey, oldKey)
	old, err := before.Sign(claims(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	c, err := after.Verify(old)
	if err != nil || c.Subject != "user-1" || *c.Generation != 3 || c.Session != "family-1" {
		t.Fatalf("token of the previous key: %v %+v", err, c)
	}
	fresh, _ := after.Sign(claims(time.Now()))
	hdr, _, _ := jwt.NewParser().ParseUnverified(fresh, &Claims{})
	if hdr.Header["kid"] != KeyID(newKey) || hdr.Header["typ"] != Type {
		t.Fatalf("new token header %v", hdr.Header)
	}
	if strings.Contains(fresh, newKey) || strings.Contains(KeyID(newKey), newKey[:8]) {
		t.Fatal("key material in the token")
	}
	// Once the old key leaves the ring, its tokens are unknown.
	final, _ := NewRing(newKey)
	if _, err := final.Verify(old); err == nil || err.(*Error).Reason != "unknown key id" {
		t.Fatalf("old token after the old key was dropped: %v", err)
	}
	if _, err := final.Verify(fresh); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyRefusesForeignAndTamperedTokens(t *testing.T) {
	ring, _ := NewRing(newKey, oldKey)
	now := time.Now()
	good := jwt.MapClaims{"sub": "u", "sid": "f", "gen": 0, "role": "user", "iss": Issuer, "aud": Audience,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	with := func(k string, v any) jwt.MapClaims {
		c := jwt.MapClaims{}
		for kk, vv := range good {
			c[kk] = vv
		}
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	hdr := map[string]any{"kid": KeyID(newKey), "typ": Type}
	hdrWith := func(k string, v any) map[string]any {
		h := map[string]any{"kid": hdr["kid"], "typ": hdr["typ"]}
		h[k] = v
		return h
	}
	key := []byte(newKey)
	cases := []struct {
		name, token, reason string
	}{
		{"alg none", forge(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, hdr, good), "bad signature or algorithm"},
		{"HS512", forge(t, jwt.SigningMethodHS512, key, hdr, good), "bad signature or algorithm"},
		{"other key under our kid", forge(t, jwt.SigningMethodHS256, []byte("attacker-key-attacker-key-attacker"), hdr, good), "bad signature or algorithm"},
		{"unknown kid", forge(t, jwt.SigningMethodHS256, []byte("attacker-key-attacker-key-attacker"),
			hdrWith("kid", KeyID("attacker-key-attacker-key-attacker")), good), "unknown key id"},
		{"no kid", forge(t, jwt.SigningMethodHS256, key, hdrWith("kid", nil), good), "no key id"},
		{"plain JWT typ", forge(t, jwt.SigningMethodHS256, key, hdrWith("typ", "JWT"), good), "wrong token type"},
		{"no typ", forge(t, jwt.SigningMethodHS256, key, hdrWith("typ", nil), good), "wrong token type"},
		{"foreign audience", forge(t, jwt.SigningMethodHS256, key, hdr, with("aud", "another-service")), "wrong audience"},
		{"no audience", forge(t, jwt.SigningMethodHS256, key, hdr, with("aud", nil)), "missing claims"},
		{"foreign issuer", forge(t, jwt.SigningMethodHS256, key, hdr, with("iss", "someone-else")), "wrong issuer"},
		{"no expiry", forge(t, jwt.SigningMethodHS256, key, hdr, with("exp", nil)), "missing claims"},
		{"no session", forge(t, jwt.SigningMethodHS256, key, hdr, with("sid", nil)), "missing claims"},
		{"no generation", forge(t, jwt.SigningMethodHS256, key, hdr, with("gen", nil)), "missing claims"},
		{"no issue time", forge(t, jwt.SigningMethodHS256, key, hdr, with("iat", nil)), "missing claims"},
		{"issued in the future", forge(t, jwt.SigningMethodHS256, key, hdr, with("iat", now.Add(time.Hour).Unix())), "issued in the future"},
		{"expired and foreign", forge(t, jwt.SigningMethodHS256, key, hdr, jwt.MapClaims{"sub": "u", "sid": "f", "gen": 0,
			"iss": Issuer, "aud": "other", "iat": now.Add(-2 * time.Hour).Unix(), "exp": now.Add(-time.Hour).Unix()}), "wrong audience"},
		{"garbage", "junk.token.here", "malformed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ring.Verify(tc.token)
			te, ok := err.(*Error)
			if !ok || te.Reason != tc.reason || !te.Manipulation() {
				t.Fatalf("got %v, want manipulation %q", err, tc.reason)
			}
		})
	}
	expired := forge(t, jwt.SigningMethodHS256, key, hdr, with("exp", now.Add(-time.Minute).Unix()))
	if _, err := ring.Verify(expired); err == nil || !err.(*Error).Expired {
		t.Fatalf("expired: %v", err)
	}
	if _, err := ring.Verify(forge(t, jwt.SigningMethodHS256, key, hdr, good)); err != nil {
		t.Fatalf("a well-formed token: %v", err)
	}
	if _, err := ring.Verify(forge(t, jwt.SigningMethodHS256, key, hdrWith("typ", "application/at+jwt"), good)); err != nil {
		t.Fatalf("media type form of typ: %v", err)
	}
}

func TestNewRingNeedsACurrentKey(t *testing.T) {
	if _, err := NewRing("", oldKey); err == nil {
		t.Fatal("empty current key accepted")
	}
	r, err := NewRing(newKey, "", newKey, oldKey)
	if err != nil || len(r.keys) != 2 || r.CurrentKeyID() != KeyID(newKey) {
		t.Fatalf("ring %v %v", r, err)
	}
}
