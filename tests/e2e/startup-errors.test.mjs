// Startup: every configuration or plugin mistake stops the server with exit code 2 and one
// stderr line naming the config file, the library and symbol (for plugin errors), and the cause.
// Unknown top-level keys only warn. SIGTERM stops a running server cleanly.

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  DEFAULT_CONFIG,
  PLUGINS,
  RawConnection,
  buildRequest,
  cleanupTempDirs,
  configWithAuth,
  fixture,
  makeTempDir,
  request,
  runServerExpectExit,
  startServer,
  tempConfig,
  writeConfig,
} from './harness.mjs';

const T = { timeout: 30_000 };

after(async () => {
  await cleanupTempDirs();
});

function requireFile(file) {
  assert.ok(existsSync(file), `required build output missing: ${file}`);
}

/** Non-empty stderr lines. */
function lines(text) {
  return text.split(/\r?\n/).filter((l) => l.trim() !== '');
}

/**
 * Runs the server on `config` and checks: exit code 2, exactly one stderr line, which contains
 * every string in `mentions` and matches every regexp in `cause`.
 */
async function expectStartupFailure(config, { mentions = [], cause = [] }) {
  const result = await runServerExpectExit({ config });
  const report = `exit code ${result.code} (signal ${result.signal})\n--- stderr ---\n${result.stderr}--- stdout ---\n${result.stdout}`;
  assert.ok(!result.timedOut, `server did not exit within the time bound (it should refuse to start)\n${report}`);
  assert.equal(result.code, 2, `expected exit code 2\n${report}`);
  const errLines = lines(result.stderr);
  assert.equal(errLines.length, 1, `expected exactly one stderr line\n${report}`);
  const [line] = errLines;
  assert.ok(line.includes(config), `the error line should name the config file ${config}: ${line}`);
  for (const m of mentions) assert.ok(line.includes(m), `the error line should mention ${JSON.stringify(m)}: ${line}`);
  for (const re of cause) assert.match(line, re, `the error line should state the cause (${re}): ${line}`);
  return line;
}

describe('startup failures exit 2 with one explanatory line', () => {
  test('malformed JSON in langgraph.json', T, async () => {
    const dir = await makeTempDir();
    const config = await writeConfig(
      dir,
      `{\n  "graphs": {"agent": "${PLUGINS.agent}:graph"},\n  "auth": {"path": "${PLUGINS.authTokens}:auth"},,\n}\n`,
    );
    await expectStartupFailure(config, { cause: [/json/i, /line/i] });
  });

  test('missing auth plugin library', T, async () => {
    requireFile(PLUGINS.agent);
    const dir = await makeTempDir();
    const missing = path.join(dir, 'no_such_auth.so');
    const config = await writeConfig(dir, configWithAuth(`${missing}:auth`));
    await expectStartupFailure(config, { mentions: [missing, 'auth'], cause: [/No such file/i] });
  });

  test('missing symbol in the auth plugin', T, async () => {
    requireFile(PLUGINS.authTokens);
    requireFile(PLUGINS.agent);
    const { config } = await tempConfig(configWithAuth(`${PLUGINS.authTokens}:nope`));
    await expectStartupFailure(config, { mentions: [PLUGINS.authTokens, 'nope'], cause: [/symbol/i] });
  });

  test('auth plugin built against another ABI version', T, async () => {
    const lib = fixture('auth_abi_mismatch');
    requireFile(lib);
    requireFile(PLUGINS.agent);
    const { config } = await tempConfig(configWithAuth(`${lib}:auth`));
    await expectStartupFailure(config, { mentions: [lib, 'auth'], cause: [/ABI version/i] });
  });

  test('auth plugin without an authenticate handler', T, async () => {
    const lib = fixture('auth_no_authenticate');
    requireFile(lib);
    requireFile(PLUGINS.agent);
    const { config } = await tempConfig(configWithAuth(`${lib}:auth`));
    await expectStartupFailure(config, { mentions: [lib, 'auth'], cause: [/authenticate/i] });
  });

  test('auth plugin path that is not a shared library', T, async () => {
    requireFile(PLUGINS.agent);
    const dir = await makeTempDir();
    const notElf = path.join(dir, 'not_a_library.so');
    await writeFile(notElf, 'this is not an ELF file\n');
    const config = await writeConfig(dir, configWithAuth(`${notElf}:auth`));
    await expectStartupFailure(config, { mentions: [notElf, 'auth'] });
  });

  test('missing graph plugin library', T, async () => {
    requireFile(PLUGINS.authTokens);
    const dir = await makeTempDir();
    const missing = path.join(dir, 'no_such_graph.so');
    const config = await writeConfig(dir, {
      graphs: { agent: `${missing}:graph` },
      auth: { path: `${PLUGINS.authTokens}:auth` },
    });
    await expectStartupFailure(config, { mentions: [missing, 'graph'], cause: [/No such file/i] });
  });

  test('wrong type for "graphs"', T, async () => {
    const { config } = await tempConfig({ graphs: 'agent', auth: { path: `${PLUGINS.authTokens}:auth` } });
    await expectStartupFailure(config, { mentions: ['graphs'] });
  });

  test('config file that does not exist', T, async () => {
    const dir = await makeTempDir();
    const config = path.join(dir, 'missing-langgraph.json');
    await expectStartupFailure(config, {});
  });

  test('a database URI the server does not understand', T, async () => {
    const uri = path.join(await makeTempDir(), 'data.sqlite');  // a bare path, without sqlite:
    const result = await runServerExpectExit({ config: DEFAULT_CONFIG, args: ['--database-uri', uri] });
    const report = `exit code ${result.code} (signal ${result.signal})\n--- stderr ---\n${result.stderr}`;
    assert.equal(result.code, 2, `expected exit code 2\n${report}`);
    const errLines = lines(result.stderr);
    assert.equal(errLines.length, 1, `expected exactly one stderr line\n${report}`);
    assert.ok(errLines[0].includes(uri) && errLines[0].includes('sqlite:PATH'), errLines[0]);
  });
});

describe('startup that succeeds, and shutdown', () => {
  test('an unknown top-level key only warns; the server starts and serves', T, async () => {
    requireFile(PLUGINS.authTokens);
    requireFile(PLUGINS.agent);
    const { config } = await tempConfig(configWithAuth(`${PLUGINS.authTokens}:auth`, { frobnicate_widgets: { x: 1 } }));
    const server = await startServer({ config });
    try {
      const ok = await request(`${server.url}/ok`);
      assert.equal(ok.status, 200);
      const res = await request(`${server.url}/threads`, { method: 'POST', token: 'user1-token', body: {} });
      assert.ok(res.status >= 200 && res.status < 300, `POST /threads should work: ${res.status} ${res.text}`);
      const denied = await request(`${server.url}/threads`, { method: 'POST', body: {} });
      assert.equal(denied.status, 401, 'auth must still be enforced');
    } finally {
      await server.stop();
    }
    const output = server.stderr() + server.stdout();
    assert.ok(output.includes('frobnicate_widgets'), `the warning should name the unknown key; output:\n${output}`);
  });

  test('SIGTERM stops the server with exit code 0', T, async () => {
    const server = await startServer({ config: DEFAULT_CONFIG });
    const result = await server.stop();
    assert.ok(!result.killed, `server ignored SIGTERM for 5 s and had to be killed\n${server.stderr()}`);
    assert.equal(result.code, 0, `exit after SIGTERM: ${JSON.stringify(result)}\n${server.stderr()}`);
  });

  test('SIGTERM stops the server promptly even while a keep-alive client sits idle', T, async () => {
    const server = await startServer({ config: DEFAULT_CONFIG });
    const conn = await RawConnection.connect(server.port);
    try {
      await conn.write(buildRequest('GET', '/ok', { headers: [['Connection', 'keep-alive']] }));
      const res = await conn.readResponse({ timeoutMs: 5000 });
      assert.equal(res?.status, 200);
      const t0 = Date.now();
      const result = await server.stop();
      const elapsed = Date.now() - t0;
      assert.ok(!result.killed, `server had not exited 5 s after SIGTERM while a client held an idle keep-alive connection\n${server.stderr()}`);
      assert.equal(result.code, 0, `exit after SIGTERM: ${JSON.stringify(result)}`);
      assert.ok(elapsed < 2000, `shutdown took ${elapsed} ms with one idle keep-alive connection open`);
    } finally {
      conn.destroy();
      await server.stop();
    }
  });
});
