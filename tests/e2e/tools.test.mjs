// The tools for plugin authors: tools/new-plugin (its projects build against sdk/ alone and load
// in the real server), langgraph-plugin-check (exit codes and output on shipped plugins and
// fixtures) and langgraph-mint-token (its tokens verify with node's crypto).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import {
  BUILD_DIR,
  PLUGINS,
  REPO_ROOT,
  cleanupTempDirs,
  fixture,
  makeTempDir,
  request,
  runServerExpectExit,
  startServer,
  tempConfig,
} from './harness.mjs';

const NEW_PLUGIN = path.join(REPO_ROOT, 'tools', 'new-plugin');
const PLUGIN_CHECK = path.join(BUILD_DIR, 'langgraph-plugin-check');
const MINT_TOKEN = path.join(BUILD_DIR, 'langgraph-mint-token');
const AUTH_JWT = path.join(BUILD_DIR, 'plugins', 'auth_jwt.so');

/** Runs a program; resolves with {code, stdout, stderr} whatever the exit code. */
function run(file, args, { cwd = REPO_ROOT, env = {}, timeout = 120_000 } = {}) {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd, env: { ...process.env, ...env }, timeout, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') {
        reject(new Error(`${file} ${args.join(' ')}: ${error.message}\n${stderr}`));
        return;
      }
      resolve({ code: error ? error.code : 0, stdout, stderr });
    });
  });
}

/** "key: value" lines of plugin-check's output; repeated keys collect into a list. */
function fields(stdout) {
  const out = {};
  for (const line of stdout.split('\n')) {
    const i = line.indexOf(': ');
    if (i < 0) continue;
    const key = line.slice(0, i);
    const value = line.slice(i + 2);
    if (key in out) out[key] = [].concat(out[key], value);
    else out[key] = value;
  }
  return out;
}

function decodeJwt(token) {
  const parts = token.trim().split('.');
  assert.equal(parts.length, 3, `a JWT has three parts: ${token}`);
  const [h, p, s] = parts;
  for (const part of [h, p, s]) assert.match(part, /^[A-Za-z0-9_-]*$/, 'base64url without padding');
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString()),
    payload: JSON.parse(Buffer.from(p, 'base64url').toString()),
    signingInput: Buffer.from(`${h}.${p}`),
    signature: Buffer.from(s, 'base64url'),
  };
}

after(cleanupTempDirs);

// ---------------------------------------------------------------------------------------------

describe('tools/new-plugin', () => {
  const projects = {};
  let scaffoldError = null;

  before(async () => {
    const root = await makeTempDir('langgraph-scaffold-');
    // Both kinds are scaffolded and built at once (unoptimised, without debug info: the point
    // is that they build and load, and it keeps the test short).
    const build = async (kind, name) => {
      const dir = path.join(root, name);
      const made = await run(NEW_PLUGIN, [kind, name, dir]);
      assert.equal(made.code, 0, `new-plugin ${kind}: ${made.stderr}`);
      const configure = await run('cmake', ['-S', dir, '-B', path.join(dir, 'build'), '-DCMAKE_BUILD_TYPE=Debug',
        '-DCMAKE_CXX_FLAGS_DEBUG=-O0']);
      assert.equal(configure.code, 0, `configure ${kind}:\n${configure.stdout}\n${configure.stderr}`);
      const built = await run('cmake', ['--build', path.join(dir, 'build')]);
      assert.equal(built.code, 0, `build ${kind}:\n${built.stdout}\n${built.stderr}`);
      projects[kind] = { dir, name, lib: path.join(dir, 'build', `${name}.so`), config: path.join(dir, 'langgraph.json') };
    };
    try {
      await Promise.all([build('auth', 'my_auth'), build('graph', 'my_graph')]);
    } catch (e) {
      scaffoldError = e;
    }
  });

  const project = (kind) => {
    if (scaffoldError) throw scaffoldError;
    return projects[kind];
  };

  test('writes a standalone project that finds the SDK through LANGGRAPH_SDK_DIR', async () => {
    const { dir, lib } = project('auth');
    for (const file of ['CMakeLists.txt', 'src/my_auth.cpp', 'langgraph.json', 'README.md', '.gitignore'])
      assert.ok(existsSync(path.join(dir, file)), `${file} written`);
    const cmake = await fs.readFile(path.join(dir, 'CMakeLists.txt'), 'utf8');
    assert.match(cmake, /set\(LANGGRAPH_SDK_DIR "[^"]*\/sdk" CACHE PATH/);
    assert.match(cmake, /add_subdirectory\(\$\{LANGGRAPH_SDK_DIR\} langgraph-sdk\)/);
    assert.match(cmake, /langgraph_add_plugin\(my_auth /);
    assert.ok(existsSync(lib), 'built build/my_auth.so');
    const readme = await fs.readFile(path.join(dir, 'README.md'), 'utf8');
    assert.match(readme, /cmake --build build/);
    assert.match(readme, /langgraph-server --config langgraph.json/);
  });

  test('refuses a bad name, a bad kind and a non-empty folder', async () => {
    const dir = await makeTempDir('langgraph-scaffold-bad-');
    await fs.writeFile(path.join(dir, 'x'), 'x');
    for (const args of [['auth', '1bad'], ['widget', 'fine'], ['auth', 'fine', dir]]) {
      const res = await run(NEW_PLUGIN, args, { cwd: dir });
      assert.equal(res.code, 2, `${args.join(' ')} → exit 2`);
      assert.match(res.stderr, /^new-plugin: /);
    }
  });

  test('the auth scaffold loads in the server: the right token passes, a wrong one is 401', { timeout: 30_000 }, async () => {
    const { config } = project('auth');
    const server = await startServer({ config });
    try {
      assert.equal((await request(`${server.url}/ok`)).status, 200);
      const ok = await request(`${server.url}/threads`, { method: 'POST', body: {}, token: 'my_auth-dev-token' });
      assert.equal(ok.status, 200, ok.text);
      assert.equal(ok.json.metadata.owner, 'user1', 'part 2: the thread is stamped with its owner');
      const wrong = await request(`${server.url}/threads`, { method: 'POST', body: {}, token: 'wrong-token' });
      assert.equal(wrong.status, 401);
      assert.deepEqual(wrong.json, { detail: 'Invalid token' });
      assert.equal(wrong.headers.get('www-authenticate'), 'Bearer');
      const none = await request(`${server.url}/threads/search`, { method: 'POST', body: {} });
      assert.equal(none.status, 401);
    } finally {
      await server.stop();
    }
  });

  test('the auth scaffold fails at startup without a token configured', { timeout: 30_000 }, async () => {
    const { lib } = project('auth');
    const { config } = await tempConfig({ auth: { path: `${lib}:auth` } });
    const res = await runServerExpectExit({ config });
    assert.equal(res.code, 2);
    assert.match(res.stderr, /the plugin failed to start: set "token" or "token_env"/);
  });

  test('the graph scaffold loads in the server and answers a run', { timeout: 30_000 }, async () => {
    const { config } = project('graph');
    const server = await startServer({ config });
    try {
      assert.equal((await request(`${server.url}/ok`)).status, 200);
      const res = await request(`${server.url}/runs/wait`, {
        method: 'POST',
        body: { assistant_id: 'my_graph', input: { messages: [{ role: 'user', content: 'hi' }] } },
      });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.messages.at(-1).content, 'Hello there! You said: hi');
    } finally {
      await server.stop();
    }
  });

  test('the graph scaffold runs behind the tutorial auth plugin', { timeout: 30_000 }, async () => {
    const { lib } = project('graph');
    const { config } = await tempConfig({ graphs: { my_graph: `${lib}:graph` }, auth: { path: `${PLUGINS.authTokens}:auth` } });
    const server = await startServer({ config });
    try {
      const body = { assistant_id: 'my_graph', input: { messages: [{ role: 'user', content: 'hey' }] } };
      const res = await request(`${server.url}/runs/wait`, { method: 'POST', body, token: 'user2-token' });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.messages.at(-1).content, 'Hello Bob! You said: hey');
      assert.equal((await request(`${server.url}/runs/wait`, { method: 'POST', body })).status, 401);
    } finally {
      await server.stop();
    }
  });

  test('plugin-check reads the scaffold\'s langgraph.json', async () => {
    const { lib, config } = project('auth');
    const good = await run(PLUGIN_CHECK, [`${lib}:auth`, '--config', `@${config}`, '--header', 'Authorization: Bearer my_auth-dev-token']);
    assert.equal(good.code, 0, good.stdout + good.stderr);
    const f = fields(good.stdout);
    assert.equal(f.identity, 'user1');
    assert.equal(f['authorization handlers'], 'threads:*');
    assert.deepEqual(JSON.parse(f.user).permissions, ['threads:write']);
    const graph = await run(PLUGIN_CHECK, [`${project('graph').lib}:graph`]);
    assert.equal(graph.code, 0, graph.stderr);
    assert.equal(fields(graph.stdout).nodes, 'greet');
  });
});

// ---------------------------------------------------------------------------------------------

describe('langgraph-plugin-check', () => {
  const authTokens = `${PLUGINS.authTokens}:auth`;

  test('a valid bearer token: exit 0, the normalised user', async () => {
    const res = await run(PLUGIN_CHECK, [authTokens, '--header', 'Authorization: Bearer user1-token']);
    assert.equal(res.code, 0, res.stdout + res.stderr);
    const f = fields(res.stdout);
    assert.equal(f.kind, 'auth');
    assert.equal(f.abi_version, '1');
    assert.equal(f.name, 'auth');
    assert.match(f['authorization handlers'], /^none/);
    assert.equal(f.authenticate, 'allowed');
    assert.equal(f.identity, 'user1');
    assert.deepEqual(JSON.parse(f.user), {
      identity: 'user1',
      display_name: 'Alice',
      is_authenticated: true,
      permissions: [],
    });
  });

  test('an invalid bearer token: exit 1, status, detail and headers', async () => {
    const res = await run(PLUGIN_CHECK, [authTokens, '-H', 'authorization: Bearer nope', '--method', 'POST', '--path', '/threads']);
    assert.equal(res.code, 1, res.stdout + res.stderr);
    const f = fields(res.stdout);
    assert.equal(f.request, 'POST /threads');
    assert.equal(f.authenticate, 'rejected');
    assert.equal(f.status, '401');
    assert.equal(f.detail, 'Invalid token');
    assert.equal(f.header, 'WWW-Authenticate: Bearer');
    assert.deepEqual(JSON.parse(f.body), { detail: 'Invalid token' });
  });

  test('an auth plugin\'s registered authorization events', async () => {
    const res = await run(PLUGIN_CHECK, [`${path.join(BUILD_DIR, 'plugins', 'auth_owner.so')}:auth`, '--load-only']);
    assert.equal(res.code, 0, res.stderr);
    const f = fields(res.stdout);
    assert.deepEqual(f['authorization handlers'].split(', ').sort(), ['*:*', 'assistants:*', 'store:*']);
    assert.equal(f.authenticate, undefined, '--load-only does not authenticate');
  });

  test('a graph: its channels, nodes and edges', async () => {
    const res = await run(PLUGIN_CHECK, [`${PLUGINS.agent}:graph`]);
    assert.equal(res.code, 0, res.stderr);
    const f = fields(res.stdout);
    assert.equal(f.kind, 'graph');
    assert.equal(f.abi_version, '1');
    assert.equal(f.channels, 'messages (add_messages)');
    assert.equal(f.nodes, 'call_model');
    assert.equal(f.edges, '__start__ -> call_model, call_model -> __end__');

    const counter = await run(PLUGIN_CHECK, [`${fixture('graph_counter')}:graph`]);
    assert.equal(counter.code, 0, counter.stderr);
    assert.ok(fields(counter.stdout)['conditional edge'], counter.stdout);
  });

  test('an ABI mismatch: exit 2 with the line the server prints', { timeout: 30_000 }, async () => {
    const lib = fixture('auth_abi_mismatch');
    const res = await run(PLUGIN_CHECK, [`${lib}:auth`]);
    assert.equal(res.code, 2);
    assert.equal(res.stdout, '');
    const lines = res.stderr.trim().split('\n');
    assert.equal(lines.length, 1, res.stderr);
    assert.match(lines[0], /^langgraph-plugin-check: error: auth\.path ".*auth_abi_mismatch\.so:auth": plugin ABI version 999, this server speaks ABI version 1/);

    const { config } = await tempConfig({ auth: { path: `${lib}:auth` } });
    const server = await runServerExpectExit({ config });
    assert.equal(server.code, 2);
    const cause = lines[0].replace('langgraph-plugin-check: error: ', '');
    assert.equal(server.stderr.trim(), `langgraph-server: error: ${config}: ${cause}`);
  });

  test('load errors: a missing file or symbol is exit 2; bad usage is 64', async () => {
    const missing = await run(PLUGIN_CHECK, ['/nonexistent/x.so:auth']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /auth\.path "\/nonexistent\/x\.so:auth": no such file/);
    const symbol = await run(PLUGIN_CHECK, [`${PLUGINS.authTokens}:nope`]);
    assert.equal(symbol.code, 2);
    assert.match(symbol.stderr, /symbol "nope" not found in the library/);
    assert.equal((await run(PLUGIN_CHECK, [])).code, 64);
    assert.equal((await run(PLUGIN_CHECK, [authTokens, '--bogus'])).code, 64);
  });
});

// ---------------------------------------------------------------------------------------------

describe('langgraph-mint-token', () => {
  const SECRET = 'a-test-secret-that-is-at-least-32-bytes-long';
  let keyDir;

  before(async () => {
    keyDir = await makeTempDir('langgraph-keys-');
    const write = (name, { privateKey }) =>
      fs.writeFile(path.join(keyDir, name), privateKey.export({ type: 'pkcs8', format: 'pem' }));
    await write('rsa.pem', crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }));
    await write('ec.pem', crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }));
    await write('ed.pem', crypto.generateKeyPairSync('ed25519'));
  });

  const key = (name) => path.join(keyDir, name);
  const mint = async (args, env = {}) => {
    const res = await run(MINT_TOKEN, args, { env });
    assert.equal(res.code, 0, res.stderr);
    return res.stdout.trim();
  };

  test('HS256: the claims asked for, signed with the secret from the environment', async () => {
    const before = Math.floor(Date.now() / 1000);
    const token = await mint(
      ['--alg', 'HS256', '--secret-env', 'MINT_SECRET', '--kid', 'k1', '--sub', 'alice', '--iss', 'https://idp.test',
        '--aud', 'api', '--exp-in', '600', '--claim', 'email=alice@example.com', '--claim', 'scope="read write"',
        '--claim', 'org={"id":7}', '--claim', 'n=42'],
      { MINT_SECRET: SECRET },
    );
    const { header, payload, signingInput, signature } = decodeJwt(token);
    assert.deepEqual(header, { alg: 'HS256', typ: 'JWT', kid: 'k1' });
    assert.equal(payload.sub, 'alice');
    assert.equal(payload.iss, 'https://idp.test');
    assert.equal(payload.aud, 'api');
    assert.equal(payload.email, 'alice@example.com');
    assert.equal(payload.scope, 'read write');
    assert.deepEqual(payload.org, { id: 7 });
    assert.equal(payload.n, 42);
    assert.ok(payload.iat >= before && payload.iat <= before + 5);
    assert.equal(payload.exp, payload.iat + 600);
    const expected = crypto.createHmac('sha256', SECRET).update(signingInput).digest();
    assert.ok(crypto.timingSafeEqual(signature, expected), 'HMAC-SHA256 verifies');
  });

  test('RS256, PS256, ES256 and EdDSA verify with the public key and with --print-jwk', async () => {
    const cases = [
      ['RS256', 'rsa.pem', (pub) => ({ key: pub }), 'sha256'],
      ['PS256', 'rsa.pem', (pub) => ({ key: pub, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }), 'sha256'],
      ['ES256', 'ec.pem', (pub) => ({ key: pub, dsaEncoding: 'ieee-p1363' }), 'sha256'],
      ['EdDSA', 'ed.pem', (pub) => ({ key: pub }), null],
    ];
    for (const [alg, file, options, digest] of cases) {
      const token = await mint(['--alg', alg, '--key', key(file), '--kid', 'k2', '--sub', 'bob', '--aud', 'a', '--aud', 'b']);
      const { header, payload, signingInput, signature } = decodeJwt(token);
      assert.equal(header.alg, alg);
      assert.deepEqual(payload.aud, ['a', 'b']);
      const pub = crypto.createPublicKey(await fs.readFile(key(file)));
      assert.ok(crypto.verify(digest, signingInput, options(pub), signature), `${alg} verifies with the PEM key`);
      const jwk = JSON.parse(await mint(['--alg', alg, '--key', key(file), '--kid', 'k2', '--print-jwk']));
      assert.equal(jwk.kid, 'k2');
      assert.equal(jwk.alg, alg);
      assert.equal(jwk.d, undefined, 'the JWK is the public half only');
      const fromJwk = crypto.createPublicKey({ key: jwk, format: 'jwk' });
      assert.ok(crypto.verify(digest, signingInput, options(fromJwk), signature), `${alg} verifies with the JWK`);
    }
  });

  test('negative-test tokens: expired, alg none, HMAC keyed with a file; mismatches are refused', async () => {
    const expired = decodeJwt(await mint(['--secret-env', 'MINT_SECRET', '--exp-in', '-60'], { MINT_SECRET: SECRET }));
    assert.equal(expired.header.alg, 'HS256');
    assert.ok(expired.payload.exp < Date.now() / 1000);
    const none = await mint(['--alg', 'none', '--sub', 'x', '--no-exp']);
    assert.match(none, /\.$/);
    assert.equal(decodeJwt(none).header.alg, 'none');
    assert.equal(decodeJwt(none).payload.exp, undefined);
    // HS256 keyed with the bytes of a file (e.g. a public key: the algorithm-confusion attack).
    const pem = await fs.readFile(key('rsa.pem'));
    const confused = decodeJwt(await mint(['--alg', 'HS256', '--key', key('rsa.pem')]));
    assert.ok(crypto.createHmac('sha256', pem).update(confused.signingInput).digest().equals(confused.signature));

    const wrongKey = await run(MINT_TOKEN, ['--alg', 'ES256', '--key', key('rsa.pem')]);
    assert.equal(wrongKey.code, 1);
    assert.match(wrongKey.stderr, /ES256 needs an EC key/);
    const noSecret = await run(MINT_TOKEN, ['--alg', 'HS256', '--secret-env', 'SURELY_NOT_SET_ANYWHERE']);
    assert.equal(noSecret.code, 1);
    assert.equal((await run(MINT_TOKEN, ['--alg', 'XS999'])).code, 64);
  });

  test('its tokens pass the auth_jwt plugin (through plugin-check)', { skip: !existsSync(AUTH_JWT) && 'auth_jwt not built' }, async () => {
    const env = { MINT_SECRET: SECRET };
    const config = JSON.stringify({ secret_env: 'MINT_SECRET', issuer: 'https://idp.test', audience: 'api', claims_to_user: ['email'] });
    const token = await mint(['--secret-env', 'MINT_SECRET', '--sub', 'alice', '--iss', 'https://idp.test', '--aud', 'api',
      '--claim', 'email=alice@example.com', '--claim', 'scope=read'], env);
    const ok = await run(PLUGIN_CHECK, [`${AUTH_JWT}:auth`, '--config', config, '--header', `Authorization: Bearer ${token}`], { env });
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    const user = JSON.parse(fields(ok.stdout).user);
    assert.equal(user.identity, 'alice');
    assert.equal(user.email, 'alice@example.com');
    assert.deepEqual(user.permissions, ['read']);

    const expired = await mint(['--secret-env', 'MINT_SECRET', '--sub', 'alice', '--iss', 'https://idp.test', '--aud', 'api',
      '--exp-in', '-3600'], env);
    const bad = await run(PLUGIN_CHECK, [`${AUTH_JWT}:auth`, '--config', config, '--header', `Authorization: Bearer ${expired}`], { env });
    assert.equal(bad.code, 1, bad.stdout + bad.stderr);
    assert.equal(fields(bad.stdout).status, '401');
    assert.match(fields(bad.stdout).header, /^WWW-Authenticate: Bearer error="invalid_token"/);
  });
});
