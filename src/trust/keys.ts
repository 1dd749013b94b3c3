// Ed25519 signing keys for the TUF roles, through node:crypto.
//
// A private key travels as one line that a CI secret can hold:
//   model-gitops-key:v1:ed25519:<TUF key id>:<base64 of the PKCS#8 DER private key>
// The key id is checked against the key on load, so a truncated or mixed-up secret fails loudly.
// Private material is kept in a private field: it never appears in JSON.stringify, util.inspect,
// error messages or logs.
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Key, Signature } from '@tufjs/models';
import { UserError } from '../lib/errors.ts';
import { sha256Hex } from '../lib/hash.ts';

const PREFIX = 'model-gitops-key:v1:ed25519:';
const KEY_TYPE = 'ed25519';
const SCHEME = 'ed25519';

/** The public half of a key, as TUF root metadata lists it. */
export interface PublicKey {
  /** TUF key id: sha256 of the canonical JSON of the public key. */
  readonly keyId: string;
  /** Raw 32-byte ed25519 public key, hex. */
  readonly publicHex: string;
}

/** The TUF key id of an ed25519 public key given as hex. */
export function tufKeyId(publicHex: string): string {
  // Canonical JSON of {keytype, keyval: {public}, scheme}: keys sorted, no spaces; hex needs no escaping.
  const canonical = `{"keytype":"${KEY_TYPE}","keyval":{"public":"${publicHex}"},"scheme":"${SCHEME}"}`;
  return sha256Hex(canonical);
}

/** The @tufjs/models Key for a public key. */
export function tufKey(key: PublicKey): Key {
  return new Key({ keyID: key.keyId, keyType: KEY_TYPE, scheme: SCHEME, keyVal: { public: key.publicHex } });
}

/** A public key from its raw 32 bytes in hex (as in TUF key JSON `keyval.public`). */
export function publicKeyFromHex(publicHex: string): PublicKey {
  if (!/^[0-9a-f]{64}$/.test(publicHex)) throw new UserError('an ed25519 public key is 64 lowercase hex characters');
  return { keyId: tufKeyId(publicHex), publicHex };
}

function publicHexOf(privateKey: KeyObject): string {
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' });
  if (typeof jwk.x !== 'string') throw new Error('ed25519 public key export failed');
  return Buffer.from(jwk.x, 'base64url').toString('hex');
}

/** A private key that can sign TUF metadata. Its private material cannot be printed. */
export class SigningKey implements PublicKey {
  readonly keyId: string;
  readonly publicHex: string;
  readonly #privateKey: KeyObject;

  constructor(privateKey: KeyObject) {
    if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'ed25519') {
      throw new UserError('signing keys must be ed25519 private keys');
    }
    this.#privateKey = privateKey;
    this.publicHex = publicHexOf(privateKey);
    this.keyId = tufKeyId(this.publicHex);
  }

  /** Just the public half. */
  get publicKey(): PublicKey {
    return { keyId: this.keyId, publicHex: this.publicHex };
  }

  /** The signer @tufjs/models' Metadata.sign expects: bytes in, Signature out. */
  readonly signer = (data: Buffer): Signature =>
    new Signature({ keyID: this.keyId, sig: sign(null, data, this.#privateKey).toString('hex') });

  /** The one-line secret form; the only way private material leaves this object. */
  exportSecret(): string {
    const der = this.#privateKey.export({ format: 'der', type: 'pkcs8' });
    return `${PREFIX}${this.keyId}:${der.toString('base64')}`;
  }

  toJSON(): PublicKey {
    return this.publicKey;
  }

  toString(): string {
    return `SigningKey(${this.keyId.slice(0, 12)}…)`;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }
}

/** A fresh ed25519 key pair. */
export function generateSigningKey(): SigningKey {
  return new SigningKey(generateKeyPairSync('ed25519').privateKey);
}

/**
 * Parse the one-line secret form. `source` names where it came from (an env var, a file) for the
 * error message; the secret itself is never echoed.
 */
export function parseSigningKey(text: string, source = 'the key'): SigningKey {
  const line = text.trim();
  if (!line.startsWith(PREFIX)) {
    throw new UserError(
      `${source} does not hold a model-gitops signing key (expected one line starting with "${PREFIX}")`,
    );
  }
  const rest = line.slice(PREFIX.length);
  const colon = rest.indexOf(':');
  const keyId = rest.slice(0, colon);
  const b64 = rest.slice(colon + 1);
  if (colon < 0 || !/^[0-9a-f]{64}$/.test(keyId) || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) {
    throw new UserError(
      `${source} is not a well-formed model-gitops signing key (expected "${PREFIX}<key id>:<base64>")`,
    );
  }
  let key: SigningKey;
  try {
    key = new SigningKey(createPrivateKey({ key: Buffer.from(b64, 'base64'), format: 'der', type: 'pkcs8' }));
  } catch {
    throw new UserError(`${source} holds a damaged signing key: its private key does not decode as ed25519 PKCS#8`);
  }
  if (key.keyId !== keyId) {
    throw new UserError(
      `${source} holds a damaged signing key: it says key id ${keyId.slice(0, 12)}… but the key is ${key.keyId.slice(0, 12)}…`,
    );
  }
  return key;
}

/** Load a signing key from an environment variable (the CI secret case). */
export function loadSigningKeyFromEnv(name: string, env: NodeJS.ProcessEnv = process.env): SigningKey {
  const v = env[name];
  if (v === undefined || v.trim() === '')
    throw new UserError(`environment variable ${name} is not set: it should hold a model-gitops signing key`);
  return parseSigningKey(v, `environment variable ${name}`);
}

/** Load a signing key from a file holding the one-line form. */
export function loadSigningKeyFromFile(path: string): SigningKey {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UserError(`cannot read signing key file ${path}: ${(e as Error).message}`);
  }
  return parseSigningKey(text, `key file ${path}`);
}

/** Load a signing key from `{ env }` or `{ file }`. */
export function loadSigningKey(
  from: { env: string } | { file: string },
  env: NodeJS.ProcessEnv = process.env,
): SigningKey {
  return 'env' in from ? loadSigningKeyFromEnv(from.env, env) : loadSigningKeyFromFile(from.file);
}

export function isSigningKey(k: PublicKey): k is SigningKey {
  return k instanceof SigningKey;
}
