// A small identity provider for the auth_jwt tests, run inside the test process on 127.0.0.1:
// an HTTPS server (certificate from a CA made with the openssl CLI) serving a JWKS and a
// Supabase-like user-info endpoint, plus signing keys and a token minter on node's crypto.

import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';

/** Makes a CA and a server certificate for 127.0.0.1 in `dir`; returns {caFile, key, cert}. */
export async function makeTlsFiles(dir) {
  const p = (name) => path.join(dir, name);
  const run = (...args) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  run('req', '-x509', ...ec, '-keyout', p('ca.key'), '-out', p('ca.pem'), '-days', '1', '-subj', '/CN=auth_jwt test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  run('req', ...ec, '-keyout', p('idp.key'), '-out', p('idp.csr'), '-subj', '/CN=127.0.0.1');
  await fs.writeFile(p('idp.ext'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n');
  run('x509', '-req', '-in', p('idp.csr'), '-CA', p('ca.pem'), '-CAkey', p('ca.key'), '-CAcreateserial',
    '-out', p('idp.pem'), '-days', '1', '-extfile', p('idp.ext'));
  return { caFile: p('ca.pem'), key: await fs.readFile(p('idp.key')), cert: await fs.readFile(p('idp.pem')) };
}

// ---------------------------------------------------------------------------
// Keys and tokens

const HASH = { 256: 'sha256', 384: 'sha384', 512: 'sha512' };

/** A signing key pair for `alg` ('RS256', 'PS256', 'ES256', 'ES384', 'ES512', 'EdDSA'). */
export function makeKeyPair(alg) {
  if (alg.startsWith('RS') || alg.startsWith('PS')) return crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  if (alg === 'ES256') return crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  if (alg === 'ES384') return crypto.generateKeyPairSync('ec', { namedCurve: 'P-384' });
  if (alg === 'ES512') return crypto.generateKeyPairSync('ec', { namedCurve: 'P-521' });
  if (alg === 'EdDSA') return crypto.generateKeyPairSync('ed25519');
  throw new Error(`no key pair for ${alg}`);
}

/** The public JWK of a key pair, with a kid (and alg when given). */
export function publicJwk(pair, kid, alg) {
  const jwk = pair.publicKey.export({ format: 'jwk' });
  return { ...jwk, kid, use: 'sig', ...(alg ? { alg } : {}) };
}

const b64u = (data) => Buffer.from(data).toString('base64url');

/**
 * A compact JWS. `key` is a KeyObject (private) or, for HS*, a secret (string or Buffer).
 * `header` extras are merged into {alg, typ}; `alg` may be anything (e.g. 'none').
 */
export function signJwt(alg, key, payload, header = {}) {
  const head = b64u(JSON.stringify({ alg, typ: 'JWT', ...header }));
  const body = b64u(JSON.stringify(payload));
  const input = Buffer.from(`${head}.${body}`);
  const bits = Number(alg.slice(2));
  let sig;
  if (alg.toLowerCase() === 'none') sig = Buffer.alloc(0);
  else if (alg.startsWith('HS')) sig = crypto.createHmac(HASH[bits], key).update(input).digest();
  else if (alg.startsWith('RS')) sig = crypto.sign(HASH[bits], input, key);
  else if (alg.startsWith('PS')) {
    sig = crypto.sign(HASH[bits], input, {
      key,
      padding: crypto.constants.RSA_PKCS1_PSS_PADDING,
      saltLength: crypto.constants.RSA_PSS_SALTLEN_DIGEST,
    });
  } else if (alg.startsWith('ES')) sig = crypto.sign(HASH[bits], input, { key, dsaEncoding: 'ieee-p1363' });
  else if (alg === 'EdDSA') sig = crypto.sign(null, input, key);
  else throw new Error(`cannot sign ${alg}`);
  return `${head}.${body}.${b64u(sig)}`;
}

// ---------------------------------------------------------------------------
// The provider

/**
 * Starts the HTTPS identity provider on 127.0.0.1 (a free port). Routes:
 *   GET /.well-known/jwks.json  → idp.jwks (or a 503 while idp.jwksFailing)
 *   GET /auth/v1/user           → idp.users[token] when the apikey header is right, else 401
 * idp.mode: 'up' | 'hang' (requests get no answer). idp.down() / idp.up() stop and restart
 * listening on the same port. Counters: idp.jwksHits, idp.userinfoHits.
 */
export async function startIdp({ key, cert, apiKey }) {
  const pending = new Set();
  const idp = {
    jwks: { keys: [] },
    jwksFailing: false,
    users: new Map(),
    mode: 'up',
    jwksHits: 0,
    userinfoHits: 0,
    port: 0,
    url: '',
  };
  const server = https.createServer({ key, cert }, (req, res) => {
    if (idp.mode === 'hang') {
      pending.add(res);
      res.on('close', () => pending.delete(res));
      return;
    }
    const send = (status, body) => {
      res.writeHead(status, { 'content-type': 'application/json', connection: 'close' });
      res.end(JSON.stringify(body));
    };
    if (req.url === '/.well-known/jwks.json') {
      idp.jwksHits++;
      return idp.jwksFailing ? send(503, { error: 'maintenance' }) : send(200, idp.jwks);
    }
    if (req.url === '/auth/v1/user') {
      idp.userinfoHits++;
      if (req.headers.apikey !== apiKey) return send(401, { msg: 'No API key found in request' });
      const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
      const user = m && idp.users.get(m[1]);
      return user ? send(200, user) : send(401, { msg: 'invalid JWT' });
    }
    send(404, { error: 'not found' });
  });
  const listen = (port) =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  await listen(0);
  idp.port = server.address().port;
  idp.url = `https://127.0.0.1:${idp.port}`;
  idp.release = () => {
    for (const res of pending) res.destroy();
    pending.clear();
  };
  idp.down = async () => {
    idp.release();
    const closed = new Promise((resolve) => server.close(resolve));
    server.closeAllConnections();
    await closed;
  };
  idp.up = () => listen(idp.port);
  idp.stop = async () => {
    idp.mode = 'up';
    if (server.listening) await idp.down();
  };
  return idp;
}
