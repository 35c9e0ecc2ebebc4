// Live pipeline progress: GET /api/projects/<id>/events, server-sent events
// read with fetch() so the request carries the bearer token in its
// Authorization header like every other call (an EventSource cannot send
// headers, and a token in a URL ends up in proxy logs). When the stream is
// unavailable the page falls back to polling every POLL_MS and tries the
// stream again later.
import { authHeaders, handleAuthFailure, ApiError } from './api.js';

const POLL_MS = 5000; // the fallback: slower than the stream, enough to follow progress
const RETRY_MS = [1000, 3000, 10000, 30000];

/**
 * follow(projectId, signal, {onReady, onDocument, onPoll, onState})
 * onReady(): the stream is up; load the current state once.
 * onDocument(event): a document changed stage ({document_id, pipeline_status, progress, error_message}).
 * onPoll(): called every POLL_MS while the stream is down.
 * onState('live' | 'polling'): for the page's indicator.
 */
export function follow(projectId, signal, { onReady, onDocument, onPoll, onState }) {
  let failures = 0;
  let pollTimer = null;
  const setState = (s) => { if (onState) onState(s); };
  const startPolling = () => {
    if (pollTimer || signal.aborted) return;
    setState('polling');
    pollTimer = setInterval(() => { if (!signal.aborted) onPoll(); }, POLL_MS);
  };
  const stopPolling = () => { clearInterval(pollTimer); pollTimer = null; };
  signal.addEventListener('abort', stopPolling);

  const wait = (ms) => new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
  });

  const connect = async () => {
    const res = await fetch(`/api/projects/${encodeURIComponent(projectId)}/events`, {
      headers: { ...(await authHeaders()), Accept: 'text/event-stream' }, signal, cache: 'no-store',
    });
    if (!res.ok || !res.body) {
      const err = new ApiError(res.status, '');
      handleAuthFailure(err);
      throw err;
    }
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return 'closed';
      buf += value;
      let cut;
      while ((cut = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        let name = '';
        let data = '';
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) name = line.slice(7);
          else if (line.startsWith('data: ')) data += line.slice(6);
        }
        if (name === 'ready') {
          failures = 0;
          stopPolling();
          setState('live');
          onReady();
        } else if (name === 'document') {
          try { onDocument(JSON.parse(data)); } catch { /* a malformed event is skipped */ }
        } else if (name === 'end') {
          return 'end';
        }
      }
    }
  };

  (async () => {
    while (!signal.aborted) {
      let how = 'closed';
      try {
        how = await connect();
      } catch (e) {
        if (signal.aborted || e.name === 'AbortError') return;
        if (e instanceof ApiError && (e.status === 401 || e.status === 403 || e.status === 404)) return;
        how = 'error';
      }
      if (signal.aborted) return;
      if (how === 'end') { await wait(200); continue; } // token renewed, server restarted: reconnect at once
      startPolling();
      onPoll();
      await wait(RETRY_MS[Math.min(failures, RETRY_MS.length - 1)]);
      failures += 1;
    }
  })();
}
