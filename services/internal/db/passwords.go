package db

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// passwordFallback lets a new pool connection authenticate with either of
// two passwords (the current one and POSTGRES_PASSWORD_FALLBACK) during a
// password rotation: the server has one of them, and which one changes at
// a moment the services do not see.
//
// pgx ends a connection attempt at the first refused password (SQLSTATE
// 28P01; it does not go on to its fallback hosts then), and a pool cannot
// retry a failed connect. A trial connection before the real one would
// leave a window in which the server changes between the two. So the
// passwords are tried within the one connect: the connection config lists
// the server once more per further password (Fallbacks), AfterNetConnect
// gives each attempt its password, and the refusal of a password that is
// not the last one reads as a connection error, which makes pgx go on to
// the next attempt. The password that worked last is tried first, so
// outside the moment of the change a connection takes one attempt.
type passwordFallback struct {
	passwords [2]string
	last      atomic.Int32 // index of the password that worked last
}

func newPasswordFallback(current, fallback string) *passwordFallback {
	return &passwordFallback{passwords: [2]string{current, fallback}}
}

// invalidPassword is SQLSTATE 28P01, the server refusing a password.
const invalidPassword = "28P01"

// errPasswordRefused ends an attempt whose password the server refused
// while another password is left to try.
var errPasswordRefused = errors.New("password refused (SQLSTATE 28P01), trying the other one")

// beforeConnect is a pgxpool.Config.BeforeConnect: it prepares the
// attempts of one new connection.
func (f *passwordFallback) beforeConnect(_ context.Context, cc *pgx.ConnConfig) error {
	first := int(f.last.Load())
	order := []int{first, 1 - first}
	servers := append([]*pgconn.FallbackConfig{{Host: cc.Host, Port: cc.Port, TLSConfig: cc.TLSConfig}}, cc.Fallbacks...)
	for range order[1:] {
		cc.Fallbacks = append(cc.Fallbacks, servers...)
	}
	cc.Password = f.passwords[first]
	next := 0 // the attempts of one connect run one after the other
	prev := cc.AfterNetConnect
	cc.AfterNetConnect = func(ctx context.Context, config *pgconn.Config, conn net.Conn) (net.Conn, error) {
		if prev != nil {
			var err error
			if conn, err = prev(ctx, config, conn); err != nil {
				return nil, err
			}
		}
		i := order[next]
		config.Password = f.passwords[i] // this attempt authenticates with it
		return &authWatch{Conn: conn,
			refused: func() bool {
				if next+1 < len(order) {
					next++
					return true
				}
				return false // the last password: pgx reports the refusal
			},
			accepted: func() { f.last.Store(int32(i)) },
		}, nil
	}
	return nil
}

// authWatch reads the server's messages until authentication ended: a
// refused password (an ErrorResponse with SQLSTATE 28P01) becomes
// errPasswordRefused when refused says so, AuthenticationOk calls
// accepted. Afterwards it passes the bytes through.
type authWatch struct {
	net.Conn
	refused  func() bool
	accepted func()
	pending  []byte // the start of a message not read in full yet
	done     bool
}

func (c *authWatch) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if c.done || n == 0 {
		return n, err
	}
	c.pending = append(c.pending, p[:n]...)
	for len(c.pending) >= 5 {
		size := int(binary.BigEndian.Uint32(c.pending[1:5]))
		if size < 4 || size > 1<<16 {
			c.done, c.pending = true, nil // not a startup exchange we know: stay out of it
			break
		}
		if len(c.pending) < 1+size {
			break
		}
		typ, body := c.pending[0], c.pending[5:1+size]
		switch {
		case typ == 'R' && len(body) >= 4 && binary.BigEndian.Uint32(body) == 0: // AuthenticationOk
			c.done, c.pending = true, nil
			c.accepted()
			return n, err
		case typ == 'E' && sqlState(body) == invalidPassword && c.refused():
			return 0, errPasswordRefused
		}
		c.pending = c.pending[1+size:]
	}
	return n, err
}

// sqlState is the code field of an ErrorResponse body (a list of a field
// type byte and a NUL-terminated value, ending with a NUL).
func sqlState(body []byte) string {
	for len(body) > 1 {
		typ := body[0]
		end := bytes.IndexByte(body[1:], 0)
		if end < 0 {
			return ""
		}
		if typ == 'C' {
			return string(body[1 : 1+end])
		}
		body = body[2+end:]
	}
	return ""
}
