// Two server replicas on one PostgreSQL database, driven by the official JS SDK: what one
// creates the other reads, runs queued through both execute exactly once each, and a client of
// replica B follows (joinStream) a run that replica A started.
//
// Needs LANGGRAPH_TEST_POSTGRES_URI (an admin URI; tools/test.sh starts a server and sets it):
// each test run creates its own database there and drops it afterwards.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@langchain/langgraph-sdk';
import {
  cleanupTempDirs,
  createDatabase,
  NEEDS_POSTGRES,
  psql,
  rootConfig,
  startServer,
  stopAndDropDatabase,
  TOKENS,
  waitFor,
} from './harness.mjs';

const T = { timeout: 60_000 };
const say = (content) => ({ messages: [{ role: 'user', content }] });

after(cleanupTempDirs);

/** A client of `server`, as user1. */
const client = (server) =>
  new Client({
    apiUrl: server.url,
    apiKey: null,
    defaultHeaders: { Authorization: `Bearer ${TOKENS.user1}` },
    timeoutMs: 20_000,
    callerOptions: { maxRetries: 0 },
  });

describe('two replicas on one PostgreSQL database', NEEDS_POSTGRES, () => {
  let database;
  let a;
  let b;

  before(async () => {
    const { name, env } = await createDatabase('lg_replicas');
    database = name;
    const config = await rootConfig();
    // One after the other: the second also finds the schema the first created.
    a = await startServer({ config, env });
    b = await startServer({ config, env });
  });

  after(() => stopAndDropDatabase([a, b], database));

  test('both replicas report PostgreSQL', () => {
    for (const server of [a, b]) assert.match(server.stderr(), /Database: PostgreSQL postgres:\/\//);
  });

  test('a thread created on one replica is read, updated and searched on the other', T, async () => {
    const thread = await client(a).threads.create({ metadata: { made_on: 'a' } });
    const seen = await client(b).threads.get(thread.thread_id);
    assert.deepEqual(seen, thread);
    await client(b).threads.update(thread.thread_id, { metadata: { seen_on: 'b' } });
    const again = await client(a).threads.get(thread.thread_id);
    assert.equal(again.metadata.made_on, 'a');
    assert.equal(again.metadata.seen_on, 'b');
    const found = await client(b).threads.search({ metadata: { made_on: 'a' } });
    assert.ok(found.some((t) => t.thread_id === thread.thread_id));
  });

  test('a NUL character, which PostgreSQL cannot store, is a 422 as on SQLite, and bytes that are not UTF-8 are read as U+FFFD', T, async () => {
    await assert.rejects(client(a).threads.create({ metadata: { a: 'x\u0000y' } }), /422/);
    await assert.rejects(client(a).assistants.create({ graphId: 'agent', name: 'a\u0000b' }), /422/);
    await assert.rejects(client(a).store.putItem(['nul'], 'k\u0000', { v: 1 }), /422/);
    await client(a).store.putItem(['nul'], 'k', { v: 1 });
    // Cut short at the NUL, this key would have read the item under "k".
    await assert.rejects(client(b).store.getItem(['nul'], 'k\u0000'), /422/);
    // Bytes that are not UTF-8 (which PostgreSQL refuses) are read as U+FFFD.
    await client(a).store.putItem(['bytes'], 'k\ufffd', { v: 2 });
    const res = await fetch(`${b.url}/store/items?namespace=bytes&key=k%ff`, { headers: { Authorization: `Bearer ${TOKENS.user1}` } });
    assert.equal(res.status, 200);
    assert.deepEqual((await res.json()).value, { v: 2 });
  });

  test('runs queued through both replicas execute exactly once each', T, async () => {
    const threads = await Promise.all(Array.from({ length: 12 }, () => client(a).threads.create()));
    // Background runs, half through each replica, all at once.
    const runs = await Promise.all(
      threads.map((t, i) => client(i % 2 ? b : a).runs.create(t.thread_id, 'agent', { input: say(`run ${i}`) })),
    );
    for (const [i, r] of runs.entries()) {
      const done = await waitFor(
        async () => {
          const got = await client(i % 2 ? a : b).runs.get(r.thread_id, r.run_id);
          return got.status === 'success' ? got : null;
        },
        { timeoutMs: 20_000, what: `run ${i} to succeed` },
      );
      assert.equal(done.status, 'success');
      // Executed twice, the agent would have answered twice.
      const state = await client(b).threads.getState(r.thread_id);
      assert.equal(state.values.messages.length, 2, `thread ${i}: one human and one AI message`);
      const history = await client(a).threads.getHistory(r.thread_id, { limit: 50 });
      assert.ok(history.every((c) => c.metadata.run_id === r.run_id));
    }
  });

  test('runs of one thread queued through both replicas run one at a time, in order', T, async () => {
    const thread = await client(a).threads.create();
    const created = [];
    for (let i = 0; i < 6; i++) {
      created.push(
        await client(i % 2 ? b : a).runs.create(thread.thread_id, 'sleeper', {
          input: { naps: [`run ${i}`] },
          config: { configurable: { sleep_seconds: 0.05 } },
          multitaskStrategy: 'enqueue',
        }),
      );
    }
    for (const r of created) {
      const done = await client(b).runs.join(thread.thread_id, r.run_id);
      assert.ok(!done.__error__, JSON.stringify(done));
    }
    const state = await client(a).threads.getState(thread.thread_id);
    assert.deepEqual(
      state.values.naps,
      created.flatMap((_, i) => [`run ${i}`, 'slept 0.05s']),
    );
  });

  test('runs asked at once through both replicas on one idle thread: "reject" lets exactly one in', T, async () => {
    for (let round = 0; round < 3; round++) {
      const thread = await client(a).threads.create();
      // A run of 2 s: the others arrive while it is in flight, whichever replica took it.
      const outcomes = await Promise.allSettled(
        Array.from({ length: 8 }, (_, i) =>
          client(i % 2 ? b : a).runs.create(thread.thread_id, 'sleeper', {
            input: { naps: [`try ${i}`] },
            config: { configurable: { sleep_seconds: 2 } },
            multitaskStrategy: 'reject',
          }),
        ),
      );
      const accepted = outcomes.filter((o) => o.status === 'fulfilled');
      const refused = outcomes.filter((o) => o.status === 'rejected');
      assert.equal(accepted.length, 1, `round ${round}: ${outcomes.map((o) => o.status).join(',')}`);
      for (const o of refused) assert.match(String(o.reason), /409/);
      await client(b).runs.cancel(thread.thread_id, accepted[0].value.run_id, true);
    }
  });

  test('joinStream on replica B follows a run started on replica A', T, async () => {
    const thread = await client(a).threads.create();
    const started = await client(a).runs.create(thread.thread_id, 'sleeper', {
      input: { naps: ['streamed'] },
      config: { configurable: { sleep_seconds: 1 } },
      streamMode: ['values', 'custom'],
    });
    const events = [];
    for await (const chunk of client(b).runs.joinStream(thread.thread_id, started.run_id, {
      streamMode: ['values', 'custom'],
    })) {
      events.push(chunk);
    }
    const custom = events.filter((e) => e.event === 'custom');
    assert.deepEqual(custom.map((e) => e.data), [{ status: 'sleeping', seconds: 1 }]);
    const values = events.filter((e) => e.event === 'values');
    assert.deepEqual(values.at(-1).data.naps, ['streamed', 'slept 1s']);
    assert.equal((await client(b).runs.get(thread.thread_id, started.run_id)).status, 'success');
  });

  test('a cancel sent to replica B stops a run executing on replica A', T, async () => {
    const thread = await client(a).threads.create();
    const started = await client(a).runs.create(thread.thread_id, 'sleeper', {
      input: { naps: ['cancelled'] },
      config: { configurable: { sleep_seconds: 1 } },
    });
    await waitFor(async () => (await client(b).runs.get(thread.thread_id, started.run_id)).status === 'running', {
      what: 'the run to start',
    });
    await client(b).runs.cancel(thread.thread_id, started.run_id, true);
    // Not cancelled, the single step would finish and the run succeed with its nap written.
    const run = await client(a).runs.get(thread.thread_id, started.run_id);
    assert.equal(run.status, 'interrupted');
    const state = await client(a).threads.getState(thread.thread_id);
    assert.deepEqual(state.values.naps, ['cancelled']);
    // Joined on either replica, the run answers the values it reached.
    for (const server of [a, b]) assert.deepEqual(await client(server).runs.join(thread.thread_id, started.run_id), { naps: ['cancelled'] });
  });
});

// Runs that another replica executes: a stateless run's wait (POST /runs/wait) answers with how
// the run ended there, although its run and thread are deleted when it ends, and a killed
// replica's runs end with ServerStopped for whoever waits or streams elsewhere. The replica the
// client talks to has a single worker, kept busy, so that the runs are the other replica's.
describe('runs that another replica executes', NEEDS_POSTGRES, () => {
  let database;
  const sql = (query) => psql(query, database);
  let waiter;
  let executor;
  let busy;

  before(async () => {
    const { name, env } = await createDatabase('lg_elsewhere');
    database = name;
    const config = await rootConfig();
    waiter = await startServer({ config, env, args: ['--workers', '1'] });
    const thread = await client(waiter).threads.create();
    busy = await client(waiter).runs.create(thread.thread_id, 'sleeper', {
      input: { naps: ['busy'] },
      config: { configurable: { sleep_seconds: 600 } },
    });
    await waitFor(async () => (await client(waiter).runs.get(thread.thread_id, busy.run_id)).status === 'running', {
      what: 'the waiting replica\'s only worker to be busy',
    });
    executor = await startServer({ config, env, args: ['--workers', '4'] });
  });

  after(async () => {
    await waiter?.kill();  // its busy run would keep a stop waiting
    await stopAndDropDatabase([waiter, executor], database);
  });

  test('a stateless run that paused at interrupt(): its wait gets its values with __interrupt__', T, async () => {
    const out = await client(waiter).runs.wait(null, 'approval', { input: { action: 'deploy' } });
    assert.equal(out.action, 'deploy');
    assert.equal(out.__interrupt__?.length, 1, JSON.stringify(out));
    assert.deepEqual(out.__interrupt__[0].value, { question: 'Approve deploy?', action: 'deploy' });
    assert.equal((await client(waiter).runs.get(busy.thread_id, busy.run_id)).status, 'running');
  });

  test('runs whose replica was killed: the ServerStopped error for a wait and a joinStream elsewhere', T, async () => {
    assert.equal((await client(waiter).runs.get(busy.thread_id, busy.run_id)).status, 'running');
    const thread = await client(waiter).threads.create();
    const background = await client(waiter).runs.create(thread.thread_id, 'sleeper', {
      input: { naps: ['joined'] },
      config: { configurable: { sleep_seconds: 60 } },
    });
    const waited = client(waiter).runs.wait(null, 'sleeper', {
      input: { naps: ['orphaned'] },
      config: { configurable: { sleep_seconds: 60 } },
      raiseError: false,
    });
    const others = `SELECT run_id FROM runs WHERE status = 'running' AND run_id <> '${busy.run_id}'`;
    await waitFor(async () => (await sql(others)).split('\n').filter(Boolean).length === 2, {
      what: 'the other replica to run both',
    });
    const joined = (async () => {
      const events = [];
      for await (const chunk of client(waiter).runs.joinStream(thread.thread_id, background.run_id)) events.push(chunk);
      return events;
    })();
    await executor.kill();
    // As if their leases had run out (30 s after the last renewal): the next sweep fails them.
    await sql(`UPDATE runs SET lease_until = '2000-01-01T00:00:00.000000+00:00' WHERE run_id IN (${others})`);
    const out = await waited;
    assert.equal(out.__error__?.error, 'ServerStopped', JSON.stringify(out));
    const events = await joined;
    assert.equal(events.at(-1)?.event, 'error', JSON.stringify(events));
    assert.equal(events.at(-1).data.error, 'ServerStopped');
    const ended = await client(waiter).runs.get(thread.thread_id, background.run_id);
    assert.equal(ended.status, 'error');
    assert.equal(await sql(others), '');
  });
});
