// Package accesstoken signs and verifies the backend's access tokens: HS256
// JWTs (RFC 9068 profile) with a key id, issuer, audience and type, signed
// by the newest key of a key ring and accepted from any key of the ring.
//
// Rotation: the operator writes a new JWT_SECRET_KEY and moves the old one
// to JWT_PREVIOUS_SECRET_KEYS. New tokens carry the new key's id; tokens
// signed with the old key stay valid until they expire (30 minutes by
// default), so nobody is signed out. Once they have expired the old key can
// be dropped from the ring.
package accesstoken

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Fixed identity of our tokens: a token minted by another application that
// happens to share the key, or another kind of token, is refused.
const (
	Issuer   = "contract-lucidity"
	Audience = "contract-lucidity-api"
	Type     = "at+jwt" // header typ, RFC 9068
)

// Leeway absorbs clock skew between replicas.
const Leeway = 5 * time.Second

// Claims are the access token's claims. Generation is the user's
// token_generation when the token was issued (bumped by a password change
// or sign-out everywhere); Session is the refresh token family the token
// belongs to (revoked by sign-out).
type Claims struct {
	Role       string `json:"role"`
	Generation *int64 `json:"gen"`
	Session    string `json:"sid"`
	jwt.RegisteredClaims
}

// Ring holds the signing keys: the current one signs, all of them verify.
type Ring struct {
	current string
	keys    map[string][]byte
}

// KeyID derives a key's public id: a truncated hash, never the key itself.
func KeyID(secret string) string {
	sum := sha256.Sum256([]byte("contract-lucidity jwt kid\x00" + secret))
	return hex.EncodeToString(sum[:8])
}

// NewRing returns a ring that signs with current and also verifies tokens
// signed with any of previous (duplicates and empty entries are ignored).
func NewRing(current string, previous ...string) (*Ring, error) {
	if current == "" {
		return nil, errors.New("accesstoken: the current signing key is empty")
	}
	r := &Ring{current: KeyID(current), keys: map[string][]byte{}}
	for _, k := range append([]string{current}, previous...) {
		if k == "" {
			continue
		}
		r.keys[KeyID(k)] = []byte(k)
	}
	return r, nil
}

// CurrentKeyID is the id new tokens carry in their kid header.
func (r *Ring) CurrentKeyID() string { return r.current }

// Sign mints a token with the current key; issuer and audience are set here.
func (r *Ring) Sign(c Claims) (string, error) {
	c.Issuer = Issuer
	c.Audience = jwt.ClaimStrings{Audience}
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, c)
	t.Header["kid"] = r.current
	t.Header["typ"] = Type
	return t.SignedString(r.keys[r.current])
}

// Error is a rejected token. Expired tokens are ordinary; everything else
// is a forged, tampered or foreign token (Manipulation).
type Error struct {
	Reason  string
	Expired bool
}

func (e *Error) Error() string { return "access token rejected: " + e.Reason }

// Manipulation reports whether the token was not one of ours, unaltered.
func (e *Error) Manipulation() bool { return !e.Expired }

var (
	errType       = errors.New("wrong token type")
	errNoKeyID    = errors.New("no key id")
	errUnknownKey = errors.New("unknown key id")
)

// Verify checks signature (HS256 with the key named by kid), type, issuer,
// audience, expiry and issue time, and that sub, sid and gen are present.
func (r *Ring) Verify(raw string) (*Claims, error) {
	c := &Claims{}
	_, err := jwt.ParseWithClaims(raw, c, r.key,
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithIssuer(Issuer), jwt.WithAudience(Audience),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithLeeway(Leeway))
	if err != nil {
		return nil, classify(err)
	}
	if c.Subject == "" || c.Session == "" || c.Generation == nil || c.IssuedAt == nil {
		return nil, &Error{Reason: "missing claims"}
	}
	return c, nil
}

func (r *Ring) key(t *jwt.Token) (any, error) {
	typ, _ := t.Header["typ"].(string)
	if !strings.EqualFold(typ, Type) && !strings.EqualFold(typ, "application/"+Type) {
		return nil, errType
	}
	kid, _ := t.Header["kid"].(string)
	if kid == "" {
		return nil, errNoKeyID
	}
	k, ok := r.keys[kid]
	if !ok {
		return nil, errUnknownKey
	}
	return k, nil
}

// classify names the first reason a token failed. Expiry is checked last:
// an expired token that is also foreign is a manipulation.
func classify(err error) *Error {
	reasons := []struct {
		err    error
		reason string
	}{
		{jwt.ErrTokenMalformed, "malformed"},
		{errType, "wrong token type"},
		{errNoKeyID, "no key id"},
		{errUnknownKey, "unknown key id"},
		{jwt.ErrTokenSignatureInvalid, "bad signature or algorithm"},
		{jwt.ErrTokenUnverifiable, "unverifiable"},
		{jwt.ErrTokenInvalidIssuer, "wrong issuer"},
		{jwt.ErrTokenInvalidAudience, "wrong audience"},
		{jwt.ErrTokenRequiredClaimMissing, "missing claims"},
		{jwt.ErrTokenUsedBeforeIssued, "issued in the future"},
		{jwt.ErrTokenNotValidYet, "not valid yet"},
	}
	for _, r := range reasons {
		if errors.Is(err, r.err) {
			return &Error{Reason: r.reason}
		}
	}
	if errors.Is(err, jwt.ErrTokenExpired) {
		return &Error{Reason: "expired", Expired: true}
	}
	return &Error{Reason: "invalid claims"}
}
