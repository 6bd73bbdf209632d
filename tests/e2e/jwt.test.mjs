// plugins/auth_jwt against an identity provider started by this test on 127.0.0.1 (HTTPS with a
// CA made here, keys made here): every algorithm, every rejection with its precise detail and
// WWW-Authenticate header, key rotation by kid, the remote user-info mode and its cache, and a
// provider that is down or hangs (503, then recovery) — all without restarting the server.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { Client } from '@langchain/langgraph-sdk';

import { BUILD_DIR, PLUGINS, cleanupTempDirs, makeTempDir, request, sleep, startServer, writeConfig } from './harness.mjs';
import { makeKeyPair, makeTlsFiles, publicJwk, signJwt, startIdp } from './jwt-idp.mjs';

const AUTH_JWT = `${path.join(BUILD_DIR, 'plugins', 'auth_jwt.so')}:auth`;
const ISSUER = 'https://idp.test/';
const AUDIENCE = 'my-agent';
const SECRET = crypto.randomBytes(48).toString('base64url');
const API_KEY = 'service-key-' + crypto.randomBytes(8).toString('hex');
const now = () => Math.floor(Date.now() / 1000);

let dir;
let tls;
let idp;
const servers = [];
const keys = {}; // alg family → {pair, kid}

function claims(extra = {}) {
  return {
    sub: 'alice',
    iss: ISSUER,
    aud: AUDIENCE,
    iat: now(),
    exp: now() + 300,
    email: 'alice@example.com',
    org_id: 'org-7',
    scope: 'threads:read threads:write',
    ...extra,
  };
}

async function deploy(auth) {
  const d = await makeTempDir('langgraph-jwt-');
  const config = await writeConfig(d, { graphs: { agent: `${PLUGINS.agent}:graph` }, auth: { path: AUTH_JWT, ...auth } });
  const server = await startServer({
    config,
    env: { AUTH_JWT_TEST_SECRET: SECRET, AUTH_JWT_TEST_APIKEY: API_KEY },
  });
  servers.push(server);
  return server;
}

async function createThread(server, token) {
  return request(`${server.url}/threads`, { method: 'POST', body: {}, token });
}

async function expectAccepted(server, token, what) {
  const res = await createThread(server, token);
  assert.equal(res.status, 200, `${what}: ${res.status} ${res.text}`);
}

async function expectRejected(server, token, detail, what = detail) {
  const res = await createThread(server, token);
  assert.equal(res.status, 401, `${what}: expected 401, got ${res.status} ${res.text}`);
  assert.equal(res.json?.detail, detail, `${what}: detail`);
  assert.equal(
    res.headers.get('www-authenticate'),
    `Bearer error="invalid_token", error_description="${detail}"`,
    `${what}: WWW-Authenticate`,
  );
}

before(async () => {
  dir = await makeTempDir('langgraph-jwt-idp-');
  tls = await makeTlsFiles(dir);
  idp = await startIdp({ key: tls.key, cert: tls.cert, apiKey: API_KEY });
  for (const [name, alg] of [['rsa', 'RS256'], ['p256', 'ES256'], ['p521', 'ES512'], ['ed', 'EdDSA'], ['p384', 'ES384']])
    keys[name] = { pair: makeKeyPair(alg), kid: `${name}-1` };
  // P-384 comes from a PEM file (no kid); the others from the JWKS URL.
  idp.jwks = { keys: ['rsa', 'p256', 'p521', 'ed'].map((n) => publicJwk(keys[n].pair, keys[n].kid)) };
  await fs.writeFile(path.join(dir, 'p384.pem'), keys.p384.pair.publicKey.export({ type: 'spki', format: 'pem' }));
  await fs.writeFile(path.join(dir, 'rsa-jwks.json'), JSON.stringify({ keys: [publicJwk(keys.rsa.pair, keys.rsa.kid, 'RS256')] }));
});

after(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  if (idp) await idp.stop();
  await cleanupTempDirs();
});

describe('local verification with a JWKS URL, a PEM file and a secret', () => {
  let server;
  before(async () => {
    idp.jwksFailing = true; // the provider is down when the server starts: the server still starts
    server = await deploy({
      jwks_url: `${idp.url}/.well-known/jwks.json`,
      ca_file: tls.caFile,
      public_key_files: [path.join(dir, 'p384.pem')],
      secret_env: 'AUTH_JWT_TEST_SECRET',
      algorithms: ['HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'PS256', 'ES256', 'ES384', 'ES512', 'EdDSA'],
      issuer: ISSUER,
      audience: [AUDIENCE, 'other-audience'],
      leeway_seconds: 5,
      claims_to_user: ['email', 'org_id'],
      jwks_min_refresh_seconds: 0.3,
      timeout_seconds: 1,
    });
  });

  test('JWKS unreachable → 503, then the keys are fetched once it is back', async () => {
    const token = signJwt('RS256', keys.rsa.pair.privateKey, claims(), { kid: keys.rsa.kid });
    const down = await createThread(server, token);
    assert.equal(down.status, 503, down.text);
    assert.equal(down.json?.detail, 'Identity provider unavailable');
    // A secret-signed token does not need the provider.
    await expectAccepted(server, signJwt('HS256', SECRET, claims()), 'HS256 while the JWKS is down');
    idp.jwksFailing = false;
    await sleep(350);
    await expectAccepted(server, token, 'RS256 after the provider came back');
  });

  test('valid tokens of every algorithm pass', async () => {
    const cases = [
      ['HS256', SECRET], ['HS384', SECRET], ['HS512', SECRET],
      ['RS256', keys.rsa], ['RS384', keys.rsa], ['RS512', keys.rsa], ['PS256', keys.rsa],
      ['ES256', keys.p256], ['ES512', keys.p521], ['EdDSA', keys.ed],
      ['ES384', keys.p384, /* PEM key: no kid */ true],
    ];
    for (const [alg, key, noKid] of cases) {
      const header = typeof key === 'string' || noKid ? {} : { kid: key.kid };
      const signing = typeof key === 'string' ? key : key.pair.privateKey;
      await expectAccepted(server, signJwt(alg, signing, claims({ sub: `user-${alg}` }), header), alg);
    }
    // An audience list in the token matches when one of them is accepted.
    await expectAccepted(server, signJwt('ES256', keys.p256.pair.privateKey, claims({ aud: ['x', 'other-audience'] }),
      { kid: keys.p256.kid }), 'aud list');
  });

  test('claims reach the run as langgraph_auth_user', async () => {
    const token = signJwt('EdDSA', keys.ed.pair.privateKey, claims(), { kid: keys.ed.kid });
    const client = new Client({ apiUrl: server.url, defaultHeaders: { Authorization: `Bearer ${token}` } });
    const thread = await client.threads.create();
    const state = await client.runs.wait(thread.thread_id, 'agent', { input: { messages: [{ role: 'user', content: 'Hi' }] } });
    assert.match(JSON.stringify(state), /alice/);
    const [run] = await client.runs.list(thread.thread_id);
    const user = run.kwargs.config.configurable.langgraph_auth_user;
    assert.equal(user.identity, 'alice');
    assert.equal(user.email, 'alice@example.com');
    assert.equal(user.org_id, 'org-7');
    assert.deepEqual(user.permissions, ['threads:read', 'threads:write']);
    assert.equal(run.kwargs.config.configurable.langgraph_auth_user_id, 'alice');
  });

  test('every bad token is a 401 with a precise detail', async () => {
    const rsa = (payload, header = {}) => signJwt('RS256', keys.rsa.pair.privateKey, payload, { kid: keys.rsa.kid, ...header });
    const good = rsa(claims());
    const other = makeKeyPair('RS256');
    const rsaPublicPem = keys.rsa.pair.publicKey.export({ type: 'spki', format: 'pem' });

    await expectRejected(server, rsa(claims({ exp: now() - 60 })), 'Token has expired');
    await expectRejected(server, rsa(claims({ nbf: now() + 60 })), 'Token is not yet valid');
    await expectRejected(server, rsa(claims({ iss: 'https://evil.test/' })), 'Invalid issuer');
    await expectRejected(server, rsa(claims({ aud: 'someone-else' })), 'Invalid audience');
    await expectRejected(server, signJwt('RS256', other.privateKey, claims(), { kid: keys.rsa.kid }), 'Invalid signature', 'wrong key');
    await expectRejected(server, signJwt('none', null, claims()), 'Algorithm none is not allowed');
    await expectRejected(server, signJwt('nOnE', null, claims()), 'Algorithm none is not allowed', 'alg nOnE');
    // The classic confusion attack: HMAC keyed with the RSA public key. Only the HMAC secret
    // may check an HS256 token, so the signature is simply wrong.
    await expectRejected(server, signJwt('HS256', rsaPublicPem, claims(), { kid: keys.rsa.kid }), 'Invalid signature', 'HS256 with the public key');
    await expectRejected(server, signJwt('PS384', keys.rsa.pair.privateKey, claims(), { kid: keys.rsa.kid }), 'Algorithm PS384 is not allowed');
    await expectRejected(server, good.split('.').slice(0, 2).join('.'), 'Malformed token', 'signature cut off');
    await expectRejected(server, good.slice(0, 40), 'Malformed token', 'truncated');
    await expectRejected(server, good.slice(0, -2), 'Invalid signature', 'truncated signature');
    await expectRejected(server, 'garbage', 'Malformed token', 'garbage');
    await expectRejected(server, 'a.b.c', 'Malformed token', 'a.b.c');
    await expectRejected(server, `${Buffer.from('{"alg":"RS256"').toString('base64url')}.e30.AAAA`, 'Malformed token', 'bad JSON header');
    await expectRejected(server, rsa(claims({ sub: undefined })), 'Token has no sub claim');
    await expectRejected(server, rsa(claims({ exp: undefined })), 'Token has no exp claim');
    await expectRejected(server, rsa(claims(), { kid: 'nobody-knows' }), 'Unknown signing key');

    const none = await createThread(server, undefined);
    assert.equal(none.status, 401);
    assert.equal(none.headers.get('www-authenticate'), 'Bearer');
    // Within the leeway is still fine.
    await expectAccepted(server, rsa(claims({ exp: now() - 2, nbf: now() + 2 })), 'within leeway');
  });

  test('key rotation by kid without a restart, with refetches rate-limited', async () => {
    const next = { pair: makeKeyPair('RS256'), kid: 'rsa-2' };
    idp.jwks = { keys: [publicJwk(next.pair, next.kid), publicJwk(keys.p256.pair, keys.p256.kid)] };
    await sleep(350);
    await expectAccepted(server, signJwt('RS256', next.pair.privateKey, claims(), { kid: next.kid }), 'new kid');
    await expectRejected(server, signJwt('RS256', keys.rsa.pair.privateKey, claims(), { kid: keys.rsa.kid }), 'Unknown signing key', 'retired kid');
    // A burst of unknown kids does not hammer the provider.
    const hits = idp.jwksHits;
    await Promise.all(Array.from({ length: 20 }, (_, i) =>
      expectRejected(server, signJwt('RS256', next.pair.privateKey, claims(), { kid: `bogus-${i}` }), 'Unknown signing key')));
    assert.ok(idp.jwksHits - hits <= 2, `${idp.jwksHits - hits} JWKS fetches for 20 unknown kids`);
  });
});

describe('local verification with a JWKS file', () => {
  test('an HMAC token never verifies with a public key', async () => {
    const server = await deploy({
      jwks_file: path.join(dir, 'rsa-jwks.json'),
      algorithms: ['RS256', 'HS256'],
      issuer: ISSUER,
      audience: AUDIENCE,
      identity_claim: 'email',
    });
    const rsaPublicPem = keys.rsa.pair.publicKey.export({ type: 'spki', format: 'pem' });
    await expectRejected(server, signJwt('HS256', rsaPublicPem, claims(), { kid: keys.rsa.kid }),
      'Algorithm HS256 does not match the key type');
    await expectRejected(server, signJwt('HS256', rsaPublicPem, claims()), 'No key for algorithm HS256');
    const client = new Client({
      apiUrl: server.url,
      defaultHeaders: { Authorization: `Bearer ${signJwt('RS256', keys.rsa.pair.privateKey, claims(), { kid: keys.rsa.kid })}` },
    });
    const thread = await client.threads.create();
    await client.runs.wait(thread.thread_id, 'agent', { input: { messages: [{ role: 'user', content: 'Hi' }] } });
    const [run] = await client.runs.list(thread.thread_id);
    assert.equal(run.kwargs.config.configurable.langgraph_auth_user.identity, 'alice@example.com');
  });
});

describe('remote validation through a user-info endpoint', () => {
  let server;
  before(async () => {
    server = await deploy({
      userinfo_url: `${idp.url}/auth/v1/user`,
      userinfo_headers_env: { apikey: 'AUTH_JWT_TEST_APIKEY' },
      userinfo_cache_seconds: 30,
      ca_file: tls.caFile,
      timeout_seconds: 1,
      claims_to_user: ['email', 'role'],
    });
  });

  const newUser = (name) => {
    const token = `opaque-${name}-${crypto.randomBytes(6).toString('hex')}`;
    idp.users.set(token, { id: `uid-${name}`, email: `${name}@example.com`, role: 'authenticated', aud: 'authenticated' });
    return token;
  };

  test('the provider decides; its answer is cached for a short while', async () => {
    const token = newUser('bob');
    const hits = idp.userinfoHits;
    await expectAccepted(server, token, 'known user');
    await expectAccepted(server, token, 'known user again');
    assert.equal(idp.userinfoHits - hits, 1, 'the second request is served from the cache');
    await expectRejected(server, 'opaque-unknown', 'Invalid token');

    const client = new Client({ apiUrl: server.url, defaultHeaders: { Authorization: `Bearer ${token}` } });
    const thread = await client.threads.create();
    await client.runs.wait(thread.thread_id, 'agent', { input: { messages: [{ role: 'user', content: 'Hi' }] } });
    const [run] = await client.runs.list(thread.thread_id);
    const user = run.kwargs.config.configurable.langgraph_auth_user;
    assert.equal(user.identity, 'uid-bob');
    assert.equal(user.email, 'bob@example.com');
    assert.equal(user.role, 'authenticated');
  });

  test('provider down or hanging → 503, never an allow or a hang; it recovers', async () => {
    const token = newUser('carol');
    await idp.down();
    try {
      const down = await createThread(server, token);
      assert.equal(down.status, 503, down.text);
      assert.equal(down.json?.detail, 'Identity provider unavailable');
    } finally {
      await idp.up();
    }
    idp.mode = 'hang';
    try {
      const started = Date.now();
      const hung = await createThread(server, token);
      assert.equal(hung.status, 503, hung.text);
      assert.ok(Date.now() - started < 4000, `a hanging provider took ${Date.now() - started} ms`);
    } finally {
      idp.mode = 'up';
      idp.release();
    }
    await expectAccepted(server, token, 'after the provider is back');
  });
});
