package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

type settings struct {
	SupportedFileTypes []string `json:"supported_file_types"`
	MaxUploadSizeMB    int      `json:"max_upload_size_mb"`
}

// An admin removes PDF from the accepted types in the UI: the upload control
// refuses a PDF before sending it, and the API refuses it too.
func TestRemovedFileTypeIsRefusedByUIAndAPI(t *testing.T) {
	admin := adminToken(t)
	var before settings
	mustCall(t, http.StatusOK, "GET", "/api/settings", admin, nil, &before)
	t.Cleanup(func() {
		// Put PDF back for the other tests.
		_, _ = call("PUT", "/api/admin/settings", adminToken(t), before, nil)
	})
	project := createProject(t, admin, "File type policy "+randomHex(3))

	b := newTab(t)
	b.signIn(adminEmail, st.adminPassword)
	b.waitPath("/projects")
	b.open("/admin/settings")
	b.waitFor("the file type list", `document.querySelector('input[name=file_type][value=pdf]:checked')`, 60*time.Second)
	b.do("untick PDF", chromedp.Click(chromedp.CSS(`input[name=file_type][value=pdf]`)))
	b.do("save", chromedp.Click(chromedp.CSS(`#upload-settings button[type=submit]`)))
	b.waitFor("the saved message", `document.querySelector('.form-message-success:not([hidden])')`, 60*time.Second)
	b.shot("20-admin-uploads-without-pdf")
	var after settings
	mustCall(t, http.StatusOK, "GET", "/api/settings", admin, nil, &after)
	for _, ft := range after.SupportedFileTypes {
		if ft == "pdf" {
			t.Fatalf("PDF is still accepted after saving: %v", after.SupportedFileTypes)
		}
	}

	b.open("/projects/" + project)
	b.waitFor("the upload control", `document.querySelector('#file-input')`, 60*time.Second)
	if accept := eval[string](b, `document.querySelector('#file-input').accept`); strings.Contains(accept, ".pdf") {
		t.Fatalf("the file picker still offers PDF: %q", accept)
	}
	b.do("choose a PDF", chromedp.SetUploadFiles(chromedp.CSS(`#file-input`), []string{samplePDF(t)}))
	b.waitFor("the refusal", `document.querySelector('.upload-item[data-state=refused]')`, 60*time.Second)
	msg := eval[string](b, `document.querySelector('.upload-item[data-state=refused] .upload-state').textContent`)
	if !strings.Contains(msg, "not accepted") {
		t.Fatalf("refusal message %q", msg)
	}
	b.waitFor("the empty document list", `document.querySelector('#documents .empty')`, 60*time.Second)
	b.shot("21-upload-refused")
	var docs struct {
		Total int `json:"total"`
	}
	mustCall(t, http.StatusOK, "GET", "/api/projects/"+project+"/documents", admin, nil, &docs)
	if docs.Total != 0 {
		t.Fatalf("the refused file was stored: %d documents", docs.Total)
	}
	if code := uploadAPI(t, admin, project, samplePDF(t)); code != http.StatusUnsupportedMediaType {
		t.Fatalf("the API accepted a PDF after PDF was removed: status %d", code)
	}
}

// A viewer sees the documents but no upload control, and the API refuses
// the viewer's upload.
func TestViewerHasNoUploadControl(t *testing.T) {
	admin := adminToken(t)
	project := createProject(t, admin, "Viewer access "+randomHex(3))
	temp := "temporary-" + randomHex(6)
	viewerID := createUser(t, admin, "viewer@example.com", "Victor Viewer", "user", temp)
	mustCall(t, http.StatusOK, "PUT", "/api/projects/"+project+"/members/"+viewerID, admin, map[string]string{"role": "viewer"}, nil)
	tok, err := loginAPI("viewer@example.com", temp)
	if err != nil {
		t.Fatal(err)
	}
	password := "viewer-passphrase-" + randomHex(4)
	if err := changePasswordAPI(tok.AccessToken, temp, password); err != nil {
		t.Fatal(err)
	}

	b := newTab(t)
	b.signIn("viewer@example.com", password)
	b.waitPath("/projects")
	b.waitFor("the project card", `document.querySelector('.project-card')`, 60*time.Second)
	b.open("/projects/" + project)
	b.waitFor("the read-only notice", `document.querySelector('[data-testid=read-only-notice]') && document.querySelector('#documents .empty, #documents table')`, 60*time.Second)
	if eval[bool](b, `Boolean(document.querySelector('#file-input, .dropzone'))`) {
		t.Fatal("a viewer sees the upload control")
	}
	if eval[bool](b, `Boolean(document.querySelector('nav .nav-section'))`) {
		t.Fatal("a non-admin sees the administration menu")
	}
	b.shot("30-viewer-project")

	viewer, err := loginAPI("viewer@example.com", password)
	if err != nil {
		t.Fatal(err)
	}
	if code := uploadAPI(t, viewer.AccessToken, project, samplePDF(t)); code != http.StatusForbidden {
		t.Fatalf("the API let a viewer upload: status %d", code)
	}
	// And the admin pages send a non-admin back to the projects.
	b.open("/admin/users")
	b.waitPath("/projects")
}

// A refresh that fails (the refresh token was revoked elsewhere) ends the
// session cleanly; so does any 401. A refresh that works keeps the user in.
func TestSessionRefreshAndLogout(t *testing.T) {
	b := newTab(t)
	b.signIn(adminEmail, st.adminPassword)
	b.waitPath("/projects")
	b.waitFor("the projects page", `document.querySelector('.page-title')`, 60*time.Second)

	// 1. The background refresh rotates the tokens when they are 20 minutes old.
	first := b.session()
	if first == nil {
		t.Fatal("no session in localStorage after sign-in")
	}
	eval[chromedp.Void](b, `(() => { const s = JSON.parse(localStorage.getItem('cl.session')); s.obtained_at -= 21 * 60 * 1000; localStorage.setItem('cl.session', JSON.stringify(s)); document.dispatchEvent(new Event('visibilitychange')); })()`)
	b.waitFor("a rotated refresh token", `JSON.parse(localStorage.getItem('cl.session')).refresh_token !== `+jsString(first.RefreshToken), 60*time.Second)
	if p := eval[string](b, `location.pathname`); p != "/projects" {
		t.Fatalf("a successful refresh moved the user to %s", p)
	}

	// 2. Revoked elsewhere (sign-out in another tab or device): the next refresh fails.
	s := b.session()
	mustCall(t, http.StatusNoContent, "POST", "/api/auth/logout", s.AccessToken, map[string]string{"refresh_token": s.RefreshToken}, nil)
	eval[chromedp.Void](b, `(() => { const s = JSON.parse(localStorage.getItem('cl.session')); s.obtained_at -= 21 * 60 * 1000; localStorage.setItem('cl.session', JSON.stringify(s)); document.dispatchEvent(new Event('visibilitychange')); })()`)
	b.waitPath("/login")
	b.waitFor("the expiry message", `document.querySelector('.form-message:not([hidden])') && document.querySelector('.form-message').textContent.includes('expired')`, 60*time.Second)
	if eval[bool](b, `localStorage.getItem('cl.session') !== null`) {
		t.Fatal("the tokens stay in localStorage after a failed refresh")
	}
	b.shot("40-signed-out-after-failed-refresh")

	// 3. Any 401 signs out too.
	b.signIn(adminEmail, st.adminPassword)
	b.waitPath("/projects")
	eval[chromedp.Void](b, `(() => { const s = JSON.parse(localStorage.getItem('cl.session')); s.access_token = 'not-a-valid-token'; localStorage.setItem('cl.session', JSON.stringify(s)); })()`)
	b.open("/projects")
	b.waitPath("/login")
	b.waitFor("the session-ended message", `document.querySelector('.form-message:not([hidden])') && document.querySelector('.form-message').textContent.includes('session has ended')`, 60*time.Second)
	if eval[bool](b, `localStorage.getItem('cl.session') !== null`) {
		t.Fatal("the tokens stay in localStorage after a 401")
	}

	// 4. Signing out from the menu revokes the refresh token on the server.
	b.signIn(adminEmail, st.adminPassword)
	b.waitPath("/projects")
	s = b.session()
	b.do("sign out", chromedp.Click(chromedp.CSS(`#sign-out`)))
	b.waitPath("/login")
	if code, _ := call("POST", "/api/auth/refresh", "", map[string]string{"refresh_token": s.RefreshToken}, nil); code != http.StatusUnauthorized {
		t.Fatalf("the refresh token still works after signing out: status %d", code)
	}
}

func jsString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
