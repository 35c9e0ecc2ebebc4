package frontend

import "net/http"

// ContentSecurityPolicy allows only same-origin scripts, styles and
// connections: no inline scripts or styles, no framing, no <base> tag. The UI
// builds its DOM (including the SVG risk chart) with DOM APIs and classes.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; object-src 'none'; " +
	"frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// securityHeaders are set on every response, the proxied API included.
var securityHeaders = [][2]string{
	{"Content-Security-Policy", ContentSecurityPolicy},
	{"Referrer-Policy", "no-referrer"},
	{"X-Content-Type-Options", "nosniff"},
	{"X-Frame-Options", "DENY"},
	{"Cross-Origin-Opener-Policy", "same-origin"},
	{"Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()"},
}

const hsts = "max-age=63072000; includeSubDomains"

func setSecurityHeaders(h http.Header, production bool) {
	for _, kv := range securityHeaders {
		h.Set(kv[0], kv[1])
	}
	if production {
		h.Set("Strict-Transport-Security", hsts)
	}
}

// dropUpstreamSecurityHeaders removes the headers the frontend sets itself
// from a proxied response, so each appears exactly once. A Content-Security-
// Policy from the backend is kept: two policies are both enforced, which can
// only be stricter.
func dropUpstreamSecurityHeaders(h http.Header) {
	for _, kv := range securityHeaders {
		if kv[0] == "Content-Security-Policy" {
			continue
		}
		h.Del(kv[0])
	}
	h.Del("Strict-Transport-Security")
}
