// Streaming runs over SSE with the official JS SDK against the real server running the root
// langgraph.json (agent, tool_loop, approval, fails, sleeper, fanout): several stream modes at
// once, the order of events, joining a live run and a finished one, Last-Event-ID resumption,
// stateless streams without ids, and the error event of a failing run.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@langchain/langgraph-sdk';
import {
  cleanupTempDirs,
  rootConfig,
  startServer,
  TOKENS,
  UUID_RE,
  waitFor,
} from './harness.mjs';

const T = { timeout: 20_000 };
const ALL_MODES = ['values', 'updates', 'messages-tuple', 'custom', 'tasks', 'checkpoints', 'debug'];
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

const names = (parts) => parts.map((p) => p.event);

/** Reads a whole SDK stream; `open(signal)` starts it. Fails if it does not end within `ms`. */
async function collect(open, ms = 10_000) {
  const signal = AbortSignal.timeout(ms);
  const parts = [];
  try {
    for await (const part of open(signal)) parts.push(part);
  } catch (e) {
    if (!signal.aborted) throw e;
  }
  if (signal.aborted) throw new Error(`stream did not end within ${ms} ms; got ${names(parts).join(',')}`);
  return parts;
}

/** Parses an SSE body into [{event, data, id}] (id undefined when the frame has no id line). */
function parseSse(text) {
  return text
    .split('\n\n')
    .filter((block) => block.trim() !== '')
    .map((block) => {
      const frame = { event: undefined, data: '', id: undefined };
      for (const line of block.split('\n')) {
        const i = line.indexOf(':');
        const field = line.slice(0, i);
        const value = line.slice(i + 1).replace(/^ /, '');
        if (field === 'event') frame.event = value;
        else if (field === 'data') frame.data += value;
        else if (field === 'id') frame.id = value;
      }
      frame.data = JSON.parse(frame.data);
      return frame;
    });
}

async function rawStream(pathname, body) {
  const res = await fetch(`${server.url}${pathname}`, {
    method: 'POST',
    headers: { authorization: AUTH, 'content-type': 'application/json', connection: 'close' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

const HI = { messages: [{ role: 'user', content: 'hi' }] };

describe('runs.stream', () => {
  test('seven modes on agent: metadata first, then input values, the update, the message, final values', T, async () => {
    const thread = await client.threads.create();
    const parts = await collect((signal) =>
      client.runs.stream(thread.thread_id, 'agent', { input: HI, streamMode: ALL_MODES, signal }),
    );

    assert.equal(parts[0].event, 'metadata', `first event: ${names(parts)}`);
    assert.match(parts[0].data.run_id, UUID_RE);
    assert.equal(parts[0].data.attempt, 1);
    const runId = parts[0].data.run_id;
    const runs = await client.runs.list(thread.thread_id);
    assert.deepEqual(runs.map((r) => [r.run_id, r.status]), [[runId, 'success']]);

    // Thread streams number their events: increasing integers.
    const ids = parts.map((p) => Number(p.id));
    assert.ok(ids.every(Number.isInteger), `every event needs an id: ${parts.map((p) => p.id)}`);
    for (let i = 1; i < ids.length; i++) assert.ok(ids[i] > ids[i - 1], `ids must increase: ${ids}`);

    assert.deepEqual(
      [...new Set(names(parts))].sort(),
      ['checkpoints', 'debug', 'messages', 'metadata', 'tasks', 'updates', 'values'],
      'agent writes no custom events and must not fail',
    );
    const of = (event) => parts.filter((p) => p.event === event);
    const at = (part) => parts.indexOf(part);

    const values = of('values');
    assert.equal(values.length, 2, JSON.stringify(values));
    assert.deepEqual(values[0].data.messages.map((m) => [m.type, m.content]), [['human', 'hi']]);
    const final = values[1].data.messages;
    assert.deepEqual(final.map((m) => [m.type, m.content]), [
      ['human', 'hi'],
      ['ai', 'Hello user1! You said: hi'],
    ]);
    assert.equal(final[0].id, values[0].data.messages[0].id, 'the human message keeps its id');
    const reply = final[1];

    const updates = of('updates');
    assert.equal(updates.length, 1);
    assert.deepEqual(updates[0].data, { call_model: { messages: [reply] } });

    const messages = of('messages');
    assert.equal(messages.length, 1);
    const [message, meta] = messages[0].data;
    assert.deepEqual(message, reply, 'messages-tuple carries the ai message as stored');
    assert.equal(meta.langgraph_node, 'call_model');
    assert.equal(meta.langgraph_step, 1);
    assert.equal(meta.thread_id, thread.thread_id);
    assert.equal(meta.run_id, runId);

    assert.ok(at(values[0]) < at(updates[0]) && at(updates[0]) < at(values[1]), `order: ${names(parts)}`);
    assert.ok(at(values[0]) < at(messages[0]) && at(messages[0]) < at(values[1]), `order: ${names(parts)}`);

    // One checkpoint per superstep: the input (-1), the loop before call_model (0), after it (1).
    const checkpoints = of('checkpoints').map((p) => p.data);
    assert.deepEqual(checkpoints.map((c) => [c.metadata.step, c.metadata.source, c.next]), [
      [-1, 'input', ['__start__']],
      [0, 'loop', ['call_model']],
      [1, 'loop', []],
    ]);
    assert.equal(checkpoints[0].parent_config, null);
    for (let i = 1; i < checkpoints.length; i++)
      assert.equal(
        checkpoints[i].parent_config.configurable.checkpoint_id,
        checkpoints[i - 1].config.configurable.checkpoint_id,
      );
    assert.deepEqual(checkpoints[2].values, values[1].data);
    const state = await client.threads.getState(thread.thread_id);
    assert.equal(state.checkpoint.checkpoint_id, checkpoints[2].config.configurable.checkpoint_id);

    // tasks: call_model starts with the input state, then reports its writes.
    const tasks = of('tasks').map((p) => p.data);
    assert.equal(tasks.length, 2, JSON.stringify(tasks));
    assert.equal(tasks[0].name, 'call_model');
    assert.deepEqual(tasks[0].input, values[0].data);
    assert.equal(tasks[1].id, tasks[0].id);
    assert.equal(tasks[1].name, 'call_model');
    assert.equal(tasks[1].error, null);
    assert.deepEqual(tasks[1].interrupts, []);
    assert.deepEqual(tasks[1].result.map(([channel, value]) => [channel, value.map((m) => m.content)]), [
      ['messages', ['Hello user1! You said: hi']],
    ]);

    const debugTypes = {};
    for (const { data } of of('debug')) debugTypes[data.type] = (debugTypes[data.type] ?? 0) + 1;
    assert.deepEqual(debugTypes, { checkpoint: 3, task: 1, task_result: 1 });
  });

  test('tool_loop streams agent → tools → agent → tools → agent and ends', T, async () => {
    const thread = await client.threads.create();
    const parts = await collect((signal) =>
      client.runs.stream(thread.thread_id, 'tool_loop', {
        input: { messages: [{ role: 'user', content: 'what is 2+3 and 10+20?' }] },
        streamMode: 'updates',
        signal,
      }),
    );
    assert.deepEqual(names(parts), ['metadata', 'updates', 'updates', 'updates', 'updates', 'updates']);
    const steps = parts.slice(1).map((p) => {
      const [node] = Object.keys(p.data);
      return [node, p.data[node].messages];
    });
    assert.deepEqual(steps.map(([node]) => node), ['agent', 'tools', 'agent', 'tools', 'agent']);

    const [first, second] = [steps[0][1][0], steps[2][1][0]];
    for (const [call, [a, b]] of [
      [first, [2, 3]],
      [second, [10, 20]],
    ]) {
      assert.equal(call.type, 'ai');
      assert.equal(call.tool_calls.length, 1, JSON.stringify(call));
      const { name, args, id, type } = call.tool_calls[0];
      assert.deepEqual({ name, args, type }, { name: 'add', args: { a, b }, type: 'tool_call' });
      assert.equal(typeof id, 'string');
    }
    assert.deepEqual(steps[1][1].map((m) => [m.type, m.tool_call_id, m.content]), [
      ['tool', first.tool_calls[0].id, '5'],
    ]);
    assert.deepEqual(steps[3][1].map((m) => [m.type, m.tool_call_id, m.content]), [
      ['tool', second.tool_calls[0].id, '30'],
    ]);
    assert.deepEqual(steps[4][1].map((m) => [m.type, m.content, m.tool_calls]), [['ai', '2 + 3 = 5, 10 + 20 = 30', []]]);

    const state = await client.threads.getState(thread.thread_id);
    assert.deepEqual(state.next, []);
    assert.deepEqual(state.values.messages.map((m) => m.type), ['human', 'ai', 'tool', 'ai', 'tool', 'ai']);
  });

  test('a custom event from get_stream_writer() comes before the node update', T, async () => {
    const thread = await client.threads.create();
    const parts = await collect((signal) =>
      client.runs.stream(thread.thread_id, 'sleeper', {
        input: { naps: [] },
        config: { configurable: { sleep_seconds: 0.1 } },
        streamMode: ['custom', 'updates'],
        signal,
      }),
    );
    assert.deepEqual(
      parts.slice(1).map((p) => [p.event, p.data]),
      [
        ['custom', { status: 'sleeping', seconds: 0.1 }],
        ['updates', { sleep: { naps: ['slept 0.1s'] } }],
      ],
    );
  });

  test('a failing run streams its steps, then an error event', T, async () => {
    const thread = await client.threads.create();
    const parts = await collect((signal) =>
      client.runs.stream(thread.thread_id, 'fails', {
        input: { steps: ['start'] },
        streamMode: ['values', 'updates'],
        signal,
      }),
    );
    assert.deepEqual(names(parts), ['metadata', 'values', 'updates', 'values', 'error']);
    assert.deepEqual(parts[1].data, { steps: ['start'] });
    assert.deepEqual(parts[2].data, { prepare: { steps: ['prepared'] } });
    assert.deepEqual(parts[3].data, { steps: ['start', 'prepared'] });
    const error = parts[4].data;
    assert.equal(error.message, 'explode failed on purpose');
    assert.equal(typeof error.error, 'string');
    assert.ok(error.error.length > 0);
    assert.equal((await client.threads.get(thread.thread_id)).status, 'error');
  });
});

describe('runs.joinStream', () => {
  test('joins a live run, replays it after it finished, and resumes after a Last-Event-ID', T, async () => {
    const thread = await client.threads.create();
    const run = await client.runs.create(thread.thread_id, 'sleeper', {
      input: { naps: ['awake'] },
      config: { configurable: { sleep_seconds: 0.6 } },
      streamMode: ['values', 'updates', 'custom'],
      streamResumable: true,
    });
    const live = await collect((signal) => client.runs.joinStream(thread.thread_id, run.run_id, { signal }));
    // The join ends with the run.
    const finished = await client.runs.get(thread.thread_id, run.run_id);
    assert.equal(finished.status, 'success');
    const liveData = live.filter((p) => p.event !== 'metadata').map((p) => [p.event, p.data]);
    assert.deepEqual(liveData.slice(-3), [
      ['custom', { status: 'sleeping', seconds: 0.6 }],
      ['updates', { sleep: { naps: ['slept 0.6s'] } }],
      ['values', { naps: ['awake', 'slept 0.6s'] }],
    ]);

    // After the run: "-1" replays the whole run.
    const full = await collect((signal) =>
      client.runs.joinStream(thread.thread_id, run.run_id, { lastEventId: '-1', signal }),
    );
    assert.deepEqual(full.map((p) => [p.event, p.data]), [
      ['metadata', { run_id: run.run_id, attempt: 1 }],
      ['values', { naps: ['awake'] }],
      ['custom', { status: 'sleeping', seconds: 0.6 }],
      ['updates', { sleep: { naps: ['slept 0.6s'] } }],
      ['values', { naps: ['awake', 'slept 0.6s'] }],
    ]);
    for (const p of full) assert.match(p.id ?? '', /^\d+$/, `replayed events carry ids: ${JSON.stringify(p)}`);

    // Resuming after the custom event gives exactly what followed it.
    const cut = full.findIndex((p) => p.event === 'custom');
    const rest = await collect((signal) =>
      client.runs.joinStream(thread.thread_id, run.run_id, { lastEventId: full[cut].id, signal }),
    );
    assert.deepEqual(
      rest.map((p) => [p.event, p.data, p.id]),
      full.slice(cut + 1).map((p) => [p.event, p.data, p.id]),
    );
  });
});

describe('SSE framing', () => {
  test('a stateless runs.stream has no id: lines; a thread stream numbers every event', T, async () => {
    const body = { assistant_id: 'agent', input: HI, stream_mode: ['values', 'updates'] };
    const stateless = await rawStream('/runs/stream', body);
    assert.equal(stateless.status, 200, stateless.text);
    assert.match(stateless.headers.get('content-type') ?? '', /^text\/event-stream/);
    assert.match(stateless.headers.get('content-location') ?? '', /^\/runs\/[0-9a-f-]{36}$/);
    assert.doesNotMatch(stateless.text, /^id:/m, `stateless stream has id lines:\n${stateless.text}`);
    const frames = parseSse(stateless.text);
    assert.deepEqual(frames.map((f) => f.event), ['metadata', 'values', 'updates', 'values']);
    assert.equal(stateless.headers.get('content-location'), `/runs/${frames[0].data.run_id}`);
    assert.equal(frames.at(-1).data.messages.at(-1).content, 'Hello user1! You said: hi');

    const thread = await client.threads.create();
    const threaded = await rawStream(`/threads/${thread.thread_id}/runs/stream`, body);
    assert.equal(threaded.status, 200, threaded.text);
    const tframes = parseSse(threaded.text);
    assert.deepEqual(tframes.map((f) => f.event), ['metadata', 'values', 'updates', 'values']);
    assert.equal(threaded.headers.get('content-location'), `/threads/${thread.thread_id}/runs/${tframes[0].data.run_id}`);
    const ids = tframes.map((f) => Number(f.id));
    assert.ok(ids.every(Number.isInteger), `thread stream frames need ids:\n${threaded.text}`);
    for (let i = 1; i < ids.length; i++) assert.ok(ids[i] > ids[i - 1], `ids must increase: ${ids}`);

    // Through the SDK, a stateless stream's parts have no id either.
    const parts = await collect((signal) => client.runs.stream(null, 'agent', { input: HI, streamMode: 'values', signal }));
    assert.deepEqual(names(parts), ['metadata', 'values', 'values']);
    assert.deepEqual(parts.map((p) => p.id), [undefined, undefined, undefined]);
  });
});

describe('streams of busy threads', () => {
  test('a second stream on a busy thread is refused with 409 by default', T, async () => {
    const thread = await client.threads.create();
    const run = await client.runs.create(thread.thread_id, 'sleeper', {
      input: { naps: [] },
      config: { configurable: { sleep_seconds: 0.5 } },
    });
    const res = await rawStream(`/threads/${thread.thread_id}/runs/stream`, { assistant_id: 'sleeper', input: {} });
    assert.equal(res.status, 409, res.text);
    await client.runs.join(thread.thread_id, run.run_id);
    await waitFor(async () => (await client.threads.get(thread.thread_id)).status === 'idle', {
      timeoutMs: 5_000,
      what: 'the thread to become idle',
    });
  });
});
