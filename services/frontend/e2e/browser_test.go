package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromiumPath is Debian's Chromium (hack/install-deps.sh installs it).
const chromiumPath = "/usr/bin/chromium"

// recordViolations runs before any page script: it keeps the CSP violations
// the browser reports, so a test can assert the UI needs no inline code.
const recordViolations = `window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline') + ' ' + (e.sourceFile || '') + ':' + (e.lineNumber || '')));`

// tab is one browser with its own fresh profile (its own localStorage).
type tab struct {
	t         *testing.T
	ctx       context.Context
	downloads string
	mu        sync.Mutex
	errs      []string // uncaught JavaScript exceptions
}

func newTab(t *testing.T) *tab {
	t.Helper()
	profile := t.TempDir()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("lang", "en-US"),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1440, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	tb := &tab{t: t, ctx: ctx, downloads: t.TempDir()}
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	exceptions := chromedp.Events(ctx, runtime.ExceptionThrown)
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	go func() {
		for ev, err := range exceptions {
			if err != nil {
				return
			}
			msg := ev.ExceptionDetails.Text
			if ev.ExceptionDetails.Exception != nil {
				msg += " " + ev.ExceptionDetails.Exception.Description
			}
			tb.mu.Lock()
			tb.errs = append(tb.errs, msg)
			tb.mu.Unlock()
		}
	}()
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: recordViolations}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: tb.downloads,
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tb.assertClean)
	// Keep the DevTools connection busy: on a loaded machine headless
	// Chromium was seen to hold back page work while the client sat idle
	// (for example while the test watched the download directory).
	pumpCtx, stopPump := context.WithCancel(ctx)
	t.Cleanup(stopPump)
	go func() {
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-pumpCtx.Done():
				return
			case <-tick.C:
				c, cancel := context.WithTimeout(pumpCtx, 5*time.Second)
				_, _ = chromedp.Run(c, chromedp.Evaluate[chromedp.Void](`0`))
				cancel()
			}
		}
	}()
	return tb
}

// do runs actions with a generous limit, failing the test with context.
func (b *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 90*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.fail("%s: %v", what, err)
	}
}

func (b *tab) fail(format string, args ...any) {
	b.t.Helper()
	b.shot("failure-" + strings.NewReplacer("/", "_", " ", "_").Replace(b.t.Name()))
	b.t.Fatalf(format, args...)
}

// eval evaluates a JavaScript expression and decodes its result.
func eval[T any](b *tab, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 90*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.fail("evaluate %s: %v", expr, err)
	}
	return v
}

// waitFor polls a JavaScript condition until it is true.
func (b *tab) waitFor(what, expr string, timeout time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`Boolean(`+expr+`)`))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			b.fail("waiting for %s (%s): not true after %s (last error %v); page: %s", what, expr, timeout, err, b.pageText())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (b *tab) pageText() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.pathname + ' | ' + document.body.innerText.slice(0, 600)`))
	return s
}

func (b *tab) waitPath(prefix string) {
	b.t.Helper()
	b.waitFor("the page "+prefix, fmt.Sprintf(`location.pathname.startsWith(%q)`, prefix), 60*time.Second)
}

func (b *tab) open(path string) {
	b.t.Helper()
	b.checkCSP()
	b.do("open "+path, chromedp.Navigate(st.url+path))
}

// clickButton clicks the first visible button whose text is label.
func (b *tab) clickButton(scope, label string) {
	b.t.Helper()
	sel := fmt.Sprintf(`[...document.querySelectorAll(%q)].find((e) => e.textContent.trim() === %q && e.offsetParent !== null)`, scope+" button", label)
	b.waitFor("a "+label+" button", sel, 60*time.Second)
	eval[chromedp.Void](b, sel+`.click()`)
}

func (b *tab) typeInto(css, text string) {
	b.t.Helper()
	b.do("type into "+css, chromedp.WaitVisible(chromedp.CSS(css)), chromedp.SendKeys(chromedp.CSS(css), text))
}

func (b *tab) selectValue(css, value string) {
	b.t.Helper()
	b.waitFor(css, fmt.Sprintf(`document.querySelector(%q)`, css), 60*time.Second)
	eval[chromedp.Void](b, fmt.Sprintf(`(() => { const s = document.querySelector(%q); s.value = %q; s.dispatchEvent(new Event('change', {bubbles: true})); })()`, css, value))
}

// signIn fills the sign-in form.
func (b *tab) signIn(email, password string) {
	b.t.Helper()
	b.open("/login")
	b.typeInto(`input[name=email]`, email)
	b.typeInto(`input[name=password]`, password)
	b.do("submit sign-in", chromedp.Click(chromedp.CSS(`form button[type=submit]`)))
}

// shot saves a screenshot of the whole page into the artifacts directory.
func (b *tab) shot(name string) string {
	ctx, cancel := context.WithTimeout(b.ctx, 90*time.Second)
	defer cancel()
	// Let fonts, transitions and the last render settle.
	_, _ = chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](`new Promise((r) => requestAnimationFrame(() => setTimeout(r, 250)))`, chromedp.EvalAwaitPromise))
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return ""
	}
	p := filepath.Join(st.artifacts, name+".png")
	if err := os.WriteFile(p, buf, 0o644); err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
	}
	return p
}

// viewportShot saves what a person sees in a 1440x900 window (for the README).
func (b *tab) viewportShot(name string) string {
	ctx, cancel := context.WithTimeout(b.ctx, 90*time.Second)
	defer cancel()
	_, _ = chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](`new Promise((r) => requestAnimationFrame(() => setTimeout(r, 250)))`, chromedp.EvalAwaitPromise))
	buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return ""
	}
	p := filepath.Join(st.artifacts, name+".png")
	_ = os.WriteFile(p, buf, 0o644)
	return p
}

// checkCSP fails when the page reported a Content-Security-Policy violation.
func (b *tab) checkCSP() {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.__csp || []`))
	if err == nil && len(v) > 0 {
		b.t.Errorf("Content-Security-Policy violations on %s: %v", b.pageText(), v)
	}
}

func (b *tab) assertClean() {
	b.checkCSP()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.errs) > 0 {
		b.t.Errorf("uncaught JavaScript exceptions: %v", b.errs)
	}
}

// localSession reads the tokens the UI keeps in localStorage.
type localSession struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ObtainedAt   int64  `json:"obtained_at"`
}

func (b *tab) session() *localSession {
	b.t.Helper()
	return eval[*localSession](b, `JSON.parse(localStorage.getItem('cl.session') || 'null')`)
}

// waitDownload waits for a finished file in the download directory.
func (b *tab) waitDownload(suffix string, timeout time.Duration) []byte {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		matches, _ := filepath.Glob(filepath.Join(b.downloads, "*"+suffix))
		for _, m := range matches {
			data, err := os.ReadFile(m)
			if err == nil && len(data) > 0 {
				return data
			}
		}
		if time.Now().After(deadline) {
			entries, _ := os.ReadDir(b.downloads)
			b.fail("no %s download after %s (directory has %v)", suffix, timeout, entries)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
