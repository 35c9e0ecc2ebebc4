package db

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
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
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != invalidPassword || !strings.Contains(err.Error(), errPasswordRefused.Error()) {
		t.Errorf("error %q does not say both passwords were refused", err)
	}
	for _, pw := range []string{"old-password-1234", "new-password-5678", "another-password-9999"} {
		if strings.Contains(err.Error(), pw) {
			t.Errorf("error %q contains a password", err)
		}
	}
}

// The watcher finds the server's answer however the reads split it.
func TestAuthWatchReadsMessagesSplitAnywhere(t *testing.T) {
	msg := func(typ byte, body []byte) []byte {
		b := []byte{typ, 0, 0, 0, 0}
		binary.BigEndian.PutUint32(b[1:], uint32(4+len(body)))
		return append(b, body...)
	}
	u32 := func(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
	sasl := msg('R', append(u32(10), "SCRAM-SHA-256\x00\x00"...))
	refusal := msg('E', []byte("SFATAL\x00VFATAL\x00C28P01\x00Mpassword authentication failed for user \"x\"\x00\x00"))
	otherError := msg('E', []byte("SFATAL\x00C28000\x00Mno pg_hba.conf entry with C28P01\x00\x00"))
	ok := append(msg('R', u32(0)), msg('S', []byte("server_version\x0016\x00"))...)
	for _, tc := range []struct {
		name                     string
		stream                   []byte
		more                     bool
		wantRefused, wantAccepts bool
	}{
		{"accepted", append(append([]byte{}, sasl...), ok...), true, false, true},
		{"refused, another password left", append(append([]byte{}, sasl...), refusal...), true, true, false},
		{"refused, the last password", append(append([]byte{}, sasl...), refusal...), false, false, false},
		{"another error", otherError, true, false, false},
	} {
		for _, chunk := range []int{1, 3, 7, 1024} {
			var refused, accepted bool
			w := &authWatch{Conn: &chunkConn{data: tc.stream, chunk: chunk},
				refused:  func() bool { refused = true; return tc.more },
				accepted: func() { accepted = true }}
			var got []byte
			var err error
			buf := make([]byte, 512)
			for err == nil {
				var n int
				n, err = w.Read(buf)
				got = append(got, buf[:n]...)
			}
			if refused != (tc.name != "accepted" && tc.name != "another error") || accepted != tc.wantAccepts ||
				errors.Is(err, errPasswordRefused) != tc.wantRefused {
				t.Errorf("%s, reads of %d: refused %v accepted %v err %v", tc.name, chunk, refused, accepted, err)
			}
			if !tc.wantRefused && !bytes.Equal(got, tc.stream) {
				t.Errorf("%s, reads of %d: the bytes were changed", tc.name, chunk)
			}
		}
	}
}

// chunkConn returns data in reads of at most chunk bytes, then EOF.
type chunkConn struct {
	net.Conn
	data  []byte
	chunk int
}

func (c *chunkConn) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := min(c.chunk, len(p), len(c.data))
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}
