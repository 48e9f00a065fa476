// Reading Server-Sent Events off a fetch body without an SDK, for tests that must see the raw
// stream: when it ends, what the server wrote on it, and the legacy /sse endpoint event.
import assert from 'node:assert/strict';

/** Minimal SSE parser over a fetch body: yields { id, event, data, retry } per event. */
export async function* sseEvents(body) {
  const decoder = new TextDecoder();
  let buf = '';
  let ev = { data: [] };
  for await (const chunk of body) {
    buf += decoder.decode(chunk, { stream: true });
    let nl;
    while ((nl = buf.search(/\r\n|\r|\n/)) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + (buf.startsWith('\r\n', nl) ? 2 : 1));
      if (line === '') {
        if (ev.id !== undefined || ev.data.length) yield { ...ev, data: ev.data.join('\n') };
        ev = { data: [] };
        continue;
      }
      if (line.startsWith(':')) continue;
      const i = line.indexOf(':');
      const field = i < 0 ? line : line.slice(0, i);
      const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
      if (field === 'data') ev.data.push(value);
      else if (field === 'id') ev.id = value;
      else if (field === 'event') ev.event = value;
      else if (field === 'retry') ev.retry = Number(value);
    }
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * A legacy HTTP+SSE session: GET /sse, then wait for the endpoint event. Resolves to
 * { sid, messageUrl, events, ended(), post(msg), reply(id), waitForEvent(pred, ms, what),
 * close() }. events collects every event as it arrives; ended() is null while the stream is
 * open, 'end' once the server ended it, or the error that broke it.
 */
export async function openLegacySse(origin, { headers = {}, ceilingMs = 15000 } = {}) {
  const ac = new AbortController();
  const res = await fetch(`${origin}/sse`, { headers: { Accept: 'text/event-stream', ...headers },
    signal: AbortSignal.any([ac.signal, AbortSignal.timeout(60000)]) });
  assert.equal(res.status, 200, `GET /sse: ${res.status}`);
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
  const events = [];
  let ended = null;
  (async () => {
    try {
      for await (const ev of sseEvents(res.body)) events.push(ev);
      ended = 'end';
    } catch (e) {
      ended = e;
    }
  })();

  async function waitForEvent(pred, ms, what) {
    const deadline = Date.now() + ms;
    for (;;) {
      const ev = events.find(pred);
      if (ev) return ev;
      if (ended) throw new Error(`the /sse stream ended (${ended}) before ${what}`);
      if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
      await sleep(20);
    }
  }

  const endpoint = await waitForEvent((e) => e.event === 'endpoint', ceilingMs, 'the endpoint event');
  const messageUrl = new URL(endpoint.data, origin);
  const sid = messageUrl.searchParams.get('sessionId');
  assert.equal(messageUrl.pathname, '/message');
  assert.match(sid ?? '', /^[0-9a-f-]{36}$/);

  /** POST one JSON-RPC message to /message; resolves to { status, text, json }. */
  async function post(msg, extraHeaders = {}) {
    const r = await fetch(messageUrl, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers, ...extraHeaders },
      body: JSON.stringify(msg) });
    const text = await r.text();
    let json = null;
    try { json = JSON.parse(text); } catch { /* 202 has no body */ }
    return { status: r.status, text, json };
  }

  /** The JSON-RPC message with this id, as it arrived on the stream. */
  async function reply(id, ms = ceilingMs) {
    const ev = await waitForEvent((e) => e.event === 'message' && JSON.parse(e.data).id === id, ms, `the reply to id ${id}`);
    return JSON.parse(ev.data);
  }

  return { sid, messageUrl, events, ended: () => ended, post, reply, waitForEvent, close: () => ac.abort() };
}
