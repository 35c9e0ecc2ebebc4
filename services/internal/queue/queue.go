// Package queue is the job queue between the backend and the worker: a Redis
// Stream ("cl:jobs") read through a consumer group ("workers") with
// at-least-once delivery.
//
// A delivered job stays in the group's pending list until it is acked. Next
// first reclaims (XAUTOCLAIM) entries idle longer than the visibility
// timeout, so a job whose consumer died is delivered again; a live consumer
// calls Extend as a heartbeat to keep its job. Acked entries are deleted from
// the stream, so the stream length is the number of unfinished jobs.
//
// The documents table remains the source of truth: the worker's sweep
// re-enqueues documents whose job Redis lost.
package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Job kinds.
const (
	KindDocument = "document"
	KindReport   = "report"
	KindReassess = "reassess" // playbook_reassessments.id: apply the playbook to existing clauses
)

// Defaults of Options.
const (
	DefaultStream            = "cl:jobs"
	DefaultGroup             = "workers"
	DefaultVisibilityTimeout = 5 * time.Minute
)

// Job is the message format (JSON in the stream entry's "job" field).
type Job struct {
	Kind       string    `json:"kind"` // KindDocument, KindReport or KindReassess
	ID         string    `json:"id"`   // documents.id, document_reports.id or playbook_reassessments.id
	EnqueuedAt time.Time `json:"enqueued_at"`
}

// Delivery is a job handed to one consumer.
type Delivery struct {
	Job        Job
	ID         string // stream entry ID
	Deliveries int    // 1 on first delivery, more after reclaims
	consumer   string
}

// ErrNotOwner is returned by Extend when the job was reclaimed by another
// consumer (this consumer's heartbeat came too late).
var ErrNotOwner = errors.New("queue: job is no longer owned by this consumer")

// Options configure a Queue; zero values take the defaults.
type Options struct {
	Stream            string
	Group             string
	VisibilityTimeout time.Duration
}

// Queue is safe for concurrent use.
type Queue struct {
	rdb  *redis.Client
	opts Options
}

// New returns a queue on rdb. The stream and group are created on first use.
func New(rdb *redis.Client, opts Options) *Queue {
	if opts.Stream == "" {
		opts.Stream = DefaultStream
	}
	if opts.Group == "" {
		opts.Group = DefaultGroup
	}
	if opts.VisibilityTimeout <= 0 {
		opts.VisibilityTimeout = DefaultVisibilityTimeout
	}
	return &Queue{rdb: rdb, opts: opts}
}

// VisibilityTimeout is the idle time after which a pending job is reclaimed.
func (q *Queue) VisibilityTimeout() time.Duration { return q.opts.VisibilityTimeout }

// ensureGroup creates the stream and the group reading from its start, so
// jobs enqueued before any worker existed are delivered.
func (q *Queue) ensureGroup(ctx context.Context) error {
	err := q.rdb.XGroupCreateMkStream(ctx, q.opts.Stream, q.opts.Group, "0").Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return fmt.Errorf("create consumer group: %w", err)
	}
	return nil
}

func isNoGroup(err error) bool { return err != nil && strings.Contains(err.Error(), "NOGROUP") }

// Enqueue appends a job. EnqueuedAt is set when zero.
func (q *Queue) Enqueue(ctx context.Context, job Job) error {
	if job.Kind != KindDocument && job.Kind != KindReport && job.Kind != KindReassess {
		return fmt.Errorf("enqueue: unknown job kind %q", job.Kind)
	}
	if job.ID == "" {
		return errors.New("enqueue: job without id")
	}
	if job.EnqueuedAt.IsZero() {
		job.EnqueuedAt = time.Now().UTC()
	}
	b, err := json.Marshal(job)
	if err != nil {
		return err
	}
	if err := q.ensureGroup(ctx); err != nil {
		return err
	}
	if err := q.rdb.XAdd(ctx, &redis.XAddArgs{Stream: q.opts.Stream, Values: map[string]any{"job": string(b)}}).Err(); err != nil {
		return fmt.Errorf("enqueue %s %s: %w", job.Kind, job.ID, err)
	}
	return nil
}

// Next returns the next job for consumer: first a job reclaimed from a
// consumer that stopped heartbeating, else a new one, waiting up to block.
// It returns (nil, nil) when nothing arrived in time.
func (q *Queue) Next(ctx context.Context, consumer string, block time.Duration) (*Delivery, error) {
	for attempt := 0; ; attempt++ {
		d, err := q.next(ctx, consumer, block)
		if isNoGroup(err) && attempt == 0 {
			// Redis lost the group (restart without persistence): recreate it.
			if err := q.ensureGroup(ctx); err != nil {
				return nil, err
			}
			continue
		}
		return d, err
	}
}

func (q *Queue) next(ctx context.Context, consumer string, block time.Duration) (*Delivery, error) {
	for {
		msgs, _, err := q.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{
			Stream: q.opts.Stream, Group: q.opts.Group, Consumer: consumer,
			MinIdle: q.opts.VisibilityTimeout, Start: "0-0", Count: 1,
		}).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, fmt.Errorf("reclaim jobs: %w", err)
		}
		if len(msgs) == 0 {
			break
		}
		d, ok, err := q.delivery(ctx, consumer, msgs[0], 0)
		if err != nil || ok {
			return d, err
		}
	}
	deadline := time.Now().Add(block)
	for {
		wait := time.Until(deadline)
		if wait < time.Millisecond {
			wait = time.Millisecond
		}
		streams, err := q.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
			Group: q.opts.Group, Consumer: consumer, Streams: []string{q.opts.Stream, ">"},
			Count: 1, Block: wait,
		}).Result()
		if errors.Is(err, redis.Nil) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read jobs: %w", err)
		}
		if len(streams) == 0 || len(streams[0].Messages) == 0 {
			return nil, nil
		}
		d, ok, err := q.delivery(ctx, consumer, streams[0].Messages[0], 1)
		if err != nil || ok {
			return d, err
		}
		if time.Now().After(deadline) {
			return nil, nil
		}
	}
}

// delivery decodes a message; malformed entries are acked and dropped
// (ok=false) since no consumer could ever process them.
func (q *Queue) delivery(ctx context.Context, consumer string, msg redis.XMessage, count int) (*Delivery, bool, error) {
	raw, _ := msg.Values["job"].(string)
	var job Job
	if err := json.Unmarshal([]byte(raw), &job); err != nil || job.ID == "" {
		d := &Delivery{ID: msg.ID, consumer: consumer}
		return nil, false, q.Ack(ctx, d)
	}
	if count == 0 {
		// Reclaimed: read the delivery counter Redis keeps in the pending list.
		count = 2
		pend, err := q.rdb.XPendingExt(ctx, &redis.XPendingExtArgs{
			Stream: q.opts.Stream, Group: q.opts.Group, Start: msg.ID, End: msg.ID, Count: 1,
		}).Result()
		if err == nil && len(pend) == 1 {
			count = int(pend[0].RetryCount)
		}
	}
	return &Delivery{Job: job, ID: msg.ID, Deliveries: count, consumer: consumer}, true, nil
}

// Ack marks the job done and removes it from the stream.
func (q *Queue) Ack(ctx context.Context, d *Delivery) error {
	pipe := q.rdb.TxPipeline()
	pipe.XAck(ctx, q.opts.Stream, q.opts.Group, d.ID)
	pipe.XDel(ctx, q.opts.Stream, d.ID)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("ack job %s: %w", d.ID, err)
	}
	return nil
}

// Extend resets the job's idle time (a heartbeat), so it is not reclaimed
// while its consumer is still working. It fails with ErrNotOwner when the
// job was reclaimed by someone else or acked.
func (q *Queue) Extend(ctx context.Context, d *Delivery) error {
	pend, err := q.rdb.XPendingExt(ctx, &redis.XPendingExtArgs{
		Stream: q.opts.Stream, Group: q.opts.Group, Start: d.ID, End: d.ID, Count: 1,
	}).Result()
	if err != nil {
		return fmt.Errorf("extend job %s: %w", d.ID, err)
	}
	if len(pend) == 0 || pend[0].Consumer != d.consumer {
		return ErrNotOwner
	}
	// XCLAIM with JUSTID to the same consumer resets the idle time without
	// counting a delivery.
	ids, err := q.rdb.XClaimJustID(ctx, &redis.XClaimArgs{
		Stream: q.opts.Stream, Group: q.opts.Group, Consumer: d.consumer, MinIdle: 0, Messages: []string{d.ID},
	}).Result()
	if err != nil {
		return fmt.Errorf("extend job %s: %w", d.ID, err)
	}
	if len(ids) == 0 {
		return ErrNotOwner
	}
	return nil
}

// Depth is the number of jobs not yet acked (waiting or in progress).
func (q *Queue) Depth(ctx context.Context) (int64, error) {
	n, err := q.rdb.XLen(ctx, q.opts.Stream).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, fmt.Errorf("queue depth: %w", err)
	}
	return n, nil
}
