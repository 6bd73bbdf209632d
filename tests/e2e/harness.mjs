// Helpers shared by the end-to-end tests: locating the build, writing temporary
// langgraph.json files, starting and stopping the real server binary, and a small
// raw HTTP/1.1 client for the tests that need byte-level control of a connection.
//
// Every wait in this file is bounded; every process started here is tracked and
// killed when the test process exits, even when a test fails half-way.

import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const E2E_DIR = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(E2E_DIR, '..', '..');
export const BUILD_DIR = path.resolve(process.env.LANGGRAPH_BUILD_DIR ?? path.join(REPO_ROOT, 'build'));
export const SERVER_BIN = path.resolve(process.env.LANGGRAPH_SERVER_BIN ?? path.join(BUILD_DIR, 'langgraph-server'));
export const DEFAULT_CONFIG = path.join(REPO_ROOT, 'langgraph.json');

export const PLUGINS = {
  authTokens: path.join(BUILD_DIR, 'plugins', 'auth_tokens.so'),
  agent: path.join(BUILD_DIR, 'plugins', 'agent.so'),
};

/** Absolute path of a test fixture plugin, e.g. fixture('auth_throws') → build/tests/fixtures/auth_throws.so */
export function fixture(name) {
  return path.join(BUILD_DIR, 'tests', 'fixtures', `${name}.so`);
}

/** The system assistant that graph "agent" gets: UUIDv5(6ba7b821-9dad-11d1-80b4-00c04fd430c8, "agent"). */
export const AGENT_ASSISTANT_ID = 'fe096781-5601-53d2-b2f6-0d3403f7e9ca';

export const TOKENS = {
  user1: 'user1-token',
  user2: 'user2-token',
};

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const STARTUP_DEADLINE_MS = 10_000;
const EXIT_DEADLINE_MS = 10_000;
const STOP_GRACE_MS = 5_000;
const MAX_CAPTURE = 1 << 20;

/** A delay that does not keep the process alive on its own. */
function unrefDelay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

// ---------------------------------------------------------------------------
// Process bookkeeping: never leave a server behind.

const liveChildren = new Set();
process.on('exit', () => {
  for (const child of liveChildren) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
});

function captureStream(stream) {
  const chunks = [];
  let size = 0;
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
    if (size >= MAX_CAPTURE) return;
    chunks.push(chunk);
    size += chunk.length;
  });
  return () => chunks.join('');
}

/** Resolves with {code, signal} when the child exits, or with null after `ms`. */
function waitForExit(child, ms) {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      resolve(null);
    }, ms);
    function onExit(code, signal) {
      clearTimeout(timer);
      resolve({ code, signal });
    }
    child.once('exit', onExit);
  });
}

function assertBinaryExists() {
  if (!existsSync(SERVER_BIN)) {
    throw new Error(
      `server binary not found at ${SERVER_BIN}; build it first ` +
        `(cmake -S . -B build && cmake --build build) or set LANGGRAPH_SERVER_BIN`,
    );
  }
}

// ---------------------------------------------------------------------------
// Ports and temporary configs.

/** A currently free TCP port on 127.0.0.1 (listen on port 0, read it, close). */
export async function freePort() {
  const srv = net.createServer();
  await new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', resolve);
  });
  const { port } = srv.address();
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

const tempDirs = new Set();

/** A fresh empty directory under the OS temp dir. */
export async function makeTempDir(prefix = 'langgraph-e2e-') {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

/**
 * Writes `dir/langgraph.json`. `obj` is serialized as JSON; a string is written verbatim
 * (for malformed-config tests). Returns the file's absolute path.
 */
export async function writeConfig(dir, obj, name = 'langgraph.json') {
  const file = path.join(dir, name);
  const text = typeof obj === 'string' ? obj : JSON.stringify(obj, null, 2);
  await fs.writeFile(file, text);
  return file;
}

/** mkdtemp + writeConfig in one call. Returns {dir, config}. */
export async function tempConfig(obj) {
  const dir = await makeTempDir();
  const config = await writeConfig(dir, obj);
  return { dir, config };
}

/** The root langgraph.json in a temp dir, its plugin paths made absolute (./build/ → BUILD_DIR). */
export async function rootConfig() {
  const config = JSON.parse(await fs.readFile(DEFAULT_CONFIG, 'utf8'));
  const absolute = (ref) =>
    ref.startsWith('./build/') ? path.join(BUILD_DIR, ref.slice('./build/'.length)) : path.resolve(REPO_ROOT, ref);
  for (const id of Object.keys(config.graphs)) config.graphs[id] = absolute(config.graphs[id]);
  config.auth.path = absolute(config.auth.path);
  return (await tempConfig(config)).config;
}

/** A config with the shipped agent graph and the given auth plugin ("lib.so:symbol"), absolute paths. */
export function configWithAuth(authPath, extra = {}) {
  return {
    graphs: { agent: `${PLUGINS.agent}:graph` },
    auth: { path: authPath },
    ...extra,
  };
}

/** Removes every directory made by makeTempDir / tempConfig. */
export async function cleanupTempDirs() {
  const dirs = [...tempDirs];
  tempDirs.clear();
  await Promise.all(dirs.map((d) => fs.rm(d, { recursive: true, force: true })));
}

// ---------------------------------------------------------------------------
// Starting and stopping the server.

async function probeOk(url) {
  try {
    const res = await fetch(`${url}/ok`, { headers: { connection: 'close' }, signal: AbortSignal.timeout(1000) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

/**
 * Starts the server on a free 127.0.0.1 port and waits (at most 10 s) for GET /ok → 200.
 * Returns {url, port, proc, stdout(), stderr(), stop(), kill()}. stop() sends SIGTERM, waits up
 * to 5 s, then SIGKILLs; it resolves with {code, signal} and is safe to call more than once.
 * kill() sends SIGKILL at once.
 */
export async function startServer({ config = DEFAULT_CONFIG, args = [], env = {} } = {}) {
  assertBinaryExists();
  // The free port can be taken by someone else before the server binds it: retry a few times.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startServerOnce({ config, args, env, port: await freePort() });
    } catch (err) {
      if (attempt >= 3 || !err.portInUse) throw err;
    }
  }
}

/**
 * The environment a server starts with: unless the test chose a database (DATABASE_URI in `env`,
 * even empty for the default, or --database-uri in `args`), a fresh SQLite file of its own, so
 * that servers on one config never share a database by accident.
 */
async function serverEnv(args, env) {
  if ('DATABASE_URI' in env || args.some((a) => a === '--database-uri' || a.startsWith('--database-uri='))) {
    return { ...process.env, ...env };
  }
  const dir = await makeTempDir('langgraph-db-');
  return { ...process.env, ...env, DATABASE_URI: `sqlite:${path.join(dir, 'langgraph.sqlite')}` };
}

async function startServerOnce({ config, args, env, port }) {
  const url = `http://127.0.0.1:${port}`;
  const proc = spawn(SERVER_BIN, ['--config', config, '--host', '127.0.0.1', '--port', String(port), ...args], {
    cwd: REPO_ROOT,
    env: await serverEnv(args, env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  liveChildren.add(proc);
  proc.once('exit', () => liveChildren.delete(proc));
  const stdout = captureStream(proc.stdout);
  const stderr = captureStream(proc.stderr);
  const closed = new Promise((resolve) => proc.once('close', resolve));
  let spawnError = null;
  proc.once('error', (err) => {
    spawnError = err;
  });

  let stopping = null;
  const stop = () => {
    if (!stopping) {
      stopping = (async () => {
        let result;
        if (proc.exitCode !== null || proc.signalCode !== null) {
          result = { code: proc.exitCode, signal: proc.signalCode, alreadyExited: true };
        } else {
          proc.kill('SIGTERM');
          result = await waitForExit(proc, STOP_GRACE_MS);
          if (result === null) {
            proc.kill('SIGKILL');
            result = { ...((await waitForExit(proc, STOP_GRACE_MS)) ?? { code: null, signal: null }), killed: true };
          }
        }
        // Let the pipes drain so stdout()/stderr() are complete.
        await Promise.race([closed, unrefDelay(2000)]);
        return result;
      })();
    }
    return stopping;
  };
  // SIGKILL: the server gets no chance to finish anything (crash tests).
  const kill = async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    const result = await waitForExit(proc, STOP_GRACE_MS);
    await Promise.race([closed, unrefDelay(2000)]);
    return result;
  };

  const deadline = Date.now() + STARTUP_DEADLINE_MS;
  for (;;) {
    if (spawnError) {
      throw new Error(`could not spawn ${SERVER_BIN}: ${spawnError.message}`);
    }
    if (proc.exitCode !== null || proc.signalCode !== null) {
      await Promise.race([closed, unrefDelay(2000)]);
      const err = new Error(
        `server exited during startup (code ${proc.exitCode}, signal ${proc.signalCode}); ` +
          `config ${config}\n--- stderr ---\n${stderr()}\n--- stdout ---\n${stdout()}`,
      );
      err.portInUse = /address already in use|EADDRINUSE/i.test(stderr() + stdout());
      throw err;
    }
    if (await probeOk(url)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(
        `server did not answer GET /ok within ${STARTUP_DEADLINE_MS} ms; config ${config}\n` +
          `--- stderr ---\n${stderr()}\n--- stdout ---\n${stdout()}`,
      );
    }
    await sleep(50);
  }
  return { url, port, proc, config, stdout, stderr, stop, kill };
}

/**
 * Runs the server expecting it to exit by itself (startup failures). Bounded by 10 s; a server
 * that is still running then is killed and reported with code null and timedOut true.
 * Returns {code, signal, stderr, stdout, timedOut}.
 */
export async function runServerExpectExit({ config, args = [], env = {} } = {}) {
  assertBinaryExists();
  const port = await freePort();
  const proc = spawn(SERVER_BIN, ['--config', config, '--host', '127.0.0.1', '--port', String(port), ...args], {
    cwd: REPO_ROOT,
    env: await serverEnv(args, env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  liveChildren.add(proc);
  proc.once('exit', () => liveChildren.delete(proc));
  const stdout = captureStream(proc.stdout);
  const stderr = captureStream(proc.stderr);
  const spawned = new Promise((resolve) => proc.once('error', resolve));
  const closed = new Promise((resolve) => proc.once('close', resolve));
  const result = await Promise.race([waitForExit(proc, EXIT_DEADLINE_MS), spawned.then((e) => ({ spawnError: e }))]);
  if (result && result.spawnError) {
    throw new Error(`could not spawn ${SERVER_BIN}: ${result.spawnError.message}`);
  }
  let timedOut = false;
  let final = result;
  if (final === null) {
    timedOut = true;
    proc.kill('SIGKILL');
    final = (await waitForExit(proc, STOP_GRACE_MS)) ?? { code: null, signal: null };
    final = { code: null, signal: final.signal };
  }
  // Let the pipes drain after exit ('close' fires once stdio is closed).
  await Promise.race([closed, unrefDelay(2000)]);
  return { code: final.code, signal: final.signal, stderr: stderr(), stdout: stdout(), timedOut };
}

// ---------------------------------------------------------------------------
// PostgreSQL: a database of its own for each suite, on the server the test command started.

/** An admin URI of the PostgreSQL server for the tests; the suites that need it skip without it. */
export const POSTGRES_ADMIN_URI = process.env.LANGGRAPH_TEST_POSTGRES_URI;

/** The options of a describe() that needs PostgreSQL: skipped without POSTGRES_ADMIN_URI. */
export const NEEDS_POSTGRES = { skip: POSTGRES_ADMIN_URI ? false : 'LANGGRAPH_TEST_POSTGRES_URI is not set' };

/** POSTGRES_ADMIN_URI with another database name. */
export function databaseUri(name) {
  const url = new URL(POSTGRES_ADMIN_URI);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Runs `sql` with psql on database `name` (the admin one by default); resolves with its output. */
export async function psql(sql, name) {
  const uri = name ? databaseUri(name) : POSTGRES_ADMIN_URI;
  const { stdout } = await promisify(execFile)('psql', [uri, '-v', 'ON_ERROR_STOP=1', '-Atqc', sql], { timeout: 20_000 });
  return stdout.trim();
}

/** A new database named after `prefix`: its name, and the environment that points a server at it. */
export async function createDatabase(prefix) {
  const name = `${prefix}_${randomUUID().replaceAll('-', '')}`;
  await psql(`CREATE DATABASE ${name}`);
  return { name, env: { DATABASE_URI: databaseUri(name) } };
}

/** Drops database `name`, whoever is still connected. */
export async function dropDatabase(name) {
  if (name) await psql(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
}

/** Stops the servers (any may be undefined), then drops their database. */
export async function stopAndDropDatabase(servers, name) {
  await Promise.all(servers.map((server) => server?.stop()));
  await dropDatabase(name);
}

// ---------------------------------------------------------------------------
// Small HTTP helpers.

/**
 * fetch() with a bounded timeout; returns {status, headers, text, json}. json is undefined if not JSON.
 * Sends `Connection: close` unless told otherwise, so that no idle connection outlives the call.
 */
export async function request(url, { method = 'GET', headers = {}, body, token, timeoutMs = 10_000 } = {}) {
  const h = { ...headers };
  if (!Object.keys(h).some((k) => k.toLowerCase() === 'connection')) h.connection = 'close';
  if (token) h.authorization = `Bearer ${token}`;
  let payload = body;
  if (body !== undefined && typeof body !== 'string' && !(body instanceof Uint8Array)) {
    payload = JSON.stringify(body);
    if (!Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) h['content-type'] = 'application/json';
  }
  const res = await fetch(url, { method, headers: h, body: payload, signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** Polls `fn` every `intervalMs` until it returns a truthy value or `timeoutMs` passes (then throws). */
export async function waitFor(fn, { timeoutMs = 10_000, intervalMs = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

export { randomUUID, sleep };

// ---------------------------------------------------------------------------
// Raw HTTP/1.1 over a TCP socket, for keep-alive and header-level tests.

/**
 * Tries to parse one HTTP/1.1 response from the start of `buf`.
 * Returns {response, rest} or null if more bytes are needed. `closed` tells whether the
 * peer has closed (a response without a length then ends at the close).
 */
export function parseResponse(buf, closed = false) {
  const headEnd = buf.indexOf('\r\n\r\n');
  if (headEnd < 0) return null;
  const head = buf.subarray(0, headEnd).toString('latin1');
  const lines = head.split('\r\n');
  const m = /^HTTP\/(\d\.\d) (\d{3})(?: (.*))?$/.exec(lines[0]);
  if (!m) throw new Error(`malformed status line: ${JSON.stringify(lines[0])}`);
  const status = Number(m[2]);
  const headers = {};
  const rawHeaders = [];
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    if (i < 0) throw new Error(`malformed header line: ${JSON.stringify(line)}`);
    const name = line.slice(0, i).trim();
    const value = line.slice(i + 1).trim();
    rawHeaders.push([name, value]);
    const key = name.toLowerCase();
    headers[key] = key in headers ? `${headers[key]}, ${value}` : value;
  }
  let pos = headEnd + 4;
  let body;
  const te = (headers['transfer-encoding'] ?? '').toLowerCase();
  if (status === 204 || status === 304 || (status >= 100 && status < 200)) {
    body = Buffer.alloc(0);
  } else if (te.includes('chunked')) {
    const parts = [];
    for (;;) {
      const lineEnd = buf.indexOf('\r\n', pos);
      if (lineEnd < 0) return null;
      const size = parseInt(buf.subarray(pos, lineEnd).toString('latin1').split(';')[0].trim(), 16);
      if (Number.isNaN(size)) throw new Error('malformed chunk size');
      pos = lineEnd + 2;
      if (size === 0) {
        // trailers until an empty line
        for (;;) {
          const tEnd = buf.indexOf('\r\n', pos);
          if (tEnd < 0) return null;
          const empty = tEnd === pos;
          pos = tEnd + 2;
          if (empty) break;
        }
        break;
      }
      if (buf.length < pos + size + 2) return null;
      parts.push(buf.subarray(pos, pos + size));
      pos += size + 2;
    }
    body = Buffer.concat(parts);
  } else if (headers['content-length'] !== undefined) {
    const len = Number(headers['content-length']);
    if (buf.length < pos + len) return null;
    body = buf.subarray(pos, pos + len);
    pos += len;
  } else {
    if (!closed) return null;
    body = buf.subarray(pos);
    pos = buf.length;
  }
  const text = body.toString('utf8');
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return {
    response: { httpVersion: m[1], status, reason: m[3] ?? '', headers, rawHeaders, body, text, json },
    rest: buf.subarray(pos),
  };
}

/** One TCP connection with a receive buffer and bounded reads of whole HTTP responses. */
export class RawConnection {
  static connect(port, { host = '127.0.0.1', timeoutMs = 10_000 } = {}) {
    return new Promise((resolve, reject) => {
      const sock = net.connect({ host, port });
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new Error(`connect to ${host}:${port} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      sock.once('connect', () => {
        clearTimeout(timer);
        sock.off('error', onError);
        resolve(new RawConnection(sock));
      });
      function onError(err) {
        clearTimeout(timer);
        reject(err);
      }
      sock.once('error', onError);
    });
  }

  constructor(sock) {
    this.sock = sock;
    this.buf = Buffer.alloc(0);
    this.closed = false; // peer finished or socket errored
    this.error = null;
    this.received = []; // every byte ever received, for diagnostics
    this.waiters = new Set();
    sock.setNoDelay(true);
    sock.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.received.push(d);
      this.#wake();
    });
    sock.on('end', () => {
      this.closed = true;
      this.#wake();
    });
    sock.on('close', () => {
      this.closed = true;
      this.#wake();
    });
    sock.on('error', (err) => {
      this.error = err;
      this.closed = true;
      this.#wake();
    });
  }

  #wake() {
    for (const w of [...this.waiters]) w();
  }

  #waitChange(deadline) {
    return new Promise((resolve) => {
      const left = Math.max(0, deadline - Date.now());
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, left);
      this.waiters.add(done);
    });
  }

  /** All bytes received so far, as latin1 text. */
  allReceived() {
    return Buffer.concat(this.received).toString('latin1');
  }

  /** Writes data; resolves when flushed to the kernel, rejects if the socket is gone. */
  write(data) {
    return new Promise((resolve, reject) => {
      if (this.sock.destroyed) {
        reject(this.error ?? new Error('socket already closed'));
        return;
      }
      this.sock.write(data, (err) => (err ? reject(err) : resolve()));
    });
  }

  /**
   * Reads the next whole response. Returns the response, or null when the peer closed
   * the connection before sending any byte of a new response. Throws on timeout or when
   * the connection ends in the middle of a response.
   */
  async readResponse({ timeoutMs = 10_000 } = {}) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const parsed = this.buf.length ? parseResponse(this.buf, this.closed) : null;
      if (parsed) {
        this.buf = Buffer.from(parsed.rest);
        return parsed.response;
      }
      if (this.closed) {
        if (this.buf.length === 0) return null;
        throw new Error(
          `connection ended in the middle of a response (${this.error ? this.error.code : 'EOF'}): ` +
            JSON.stringify(this.buf.toString('latin1').slice(0, 500)),
        );
      }
      if (Date.now() >= deadline) {
        throw new Error(
          `no complete response within ${timeoutMs} ms; buffered: ` +
            JSON.stringify(this.buf.toString('latin1').slice(0, 500)),
        );
      }
      await this.#waitChange(deadline);
    }
  }

  /** Waits until the peer closes or `ms` pass; resolves true if closed. */
  async waitClosed(ms) {
    const deadline = Date.now() + ms;
    while (!this.closed && Date.now() < deadline) await this.#waitChange(deadline);
    return this.closed;
  }

  destroy() {
    this.sock.destroy();
  }
}

/** Builds an HTTP/1.1 request as a Buffer. `headers` is an array of [name, value] or an object. */
export function buildRequest(method, target, { headers = {}, body, host = '127.0.0.1' } = {}) {
  const list = Array.isArray(headers) ? [...headers] : Object.entries(headers);
  const bodyBuf = body === undefined ? null : Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
  if (!list.some(([n]) => n.toLowerCase() === 'host')) list.unshift(['Host', host]);
  if (bodyBuf && !list.some(([n]) => n.toLowerCase() === 'content-length')) {
    list.push(['Content-Length', String(bodyBuf.length)]);
  }
  const head = `${method} ${target} HTTP/1.1\r\n${list.map(([n, v]) => `${n}: ${v}`).join('\r\n')}\r\n\r\n`;
  return bodyBuf ? Buffer.concat([Buffer.from(head, 'latin1'), bodyBuf]) : Buffer.from(head, 'latin1');
}
