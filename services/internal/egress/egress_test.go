package egress

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestCheckClassifiesAddresses(t *testing.T) {
	strict := Policy{}
	open := Policy{AllowPrivate: true}
	listed := Policy{AllowedCIDRs: []netip.Prefix{netip.MustParsePrefix("10.20.0.0/16"), netip.MustParsePrefix("169.254.0.0/16")}}
	cases := []struct {
		addr                 string
		strict, open, listed string // "" allowed, else the reason
	}{
		{"93.184.216.34", "", "", ""},
		{"2606:2800:220:1:248:1893:25c8:1946", "", "", ""},
		{"169.254.169.254", ReasonForbidden, ReasonForbidden, ReasonForbidden}, // an allow-list cannot admit metadata
		{"::ffff:169.254.169.254", ReasonForbidden, ReasonForbidden, ReasonForbidden},
		{"64:ff9b::a9fe:a9fe", ReasonForbidden, ReasonForbidden, ReasonForbidden}, // NAT64 of 169.254.169.254
		{"2002:a9fe:a9fe::1", ReasonForbidden, ReasonForbidden, ReasonForbidden},  // 6to4 of it
		{"fd00:ec2::254", ReasonForbidden, ReasonForbidden, ReasonForbidden},
		{"fe80::1", ReasonForbidden, ReasonForbidden, ReasonForbidden},
		{"100.100.100.200", ReasonForbidden, ReasonForbidden, ReasonForbidden},
		{"168.63.129.16", ReasonForbidden, ReasonForbidden, ReasonForbidden},
		{"192.0.0.192", ReasonForbidden, ReasonForbidden, ReasonForbidden},
		{"0.0.0.0", ReasonForbidden, ReasonForbidden, ReasonForbidden},
		{"::", ReasonForbidden, ReasonForbidden, ReasonForbidden},
		{"224.0.0.1", ReasonForbidden, ReasonForbidden, ReasonForbidden},
		{"255.255.255.255", ReasonForbidden, ReasonForbidden, ReasonForbidden},
		{"127.0.0.1", ReasonPrivate, "", ReasonPrivate},
		{"::1", ReasonPrivate, "", ReasonPrivate},
		{"::ffff:127.0.0.1", ReasonPrivate, "", ReasonPrivate},
		{"10.0.0.5", ReasonPrivate, "", ReasonPrivate},
		{"10.20.3.4", ReasonPrivate, "", ""},
		{"172.16.0.1", ReasonPrivate, "", ReasonPrivate},
		{"192.168.1.1", ReasonPrivate, "", ReasonPrivate},
		{"100.64.0.1", ReasonPrivate, "", ReasonPrivate},
		{"fd12:3456::1", ReasonPrivate, "", ReasonPrivate},
		{"64:ff9b::a00:5", ReasonPrivate, "", ReasonPrivate}, // NAT64 of 10.0.0.5
	}
	reason := func(p Policy, a netip.Addr) string {
		if err := p.Check(a); err != nil {
			return err.(*BlockedError).Reason
		}
		return ""
	}
	for _, tc := range cases {
		a := netip.MustParseAddr(tc.addr)
		if got := reason(strict, a); got != tc.strict {
			t.Errorf("%s strict: %q, want %q", tc.addr, got, tc.strict)
		}
		if got := reason(open, a); got != tc.open {
			t.Errorf("%s allow-private: %q, want %q", tc.addr, got, tc.open)
		}
		if got := reason(listed, a); got != tc.listed {
			t.Errorf("%s allow-list: %q, want %q", tc.addr, got, tc.listed)
		}
	}
}

func TestCheckURLRefusesAddressLiterals(t *testing.T) {
	p := Policy{}
	for _, u := range []string{"http://169.254.169.254/latest/meta-data", "http://[::1]:8080/v1", "http://10.0.0.1/v1"} {
		if err := p.CheckURL(u); err == nil {
			t.Errorf("%s accepted", u)
		}
	}
	for _, u := range []string{"https://api.openai.com/v1", "http://model-server.ml.svc:8000/v1"} {
		if err := p.CheckURL(u); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
}

// counting is a real server that counts the requests it receives.
func counting(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestClientRefusesLoopbackAtConnectTime(t *testing.T) {
	srv, hits := counting(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("internal data")) })
	port := srv.URL[strings.LastIndex(srv.URL, ":"):]
	strict := NewClient(Policy{}, 5*time.Second)
	// A host name passes CheckURL; the resolved loopback address is refused
	// when the socket connects.
	for _, u := range []string{srv.URL, "http://localhost" + port} {
		resp, err := strict.Get(u)
		if err == nil {
			resp.Body.Close()
			t.Fatalf("%s: connected", u)
		}
		be, ok := Blocked(err)
		if !ok || be.Reason != ReasonPrivate || !be.Addr.IsLoopback() {
			t.Fatalf("%s: %v", u, err)
		}
	}
	if hits.Load() != 0 {
		t.Fatalf("the server received %d requests", hits.Load())
	}
	resp, err := NewClient(Policy{AllowPrivate: true}, 5*time.Second).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || hits.Load() != 1 {
		t.Fatalf("allowed: %d, %d hits", resp.StatusCode, hits.Load())
	}
}

func TestClientDoesNotFollowRedirects(t *testing.T) {
	target, hits := counting(t, func(w http.ResponseWriter, r *http.Request) {})
	redirector, _ := counting(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/latest/meta-data", http.StatusFound)
	})
	resp, err := NewClient(Policy{AllowPrivate: true}, 5*time.Second).Get(redirector.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || hits.Load() != 0 {
		t.Fatalf("status %d, target hit %d times", resp.StatusCode, hits.Load())
	}
}
