package e2e

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The admin pages render with real data (and without CSP violations).
func TestAdminPages(t *testing.T) {
	b := newTab(t)
	b.signIn(adminEmail, st.adminPassword)
	b.waitPath("/projects")
	pages := []struct{ path, ready, name string }{
		{"/admin/users", `document.querySelector('tr[data-email="admin@example.com"]')`, "10-admin-users"},
		{"/admin/memberships", `document.querySelector('#members, .empty')`, "11-admin-project-access"},
		{"/admin/settings", `document.querySelector('input[name=file_type][value=pdf]')`, "12-admin-uploads"},
		{"/admin/ai", `document.querySelector('#capabilities select')`, "13-admin-ai"},
		{"/admin/audit", `document.querySelector('table, .empty')`, "14-admin-audit"},
	}
	for _, p := range pages {
		b.open(p.path)
		b.waitFor(p.path, p.ready, 60*time.Second)
		b.shot(p.name)
	}
	// The audit log shows the sign-ins of this run.
	b.selectValue(`select[name=event_type]`, "login_succeeded")
	b.waitFor("filtered audit events", `location.search.includes('event_type=login_succeeded') && document.querySelectorAll('tbody tr').length > 0`, 60*time.Second)

	// Create a user from the UI.
	b.open("/admin/users")
	b.clickButton(".page-header", "Create user")
	b.typeInto(`dialog input[name=email]`, "newcomer@example.com")
	b.typeInto(`dialog input[name=name]`, "Nora Newcomer")
	password := eval[string](b, `document.querySelector('dialog input[name=password]').value`)
	b.do("create the user", chromedp.Click(chromedp.CSS(`dialog button[type=submit]`)))
	b.waitFor("the new user row", `document.querySelector('tr[data-email="newcomer@example.com"]')`, 60*time.Second)
	tok, err := loginAPI("newcomer@example.com", password)
	if err != nil || !tok.User.MustChangePassword {
		t.Fatalf("the created user cannot sign in with the shown password or needs no change: %v %+v", err, tok)
	}
}
