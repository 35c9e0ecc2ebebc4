package frontend

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"sort"
	"strings"
)

//go:embed static
var staticFS embed.FS

// assetPrefix is where the embedded files are served, followed by a version
// derived from their content: /assets/<version>/js/main.js. The version
// changes whenever any file changes, so the files can be cached forever while
// index.html (which names the version) is revalidated on every load.
const assetPrefix = "/assets/"

// assetsPlaceholder in index.html is replaced by /assets/<version>.
const assetsPlaceholder = "{{ASSETS}}"

type asset struct {
	body        []byte
	gzipped     []byte // nil when compression does not pay
	contentType string
	etag        string
}

type assets struct {
	version string
	files   map[string]*asset // keyed by path below static/, e.g. "js/main.js"
	index   *asset
}

func loadAssets() (*assets, error) {
	root, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	a := &assets{files: map[string]*asset{}}
	var names []string
	err = fs.WalkDir(root, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		names = append(names, p)
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	sum := sha256.New()
	raw := map[string][]byte{}
	for _, n := range names {
		b, err := fs.ReadFile(root, n)
		if err != nil {
			return nil, err
		}
		raw[n] = b
		fmt.Fprintf(sum, "%s\x00%d\x00", n, len(b))
		sum.Write(b)
	}
	a.version = hex.EncodeToString(sum.Sum(nil))[:12]
	for n, b := range raw {
		if n == "index.html" {
			b = bytes.ReplaceAll(b, []byte(assetsPlaceholder), []byte(assetPrefix+a.version))
		}
		ct := mime.TypeByExtension(path.Ext(n))
		if ct == "" {
			ct = "application/octet-stream"
		}
		a.files[n] = newAsset(b, ct)
	}
	a.index = a.files["index.html"]
	if a.index == nil {
		return nil, fmt.Errorf("static/index.html missing")
	}
	return a, nil
}

func newAsset(b []byte, contentType string) *asset {
	h := sha256.Sum256(b)
	x := &asset{body: b, contentType: contentType, etag: `"` + hex.EncodeToString(h[:8]) + `"`}
	if len(b) > 1024 && compressible(contentType) {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		_, _ = zw.Write(b)
		_ = zw.Close()
		if buf.Len() < len(b)*9/10 {
			x.gzipped = buf.Bytes()
		}
	}
	return x
}

func compressible(ct string) bool {
	return strings.HasPrefix(ct, "text/") || strings.Contains(ct, "javascript") ||
		strings.Contains(ct, "json") || strings.Contains(ct, "svg")
}

// write sends an asset with ETag revalidation and gzip when the client accepts it.
func (x *asset) write(w http.ResponseWriter, r *http.Request, cacheControl string) {
	h := w.Header()
	h.Set("Content-Type", x.contentType)
	h.Set("Cache-Control", cacheControl)
	h.Set("ETag", x.etag)
	h.Add("Vary", "Accept-Encoding")
	if match := r.Header.Get("If-None-Match"); match != "" && strings.Contains(match, x.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := x.body
	if x.gzipped != nil && acceptsGzip(r) {
		h.Set("Content-Encoding", "gzip")
		body = x.gzipped
	}
	h.Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && !strings.Contains(strings.ReplaceAll(q, " ", ""), "q=0") {
			return true
		}
	}
	return false
}

const (
	cacheImmutable  = "public, max-age=31536000, immutable"
	cacheRevalidate = "no-cache"
)

// serveAsset serves /assets/<version>/<path>. A request for an older version
// still gets the current file, but without the long cache lifetime.
func (s *Server) serveAsset(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, assetPrefix)
	version, name, ok := strings.Cut(rest, "/")
	if !ok || name == "" || name == "index.html" {
		http.NotFound(w, r)
		return
	}
	x := s.assets.files[path.Clean(name)]
	if x == nil {
		http.NotFound(w, r)
		return
	}
	cc := cacheRevalidate
	if version == s.assets.version {
		cc = cacheImmutable
	}
	x.write(w, r, cc)
}

// serveApp answers client routes (/, /projects/..., /admin/...) with
// index.html; the UI's router renders the page. Paths that look like files
// are not client routes and get a 404.
func (s *Server) serveApp(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if strings.Contains(path.Base(r.URL.Path), ".") {
		http.NotFound(w, r)
		return
	}
	s.assets.index.write(w, r, cacheRevalidate)
}

func (s *Server) favicon(w http.ResponseWriter, r *http.Request) {
	x := s.assets.files["favicon.svg"]
	if x == nil {
		http.NotFound(w, r)
		return
	}
	x.write(w, r, "public, max-age=86400")
}
