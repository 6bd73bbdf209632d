// The same requests to a server on SQLite and to one on PostgreSQL: every answer must be the same
// (its status, and its body once ids and times are named in the order they first appear), and
// none may be a 5xx. What one database accepts, stores, finds and refuses, the other does too,
// and an authorization filter lets a user see the same resources on both. The servers' auth
// plugin (tests/fixtures/auth_header_filter) takes each request's filter from its x-filter header.
//
// Needs LANGGRAPH_TEST_POSTGRES_URI (tools/test.sh starts a server and sets it); skipped without.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import {
  cleanupTempDirs,
  createDatabase,
  fixture,
  NEEDS_POSTGRES,
  request,
  rootConfig,
  startServer,
  stopAndDropDatabase,
  tempConfig,
} from './harness.mjs';

const say = (content) => ({ messages: [{ role: 'user', content }] });
const BIG = 'x'.repeat(300_000);

// Each step: [method, path, body, save]. `{name}` in a path or a body is the id a step saved
// under that name; `save` names the id of what the step created (the thread_id, assistant_id,
// run_id or cron_id its path ends with). A string body is sent as it is.
const STEPS = [
  // Threads, with metadata of every JSON type, and the searches over them.
  ['POST', '/threads', { metadata: { kind: 'probe', n: 1, f: 1.5, b: true, z: null, arr: [1, 2], o: { x: 1 } } }, 'thread'],
  ['POST', '/threads', { metadata: { kind: 'probe', n: 2, s: 'two' } }, 'other'],
  ['POST', '/threads', { metadata: { kind: 'big', k: BIG } }],
  ['POST', '/threads', { metadata: { [BIG]: 1 } }],
  ['POST', '/threads', { metadata: { text: 'x\\u0000y', emoji: '\u{1F600}', accents: 'àé' } }],
  ...[
    { metadata: { n: 1 } },
    { metadata: { n: 1.0 } },
    { metadata: { f: 1.5 } },
    { metadata: { b: true } },
    { metadata: { z: null } },
    { metadata: { arr: [1, 2] } },
    { metadata: { arr: [1] } },
    { metadata: { o: { x: 1 } } },
    { metadata: { o: {} } },
    { metadata: { missing: null } },
    { metadata: { kind: 'big', k: BIG } },
    { metadata: { emoji: '\u{1F600}' } },
    { metadata: { text: 'x\\u0000y' } },
    { metadata: { kind: 'probe' }, sort_by: 'thread_id', sort_order: 'asc' },
    { metadata: { kind: 'probe' }, sort_by: 'updated_at', sort_order: 'asc', limit: 1, offset: 1 },
    { metadata: { kind: 'probe' }, select: ['thread_id', 'metadata'] },
    { status: 'idle', limit: 2 },
    { ids: ['{thread}', '{other}'] },
    { values: { messages: [] } },
    { status: 'nope' },
    { sort_by: 'nope' },
    { limit: -1 },
    { offset: 1e20 },
    { select: ['nope'] },
    { ids: ['nope'] },
    { metadata: [] },
  ].map((body) => ['POST', '/threads/search', body]),
  ['POST', '/threads/count', { metadata: { kind: 'probe' } }],
  ['POST', '/threads/count', {}],
  ['PATCH', '/threads/{thread}', { metadata: { n: 3, added: 'yes' } }],
  ['PATCH', '/threads/{thread}', { metadata: 'x' }],
  ['POST', '/threads/search', { metadata: { n: 3 } }],
  ['POST', '/threads', { thread_id: '{thread}', if_exists: 'do_nothing' }],
  ['POST', '/threads', { thread_id: '{thread}' }],
  ['POST', '/threads', { thread_id: 'not-a-uuid' }],

  // Runs, state and history.
  ['POST', '/threads/{thread}/runs/wait', { assistant_id: 'agent', input: say('one') }],
  ['POST', '/threads/{thread}/runs/wait', { assistant_id: 'agent', input: say('two'), metadata: { m: 1 } }],
  ['POST', '/threads/{thread}/runs/wait', { assistant_id: 'agent', input: say('x'), multitask_strategy: 'weird' }],
  ['POST', '/threads/{thread}/runs/wait', { assistant_id: 'nope', input: say('x') }],
  ['POST', '/threads/{thread}/runs', { assistant_id: 'agent', input: say('three') }, 'run'],
  ['GET', '/threads/{thread}/runs/{run}/join'],
  ['GET', '/threads/{thread}/runs/{run}'],
  ['GET', '/threads/{thread}/runs'],
  ['GET', '/threads/{thread}/runs?status=success&limit=1&offset=1'],
  ['GET', '/threads/{thread}/runs?status=weird'],
  ['POST', '/threads/{thread}/runs/{run}/cancel', {}],
  ['GET', '/threads/{thread}/state'],
  ['GET', '/threads/{thread}/history?limit=3'],
  ['POST', '/threads/{thread}/history', { limit: 2, metadata: { source: 'loop' } }],
  ['POST', '/threads/{thread}/state', { values: say('set') }],
  ['POST', '/threads/{thread}/state', { values: 'str' }],
  ['GET', '/threads/{thread}/state'],
  ['POST', '/threads/{thread}/copy', {}],
  ['POST', '/runs/wait', { assistant_id: 'agent', input: say('stateless') }],
  ['POST', '/runs/wait', { assistant_id: 'agent', input: say('kept'), on_completion: 'keep' }],
  ['POST', '/runs/wait', { assistant_id: 'agent', config: { recursion_limit: 'x' } }],
  ['POST', '/runs/wait', { assistant_id: 'agent', input: { messages: [{ role: 'user', content: BIG }] } }],
  ['POST', '/runs/batch', [{ assistant_id: 'agent' }, { assistant_id: 'nope' }]],
  // Every graph: a tool loop, a fan-out, an interrupt and its resumes, a checkpoint's fork.
  ['POST', '/threads', {}, 'graphs'],
  ['POST', '/threads/{graphs}/runs/wait', { assistant_id: 'tool_loop', input: say('what is 2+3?') }],
  ['POST', '/threads/{graphs}/runs/wait', { assistant_id: 'fanout', input: { query: 'q' } }],
  ['POST', '/threads/{graphs}/runs/wait', { assistant_id: 'approval', input: { action: 'deploy' } }],
  ['GET', '/threads/{graphs}'],
  ['GET', '/threads/{graphs}/state'],
  ['POST', '/threads/{graphs}/runs/wait', { assistant_id: 'approval', command: { resume: true } }],
  ['POST', '/threads/{graphs}/runs/wait', { assistant_id: 'approval', input: { action: 'drop' } }],
  ['POST', '/threads/{graphs}/runs/wait', { assistant_id: 'approval', command: { resume: false } }],
  ['POST', '/threads/{graphs}/state', { values: { action: 'edited' }, as_node: 'review' }],
  ['GET', '/threads/{graphs}/state'],
  ['POST', '/threads/{graphs}/runs/wait', { assistant_id: 'sleeper', input: { naps: ['n'] }, config: { configurable: { sleep_seconds: 0 } } }],
  ['POST', '/threads/{graphs}/runs/wait', { assistant_id: 'fails', input: {} }],
  ['GET', '/threads/{graphs}/history?limit=100'],
  ['POST', '/threads/{graphs}/history', { limit: 3, metadata: { source: 'loop' } }],
  ['POST', '/threads/search', { ids: ['{graphs}'], select: ['thread_id', 'status', 'metadata', 'values', 'interrupts'] }],
  ['DELETE', '/threads/{thread}/runs/{run}'],
  // What a graph gives that no database stores (tests/fixtures/graph_unstorable) fails its run
  // alike, and error messages of any bytes are stored.
  ['POST', '/threads', {}, 'unstorable'],
  ...['update', 'interrupt', 'store_put', 'store_search', 'http_error', 'bad_utf8', 'other'].map((mode) => [
    'POST',
    '/threads/{unstorable}/runs/wait',
    { assistant_id: 'unstorable', input: { mode } },
  ]),
  ['GET', '/threads/{unstorable}/state'],
  ['GET', '/threads/{unstorable}/runs'],
  ['GET', '/threads/{unstorable}/history?limit=100'],

  // Assistants and their versions.
  ['POST', '/assistants', { graph_id: 'agent', name: 'probe', metadata: { kind: 'probe' } }, 'assistant'],
  ['POST', '/assistants', { graph_id: 'agent', name: BIG, metadata: { k: BIG } }],
  ['POST', '/assistants', { graph_id: 'nope' }],
  ['POST', '/assistants', { graph_id: 'agent', assistant_id: '{assistant}' }],
  ['PATCH', '/assistants/{assistant}', { metadata: { v: 2 }, config: { configurable: { a: 1 } } }],
  ['POST', '/assistants/{assistant}/versions', {}],
  ['POST', '/assistants/{assistant}/latest', { version: 1 }],
  ['POST', '/assistants/{assistant}/latest', { version: 99 }],
  ['POST', '/assistants/search', { metadata: { kind: 'probe' } }],
  ['POST', '/assistants/search', { sort_by: 'name', sort_order: 'asc', select: ['assistant_id', 'name'] }],
  ['POST', '/assistants/search', { metadata: { k: BIG } }],
  ['POST', '/assistants/count', {}],
  ['POST', '/threads/{other}/runs/wait', { assistant_id: '{assistant}', input: say('versioned') }],

  // The store.
  ['PUT', '/store/items', { namespace: ['probe', 'x'], key: 'k', value: { a: 1, s: 'str', n: 2.5, arr: [1, 2], o: { x: 1 } } }],
  ['PUT', '/store/items', { namespace: ['probe', 'y'], key: 'k\uFFFD', value: { a: 2, big: BIG } }],
  ['PUT', '/store/items', { namespace: ['probe'], key: 'top', value: { a: 3 } }],
  ['PUT', '/store/items', { namespace: [], key: 'k', value: {} }],
  ['PUT', '/store/items', { namespace: ['a.b'], key: 'k', value: {} }],
  ['PUT', '/store/items', { namespace: ['a'], key: 'k', value: [1] }],
  ['GET', '/store/items?namespace=probe.x&key=k'],
  ['GET', '/store/items?namespace=probe.y&key=k%ff'],
  ['GET', '/store/items?namespace=probe.x&key=nope'],
  ['GET', '/store/items?namespace=probe.x'],
  ...[
    {},
    { namespace_prefix: ['probe'] },
    { namespace_prefix: ['probe'], filter: { a: 1 } },
    { namespace_prefix: ['probe'], filter: { a: { $gt: 1 } } },
    { namespace_prefix: ['probe'], filter: { a: { $gte: 1, $lt: 3 } } },
    { namespace_prefix: ['probe'], filter: { a: { $ne: 1 } } },
    { namespace_prefix: ['probe'], filter: { a: { $in: [1, 3] } } },
    { namespace_prefix: ['probe'], filter: { a: { $nin: [1, 3] } } },
    { namespace_prefix: ['probe'], filter: { s: { $gte: 'a' } } },
    { namespace_prefix: ['probe'], filter: { n: { $lt: 'x' } } },
    { namespace_prefix: ['probe'], filter: { arr: [1, 2] } },
    { namespace_prefix: ['probe'], filter: { o: { x: 1 } } },
    { namespace_prefix: ['probe'], limit: 1, offset: 1 },
    { namespace_prefix: ['probe'], query: 'str' },
    { namespace_prefix: ['probe'], limit: -1 },
    { namespace_prefix: 'probe' },
  ].map((body) => ['POST', '/store/items/search', body]),
  ['POST', '/store/namespaces', {}],
  ['POST', '/store/namespaces', { prefix: ['probe'], max_depth: 1 }],
  ['POST', '/store/namespaces', { suffix: ['y'] }],
  ['POST', '/store/namespaces', { max_depth: 0 }],
  ['DELETE', '/store/items', { namespace: ['probe', 'x'], key: 'k' }],
  ['GET', '/store/items?namespace=probe.x&key=k'],

  // Crons.
  ['POST', '/runs/crons', { assistant_id: 'agent', schedule: '0 0 1 1 *', timezone: 'Europe/Paris', input: say('cron') }, 'cron'],
  ['POST', '/threads/{other}/runs/crons', { assistant_id: 'agent', schedule: '0 0 1 1 *', metadata: { k: BIG } }],
  ['POST', '/runs/crons', { assistant_id: 'agent', schedule: '61 * * * *' }],
  ['POST', '/runs/crons', { assistant_id: 'agent', schedule: '* * * * *', timezone: 'Mars/Base' }],
  ['PATCH', '/runs/crons/{cron}', { schedule: '0 0 2 1 *', enabled: false }],
  ['POST', '/runs/crons/search', {}],
  ['POST', '/runs/crons/search', { thread_id: '{other}' }],
  ['POST', '/runs/crons/search', { sort_by: 'nope' }],
  ['POST', '/runs/crons/count', {}],
  ['DELETE', '/runs/crons/{cron}'],

  // What no database can hold.
  ['POST', '/threads', { metadata: { a: 'x\u0000y' } }],
  ['POST', '/assistants', { graph_id: 'agent', name: 'a\u0000b' }],
  ['PUT', '/store/items', { namespace: ['probe'], key: 'k\u0000', value: {} }],
  ['GET', '/store/items?namespace=probe&key=top%00'],
  ['POST', '/threads', '{"metadata":{"a":"\\ud800"}}'],
  ['GET', '/threads/%ff%fe'],

  // Deletions, and what is left.
  ['DELETE', '/assistants/{assistant}'],
  ['DELETE', '/threads/{thread}'],
  ['GET', '/threads/{thread}'],
  ['POST', '/threads/search', { limit: 100 }],
  ['POST', '/assistants/search', { limit: 100 }],
  ['POST', '/store/items/search', { limit: 100 }],
];

// The id field of what a POST to `path` creates.
const createdId = (path) =>
  ({ threads: 'thread_id', assistants: 'assistant_id', runs: 'run_id', crons: 'cron_id' })[path.split('/').at(-1)];

// Metadata of the threads, assistants and crons, and values of the store items, the filters are
// tried on.
const RESOURCES = [
  { owner: 'alice', tags: ['x', 'y'], n: 1, flag: true, o: { x: 1 }, name: 'alice smith' },
  { owner: 'bob', tags: ['y'], n: 2, flag: false, z: null },
  { owner: 'carol', tags: [], n: 1.5, o: { x: 2 } },
  { owner: 'alice', tags: 'x', n: '1' },
  {},
  { owner: ['alice'], tags: [['x']], n: [1] },
];

const FILTERS = [
  { owner: 'alice' },
  { owner: { $eq: 'alice' } },
  { owner: { $ne: 'alice' } },
  { owner: { $in: ['alice', 'bob'] } },
  { owner: { $in: [] } },
  { owner: 'ALICE' },
  { tags: { $contains: 'x' } },
  { tags: { $contains: ['x', 'y'] } },
  { tags: { $contains: [] } },
  { tags: 'x' },
  { tags: ['x', 'y'] },
  { n: 1 },
  { n: 1.5 },
  { n: '1' },
  { n: { $in: [1, 2] } },
  { n: { $ne: 1 } },
  { flag: true },
  { flag: false },
  { z: null },
  { missing: { $ne: 'x' } },
  { o: { x: 1 } },
  { name: { $contains: 'li' } },
  { owner: 'alice', n: 1 },
  { $or: [{ owner: 'bob' }, { tags: { $contains: 'x' } }] },
  { $and: [{ owner: 'alice' }, { n: 1 }] },
  { $or: [{ $and: [{ owner: 'alice' }, { flag: true }] }, { n: 1.5 }] },
  {},
];

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;
const TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;

/** `value` with each UUID named by the order it first appeared in (`ids`), and times blanked. */
function normalize(value, ids) {
  if (typeof value === 'string') {
    if (TIME.test(value)) return '<time>';
    return value.replace(UUID, (id) => {
      if (!ids.has(id)) ids.set(id, `<id ${ids.size}>`);
      return ids.get(id);
    });
  }
  if (Array.isArray(value)) return value.map((v) => normalize(v, ids));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [normalize(k, ids), normalize(v, ids)]));
  }
  return value;
}

describe('the same requests to SQLite and to PostgreSQL', NEEDS_POSTGRES, () => {
  let database;
  const servers = {};

  before(async () => {
    const { name, env } = await createDatabase('lg_backends');
    database = name;
    // Every graph of the default langgraph.json and graph_unstorable, with the auth plugin that
    // takes filters.
    const root = JSON.parse(await readFile(await rootConfig(), 'utf8'));
    const { config } = await tempConfig({
      ...root,
      graphs: { ...root.graphs, unstorable: `${fixture('graph_unstorable')}:graph` },
      auth: { path: `${fixture('auth_header_filter')}:auth` },
    });
    servers.sqlite = await startServer({ config });
    servers.postgres = await startServer({ config, env });
  });

  after(async () => {
    await stopAndDropDatabase(Object.values(servers), database);
    await cleanupTempDirs();
  });

  const saved = { sqlite: {}, postgres: {} };
  const ids = { sqlite: new Map(), postgres: new Map() };
  const fill = (text, names) =>
    text.replace(/\{(\w+)\}/g, (whole, name) => {
      assert.ok(names[name], `no id was saved as ${name}`);
      return names[name];
    });

  /** Sends each step to both servers, as `headers` say; the answers must be alike and no 5xx. */
  async function compare(steps, headers = {}) {
    for (const [method, path, body, save] of steps) {
      const answers = {};
      for (const [backend, server] of Object.entries(servers)) {
        const names = saved[backend];
        const text = body === undefined ? undefined : fill(typeof body === 'string' ? body : JSON.stringify(body), names);
        const res = await request(`${server.url}${fill(path, names)}`, {
          method,
          body: text,
          headers: text === undefined ? headers : { ...headers, 'content-type': 'application/json' },
          token: 'tester',
        });
        if (save) {
          names[save] = res.json?.[createdId(path)];
          assert.ok(names[save], `${method} ${path} created nothing to save as ${save}: ${res.text.slice(0, 200)}`);
        }
        answers[backend] = { status: res.status, body: normalize(res.json ?? res.text, ids[backend]) };
      }
      const what = `${JSON.stringify(headers)} ${method} ${path} ${typeof body === 'string' ? body : JSON.stringify(body)?.slice(0, 200)}`;
      assert.ok(answers.sqlite.status < 500, `${what}: SQLite answered ${answers.sqlite.status}`);
      assert.deepEqual(answers.postgres, answers.sqlite, what);
    }
  }

  test('answer alike, and never with a 5xx', { timeout: 120_000 }, () => compare(STEPS));

  test('an authorization filter lets a user see the same threads, assistants, crons and items on both', { timeout: 120_000 }, async () => {
    await compare(
      RESOURCES.flatMap((metadata, i) => [
        ['POST', '/threads', { metadata }, `t${i}`],
        ['POST', '/assistants', { graph_id: 'agent', metadata }],
        ['POST', `/threads/{t${i}}/runs/crons`, { assistant_id: 'agent', schedule: '0 0 1 1 *', metadata }],
        ['PUT', '/store/items', { namespace: ['filtered'], key: `k${i}`, value: metadata }],
      ]),
    );
    for (const filter of FILTERS) {
      await compare(
        [
          ['POST', '/threads/search', { limit: 100 }],
          ['POST', '/threads/count', {}],
          ['GET', '/threads/{t0}'],
          ['GET', '/threads/{t1}'],
          ['POST', '/assistants/search', { limit: 100 }],
          ['POST', '/assistants/count', {}],
          ['POST', '/runs/crons/search', { limit: 100 }],
          ['POST', '/runs/crons/count', {}],
          ['POST', '/store/items/search', { namespace_prefix: ['filtered'], limit: 100 }],
          ['GET', '/store/items?namespace=filtered&key=k0'],
        ],
        { 'x-filter': JSON.stringify(filter) },
      );
    }
    // And the filters do filter: how many of the threads above some of them let through.
    const counts = [
      [{ owner: 'bob' }, 1],
      [{ owner: 'alice' }, 2],
      [{ owner: { $in: [] } }, 0],
      [{ n: 1.5 }, 1],
      [{ $or: [{ owner: 'bob' }, { owner: 'carol' }] }, 2],
    ];
    for (const [filter, threads] of counts) {
      for (const [backend, server] of Object.entries(servers)) {
        const headers = { 'x-filter': JSON.stringify(filter) };
        const res = await request(`${server.url}/threads/count`, { method: 'POST', body: {}, headers, token: 'tester' });
        assert.equal(res.json, threads, `${backend}: threads that ${JSON.stringify(filter)} lets through`);
      }
    }
  });

  test('what a graph gives that no database stores fails its run on both, with the reason', async () => {
    const nul = 'NUL character (\\u0000), which no database stores';
    const expected = {
      update: { error: 'InvalidUpdateError', message: `node "act" returned a ${nul}` },
      interrupt: { error: 'InvalidUpdateError', message: `node "act" returned a ${nul}` },
      store_put: { error: 'std::runtime_error', message: 'store put failed: a store put needs a valid namespace and key, and an object value without NUL characters' },
      http_error: { error: 'HTTPException', message: '418: teapot a\uFFFDb' },
      bad_utf8: { error: 'std::runtime_error', message: 'bad \uFFFD byte' },
    };
    for (const [backend, server] of Object.entries(servers)) {
      const wait = async (mode) => {
        const thread = await request(`${server.url}/threads`, { method: 'POST', body: '{}', token: 'tester' });
        const res = await request(`${server.url}/threads/${thread.json.thread_id}/runs/wait`, {
          method: 'POST',
          body: JSON.stringify({ assistant_id: 'unstorable', input: { mode } }),
          token: 'tester',
        });
        assert.equal(res.status, 200, `${backend} ${mode}: ${res.text}`);
        return res.json;
      };
      for (const [mode, error] of Object.entries(expected))
        assert.deepEqual((await wait(mode)).__error__, error, `${backend} ${mode}`);
      assert.deepEqual(await wait('store_search'), { mode: 'store_search', text: 0 }, backend);
      assert.deepEqual(await wait('other'), { mode: 'other', text: 'stored' }, backend);
    }
  });
});
