// Package egress guards connections to addresses an administrator typed in
// (AI provider base URLs) against server-side request forgery.
//
// The check runs when the socket connects (a net.Dialer Control function
// sees the resolved address), so a host name that resolves to a public
// address when saved and to an internal one later (DNS rebinding) is still
// refused. Link-local and cloud metadata addresses are always refused;
// loopback and private ranges only unless the Policy allows them (an
// in-cluster model server). Clients never follow redirects and never use a
// proxy from the environment (the proxy would connect on our behalf,
// unchecked).
package egress

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

// Policy says which non-public destinations are allowed.
type Policy struct {
	// AllowPrivate admits loopback and private addresses
	// (AI_ALLOW_PRIVATE_ENDPOINTS=true).
	AllowPrivate bool
	// AllowedCIDRs admits these private ranges only
	// (AI_PRIVATE_ENDPOINT_CIDRS).
	AllowedCIDRs []netip.Prefix
}

// BlockedError is a destination the policy refuses.
type BlockedError struct {
	Addr   netip.Addr
	Reason string
}

func (e *BlockedError) Error() string {
	return fmt.Sprintf("connection to %s refused: %s", e.Addr, e.Reason)
}

// Reasons (stable, shown to administrators).
const (
	ReasonForbidden = "link-local, metadata or reserved addresses are never allowed"
	ReasonPrivate   = "loopback and private addresses are not allowed (AI_ALLOW_PRIVATE_ENDPOINTS or AI_PRIVATE_ENDPOINT_CIDRS admit an in-cluster server)"
)

func prefixes(s ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(s))
	for i, p := range s {
		out[i] = netip.MustParsePrefix(p)
	}
	return out
}

var (
	// Never reachable, whatever the policy: cloud metadata services and
	// ranges no provider lives in.
	forbidden = prefixes(
		"169.254.0.0/16",     // link-local: metadata of AWS, GCP, Azure, OpenStack (169.254.169.254)
		"fe80::/10",          // link-local
		"fd00:ec2::254/128",  // AWS metadata over IPv6
		"100.100.100.200/32", // Alibaba Cloud metadata
		"168.63.129.16/32",   // Azure wire server
		"192.0.0.0/24",       // IETF protocol assignments (Oracle Cloud metadata 192.0.0.192)
		"0.0.0.0/8",          // this network
		"240.0.0.0/4",        // reserved, and broadcast
		"224.0.0.0/4",        // multicast
		"::/128",             // unspecified
		"ff00::/8",           // multicast
		"100::/64",           // discard
	)
	// Internal networks: allowed only by the policy.
	private = prefixes(
		"127.0.0.0/8", "::1/128",
		"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7",
		"100.64.0.0/10",  // carrier-grade NAT, used by some cluster networks
		"198.18.0.0/15",  // benchmarking
		"192.88.99.0/24", // 6to4 relay anycast (deprecated)
	)
	// IPv6 prefixes that embed an IPv4 address in their last 32 bits.
	nat64 = prefixes("64:ff9b::/96", "64:ff9b:1::/48", "::/96")
)

// Check decides whether a connection to a may be made.
func (p Policy) Check(a netip.Addr) error {
	a = a.Unmap()
	if !a.IsValid() {
		return &BlockedError{Addr: a, Reason: ReasonForbidden}
	}
	if a.Is6() && !a.IsLoopback() {
		if embedded, ok := embeddedIPv4(a); ok {
			if err := p.Check(embedded); err != nil {
				return &BlockedError{Addr: a, Reason: err.(*BlockedError).Reason}
			}
		}
	}
	if a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a.IsMulticast() || a.IsUnspecified() || contains(forbidden, a) {
		return &BlockedError{Addr: a, Reason: ReasonForbidden}
	}
	if a.IsLoopback() || a.IsPrivate() || contains(private, a) {
		if p.AllowPrivate || contains(p.AllowedCIDRs, a) {
			return nil
		}
		return &BlockedError{Addr: a, Reason: ReasonPrivate}
	}
	return nil
}

func embeddedIPv4(a netip.Addr) (netip.Addr, bool) {
	b := a.As16()
	if contains(nat64, a) {
		return netip.AddrFrom4([4]byte(b[12:16])), true
	}
	if b[0] == 0x20 && b[1] == 0x02 { // 6to4: 2002:AABB:CCDD::/48
		return netip.AddrFrom4([4]byte(b[2:6])), true
	}
	return netip.Addr{}, false
}

func contains(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Control is a net.Dialer Control function: it runs for every address the
// dialer tries, after name resolution, before the connection is made.
func (p Policy) Control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("egress: unexpected dial address %q", address)
	}
	return p.Check(ap.Addr())
}

// CheckURL refuses, before any connection, a URL whose host is an address
// literal the policy forbids (host names are checked when they connect).
func (p Policy) CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	host := u.Hostname()
	if a, err := netip.ParseAddr(host); err == nil {
		return p.Check(a)
	}
	return nil
}

// NewClient returns an HTTP client that connects only where the policy
// allows, does not follow redirects (the 3xx answer is returned as it is)
// and ignores proxy settings.
func NewClient(p Policy, timeout time.Duration) *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: p.Control}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          20,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{Transport: tr, Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// Blocked returns the policy refusal inside err, if that is what it is.
func Blocked(err error) (*BlockedError, bool) {
	var be *BlockedError
	ok := errors.As(err, &be)
	return be, ok
}
