// One HTTP request per connection for the raw-HTTP integration tests (lifecycle, cluster):
// status, headers, body and the parsed SSE events of a response a test can wait on or cut, and
// the longRunningOperation messages both files send.
import http from 'node:http';

/** Ceiling for any awaited event: the asan build on 2 loaded cores is slow. */
export const WAIT_MS = 15000;

/** Resolve with p's value, or reject naming what did not happen within ms. */
export function within(p, ms, what) {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/**
 * One HTTP request on its own connection. Collects the status, headers, body text and, for an
 * event stream, the parsed events ({ id, event, data }). done resolves once the response is over:
 * complete is true only when it ended properly (final chunk received), false when cut.
 */
export class Exchange {
  constructor(url, { method = 'GET', headers = {}, body } = {}) {
    this.status = null;
    this.headers = null;
    this.text = '';
    this.events = [];
    this.settled = false;
    this.pending = ''; // unparsed event-stream text
    this.current = {};
    this.waiters = new Set();
    this.done = new Promise((resolve) => {
      const finish = (res) => {
        if (this.settled) return;
        this.settled = true;
        this.result = res;
        resolve(res);
        this.wake();
      };
      this.req = http.request(url, { method, headers, agent: false }, (res) => {
        this.status = res.statusCode;
        this.headers = res.headers;
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          this.text += chunk;
          this.parse(chunk);
          this.wake();
        });
        res.on('error', () => {});
        res.on('close', () => finish({ complete: res.complete }));
        this.wake();
      });
      this.req.on('error', (error) => finish({ complete: false, error }));
      this.req.end(body);
    });
  }

  parse(chunk) {
    this.pending += chunk;
    let nl;
    while ((nl = this.pending.indexOf('\n')) >= 0) {
      const line = this.pending.slice(0, nl).replace(/\r$/, '');
      this.pending = this.pending.slice(nl + 1);
      if (line === '') {
        if (Object.keys(this.current).length) this.events.push(this.current);
        this.current = {};
      } else if (!line.startsWith(':')) {
        const i = line.indexOf(':');
        const field = i < 0 ? line : line.slice(0, i);
        const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
        this.current[field] = field === 'data' && this.current.data !== undefined
          ? `${this.current.data}\n${value}` : value;
      }
    }
  }

  /** JSON-RPC messages carried by the stream's events, in order (priming events skipped). */
  messages() {
    return this.events.filter((e) => e.data).map((e) => JSON.parse(e.data));
  }

  /** Events that carry a message. */
  dataEvents() {
    return this.events.filter((e) => e.data);
  }

  wake() {
    for (const w of this.waiters) w();
  }

  /** Resolve once pred(this) holds; reject if the response ends first or after WAIT_MS. */
  waitFor(pred, what) {
    return new Promise((resolve, reject) => {
      const seen = () => `status ${this.status}, body so far ${JSON.stringify(this.text.slice(0, 2000))}`;
      const stop = (err) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        if (err) reject(err);
        else resolve();
      };
      const check = () => {
        if (pred(this)) stop();
        else if (this.settled) stop(new Error(`response ended (${JSON.stringify(this.result)}) before ${what}; ${seen()}`));
      };
      const timer = setTimeout(() => stop(new Error(`timed out after ${WAIT_MS} ms waiting for ${what}; ${seen()}`)), WAIT_MS);
      this.waiters.add(check);
      check();
    });
  }

  close() {
    this.req.destroy();
  }
}

export function longCall(id, args, progressToken) {
  const params = { name: 'longRunningOperation', arguments: args };
  if (progressToken) params._meta = { progressToken };
  return { jsonrpc: '2.0', id, method: 'tools/call', params };
}

export function longResult(id, duration, steps) {
  return { jsonrpc: '2.0', id, result: { content: [{ type: 'text',
    text: `Long running operation completed. Duration: ${duration} seconds, Steps: ${steps}.` }] } };
}
