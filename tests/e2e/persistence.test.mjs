// Persistence with the official JS SDK: what two users create survives a clean stop and a
// `kill -9` of the server, on the default SQLite database (a data folder beside langgraph.json);
// a run that was running when the server was killed ends as "error" after the restart, and a run
// that was still queued runs then. On SIGTERM the running run ends first and a queued one waits
// for the next start. A disk that fails to sync the log stops all writing until a
// restart, without losing what was acknowledged.

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Client } from '@langchain/langgraph-sdk';
import { BUILD_DIR, cleanupTempDirs, fixture, request, sleep, startServer, tempConfig, TOKENS, waitFor } from './harness.mjs';

const T = { timeout: 60_000 };
const say = (content) => ({ messages: [{ role: 'user', content }] });

after(cleanupTempDirs);

/** auth_owner (owners stamped, reads filtered) with the agent and sleeper graphs, in a temp folder. */
async function ownerConfig() {
  const plugin = (name) => path.join(BUILD_DIR, 'plugins', `${name}.so`);
  return tempConfig({
    graphs: { agent: `${plugin('agent')}:graph`, sleeper: `${plugin('sleeper')}:graph` },
    auth: { path: `${plugin('auth_owner')}:auth` },
  });
}

/** Starts the server on `config` with its default database (DATABASE_URI unset). */
function start(config) {
  return startServer({ config, env: { DATABASE_URI: '' } });
}

function client(server, token) {
  return new Client({
    apiUrl: server.url,
    apiKey: null,
    defaultHeaders: { Authorization: `Bearer ${token}` },
    timeoutMs: 15_000,
    callerOptions: { maxRetries: 0 },
  });
}

/**
 * A thread with a sleeper run that is running (`first` seconds) and one queued behind it
 * (`second` seconds, multitask strategy enqueue): {thread, running, queued}.
 */
async function busyThread(c, first, second) {
  const thread = await c.threads.create();
  const running = await c.runs.create(thread.thread_id, 'sleeper', {
    input: { naps: ['first'] },
    config: { configurable: { sleep_seconds: first } },
  });
  await waitFor(async () => (await c.runs.get(thread.thread_id, running.run_id)).status === 'running', {
    what: 'the first run to start',
  });
  const queued = await c.runs.create(thread.thread_id, 'sleeper', {
    input: { naps: ['second'] },
    config: { configurable: { sleep_seconds: second } },
    multitaskStrategy: 'enqueue',
  });
  assert.equal((await c.runs.get(thread.thread_id, queued.run_id)).status, 'pending');
  return { thread, running, queued };
}

/** Threads, runs and store items as `user` (user1 | user2) on `server`: what it created. */
async function createAs(server, user, label) {
  const c = client(server, TOKENS[user]);
  const thread = await c.threads.create({ metadata: { label } });
  await c.runs.wait(thread.thread_id, 'agent', { input: say(`hello from ${label}`) });
  await c.runs.wait(thread.thread_id, 'agent', { input: say(`again from ${label}`) });
  const namespace = [user, 'notes'];
  await c.store.putItem(namespace, label, { text: `note of ${label}` });
  return { user, threadId: thread.thread_id, namespace, key: label };
}

/** Everything the server holds about what createAs created, as `user` sees it. */
async function snapshot(server, created) {
  const c = client(server, TOKENS[created.user]);
  const [thread, state, history, runs, item, search] = await Promise.all([
    c.threads.get(created.threadId),
    c.threads.getState(created.threadId),
    c.threads.getHistory(created.threadId, { limit: 100 }),
    c.runs.list(created.threadId, { limit: 100 }),
    c.store.getItem(created.namespace, created.key),
    c.threads.search({ limit: 100 }),
  ]);
  return { thread, state, history, runs, item, searched: search.map((t) => t.thread_id).sort() };
}

async function snapshots(server, createdList) {
  return Promise.all(createdList.map((created) => snapshot(server, created)));
}

function assertOwnedAndComplete(snaps, createdList) {
  for (const [i, snap] of snaps.entries()) {
    const created = createdList[i];
    assert.equal(snap.thread.metadata.owner, created.user);
    assert.equal(snap.state.values.messages.length, 4, 'two runs, two messages each');
    assert.equal(snap.runs.length, 2);
    for (const run of snap.runs) assert.equal(run.status, 'success');
    assert.ok(snap.history.length >= 4, 'checkpoints of both runs');
    assert.deepEqual(snap.item.value, { text: `note of ${created.key}` });
    assert.ok(snap.searched.includes(created.threadId));
    // The other user's thread stays invisible after a restart too.
    for (const other of createdList) {
      if (other.user !== created.user) assert.ok(!snap.searched.includes(other.threadId));
    }
  }
}

describe('persistence on the default SQLite database', () => {
  test('a clean stop and a restart keep threads, runs, checkpoints and store items of both users', T, async () => {
    const { dir, config } = await ownerConfig();
    let server = await start(config);
    const createdList = [await createAs(server, 'user1', 'a'), await createAs(server, 'user2', 'b')];
    const before = await snapshots(server, createdList);
    assertOwnedAndComplete(before, createdList);
    assert.match(server.stderr(), /Database: SQLite .*\.langgraph_data\/langgraph\.sqlite/);
    await server.stop();
    assert.ok(existsSync(path.join(dir, '.langgraph_data', 'langgraph.sqlite')), 'the data folder beside langgraph.json');

    server = await start(config);
    try {
      assert.deepEqual(await snapshots(server, createdList), before);
    } finally {
      await server.stop();
    }
  });

  test('kill -9 loses no acknowledged write', T, async () => {
    const { config } = await ownerConfig();
    let server = await start(config);
    const createdList = [await createAs(server, 'user1', 'c'), await createAs(server, 'user2', 'd')];
    // Many small writes acknowledged just before the kill.
    const c1 = client(server, TOKENS.user1);
    const quick = await Promise.all(Array.from({ length: 50 }, (_, i) => c1.threads.create({ metadata: { n: i } })));
    const before = await snapshots(server, createdList);
    await server.kill();

    server = await start(config);
    try {
      assert.deepEqual(await snapshots(server, createdList), before);
      const c = client(server, TOKENS.user1);
      for (const t of quick) assert.equal((await c.threads.get(t.thread_id)).metadata.n, t.metadata.n);
    } finally {
      await server.stop();
    }
  });

  test('after kill -9 mid-run, the running run ends as error and the queued one runs', T, async () => {
    const { config } = await ownerConfig();
    let server = await start(config);
    let c = client(server, TOKENS.user1);
    const { thread, running: slow, queued } = await busyThread(c, 30, 0);
    await server.kill();

    server = await start(config);
    try {
      c = client(server, TOKENS.user1);
      const failed = await c.runs.get(thread.thread_id, slow.run_id);
      assert.equal(failed.status, 'error', 'never left "running" by a server that is gone');
      const done = await waitFor(
        async () => {
          const run = await c.runs.get(thread.thread_id, queued.run_id);
          return run.status === 'success' ? run : null;
        },
        { what: 'the queued run to run after the restart' },
      );
      assert.equal(done.status, 'success');
      const state = await c.threads.getState(thread.thread_id);
      // The failed run's input checkpoint stays; its unfinished step left nothing.
      assert.deepEqual(state.values.naps, ['first', 'second', 'slept 0s']);
      const joined = await c.runs.join(thread.thread_id, slow.run_id);
      assert.equal(joined.__error__?.error, 'ServerStopped');
    } finally {
      await server.stop();
    }
  });

  test('SIGTERM: the running run ends, a queued one stays queued (its stream ends) and runs after the restart', T, async () => {
    const { config } = await ownerConfig();
    let server = await start(config);
    let c = client(server, TOKENS.user1);
    // The queued run sleeps longer than the grace the harness gives a stopping server: executed
    // during the stop, it would keep the server past it.
    const { thread, running, queued } = await busyThread(c, 2, 6);
    const joined = (async () => {
      for await (const event of c.runs.joinStream(thread.thread_id, queued.run_id)) void event;
      return 'ended';
    })().catch((e) => `failed: ${e}`);
    await sleep(500);  // the join is in the server's hands

    const stopped = await server.stop();
    assert.ok(!stopped.killed, `the server waited for the queued run instead of leaving it queued\n${server.stderr()}`);
    assert.equal(stopped.code, 0);
    const ended = await Promise.race([joined, sleep(2000).then(() => 'still open')]);
    assert.equal(ended, 'ended', 'the stream of the queued run ends when the server stops');

    server = await start(config);
    try {
      c = client(server, TOKENS.user1);
      assert.equal((await c.runs.get(thread.thread_id, running.run_id)).status, 'success', 'the running run finished');
      const done = await waitFor(
        async () => {
          const run = await c.runs.get(thread.thread_id, queued.run_id);
          return run.status === 'success' ? run : null;
        },
        { what: 'the queued run to run after the restart', timeoutMs: 20_000 },
      );
      assert.equal(done.status, 'success');
      const state = await c.threads.getState(thread.thread_id);
      assert.deepEqual(state.values.naps, ['first', 'slept 2s', 'second', 'slept 6s']);
    } finally {
      await server.stop();
    }
  });

  test('after a failed sync of the log, writes are refused until a restart; acknowledged ones stay', T, async () => {
    const { dir, config } = await ownerConfig();
    const diskFails = path.join(dir, 'disk-fails');
    const env = {
      DATABASE_URI: '',
      LD_PRELOAD: fixture('failing_disk'),
      LANGGRAPH_TEST_FAILING_DISK: diskFails,
      ASAN_OPTIONS: `${process.env.ASAN_OPTIONS ?? ''}:verify_asan_link_order=0`,
    };
    let server = await startServer({ config, env, args: ['--workers', '1'] });
    let c = client(server, TOKENS.user1);
    const kept = await c.threads.create({ metadata: { n: 1 } });
    const ok = async (query = '') => (await request(`${server.url}/ok${query}`)).status;
    assert.equal(await ok('?check_db=1'), 200);
    assert.equal(await ok('?check_db=2'), 422);
    // The only run worker is busy for a moment, and a run waits in the queue meanwhile.
    const busy = await c.threads.create();
    const slow = await c.runs.create(busy.thread_id, 'sleeper', {
      input: { naps: [] },
      config: { configurable: { sleep_seconds: 1 } },
    });
    await waitFor(async () => (await c.runs.get(busy.thread_id, slow.run_id)).status === 'running', {
      what: 'the slow run to start',
    });
    const waiting = await c.threads.create();
    await c.runs.create(waiting.thread_id, 'sleeper', {
      input: { naps: [] },
      config: { configurable: { sleep_seconds: 0 } },
    });

    await writeFile(diskFails, '');
    await assert.rejects(c.threads.create({ metadata: { n: 2 } }), (e) => e.status === 503);
    await rm(diskFails);
    // The disk works again, but the log may have a hole where the failed write was: a write
    // acknowledged after it could be lost at the next start, so none is taken.
    await assert.rejects(c.threads.create({ metadata: { n: 3 } }), (e) => e.status === 503);
    await assert.rejects(c.store.putItem(['user1'], 'k', { v: 1 }), (e) => e.status === 503);
    assert.equal((await c.threads.get(kept.thread_id)).metadata.n, 1, 'reads go on');
    assert.equal(await ok(), 200, 'the server runs');
    assert.equal(await ok('?check_db=1'), 503, 'its database does not: for a health check to restart it');
    assert.match(server.stderr(), /could not be synced to disk: every write is refused from now on/);
    // The slow run ends and its end cannot be stored: the server goes on. Its worker cannot claim
    // the waiting run, polling every 250 ms, and says so once, not at every poll.
    await waitFor(() => /claiming a queued run failed/.test(server.stderr()), { what: 'a failed claim' });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const unstored = `run ${slow.run_id} on thread \\S+ ended \\(\\w+\\), but the database could not store it`;
    assert.match(server.stderr(), new RegExp(unstored));
    assert.equal(server.stderr().match(/claiming a queued run failed/g).length, 1, server.stderr());
    const stopped = await server.stop();
    assert.ok(!stopped.killed && stopped.code === 0, `${JSON.stringify(stopped)}\n${server.stderr()}`);
    // Not copied into the database file on the way out: the next start reads back what the disk holds.
    assert.ok(existsSync(path.join(dir, '.langgraph_data', 'langgraph.sqlite-wal')), 'the log is kept');

    server = await start(config);
    try {
      c = client(server, TOKENS.user1);
      assert.equal((await c.threads.get(kept.thread_id)).metadata.n, 1);
      const after = await c.threads.create({ metadata: { n: 4 } });
      assert.equal((await c.threads.get(after.thread_id)).metadata.n, 4);
    } finally {
      await server.stop();
    }
  });

  test('a second server on the same SQLite database is refused', T, async () => {
    const { config } = await ownerConfig();
    const server = await start(config);
    try {
      await assert.rejects(start(config), /in use/);
    } finally {
      await server.stop();
    }
  });
});
