// Crons end to end, through the official JS SDK against the real binary with plugins/auth_owner
// (two users, and the Studio user, who sees everything): create on a thread and stateless,
// search, count, update and delete, what the other user gets (404, nothing in searches), bad
// input (4xx with a detail), crons that fire (every 2 s with a seconds field, and one real
// `* * * * *`), as their creator, after a restart, and once per tick on two replicas sharing
// PostgreSQL. With the auth_team fixture, where several users may change one cron: the filter
// of crons:create on the cron itself, and runs acting as whoever last changed the payload.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Client } from '@langchain/langgraph-sdk';
import {
  AGENT_ASSISTANT_ID,
  BUILD_DIR,
  TOKENS,
  UUID_RE,
  cleanupTempDirs,
  createDatabase,
  fixture,
  makeTempDir,
  NEEDS_POSTGRES,
  randomUUID,
  request,
  sleep,
  startServer,
  stopAndDropDatabase,
  tempConfig,
  waitFor,
} from './harness.mjs';

const T = { timeout: 30_000 };
const STUDIO_KEY = 'cron-studio-key';
const say = (content) => ({ messages: [{ role: 'user', content }] });
const EVERY_2S = '* * * * * */2'; // a sixth field gives seconds, as in LangGraph's Python server
const CRON_FIELDS = [
  'assistant_id',
  'created_at',
  'cron_id',
  'enabled',
  'end_time',
  'metadata',
  'next_run_date',
  'on_run_completed',
  'payload',
  'schedule',
  'thread_id',
  'timezone',
  'updated_at',
  'user_id',
];

delete process.env.LANGGRAPH_STUDIO_KEY;

let server;
// Created first, checked last: a real `* * * * *` fires within a minute of its creation.
let minuteThread;
let minuteCron;
let minuteCreatedAt;

/** plugins/auth_owner's langgraph.json, with the plugins of the build under test. */
async function ownerConfig() {
  const { config } = await tempConfig({
    graphs: { agent: `${path.join(BUILD_DIR, 'plugins', 'agent.so')}:graph` },
    auth: { path: `${path.join(BUILD_DIR, 'plugins', 'auth_owner.so')}:auth` },
  });
  return config;
}

function client(target, token, headers = {}) {
  return new Client({
    apiUrl: target.url,
    apiKey: null,
    defaultHeaders: token ? { Authorization: `Bearer ${token}`, ...headers } : headers,
    timeoutMs: 15_000,
    callerOptions: { maxRetries: 0 },
  });
}
const user1 = (target = server) => client(target, TOKENS.user1);
const user2 = (target = server) => client(target, TOKENS.user2);
/** The Studio user of `server` (started with a studio key): auth_owner lets it see every cron. */
const studio = () => client(server, null, { 'x-auth-scheme': 'langsmith', 'x-studio-key': STUDIO_KEY });

/** Awaits `promise`, which must fail with HTTP `status` and a JSON {"detail": string}. Returns the detail. */
async function expectStatus(promise, status, what) {
  let error;
  try {
    const value = await promise;
    assert.fail(`${what}: expected HTTP ${status}, got success ${JSON.stringify(value)?.slice(0, 300)}`);
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    error = e;
  }
  assert.equal(error.status, status, `${what}: expected HTTP ${status}, got ${error.status}: ${error.message}`);
  const body = JSON.parse(error.text);
  assert.equal(typeof body.detail, 'string', `${what}: ${error.text}`);
  return body.detail;
}

/** Raw request that must answer `status` with a JSON detail; returns the detail. */
async function rawStatus(method, url, body, token, status, what) {
  const res = await request(url, { method, body, token });
  assert.equal(res.status, status, `${what}: ${res.text}`);
  assert.equal(typeof res.json?.detail, 'string', `${what}: ${res.text}`);
  return res.json.detail;
}

/** Runs of `threadId` (user1's), oldest first. */
async function runsOf(c, threadId) {
  return (await c.runs.list(threadId, { limit: 100 })).reverse();
}

before(async () => {
  server = await startServer({ config: await ownerConfig(), env: { LANGGRAPH_STUDIO_KEY: STUDIO_KEY } });
  minuteThread = await user1().threads.create();
  minuteCreatedAt = Date.now();
  minuteCron = await user1().crons.createForThread(minuteThread.thread_id, 'agent', {
    schedule: '* * * * *',
    input: say('every minute'),
  });
});

after(async () => {
  await server?.stop();
  await cleanupTempDirs();
});

describe('creating crons', () => {
  test('GET /info says crons are available, as LangGraph does where they are', T, async () => {
    const info = await request(`${server.url}/info`);
    assert.equal(info.status, 200);
    assert.equal(info.json.flags.crons, true);
  });

  test('on a thread: the Cron shape, the creator as user_id, the owner stamped into metadata', T, async () => {
    const thread = await user1().threads.create();
    const before = Date.now();
    const cron = await user1().crons.createForThread(thread.thread_id, 'agent', {
      schedule: '0 9 * * *',
      input: say('good morning'),
      metadata: { purpose: 'digest', owner: 'user2' },
      config: { tags: ['daily'] },
    });
    assert.deepEqual(Object.keys(cron).sort(), CRON_FIELDS);
    assert.match(cron.cron_id, UUID_RE);
    assert.equal(cron.assistant_id, AGENT_ASSISTANT_ID);
    assert.equal(cron.thread_id, thread.thread_id);
    assert.equal(cron.on_run_completed, null);
    assert.equal(cron.end_time, null);
    assert.equal(cron.schedule, '0 9 * * *');
    assert.equal(cron.timezone, null);
    assert.equal(cron.user_id, 'user1');
    assert.equal(cron.enabled, true);
    assert.deepEqual(cron.metadata, { purpose: 'digest', owner: 'user1' });
    assert.deepEqual(cron.payload.input, say('good morning'));
    assert.equal(cron.payload.assistant_id, AGENT_ASSISTANT_ID);
    assert.equal(cron.payload.config.configurable.cron_id, cron.cron_id);
    assert.deepEqual(cron.payload.config.tags, ['daily']);
    assert.equal(cron.payload.schedule, undefined);
    // The next 09:00 UTC.
    const next = new Date(cron.next_run_date);
    assert.equal(next.getUTCHours(), 9);
    assert.equal(next.getUTCMinutes(), 0);
    assert.ok(next.getTime() > before && next.getTime() <= before + 24 * 3600_000, cron.next_run_date);
    assert.ok(!Number.isNaN(Date.parse(cron.created_at)) && cron.created_at === cron.updated_at);
  });

  test('stateless: on_run_completed defaults to delete; timezone and end_time are kept', T, async () => {
    const plain = await user1().crons.create('agent', { schedule: '@daily', input: say('hi') });
    assert.equal(plain.thread_id, null);
    assert.equal(plain.on_run_completed, 'delete');
    const end = new Date(Date.now() + 30 * 24 * 3600_000);
    const kept = await user1().crons.create('agent', {
      schedule: '30 8 * * 1-5',
      timezone: 'Asia/Kolkata',
      endTime: end.toISOString(),
      onRunCompleted: 'keep',
      enabled: false,
      input: say('hi'),
    });
    assert.equal(kept.on_run_completed, 'keep');
    assert.equal(kept.timezone, 'Asia/Kolkata');
    assert.equal(kept.enabled, false);
    assert.equal(Date.parse(kept.end_time), end.getTime());
    // 08:30 in Kolkata is 03:00 UTC, on a weekday.
    const next = new Date(kept.next_run_date);
    assert.equal(next.getUTCHours(), 3, kept.next_run_date);
    assert.equal(next.getUTCMinutes(), 0);
    assert.ok(next.getUTCDay() >= 1 && next.getUTCDay() <= 5, kept.next_run_date);
  });

  test('bad input is a 4xx with a detail, never a 500', T, async () => {
    const thread = await user1().threads.create();
    const c = user1();
    const tag = randomUUID();
    for (const [fields, status, what, match] of [
      [{ schedule: 'not a cron' }, 422, 'a schedule of 3 words', /Invalid cron schedule/],
      [{ schedule: '61 * * * *' }, 422, 'minute 61', /minute/],
      [{ schedule: '* * * * * * *' }, 422, 'seven fields', /5 fields/],
      [{ schedule: '0 0 30 2 *' }, 422, 'February 30th', /never fires/],
      [{ schedule: '* * * * *', timezone: 'Mars/Olympus' }, 422, 'an unknown zone', /timezone/],
      [{ schedule: '* * * * *', timezone: '../../etc/passwd' }, 422, 'a path as zone', /timezone/],
      [{ schedule: '* * * * *', timezone: '' }, 422, 'an empty zone', /timezone/],
      [{ schedule: '* * * * *', endTime: 'tomorrow' }, 422, 'end_time', /end_time/],
      [{ schedule: '* * * * *', endTime: '1969-07-20T20:17:00Z' }, 422, 'an end_time before 1970', /end_time/],
      [{ schedule: '* * * * *', endTime: '1970-01-01T00:30:00+01:00' }, 422, 'an end_time in 1969 in UTC', /end_time/],
      [{ schedule: '* * * * *', endTime: '9999-12-31T23:00:00-02:00' }, 422, 'an end_time in the year 10000 in UTC', /end_time/],
      [{ schedule: '* * * * *', onRunCompleted: 'archive' }, 422, 'on_run_completed', /on_run_completed/],
      [{ schedule: '* * * * *', input: 'hello' }, 422, 'input that is no object', /input/],
      [{ schedule: '* * * * *', webhook: 'https://example.com/hook' }, 422, 'webhooks', /webhook/],
      [{}, 422, 'no schedule', /schedule/],
    ]) {
      const payload = { ...fields, metadata: { tag } };
      const detail = await expectStatus(c.crons.create('agent', payload), status, what);
      assert.match(detail, match, `${what}: ${detail}`);
      await expectStatus(c.crons.createForThread(thread.thread_id, 'agent', payload), status, `${what} (thread)`);
    }
    const metadata = { tag };
    await expectStatus(c.crons.create('no-such-graph', { schedule: '* * * * *', metadata }), 404, 'an unknown assistant');
    await expectStatus(c.crons.createForThread(randomUUID(), 'agent', { schedule: '* * * * *', metadata }), 404, 'an unknown thread');
    const url = `${server.url}/runs/crons`;
    await rawStatus('POST', url, '{"schedule": ', TOKENS.user1, 422, 'a body that is not JSON');
    await rawStatus('POST', url, { assistant_id: 'agent', schedule: 5, metadata }, TOKENS.user1, 422, 'a schedule that is a number');
    await rawStatus('POST', url, { assistant_id: 'agent', schedule: '* * * * *', enabled: 'yes', metadata }, TOKENS.user1, 422, 'enabled as text');
    await rawStatus('POST', `${server.url}/threads/not-a-uuid/runs/crons`, { assistant_id: 'agent', schedule: '* * * * *', metadata }, TOKENS.user1, 422, 'a thread id that is no UUID');
    await rawStatus('POST', url, { assistant_id: 'agent', schedule: '* * * * *', metadata }, undefined, 401, 'no token');
    // Nothing of it was stored, for anyone.
    assert.equal(await studio().crons.count({ metadata: { tag } }), 0);
    assert.equal(await c.crons.count({ threadId: thread.thread_id }), 0);
  });

  test("a cron on another user's thread is 404 and is not created", T, async () => {
    const theirs = await user1().threads.create();
    const tag = randomUUID();
    await expectStatus(
      user2().crons.createForThread(theirs.thread_id, 'agent', { schedule: '* * * * *', metadata: { tag } }),
      404,
      "user2's cron on user1's thread",
    );
    // Nobody has it: not user2 (whose owner it would carry), not user1, not the Studio user.
    assert.deepEqual(await user2().crons.search({ metadata: { tag } }), []);
    assert.deepEqual(await user1().crons.search({ metadata: { tag } }), []);
    assert.deepEqual(await studio().crons.search({ metadata: { tag } }), []);
    assert.equal(await studio().crons.count({ threadId: theirs.thread_id }), 0);
    // The same cron by user1 is stored, and seen so by the Studio user: the checks above can fail.
    await user1().crons.createForThread(theirs.thread_id, 'agent', { schedule: '0 0 1 1 *', metadata: { tag } });
    assert.equal(await studio().crons.count({ metadata: { tag } }), 1);
  });
});

describe('search, count, update, delete: each user sees and changes only their own crons', () => {
  const tag = randomUUID();
  let thread;
  let mine;
  let theirs;

  before(async () => {
    thread = await user1().threads.create();
    mine = [];
    mine.push(await user1().crons.createForThread(thread.thread_id, 'agent', { schedule: '0 1 * * *', metadata: { tag } }));
    mine.push(await user1().crons.create('agent', { schedule: '0 2 * * *', metadata: { tag, kind: 'stateless' } }));
    mine.push(await user1().crons.create('agent', { schedule: '0 3 * * *', metadata: { tag }, enabled: false }));
    theirs = await user2().crons.create('agent', { schedule: '0 4 * * *', metadata: { tag } });
  });

  test('search and count show only the caller’s crons, with filters, sorting, paging and select', T, async () => {
    const ids = (rows) => rows.map((r) => r.cron_id);
    const all = await user1().crons.search({ metadata: { tag }, limit: 100 });
    assert.deepEqual(ids(all).sort(), ids(mine).sort());
    assert.equal(await user1().crons.count({ metadata: { tag } }), 3);
    assert.deepEqual(ids(await user2().crons.search({ metadata: { tag } })), [theirs.cron_id]);
    assert.equal(await user2().crons.count({ metadata: { tag } }), 1);
    // Asking for user1's crons by owner or thread finds nothing for user2.
    assert.deepEqual(await user2().crons.search({ metadata: { owner: 'user1' } }), []);
    assert.equal(await user2().crons.count({ threadId: thread.thread_id }), 0);
    assert.deepEqual(await user2().crons.search({ threadId: thread.thread_id }), []);

    assert.deepEqual(ids(await user1().crons.search({ threadId: thread.thread_id })), [mine[0].cron_id]);
    assert.equal(await user1().crons.count({ threadId: thread.thread_id }), 1);
    assert.equal(await user1().crons.count({ assistantId: 'agent', metadata: { tag } }), 3);
    assert.equal(await user1().crons.count({ assistantId: AGENT_ASSISTANT_ID, metadata: { tag } }), 3);
    assert.deepEqual(ids(await user1().crons.search({ metadata: { tag }, enabled: false })), [mine[2].cron_id]);
    assert.deepEqual(ids(await user1().crons.search({ metadata: { tag, kind: 'stateless' } })), [mine[1].cron_id]);

    const byDate = await user1().crons.search({ metadata: { tag }, sortBy: 'next_run_date', sortOrder: 'asc' });
    const dates = byDate.map((c) => c.next_run_date);
    assert.deepEqual(dates, [...dates].sort());
    const byId = await user1().crons.search({ metadata: { tag }, sortBy: 'cron_id', sortOrder: 'desc' });
    assert.deepEqual(ids(byId), ids(mine).sort().reverse());
    const newest = await user1().crons.search({ metadata: { tag }, limit: 1 });
    assert.deepEqual(ids(newest), [mine[2].cron_id]);
    const second = await user1().crons.search({ metadata: { tag }, limit: 1, offset: 1 });
    assert.deepEqual(ids(second), [mine[1].cron_id]);

    const selected = await user1().crons.search({ metadata: { tag }, select: ['cron_id', 'schedule'], limit: 1 });
    assert.deepEqual(Object.keys(selected[0]).sort(), ['cron_id', 'schedule']);
    const res = await request(`${server.url}/runs/crons/search`, { method: 'POST', token: TOKENS.user1, body: { metadata: { tag } } });
    assert.equal(res.headers.get('x-pagination-total'), '3');
    await rawStatus('POST', `${server.url}/runs/crons/search`, { select: ['password'] }, TOKENS.user1, 422, 'select of an unknown field');
    await rawStatus('POST', `${server.url}/runs/crons/search`, { sort_by: 'schedule' }, TOKENS.user1, 422, 'sort by an unknown field');
    await rawStatus('POST', `${server.url}/runs/crons/count`, { thread_id: 'nope' }, TOKENS.user1, 422, 'count by a thread id that is no UUID');
  });

  test('update changes schedule, enabled, end_time, the payload and metadata; the owner stays', T, async () => {
    const cron = mine[1];
    const end = new Date(Date.now() + 7 * 24 * 3600_000).toISOString();
    const updated = await user1().crons.update(cron.cron_id, {
      schedule: '15 6 * * *',
      timezone: 'Europe/Paris',
      endTime: end,
      input: say('changed'),
      metadata: { kind: 'edited', owner: 'user2' },
      onRunCompleted: 'keep',
    });
    assert.equal(updated.cron_id, cron.cron_id);
    assert.equal(updated.schedule, '15 6 * * *');
    assert.equal(updated.timezone, 'Europe/Paris');
    assert.equal(Date.parse(updated.end_time), Date.parse(end));
    assert.equal(updated.on_run_completed, 'keep');
    assert.deepEqual(updated.payload.input, say('changed'));
    assert.equal(updated.payload.assistant_id, AGENT_ASSISTANT_ID);
    assert.equal(updated.payload.config.configurable.cron_id, cron.cron_id);
    assert.deepEqual(updated.metadata, { tag, kind: 'edited', owner: 'user1' });
    assert.equal(updated.user_id, 'user1'); // its own creator changed what it runs
    assert.notEqual(updated.next_run_date, cron.next_run_date);
    assert.equal(new Date(updated.next_run_date).getUTCMinutes(), 15);
    assert.ok(updated.updated_at > cron.updated_at);
    assert.equal(updated.created_at, cron.created_at);

    const disabled = await user1().crons.update(cron.cron_id, { enabled: false });
    assert.equal(disabled.enabled, false);
    assert.equal(disabled.schedule, '15 6 * * *');
    const [stored] = await user1().crons.search({ metadata: { tag, kind: 'edited' } });
    assert.deepEqual(stored, disabled);

    await expectStatus(user1().crons.update(cron.cron_id, { schedule: 'every day' }), 422, 'update to a bad schedule');
    await expectStatus(user1().crons.update(cron.cron_id, { timezone: 'Nowhere/Land' }), 422, 'update to a bad zone');
    await expectStatus(user1().crons.update(cron.cron_id, { timezone: '' }), 422, 'update to an empty zone');
    await expectStatus(user1().crons.update(randomUUID(), { enabled: true }), 404, 'update of an unknown cron');
    await rawStatus('PATCH', `${server.url}/runs/crons/not-a-uuid`, { enabled: true }, TOKENS.user1, 422, 'a cron id that is no UUID');
  });

  test("the other user's update, delete and get are 404, and the cron is untouched", T, async () => {
    const cron = mine[0];
    const [before] = await user1().crons.search({ threadId: thread.thread_id });
    await expectStatus(user2().crons.update(cron.cron_id, { schedule: '* * * * *', metadata: { owner: 'user2' } }), 404, 'user2 update');
    await expectStatus(user2().crons.delete(cron.cron_id), 404, 'user2 delete');
    await rawStatus('GET', `${server.url}/runs/crons/${cron.cron_id}`, undefined, TOKENS.user2, 404, 'user2 get');
    const [after] = await user1().crons.search({ threadId: thread.thread_id });
    assert.deepEqual(after, before);
    const fetched = await request(`${server.url}/runs/crons/${cron.cron_id}`, { token: TOKENS.user1 });
    assert.equal(fetched.status, 200);
    assert.deepEqual(fetched.json, before);
  });

  test('delete is 204, then 404; the cron is gone from search and count', T, async () => {
    const cron = mine[2];
    await user1().crons.delete(cron.cron_id);
    await expectStatus(user1().crons.delete(cron.cron_id), 404, 'second delete');
    assert.equal(await user1().crons.count({ metadata: { tag } }), 2);
    assert.deepEqual(
      (await user1().crons.search({ metadata: { tag } })).map((c) => c.cron_id).includes(cron.cron_id),
      false,
    );
  });

  test("deleting the thread deletes its crons", T, async () => {
    const t = await user1().threads.create();
    const own = randomUUID();
    const cron = await user1().crons.createForThread(t.thread_id, 'agent', { schedule: '0 0 * * *', metadata: { own } });
    const url = `${server.url}/runs/crons/${cron.cron_id}`;
    assert.equal((await request(url, { token: TOKENS.user1 })).status, 200);
    assert.equal(await user1().crons.count({ metadata: { own } }), 1);
    await user1().threads.delete(t.thread_id);
    // The cron itself is gone: its owner gets 404, and no one finds it by its metadata.
    await rawStatus('GET', url, undefined, TOKENS.user1, 404, 'the cron of a deleted thread');
    assert.equal(await user1().crons.count({ metadata: { own } }), 0);
    assert.equal(await studio().crons.count({ metadata: { own } }), 0);
  });

  test('a cron that ended or waited disabled past its date counts from now when changed; end_time null removes the end', T, async () => {
    const thread = await user1().threads.create();
    const ended = await user1().crons.createForThread(thread.thread_id, 'agent', {
      schedule: EVERY_2S,
      input: say('ended'),
      endTime: new Date(Date.now() - 60_000).toISOString(),
    });
    const off = await user1().crons.createForThread(thread.thread_id, 'agent', { schedule: EVERY_2S, input: say('off'), enabled: false });
    // Both next_run_dates pass without a run: one ended, one disabled.
    await sleep(Math.max(Date.parse(ended.next_run_date), Date.parse(off.next_run_date)) - Date.now() + 500);
    const patchedAt = Date.now();
    const extended = await user1().crons.update(ended.cron_id, { endTime: new Date(Date.now() + 3600_000).toISOString() });
    const edited = await user1().crons.update(off.cron_id, { input: say('still off') });
    // Not left in the past, where the scheduler would fire it at once, off its schedule.
    assert.ok(Date.parse(extended.next_run_date) > patchedAt, `${extended.next_run_date} is before the change`);
    assert.ok(Date.parse(edited.next_run_date) > patchedAt, `${edited.next_run_date} is before the change`);
    await user1().crons.update(ended.cron_id, { enabled: false });
    const open = await request(`${server.url}/runs/crons/${ended.cron_id}`, { method: 'PATCH', token: TOKENS.user1, body: { end_time: null } });
    assert.equal(open.status, 200, open.text);
    assert.equal(open.json.end_time, null);
    assert.equal((await request(`${server.url}/runs/crons/${ended.cron_id}`, { token: TOKENS.user1 })).json.end_time, null);
    await user1().crons.delete(ended.cron_id);
    await user1().crons.delete(off.cron_id);
  });

  test('concurrent updates of different payload fields all land', T, async () => {
    const thread = await user1().threads.create();
    const cron = await user1().crons.createForThread(thread.thread_id, 'agent', { schedule: '0 0 1 1 *', input: say('start') });
    const fields = {
      input: say('changed'),
      context: { tenant: 'a' },
      config: { tags: ['t'] },
      interrupt_before: ['call_model'],
      interrupt_after: ['call_model'],
      stream_mode: ['values'],
    };
    for (let round = 0; round < 10; round++) {
      const stamp = { ...fields, context: { tenant: `round-${round}` } };
      const answers = await Promise.all(
        Object.entries(stamp).map(([key, value]) =>
          request(`${server.url}/runs/crons/${cron.cron_id}`, { method: 'PATCH', token: TOKENS.user1, body: { [key]: value } }),
        ),
      );
      for (const a of answers) assert.equal(a.status, 200, a.text);
      const stored = (await request(`${server.url}/runs/crons/${cron.cron_id}`, { token: TOKENS.user1 })).json.payload;
      for (const [key, value] of Object.entries(stamp)) {
        // config gains the cron's id in configurable
        const got = key === 'config' ? { tags: stored.config?.tags } : stored[key];
        assert.deepEqual(got, value, `round ${round}: ${key} was lost: ${JSON.stringify(stored)}`);
      }
      // Start every round from the bare payload again, so each field must be written anew.
      const reset = await request(`${server.url}/runs/crons/${cron.cron_id}`, { method: 'DELETE', token: TOKENS.user1 });
      assert.equal(reset.status, 204, reset.text);
      Object.assign(cron, await user1().crons.createForThread(thread.thread_id, 'agent', { schedule: '0 0 1 1 *', input: say('start') }));
    }
    await user1().crons.delete(cron.cron_id);
  });
});

describe('crons fire', () => {
  test('a thread cron runs on its thread, as its creator, every tick', T, async () => {
    const thread = await user1().threads.create();
    const cron = await user1().crons.createForThread(thread.thread_id, 'agent', {
      schedule: EVERY_2S,
      input: say('tick'),
      metadata: { fired: 'thread' },
    });
    const runs = await waitFor(
      async () => {
        const list = await runsOf(user1(), thread.thread_id);
        return list.filter((r) => r.status === 'success').length >= 2 ? list : null;
      },
      { timeoutMs: 12_000, intervalMs: 200, what: 'two runs of the thread cron' },
    );
    await user1().crons.delete(cron.cron_id);
    const run = runs[0];
    const configurable = run.kwargs.config.configurable;
    assert.deepEqual(configurable.langgraph_auth_user, {
      identity: 'user1',
      display_name: 'Alice',
      is_authenticated: true,
      permissions: [],
    });
    assert.equal(configurable.langgraph_auth_user_id, 'user1');
    assert.equal(configurable.user_id, 'user1');
    assert.equal(configurable.cron_id, cron.cron_id);
    assert.equal(run.assistant_id, AGENT_ASSISTANT_ID);
    assert.equal(run.metadata.owner, 'user1'); // stamped by threads:create_run, as for any run of user1
    // Two ticks are two seconds apart (give or take a loaded machine's delays).
    const gap = Date.parse(runs[1].created_at) - Date.parse(runs[0].created_at);
    assert.ok(gap >= 1000 && gap <= 4500, `runs ${gap} ms apart`);
    const state = await user1().threads.get(thread.thread_id);
    assert.match(state.values.messages.at(-1).content, /^Hello user1! You said: tick$/);
    // Deleted: no more runs.
    const count = (await runsOf(user1(), thread.thread_id)).length;
    await sleep(2500);
    assert.equal((await runsOf(user1(), thread.thread_id)).length, count);
    await expectStatus(user2().runs.list(thread.thread_id), 404, "user2 lists the cron's runs");
  });

  test('a stateless cron runs on a new thread each time: kept with "keep", deleted with "delete"', T, async () => {
    const kept = randomUUID();
    const dropped = randomUUID();
    const keep = await user1().crons.create('agent', { schedule: EVERY_2S, input: say('kept'), metadata: { kept }, onRunCompleted: 'keep' });
    const drop = await user1().crons.create('agent', { schedule: EVERY_2S, input: say('dropped'), metadata: { dropped } });
    const threads = await waitFor(
      async () => {
        const found = await user1().threads.search({ metadata: { kept }, limit: 100 });
        return found.filter((t) => t.status === 'idle' && t.values).length >= 2 ? found : null;
      },
      { timeoutMs: 12_000, intervalMs: 200, what: 'two threads of the stateless cron' },
    );
    // The "delete" cron fired too (its next run moved on), but left no thread behind.
    const [dropNow] = await user1().crons.search({ metadata: { dropped } });
    assert.ok(dropNow.next_run_date > drop.next_run_date, 'the stateless "delete" cron did not fire');
    await user1().crons.update(keep.cron_id, { enabled: false });
    await user1().crons.update(drop.cron_id, { enabled: false });
    await sleep(1000);
    assert.deepEqual(await user1().threads.search({ metadata: { dropped } }), []);
    const thread = threads.find((t) => t.values);
    assert.equal(thread.metadata.owner, 'user1');
    assert.equal(thread.metadata.assistant_id, AGENT_ASSISTANT_ID);
    assert.equal(new Set(threads.map((t) => t.thread_id)).size, threads.length);
    assert.match(thread.values.messages.at(-1).content, /^Hello user1! You said: kept$/);
    assert.deepEqual(await user2().threads.search({ metadata: { kept } }), []);
  });

  test('disabled crons and crons past their end_time do not fire; enabling one again does', T, async () => {
    const thread = await user1().threads.create();
    const off = await user1().crons.createForThread(thread.thread_id, 'agent', { schedule: EVERY_2S, input: say('off'), enabled: false });
    const ended = await user1().crons.createForThread(thread.thread_id, 'agent', {
      schedule: EVERY_2S,
      input: say('ended'),
      endTime: new Date(Date.now() - 60_000).toISOString(),
    });
    await sleep(4500);
    assert.deepEqual(await runsOf(user1(), thread.thread_id), []);
    const [offNow] = await user1().crons.search({ threadId: thread.thread_id, enabled: false });
    assert.equal(offNow.next_run_date, off.next_run_date);
    await user1().crons.delete(ended.cron_id);
    await user1().crons.update(off.cron_id, { enabled: true });
    await waitFor(async () => (await runsOf(user1(), thread.thread_id)).length >= 1, {
      timeoutMs: 8_000,
      intervalMs: 200,
      what: 'a run of the re-enabled cron',
    });
    await user1().crons.delete(off.cron_id);
  });

  test('a real "* * * * *" cron fires within its minute', { timeout: 90_000 }, async () => {
    const left = Math.max(0, minuteCreatedAt + 65_000 - Date.now());
    const runs = await waitFor(
      async () => {
        const list = await runsOf(user1(), minuteThread.thread_id);
        return list.some((r) => r.status === 'success') ? list : null;
      },
      { timeoutMs: left + 5_000, intervalMs: 500, what: 'the every-minute cron to fire' },
    );
    assert.equal(runs[0].kwargs.config.configurable.cron_id, minuteCron.cron_id);
    assert.equal(runs[0].kwargs.config.configurable.langgraph_auth_user_id, 'user1');
    // It fired on a minute boundary.
    assert.ok(new Date(runs[0].created_at).getUTCSeconds() < 5, runs[0].created_at);
    const [now] = await user1().crons.search({ threadId: minuteThread.thread_id });
    assert.ok(now.next_run_date > minuteCron.next_run_date);
    await user1().crons.delete(minuteCron.cron_id);
  });
});

describe('a team filter: crons several users may change (the auth_team fixture)', () => {
  let team;
  const as = (identity) => client(team, identity);

  before(async () => {
    const { config } = await tempConfig({
      graphs: { agent: `${path.join(BUILD_DIR, 'plugins', 'agent.so')}:graph` },
      auth: { path: `${fixture('auth_team')}:auth` },
    });
    team = await startServer({ config });
  });

  after(async () => {
    await team?.stop();
  });

  test("crons:create's filter applies to the cron itself: one its creator could not see is 404 and not stored", T, async () => {
    const tag = randomUUID();
    // The filter applies to a thread cron's thread too: a blue one.
    const thread = await as('alice').threads.create({ metadata: { team: 'blue' } });
    await expectStatus(as('alice').crons.create('agent', { schedule: '@daily', metadata: { team: 'red', tag } }), 404, 'a red stateless cron');
    await expectStatus(
      as('alice').crons.createForThread(thread.thread_id, 'agent', { schedule: '@daily', metadata: { team: 'red', tag } }),
      404,
      'a red thread cron',
    );
    await expectStatus(as('alice').crons.create('agent', { schedule: '@daily', metadata: { tag } }), 404, 'a cron of no team');
    // crons:search has no handler here: it sees every cron.
    assert.deepEqual(await as('alice').crons.search({ metadata: { tag } }), []);
    const blue = await as('alice').crons.createForThread(thread.thread_id, 'agent', { schedule: '@daily', metadata: { team: 'blue', tag } });
    assert.deepEqual((await as('bob').crons.search({ metadata: { tag } })).map((c) => c.cron_id), [blue.cron_id]);
    await as('bob').crons.delete(blue.cron_id);
  });

  test('a cron runs as whoever last changed what it runs; other changes keep its user', { timeout: 30_000 }, async () => {
    const thread = await as('alice').threads.create({ metadata: { team: 'blue' } });
    const cron = await as('alice').crons.createForThread(thread.thread_id, 'agent', {
      schedule: EVERY_2S,
      input: say('from alice'),
      metadata: { team: 'blue' },
      enabled: false,
    });
    assert.equal(cron.user_id, 'alice');
    // Metadata or schedule: still alice's cron.
    const noted = await as('bob').crons.update(cron.cron_id, { metadata: { note: 'seen by bob' }, schedule: EVERY_2S });
    assert.equal(noted.user_id, 'alice');
    // The input: from now on bob's, checked and run as bob.
    const taken = await as('bob').crons.update(cron.cron_id, { input: say('from bob'), enabled: true });
    assert.equal(taken.user_id, 'bob');
    assert.deepEqual(taken.payload.input, say('from bob'));
    const runs = await waitFor(
      async () => {
        const list = await runsOf(as('alice'), thread.thread_id);
        return list.some((r) => r.status === 'success') ? list : null;
      },
      { timeoutMs: 10_000, intervalMs: 200, what: "a run of the cron bob changed" },
    );
    await as('alice').crons.delete(cron.cron_id);
    const configurable = runs[0].kwargs.config.configurable;
    assert.equal(configurable.langgraph_auth_user_id, 'bob');
    assert.equal(configurable.langgraph_auth_user.identity, 'bob');
    assert.match((await as('alice').threads.get(thread.thread_id)).values.messages.at(-1).content, /^Hello bob! You said: from bob$/);
  });
});

describe('crons survive a restart', () => {
  test('stored with SQLite: the cron, its owner, and its creator identity on runs fired after the restart', { timeout: 40_000 }, async () => {
    const dir = await makeTempDir('langgraph-crons-');
    const env = { DATABASE_URI: `sqlite:${path.join(dir, 'langgraph.sqlite')}` };
    const config = await ownerConfig();
    const first = await startServer({ config, env });
    const thread = await user1(first).threads.create();
    const cron = await user1(first).crons.createForThread(thread.thread_id, 'agent', {
      schedule: '0 12 * * *',
      input: say('after restart'),
      metadata: { restart: true },
    });
    const fast = await user1(first).crons.createForThread(thread.thread_id, 'agent', {
      schedule: EVERY_2S,
      input: say('after restart'),
      enabled: false,
    });
    await first.stop();

    const second = await startServer({ config, env });
    try {
      const [found] = await user1(second).crons.search({ metadata: { restart: true } });
      assert.deepEqual(found, cron);
      assert.equal(await user2(second).crons.count({ threadId: thread.thread_id }), 0);
      // Enabled after the restart, it fires as the user who created it before.
      await user1(second).crons.update(fast.cron_id, { enabled: true });
      const runs = await waitFor(
        async () => {
          const list = await runsOf(user1(second), thread.thread_id);
          return list.some((r) => r.status === 'success') ? list : null;
        },
        { timeoutMs: 10_000, intervalMs: 200, what: 'a run after the restart' },
      );
      assert.equal(runs[0].kwargs.config.configurable.langgraph_auth_user.identity, 'user1');
      await user1(second).crons.delete(fast.cron_id);
    } finally {
      await second.stop();
    }
  });
});

describe('two replicas on one PostgreSQL database', NEEDS_POSTGRES, () => {
  let database;
  let a;
  let b;

  before(async () => {
    const { name, env } = await createDatabase('lg_crons');
    database = name;
    const config = await ownerConfig();
    a = await startServer({ config, env });
    b = await startServer({ config, env });
  });

  after(async () => {
    await stopAndDropDatabase([a, b], database);
  });

  test('each tick fires once, whichever replica claims it', { timeout: 40_000 }, async () => {
    const thread = await user1(a).threads.create();
    // "enqueue": a tick fired twice would show as two runs instead of a refused second one.
    const cron = await user1(a).crons.createForThread(thread.thread_id, 'agent', {
      schedule: EVERY_2S,
      input: say('replicated'),
      multitaskStrategy: 'enqueue',
    });
    assert.equal((await user1(b).crons.search({ threadId: thread.thread_id }))[0].cron_id, cron.cron_id);
    await waitFor(async () => (await runsOf(user1(b), thread.thread_id)).length >= 5, {
      timeoutMs: 20_000,
      intervalMs: 250,
      what: 'five ticks',
    });
    await user1(b).crons.delete(cron.cron_id);
    await sleep(500);
    const runs = await runsOf(user1(a), thread.thread_id);
    const times = runs.map((r) => Date.parse(r.created_at));
    for (let i = 1; i < times.length; i++)
      // A tick fired twice would make two runs milliseconds apart.
      assert.ok(times[i] - times[i - 1] >= 1000, `two runs ${times[i] - times[i - 1]} ms apart: ${JSON.stringify(runs.map((r) => r.created_at))}`);
    for (const r of runs) assert.equal(r.kwargs.config.configurable.langgraph_auth_user_id, 'user1');
  });
});
