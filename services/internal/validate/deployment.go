package validate

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// DeploymentOptions tune the black-box checks.
type DeploymentOptions struct {
	// CAFile trusts an extra CA (a private or test certificate).
	CAFile string
	// Email and Password of a test account for the token refresh check;
	// without them that check is WARN.
	Email, Password string
	// LoginAttempts is how many failed sign-ins (each with a new random
	// email) may be sent before a 429 is expected (default 30).
	LoginAttempts int
	// ForeignOrigin is the origin CORS must refuse.
	ForeignOrigin string
}

// Deployment checks a running instance at base (its API_BASE_URL) from
// outside: https and HSTS, security headers, CORS, the login rate limit,
// error bodies, the OpenAPI document and token refresh. It sends failed
// sign-ins: the client's address is rate-limited for a minute afterwards.
func Deployment(ctx context.Context, base string, opt DeploymentOptions) Report {
	var r Report
	base = strings.TrimRight(strings.TrimSpace(base), "/")
	u, err := url.Parse(base)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		r.add("API_BASE_URL", Fail, "%q is not an http(s) URL", base)
		return r
	}
	client, err := httpClient(opt.CAFile)
	if err != nil {
		r.add("TLS", Fail, "%v", err)
		return r
	}
	d := &prober{ctx: ctx, base: base, c: client}

	// https and HSTS.
	root, rootErr := d.do("GET", "/", nil, nil)
	if u.Scheme != "https" {
		r.add("https", Fail, "API_BASE_URL %s is http: serve the instance over https only (TLS at the ingress)", base)
	} else if rootErr != nil {
		r.add("https", Fail, "%v", rootErr)
	} else {
		r.add("https", Pass, "TLS %s, certificate valid for %s", tlsVersion(root.TLS), u.Hostname())
	}
	if rootErr != nil {
		r.add("reachable", Fail, "GET %s/: %v", base, rootErr)
		return r
	}
	switch hsts := root.Header.Get("Strict-Transport-Security"); {
	case u.Scheme != "https":
		r.add("HSTS", Fail, "not served over https, so Strict-Transport-Security has no effect")
	case hsts == "":
		r.add("HSTS", Fail, "no Strict-Transport-Security header")
	case hstsMaxAge(hsts) < 15552000:
		r.add("HSTS", Fail, "Strict-Transport-Security %q: max-age below 180 days", hsts)
	default:
		r.add("HSTS", Pass, "%s", hsts)
	}

	// Security headers on the UI and on the API.
	doc, docErr := d.do("GET", "/api/openapi.json", nil, nil)
	for _, page := range []struct {
		name string
		resp *response
	}{{"/", root}, {"/api/openapi.json", doc}} {
		if page.resp == nil {
			continue
		}
		if missing := missingHeaders(page.resp.Header); len(missing) > 0 {
			r.add("security headers", Fail, "%s lacks %s", page.name, strings.Join(missing, "; "))
		} else {
			r.add("security headers", Pass, "%s: nosniff, no framing, no referrer, Content-Security-Policy", page.name)
		}
	}

	// The OpenAPI document.
	switch {
	case docErr != nil:
		r.add("openapi", Fail, "GET /api/openapi.json: %v", docErr)
	case doc.StatusCode != http.StatusOK:
		r.add("openapi", Fail, "GET /api/openapi.json: %s", doc.Status)
	default:
		var v struct {
			OpenAPI string         `json:"openapi"`
			Paths   map[string]any `json:"paths"`
		}
		if err := json.Unmarshal(doc.body, &v); err != nil || v.OpenAPI == "" || len(v.Paths) == 0 {
			r.add("openapi", Fail, "/api/openapi.json is not an OpenAPI document")
		} else {
			r.add("openapi", Pass, "OpenAPI %s, %d paths", v.OpenAPI, len(v.Paths))
		}
	}

	d.cors(&r, orDefault(opt.ForeignOrigin, "https://attacker.example"))
	d.errorsLeakNothing(&r)
	// Refresh before the rate limit check: afterwards sign-ins from this
	// address are refused for a minute.
	d.tokenRefresh(&r, opt.Email, opt.Password)
	attempts := opt.LoginAttempts
	if attempts <= 0 {
		attempts = 30
	}
	d.loginRateLimit(&r, attempts)
	return r
}

func httpClient(caFile string) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, err
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s holds no PEM certificate", caFile)
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second,
		// Redirects are answers to check, not to follow.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}, nil
}

type prober struct {
	ctx  context.Context
	base string
	c    *http.Client
}

type response struct {
	*http.Response
	body []byte
}

func (d *prober) do(method, path string, body any, hdr map[string]string) (*response, error) {
	var rd io.Reader
	if b, ok := body.([]byte); ok {
		rd = bytes.NewReader(b)
	} else if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(d.ctx, method, d.base+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := d.c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil, err
	}
	return &response{resp, b}, nil
}

func tlsVersion(cs *tls.ConnectionState) string {
	if cs == nil {
		return "?"
	}
	return tls.VersionName(cs.Version)
}

var maxAgeRE = regexp.MustCompile(`(?i)max-age\s*=\s*"?(\d+)`)

func hstsMaxAge(v string) int {
	m := maxAgeRE.FindStringSubmatch(v)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func missingHeaders(h http.Header) []string {
	var missing []string
	if !strings.EqualFold(h.Get("X-Content-Type-Options"), "nosniff") {
		missing = append(missing, "X-Content-Type-Options: nosniff")
	}
	csp := h.Get("Content-Security-Policy")
	if csp == "" {
		missing = append(missing, "Content-Security-Policy")
	}
	if xfo := strings.ToUpper(h.Get("X-Frame-Options")); xfo != "DENY" && xfo != "SAMEORIGIN" && !strings.Contains(csp, "frame-ancestors") {
		missing = append(missing, "X-Frame-Options or frame-ancestors")
	}
	if h.Get("Referrer-Policy") == "" {
		missing = append(missing, "Referrer-Policy")
	}
	return missing
}

// cors: a foreign origin gets no Access-Control-Allow-Origin, neither on a
// preflight nor on a simple request.
func (d *prober) cors(r *Report, origin string) {
	pre, err := d.do("OPTIONS", "/api/auth/login", nil, map[string]string{"Origin": origin,
		"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"})
	if err != nil {
		r.add("CORS", Fail, "preflight: %v", err)
		return
	}
	get, err := d.do("GET", "/api/openapi.json", nil, map[string]string{"Origin": origin})
	if err != nil {
		r.add("CORS", Fail, "GET with Origin: %v", err)
		return
	}
	for _, x := range []struct {
		what string
		resp *response
	}{{"preflight", pre}, {"GET", get}} {
		if acao := x.resp.Header.Get("Access-Control-Allow-Origin"); acao == "*" || acao == origin || acao == "null" {
			r.add("CORS", Fail, "%s from the foreign origin %s is allowed (Access-Control-Allow-Origin: %s); list the exact origins in CORS_ORIGINS", x.what, origin, acao)
			return
		}
	}
	r.add("CORS", Pass, "the foreign origin %s is refused", origin)
}

// leakRE matches what an error body must never show.
var leakRE = regexp.MustCompile(`(?i)goroutine \d|panic:|runtime error|\.go:\d+|SQLSTATE|pgx|pq: |syntax error at|stack trace|traceback|/home/|/usr/local/go|redis: |dial tcp`)

// errorsLeakNothing provokes errors (unknown route, malformed JSON, bad
// token, bad id) and checks each answer is a short JSON detail.
func (d *prober) errorsLeakNothing(r *Report) {
	probes := []struct {
		method, path string
		body         any
		hdr          map[string]string
	}{
		{"GET", "/api/no-such-route", nil, nil},
		{"POST", "/api/auth/login", []byte(`{"email": "x@example.com", "password": `), nil},
		{"GET", "/api/auth/me", nil, map[string]string{"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.e30.invalid"}},
		{"GET", "/api/documents/not-a-uuid'%20OR%201=1--", nil, map[string]string{"Authorization": "Bearer x"}},
		{"POST", "/api/auth/refresh", map[string]string{"refresh_token": strings.Repeat("A", 5000)}, nil},
	}
	for _, p := range probes {
		resp, err := d.do(p.method, p.path, p.body, p.hdr)
		if err != nil {
			r.add("error bodies", Fail, "%s %s: %v", p.method, p.path, err)
			return
		}
		if resp.StatusCode < 400 {
			r.add("error bodies", Fail, "%s %s answered %s, expected an error", p.method, p.path, resp.Status)
			return
		}
		var e struct {
			Detail string `json:"detail"`
		}
		if m := leakRE.Find(resp.body); m != nil {
			r.add("error bodies", Fail, "%s %s (%d) shows internals: %q", p.method, p.path, resp.StatusCode, m)
			return
		}
		if resp.StatusCode < 500 && (json.Unmarshal(resp.body, &e) != nil || e.Detail == "") {
			r.add("error bodies", Fail, "%s %s (%d) is not a JSON {\"detail\": ...}", p.method, p.path, resp.StatusCode)
			return
		}
	}
	r.add("error bodies", Pass, "%d provoked errors answer a JSON detail without internals", len(probes))
}

type tokenPair struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

// tokenRefresh signs in with the test account, exchanges the refresh token,
// uses the new access token, checks the old refresh token is refused
// (rotation) and signs out.
func (d *prober) tokenRefresh(r *Report, email, password string) {
	const check = "token refresh"
	if email == "" || password == "" {
		r.add(check, Warn, "not checked: no test account (--email, CL_VALIDATE_PASSWORD)")
		return
	}
	login, err := d.do("POST", "/api/auth/login", map[string]string{"email": email, "password": password}, nil)
	if err != nil || login.StatusCode != http.StatusOK {
		r.add(check, Fail, "sign-in with the test account failed: %s", statusOf(login, err))
		return
	}
	var t1, t2 tokenPair
	if json.Unmarshal(login.body, &t1) != nil || t1.RefreshToken == "" {
		r.add(check, Fail, "sign-in answered no refresh token")
		return
	}
	ref, err := d.do("POST", "/api/auth/refresh", map[string]string{"refresh_token": t1.RefreshToken}, nil)
	if err != nil || ref.StatusCode != http.StatusOK || json.Unmarshal(ref.body, &t2) != nil || t2.AccessToken == "" {
		r.add(check, Fail, "refresh failed: %s", statusOf(ref, err))
		return
	}
	defer d.do("POST", "/api/auth/logout", map[string]string{"refresh_token": t2.RefreshToken}, map[string]string{"Authorization": "Bearer " + t2.AccessToken})
	if t2.RefreshToken == t1.RefreshToken {
		r.add(check, Fail, "the refresh token was not rotated")
		return
	}
	me, err := d.do("GET", "/api/auth/me", nil, map[string]string{"Authorization": "Bearer " + t2.AccessToken})
	if err != nil || me.StatusCode != http.StatusOK {
		r.add(check, Fail, "the refreshed access token is refused: %s", statusOf(me, err))
		return
	}
	old, err := d.do("POST", "/api/auth/refresh", map[string]string{"refresh_token": t1.RefreshToken}, nil)
	if err != nil || old.StatusCode != http.StatusUnauthorized {
		r.add(check, Fail, "the rotated refresh token was not refused: %s", statusOf(old, err))
		return
	}
	r.add(check, Pass, "sign-in, refresh (rotated), the new access token works, the old refresh token is refused")
}

func statusOf(resp *response, err error) string {
	if err != nil {
		return err.Error()
	}
	if resp == nil {
		return "no response"
	}
	return resp.Status
}

// loginRateLimit sends failed sign-ins, each for a new random email (so
// the per-account lockout plays no part), until one is answered 429.
func (d *prober) loginRateLimit(r *Report, attempts int) {
	const check = "login rate limit"
	for i := 1; i <= attempts; i++ {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		resp, err := d.do("POST", "/api/auth/login", map[string]string{
			"email": "validate-" + hex.EncodeToString(b) + "@invalid.example", "password": "not-the-password-" + hex.EncodeToString(b)}, nil)
		if err != nil {
			r.add(check, Fail, "attempt %d: %v", i, err)
			return
		}
		if resp.StatusCode == http.StatusTooManyRequests {
			if resp.Header.Get("Retry-After") == "" {
				r.add(check, Fail, "429 after %d failed sign-ins, but without Retry-After", i)
				return
			}
			r.add(check, Pass, "429 with Retry-After %s s after %d failed sign-ins", resp.Header.Get("Retry-After"), i)
			return
		}
		if resp.StatusCode != http.StatusUnauthorized {
			r.add(check, Fail, "failed sign-in %d answered %s", i, resp.Status)
			return
		}
	}
	r.add(check, Fail, "no 429 after %d failed sign-ins from one address: set RATE_LIMIT_LOGIN_PER_MINUTE (default 5) and the ingress limit", attempts)
}
