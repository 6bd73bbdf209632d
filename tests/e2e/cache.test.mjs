// auth.cache end to end: the auth_counting fixture counts its authenticate calls and the user it
// returns carries the count; creating a thread stamps that user's count into the thread's
// metadata. A cached user keeps the count of the call that put it in the cache, so each response
// tells whether the request reached the plugin.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cleanupTempDirs, configWithAuth, fixture, request, sleep, startServer, tempConfig } from './harness.mjs';

const T = { timeout: 30_000 };
const TTL_SECONDS = 2;

const servers = {};

before(async () => {
  const auth = `${fixture('auth_counting')}:auth`;
  const withAuth = (extra) => tempConfig({ ...configWithAuth(auth), auth: { path: auth, ...extra } });
  const [plain, cache, lru] = await Promise.all([
    withAuth({}),
    // A short TTL, to see entries expire.
    withAuth({ cache: { cache_keys: ['Authorization'], ttl_seconds: TTL_SECONDS } }),
    // A long TTL and a tiny size, to see the keys and the eviction without racing the clock.
    withAuth({ cache: { cache_keys: ['Authorization', 'X-Tenant'], ttl_seconds: 600, max_size: 2 } }),
  ]);
  const started = await Promise.all([plain, cache, lru].map(({ config }) => startServer({ config })));
  Object.assign(servers, { plain: started[0], cache: started[1], lru: started[2] });
});

after(async () => {
  await Promise.all(Object.values(servers).map((s) => s.stop()));
  await cleanupTempDirs();
});

/** Creates a thread as `token` (with extra headers); returns {identity, auth_calls} it was stamped with. */
async function whoCreated(server, token, headers = {}) {
  const res = await request(`${server.url}/threads`, { method: 'POST', token, headers, body: {} });
  assert.equal(res.status, 200, res.text);
  return { identity: res.json.metadata.identity, calls: res.json.metadata.auth_calls };
}

describe('auth.cache', () => {
  test('without auth.cache the plugin is called for every request', T, async () => {
    const first = await whoCreated(servers.plain, 'alice');
    const second = await whoCreated(servers.plain, 'alice');
    assert.equal(first.identity, 'alice');
    assert.equal(second.calls, first.calls + 1);
  });

  test('the plugin is called once for repeated requests with the same token within the TTL, and again after it', T, async () => {
    const started = Date.now();
    const first = await whoCreated(servers.cache, 'alice');
    const again = [];
    for (let i = 0; i < 5; i++) again.push(await whoCreated(servers.cache, 'alice'));
    const elapsed = Date.now() - started;
    assert.ok(elapsed < TTL_SECONDS * 1000, `the requests took ${elapsed} ms, longer than the TTL: cannot tell`);
    for (const r of again) assert.deepEqual(r, first, 'served from the cache: the plugin was not called again');

    // Another token is another cache entry: the plugin is called for it.
    const bob = await whoCreated(servers.cache, 'bob');
    assert.equal(bob.identity, 'bob');
    assert.ok(bob.calls > first.calls);

    await sleep(TTL_SECONDS * 1000 + 200);
    const renewed = await whoCreated(servers.cache, 'alice');
    assert.equal(renewed.identity, 'alice');
    assert.ok(renewed.calls > bob.calls, `after the TTL the plugin is called again (${JSON.stringify(renewed)})`);
    assert.deepEqual(await whoCreated(servers.cache, 'alice'), renewed, 'and its answer is cached again');
  });

  test('a rejection is never cached', T, async () => {
    const before = await whoCreated(servers.cache, 'carol');
    for (let i = 0; i < 3; i++) {
      const res = await request(`${servers.cache.url}/threads`, { method: 'POST', token: 'bad-token', body: {} });
      assert.equal(res.status, 401);
      assert.deepEqual(res.json, { detail: 'Invalid token' });
      assert.equal(res.headers.get('www-authenticate'), 'Bearer');
    }
    const dave = await whoCreated(servers.cache, 'dave');
    assert.ok(dave.calls >= before.calls + 4, `three rejections and dave each reached the plugin (${before.calls} → ${dave.calls})`);
  });

  test('every listed header is part of the key', T, async () => {
    const one = await whoCreated(servers.lru, 'erin', { 'x-tenant': 'one' });
    const two = await whoCreated(servers.lru, 'erin', { 'x-tenant': 'two' });
    assert.ok(two.calls > one.calls, 'another x-tenant value is another caller');
    assert.deepEqual(await whoCreated(servers.lru, 'erin', { 'X-Tenant': 'two' }), two);
    const none = await whoCreated(servers.lru, 'erin');
    assert.ok(none.calls > two.calls, 'without x-tenant the key differs too');
  });

  test('max_size bounds the cache: the least recently used caller is asked again', T, async () => {
    const a = await whoCreated(servers.lru, 'lru-a');
    const b = await whoCreated(servers.lru, 'lru-b');
    assert.deepEqual(await whoCreated(servers.lru, 'lru-a'), a); // a is now more recent than b
    const c = await whoCreated(servers.lru, 'lru-c'); // max_size 2: b goes
    assert.deepEqual(await whoCreated(servers.lru, 'lru-a'), a);
    const b2 = await whoCreated(servers.lru, 'lru-b');
    assert.ok(b2.calls > c.calls, 'lru-b was evicted, so the plugin was called for it again');
    assert.notEqual(b2.calls, b.calls);
  });

  test('/openapi.json and /docs are open: they never reach the plugin', T, async () => {
    const before = await whoCreated(servers.plain, 'frank');
    for (const path of ['/openapi.json', '/docs', '/docs/app.js', '/docs/app.css', '/ok']) {
      const res = await request(`${servers.plain.url}${path}`);
      assert.equal(res.status, 200, `${path}: ${res.text.slice(0, 200)}`);
    }
    const after = await whoCreated(servers.plain, 'frank');
    assert.equal(after.calls, before.calls + 1);
  });
});
