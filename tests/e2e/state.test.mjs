// Thread state with the official JS SDK against the real server running the root
// langgraph.json: checkpoint counts and history as LangGraph records them, updateState, copy,
// interrupt and resume with a Command, the state of a fan-out, and the graphs' structure.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@langchain/langgraph-sdk';
import {
  cleanupTempDirs,
  rootConfig,
  startServer,
  TOKENS,
  UUID_RE,
} from './harness.mjs';

const T = { timeout: 20_000 };

let server;
let client;

before(async () => {
  server = await startServer({ config: await rootConfig() });
  client = new Client({
    apiUrl: server.url,
    apiKey: null,
    defaultHeaders: { Authorization: `Bearer ${TOKENS.user1}` },
    timeoutMs: 15_000,
    callerOptions: { maxRetries: 0 },
  });
});

after(async () => {
  await server?.stop();
  await cleanupTempDirs();
});

const say = (content) => ({ messages: [{ role: 'user', content }] });
const history = (threadId) => client.threads.getHistory(threadId, { limit: 100 });
const steps = (states) => states.map((s) => [s.metadata.step, s.metadata.source, s.next]);
const texts = (messages) => messages.map((m) => [m.type, m.content]);

/** Each state's parent is the next (older) one; the oldest has none. */
function assertChain(states) {
  for (let i = 0; i + 1 < states.length; i++)
    assert.equal(states[i].parent_checkpoint?.checkpoint_id, states[i + 1].checkpoint.checkpoint_id, `parent of #${i}`);
  assert.equal(states.at(-1).parent_checkpoint, null);
}

describe('checkpoints and history', () => {
  test('one agent run makes 3 checkpoints (-1 input, 0 loop, 1 loop); a second run makes 6 in all', T, async () => {
    const thread = await client.threads.create();
    const first = await client.runs.create(thread.thread_id, 'agent', { input: say('one') });
    await client.runs.join(thread.thread_id, first.run_id);

    const h1 = await history(thread.thread_id);
    assert.deepEqual(steps(h1), [
      [1, 'loop', []],
      [0, 'loop', ['call_model']],
      [-1, 'input', ['__start__']],
    ]);
    assertChain(h1);
    assert.deepEqual(texts(h1[0].values.messages), [
      ['human', 'one'],
      ['ai', 'Hello user1! You said: one'],
    ]);
    assert.deepEqual(texts(h1[1].values.messages), [['human', 'one']]);
    assert.deepEqual(h1[2].values.messages ?? [], []);
    for (const s of h1) {
      assert.equal(s.metadata.run_id, first.run_id);
      assert.equal(s.checkpoint.thread_id, thread.thread_id);
      assert.match(s.checkpoint.checkpoint_id, UUID_RE);
    }
    assert.deepEqual(h1[1].tasks.map((t) => t.name), ['call_model']);

    const state = await client.threads.getState(thread.thread_id);
    assert.deepEqual(state.values, h1[0].values);
    assert.equal(state.checkpoint.checkpoint_id, h1[0].checkpoint.checkpoint_id);
    assert.deepEqual(state.next, []);
    // A past checkpoint by id.
    const past = await client.threads.getState(thread.thread_id, h1[1].checkpoint.checkpoint_id);
    assert.deepEqual(past.values, h1[1].values);
    assert.deepEqual(past.next, ['call_model']);

    const second = await client.runs.create(thread.thread_id, 'agent', { input: say('two') });
    await client.runs.join(thread.thread_id, second.run_id);
    const h2 = await history(thread.thread_id);
    assert.deepEqual(steps(h2), [
      [4, 'loop', []],
      [3, 'loop', ['call_model']],
      [2, 'input', ['__start__']],
      [1, 'loop', []],
      [0, 'loop', ['call_model']],
      [-1, 'input', ['__start__']],
    ]);
    assertChain(h2);
    assert.deepEqual(h2.map((s) => s.metadata.run_id), [...Array(3).fill(second.run_id), ...Array(3).fill(first.run_id)]);
    assert.deepEqual(h2.slice(3).map((s) => s.checkpoint.checkpoint_id), h1.map((s) => s.checkpoint.checkpoint_id));
    assert.deepEqual(texts(h2[0].values.messages), [
      ['human', 'one'],
      ['ai', 'Hello user1! You said: one'],
      ['human', 'two'],
      ['ai', 'Hello user1! You said: two'],
    ]);

    const limited = await client.threads.getHistory(thread.thread_id, { limit: 2 });
    assert.deepEqual(limited.map((s) => s.checkpoint.checkpoint_id), h2.slice(0, 2).map((s) => s.checkpoint.checkpoint_id));
    const older = await client.threads.getHistory(thread.thread_id, { limit: 100, before: h2[2].checkpoint });
    assert.deepEqual(older.map((s) => s.checkpoint.checkpoint_id), h2.slice(3).map((s) => s.checkpoint.checkpoint_id));
  });

  test('updateState adds one checkpoint with source "update"', T, async () => {
    const thread = await client.threads.create();
    await client.runs.wait(thread.thread_id, 'agent', { input: say('hi') });
    const before = await history(thread.thread_id);
    assert.equal(before.length, 3);

    const response = await client.threads.updateState(thread.thread_id, {
      values: { messages: [{ role: 'user', content: 'edited' }] },
    });
    assert.match(response.checkpoint.checkpoint_id, UUID_RE);
    const after = await history(thread.thread_id);
    assert.equal(after.length, 4);
    assert.deepEqual(after.slice(1).map((s) => s.checkpoint.checkpoint_id), before.map((s) => s.checkpoint.checkpoint_id));
    const [latest] = after;
    assert.equal(latest.checkpoint.checkpoint_id, response.checkpoint.checkpoint_id);
    assert.equal(latest.metadata.source, 'update');
    assert.equal(latest.metadata.step, 2);
    assert.equal(latest.parent_checkpoint.checkpoint_id, before[0].checkpoint.checkpoint_id);
    // As if call_model (the last writer) wrote it: nothing follows call_model.
    assert.deepEqual(latest.next, []);
    assert.deepEqual(texts(latest.values.messages), [
      ['human', 'hi'],
      ['ai', 'Hello user1! You said: hi'],
      ['human', 'edited'],
    ]);
    const thread2 = await client.threads.get(thread.thread_id);
    assert.deepEqual(thread2.values, latest.values);

    // asNode "__start__" instead: call_model is next.
    await client.threads.updateState(thread.thread_id, {
      values: { messages: [{ role: 'user', content: 'again' }] },
      asNode: '__start__',
    });
    const state = await client.threads.getState(thread.thread_id);
    assert.equal(state.metadata.source, 'update');
    assert.deepEqual(state.next, ['call_model']);
    assert.equal((await history(thread.thread_id)).length, 5);
  });

  test('copy makes a new thread with the same state and history; the copy then lives on its own', T, async () => {
    const thread = await client.threads.create({ metadata: { origin: 'copy-test' } });
    await client.runs.wait(thread.thread_id, 'agent', { input: say('copy me') });
    const original = await history(thread.thread_id);

    const copy = await client.threads.copy(thread.thread_id);
    assert.match(copy.thread_id, UUID_RE);
    assert.notEqual(copy.thread_id, thread.thread_id);
    assert.equal(copy.metadata.origin, 'copy-test');
    const copied = await history(copy.thread_id);
    assert.equal(copied.length, original.length);
    assert.deepEqual(copied.map((s) => s.values), original.map((s) => s.values));
    assert.deepEqual(steps(copied), steps(original));
    for (const s of copied) assert.equal(s.checkpoint.thread_id, copy.thread_id);
    assert.deepEqual((await client.threads.getState(copy.thread_id)).values, (await client.threads.getState(thread.thread_id)).values);

    await client.runs.wait(copy.thread_id, 'agent', { input: say('only the copy') });
    assert.equal((await history(copy.thread_id)).length, 6);
    assert.equal((await history(thread.thread_id)).length, 3);
    assert.equal((await client.threads.getState(thread.thread_id)).values.messages.length, 2);
  });
});

describe('interrupt and resume with a Command', () => {
  test('approval pauses with its question; resuming with true completes the run', T, async () => {
    const thread = await client.threads.create();
    const paused = await client.runs.wait(thread.thread_id, 'approval', { input: { action: 'deploy' } });
    assert.equal(paused.action, 'deploy');
    assert.equal(paused.__interrupt__.length, 1, JSON.stringify(paused));
    assert.deepEqual(paused.__interrupt__[0].value, { question: 'Approve deploy?', action: 'deploy' });

    const t = await client.threads.get(thread.thread_id);
    assert.equal(t.status, 'interrupted');
    const state = await client.threads.getState(thread.thread_id);
    assert.deepEqual(state.next, ['review']);
    assert.deepEqual(state.values, { action: 'deploy' });
    assert.equal(state.tasks.length, 1);
    assert.equal(state.tasks[0].name, 'review');
    assert.deepEqual(state.tasks[0].interrupts.map((i) => i.value), [{ question: 'Approve deploy?', action: 'deploy' }]);
    assert.equal(state.tasks[0].interrupts[0].id, paused.__interrupt__[0].id);
    const runs = await client.runs.list(thread.thread_id);
    assert.deepEqual(runs.map((r) => r.status), ['interrupted']);

    const done = await client.runs.wait(thread.thread_id, 'approval', { command: { resume: true } });
    assert.deepEqual(done, { action: 'deploy', approved: true, result: 'done: deploy' });
    assert.equal((await client.threads.get(thread.thread_id)).status, 'idle');
    const finished = await client.threads.getState(thread.thread_id);
    assert.deepEqual(finished.next, []);
    assert.deepEqual(finished.tasks, []);
    // input (-1), loop before review (0, where it paused), after review (1), after act (2).
    assert.deepEqual(steps(await history(thread.thread_id)), [
      [2, 'loop', []],
      [1, 'loop', ['act']],
      [0, 'loop', ['review']],
      [-1, 'input', ['__start__']],
    ]);
  });

  test('resuming with false records the rejection', T, async () => {
    const thread = await client.threads.create();
    await client.runs.wait(thread.thread_id, 'approval', { input: { action: 'drop the table' } });
    const done = await client.runs.wait(thread.thread_id, 'approval', { command: { resume: false } });
    assert.deepEqual(done, { action: 'drop the table', approved: false, result: 'rejected: drop the table' });
  });
});

describe('fan-out', () => {
  test("three nodes run in one step; their appends land in node-name order, as LangGraph's", T, async () => {
    const thread = await client.threads.create();
    const state = await client.runs.wait(thread.thread_id, 'fanout', { input: { query: 'q' } });
    assert.deepEqual(state, {
      query: 'q',
      results: ['code: q', 'docs: q', 'web: q'],
      summary: '3 results for q',
    });
    const h = await history(thread.thread_id);
    assert.deepEqual(
      h.map((s) => [s.metadata.step, [...s.next].sort()]),
      [
        [2, []],
        [1, ['join']],
        [0, ['search_code', 'search_docs', 'search_web']],
        [-1, ['__start__']],
      ],
    );
    assert.deepEqual([...h[1].values.results].sort(), ['code: q', 'docs: q', 'web: q']);
    assert.equal(h[1].values.summary, undefined);
  });
});

describe('graph structure', () => {
  const edgeList = (graph) =>
    graph.edges.map((e) => `${e.source} ${e.conditional ? '-?>' : '->'} ${e.target}`).sort();

  test('GET /assistants/{id}/graph lists nodes and edges', T, async () => {
    const agent = await client.assistants.getGraph('agent');
    assert.deepEqual(agent.nodes.map((n) => n.id).sort(), ['__end__', '__start__', 'call_model']);
    assert.deepEqual(edgeList(agent), ['__start__ -> call_model', 'call_model -> __end__']);

    const loop = await client.assistants.getGraph('tool_loop');
    assert.deepEqual(loop.nodes.map((n) => n.id).sort(), ['__end__', '__start__', 'agent', 'tools']);
    assert.deepEqual(edgeList(loop), ['__start__ -> agent', 'agent -?> __end__', 'agent -?> tools', 'tools -> agent']);

    const fanout = await client.assistants.getGraph('fanout');
    assert.deepEqual(edgeList(fanout), [
      '__start__ -> search_code',
      '__start__ -> search_docs',
      '__start__ -> search_web',
      'join -> __end__',
      'search_code -> join',
      'search_docs -> join',
      'search_web -> join',
    ]);
  });
});
