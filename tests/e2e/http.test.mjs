// HTTP-level behaviour: keep-alive connections after a rejected POST, the HTTP/1.1 layer (chunked
// bodies, limits, HEAD, Expect, timeouts), plugin failures that must
// fail closed without leaking, request validation, what an auth plugin sees of a request, and
// many concurrent clients.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import {
  DEFAULT_CONFIG,
  RawConnection,
  TOKENS,
  UUID_RE,
  buildRequest,
  cleanupTempDirs,
  configWithAuth,
  fixture,
  randomUUID,
  request,
  startServer,
  tempConfig,
} from './harness.mjs';

const T = { timeout: 30_000 };
const HELLO = { messages: [{ role: 'user', content: 'Hello!' }] };

after(async () => {
  await cleanupTempDirs();
});

async function startWithAuthFixture(name) {
  const { config } = await tempConfig(configWithAuth(`${fixture(name)}:auth`));
  return startServer({ config });
}

/** A JSON body of exactly `size` bytes. */
function paddedJsonBody(size) {
  const prefix = '{"metadata":{"pad":"';
  const suffix = '"}}';
  return prefix + 'x'.repeat(size - prefix.length - suffix.length) + suffix;
}

function assertJsonError(res, status, what) {
  assert.equal(res.status, status, `${what}: expected ${status}, got ${res.status} ${res.text}`);
  assert.match(res.headers.get('content-type') ?? '', /application\/json/, `${what}: content-type`);
  assert.ok(res.json && typeof res.json === 'object', `${what}: body is not JSON: ${JSON.stringify(res.text)}`);
  assert.equal(typeof res.json.detail, 'string', `${what}: no string "detail" in ${res.text}`);
  assert.ok(res.json.detail.length > 0, `${what}: empty detail`);
}

const STRAY_400 = /HTTP\/1\.[01] 400/;

// ---------------------------------------------------------------------------

describe('keep-alive after a rejected POST with an unread body', () => {
  let server;
  before(async () => {
    server = await startServer({ config: DEFAULT_CONFIG });
  });
  after(async () => {
    await server?.stop();
  });

  const rejected = () =>
    buildRequest('POST', '/threads', {
      headers: [
        ['Content-Type', 'application/json'],
        ['Connection', 'keep-alive'],
      ],
      body: paddedJsonBody(8192),
    });
  const followUp = () =>
    buildRequest('POST', '/threads', {
      headers: [
        ['Authorization', `Bearer ${TOKENS.user1}`],
        ['Content-Type', 'application/json'],
        ['Connection', 'keep-alive'],
      ],
      body: JSON.stringify({ metadata: { follow_up: true } }),
    });

  function checkFollowUp(second, conn) {
    if (second === null) return; // the server chose to close the connection: fine
    assert.equal(second.status, 200, `the request after the 401 got ${second.status}: ${second.text}\nall bytes:\n${conn.allReceived()}`);
    assert.match(second.json?.thread_id ?? '', UUID_RE, `the follow-up should create a thread: ${second.text}`);
    assert.deepEqual(second.json.metadata, { follow_up: true });
  }

  test('sequential: 401 for the 8 KB POST, then the next request on the socket is answered correctly or the socket is closed', T, async () => {
    const conn = await RawConnection.connect(server.port);
    try {
      await conn.write(rejected());
      const first = await conn.readResponse({ timeoutMs: 5000 });
      assert.ok(first, `the connection closed without a response; received: ${JSON.stringify(conn.allReceived())}`);
      assert.equal(first.status, 401, first.text);
      assert.deepEqual(first.json, { detail: 'Invalid token' });
      assert.equal(first.headers['www-authenticate'], 'Bearer');

      // A server that left the body in the socket parses it as a request and answers 400 on its own.
      await conn.waitClosed(300);
      assert.ok(!STRAY_400.test(conn.allReceived()), `stray 400 after the 401:\n${conn.allReceived()}`);
      assert.equal(conn.buf.length, 0, `unexpected bytes after the 401: ${JSON.stringify(conn.buf.toString('latin1'))}`);

      let second = null;
      if (!conn.closed) {
        let writeFailed = false;
        try {
          await conn.write(followUp());
        } catch {
          writeFailed = true; // closed under us: fine
        }
        if (!writeFailed) second = await conn.readResponse({ timeoutMs: 5000 });
      }
      checkFollowUp(second, conn);
      await conn.waitClosed(200);
      assert.ok(!STRAY_400.test(conn.allReceived()), `stray 400 on the connection:\n${conn.allReceived()}`);
    } finally {
      conn.destroy();
    }
  });

  test('pipelined: both requests in one write; 401 then the right answer (or a close), never a 400', T, async (t) => {
    const conn = await RawConnection.connect(server.port);
    try {
      await conn.write(Buffer.concat([rejected(), followUp()]));
      const first = await conn.readResponse({ timeoutMs: 5000 });
      assert.ok(first, `the connection closed without a response; received: ${JSON.stringify(conn.allReceived())}`);
      assert.equal(first.status, 401, first.text);
      // A server without pipelining support may close the connection instead of answering the
      // second request, at the latest when its keep-alive timeout (5 s) expires.
      const t0 = Date.now();
      const second = await conn.readResponse({ timeoutMs: 8000 });
      if (second === null) t.diagnostic(`second pipelined request unanswered; connection closed after ${Date.now() - t0} ms`);
      checkFollowUp(second, conn);
      await conn.waitClosed(300);
      assert.ok(!STRAY_400.test(conn.allReceived()), `stray 400 on the connection:\n${conn.allReceived()}`);
    } finally {
      conn.destroy();
    }
  });

  test('the server is still healthy afterwards', T, async () => {
    const res = await request(`${server.url}/threads`, { method: 'POST', token: TOKENS.user2, body: {} });
    assert.equal(res.status, 200, res.text);
  });
});

// ---------------------------------------------------------------------------

describe('the HTTP/1.1 layer', () => {
  let server;
  before(async () => {
    server = await startServer({ config: DEFAULT_CONFIG });
  });
  after(async () => {
    await server?.stop();
  });

  const auth = ['Authorization', `Bearer ${TOKENS.user1}`];

  /** A raw response is a JSON {"detail": ...} error with this status. */
  function assertRawJsonError(res, status, what) {
    assert.ok(res, `${what}: no response`);
    assertJsonError({ ...res, headers: new Headers(res.headers) }, status, what);
  }

  /** Sends `bytes` on a new connection and reads one response. */
  async function exchange(bytes) {
    const conn = await RawConnection.connect(server.port);
    try {
      await conn.write(bytes);
      const res = await conn.readResponse({ timeoutMs: 5000 });
      return { res, closed: await conn.waitClosed(2000), conn };
    } finally {
      conn.destroy();
    }
  }

  test('a chunked request body is read, and the connection serves the next request', T, async () => {
    const conn = await RawConnection.connect(server.port);
    try {
      const json = JSON.stringify({ metadata: { chunked: 'yes' } });
      const body = `5\r\n${json.slice(0, 5)}\r\n${(json.length - 5).toString(16)}\r\n${json.slice(5)}\r\n0\r\n\r\n`;
      const head = buildRequest('POST', '/threads', {
        headers: [auth, ['Content-Type', 'application/json'], ['Transfer-Encoding', 'chunked']],
      });
      await conn.write(Buffer.concat([head, Buffer.from(body)]));
      const created = await conn.readResponse({ timeoutMs: 5000 });
      assert.equal(created?.status, 200, created?.text);
      assert.equal(created.json.metadata.chunked, 'yes', created.text);
      await conn.write(buildRequest('GET', `/threads/${created.json.thread_id}`, { headers: [auth] }));
      const read = await conn.readResponse({ timeoutMs: 5000 });
      assert.equal(read?.status, 200, read?.text);
      assert.equal(read.json.thread_id, created.json.thread_id);
    } finally {
      conn.destroy();
    }
  });

  test('a body over 64 MiB is a JSON 413 before any of it is read, and the connection closes', T, async () => {
    const { res, closed } = await exchange(
      buildRequest('POST', '/threads', { headers: [auth, ['Content-Type', 'application/json'], ['Content-Length', String(64 * 1024 * 1024 + 1)]] }),
    );
    assertRawJsonError(res, 413, 'oversized body');
    assert.match(res.json.detail, /larger than 67108864 bytes/);
    assert.ok(closed, 'the connection stays open after a 413');
  });

  test('a header block over 64 KiB is a JSON 431 and the connection closes', T, async () => {
    const { res, closed } = await exchange(buildRequest('GET', '/ok', { headers: [['X-Big', 'x'.repeat(70 * 1024)]] }));
    assertRawJsonError(res, 431, 'oversized headers');
    assert.ok(closed, 'the connection stays open after a 431');
  });

  test('a malformed request is a JSON 400 and the connection closes', T, async () => {
    const { res, closed } = await exchange(Buffer.from('GET /ok HTTP/1.1\r\nHost 127.0.0.1\r\n\r\n', 'latin1'));
    assertRawJsonError(res, 400, 'malformed header line');
    assert.ok(closed, 'the connection stays open after a 400');
  });

  test('HEAD answers the headers of GET without the body', T, async () => {
    const conn = await RawConnection.connect(server.port);
    try {
      await conn.write(buildRequest('HEAD', '/ok'));
      await conn.write(buildRequest('GET', '/ok'));
      const raw = await (async () => {
        await conn.waitClosed(500);
        return conn.allReceived();
      })();
      const [first, second] = raw.split(/(?=HTTP\/1\.1 )/);
      assert.match(first, /^HTTP\/1\.1 200 /);
      assert.match(first, /content-length: 11\r\n/i);
      assert.ok(first.endsWith('\r\n\r\n'), `HEAD sent a body: ${JSON.stringify(first)}`);
      assert.ok(second?.endsWith('{"ok":true}'), `the GET after HEAD: ${JSON.stringify(second)}`);
    } finally {
      conn.destroy();
    }
  });

  test('HEAD of an event stream answers the head its GET would have, without a body', T, async () => {
    const thread = await request(`${server.url}/threads`, { method: 'POST', token: TOKENS.user1, body: {} });
    const run = await request(`${server.url}/threads/${thread.json.thread_id}/runs`, {
      method: 'POST',
      token: TOKENS.user1,
      body: { assistant_id: 'agent', input: HELLO },
    });
    assert.equal(run.status, 200, run.text);
    const conn = await RawConnection.connect(server.port);
    try {
      await conn.write(buildRequest('HEAD', `/threads/${thread.json.thread_id}/runs/${run.json.run_id}/stream`, { headers: [auth] }));
      await conn.write(buildRequest('GET', '/ok'));
      await conn.waitClosed(1000);
      const [first, second] = conn.allReceived().split(/(?=HTTP\/1\.1 )/);
      assert.match(first, /^HTTP\/1\.1 200 /, first);
      assert.match(first, /content-type: text\/event-stream/i, first);
      assert.match(first, /transfer-encoding: chunked\r\n/i, first);
      assert.doesNotMatch(first, /content-length/i, first);
      assert.ok(first.endsWith('\r\n\r\n'), `HEAD sent a body: ${JSON.stringify(first)}`);
      assert.ok(second?.endsWith('{"ok":true}'), `the GET after HEAD: ${JSON.stringify(second)}`);
    } finally {
      conn.destroy();
    }
  });

  test('Expect: 100-continue gets 100 Continue when allowed, and the answer without waiting for the body when not', T, async () => {
    const json = JSON.stringify({ metadata: { expect: 1 } });
    const head = (headers) =>
      buildRequest('POST', '/threads', {
        headers: [...headers, ['Content-Type', 'application/json'], ['Content-Length', String(json.length)], ['Expect', '100-continue']],
      });
    const allowed = await RawConnection.connect(server.port);
    try {
      await allowed.write(head([auth]));
      const interim = await allowed.readResponse({ timeoutMs: 5000 });
      assert.equal(interim?.status, 100, `expected 100 Continue, got ${allowed.allReceived()}`);
      await allowed.write(json);
      const created = await allowed.readResponse({ timeoutMs: 5000 });
      assert.equal(created?.status, 200, created?.text);
      assert.equal(created.json.metadata.expect, 1, created.text);
    } finally {
      allowed.destroy();
    }
    const denied = await RawConnection.connect(server.port);
    try {
      await denied.write(head([]));
      const res = await denied.readResponse({ timeoutMs: 5000 });
      assertRawJsonError(res, 401, 'unauthenticated Expect: 100-continue');
      assert.ok(await denied.waitClosed(2000), 'the connection waits for a body it refused');
    } finally {
      denied.destroy();
    }
  });

  test('paths and query strings are percent-decoded', T, async () => {
    const res = await request(`${server.url}/o%6B`);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json, { ok: true });
  });

  test('HTTP/1.0 without keep-alive is answered and closed', T, async () => {
    const { res, closed } = await exchange(Buffer.from('GET /ok HTTP/1.0\r\n\r\n', 'latin1'));
    assert.equal(res?.status, 200);
    assert.deepEqual(res.json, { ok: true });
    assert.ok(closed, 'an HTTP/1.0 connection stays open');
  });

  test('a Transfer-Encoding that does not end with chunked is a JSON 400: its body is never read as a request', T, async () => {
    // Such a body has no known length; read as none, it would be taken for the next request.
    const marker = randomUUID();
    const smuggled = buildRequest('POST', '/threads', {
      headers: [auth, ['Content-Type', 'application/json']],
      body: JSON.stringify({ metadata: { smuggled: marker } }),
    });
    for (const codings of ['chunked, gzip', 'gzip']) {
      const conn = await RawConnection.connect(server.port);
      try {
        await conn.write(Buffer.concat([buildRequest('POST', '/threads/count', { headers: [auth, ['Transfer-Encoding', codings]] }), smuggled]));
        assert.ok(await conn.waitClosed(5000), `${codings}: the connection stays open`);
        const raw = conn.allReceived();
        assert.equal(raw.match(/HTTP\/1\.1 /g)?.length, 1, `${codings}: more than one answer:\n${raw}`);
        assert.match(raw, /^HTTP\/1\.1 400 /, raw);
        assert.match(raw, /"detail":"The request's Transfer-Encoding does not end with chunked/, raw);
      } finally {
        conn.destroy();
      }
    }
    const found = await request(`${server.url}/threads/count`, { method: 'POST', token: TOKENS.user1, body: { metadata: { smuggled: marker } } });
    assert.equal(found.json, 0, 'the body was run as a request');
  });

  test('other transfer codings before chunked are a JSON 501', T, async () => {
    const body = '2\r\n{}\r\n0\r\n\r\n';
    const { res, closed } = await exchange(
      Buffer.concat([buildRequest('POST', '/threads/count', { headers: [auth, ['Transfer-Encoding', 'gzip, chunked']] }), Buffer.from(body)]),
    );
    assertRawJsonError(res, 501, 'gzip, chunked');
    assert.ok(closed, 'the connection stays open after a 501');
  });

  test('an HTTP/1.1 request needs exactly one Host header', T, async () => {
    const none = await exchange(Buffer.from('GET /ok HTTP/1.1\r\n\r\n', 'latin1'));
    assertRawJsonError(none.res, 400, 'no Host');
    assert.match(none.res.json.detail, /no Host header/);
    assert.ok(none.closed, 'the connection stays open after a request without Host');
    const two = await exchange(Buffer.from('GET /ok HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 'latin1'));
    assertRawJsonError(two.res, 400, 'two Hosts');
    assert.match(two.res.json.detail, /more than one Host header/);
  });

  test('HTTP/1.0: no 100 Continue, and an event stream is the body until the connection closes, without chunks', T, async () => {
    const json = JSON.stringify({ assistant_id: 'agent', input: HELLO, stream_mode: 'values' });
    const conn = await RawConnection.connect(server.port);
    try {
      await conn.write(
        Buffer.from(
          `POST /runs/stream HTTP/1.0\r\nAuthorization: Bearer ${TOKENS.user1}\r\nContent-Type: application/json\r\n` +
            `Content-Length: ${json.length}\r\nExpect: 100-continue\r\n\r\n${json}`,
          'latin1',
        ),
      );
      assert.ok(await conn.waitClosed(15000), 'the HTTP/1.0 stream never ended');
      const raw = conn.allReceived();
      const [head, ...rest] = raw.split('\r\n\r\n');
      const body = rest.join('\r\n\r\n');
      assert.match(head, /^HTTP\/1\.0 200 /, raw);
      assert.doesNotMatch(raw, /100 Continue/);
      assert.doesNotMatch(head, /transfer-encoding/i);
      assert.match(body, /^event: metadata\r?\n/, body);
      assert.match(body, /Hello user1!/, body);
      assert.doesNotMatch(body, /\r\n0\r\n/, 'chunk framing in an HTTP/1.0 body');
    } finally {
      conn.destroy();
    }
  });

  test('a refused request with a small body keeps its connection; a large or slow body is not waited for', T, async () => {
    const conn = await RawConnection.connect(server.port);
    try {
      await conn.write(buildRequest('POST', '/threads', { headers: [['Content-Type', 'application/json']], body: '{}' }));
      assertRawJsonError(await conn.readResponse({ timeoutMs: 5000 }), 401, 'unauthenticated, small body');
      await conn.write(buildRequest('GET', '/ok'));
      assert.equal((await conn.readResponse({ timeoutMs: 5000 }))?.status, 200, 'the next request on the connection');
    } finally {
      conn.destroy();
    }
    // 1 MiB announced, none of it sent: the answer does not wait for it.
    const { res, closed } = await exchange(
      buildRequest('POST', '/threads', { headers: [['Content-Type', 'application/json'], ['Content-Length', String(1 << 20)]] }),
    );
    assertRawJsonError(res, 401, 'unauthenticated, large body');
    assert.ok(closed, 'the connection waits for a large body it refused');
    // A small body trickling in is read for 2 s at most: then the answer goes out and the
    // connection closes (else 1,000 bytes at 4 a second would hold a worker for minutes).
    const slow = await RawConnection.connect(server.port);
    try {
      await slow.write(buildRequest('POST', '/threads', { headers: [['Content-Type', 'application/json'], ['Content-Length', '1000']] }));
      const t0 = Date.now();
      let answer = null;
      while (!answer && Date.now() - t0 < 10_000) {
        await slow.write(' ').catch(() => {});
        await new Promise((resolve) => setTimeout(resolve, 250));
        if (/\r\n\r\n\{/.test(slow.allReceived())) answer = slow.allReceived();
      }
      assert.ok(answer, `no answer within 10 s while the body trickled in: ${slow.allReceived()}`);
      assert.match(answer, /^HTTP\/1\.1 401 /, answer);
      assert.ok(Date.now() - t0 < 3500, `answered after ${Date.now() - t0} ms`);
      assert.ok(await slow.waitClosed(5000), 'the connection stays open after the trickled body was given up');
    } finally {
      slow.destroy();
    }
    // So is a body that does not come at all (a read waits 5 s on its own).
    const silent = await RawConnection.connect(server.port);
    try {
      const t0 = Date.now();
      await silent.write(buildRequest('POST', '/threads', { headers: [['Content-Type', 'application/json'], ['Content-Length', '100']] }));
      assertRawJsonError(await silent.readResponse({ timeoutMs: 8000 }), 401, 'unauthenticated, silent body');
      assert.ok(Date.now() - t0 < 3500, `answered after ${Date.now() - t0} ms`);
    } finally {
      silent.destroy();
    }
  });

  test('header values that are not UTF-8 are read as ISO-8859-1', T, async () => {
    const thread = await request(`${server.url}/threads`, { method: 'POST', token: TOKENS.user1, body: {} });
    const json = JSON.stringify({ assistant_id: 'agent', input: HELLO });
    const { res } = await exchange(
      buildRequest('POST', `/threads/${thread.json.thread_id}/runs`, {
        headers: [auth, ['Content-Type', 'application/json'], ['X-Latin', 'caf\xe9 \xff']],
        body: json,
      }),
    );
    assert.equal(res?.status, 200, res?.text);
    assert.equal(res.json.kwargs.config.configurable['x-latin'], 'café ÿ');
    const done = await request(`${server.url}/threads/${thread.json.thread_id}/runs/${res.json.run_id}/join`, { token: TOKENS.user1 });
    assert.equal(done.status, 200, done.text);
    assert.match(JSON.stringify(done.json), /Hello user1!/);
  });

  test('an idle keep-alive connection is closed after 5 s', T, async () => {
    const conn = await RawConnection.connect(server.port);
    try {
      await conn.write(buildRequest('GET', '/ok'));
      assert.equal((await conn.readResponse({ timeoutMs: 5000 }))?.status, 200);
      const t0 = Date.now();
      assert.ok(await conn.waitClosed(9000), 'the idle connection was never closed');
      const waited = Date.now() - t0;
      assert.ok(waited > 4000 && waited < 8000, `closed after ${waited} ms`);
    } finally {
      conn.destroy();
    }
  });
});

// ---------------------------------------------------------------------------

describe('auth plugin failures fail closed', () => {
  const SECRET = 'secret internal detail';

  function assertNoLeak(res, what) {
    assert.ok(!res.text.includes(SECRET), `${what}: body leaks the exception text: ${res.text}`);
    for (const [name, value] of res.headers) {
      assert.notEqual(name.toLowerCase(), 'exception_what', `${what}: EXCEPTION_WHAT header present: ${value}`);
      assert.ok(!value.includes(SECRET), `${what}: header ${name} leaks the exception text`);
      assert.ok(!name.includes('secret'), `${what}: header name ${name} leaks`);
    }
  }

  describe('authenticate throws std::runtime_error', () => {
    let server;
    before(async () => {
      server = await startWithAuthFixture('auth_throws');
    });
    after(async () => {
      await server?.stop();
    });

    test('answers 500 with a generic JSON detail and leaks nothing', T, async () => {
      const cases = [
        ['POST', '/threads', {}, TOKENS.user1],
        ['POST', '/threads', {}, undefined],
        ['GET', `/threads/${randomUUID()}`, undefined, TOKENS.user1],
        ['POST', '/runs/wait', { assistant_id: 'agent', input: HELLO }, TOKENS.user2],
        ['GET', '/assistants/agent', undefined, TOKENS.user2],
      ];
      for (const [method, path, body, token] of cases) {
        const res = await request(`${server.url}${path}`, { method, body, token });
        const what = `${method} ${path}`;
        assertJsonError(res, 500, what);
        assertNoLeak(res, what);
      }
    });

    test('raw response headers carry no exception text', T, async () => {
      const conn = await RawConnection.connect(server.port);
      try {
        await conn.write(
          buildRequest('POST', '/threads', {
            headers: [
              ['Authorization', `Bearer ${TOKENS.user1}`],
              ['Content-Type', 'application/json'],
              ['Connection', 'close'],
            ],
            body: '{}',
          }),
        );
        const res = await conn.readResponse({ timeoutMs: 5000 });
        assert.ok(res, 'no response');
        assert.equal(res.status, 500);
        const raw = conn.allReceived();
        assert.ok(!/exception_what/i.test(raw), `EXCEPTION_WHAT in the raw response:\n${raw}`);
        assert.ok(!raw.includes(SECRET), `exception text in the raw response:\n${raw}`);
      } finally {
        conn.destroy();
      }
    });

    test('unauthenticated routes still work and the server did not crash', T, async () => {
      const res = await request(`${server.url}/ok`);
      assert.equal(res.status, 200);
      assert.equal(server.proc.exitCode, null);
    });
  });

  describe('authenticate returns a user without identity', () => {
    let server;
    before(async () => {
      server = await startWithAuthFixture('auth_bad_user');
    });
    after(async () => {
      await server?.stop();
    });

    test('answers 500 (never an allow) and the server keeps running', T, async () => {
      for (const [method, path, body] of [
        ['POST', '/threads', {}],
        ['POST', '/threads/search', {}],
        ['POST', '/runs/wait', { assistant_id: 'agent', input: HELLO }],
      ]) {
        const res = await request(`${server.url}${path}`, { method, body, token: TOKENS.user1 });
        assertJsonError(res, 500, `${method} ${path}`);
      }
      const ok = await request(`${server.url}/ok`);
      assert.equal(ok.status, 200);
      assert.equal(server.proc.exitCode, null);
    });
  });
});

// ---------------------------------------------------------------------------

describe('request validation', () => {
  let server;
  let threadId;
  before(async () => {
    server = await startServer({ config: DEFAULT_CONFIG });
    const res = await request(`${server.url}/threads`, { method: 'POST', token: TOKENS.user1, body: {} });
    assert.equal(res.status, 200, res.text);
    threadId = res.json.thread_id;
  });
  after(async () => {
    await server?.stop();
  });

  const call = (method, path, body, headers = {}) =>
    request(`${server.url}${path}`, { method, body, token: TOKENS.user1, headers });
  const JSON_CT = { 'content-type': 'application/json' };

  test('malformed JSON bodies are 422', T, async () => {
    for (const [method, path] of [
      ['POST', '/threads'],
      ['PATCH', () => `/threads/${threadId}`],
      ['POST', '/threads/search'],
      ['POST', '/assistants/search'],
      ['POST', () => `/threads/${threadId}/runs`],
      ['POST', () => `/threads/${threadId}/runs/wait`],
      ['POST', '/runs/wait'],
    ]) {
      const p = typeof path === 'function' ? path() : path;
      assertJsonError(await call(method, p, '{"metadata": {', JSON_CT), 422, `${method} ${p} with truncated JSON`);
      assertJsonError(await call(method, p, 'not json at all', JSON_CT), 422, `${method} ${p} with non-JSON`);
    }
  });

  test('bodies nested deeper than 512 levels, or with a raw NUL byte, are 422; 512 levels are stored', T, async () => {
    const nest = (depth, leaf = '1') => '{"a":'.repeat(depth) + leaf + '}'.repeat(depth);
    // Deep enough to overflow a worker's stack when copied, compared or written out.
    const deep = 100_000;
    for (const [method, path, body] of [
      ['POST', '/threads', `{"metadata":${nest(deep)}}`],
      ['POST', '/threads/search', `{"metadata":${nest(deep)}}`],
      ['PUT', '/store/items', `{"namespace":["deep"],"key":"k","value":${nest(deep)}}`],
      ['POST', '/runs/batch', '['.repeat(deep) + ']'.repeat(deep)],
      ['POST', '/runs/wait', `{"assistant_id":"agent","input":${nest(deep)}}`],
      ['POST', '/threads', `{"metadata":${nest(512)}}`],  // 513 with the body's own object
    ]) {
      const res = await call(method, path, body, JSON_CT);
      assertJsonError(res, 422, `${method} ${path} nested`);
      assert.match(res.json.detail, /deeper than 512 levels/);
    }
    // JSON text has no raw NUL; the parser would take it for the end and ignore the rest.
    assertJsonError(await call('POST', '/threads', '{"metadata":{"a":1}}\u0000{{{', JSON_CT), 422, 'raw NUL');
    const stored = await call('POST', '/threads', `{"metadata":{"k":${nest(510)}}}`, JSON_CT);
    assert.equal(stored.status, 200, stored.text);
    const found = await call('POST', '/threads/search', `{"metadata":{"k":${nest(510)}}}`, JSON_CT);
    assert.equal(found.status, 200, found.text);
    assert.deepEqual(found.json.map((t) => t.thread_id), [stored.json.thread_id]);
    assert.equal((await call('GET', '/ok')).status, 200);
  });

  test('a NUL character in a body string, the path or the query is 422, and nothing is stored', T, async () => {
    // PostgreSQL can hold no NUL character (jsonb refuses it, text would cut the value short
    // there), so every database refuses it alike.
    const count = async () => (await call('POST', '/threads/count', '{}', JSON_CT)).json;
    const before = await count();
    for (const [method, path, body] of [
      ['POST', '/threads', { metadata: { a: 'x\u0000y' } }],
      ['POST', '/threads', { metadata: { 'a\u0000': 1 } }],
      ['POST', '/assistants', { graph_id: 'agent', name: 'a\u0000b' }],
      ['PUT', '/store/items', { namespace: ['nul'], key: 'k\u0000', value: {} }],
      ['POST', '/runs/wait', { assistant_id: 'agent', input: { messages: [{ role: 'user', content: '\u0000' }] } }],
    ]) {
      const res = await call(method, path, JSON.stringify(body), JSON_CT);
      assertJsonError(res, 422, `${method} ${path} ${JSON.stringify(body)}`);
      assert.match(res.json.detail, /NUL character/);
    }
    for (const path of [`/threads/${threadId}%00`, '/store/items?namespace=nul&key=k%00', '/store/items?key=k&x%00=1']) {
      const res = await call('GET', path);
      assertJsonError(res, 422, path);
      assert.match(res.json.detail, /NUL character \(%00\)/);
    }
    assert.equal(await count(), before);
    // A backslash followed by "u0000" is no NUL character.
    const kept = await call('POST', '/threads', JSON.stringify({ metadata: { text: 'x\\u0000y' } }), JSON_CT);
    assert.equal(kept.status, 200, kept.text);
    assert.equal((await call('GET', `/threads/${kept.json.thread_id}`)).json.metadata.text, 'x\\u0000y');
  });

  test('bytes of the path or the query that are not UTF-8 are read as U+FFFD, as Starlette does', T, async () => {
    const put = await call('PUT', '/store/items', JSON.stringify({ namespace: ['bytes'], key: 'k\ufffd', value: { v: 1 } }), JSON_CT);
    assert.equal(put.status, 204, put.text);
    const got = await call('GET', '/store/items?namespace=bytes&key=k%ff');
    assert.equal(got.status, 200, got.text);
    assert.equal(got.json.key, 'k\ufffd');
    const bad = await call('GET', '/threads/%ff%fe');
    assertJsonError(bad, 422, 'a path id that is not UTF-8');
    assert.match(bad.json.detail, /got "\ufffd\ufffd"/);
  });

  test('wrong types are 422', T, async () => {
    const graphThread = await call('POST', '/threads', JSON.stringify({ graph_id: 'agent' }), JSON_CT);
    assert.equal(graphThread.status, 200, graphThread.text);
    const withGraph = graphThread.json.thread_id;
    const assistant = await call('POST', '/assistants', JSON.stringify({ graph_id: 'agent', name: 'kept' }), JSON_CT);
    assert.equal(assistant.status, 200, assistant.text);
    const assistantId = assistant.json.assistant_id;
    const cases = [
      ['POST', '/threads', { metadata: 'oops' }],
      ['POST', '/threads', [1, 2, 3]],
      ['POST', '/threads', { thread_id: 'not-a-uuid' }],
      ['PATCH', `/threads/${threadId}`, { metadata: 5 }],
      ['POST', '/threads/search', { metadata: 'oops' }],
      ['POST', '/threads/search', { limit: 'ten' }],
      ['POST', '/assistants/search', { metadata: [] }],
      ['POST', '/store/items/search', { query: 5 }],
      ['POST', '/store/items/search', { query: ['x'] }],
      ['POST', '/store/items/search', { query: 'x' }, 200],
      ['POST', `/threads/${threadId}/runs`, { input: HELLO }],
      ['POST', `/threads/${threadId}/runs`, { assistant_id: 42, input: HELLO }],
      ['POST', `/threads/${threadId}/runs/wait`, { assistant_id: 'agent', input: HELLO, metadata: 'oops' }],
      ['POST', '/runs/wait', { assistant_id: 'agent', input: HELLO, config: 'oops' }],
      ['POST', '/runs/wait', 'null'],
      ['POST', `/threads/${threadId}/history`, { before: { checkpoint_id: 1 } }],
      ['POST', `/threads/${threadId}/history`, { before: 5 }],
      ['POST', `/threads/${threadId}/state/checkpoint`, { checkpoint: { checkpoint_id: 1 } }],
      ['POST', `/threads/${withGraph}/state`, { values: {}, checkpoint: { checkpoint_id: [] } }],
      ['POST', `/threads/${withGraph}/state`, { values: {}, checkpoint_id: 1 }],
      // A run no stream could join, or that could only fail inside the server, is never created.
      ['POST', `/threads/${threadId}/runs`, { assistant_id: 'agent', input: HELLO, stream_mode: 'bogus' }],
      ['POST', '/runs/wait', { assistant_id: 'agent', input: HELLO, stream_mode: ['values', 7] }],
      ['POST', '/runs/crons', { assistant_id: 'agent', schedule: '* * * * *', stream_mode: 'bogus' }],
      ['POST', `/threads/${threadId}/runs/wait`, { assistant_id: 'agent', input: HELLO, config: { recursion_limit: 'x' } }],
      ['POST', '/runs/wait', { assistant_id: 'agent', input: HELLO, config: { recursion_limit: 2147483648 } }],
      ['POST', '/runs/wait', { assistant_id: 'agent', input: HELLO, config: { recursion_limit: 0 } }],
      ['POST', '/assistants', { graph_id: 'agent', config: { recursion_limit: null, x: 1 } }, 200],
      ['POST', '/assistants', { graph_id: 'agent', config: { recursion_limit: 'x' } }],
      ['POST', '/runs/wait', { assistant_id: 'agent', input: HELLO, config: { configurable: 'x' } }],
      ['POST', '/runs/wait', { assistant_id: 'agent', input: HELLO, config: { tags: 'x' } }],
      ['POST', '/runs/wait', { assistant_id: 'agent', input: HELLO, config: { tags: ['ok', 7] } }],
      ['POST', '/runs/wait', { assistant_id: 'agent', input: HELLO, config: { tags: ['ok'], configurable: null } }, 200],
      ['POST', '/assistants', { graph_id: 'agent', config: { configurable: [] } }],
      ['PATCH', `/assistants/${assistantId}`, { config: { tags: {} } }],
      ['POST', '/runs/crons', { assistant_id: 'agent', schedule: '* * * * *', config: { configurable: 1 } }],
      ['POST', '/assistants', { graph_id: 'agent', description: { x: 1 } }],
      ['PATCH', `/assistants/${assistantId}`, { name: 5 }],
      ['PATCH', `/assistants/${assistantId}`, { description: [] }],
      ['POST', '/threads/search', { select: ['bogus'] }],
      ['POST', '/threads/search', { select: 'thread_id' }],
      ['POST', '/assistants/search', { select: ['thread_id'] }],
      ['POST', '/runs/crons/search', { select: ['run_id'] }],
      ['POST', '/runs/wait', { assistant_id: 'agent', input: HELLO, durability: 'never' }],
      ['GET', `/threads/${threadId}/runs?status=bogus`],
      ['GET', `/threads/${threadId}/runs?select=bogus`],
      ['GET', `/threads/${threadId}/runs?limit=1.5`],
      ['GET', `/threads/${threadId}/runs?offset=-1`],
      ['GET', `/threads/${threadId}/runs?status=success`, undefined, 200],
      ['GET', `/threads/${threadId}/history?limit=1.5`],
      ['GET', `/threads/${threadId}/history?limit=0`],
      ['GET', `/threads/${threadId}/history?limit=`],
    ];
    for (const [method, path, body, status = 422] of cases) {
      const payload = typeof body === 'string' ? body : JSON.stringify(body);
      const res = await call(method, path, payload, JSON_CT);
      if (status === 422) assertJsonError(res, 422, `${method} ${path} ${payload}`);
      else assert.equal(res.status, status, `${method} ${path} ${payload}: ${res.text}`);
    }
    // The refused changes changed nothing.
    const kept = await call('GET', `/assistants/${assistantId}`);
    assert.equal(kept.json.name, 'kept');
    assert.equal(kept.json.version, 1);
    // None of the refused runs was recorded.
    const runs = await call('GET', `/threads/${threadId}/runs`);
    assert.equal(runs.status, 200, runs.text);
    assert.deepEqual(runs.json, []);
  });

  test('store keys and namespaces past 1 KB are 422; at 1 KB they are stored', T, async () => {
    const long = 'k'.repeat(1025);
    const cases = [
      ['PUT', '/store/items', { namespace: ['notes'], key: long, value: { a: 1 } }],
      ['PUT', '/store/items', { namespace: ['n'.repeat(600), 'm'.repeat(600)], key: 'k', value: { a: 1 } }],
      ['DELETE', '/store/items', { namespace: ['notes'], key: long }],
      ['POST', '/store/items/search', { namespace_prefix: ['p'.repeat(1025)] }],
    ];
    for (const [method, path, body] of cases) {
      assertJsonError(await call(method, path, JSON.stringify(body), JSON_CT), 422, `${method} ${path} with a long name`);
    }
    assertJsonError(await call('GET', `/store/items?namespace=notes&key=${long}`), 422, 'GET a long key');
    const key = 'k'.repeat(1024);
    const namespace = ['n'.repeat(512), 'm'.repeat(512)];
    const put = await call('PUT', '/store/items', JSON.stringify({ namespace, key, value: { a: 1 } }), JSON_CT);
    assert.equal(put.status, 204, put.text);
    const got = await call('GET', `/store/items?namespace=${namespace.join('.')}&key=${key}`);
    assert.equal(got.status, 200, got.text);
    assert.deepEqual(got.json.value, { a: 1 });
  });

  test('non-UUID ids in the path are 422', T, async () => {
    for (const [method, path, body] of [
      ['GET', '/threads/not-a-uuid'],
      ['PATCH', '/threads/not-a-uuid', { metadata: {} }],
      ['DELETE', '/threads/not-a-uuid'],
      ['GET', '/threads/not-a-uuid/runs'],
      ['POST', '/threads/not-a-uuid/runs', { assistant_id: 'agent', input: HELLO }],
      ['POST', '/threads/not-a-uuid/runs/wait', { assistant_id: 'agent', input: HELLO }],
      ['GET', `/threads/${threadId}/runs/not-a-uuid`],
    ]) {
      assertJsonError(await call(method, path, body), 422, `${method} ${path}`);
    }
  });

  test('unknown ids are 404', T, async () => {
    const ghost = randomUUID();
    for (const [method, path, body] of [
      ['GET', `/threads/${ghost}`],
      ['PATCH', `/threads/${ghost}`, { metadata: { a: 1 } }],
      ['DELETE', `/threads/${ghost}`],
      ['GET', `/threads/${ghost}/runs/${randomUUID()}`],
      ['GET', `/threads/${threadId}/runs/${randomUUID()}`],
      ['POST', `/threads/${ghost}/runs`, { assistant_id: 'agent', input: HELLO }],
      ['POST', `/threads/${ghost}/runs/wait`, { assistant_id: 'agent', input: HELLO }],
      ['GET', `/assistants/${randomUUID()}`],
      ['POST', `/threads/${threadId}/runs/wait`, { assistant_id: randomUUID(), input: HELLO }],
      ['POST', '/runs/wait', { assistant_id: 'no-such-graph', input: HELLO }],
    ]) {
      assertJsonError(await call(method, path, body), 404, `${method} ${path}`);
    }
  });

  test('a thread search names the next page instead of counting; /threads/count counts', T, async () => {
    const tag = randomUUID();
    for (let i = 0; i < 5; i++) {
      const res = await call('POST', '/threads', { metadata: { tag } });
      assert.equal(res.status, 200, res.text);
    }
    const page = async (limit, offset) => {
      const res = await call('POST', '/threads/search', { metadata: { tag }, limit, offset });
      assert.equal(res.status, 200, res.text);
      return [res.json.length, res.headers.get('x-pagination-total'), res.headers.get('x-pagination-next')];
    };
    assert.deepEqual(await page(2, 0), [2, '3', '2']);
    assert.deepEqual(await page(2, 2), [2, '5', '4']);
    assert.deepEqual(await page(2, 4), [1, '5', null]);
    assert.deepEqual(await page(5, 0), [5, '5', null]);
    assert.deepEqual(await page(2, 9), [0, '9', null]);
    const count = await call('POST', '/threads/count', { metadata: { tag } });
    assert.equal(count.status, 200, count.text);
    assert.equal(count.json, 5);
  });

  test('unknown routes are a JSON 404', T, async () => {
    assertJsonError(await call('GET', '/no/such/route'), 404, 'GET /no/such/route');
  });

  test('the server is still healthy afterwards', T, async () => {
    const res = await call('GET', `/threads/${threadId}`);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.thread_id, threadId);
  });
});

// ---------------------------------------------------------------------------

describe('what an auth plugin sees of a request', () => {
  let server;
  before(async () => {
    server = await startWithAuthFixture('auth_inspect');
  });
  after(async () => {
    await server?.stop();
  });

  test('client address from the socket, lower-case headers, path params and decoded query params', T, async () => {
    const created = await request(`${server.url}/threads`, { method: 'POST', body: {}, token: 'anything' });
    assert.equal(created.status, 200, created.text);
    const tid = created.json.thread_id;

    const conn = await RawConnection.connect(server.port);
    let run;
    try {
      await conn.write(
        buildRequest('POST', `/threads/${tid}/runs?q=caf%C3%A9%20au%20lait%2Fx&limit=7&status=busy&unrelated=1`, {
          headers: [
            ['Authorization', 'Bearer anything'],
            ['Content-Type', 'application/json'],
            ['X-MiXeD-CaSe', 'VaLuE'],
            ['x-TrAcE-iD', 'trace-77'],
            ['REMOTE_ADDR', '6.6.6.6'],
            ['X-Forwarded-For', '6.6.6.6'],
            ['X-Real-IP', '6.6.6.6'],
            ['Connection', 'close'],
          ],
          body: JSON.stringify({ assistant_id: 'agent', input: HELLO }),
        }),
      );
      const res = await conn.readResponse({ timeoutMs: 10_000 });
      assert.ok(res, 'no response');
      assert.equal(res.status, 200, res.text);
      run = res.json;
    } finally {
      conn.destroy();
    }

    const user = run?.kwargs?.config?.configurable?.langgraph_auth_user;
    assert.ok(user && typeof user === 'object', `no langgraph_auth_user in the run: ${JSON.stringify(run)}`);
    assert.equal(user.identity, 'inspector');
    assert.equal(user.client_address, '127.0.0.1', 'client address must come from the socket, never a header');
    assert.equal(user.method, 'POST');
    assert.equal(user.path, `/threads/${tid}/runs`);
    assert.ok(user.path_params && typeof user.path_params === 'object', `path_params: ${JSON.stringify(user.path_params)}`);
    assert.equal(user.path_params.thread_id, tid);
    // The fixture reports the query parameters it asks for by name: q, limit, offset, status.
    assert.deepEqual(user.query_params, { q: 'café au lait/x', limit: '7', status: 'busy' });

    const headers = user.headers;
    assert.ok(headers && typeof headers === 'object', `headers: ${JSON.stringify(headers)}`);
    for (const name of Object.keys(headers)) {
      assert.equal(name, name.toLowerCase(), `header names should be lower-case: ${name}`);
    }
    assert.equal(headers['x-mixed-case'], 'VaLuE', `mixed-case header not readable by its lower-case name: ${JSON.stringify(headers)}`);
    assert.equal(headers['x-trace-id'], 'trace-77');
    // The fixture looks the header up as "X-TRACE-ID": lookups ignore case.
    assert.equal(user.x_trace_header, 'trace-77', 'header lookup by another case should find the header');
    assert.equal(run.kwargs.config.configurable['x-trace-id'], 'trace-77', 'x-* headers reach configurable');
    assert.equal(headers.authorization, 'Bearer anything');
    assert.match(headers['content-type'] ?? '', /application\/json/);

    // The stored run says the same.
    const fetched = await request(`${server.url}/threads/${tid}/runs/${run.run_id}`, { token: 'anything' });
    assert.equal(fetched.status, 200, fetched.text);
    assert.equal(fetched.json.kwargs.config.configurable.langgraph_auth_user.client_address, '127.0.0.1');
  });

  test('the graph runs with the plugin-provided user', T, async () => {
    const res = await request(`${server.url}/runs/wait`, {
      method: 'POST',
      token: 'anything',
      body: { assistant_id: 'agent', input: HELLO },
    });
    assert.equal(res.status, 200, res.text);
    const last = res.json?.messages?.at(-1);
    assert.equal(last?.type, 'ai', res.text);
    assert.ok(last.content.startsWith('Hello inspector!'), last.content);
  });
});

// ---------------------------------------------------------------------------

describe('many clients', () => {
  const CLIENTS = 200;
  let server;
  before(async () => {
    server = await startServer({ config: DEFAULT_CONFIG });
  });
  after(async () => {
    await server?.stop();
  });

  test('the listen backlog is at least 512', T, (t) => {
    let out;
    try {
      out = execFileSync('ss', ['-ltnH', `sport = :${server.port}`], { encoding: 'utf8', timeout: 5000 });
    } catch (e) {
      if (e.code === 'ENOENT') {
        t.skip('ss (iproute2) is not installed');
        return;
      }
      throw e;
    }
    const row = out
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .find((cols) => cols.length >= 4 && cols[3].endsWith(`:${server.port}`));
    assert.ok(row, `no listening socket on port ${server.port} in:\n${out}`);
    const backlog = Number(row[2]);
    let somaxconn = Infinity;
    try {
      somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8').trim());
    } catch {
      // not Linux /proc: no cap known
    }
    const wanted = Math.min(512, somaxconn);
    assert.ok(backlog >= wanted, `listen backlog (Send-Q) is ${backlog}, want at least ${wanted} (somaxconn ${somaxconn}):\n${out}`);
  });

  test(`${CLIENTS} concurrent keep-alive connections are all served`, { timeout: 40_000 }, async () => {
    const t0 = Date.now();
    const send = async (state, method, path, { token, body } = {}) => {
      const headers = [['Connection', 'keep-alive']];
      if (token) headers.push(['Authorization', `Bearer ${token}`]);
      if (body !== undefined) headers.push(['Content-Type', 'application/json']);
      const req = buildRequest(method, path, { headers, body: body === undefined ? undefined : JSON.stringify(body) });
      await state.conn.write(req);
      const res = await state.conn.readResponse({ timeoutMs: 20_000 });
      if (res === null) throw new Error(`server closed keep-alive connection #${state.i} before answering ${method} ${path}`);
      state.requests += 1;
      if ((res.headers.connection ?? '').toLowerCase() === 'close') {
        // The server may end a keep-alive connection politely; a client then reconnects.
        state.conn.destroy();
        state.conn = await RawConnection.connect(server.port);
        state.reconnects += 1;
      }
      return res;
    };

    const states = [];
    try {
      // Open every connection first.
      const opened = await Promise.allSettled(Array.from({ length: CLIENTS }, () => RawConnection.connect(server.port)));
      opened.forEach((r, i) => {
        if (r.status === 'fulfilled') states.push({ i, conn: r.value, requests: 0, reconnects: 0 });
      });
      const failed = opened.filter((r) => r.status === 'rejected');
      assert.equal(failed.length, 0, `${failed.length} of ${CLIENTS} connects failed: ${failed[0]?.reason?.message}`);
      const tConnected = Date.now();

      // Phase 1: every connection gets an answer while all of them stay open.
      let served = 0;
      const phase1 = Promise.all(
        states.map(async (s) => {
          const res = await send(s, 'GET', '/ok');
          assert.equal(res.status, 200, `connection #${s.i}: GET /ok → ${res.status} ${res.text}`);
          served += 1;
        }),
      );
      const PHASE1_MS = 4000;
      const timer = new Promise((_, reject) => {
        const h = setTimeout(
          () =>
            reject(
              new Error(
                `only ${served} of ${CLIENTS} open connections were answered within ${PHASE1_MS} ms; ` +
                  'the server does not serve that many concurrent keep-alive connections',
              ),
            ),
          PHASE1_MS,
        );
        phase1.finally(() => clearTimeout(h)).catch(() => {});
      });
      await Promise.race([phase1, timer]);
      const tPhase1 = Date.now();

      // Phase 2: two more requests on each (still open) connection.
      await Promise.all(
        states.map(async (s) => {
          const created = await send(s, 'POST', '/threads', { token: TOKENS.user1, body: { metadata: { client: s.i } } });
          assert.equal(created.status, 200, `connection #${s.i}: POST /threads → ${created.status} ${created.text}`);
          const tid = created.json?.thread_id;
          assert.match(tid ?? '', UUID_RE);
          const got = await send(s, 'GET', `/threads/${tid}`, { token: TOKENS.user1 });
          assert.equal(got.status, 200, `connection #${s.i}: GET /threads/${tid} → ${got.status} ${got.text}`);
          assert.equal(got.json.thread_id, tid);
          assert.deepEqual(got.json.metadata, { client: s.i });
        }),
      );
      const tEnd = Date.now();
      const total = states.reduce((n, s) => n + s.requests, 0);
      assert.equal(total, CLIENTS * 3);
      const reconnects = states.reduce((n, s) => n + s.reconnects, 0);
      const elapsed = tEnd - t0;
      assert.ok(
        elapsed < 15_000,
        `too slow: connect ${tConnected - t0} ms, phase 1 ${tPhase1 - tConnected} ms, phase 2 ${tEnd - tPhase1} ms (${reconnects} reconnects)`,
      );
    } finally {
      for (const s of states) s.conn.destroy();
    }
    const ok = await request(`${server.url}/ok`);
    assert.equal(ok.status, 200);
  });
});
