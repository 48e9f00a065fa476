// Start several mcpd instances on one Redis behind haproxy, the shape of a scale-out deployment:
// a redis-server (no persistence), N `mcpd auth` and M `mcpd mcp` sharing REDIS_URL and
// INTROSPECTION_SECRET, and haproxy (mode http, round robin per request) with one frontend for
// the MCP role and one for the authorization server. BASE_URI and AUTH_SERVER_URL are the
// balancer's URLs, so tokens name the balanced resource and the MCP role introspects through the
// balancer, as it would in production. Every instance can also be reached directly, so a test
// can pin a request to instance A or B. Everything listens on 127.0.0.1 free ports and is
// stopped by PID; mcpd instances are stopped with the same clean-exit and sanitizer checks as
// lib/server.mjs (MCPD_BIN chooses the build), except one a test killed on purpose.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

import { ROOT, freePort, spawnMcpd } from './server.mjs';

export const HAPROXY = process.env.HAPROXY_BIN ?? '/usr/sbin/haproxy';
export const REDIS_SERVER = process.env.REDIS_SERVER_BIN ?? 'redis-server';
const START_TIMEOUT_MS = 15000;
const STOP_TIMEOUT_MS = 10000;
/** The balancer names the instance that answered in this response header (its server name). */
export const INSTANCE_HEADER = 'x-mcpd-instance';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function portAnswers(port) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

function logTail(file, lines = 30) {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * Spawn a helper process (redis-server, haproxy) with its output in build/test-logs/<name>.log,
 * wait until every port in waitPorts accepts connections. Resolves to { proc, logFile, stop() };
 * stop() sends SIGTERM (SIGKILL after 10 s) and resolves once it has exited.
 */
async function spawnHelper(name, cmd, args, waitPorts) {
  const logDir = path.resolve(ROOT, process.env.MCPD_LOG_DIR ?? 'build/test-logs');
  mkdirSync(logDir, { recursive: true });
  const logFile = path.join(logDir, `${name}.log`);
  const log = createWriteStream(logFile);
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout.pipe(log, { end: false });
  proc.stderr.pipe(log, { end: false });
  let exit = null;
  // 'close': after exit and after stdout and stderr are drained, so nothing reaches the log once it ends.
  const exited = new Promise((resolve) => proc.once('close', (code, signal) => { exit = { code, signal }; resolve(exit); }));
  proc.once('error', (err) => { exit = { code: -1, error: err }; });
  async function stop() {
    if (!exit) proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), STOP_TIMEOUT_MS);
    const res = exit ?? (await exited);
    clearTimeout(timer);
    await new Promise((r) => log.end(r));
    return res;
  }
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (const port of waitPorts) {
    while (!(await portAnswers(port))) {
      if (exit || Date.now() > deadline) {
        await stop();
        throw new Error(`${cmd} did not listen on ${port} (${JSON.stringify(exit)}):\n${logTail(logFile)}`);
      }
      await sleep(50);
    }
  }
  return { proc, logFile, stop };
}

/** redis-server on a free port, nothing written to disk. Resolves to { port, url, stop() }. */
export async function startRedis(name) {
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mcpd-cluster-redis-'));
  const h = await spawnHelper(`${name}-redis-${port}`, REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1',
    '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no'], [port]);
  return { port, url: `redis://127.0.0.1:${port}`, stop: async () => { await h.stop(); rmSync(dir, { recursive: true, force: true }); } };
}

/**
 * A TCP relay to Redis that delays, by ms, everything an instance sends on its subscription
 * connection (the one that sends SUBSCRIBE; its commands keep their order), and nothing else:
 * a loaded Redis or network as seen by that instance, where a subscription takes effect well
 * after it was asked for. Every "publish before the subscriber is listening" race then happens
 * every time instead of once in a while. Resolves to { url, close() }.
 */
export async function slowSubscriptionRelay(redisPort, ms) {
  const sockets = new Set();
  const srv = net.createServer((down) => {
    const up = net.connect(redisPort, '127.0.0.1');
    sockets.add(down).add(up);
    let subscriber = false;
    down.on('data', (d) => {
      subscriber ||= /SUBSCRIBE/i.test(d.toString('latin1'));
      if (subscriber) setTimeout(() => up.write(d), ms); // equal delays fire in order
      else up.write(d);
    });
    up.on('data', (d) => down.write(d));
    for (const [a, b] of [[down, up], [up, down]]) {
      a.on('error', () => {});
      a.on('close', () => b.destroy());
    }
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  return {
    url: `redis://127.0.0.1:${srv.address().port}`,
    close: () => {
      for (const x of sockets) x.destroy();
      srv.close();
    },
  };
}

/**
 * haproxy config text: one frontend per backend, round robin per request, TCP health checks
 * (a killed instance is taken out within a few hundred ms) and a redispatch when a connection to
 * an instance fails (a request that never reached it is safe to send elsewhere; one that did is
 * lost with it). Timeouts outlast the tests' SSE streams. Each answer names its instance.
 */
export function haproxyConfig(frontends) {
  const lines = [
    'global',
    '  nbthread 1',
    '  maxconn 2000',
    'defaults',
    '  mode http',
    '  timeout connect 2s',
    '  timeout client 60s',
    '  timeout server 60s',
    '  timeout tunnel 60s',
    '  timeout http-request 10s',
    '  option redispatch 1',
    '  retries 3',
    '  retry-on conn-failure',
  ];
  for (const f of frontends) {
    lines.push(`frontend fe_${f.name}`, `  bind 127.0.0.1:${f.port}`, `  default_backend be_${f.name}`,
      `backend be_${f.name}`, '  balance roundrobin', `  http-response set-header ${INSTANCE_HEADER} %[srv_name]`);
    for (const s of f.servers) lines.push(`  server ${s.name} 127.0.0.1:${s.port} check inter 250 fall 1 rise 2`);
  }
  return `${lines.join('\n')}\n`;
}

/** haproxy in the foreground (-db) with a generated config in a temp dir. */
export async function startHaproxy(name, frontends) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mcpd-cluster-haproxy-'));
  const cfg = path.join(dir, 'haproxy.cfg');
  writeFileSync(cfg, haproxyConfig(frontends));
  const h = await spawnHelper(`${name}-haproxy-${frontends[0].port}`, HAPROXY, ['-db', '-f', cfg], frontends.map((f) => f.port));
  return { stop: async () => { await h.stop(); rmSync(dir, { recursive: true, force: true }); } };
}

/**
 * The whole cluster. Options: name (log files), mcpCount (3), authCount (2; 0 with noAuth),
 * noAuth (MCP instances with --no-auth), features ('reference'), mcpArgs, authArgs,
 * slowSubscriptions ({ <MCP instance index>: ms }: that instance reaches Redis through
 * slowSubscriptionRelay).
 * Resolves to {
 *   mcpOrigin, mcpUrl, asOrigin         the balancer's URLs (BASE_URI, AUTH_SERVER_URL)
 *   mcp: [{ name, origin, url, port, proc, stop(), kill() }]   each MCP instance, direct
 *   auth: [{ name, origin, port, proc, stop(), kill() }]       each auth instance, direct
 *   redis, stop()
 * }. stop() stops everything (balancer first, Redis last) and throws the first unclean mcpd stop.
 */
export async function startCluster(opts = {}) {
  const name = opts.name ?? 'cluster';
  const noAuth = opts.noAuth ?? false;
  const mcpCount = opts.mcpCount ?? 3;
  const authCount = noAuth ? 0 : (opts.authCount ?? 2);
  const lbMcpPort = await freePort();
  const lbAuthPort = await freePort();
  const mcpOrigin = `http://127.0.0.1:${lbMcpPort}`;
  const asOrigin = `http://127.0.0.1:${lbAuthPort}`;
  const env = { INTROSPECTION_SECRET: randomBytes(24).toString('hex') };
  const cluster = { mcpOrigin, mcpUrl: `${mcpOrigin}/mcp`, asOrigin, mcp: [], auth: [], redis: null, haproxy: null, relays: [] };
  const common = () => ['--base-uri', mcpOrigin, '--auth-server-url', asOrigin];

  cluster.stop = async () => {
    const errors = [];
    await cluster.haproxy?.stop().catch((e) => errors.push(e));
    const all = [...cluster.mcp, ...cluster.auth];
    const r = await Promise.allSettled(all.map((i) => i.stop()));
    for (const x of r) if (x.status === 'rejected') errors.push(x.reason);
    for (const x of cluster.relays) x.close();
    await cluster.redis?.stop().catch((e) => errors.push(e));
    if (errors.length) throw errors[0];
  };

  try {
    cluster.redis = await startRedis(name);
    const instance = async (role, i, args) => {
      const port = await freePort();
      const portFlag = role === 'auth' ? '--auth-port' : '--port';
      const slow = role === 'mcp' ? opts.slowSubscriptions?.[i] : undefined;
      let redisUrl = cluster.redis.url;
      if (slow) {
        const relay = await slowSubscriptionRelay(cluster.redis.port, slow);
        cluster.relays.push(relay);
        redisUrl = relay.url;
      }
      const p = await spawnMcpd({ name: `${name}-${role}${i}`, args: [role, portFlag, String(port), ...common(), '--redis-url', redisUrl, ...args],
        waitPorts: [port], env });
      let killed = false;
      return {
        name: `${role}${i}`, origin: `http://127.0.0.1:${port}`, url: `http://127.0.0.1:${port}/mcp`, port, proc: p.proc,
        /** SIGKILL (a crash): stop() then only waits for the exit. */
        kill: async () => {
          killed = true;
          const gone = new Promise((r) => (p.proc.exitCode !== null || p.proc.signalCode ? r() : p.proc.once('exit', r)));
          p.proc.kill('SIGKILL');
          await gone;
        },
        stop: () => (killed ? Promise.resolve() : p.stop()),
      };
    };
    const authArgs = opts.authArgs ?? [];
    const mcpArgs = [...(noAuth ? ['--no-auth'] : []), '--features', opts.features ?? 'reference', ...(opts.mcpArgs ?? [])];
    cluster.auth = await Promise.all(Array.from({ length: authCount }, (_, i) => instance('auth', i, authArgs)));
    cluster.mcp = await Promise.all(Array.from({ length: mcpCount }, (_, i) => instance('mcp', i, mcpArgs)));
    const frontends = [{ name: 'mcp', port: lbMcpPort, servers: cluster.mcp.map((m) => ({ name: m.name, port: m.port })) }];
    if (authCount) frontends.push({ name: 'auth', port: lbAuthPort, servers: cluster.auth.map((a) => ({ name: a.name, port: a.port })) });
    cluster.haproxy = await startHaproxy(name, frontends);
    // The MCP role is degraded until it has fetched the AS metadata (through the balancer).
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (const m of cluster.mcp) {
      for (;;) {
        const h = await fetch(`${m.origin}/health`).then((r) => r.json()).catch(() => null);
        if (h?.status === 'healthy') break;
        if (Date.now() > deadline) throw new Error(`${m.name} not healthy within ${START_TIMEOUT_MS} ms: ${JSON.stringify(h)}`);
        await sleep(50);
      }
    }
  } catch (e) {
    await cluster.stop().catch((stopErr) => { throw new AggregateError([e, stopErr], `${e.message}; and stopping: ${stopErr.message}`); });
    throw e;
  }
  return cluster;
}
