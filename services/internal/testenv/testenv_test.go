package testenv

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

func TestPostgresAcceptsQueriesInFreshDatabase(t *testing.T) {
	p := PostgresTB(t)
	url := p.NewDatabase(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var v int
	if err := conn.QueryRow(ctx, "SELECT 40 + 2").Scan(&v); err != nil || v != 42 {
		t.Fatalf("got %d, %v", v, err)
	}
}

func TestRedisRequiresPassword(t *testing.T) {
	r := RedisTB(t)
	ctx := context.Background()
	anon := redis.NewClient(&redis.Options{Addr: r.Addr()})
	defer anon.Close()
	if err := anon.Ping(ctx).Err(); err == nil {
		t.Fatal("ping without password succeeded")
	}
	opt, err := redis.ParseURL(r.URL(0))
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	defer c.Close()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("ping with password: %v", err)
	}
}

func TestPostgresRestartKeepsDataAndPort(t *testing.T) {
	p := PostgresTB(t)
	url := p.NewDatabase(t)
	ctx := context.Background()
	exec := func(sql string) error {
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, sql)
		return err
	}
	if err := exec("CREATE TABLE kept (v int); INSERT INTO kept VALUES (7)"); err != nil {
		t.Fatal(err)
	}
	p.Shutdown()
	if err := exec("SELECT 1"); err == nil {
		t.Fatal("query succeeded while the server was shut down")
	}
	if err := p.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := exec("DO $$ BEGIN IF (SELECT v FROM kept) <> 7 THEN RAISE 'lost'; END IF; END $$"); err != nil {
		t.Fatalf("after restart: %v", err)
	}
}
