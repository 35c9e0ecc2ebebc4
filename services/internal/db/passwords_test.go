package db

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// A pool configured with a fallback password keeps making connections
// while the role's password changes between the two, in both directions;
// without the fallback, a new connection fails as soon as it changed.
func TestNewConnectionsFallBackToTheOtherPassword(t *testing.T) {
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, pg.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	dbURL := pg.NewDatabase(t)
	setPassword := func(pw string) {
		t.Helper()
		if _, err := admin.Exec(ctx, "ALTER ROLE rotated PASSWORD '"+pw+"'"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := admin.Exec(ctx, "CREATE ROLE rotated LOGIN PASSWORD 'old-password-1234'"); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(dbURL)
	u.User = url.UserPassword("rotated", "old-password-1234")

	withFallback := testConfig(u.String())
	withFallback.DatabasePasswordFallback = "new-password-5678"
	pool, err := Open(ctx, withFallback)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	plain, err := Open(ctx, testConfig(u.String()))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()

	// newConn closes the pool's connections, so the ping opens a new one.
	newConn := func(p interface {
		Reset()
		Ping(context.Context) error
	}) error {
		p.Reset()
		return p.Ping(ctx)
	}
	for i, pw := range []string{"new-password-5678", "old-password-1234", "new-password-5678"} {
		setPassword(pw)
		if err := newConn(pool); err != nil {
			t.Fatalf("step %d (server has %s): a new connection with the fallback configured: %v", i, pw, err)
		}
	}
	if err := newConn(plain); err == nil {
		t.Error("without a fallback a new connection succeeded with a refused password: the test proves nothing")
	}

	// Neither password: a clear error, without a password in it.
	setPassword("another-password-9999")
	err = newConn(pool)
	if err == nil {
		t.Fatal("connected although the server has neither password")
	}
	if !strings.Contains(err.Error(), "POSTGRES_PASSWORD_FALLBACK") {
		t.Errorf("error %q does not say both passwords were refused", err)
	}
	for _, pw := range []string{"old-password-1234", "new-password-5678", "another-password-9999"} {
		if strings.Contains(err.Error(), pw) {
			t.Errorf("error %q contains a password", err)
		}
	}
}
