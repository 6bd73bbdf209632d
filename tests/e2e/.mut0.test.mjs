// Authorization end to end: the auth_owner plugin (tutorial part 2, "Make conversations private")
// against the real server binary, driven through the official JS SDK with two users and the
// Studio user. Each (endpoint, caller) pair checks the status of the table in auth-reference.md §7
// and decisions.md: the owner succeeds, the other user gets 404 / 409 / 403 and never the data,
// searches and counts show only the caller's own rows.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Client } from '@langchain/langgraph-sdk';
import {
  AGENT_ASSISTANT_ID,
  REPO_ROOT,
  TOKENS,
  UUID_RE,
  cleanupTempDirs,
  randomUUID,
  request,
  startServer,
  tempConfig,
  waitFor,
} from './harness.mjs';

const T = { timeout: 20_000 };
const OWNER_CONFIG = path.join(REPO_ROOT, 'plugins', 'auth_owner', 'langgraph.json');
const STUDIO_KEY = 's3cret';
const STUDIO_IDENTITY = 'langgraph-studio-user';
const ASSISTANTS_DENIED = 'User lacks the required permissions.';
const STORE_DENIED = 'Not authorized';
const say = (content) => ({ messages: [{ role: 'user', content }] });

// A studio key inherited from the environment would change what the plain servers accept.
delete process.env.LANGGRAPH_STUDIO_KEY;

const servers = {};

/** auth_owner's langgraph.json with absolute paths, plus `authExtra` merged into its `auth` object. */
async function ownerConfigWith(authExtra) {
  const original = JSON.parse(await fs.readFile(OWNER_CONFIG, 'utf8'));
  const base = path.dirname(OWNER_CONFIG);
  const absolute = (spec) => {
    const i = spec.lastIndexOf(':');
    return `${path.resolve(base, spec.slice(0, i))}${spec.slice(i)}`;
  };
  const graphs = Object.fromEntries(Object.entries(original.graphs).map(([k, v]) => [k, absolute(v)]));
  const { config } = await tempConfig({ ...original, graphs, auth: { ...original.auth, path: absolute(original.auth.path), ...authExtra } });
  return config;
}

before(async () => {
  const noStudioConfig = await ownerConfigWith({ disable_studio_auth: true });
  const [plain, dev, devNoStudio, keyed] = await Promise.all([
    startServer({ config: OWNER_CONFIG }),
    startServer({ config: OWNER_CONFIG, args: ['--dev'] }),
    startServer({ config: noStudioConfig, args: ['--dev'] }),
    startServer({ config: OWNER_CONFIG, env: { LANGGRAPH_STUDIO_KEY: STUDIO_KEY } }),
  ]);
  Object.assign(servers, { plain, dev, devNoStudio, keyed });
});

after(async () => {
  await Promise.all(Object.values(servers).map((s) => s.stop()));
  await cleanupTempDirs();
});

/** An SDK client for `server`: `token` → Bearer header; `headers` added as they are. */
function client(server, { token, headers = {} } = {}) {
  const defaultHeaders = { ...headers };
  if (token) defaultHeaders.Authorization = `Bearer ${token}`;
  return new Client({
    apiUrl: server.url,
    apiKey: null, // never pick up an API key from the environment
    defaultHeaders,
    timeoutMs: 15_000,
    callerOptions: { maxRetries: 0 },
  });
}
const user1 = (server = servers.plain) => client(server, { token: TOKENS.user1 });
const user2 = (server = servers.plain) => client(server, { token: TOKENS.user2 });
const studio = (server, headers = {}) => client(server, { headers: { 'x-auth-scheme': 'langsmith', ...headers } });

/**
 * Awaits `promise`, which must reject with an SDK HTTPError of `status` and a JSON body
 * {"detail": ...} (equal to `detail` when given). Returns the error.
 */
async function expectStatus(promise, status, what, detail) {
  let error;
  try {
    const value = await promise;
    assert.fail(`${what}: expected HTTP ${status}, but the call succeeded with ${JSON.stringify(value)?.slice(0, 500)}`);
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    error = e;
  }
  assert.equal(error.status, status, `${what}: expected HTTP ${status}, got ${error.status ?? 'no status'}: ${error.message}`);
  let body;
  try {
    body = JSON.parse(error.text);
  } catch {
    assert.fail(`${what}: error body is not JSON: ${JSON.stringify(error.text)}`);
  }
  assert.equal(typeof body?.detail, 'string', `${what}: error body has no string "detail": ${error.text}`);
  if (detail !== undefined) assert.equal(body.detail, detail, `${what}: detail`);
  return error;
}

function lastReply(values) {
  const messages = values?.messages;
  assert.ok(Array.isArray(messages) && messages.length >= 2, `expected a message list, got ${JSON.stringify(values)}`);
  const last = messages.at(-1);
  assert.equal(last.type, 'ai', `last message should be the bot's: ${JSON.stringify(last)}`);
  return last.content;
}

function assertGreets(values, identity) {
  const reply = lastReply(values);
  assert.ok(reply.startsWith(`Hello ${identity}!`), `reply should greet ${identity}: ${JSON.stringify(reply)}`);
}

/** Polls runs.get until the run succeeds (fails fast on any other final status). */
function runDone(c, threadId, runId) {
  return waitFor(
    async () => {
      const run = await c.runs.get(threadId, runId);
      assert.ok(['pending', 'running', 'success'].includes(run.status), `run ended as ${run.status}: ${JSON.stringify(run)}`);
      return run.status === 'success' ? run : null;
    },
    { timeoutMs: 10_000, what: `run ${runId} to succeed` },
  );
}

const ids = (rows) => rows.map((r) => r.thread_id);

// ---------------------------------------------------------------------------

describe('threads are private to their owner', () => {
  test('create stamps metadata.owner with the creator, even when the client sends another owner', T, async () => {
    const t1 = await user1().threads.create({ metadata: { owner: 'user2', topic: 'spoof' } });
    assert.match(t1.thread_id, UUID_RE);
    assert.deepEqual(t1.metadata, { owner: 'user1', topic: 'spoof' });
    assert.deepEqual((await user1().threads.get(t1.thread_id)).metadata, { owner: 'user1', topic: 'spoof' });
    await expectStatus(user2().threads.get(t1.thread_id), 404, 'user2 reads the thread user1 tried to give away');

    const t2 = await user2().threads.create();
    assert.deepEqual(t2.metadata, { owner: 'user2' });

    // Updating cannot hand the thread to someone else either.
    const patched = await user1().threads.update(t1.thread_id, { metadata: { owner: 'user2', more: 1 } });
    assert.equal(patched.metadata.owner, 'user1', `owner after a patch: ${JSON.stringify(patched.metadata)}`);
    assert.equal(patched.metadata.more, 1);
    await expectStatus(user2().threads.get(t1.thread_id), 404, 'user2 reads the thread after the owner-spoofing patch');
  });

  test("another user's thread: get, update and delete are 404, and the thread survives untouched", T, async () => {
    const mine = await user1().threads.create({ metadata: { note: 'original' } });
    const id = mine.thread_id;

    await expectStatus(user2().threads.get(id), 404, 'user2 threads.get');
    await expectStatus(user2().threads.update(id, { metadata: { note: 'hijacked' } }), 404, 'user2 threads.update');
    await expectStatus(user2().threads.delete(id), 404, 'user2 threads.delete');

    const still = await user1().threads.get(id);
    assert.equal(still.thread_id, id);
    assert.deepEqual(still.metadata, { note: 'original', owner: 'user1' }, 'the foreign patch must not change metadata');
    assert.equal(still.updated_at, mine.updated_at, 'the foreign patch must not touch the thread');

    // The owner can do all three.
    const updated = await user1().threads.update(id, { metadata: { note: 'edited' } });
    assert.equal(updated.metadata.note, 'edited');
    await user1().threads.delete(id);
    await expectStatus(user1().threads.get(id), 404, 'owner threads.get after delete');
  });

  test('search and count show only the caller’s own threads', T, async () => {
    const tag = randomUUID();
    const a = await user1().threads.create({ metadata: { tag } });
    const b = await user1().threads.create({ metadata: { tag } });
    const c = await user2().threads.create({ metadata: { tag } });

    const s1 = await user1().threads.search({ metadata: { tag }, limit: 100 });
    assert.deepEqual(ids(s1).sort(), [a.thread_id, b.thread_id].sort());
    const s2 = await user2().threads.search({ metadata: { tag }, limit: 100 });
    assert.deepEqual(ids(s2), [c.thread_id]);

    assert.equal(await user1().threads.count({ metadata: { tag } }), 2);
    assert.equal(await user2().threads.count({ metadata: { tag } }), 1);

    // Asking for the other user's rows by owner or by id finds nothing.
    const byOwner = await user2().threads.search({ metadata: { owner: 'user1' }, limit: 100 });
    assert.ok(byOwner.every((t) => t.metadata.owner === 'user2'), `user2 saw: ${JSON.stringify(byOwner)}`);
    assert.ok(!ids(byOwner).includes(a.thread_id));
    assert.equal(await user2().threads.count({ metadata: { owner: 'user1' } }), byOwner.length);
    assert.deepEqual(await user2().threads.search({ ids: [a.thread_id, b.thread_id] }), []);
    assert.deepEqual(ids(await user2().threads.search({ ids: [a.thread_id, c.thread_id] })), [c.thread_id]);

    // Unfiltered: only own rows, and the count agrees with the search.
    for (const [who, c2] of [
      ['user1', user1()],
      ['user2', user2()],
    ]) {
      const all = await c2.threads.search({ limit: 1000 });
      assert.ok(all.length > 0, `${who} should see their own threads`);
      for (const t of all) assert.equal(t.metadata.owner, who, `${who}'s search returned ${JSON.stringify(t)}`);
      assert.equal(await c2.threads.count(), all.length, `${who}'s count should match their search`);
    }
  });

  test("creating a thread with another user's thread_id is 409 (raise and do_nothing)", T, async () => {
    const mine = await user1().threads.create({ metadata: { keep: 'me' } });
    const id = mine.thread_id;
    await expectStatus(user2().threads.create({ threadId: id }), 409, 'user2 create, default if_exists');
    await expectStatus(user2().threads.create({ threadId: id, ifExists: 'raise' }), 409, 'user2 create, if_exists raise');
    await expectStatus(
      user2().threads.create({ threadId: id, ifExists: 'do_nothing', metadata: { keep: 'no' } }),
      409,
      'user2 create, if_exists do_nothing',
    );
    // The owner's own do_nothing returns the existing thread; raise is still a conflict.
    const same = await user1().threads.create({ threadId: id, ifExists: 'do_nothing' });
    assert.equal(same.thread_id, id);
    assert.deepEqual(same.metadata, { keep: 'me', owner: 'user1' });
    await expectStatus(user1().threads.create({ threadId: id, ifExists: 'raise' }), 409, 'owner create twice');
  });
});

describe("runs on another user's thread", () => {
  let thread;
  let run;

  before(async () => {
    thread = await user1().threads.create();
    const created = await user1().runs.create(thread.thread_id, 'agent', { input: say('first') });
    // Wait for it: the following tests compare the thread before and after.
    run = await runDone(user1(), thread.thread_id, created.run_id);
  });

  test('the owner sees the run; its config carries the creator as langgraph_auth_user', T, async () => {
    assert.equal(run.thread_id, thread.thread_id);
    const configurable = run.kwargs?.config?.configurable;
    assert.ok(configurable, `no kwargs.config.configurable in ${JSON.stringify(run)}`);
    assert.deepEqual(configurable.langgraph_auth_user, {
      identity: 'user1',
      display_name: 'Alice',
      is_authenticated: true,
      permissions: [],
    });
    assert.equal(configurable.langgraph_auth_user_id, 'user1');
    assert.deepEqual(configurable.langgraph_auth_permissions, []);

    const listed = await user1().runs.list(thread.thread_id);
    assert.deepEqual(listed.map((r) => r.run_id), [run.run_id]);
    const state = await user1().threads.get(thread.thread_id);
    assertGreets(state.values, 'user1');
  });

  test('runs.create, runs.wait, runs.stream, runs.list and runs.get by the other user are 404', T, async () => {
    const id = thread.thread_id;
    await expectStatus(user2().runs.create(id, 'agent', { input: say('intrude') }), 404, 'user2 runs.create');
    await expectStatus(user2().runs.wait(id, 'agent', { input: say('intrude') }), 404, 'user2 runs.wait');
    await expectStatus(user2().runs.list(id), 404, 'user2 runs.list');
    await expectStatus(user2().runs.get(id, run.run_id), 404, 'user2 runs.get');

    // None of the attempts left a trace.
    const runs = await user1().runs.list(id);
    assert.deepEqual(runs.map((r) => r.run_id), [run.run_id], 'user2 must not have added runs');
    const state = await user1().threads.get(id);
    assert.equal(state.values.messages.length, 2, JSON.stringify(state.values));
  });

  test('if_not_exists "create" on an existing foreign thread is 404, never an upsert', T, async () => {
    const id = thread.thread_id;
    const before = await user1().threads.get(id);
    await expectStatus(
      user2().runs.wait(id, 'agent', { input: say('take over'), ifNotExists: 'create' }),
      404,
      'user2 runs.wait if_not_exists create',
    );
    await expectStatus(
      user2().runs.create(id, 'agent', { input: say('take over'), ifNotExists: 'create' }),
      404,
      'user2 runs.create if_not_exists create',
    );
    const afterwards = await user1().threads.get(id);
    assert.deepEqual(afterwards, before, 'the thread must be unchanged');
    assert.equal((await user1().runs.list(id)).length, 1, 'no run may have been added');
    await expectStatus(user2().threads.get(id), 404, 'the thread stays invisible to user2');
  });

  test('if_not_exists "create" on a new thread id creates it for the caller', T, async () => {
    const id = randomUUID();
    const values = await user2().runs.wait(id, 'agent', { input: say('new here'), ifNotExists: 'create' });
    assertGreets(values, 'user2');
    const created = await user2().threads.get(id);
    assert.equal(created.metadata.owner, 'user2', `metadata of the new thread: ${JSON.stringify(created.metadata)}`);
    await expectStatus(user1().threads.get(id), 404, 'user1 reads the thread user2 created by a run');
    await expectStatus(user1().runs.list(id), 404, 'user1 lists runs of the thread user2 created by a run');
  });

  test('the status checks catch a wrong answer', T, async () => {
    // A 404 is not accepted where a 403 is expected, nor a success where a 404 is.
    await assert.rejects(
      expectStatus(user2().threads.get(thread.thread_id), 403, 'deliberately wrong expectation'),
      (e) => e instanceof assert.AssertionError && /expected HTTP 403, got 404/.test(e.message),
    );
    await assert.rejects(
      expectStatus(user1().threads.get(thread.thread_id), 404, 'deliberately wrong expectation'),
      (e) => e instanceof assert.AssertionError && /the call succeeded/.test(e.message),
    );
  });
});

describe('assistants are closed to plain users; the graph stays runnable', () => {
  test('every assistants call by user1 and user2 is 403', T, async () => {
    for (const [who, c] of [
      ['user1', user1()],
      ['user2', user2()],
    ]) {
      const calls = [
        ['create', () => c.assistants.create({ graphId: 'agent', name: 'mine' })],
        ['get(agent)', () => c.assistants.get('agent')],
        ['get(system id)', () => c.assistants.get(AGENT_ASSISTANT_ID)],
        ['get(unknown id)', () => c.assistants.get(randomUUID())],
        ['update', () => c.assistants.update(AGENT_ASSISTANT_ID, { metadata: { x: 1 } })],
        ['delete', () => c.assistants.delete(AGENT_ASSISTANT_ID)],
        ['search', () => c.assistants.search()],
        ['count', () => c.assistants.count()],
        ['getVersions', () => c.assistants.getVersions(AGENT_ASSISTANT_ID)],
        ['setLatest', () => c.assistants.setLatest(AGENT_ASSISTANT_ID, 1)],
      ];
      for (const [name, call] of calls) {
        await expectStatus(call(), 403, `${who} assistants.${name}`, ASSISTANTS_DENIED);
      }
    }
  });

  test('runs on the graph id and on the system assistant id still work for both users', T, async () => {
    const t1 = await user1().threads.create();
    assertGreets(await user1().runs.wait(t1.thread_id, 'agent', { input: say('hi') }), 'user1');
    assertGreets(await user1().runs.wait(t1.thread_id, AGENT_ASSISTANT_ID, { input: say('again') }), 'user1');
    const t2 = await user2().threads.create();
    assertGreets(await user2().runs.wait(t2.thread_id, 'agent', { input: say('hi') }), 'user2');
    assertGreets(await user2().runs.wait(null, 'agent', { input: say('stateless') }), 'user2');
  });
});

describe('the store: namespaces start with the caller’s identity', () => {
  const key = `k-${randomUUID()}`;
  const value = { text: 'Alice’s note', n: 1 };

  test("user1 writes and reads in ['user1', ...]; user2 is refused every access to it", T, async () => {
    await user1().store.putItem(['user1', 'notes'], key, value);
    const item = await user1().store.getItem(['user1', 'notes'], key);
    assert.ok(item, 'the owner should read the item back');
    assert.deepEqual(item.namespace, ['user1', 'notes']);
    assert.equal(item.key, key);
    assert.deepEqual(item.value, value);

    await expectStatus(user2().store.getItem(['user1', 'notes'], key), 403, 'user2 getItem', STORE_DENIED);
    await expectStatus(
      user2().store.putItem(['user1', 'notes'], key, { text: 'overwritten' }),
      403,
      'user2 putItem over it',
      STORE_DENIED,
    );
    await expectStatus(
      user2().store.putItem(['user1', 'other'], `new-${key}`, { text: 'planted' }),
      403,
      'user2 putItem of a new item',
      STORE_DENIED,
    );
    await expectStatus(user2().store.deleteItem(['user1', 'notes'], key), 403, 'user2 deleteItem', STORE_DENIED);
    await expectStatus(user2().store.searchItems(['user1']), 403, 'user2 searchItems([user1])', STORE_DENIED);
    await expectStatus(user2().store.searchItems(['user1', 'notes']), 403, 'user2 searchItems([user1, notes])', STORE_DENIED);
    await expectStatus(user2().store.listNamespaces({ prefix: ['user1'] }), 403, 'user2 listNamespaces(user1)', STORE_DENIED);
    await expectStatus(user2().store.putItem(['user2x'], key, {}), 403, 'a label merely starting with the identity', STORE_DENIED);

    // The item is intact after every refused attempt, and nothing was planted.
    assert.deepEqual((await user1().store.getItem(['user1', 'notes'], key))?.value, value);
    assert.equal(await user1().store.getItem(['user1', 'other'], `new-${key}`), null);
  });

  test('getItem of a missing key in the own namespace is null', T, async () => {
    assert.equal(await user1().store.getItem(['user1', 'notes'], `missing-${randomUUID()}`), null);
  });

  test('searchItems and listNamespaces without a prefix show only the caller’s own namespaces', T, async () => {
    await user1().store.putItem(['user1', 'notes'], key, value);
    await user2().store.putItem(['user2', 'notes'], key, { text: 'Bob’s note' });

    const mine = await user2().store.searchItems([], { limit: 100 });
    assert.ok(mine.items.length >= 1, 'user2 should find their own item');
    for (const it of mine.items) assert.equal(it.namespace[0], 'user2', `user2's search returned ${JSON.stringify(it)}`);
    assert.ok(mine.items.some((it) => it.key === key && it.value.text === 'Bob’s note'));

    const spaces = await user2().store.listNamespaces();
    assert.ok(Array.isArray(spaces.namespaces), JSON.stringify(spaces));
    assert.ok(spaces.namespaces.length >= 1);
    for (const ns of spaces.namespaces) assert.equal(ns[0], 'user2', `user2 listed ${JSON.stringify(ns)}`);
    assert.ok(spaces.namespaces.some((ns) => JSON.stringify(ns) === '["user2","notes"]'));

    const own = await user1().store.searchItems(['user1'], { limit: 100 });
    assert.ok(own.items.some((it) => it.key === key && it.value.text === value.text));
    for (const it of own.items) assert.equal(it.namespace[0], 'user1');
  });

  test('the owner can delete; user2’s item is unaffected', T, async () => {
    await user1().store.deleteItem(['user1', 'notes'], key);
    assert.equal(await user1().store.getItem(['user1', 'notes'], key), null);
    assert.equal((await user2().store.getItem(['user2', 'notes'], key))?.value.text, 'Bob’s note');
  });
});

describe('the Studio user', () => {
  test('without --dev or a key, x-auth-scheme: langsmith is ignored (401; with a token, the token’s user)', T, async () => {
    const s = servers.dev;
    for (const [method, p, body] of [
      ['POST', '/threads/search', {}],
      ['POST', '/assistants/search', {}],
      ['POST', '/threads', {}],
    ]) {
      const res = await request(`${s.url}${p}`, { method, headers: { 'x-auth-scheme': 'langsmith' }, body });
      assert.equal(res.status, 401, `${method} ${p} with only the studio header → ${res.status} ${res.text}`);
      assert.deepEqual(res.json, { detail: 'Invalid token' });
    }
    await expectStatus(studio(s).threads.search(), 401, 'SDK threads.search with only the studio header');
    // With a token the header changes nothing: still user1, still no assistants.
    const withToken = client(s, { token: TOKENS.user1, headers: { 'x-auth-scheme': 'langsmith' } });
    await expectStatus(withToken.assistants.search(), 403, 'user1 + studio header assistants.search', ASSISTANTS_DENIED);
    const t = await withToken.threads.create({ metadata: { owner: 'nobody' } });
    assert.equal(t.metadata.owner, 'user1');
  });

  test('with --dev, the header alone is the Studio user: sees every thread, may use assistants', T, async () => {
    const s = servers.dev;
    const a = await user1(s).threads.create();
    const b = await user2(s).threads.create();
    const c = studio(s);

    const all = await c.threads.search({ limit: 1000 });
    for (const t of [a, b]) assert.ok(ids(all).includes(t.thread_id), `studio search misses ${t.thread_id}`);
    assert.ok((await c.threads.count()) >= 2);
    assert.equal((await c.threads.get(a.thread_id)).metadata.owner, 'user1');
    assert.equal((await c.threads.get(b.thread_id)).metadata.owner, 'user2');

    const assistants = await c.assistants.search();
    assert.ok(
      assistants.some((x) => x.assistant_id === AGENT_ASSISTANT_ID),
      `studio assistants.search: ${JSON.stringify(assistants)}`,
    );
    assert.equal((await c.assistants.get('agent')).assistant_id, AGENT_ASSISTANT_ID);
    assert.ok((await c.assistants.count()) >= 1);

    // Runs execute as langgraph-studio-user.
    const own = await c.threads.create();
    const created = await c.runs.create(own.thread_id, 'agent', { input: say('from studio') });
    const run = await runDone(c, own.thread_id, created.run_id);
    const configurable = run.kwargs?.config?.configurable;
    assert.equal(configurable?.langgraph_auth_user_id, STUDIO_IDENTITY, JSON.stringify(configurable));
    assert.equal(configurable.langgraph_auth_user.identity, STUDIO_IDENTITY);
    assert.equal(configurable.langgraph_auth_user.kind, 'StudioUser');
    assertGreets((await c.threads.get(own.thread_id)).values, STUDIO_IDENTITY);

    // Plain users on the same server are still confined.
    await expectStatus(user2(s).threads.get(a.thread_id), 404, 'user2 on the --dev server reads user1’s thread');
    await expectStatus(user1(s).assistants.search(), 403, 'user1 on the --dev server assistants.search', ASSISTANTS_DENIED);
    const other = client(s, { headers: { 'x-auth-scheme': 'bearer' } });
    await expectStatus(other.threads.search(), 401, 'another x-auth-scheme value');
  });

  test('disable_studio_auth: true turns the header off even with --dev', T, async () => {
    const s = servers.devNoStudio;
    const res = await request(`${s.url}/threads/search`, { method: 'POST', headers: { 'x-auth-scheme': 'langsmith' }, body: {} });
    assert.equal(res.status, 401, res.text);
    assert.deepEqual(res.json, { detail: 'Invalid token' });
    await expectStatus(studio(s).assistants.search(), 401, 'studio assistants.search with disable_studio_auth');
    // The server itself works: users still authenticate.
    assert.ok(Array.isArray(await user1(s).threads.search()));
  });

  test('LANGGRAPH_STUDIO_KEY: the header plus the right x-studio-key is the Studio user; anything else is 401', T, async () => {
    const s = servers.keyed;
    const a = await user1(s).threads.create();
    const b = await user2(s).threads.create();

    const good = studio(s, { 'x-studio-key': STUDIO_KEY });
    const all = await good.threads.search({ limit: 1000 });
    for (const t of [a, b]) assert.ok(ids(all).includes(t.thread_id), `studio (key) search misses ${t.thread_id}`);
    assert.ok((await good.assistants.search()).some((x) => x.assistant_id === AGENT_ASSISTANT_ID));

    for (const [label, headers] of [
      ['wrong key', { 'x-auth-scheme': 'langsmith', 'x-studio-key': 's3creT' }],
      ['key prefix', { 'x-auth-scheme': 'langsmith', 'x-studio-key': 's3cre' }],
      ['key with suffix', { 'x-auth-scheme': 'langsmith', 'x-studio-key': `${STUDIO_KEY}x` }],
      ['empty key', { 'x-auth-scheme': 'langsmith', 'x-studio-key': '' }],
      ['header without key', { 'x-auth-scheme': 'langsmith' }],
      ['key without header', { 'x-studio-key': STUDIO_KEY }],
    ]) {
      const res = await request(`${s.url}/threads/search`, { method: 'POST', headers, body: {} });
      assert.equal(res.status, 401, `${label} → ${res.status} ${res.text}`);
      assert.deepEqual(res.json, { detail: 'Invalid token' }, label);
    }
  });
});

describe('user-created assistants are not runnable by users the assistants handler denies', () => {
  test('user1 cannot run an assistant the Studio user created; the graph id stays runnable', T, async () => {
    const s = servers.dev;
    const res = await request(`${s.url}/assistants`, {
      method: 'POST',
      headers: { 'x-auth-scheme': 'langsmith' },
      body: { graph_id: 'agent' },
    });
    assert.equal(res.status, 200, res.text);
    const assistantId = res.json.assistant_id;
    assert.match(assistantId, UUID_RE);
    assert.notEqual(assistantId, AGENT_ASSISTANT_ID);

    const u1 = user1(s);
    const thread = await u1.threads.create();
    await expectStatus(u1.runs.wait(thread.thread_id, assistantId, { input: say('hi') }), 403, 'user1 runs.wait', ASSISTANTS_DENIED);
    await expectStatus(u1.runs.create(thread.thread_id, assistantId, { input: say('hi') }), 403, 'user1 runs.create', ASSISTANTS_DENIED);
    await expectStatus(u1.runs.wait(null, assistantId, { input: say('hi') }), 403, 'user1 stateless runs.wait', ASSISTANTS_DENIED);
    await expectStatus(
      u1.runs.wait(randomUUID(), assistantId, { input: say('hi'), ifNotExists: 'create' }),
      403,
      'user1 runs.wait on a new thread',
      ASSISTANTS_DENIED,
    );
    assert.deepEqual(await u1.runs.list(thread.thread_id), [], 'a refused run must not be recorded');

    assertGreets(await u1.runs.wait(thread.thread_id, 'agent', { input: say('hi') }), 'user1');
    // The Studio user may run it.
    assertGreets(await studio(s).runs.wait(null, assistantId, { input: say('hi') }), STUDIO_IDENTITY);
  });
});
