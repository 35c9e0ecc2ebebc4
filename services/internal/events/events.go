// Package events carries live pipeline progress from the workers to every
// backend replica: Redis pub/sub, one channel per project, so a browser
// connected to any replica sees each stage of each document as it happens.
//
// Delivery is best effort (pub/sub keeps nothing for a subscriber that is
// not listening): the documents table stays the truth, and a client that
// (re)connects reads the current state once, then follows the events.
package events

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// channelPrefix names a project's channel; the project id follows.
const channelPrefix = "cl:events:project:"

// Channel is the pub/sub channel of a project's events.
func Channel(projectID string) string { return channelPrefix + projectID }

// Document is a change of a document's pipeline status.
type Document struct {
	DocumentID string `json:"document_id"`
	ProjectID  string `json:"project_id"`
	// Status is the new documents.pipeline_status, Progress its progress.
	Status   string `json:"pipeline_status"`
	Progress int    `json:"progress"`
	// Error is the user-facing reason of a failure.
	Error string    `json:"error_message,omitempty"`
	At    time.Time `json:"at"`
}

// Publish sends ev to the subscribers of its project's channel.
func Publish(ctx context.Context, rdb redis.UniversalClient, ev Document) error {
	if ev.At.IsZero() {
		ev.At = time.Now().UTC()
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	if err := rdb.Publish(ctx, Channel(ev.ProjectID), b).Err(); err != nil {
		return fmt.Errorf("publish event of document %s: %w", ev.DocumentID, err)
	}
	return nil
}

// Subscribe listens to a project's events. It returns once Redis has
// confirmed the subscription, so no event published afterwards is missed.
// Close the subscription when done.
func Subscribe(ctx context.Context, rdb redis.UniversalClient, projectID string) (*redis.PubSub, error) {
	sub := rdb.Subscribe(ctx, Channel(projectID))
	if _, err := sub.Receive(ctx); err != nil {
		sub.Close()
		return nil, fmt.Errorf("subscribe to project %s: %w", projectID, err)
	}
	return sub, nil
}

// Decode reads an event from a pub/sub message.
func Decode(msg *redis.Message) (Document, error) {
	var ev Document
	err := json.Unmarshal([]byte(msg.Payload), &ev)
	return ev, err
}
