// The "Set up custom authentication" tutorial, replayed with the official JS SDK against the
// real server binary running the default langgraph.json (auth_tokens + agent plugins).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@langchain/langgraph-sdk';
import {
  AGENT_ASSISTANT_ID,
  DEFAULT_CONFIG,
  TOKENS,
  UUID_RE,
  randomUUID,
  request,
  startServer,
  waitFor,
} from './harness.mjs';

const T = { timeout: 30_000 };
const HELLO = { messages: [{ role: 'user', content: 'Hello!' }] };

let server;

before(async () => {
  server = await startServer({ config: DEFAULT_CONFIG });
});

after(async () => {
  await server?.stop();
});

/** An SDK client; `authorization` is the full Authorization header value (or undefined for none). */
function makeClient({ authorization, headers = {}, apiKey = null } = {}) {
  const defaultHeaders = { ...headers };
  if (authorization !== undefined) defaultHeaders.Authorization = authorization;
  return new Client({
    apiUrl: server.url,
    apiKey, // null: never pick up an API key from the environment
    defaultHeaders,
    timeoutMs: 15_000,
    callerOptions: { maxRetries: 0 },
  });
}

const asUser1 = () => makeClient({ authorization: `Bearer ${TOKENS.user1}` });
const asUser2 = () => makeClient({ authorization: `Bearer ${TOKENS.user2}` });

/** Awaits `promise`, which must reject with an SDK HTTPError of the given status. Returns the error. */
async function rejectsWithStatus(promise, status, what = 'the call') {
  let error;
  try {
    const value = await promise;
    assert.fail(`${what} should have failed with HTTP ${status} but returned ${JSON.stringify(value)}`);
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    error = e;
  }
  assert.equal(error.status, status, `${what}: expected HTTP ${status}, got ${error.status ?? 'no status'}: ${error.message}`);
  return error;
}

function detailOf(error) {
  let body;
  try {
    body = JSON.parse(error.text);
  } catch {
    assert.fail(`error body is not JSON: ${JSON.stringify(error.text)}`);
  }
  assert.equal(typeof body.detail, 'string', `error body has no string "detail": ${error.text}`);
  return body.detail;
}

function assertBotReply(messages, { identity, said }) {
  assert.ok(Array.isArray(messages) && messages.length >= 2, `expected a message list, got ${JSON.stringify(messages)}`);
  const last = messages.at(-1);
  assert.equal(last.type, 'ai', `last message should be the bot's: ${JSON.stringify(last)}`);
  assert.equal(typeof last.content, 'string');
  assert.ok(last.content.startsWith(`Hello ${identity}!`), `reply should greet ${identity}: ${JSON.stringify(last.content)}`);
  assert.ok(last.content.includes(` You said: ${said}`), `reply should quote "${said}": ${JSON.stringify(last.content)}`);
  assert.equal(typeof last.id, 'string');
  assert.ok(last.id.length > 0, 'ai message needs an id');
  const human = messages.at(-2);
  assert.equal(human.type, 'human', `the message before the reply should be the human input: ${JSON.stringify(human)}`);
  assert.equal(human.content, said);
  assert.equal(typeof human.id, 'string');
  assert.ok(human.id.length > 0, 'human message needs an id (add_messages assigns one)');
}

async function waitForRunDone(client, threadId, runId) {
  return waitFor(
    async () => {
      const run = await client.runs.get(threadId, runId);
      assert.ok(
        ['pending', 'running', 'success'].includes(run.status),
        `run ${runId} ended in status ${run.status}: ${JSON.stringify(run)}`,
      );
      return run.status === 'success' ? run : null;
    },
    { timeoutMs: 10_000, intervalMs: 50, what: `run ${runId} to succeed` },
  );
}

describe('unauthenticated routes', () => {
  test('GET /ok answers {"ok": true} without a token', T, async () => {
    const res = await request(`${server.url}/ok`);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json, { ok: true });
  });

  test('GET /info answers a JSON object with a version without a token', T, async () => {
    const res = await request(`${server.url}/info`);
    assert.equal(res.status, 200, res.text);
    assert.ok(res.json && typeof res.json === 'object' && !Array.isArray(res.json), `not a JSON object: ${res.text}`);
    assert.ok('version' in res.json, `no "version" in ${res.text}`);
  });
});

describe('the auth gate', () => {
  test('without a token, threads.create fails with 401 Invalid token', T, async () => {
    const error = await rejectsWithStatus(makeClient().threads.create(), 401, 'threads.create without a token');
    assert.equal(detailOf(error), 'Invalid token');
    assert.equal(error.response?.headers.get('www-authenticate'), 'Bearer');
  });

  test('with a wrong token, threads.create fails with 401 and keeps WWW-Authenticate: Bearer', T, async () => {
    const error = await rejectsWithStatus(
      makeClient({ authorization: 'Bearer not-a-real-token' }).threads.create(),
      401,
      'threads.create with a wrong token',
    );
    assert.equal(detailOf(error), 'Invalid token');
    assert.ok(error.response, 'the SDK error should carry the raw response');
    assert.equal(error.response.headers.get('www-authenticate'), 'Bearer');

    const raw = await request(`${server.url}/threads`, {
      method: 'POST',
      headers: { authorization: 'Bearer not-a-real-token' },
      body: {},
    });
    assert.equal(raw.status, 401, raw.text);
    assert.equal(raw.headers.get('www-authenticate'), 'Bearer');
    assert.match(raw.headers.get('content-type') ?? '', /application\/json/);
    assert.deepEqual(raw.json, { detail: 'Invalid token' });
  });

  test('other malformed Authorization values are all 401', T, async () => {
    const values = [
      `Basic ${Buffer.from('user2:user2-token').toString('base64')}`,
      `Token ${TOKENS.user2}`,
      TOKENS.user2,
      'Bearer',
      'Bearer ',
      `Bearer ${TOKENS.user2}x`,
      `Bearer ${TOKENS.user2.toUpperCase()}`,
      `Bearer user2-toke`,
    ];
    for (const authorization of values) {
      const res = await request(`${server.url}/threads`, { method: 'POST', headers: { authorization }, body: {} });
      assert.equal(res.status, 401, `Authorization ${JSON.stringify(authorization)} → ${res.status} ${res.text}`);
      assert.deepEqual(res.json, { detail: 'Invalid token' }, `Authorization ${JSON.stringify(authorization)}`);
      assert.equal(res.headers.get('www-authenticate'), 'Bearer');
    }
  });

  test('every API route is behind the gate, even for unknown ids', T, async () => {
    const id = randomUUID();
    const cases = [
      ['GET', `/threads/${id}`],
      ['PATCH', `/threads/${id}`, { metadata: {} }],
      ['DELETE', `/threads/${id}`],
      ['POST', '/threads/search', {}],
      ['GET', '/assistants/agent'],
      ['POST', '/assistants/search', {}],
      ['POST', `/threads/${id}/runs`, { assistant_id: 'agent', input: HELLO }],
      ['GET', `/threads/${id}/runs`],
      ['GET', `/threads/${id}/runs/${randomUUID()}`],
      ['POST', `/threads/${id}/runs/wait`, { assistant_id: 'agent', input: HELLO }],
      ['POST', '/runs/wait', { assistant_id: 'agent', input: HELLO }],
    ];
    for (const [method, path, body] of cases) {
      const res = await request(`${server.url}${path}`, { method, body });
      assert.equal(res.status, 401, `${method} ${path} without a token → ${res.status} ${res.text}`);
      assert.deepEqual(res.json, { detail: 'Invalid token' }, `${method} ${path}`);
    }
  });
});

describe('the tutorial flow with a valid token', () => {
  test('Bearer user2-token: threads.create works and runs.wait returns a reply naming user2', T, async () => {
    const client = asUser2();
    const thread = await client.threads.create();
    assert.match(thread.thread_id, UUID_RE);
    assert.equal(thread.status, 'idle');
    assert.equal(typeof thread.metadata, 'object');
    assert.equal(typeof thread.created_at, 'string');

    const first = await client.runs.wait(thread.thread_id, 'agent', { input: HELLO });
    assert.deepEqual(Object.keys(first), ['messages'], `runs.wait should return the state values: ${JSON.stringify(first)}`);
    assert.equal(first.messages.length, 2, JSON.stringify(first.messages));
    assertBotReply(first.messages, { identity: 'user2', said: 'Hello!' });

    // The thread keeps its state: a second turn appends to it.
    const second = await client.runs.wait(thread.thread_id, 'agent', {
      input: { messages: [{ role: 'user', content: 'How are you?' }] },
    });
    assert.equal(second.messages.length, 4, JSON.stringify(second.messages));
    assert.deepEqual(
      second.messages.slice(0, 2).map((m) => m.id),
      first.messages.map((m) => m.id),
      'earlier messages keep their ids',
    );
    assertBotReply(second.messages, { identity: 'user2', said: 'How are you?' });

    const after = await client.threads.get(thread.thread_id);
    assert.equal(after.status, 'idle');
    assert.deepEqual(after.values, second, 'thread values should be the state after the last run');
  });

  test('runs.create runs in the background; runs.get reaches success; the thread holds the state', T, async () => {
    const client = asUser1();
    const thread = await client.threads.create();
    const run = await client.runs.create(thread.thread_id, 'agent', { input: HELLO, metadata: { origin: 'e2e' } });
    assert.match(run.run_id, UUID_RE);
    assert.equal(run.thread_id, thread.thread_id);
    assert.equal(run.assistant_id, AGENT_ASSISTANT_ID, 'graph id "agent" should resolve to its system assistant');
    assert.ok(['pending', 'running', 'success'].includes(run.status), `unexpected status ${run.status}`);
    assert.equal(run.metadata?.origin, 'e2e', `run metadata not kept: ${JSON.stringify(run.metadata)}`);

    const done = await waitForRunDone(client, thread.thread_id, run.run_id);
    assert.equal(done.run_id, run.run_id);

    const state = await client.threads.get(thread.thread_id);
    assert.equal(state.status, 'idle', `thread status after success: ${state.status}`);
    assertBotReply(state.values?.messages, { identity: 'user1', said: 'Hello!' });
    assert.equal(state.metadata?.graph_id, 'agent', `thread metadata after a run: ${JSON.stringify(state.metadata)}`);
    assert.equal(state.metadata?.assistant_id, AGENT_ASSISTANT_ID);

    const runs = await client.runs.list(thread.thread_id);
    assert.ok(Array.isArray(runs));
    const listed = runs.find((r) => r.run_id === run.run_id);
    assert.ok(listed, `runs.list should contain ${run.run_id}: ${JSON.stringify(runs.map((r) => r.run_id))}`);
    assert.equal(listed.status, 'success');
    assert.equal(runs.length, 1);
  });

  test("a run's config carries the authenticated user; caller-supplied auth keys are overwritten; x-* headers pass", T, async () => {
    const client = makeClient({
      authorization: `Bearer ${TOKENS.user2}`,
      apiKey: 'api-key-must-not-pass',
      headers: {
        'x-trace-id': 'trace-abc-123',
        'X-Request-Source': 'e2e-suite',
        'x-tenant-id': 'tenant-must-not-pass',
        'x-service-key': 'service-key-must-not-pass',
      },
    });
    const thread = await client.threads.create();
    const created = await client.runs.create(thread.thread_id, 'agent', {
      input: HELLO,
      config: {
        configurable: {
          langgraph_auth_user_id: 'mallory',
          langgraph_auth_user: { identity: 'mallory', display_name: 'Mallory', permissions: ['admin'] },
          langgraph_auth_permissions: ['admin'],
          my_setting: 'kept',
        },
      },
    });
    const run = await waitForRunDone(client, thread.thread_id, created.run_id);

    for (const [label, r] of [
      ['created run', created],
      ['fetched run', run],
    ]) {
      const configurable = r.kwargs?.config?.configurable;
      assert.ok(configurable && typeof configurable === 'object', `${label}: no kwargs.config.configurable in ${JSON.stringify(r)}`);
      const user = configurable.langgraph_auth_user;
      assert.ok(user && typeof user === 'object', `${label}: no langgraph_auth_user: ${JSON.stringify(configurable)}`);
      assert.equal(user.identity, 'user2', `${label}: langgraph_auth_user.identity`);
      assert.equal(user.display_name, 'Bob', `${label}: langgraph_auth_user.display_name`);
      assert.equal(user.is_authenticated, true, `${label}: langgraph_auth_user.is_authenticated`);
      assert.ok(Array.isArray(user.permissions), `${label}: langgraph_auth_user.permissions should be a list`);
      assert.ok(!user.permissions.includes('admin'), `${label}: caller-supplied permissions leaked into the user`);
      assert.equal(configurable.langgraph_auth_user_id, 'user2', `${label}: langgraph_auth_user_id must be overwritten`);
      assert.ok(Array.isArray(configurable.langgraph_auth_permissions), `${label}: langgraph_auth_permissions`);
      assert.deepEqual(configurable.langgraph_auth_permissions, user.permissions, `${label}: permissions mismatch`);
      assert.equal(configurable.user_id, 'user2', `${label}: user_id`);
      assert.equal(configurable.thread_id, thread.thread_id, `${label}: thread_id`);
      assert.equal(configurable.run_id, created.run_id, `${label}: run_id`);
      assert.equal(configurable.assistant_id, AGENT_ASSISTANT_ID, `${label}: assistant_id`);
      assert.equal(configurable.graph_id, 'agent', `${label}: graph_id`);
      assert.equal(configurable.my_setting, 'kept', `${label}: other caller configurable values are kept`);
      assert.equal(configurable['x-trace-id'], 'trace-abc-123', `${label}: x-trace-id should reach configurable`);
      assert.equal(configurable['x-request-source'], 'e2e-suite', `${label}: x-request-source should reach configurable`);
      for (const hidden of ['x-api-key', 'x-tenant-id', 'x-service-key', 'authorization']) {
        assert.ok(!(hidden in configurable), `${label}: ${hidden} must not reach configurable`);
      }
      const everything = JSON.stringify(r);
      for (const secret of ['api-key-must-not-pass', 'tenant-must-not-pass', 'service-key-must-not-pass', TOKENS.user2]) {
        assert.ok(!everything.includes(secret), `${label}: ${secret} appears in the run: ${everything}`);
      }
    }

    // The node ran with the real user, not the one the caller tried to inject.
    const state = await client.threads.get(thread.thread_id);
    assertBotReply(state.values?.messages, { identity: 'user2', said: 'Hello!' });
  });

  test('threads.search filters by metadata', T, async () => {
    const client = asUser1();
    const tag = randomUUID();
    const a = await client.threads.create({ metadata: { suite: tag, n: 1 } });
    const b = await client.threads.create({ metadata: { suite: tag, n: 2 } });
    await client.threads.create({ metadata: { suite: 'other' } });

    const both = await client.threads.search({ metadata: { suite: tag }, limit: 100 });
    assert.deepEqual(both.map((t) => t.thread_id).sort(), [a.thread_id, b.thread_id].sort());
    for (const t of both) assert.equal(t.metadata.suite, tag);

    const one = await client.threads.search({ metadata: { suite: tag, n: 2 }, limit: 100 });
    assert.deepEqual(one.map((t) => t.thread_id), [b.thread_id]);

    const limited = await client.threads.search({ metadata: { suite: tag }, limit: 1 });
    assert.equal(limited.length, 1);

    const none = await client.threads.search({ metadata: { suite: randomUUID() } });
    assert.deepEqual(none, []);

    const all = await client.threads.search({ limit: 100 });
    assert.ok(all.some((t) => t.thread_id === a.thread_id), 'an unfiltered search should include the new thread');
  });

  test('threads.update merges metadata', T, async () => {
    const client = asUser1();
    const thread = await client.threads.create({ metadata: { keep: 'yes', a: 1 } });
    assert.deepEqual(thread.metadata, { keep: 'yes', a: 1 });
    const updated = await client.threads.update(thread.thread_id, { metadata: { a: 3, b: 2 } });
    assert.equal(updated.thread_id, thread.thread_id);
    assert.deepEqual(updated.metadata, { keep: 'yes', a: 3, b: 2 });
    const fetched = await client.threads.get(thread.thread_id);
    assert.deepEqual(fetched.metadata, { keep: 'yes', a: 3, b: 2 });
    assert.ok(Date.parse(fetched.updated_at) >= Date.parse(fetched.created_at), 'updated_at should not precede created_at');
  });

  test('threads.delete removes the thread; later reads are 404', T, async () => {
    const client = asUser1();
    const thread = await client.threads.create();
    await client.threads.delete(thread.thread_id);
    const error = await rejectsWithStatus(client.threads.get(thread.thread_id), 404, 'threads.get after delete');
    detailOf(error);
    await rejectsWithStatus(client.threads.delete(thread.thread_id), 404, 'threads.delete twice');
    await rejectsWithStatus(
      client.runs.wait(thread.thread_id, 'agent', { input: HELLO }),
      404,
      'runs.wait on a deleted thread',
    );
    const found = await client.threads.search({ limit: 100 });
    assert.ok(!found.some((t) => t.thread_id === thread.thread_id), 'deleted thread still listed by search');
  });

  test('assistants.get accepts the graph id and the system assistant id', T, async () => {
    const client = asUser2();
    const byGraph = await client.assistants.get('agent');
    assert.equal(byGraph.assistant_id, AGENT_ASSISTANT_ID);
    assert.equal(byGraph.graph_id, 'agent');
    assert.equal(byGraph.name, 'agent');
    assert.equal(byGraph.metadata?.created_by, 'system');
    assert.equal(byGraph.version, 1);
    const byId = await client.assistants.get(AGENT_ASSISTANT_ID);
    assert.deepEqual(byId, byGraph);

    detailOf(await rejectsWithStatus(client.assistants.get(randomUUID()), 404, 'assistants.get of an unknown UUID'));
    detailOf(await rejectsWithStatus(client.assistants.get('no-such-graph'), 404, 'assistants.get of an unknown graph id'));
  });

  test('assistants.search lists the system assistant', T, async () => {
    const client = asUser2();
    const all = await client.assistants.search();
    assert.ok(Array.isArray(all));
    const agent = all.find((a) => a.assistant_id === AGENT_ASSISTANT_ID);
    assert.ok(agent, `system assistant missing from ${JSON.stringify(all)}`);
    assert.equal(agent.graph_id, 'agent');

    const byGraph = await client.assistants.search({ graphId: 'agent' });
    assert.ok(byGraph.some((a) => a.assistant_id === AGENT_ASSISTANT_ID));
    assert.ok(byGraph.every((a) => a.graph_id === 'agent'));

    const none = await client.assistants.search({ graphId: 'no-such-graph' });
    assert.deepEqual(none, []);
  });

  test('stateless runs.wait answers each user by name', T, async () => {
    const said = 'Hi from nowhere';
    const input = { messages: [{ role: 'user', content: said }] };
    const r2 = await asUser2().runs.wait(null, 'agent', { input });
    assert.equal(r2.messages.length, 2, JSON.stringify(r2));
    assertBotReply(r2.messages, { identity: 'user2', said });
    const r1 = await asUser1().runs.wait(null, AGENT_ASSISTANT_ID, { input });
    assertBotReply(r1.messages, { identity: 'user1', said });
  });

  test('unknown runs and assistants are 404 on run routes', T, async () => {
    const client = asUser1();
    const thread = await client.threads.create();
    detailOf(await rejectsWithStatus(client.runs.get(thread.thread_id, randomUUID()), 404, 'runs.get of an unknown run'));
    detailOf(
      await rejectsWithStatus(
        client.runs.create(thread.thread_id, 'no-such-graph', { input: HELLO }),
        404,
        'runs.create with an unknown assistant',
      ),
    );
    detailOf(
      await rejectsWithStatus(client.runs.wait(null, randomUUID(), { input: HELLO }), 404, 'stateless runs.wait with an unknown assistant'),
    );
    const runs = await client.runs.list(thread.thread_id);
    assert.deepEqual(runs, [], 'a refused run must not be recorded');
  });
});
