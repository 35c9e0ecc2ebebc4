package db

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// invalidPassword is SQLSTATE 28P01, the server refusing a password.
const invalidPassword = "28P01"

// passwordFallback chooses the password of each new pool connection
// during a password rotation, when two are configured (the current one
// and POSTGRES_PASSWORD_FALLBACK): the server has one of them, and which
// one changes at a moment the services do not see. pgx ends a connection
// attempt at the first refused password (it does not go on to its
// fallback hosts), and a pool cannot retry a failed connect, so the
// password is settled before the connect: a trial connection with the
// password that worked last and, if the server refuses it, with the other.
// Only while a fallback is configured does a new connection cost two
// handshakes.
type passwordFallback struct {
	passwords [2]string
	last      atomic.Int32 // index of the password that worked last
}

func newPasswordFallback(current, fallback string) *passwordFallback {
	return &passwordFallback{passwords: [2]string{current, fallback}}
}

// beforeConnect is a pgxpool.Config.BeforeConnect.
func (f *passwordFallback) beforeConnect(ctx context.Context, cc *pgx.ConnConfig) error {
	first := int(f.last.Load())
	for i := range f.passwords {
		n := (first + i) % len(f.passwords)
		trial := cc.Config.Copy()
		trial.Password = f.passwords[n]
		conn, err := pgconn.ConnectConfig(ctx, trial)
		if err == nil {
			_ = conn.Close(ctx)
			f.last.Store(int32(n))
			cc.Password = f.passwords[n]
			return nil
		}
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != invalidPassword {
			// Not a refused password (the server is down, say): the
			// connect itself reports it, with the password that worked last.
			cc.Password = f.passwords[first]
			return nil
		}
	}
	return fmt.Errorf("the database refused both POSTGRES_PASSWORD and POSTGRES_PASSWORD_FALLBACK (SQLSTATE %s)", invalidPassword)
}
