// Runs with the official JS SDK against the real server running the root langgraph.json:
// wait, create + join, cancel (interrupt and rollback), the multitask strategies on a busy
// thread, delayed runs, a failing run, stateless batches, and the fields `select` keeps in lists
// and searches.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@langchain/langgraph-sdk';
import {
  cleanupTempDirs,
  request,
  rootConfig,
  startServer,
  TOKENS,
  UUID_RE,
  waitFor,
} from './harness.mjs';

const T = { timeout: 20_000 };
const AUTH = `Bearer ${TOKENS.user1}`;

let server;
let client;

before(async () => {
  server = await startServer({ config: await rootConfig() });
  client = new Client({
    apiUrl: server.url,
    apiKey: null,
    defaultHeaders: { Authorization: AUTH },
    timeoutMs: 15_000,
    callerOptions: { maxRetries: 0 },
  });
});

after(async () => {
  await server?.stop();
  await cleanupTempDirs();
});

/** A sleeper run on `threadId` that appends `label` to naps, then sleeps `seconds`. */
function sleeperRun(threadId, label, seconds, extra = {}) {
  return client.runs.create(threadId, 'sleeper', {
    input: { naps: [label] },
    config: { configurable: { sleep_seconds: seconds } },
    ...extra,
  });
}

async function waitForStatus(threadId, runId, status, timeoutMs = 5_000) {
  return waitFor(
    async () => {
      const run = await client.runs.get(threadId, runId);
      return run.status === status ? run : null;
    },
    { timeoutMs, intervalMs: 20, what: `run ${runId} to be ${status}` },
  );
}

/** Awaits `promise`, which must reject with an SDK HTTPError of `status`. */
async function rejectsWithStatus(promise, status, what) {
  try {
    const value = await promise;
    assert.fail(`${what} should fail with HTTP ${status} but returned ${JSON.stringify(value)}`);
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    assert.equal(e.status, status, `${what}: ${e.message}`);
    return e;
  }
}

const naps = async (threadId) => (await client.threads.getState(threadId)).values.naps;

describe('runs.wait, runs.create and runs.join', () => {
  test('runs.wait on tool_loop returns the final state after the tool loop', T, async () => {
    const thread = await client.threads.create();
    const state = await client.runs.wait(thread.thread_id, 'tool_loop', {
      input: { messages: [{ role: 'user', content: 'what is 2+3?' }] },
    });
    assert.deepEqual(Object.keys(state), ['messages']);
    const [human, call, tool, answer] = state.messages;
    assert.equal(state.messages.length, 4, JSON.stringify(state.messages));
    assert.deepEqual([human.type, human.content], ['human', 'what is 2+3?']);
    assert.equal(call.type, 'ai');
    assert.deepEqual(
      call.tool_calls.map(({ name, args, type }) => ({ name, args, type })),
      [{ name: 'add', args: { a: 2, b: 3 }, type: 'tool_call' }],
    );
    assert.deepEqual([tool.type, tool.tool_call_id, tool.content], ['tool', call.tool_calls[0].id, '5']);
    assert.deepEqual([answer.type, answer.content, answer.tool_calls], ['ai', '2 + 3 = 5', []]);

    // A question without arithmetic ends after one agent step.
    const plain = await client.runs.wait(null, 'tool_loop', { input: { messages: [{ role: 'user', content: 'hello' }] } });
    assert.deepEqual(plain.messages.map((m) => [m.type, m.tool_calls ?? null]), [
      ['human', null],
      ['ai', []],
    ]);
  });

  test('runs.create then runs.join returns the final values; joining again gives the same', T, async () => {
    const thread = await client.threads.create();
    const run = await client.runs.create(thread.thread_id, 'agent', {
      input: { messages: [{ role: 'user', content: 'join me' }] },
    });
    assert.match(run.run_id, UUID_RE);
    assert.ok(['pending', 'running'].includes(run.status), run.status);
    const joined = await client.runs.join(thread.thread_id, run.run_id);
    assert.deepEqual(joined.messages.map((m) => [m.type, m.content]), [
      ['human', 'join me'],
      ['ai', 'Hello user1! You said: join me'],
    ]);
    assert.equal((await client.runs.get(thread.thread_id, run.run_id)).status, 'success');
    assert.deepEqual(await client.runs.join(thread.thread_id, run.run_id), joined);
    assert.deepEqual((await client.threads.get(thread.thread_id)).values, joined);
  });

  test('after_seconds delays the start of a run', T, async () => {
    const thread = await client.threads.create();
    const started = Date.now();
    const run = await client.runs.create(thread.thread_id, 'agent', {
      input: { messages: [{ role: 'user', content: 'later' }] },
      afterSeconds: 1,
    });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await client.runs.get(thread.thread_id, run.run_id)).status, 'pending', 'the run must still wait');
    const joined = await client.runs.join(thread.thread_id, run.run_id);
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 950, `the run finished after ${elapsed} ms, before its 1 s delay`);
    assert.equal(joined.messages.at(-1).content, 'Hello user1! You said: later');
  });
});

describe('cancel', () => {
  test('cancel with wait on a running sleeper: status interrupted, the state without its write', T, async () => {
    const thread = await client.threads.create();
    const run = await sleeperRun(thread.thread_id, 'awake', 1);
    await waitForStatus(thread.thread_id, run.run_id, 'running');
    await client.runs.cancel(thread.thread_id, run.run_id, true);
    assert.equal((await client.runs.get(thread.thread_id, run.run_id)).status, 'interrupted');
    assert.notEqual((await client.threads.get(thread.thread_id)).status, 'busy');
    // The cancelled node never wrote: the state is the run's input.
    assert.deepEqual(await naps(thread.thread_id), ['awake']);
    // A join answers the values the run reached (the last its stream carried), as LangGraph's does.
    assert.deepEqual(await client.runs.join(thread.thread_id, run.run_id), { naps: ['awake'] });
  });

  test('a run from a command, cancelled in its first step: its join answers the thread\'s values', T, async () => {
    const thread = await client.threads.create();
    await client.runs.join(thread.thread_id, (await sleeperRun(thread.thread_id, 'first', 0)).run_id);
    // A command's run streams no values before its first step ends: the thread's are its last.
    const run = await client.runs.create(thread.thread_id, 'sleeper', {
      command: { goto: 'sleep' },
      config: { configurable: { sleep_seconds: 1 } },
    });
    await waitForStatus(thread.thread_id, run.run_id, 'running');
    await client.runs.cancel(thread.thread_id, run.run_id, true);
    assert.deepEqual(await client.runs.join(thread.thread_id, run.run_id), { naps: ['first', 'slept 0s'] });
  });

  test('cancel with action rollback: the run is gone and the thread is as before it', T, async () => {
    const thread = await client.threads.create();
    const first = await sleeperRun(thread.thread_id, 'first', 0.01);
    await client.runs.join(thread.thread_id, first.run_id);
    const before = await client.threads.getState(thread.thread_id);
    const historyBefore = await client.threads.getHistory(thread.thread_id, { limit: 50 });
    assert.equal(historyBefore.length, 3);

    const run = await sleeperRun(thread.thread_id, 'second', 1);
    await waitForStatus(thread.thread_id, run.run_id, 'running');
    await client.runs.cancel(thread.thread_id, run.run_id, true, 'rollback');
    await rejectsWithStatus(client.runs.get(thread.thread_id, run.run_id), 404, 'runs.get of a rolled back run');
    assert.deepEqual((await client.runs.list(thread.thread_id)).map((r) => r.run_id), [first.run_id]);
    const afterState = await client.threads.getState(thread.thread_id);
    assert.deepEqual(afterState.values, before.values);
    assert.equal(afterState.checkpoint.checkpoint_id, before.checkpoint.checkpoint_id);
    const historyAfter = await client.threads.getHistory(thread.thread_id, { limit: 50 });
    assert.deepEqual(
      historyAfter.map((s) => s.checkpoint.checkpoint_id),
      historyBefore.map((s) => s.checkpoint.checkpoint_id),
    );
    assert.equal((await client.threads.get(thread.thread_id)).status, 'idle');
  });
});

describe('multitask_strategy on a busy thread', () => {
  test('reject: the second run is refused with 409', T, async () => {
    const thread = await client.threads.create();
    const first = await sleeperRun(thread.thread_id, 'first', 0.5);
    await rejectsWithStatus(
      sleeperRun(thread.thread_id, 'second', 0.01, { multitaskStrategy: 'reject' }),
      409,
      'a second run with multitask_strategy reject',
    );
    await client.runs.join(thread.thread_id, first.run_id);
    assert.deepEqual((await client.runs.list(thread.thread_id)).map((r) => [r.run_id, r.status]), [
      [first.run_id, 'success'],
    ]);
    assert.deepEqual(await naps(thread.thread_id), ['first', 'slept 0.5s']);
  });

  test('enqueue: the second run waits, then runs after the first', T, async () => {
    const thread = await client.threads.create();
    const first = await sleeperRun(thread.thread_id, 'first', 0.5);
    const second = await sleeperRun(thread.thread_id, 'second', 0.01, { multitaskStrategy: 'enqueue' });
    assert.equal((await client.runs.get(thread.thread_id, second.run_id)).status, 'pending');
    await client.runs.join(thread.thread_id, second.run_id);
    assert.equal((await client.runs.get(thread.thread_id, first.run_id)).status, 'success');
    assert.equal((await client.runs.get(thread.thread_id, second.run_id)).status, 'success');
    assert.deepEqual(await naps(thread.thread_id), ['first', 'slept 0.5s', 'second', 'slept 0.01s']);
  });

  test('interrupt: the first run is interrupted, the second runs on what it left', T, async () => {
    const thread = await client.threads.create();
    const first = await sleeperRun(thread.thread_id, 'first', 1);
    await waitForStatus(thread.thread_id, first.run_id, 'running');
    const second = await sleeperRun(thread.thread_id, 'second', 0.01, { multitaskStrategy: 'interrupt' });
    await client.runs.join(thread.thread_id, second.run_id);
    assert.equal((await client.runs.get(thread.thread_id, first.run_id)).status, 'interrupted');
    assert.equal((await client.runs.get(thread.thread_id, second.run_id)).status, 'success');
    // The first run's input stays; its node was stopped before it wrote.
    assert.deepEqual(await naps(thread.thread_id), ['first', 'second', 'slept 0.01s']);
  });

  test('rollback: the first run is deleted with its checkpoints, the second runs alone', T, async () => {
    const thread = await client.threads.create();
    const first = await sleeperRun(thread.thread_id, 'first', 1);
    await waitForStatus(thread.thread_id, first.run_id, 'running');
    const second = await sleeperRun(thread.thread_id, 'second', 0.01, { multitaskStrategy: 'rollback' });
    await client.runs.join(thread.thread_id, second.run_id);
    await waitFor(
      async () => {
        try {
          await client.runs.get(thread.thread_id, first.run_id);
          return false;
        } catch (e) {
          if (e.status === 404) return true;
          throw e;
        }
      },
      { timeoutMs: 5_000, what: 'the rolled back run to be deleted' },
    );
    assert.deepEqual((await client.runs.list(thread.thread_id)).map((r) => r.run_id), [second.run_id]);
    assert.deepEqual(await naps(thread.thread_id), ['second', 'slept 0.01s']);
    const history = await client.threads.getHistory(thread.thread_id, { limit: 50 });
    assert.deepEqual(
      history.map((s) => s.metadata.run_id),
      [second.run_id, second.run_id, second.run_id],
      'only the second run has checkpoints',
    );
  });
});

describe('failing runs', () => {
  test('runs.wait throws the error; the thread is in error; the state stops before the failing node', T, async () => {
    const thread = await client.threads.create();
    const input = { steps: ['start'] };
    let thrown;
    await assert.rejects(client.runs.wait(thread.thread_id, 'fails', { input }), (e) => {
      thrown = e;
      return true;
    });
    // The error names the exception's C++ type, as LangGraph names the Python class.
    assert.equal(thrown.message, 'std::runtime_error: explode failed on purpose');

    // Without raising, /wait answers {"__error__": {error, message}}.
    const other = await client.threads.create();
    const raw = await client.runs.wait(other.thread_id, 'fails', { input, raiseError: false });
    assert.deepEqual(Object.keys(raw), ['__error__']);
    assert.equal(raw.__error__.message, 'explode failed on purpose');
    assert.equal(thrown.message, `${raw.__error__.error}: explode failed on purpose`);

    assert.equal((await client.threads.get(thread.thread_id)).status, 'error');
    assert.deepEqual((await client.runs.list(thread.thread_id)).map((r) => r.status), ['error']);

    const state = await client.threads.getState(thread.thread_id);
    assert.deepEqual(state.values, { steps: ['start', 'prepared'] });
    assert.deepEqual(state.next, ['explode']);
    assert.equal(state.tasks.length, 1);
    assert.equal(state.tasks[0].name, 'explode');
    assert.equal(typeof state.tasks[0].error, 'string', `the failed task should carry its error: ${JSON.stringify(state.tasks[0])}`);
    assert.ok(state.tasks[0].error.includes('explode failed on purpose'), state.tasks[0].error);
  });
});

describe('stateless batches', () => {
  test('POST /runs/batch creates one run per payload', T, async () => {
    const res = await request(`${server.url}/runs/batch`, {
      method: 'POST',
      headers: { authorization: AUTH },
      body: [
        { assistant_id: 'agent', input: { messages: [{ role: 'user', content: 'one' }] }, on_completion: 'keep' },
        { assistant_id: 'fanout', input: { query: 'two' }, on_completion: 'keep' },
      ],
    });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.length, 2, res.text);
    const [a, b] = res.json;
    for (const run of res.json) {
      assert.match(run.run_id, UUID_RE);
      assert.match(run.thread_id, UUID_RE);
      assert.ok(['pending', 'running', 'success'].includes(run.status), run.status);
    }
    assert.notEqual(a.run_id, b.run_id);
    assert.notEqual(a.thread_id, b.thread_id);
    assert.equal(a.assistant_id, (await client.assistants.get('agent')).assistant_id);
    assert.equal(b.assistant_id, (await client.assistants.get('fanout')).assistant_id);

    for (const run of res.json) await waitForStatus(run.thread_id, run.run_id, 'success');
    assert.equal((await client.threads.get(a.thread_id)).values.messages.at(-1).content, 'Hello user1! You said: one');
    assert.equal((await client.threads.get(b.thread_id)).values.summary, '3 results for two');
  });
});

describe('durability', () => {
  test('"sync", "async" (the default) and "exit" each store every checkpoint of the run', T, async () => {
    const histories = {};
    for (const durability of ['sync', 'async', 'exit', undefined]) {
      const thread = await client.threads.create();
      const output = await client.runs.wait(thread.thread_id, 'agent', {
        input: { messages: [{ role: 'user', content: 'Hello!' }] },
        ...(durability ? { durability } : {}),
      });
      assert.match(JSON.stringify(output), /Hello user1/);
      const [run] = await client.runs.list(thread.thread_id);
      assert.equal(run.kwargs.durability, durability ?? 'async');
      const history = await client.threads.getHistory(thread.thread_id);
      histories[durability ?? 'default'] = history.map((state) => state.metadata.step);
      assert.deepEqual((await client.threads.getState(thread.thread_id)).values, history[0].values);
    }
    assert.ok(histories.sync.length >= 2, JSON.stringify(histories));
    for (const steps of Object.values(histories)) assert.deepEqual(steps, histories.sync);
  });
});

describe('select', () => {
  test('runs.list, threads.search, assistants.search and crons.search return only the fields selected', T, async () => {
    const tag = `select-${Date.now()}`;
    const thread = await client.threads.create({ metadata: { tag } });
    await client.runs.wait(thread.thread_id, 'sleeper', {
      input: { naps: ['a'] },
      config: { configurable: { sleep_seconds: 0 } },
    });
    const runs = await client.runs.list(thread.thread_id, { select: ['run_id', 'status'] });
    assert.equal(runs.length, 1);
    assert.deepEqual(Object.keys(runs[0]).sort(), ['run_id', 'status']);
    assert.equal(runs[0].status, 'success');
    const [full] = await client.runs.list(thread.thread_id);
    assert.equal(full.run_id, runs[0].run_id);
    assert.ok('kwargs' in full && 'created_at' in full, 'without select every field is there');

    const threads = await client.threads.search({ metadata: { tag }, select: ['thread_id', 'values'] });
    assert.deepEqual(threads, [{ thread_id: thread.thread_id, values: { naps: ['a', 'slept 0s'] } }]);

    const assistant = await client.assistants.create({ graphId: 'sleeper', name: tag });
    const assistants = await client.assistants.search({ graphId: 'sleeper', select: ['assistant_id', 'name'] });
    assert.ok(assistants.some((a) => a.assistant_id === assistant.assistant_id && a.name === tag));
    for (const a of assistants) assert.deepEqual(Object.keys(a).sort(), ['assistant_id', 'name']);

    const cron = await client.crons.createForThread(thread.thread_id, 'sleeper', { schedule: '0 0 1 1 *' });
    const crons = await client.crons.search({ threadId: thread.thread_id, select: ['cron_id', 'now'] });
    assert.equal(crons.length, 1);
    assert.deepEqual(Object.keys(crons[0]).sort(), ['cron_id', 'now']);
    assert.equal(crons[0].cron_id, cron.cron_id);
    await client.crons.delete(cron.cron_id);

    await rejectsWithStatus(client.runs.list(thread.thread_id, { select: ['bogus'] }), 422, 'runs.list select bogus');
    await rejectsWithStatus(client.threads.search({ select: ['run_id'] }), 422, 'threads.search select run_id');
  });
});
