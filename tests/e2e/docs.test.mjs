// /openapi.json and /docs: the document is OpenAPI 3.1 with the security of auth.openapi, and a
// real browser (Debian's headless Chromium) renders /docs into a page listing the operations and
// the security scheme, with nothing loaded from anywhere but this server.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import {
  cleanupTempDirs,
  configWithAuth,
  fixture,
  makeTempDir,
  request,
  startServer,
  tempConfig,
} from './harness.mjs';

const T = { timeout: 60_000 };
const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
const SCHEME = 'CorpIdentityToken';

const OPENAPI = {
  securitySchemes: {
    [SCHEME]: {
      type: 'http',
      scheme: 'bearer',
      bearerFormat: 'JWT',
      description: 'A token from the corporate identity provider.',
    },
    TenantKey: { type: 'apiKey', in: 'header', name: 'x-tenant-key' },
  },
  security: [{ [SCHEME]: [] }],
  paths: {
    '/threads': { POST: [{ [SCHEME]: ['threads:write'] }, { TenantKey: [] }] },
    '/store/items': { get: [] },
  },
};

// Operations every deployment serves, one or more per resource.
const EXPECTED = [
  ['get', '/ok'],
  ['get', '/info'],
  ['post', '/assistants'],
  ['post', '/assistants/search'],
  ['get', '/assistants/{assistant_id}'],
  ['post', '/threads'],
  ['post', '/threads/search'],
  ['get', '/threads/{thread_id}'],
  ['delete', '/threads/{thread_id}'],
  ['get', '/threads/{thread_id}/state'],
  ['post', '/threads/{thread_id}/history'],
  ['post', '/threads/{thread_id}/copy'],
  ['post', '/threads/{thread_id}/runs'],
  ['post', '/threads/{thread_id}/runs/stream'],
  ['post', '/threads/{thread_id}/runs/wait'],
  ['get', '/threads/{thread_id}/runs/{run_id}/join'],
  ['post', '/threads/{thread_id}/runs/{run_id}/cancel'],
  ['post', '/runs/batch'],
  ['get', '/runs/{run_id}/stream'],
  ['put', '/store/items'],
  ['post', '/store/items/search'],
];

let server;
let plainServer;

before(async () => {
  const auth = `${fixture('auth_counting')}:auth`;
  const { config } = await tempConfig({ ...configWithAuth(auth), auth: { path: auth, openapi: OPENAPI } });
  const plain = await tempConfig({ graphs: configWithAuth(auth).graphs });
  [server, plainServer] = await Promise.all([startServer({ config }), startServer({ config: plain.config })]);
});

after(async () => {
  await Promise.all([server?.stop(), plainServer?.stop()]);
  await cleanupTempDirs();
});

/** Runs headless Chromium on `url` and resolves with the DOM it rendered. */
async function dumpDom(url) {
  const profile = await makeTempDir('langgraph-chromium-');
  const args = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-dev-shm-usage',
    // Any host but this server's resolves nowhere: the page cannot depend on the outside.
    '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
    `--user-data-dir=${profile}`,
    '--virtual-time-budget=5000',
    '--dump-dom',
    url,
  ];
  const child = spawn(CHROMIUM, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HOME: profile } });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr.length < 1 << 16 ? (stderr += d) : null));
  const code = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`chromium did not finish within 45 s\n--- stderr ---\n${stderr}`));
    }, 45_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('exit', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  assert.equal(code, 0, `chromium exited with ${code}\n--- stderr ---\n${stderr}`);
  assert.ok(stdout.includes('</html>'), `no DOM dumped\n--- stderr ---\n${stderr}`);
  return stdout;
}

/** The text a reader sees: tags removed, entities decoded, whitespace collapsed. */
function visibleText(html) {
  return html
    .replace(/<script[\s\S]*?<\/script>/gi, ' ')
    .replace(/<style[\s\S]*?<\/style>/gi, ' ')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ');
}

describe('/openapi.json', () => {
  test('is an OpenAPI 3.1 document of the served routes, without authentication', T, async () => {
    const res = await request(`${server.url}/openapi.json`);
    assert.equal(res.status, 200, res.text);
    assert.match(res.headers.get('content-type'), /^application\/json/);
    const doc = JSON.parse(res.text);
    assert.match(doc.openapi, /^3\.1\.\d+$/);
    assert.equal(typeof doc.info.title, 'string');
    assert.equal(typeof doc.info.version, 'string');
    for (const [method, path] of EXPECTED) {
      const op = doc.paths[path]?.[method];
      assert.ok(op, `${method.toUpperCase()} ${path} is documented`);
      assert.ok(op.summary && op.tags?.length && op.responses && op.operationId, `${method} ${path} is complete`);
    }
    for (const name of ['Assistant', 'Thread', 'Run', 'ThreadState', 'Item', 'Error'])
      assert.ok(doc.components.schemas[name], `schema ${name}`);
    assert.deepEqual(doc.components.schemas.Error.properties.detail, { type: 'string', description: 'What went wrong.' });
    const ids = new Set();
    for (const item of Object.values(doc.paths))
      for (const op of Object.values(item)) {
        assert.ok(!ids.has(op.operationId), `operationId ${op.operationId} is unique`);
        ids.add(op.operationId);
        // Every $ref points to a schema the document defines.
        for (const ref of JSON.stringify(op).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g))
          assert.ok(doc.components.schemas[ref[1]], `${op.operationId} refers to ${ref[1]}`);
      }
    assert.ok(!doc.paths['/openapi.json'] && !doc.paths['/docs'], 'the docs routes are not operations');
  });

  test('carries the security of auth.openapi: schemes, global requirement, per-operation overrides', T, async () => {
    const doc = (await request(`${server.url}/openapi.json`)).json;
    assert.deepEqual(doc.components.securitySchemes, OPENAPI.securitySchemes);
    assert.deepEqual(doc.security, OPENAPI.security);
    assert.deepEqual(doc.paths['/threads'].post.security, OPENAPI.paths['/threads'].POST);
    assert.deepEqual(doc.paths['/store/items'].get.security, []);
    assert.equal(doc.paths['/threads/{thread_id}'].get.security, undefined, 'others follow the global requirement');
    assert.deepEqual(doc.paths['/ok'].get.security, [], '/ok needs no credentials');
    assert.ok(doc.paths['/threads/{thread_id}'].get.responses['401']);
  });

  test('without an auth plugin there is no security to describe', T, async () => {
    const doc = (await request(`${plainServer.url}/openapi.json`)).json;
    assert.match(doc.openapi, /^3\.1\./);
    assert.equal(doc.security, undefined);
    assert.equal(doc.components.securitySchemes, undefined);
    assert.ok(doc.paths['/threads'].post);
  });
});

describe('/docs', () => {
  test('is an HTML page whose assets come from this server only', T, async () => {
    const page = await request(`${server.url}/docs`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type'), /^text\/html/);
    assert.match(page.headers.get('content-security-policy'), /default-src 'none'/);
    assert.match(page.text, /<script src="docs\/app\.js"><\/script>/);
    assert.match(page.text, /<link rel="stylesheet" href="docs\/app\.css">/);
    const js = await request(`${server.url}/docs/app.js`);
    const css = await request(`${server.url}/docs/app.css`);
    assert.equal(js.status, 200);
    assert.match(js.headers.get('content-type'), /javascript/);
    assert.equal(css.status, 200);
    assert.match(css.headers.get('content-type'), /^text\/css/);
    // No absolute URL anywhere in the page's own files (the inlined document aside).
    const html = page.text.replace(/<script id="openapi-document"[\s\S]*?<\/script>/, '');
    for (const [name, text] of [['docs', html], ['app.js', js.text], ['app.css', css.text]])
      assert.doesNotMatch(text, /(https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}/i, `${name} names no external URL`);
    // Only the page's own files are open: any other path under /docs is authenticated like the API.
    assert.equal((await request(`${server.url}/docs/nope.js`)).status, 401);
  });

  test('headless Chromium renders the operations and the security scheme', T, async (t) => {
    if (!existsSync(CHROMIUM)) {
      if (process.env.CI) assert.fail(`${CHROMIUM} is missing; install it with: apt-get install -y chromium`);
      t.skip(`${CHROMIUM} not found: install Debian's chromium package (tools/install-deps.sh) to run this test`);
      return;
    }
    const dom = await dumpDom(`${server.url}/docs`);
    const text = visibleText(dom);
    assert.doesNotMatch(text, /Could not (render|load)/, 'the page rendered the document');
    for (const [method, path] of EXPECTED) {
      const operation = `${method.toUpperCase()} ${path}`;
      assert.ok(text.includes(operation), `the page shows ${operation}`);
      assert.ok(dom.includes(`data-operation="${operation}"`), `an element for ${operation}`);
    }
    assert.ok(text.includes('Create a thread'), 'summaries are shown');
    for (const tag of ['Assistants', 'Threads', 'Thread Runs', 'Stateless Runs', 'Store', 'System'])
      assert.match(dom, new RegExp(`<h2>${tag}</h2>`), `section ${tag}`);
    assert.ok(dom.includes(`data-scheme="${SCHEME}"`), 'the security scheme is listed');
    assert.ok(text.includes(`${SCHEME} — http · scheme bearer · format JWT`), 'with its type');
    assert.ok(text.includes(`${SCHEME} [threads:write] or TenantKey`), 'POST /threads shows its own requirement');
    assert.ok(text.includes('thread_id'), 'path parameters are shown');
  });
});
