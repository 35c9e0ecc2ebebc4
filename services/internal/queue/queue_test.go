package queue

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/contract-lucidity/contract-lucidity/services/internal/testenv"
)

var (
	rs    *testenv.Redis
	dbSeq atomic.Int32
)

func TestMain(m *testing.M) {
	var err error
	rs, err = testenv.StartRedis()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	rs.Stop()
	os.Exit(code)
}

// newQueue returns a queue on its own Redis database (0-15).
func newQueue(t *testing.T, vt time.Duration) (*Queue, *redis.Client) {
	t.Helper()
	opt, err := redis.ParseURL(rs.URL(int(dbSeq.Add(1)) % 16))
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	return New(rdb, Options{Stream: "cl:jobs:" + t.Name(), VisibilityTimeout: vt}), rdb
}

func TestAckedJobIsNotRedelivered(t *testing.T) {
	ctx := context.Background()
	q, _ := newQueue(t, 200*time.Millisecond)
	if err := q.Enqueue(ctx, Job{Kind: KindDocument, ID: "doc-1"}); err != nil {
		t.Fatal(err)
	}
	if n, _ := q.Depth(ctx); n != 1 {
		t.Fatalf("depth = %d, want 1", n)
	}
	d, err := q.Next(ctx, "a", time.Second)
	if err != nil || d == nil {
		t.Fatalf("next: %v %v", d, err)
	}
	if d.Job.ID != "doc-1" || d.Job.Kind != KindDocument || d.Deliveries != 1 || d.Job.EnqueuedAt.IsZero() {
		t.Fatalf("unexpected delivery %+v", d)
	}
	if err := q.Ack(ctx, d); err != nil {
		t.Fatal(err)
	}
	time.Sleep(400 * time.Millisecond) // past the visibility timeout
	if d, err := q.Next(ctx, "b", 100*time.Millisecond); err != nil || d != nil {
		t.Fatalf("acked job redelivered: %+v %v", d, err)
	}
	if n, _ := q.Depth(ctx); n != 0 {
		t.Fatalf("depth after ack = %d", n)
	}
}

func TestUnackedJobIsReclaimedAfterVisibilityTimeout(t *testing.T) {
	ctx := context.Background()
	q, _ := newQueue(t, 2*time.Second)
	if err := q.Enqueue(ctx, Job{Kind: KindReport, ID: "rep-1"}); err != nil {
		t.Fatal(err)
	}
	first, err := q.Next(ctx, "dies", time.Second)
	if err != nil || first == nil {
		t.Fatalf("next: %v %v", first, err)
	}
	// Before the timeout another consumer gets nothing.
	if d, err := q.Next(ctx, "other", 50*time.Millisecond); err != nil || d != nil {
		t.Fatalf("job handed out twice before timeout: %+v %v", d, err)
	}
	var again *Delivery
	deadline := time.Now().Add(10 * time.Second)
	for again == nil && time.Now().Before(deadline) {
		if again, err = q.Next(ctx, "other", 100*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	if again == nil || again.Job.ID != "rep-1" || again.ID != first.ID || again.Deliveries != 2 {
		t.Fatalf("reclaimed delivery = %+v", again)
	}
	// The dead consumer's heartbeat now fails.
	if err := q.Extend(ctx, first); !errors.Is(err, ErrNotOwner) {
		t.Fatalf("extend by old owner: %v", err)
	}
	if err := q.Ack(ctx, again); err != nil {
		t.Fatal(err)
	}
}

func TestExtendKeepsJobWithItsConsumer(t *testing.T) {
	ctx := context.Background()
	q, _ := newQueue(t, 1500*time.Millisecond)
	if err := q.Enqueue(ctx, Job{Kind: KindDocument, ID: "doc-2"}); err != nil {
		t.Fatal(err)
	}
	d, err := q.Next(ctx, "alive", time.Second)
	if err != nil || d == nil {
		t.Fatal(d, err)
	}
	stop := time.Now().Add(3 * time.Second) // twice the visibility timeout
	for time.Now().Before(stop) {
		if err := q.Extend(ctx, d); err != nil {
			t.Fatalf("extend: %v", err)
		}
		if other, err := q.Next(ctx, "thief", 100*time.Millisecond); err != nil || other != nil {
			t.Fatalf("heartbeated job was reclaimed: %+v %v", other, err)
		}
	}
	if err := q.Ack(ctx, d); err != nil {
		t.Fatal(err)
	}
}

func TestNextTimesOutWithNil(t *testing.T) {
	q, _ := newQueue(t, time.Minute)
	d, err := q.Next(context.Background(), "idle", 50*time.Millisecond)
	if err != nil || d != nil {
		t.Fatalf("got %+v %v", d, err)
	}
}

func TestMalformedEntryIsDropped(t *testing.T) {
	ctx := context.Background()
	q, rdb := newQueue(t, time.Minute)
	if err := q.ensureGroup(ctx); err != nil {
		t.Fatal(err)
	}
	rdb.XAdd(ctx, &redis.XAddArgs{Stream: q.opts.Stream, Values: map[string]any{"job": "not json"}})
	if err := q.Enqueue(ctx, Job{Kind: KindDocument, ID: "doc-3"}); err != nil {
		t.Fatal(err)
	}
	d, err := q.Next(ctx, "c", time.Second)
	if err != nil || d == nil || d.Job.ID != "doc-3" {
		t.Fatalf("got %+v %v", d, err)
	}
}

func TestQueueSurvivesLostGroup(t *testing.T) {
	ctx := context.Background()
	q, rdb := newQueue(t, time.Minute)
	if err := q.Enqueue(ctx, Job{Kind: KindDocument, ID: "doc-4"}); err != nil {
		t.Fatal(err)
	}
	rdb.Del(ctx, q.opts.Stream) // Redis lost everything
	if d, err := q.Next(ctx, "c", 50*time.Millisecond); err != nil || d != nil {
		t.Fatalf("got %+v %v", d, err)
	}
	if err := q.Enqueue(ctx, Job{Kind: KindDocument, ID: "doc-5"}); err != nil {
		t.Fatal(err)
	}
	d, err := q.Next(ctx, "c", time.Second)
	if err != nil || d == nil || d.Job.ID != "doc-5" {
		t.Fatalf("got %+v %v", d, err)
	}
}

func TestEnqueueRejectsUnknownKind(t *testing.T) {
	q, _ := newQueue(t, time.Minute)
	if err := q.Enqueue(context.Background(), Job{Kind: "x", ID: "1"}); err == nil {
		t.Fatal("unknown kind accepted")
	}
}

// With several workers the counts are the queue's, not one worker's:
// pending is what no worker has taken, in flight what workers took and
// have not acked; a reclaim moves a job between workers, not between
// the counts.
func TestStatsWithSeveralConsumers(t *testing.T) {
	ctx := context.Background()
	q, rdb := newQueue(t, 300*time.Millisecond)
	if s, err := q.Stats(ctx); err != nil || s != (Stats{}) {
		t.Fatalf("before anything: %+v %v", s, err)
	}
	// An entry added before the group exists (another writer) is pending.
	rdb.XAdd(ctx, &redis.XAddArgs{Stream: q.Stream(), Values: map[string]any{"job": `{"kind":"document","id":"early"}`}})
	if s, err := q.Stats(ctx); err != nil || s != (Stats{Pending: 1}) {
		t.Fatalf("without a group: %+v %v", s, err)
	}
	for i := range 5 {
		if err := q.Enqueue(ctx, Job{Kind: KindDocument, ID: fmt.Sprint("doc-", i)}); err != nil {
			t.Fatal(err)
		}
	}
	want := func(pending, inFlight int64) {
		t.Helper()
		s, err := q.Stats(ctx)
		if err != nil || s != (Stats{Pending: pending, InFlight: inFlight}) {
			t.Fatalf("stats %+v (%v), want pending %d, in flight %d", s, err, pending, inFlight)
		}
		if n, _ := q.Depth(ctx); n != pending+inFlight {
			t.Fatalf("depth %d, want %d", n, pending+inFlight)
		}
	}
	want(6, 0)
	var got []*Delivery
	for _, c := range []string{"a", "b", "b"} {
		d, err := q.Next(ctx, c, time.Second)
		if err != nil || d == nil {
			t.Fatalf("next for %s: %v %v", c, d, err)
		}
		got = append(got, d)
	}
	want(3, 3)
	if err := q.Ack(ctx, got[1]); err != nil {
		t.Fatal(err)
	}
	want(3, 2)
	// Worker a stops heartbeating; c reclaims its job.
	time.Sleep(400 * time.Millisecond)
	if err := q.Extend(ctx, got[2]); err != nil {
		t.Fatal(err)
	}
	d, err := q.Next(ctx, "c", time.Second)
	if err != nil || d == nil || d.ID != got[0].ID || d.Deliveries != 2 {
		t.Fatalf("reclaim: %+v %v", d, err)
	}
	want(3, 2)
}
