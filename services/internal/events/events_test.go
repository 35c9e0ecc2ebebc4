package events_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/contract-lucidity/contract-lucidity/services/internal/events"
	"github.com/contract-lucidity/contract-lucidity/services/internal/testenv"
)

var rs *testenv.Redis

func TestMain(m *testing.M) {
	var err error
	if rs, err = testenv.StartRedis(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	rs.Stop()
	os.Exit(code)
}

func client(t *testing.T) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(rs.URL(0))
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	return c
}

// A worker's event reaches the subscribers of its project on every
// connection (every backend replica), in order, and nobody else's.
func TestEventsReachEveryReplicaOfTheProjectOnly(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	worker, replicaA, replicaB := client(t), client(t), client(t)
	subA, err := events.Subscribe(ctx, replicaA, "p1")
	if err != nil {
		t.Fatal(err)
	}
	defer subA.Close()
	subB, err := events.Subscribe(ctx, replicaB, "p1")
	if err != nil {
		t.Fatal(err)
	}
	defer subB.Close()
	other, err := events.Subscribe(ctx, replicaB, "p2")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	for _, s := range []string{"extracting", "classifying", "analyzing"} {
		if err := events.Publish(ctx, worker, events.Document{DocumentID: "d1", ProjectID: "p1", Status: s, Progress: 10}); err != nil {
			t.Fatal(err)
		}
	}
	for _, sub := range []*redis.PubSub{subA, subB} {
		for _, want := range []string{"extracting", "classifying", "analyzing"} {
			msg, err := sub.ReceiveMessage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			ev, err := events.Decode(msg)
			if err != nil || ev.Status != want || ev.DocumentID != "d1" || ev.At.IsZero() {
				t.Fatalf("event %+v (%v), want %s", ev, err, want)
			}
		}
	}
	short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancelShort()
	if msg, err := other.ReceiveMessage(short); err == nil {
		t.Fatalf("another project's subscriber got %s", msg.Payload)
	}
}
