// Start and stop an mcpd process for a test file. The server runs on a free loopback port with
// the conformance fixture pack and authorization off; its stdout/stderr go to a log file. Stopping
// it is itself a check: mcpd must exit 0 on SIGTERM and must not have printed a sanitizer report
// (the asan build runs the same tests, and a report there is a bug even when every reply was right).
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

const START_TIMEOUT_MS = 15000; // the asan build starts slowly on a loaded 2-core CI machine
const STOP_TIMEOUT_MS = 10000;
const SANITIZER_PATTERNS = [/runtime error:/, /ERROR: AddressSanitizer/, /ERROR: LeakSanitizer/];

const handedOut = new Set(); // never the same port twice in one test process

/** A port the kernel just handed out on 127.0.0.1 (released again before mcpd binds it). */
export async function freePort() {
  for (;;) {
    const port = await kernelPort();
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

function kernelPort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

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

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function logTail(file, lines = 40) {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * Start mcpd with any role and arguments. Options: bin (default $MCPD_BIN or build/mcpd), args
 * (the whole argument list, role first), waitPorts (loopback ports that must accept connections
 * before this resolves), env (added to the environment), name (used in the log file name).
 * Resolves to { bin, proc, logFile, stop() }; stop() is the same clean-exit check as startServer's.
 */
export async function spawnMcpd(opts) {
  const bin = path.resolve(ROOT, opts.bin ?? process.env.MCPD_BIN ?? 'build/mcpd');
  const logDir = path.resolve(ROOT, process.env.MCPD_LOG_DIR ?? 'build/test-logs');
  mkdirSync(logDir, { recursive: true });
  const tag = `${opts.name ?? 'mcpd'}-${path.basename(path.dirname(bin))}-${opts.waitPorts?.[0] ?? process.pid}`;
  const logFile = path.join(logDir, `${tag}.log`);
  const log = createWriteStream(logFile);
  const proc = spawn(bin, opts.args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...(opts.env ?? {}) } });
  proc.stdout.pipe(log, { end: false });
  proc.stderr.pipe(log, { end: false });
  // 'close', not 'exit': it comes once stdout and stderr are drained too, so the log has every
  // line (a sanitizer report included) before stop() ends it, and nothing is written after.
  const exited = new Promise((resolve) => proc.once('close', (code, signal) => resolve({ code, signal })));
  let exit = null;
  exited.then((e) => { exit = e; });
  proc.once('error', (err) => { exit = { code: -1, signal: null, error: err }; });

  const deadline = Date.now() + START_TIMEOUT_MS;
  for (const port of opts.waitPorts ?? []) {
    while (!(await portAnswers(port))) {
      if (exit) throw new Error(`${bin} exited early (${JSON.stringify(exit)}):\n${logTail(logFile)}`);
      if (Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw new Error(`${bin} did not listen on ${port} within ${START_TIMEOUT_MS} ms:\n${logTail(logFile)}`);
      }
      await sleep(50);
    }
  }

  let stopped = null;
  /** SIGTERM, wait, then throw if the exit was unclean or a sanitizer report was printed. */
  async function stop() {
    if (stopped) return stopped;
    stopped = (async () => {
      if (!exit) proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), STOP_TIMEOUT_MS);
      const res = await exited;
      clearTimeout(timer);
      await new Promise((r) => log.end(r));
      const text = readFileSync(logFile, 'utf8');
      const problems = [];
      if (res.code !== 0) problems.push(`exit code ${res.code}, signal ${res.signal}`);
      for (const re of SANITIZER_PATTERNS) if (re.test(text)) problems.push(`log matches ${re}`);
      if (problems.length) throw new Error(`mcpd (${bin}) stopped uncleanly: ${problems.join('; ')}\n${logTail(logFile, 60)}`);
      return res;
    })();
    return stopped;
  }
  return { bin, proc, logFile, stop };
}

/**
 * Start mcpd. Options: bin (default $MCPD_BIN or build/mcpd), features (default "conformance"),
 * extraArgs, name (used in the log file name). Resolves to
 * { url, origin, port, logFile, proc, stop() } once the port accepts connections.
 */
export async function startServer(opts = {}) {
  const port = await freePort();
  const args = ['mcp', '--no-auth', '--features', opts.features ?? 'conformance', '--port', String(port),
    ...(opts.extraArgs ?? [])];
  const { proc, logFile, stop } = await spawnMcpd({ bin: opts.bin, args, waitPorts: [port], name: opts.name });
  const origin = `http://127.0.0.1:${port}`;
  return { url: `${origin}/mcp`, origin, port, logFile, proc, stop };
}
