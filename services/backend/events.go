package backend

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/contract-lucidity/contract-lucidity/services/internal/events"
)

// Live progress: GET /api/projects/{id}/events streams the pipeline stages
// of the project's documents as server-sent events, fed by the workers
// through Redis pub/sub (services/internal/events), so a browser connected
// to any backend replica sees every stage as it happens.
//
// The browser reads the stream with fetch() and its bearer token in the
// Authorization header, like every other call: an EventSource cannot send
// the header, and a token (or a ticket standing in for it) in the URL would
// end up in proxy and ingress logs. The stream is authorised like any
// route, re-checked at every heartbeat (a sign-out, a disabled user or a
// removed membership ends it within one heartbeat) and ends when the access
// token expires; the client then reconnects with its current token.
//
// Events:
//
//	event: ready      data: {}                   subscribed: load the current state now
//	event: document   data: events.Document      a document changed stage
//	event: end        data: {"reason": "..."}    reconnect (token expired, access ended, shutdown)
//
// and a comment line at every heartbeat, so idle proxies keep the
// connection open.

// eventStream is what the events route sends.
var eventStream = fileResponse{"text/event-stream"}

// maxStream bounds one event stream; the client reconnects.
const maxStream = 30 * time.Minute

func (s *Server) handleProjectEvents(w http.ResponseWriter, r *http.Request) error {
	id, err := s.authorize(r, s.projectRole, "", "")
	if err != nil {
		return err
	}
	claims, err := s.verifyBearer(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	subCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
	sub, err := events.Subscribe(subCtx, s.rdb, id)
	cancel()
	if err != nil {
		s.log.WarnContext(ctx, "live updates unavailable", "error", err)
		return &apiError{Status: http.StatusServiceUnavailable, Detail: "live updates are unavailable; reload to see the current state", RetryAfter: 10}
	}
	defer sub.Close()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // ingress-nginx: pass each event on at once
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	send := func(event string, data any) bool {
		b, err := json.Marshal(data)
		if err != nil {
			return false
		}
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	end := func(reason string) { send("end", map[string]string{"reason": reason}) }
	if !send("ready", struct{}{}) {
		return nil
	}
	lifetime := maxStream
	if claims.ExpiresAt != nil {
		lifetime = min(lifetime, time.Until(claims.ExpiresAt.Time))
	}
	expired := time.NewTimer(lifetime)
	defer expired.Stop()
	beat := time.NewTicker(s.eventHeartbeat)
	defer beat.Stop()
	msgs := sub.Channel()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.closing:
			end("server restarting")
			return nil
		case <-expired.C:
			end("token expired")
			return nil
		case <-beat.C:
			p, err := s.loadPrincipal(ctx, claims)
			if err == nil && p.MustChange {
				err = errMustChange
			}
			if err == nil {
				_, err = s.projectRole(ctx, p, id)
			}
			if err != nil {
				end("access ended")
				return nil
			}
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil || rc.Flush() != nil {
				return nil
			}
		case m, ok := <-msgs:
			if !ok {
				end("live updates interrupted")
				return nil
			}
			ev, err := events.Decode(m)
			if err != nil || ev.ProjectID != id {
				continue
			}
			if !send("document", ev) {
				return nil
			}
		}
	}
}
