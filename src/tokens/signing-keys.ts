// The keys that sign access tokens. The gateway generates them, keeps them in signing_keys (the
// private half sealed with TOKEN_KEY_ENCRYPTION_SECRET when it is set) so that every instance signs
// with the same current key, and publishes the public halves at /.well-known/jwks.json. Each instance
// holds the ring in memory; the change feed (migrations/0003_signing_keys_notify.sql) tells every
// instance to reload it after a rotation. Private keys are never logged and never leave this file
// except to sign.
import { createCipheriv, createDecipheriv, createHash, createSecretKey, hkdfSync, randomBytes, type KeyObject } from 'node:crypto';
import { asc, eq, isNull, and } from 'drizzle-orm';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import { audited, recordAuditEvent, type Actor } from '../audit/log.js';
import type { RevocationFeed } from '../changefeed/feed.js';
import { defaultAuthSettings, type AccessTokenAlgorithm, type AuthSettings } from '../config.js';
import type { Database, Executor } from '../db/client.js';
import { signingKeys, type SigningKeyRow } from '../db/schema.js';
import { sha256Key } from '../sha256.js';
import { SigningKeyFromConfigurationError } from './errors.js';
import type { AccessTokenClaims } from './tokens.js';

/** The kid the migration gives the HS256 secret an existing deployment generated before signing keys. */
export const LEGACY_KID = 'legacy-hs256';
/** Clock skew allowed between instances (and verifiers) when deciding that a retired key's tokens have all expired. */
const RETIREMENT_LEEWAY_MS = 60_000;
/** How long a ring is used without the change feed (or while it is not live) before it is read again. */
const UNFED_MAX_AGE_MS = 10_000;
/** How long a ring is used at most, even with the change feed live: a bound on any surprise. */
const FED_MAX_AGE_MS = 5 * 60_000;
/** A token with an unknown kid makes the ring read again at most this often (a flood of forged kids costs one read a second). */
const MISS_RELOAD_INTERVAL_MS = 1_000;

type VerificationKey = CryptoKey;

/**
 * An HS256 secret as a WebCrypto key, imported once: jose imports raw key bytes again on every
 * signature and check, which cost as much as the HMAC itself on /introspect (issue 18).
 */
export function importHs256Key(secret: Uint8Array<ArrayBuffer>): Promise<CryptoKey> {
  return crypto.subtle.importKey('raw', secret, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
}

/** What a token says, as src/tokens/tokens.ts reads it (kept here, frozen, for tokens checked before). */
export type AccessTokenChecked = Readonly<AccessTokenClaims>;

interface CheckedToken {
  ring: RingState;
  key: SigningKey;
  claims: AccessTokenChecked;
}

/**
 * At most this many checked tokens are remembered per ring, the oldest dropped first: about 7 MB of
 * heap when full (an entry, its claims and their strings; 12 MB when the key was the token itself).
 * A deployment with more live tokens in use at once checks the others in full, as before.
 */
const CHECKED_TOKENS_MAX = 10_000;

/**
 * A token's key in the memory of checked tokens: its SHA-256. The token itself (some 400 bytes) was
 * the key before; the hash costs a microsecond or two a check (readAccessToken takes it once for its
 * lookup and what it stores). A cryptographic hash, so that no other text can be made to find a
 * token's entry, and no token outlives its request in memory as text.
 */
export const tokenDigest: (token: string) => string = sha256Key;

/** The key of the ring that checks tokens labelled `kid` (or unlabelled ones, `kid` undefined). */
function findKey(ring: RingState, kid: string | undefined): SigningKey | undefined {
  if (kid !== undefined) return ring.keys.get(kid);
  for (const key of ring.keys.values()) if (key.acceptsUnlabelled) return key;
  return undefined;
}

/** One key of the ring, as an instance holds it. */
export interface SigningKey {
  kid: string;
  alg: AccessTokenAlgorithm;
  /** What verifies its tokens: the public key, or the HS256 secret. */
  verificationKey: VerificationKey;
  /**
   * The HS256 secret as a node:crypto key, for src/tokens/tokens.ts's own HMAC check (an HMAC
   * through WebCrypto was a sixth of /introspect's CPU time, issue 18); null for other algorithms.
   */
  hmacSecret: KeyObject | null;
  /** Published at /.well-known/jwks.json; null for HS256 keys, which are never published. */
  publicJwk: JWK | null;
  createdAt: Date;
  retiredAt: Date | null;
  /** Milliseconds since the epoch after which no token it signed can still be valid. */
  verifyUntil: number;
  /** Checks tokens without a kid or `iss`: those of JWT_SECRET or of the secret from before signing keys. */
  acceptsUnlabelled: boolean;
}

interface RingState {
  signing: { kid: string; alg: AccessTokenAlgorithm; key: VerificationKey };
  keys: Map<string, SigningKey>;
  loadedAt: number;
}

// ---- Sealing: AES-256-GCM under a key derived from TOKEN_KEY_ENCRYPTION_SECRET, bound to the kid ----

function sealingKey(secret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, 'app-users-gateway', 'access-token signing key', 32));
}

/** "plain:<material>" without a secret; "aes256gcm:<iv>.<ciphertext>.<tag>" with one (the kid is authenticated too). */
export function sealPrivateKey(material: string, kid: string, secret: string | null): string {
  if (!secret) return `plain:${material}`;
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', sealingKey(secret), iv);
  cipher.setAAD(Buffer.from(kid, 'utf8'));
  const body = Buffer.concat([cipher.update(material, 'utf8'), cipher.final()]);
  return `aes256gcm:${iv.toString('base64url')}.${body.toString('base64url')}.${cipher.getAuthTag().toString('base64url')}`;
}

/** A signing key that this instance cannot read: sealed, and TOKEN_KEY_ENCRYPTION_SECRET missing or different. */
export class SigningKeyUnreadableError extends Error {}

export function openPrivateKey(sealed: string, kid: string, secret: string | null): string {
  if (sealed.startsWith('plain:')) return sealed.slice('plain:'.length);
  const match = /^aes256gcm:([\w-]+)\.([\w-]*)\.([\w-]+)$/.exec(sealed);
  if (!match) throw new SigningKeyUnreadableError(`signing key ${kid} is stored in an unknown form`);
  if (!secret) {
    throw new SigningKeyUnreadableError(`signing key ${kid} is sealed, and TOKEN_KEY_ENCRYPTION_SECRET is not set: set it to the secret it was sealed with`);
  }
  try {
    const decipher = createDecipheriv('aes-256-gcm', sealingKey(secret), Buffer.from(match[1]!, 'base64url'));
    decipher.setAAD(Buffer.from(kid, 'utf8'));
    decipher.setAuthTag(Buffer.from(match[3]!, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(match[2]!, 'base64url')), decipher.final()]).toString('utf8');
  } catch {
    throw new SigningKeyUnreadableError(`signing key ${kid} does not open with this TOKEN_KEY_ENCRYPTION_SECRET: every instance needs the same one`);
  }
}

// ---- Generation and storage ----

/** A new key of `algorithm`, ready to insert: a JWK thumbprint (RFC 7638) as kid, or 256 random bits for HS256. */
export async function generateSigningKeyRow(
  algorithm: AccessTokenAlgorithm,
  encryptionSecret: string | null,
): Promise<typeof signingKeys.$inferInsert> {
  if (algorithm === 'HS256') {
    const kid = `hs256-${randomBytes(9).toString('base64url')}`;
    return { id: kid, algorithm, publicJwk: null, privateKey: sealPrivateKey(randomBytes(32).toString('base64url'), kid, encryptionSecret) };
  }
  const { publicKey, privateKey } = await generateKeyPair(algorithm, { extractable: true, ...(algorithm === 'EdDSA' ? { crv: 'Ed25519' } : {}) });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  const privateJwk = await exportJWK(privateKey);
  return {
    id: kid,
    algorithm,
    publicJwk: { ...publicJwk, kid, alg: algorithm, use: 'sig' } as Record<string, unknown>,
    privateKey: sealPrivateKey(JSON.stringify(privateJwk), kid, encryptionSecret),
  };
}

function allSigningKeys(ex: Executor): Promise<SigningKeyRow[]> {
  return ex.select().from(signingKeys).orderBy(asc(signingKeys.createdAt));
}

/** The kid JWT_SECRET's tokens carry: a digest that says nothing about the secret. */
function configuredKid(secret: string): string {
  return `hs256-${createHash('sha256').update(`app-users-gateway kid\0${secret}`).digest('base64url').slice(0, 12)}`;
}

export interface RotatedSigningKey {
  kid: string;
  algorithm: AccessTokenAlgorithm;
  /** The key it replaces, which keeps verifying until its tokens have expired; null when there was none. */
  previousKid: string | null;
}

/** Settings the ring reads (AuthSettings; unset ones take their defaults). */
export type SigningSettings = Pick<AuthSettings, 'appId'> & Partial<AuthSettings>;

/**
 * The key ring of one instance: signs with the current key, verifies with every key whose tokens
 * can still be valid, publishes their public halves, rotates. Loaded on first use; made to exist
 * (the first instance generates the key, the others read it) and reloaded when the change feed says
 * the keys changed, when a token names a kid it does not know (at most once a second), or when old.
 */
export class SigningKeyRing {
  readonly appId: string;
  readonly audience: readonly string[];
  readonly issuer: string;
  private readonly settings: AuthSettings;
  private state: Promise<RingState> | undefined;
  /** What `state` resolved to, while it is the ring in use: read without a promise by checkedToken. */
  private loaded: RingState | undefined;
  private lastMissReload = 0;
  /** Tokens this ring checked (see checkedToken), by tokenDigest; bounded, oldest dropped first. */
  private readonly checked = new Map<string, CheckedToken>();

  constructor(
    private readonly db: Database,
    settings: SigningSettings,
    private readonly feed?: RevocationFeed,
  ) {
    this.settings = { ...defaultAuthSettings, ...settings };
    this.appId = this.settings.appId;
    this.audience = this.settings.accessTokenAudience ?? [this.appId];
    this.issuer = this.settings.accessTokenIssuer ?? this.settings.publicUrl;
    feed?.subscribe({
      userChanged: () => {},
      keyChanged: () => {},
      signingKeysChanged: () => this.invalidate(),
      reset: () => this.invalidate(),
    });
  }

  /** Forget the ring: the next use reads it again. */
  invalidate() {
    this.state = undefined;
    this.loaded = undefined;
    this.checked.clear();
  }

  /**
   * What an earlier check of this very token found (its claims), if it still holds: the ring it was
   * checked under is still the one in use (no rotation, reload or miss since), not too old, its key
   * may still verify, and the token has not expired since. Then the signature and claims need no
   * second look: the token is the same bytes. Revocation is not decided here (verifyAccessToken
   * asks the session state every time). Saves a token check its HMAC, decoding and promises (issue 18).
   * The token is named by its tokenDigest.
   */
  checkedToken(digest: string, now = Date.now()): AccessTokenChecked | undefined {
    const entry = this.checked.get(digest);
    if (entry === undefined) return undefined;
    const ring = this.loaded;
    if (ring === entry.ring && this.isFresh(ring, now) && entry.key.verifyUntil >= now && entry.claims.exp > Math.floor(now / 1000)) {
      return entry.claims;
    }
    this.checked.delete(digest);
    return undefined;
  }

  /** Remembers a token (by its tokenDigest) `key` (labelled `kid`) verified, with what it says, if that key is still the ring's own. */
  rememberChecked(digest: string, kid: string | undefined, key: SigningKey, claims: AccessTokenChecked): void {
    const ring = this.loaded;
    if (ring === undefined || !this.isFresh(ring, Date.now()) || findKey(ring, kid) !== key) return;
    if (this.checked.size >= CHECKED_TOKENS_MAX) this.checked.delete(this.checked.keys().next().value!);
    this.checked.set(digest, { ring, key, claims });
  }

  private isFresh(ring: RingState, now: number): boolean {
    return now - ring.loadedAt <= (this.feed?.live ? FED_MAX_AGE_MS : UNFED_MAX_AGE_MS);
  }

  private ring(): Promise<RingState> {
    const state = this.state;
    if (state) {
      return state.then((s) => {
        if (this.isFresh(s, Date.now())) return s;
        if (this.state === state) this.invalidate();
        return this.ring();
      });
    }
    const loading = this.load().then(
      (s) => {
        if (this.state === loading) this.loaded = s;
        return s;
      },
      (err) => {
        if (this.state === loading) this.state = undefined;
        throw err;
      },
    );
    this.state = loading;
    return loading;
  }

  /** Reads the ring now (and makes the current key exist): at start, so a bad TOKEN_KEY_ENCRYPTION_SECRET stops the server. */
  async ready(): Promise<void> {
    this.invalidate();
    await this.ring();
  }

  /** The key new tokens are signed with. */
  async signingKey(): Promise<RingState['signing']> {
    return (await this.ring()).signing;
  }

  /** The key that verifies tokens labelled `kid` (or unlabelled ones, `kid` undefined); null when none may. */
  async verificationKey(kid: string | undefined): Promise<SigningKey | null> {
    const find = (s: RingState) => findKey(s, kid) ?? null;
    let key = find(await this.ring());
    if (!key && kid !== undefined && Date.now() - this.lastMissReload >= MISS_RELOAD_INTERVAL_MS) {
      // A rotation on another instance whose notification has not arrived yet, or a forged kid.
      this.lastMissReload = Date.now();
      this.invalidate();
      key = find(await this.ring());
    }
    if (!key || key.verifyUntil < Date.now()) return null;
    return key;
  }

  /** The public keys whose tokens can still be valid, the current one first: the JWKS. */
  async publicKeys(): Promise<JWK[]> {
    const { keys, signing } = await this.ring();
    const now = Date.now();
    return [...keys.values()]
      .filter((k) => k.publicJwk && k.verifyUntil >= now)
      .sort((a, b) => Number(b.kid === signing.kid) - Number(a.kid === signing.kid) || b.createdAt.getTime() - a.createdAt.getTime())
      .map((k) => k.publicJwk!);
  }

  /** The algorithm new tokens are signed with. */
  async algorithm(): Promise<AccessTokenAlgorithm> {
    return (await this.signingKey()).alg;
  }

  /**
   * Replaces the current key by a new one of the configured algorithm, in one audited transaction
   * (rotateSigningKey): new tokens use it at once, on every instance (the change feed); the old key
   * keeps verifying its tokens until they have expired. Refused with JWT_SECRET, which is rotated by
   * changing the variable.
   */
  async rotate(actor: Actor): Promise<RotatedSigningKey> {
    if (this.settings.jwtSecret) throw new SigningKeyFromConfigurationError();
    const rotated = await audited(
      this.db,
      actor,
      { action: 'rotateSigningKey' },
      async (tx) => {
        const [current] = await tx.select().from(signingKeys).where(isNull(signingKeys.retiredAt)).for('update');
        const algorithm = this.settings.accessTokenAlgorithm ?? (current?.algorithm as AccessTokenAlgorithm | undefined) ?? 'EdDSA';
        if (current) await tx.update(signingKeys).set({ retiredAt: new Date() }).where(eq(signingKeys.id, current.id));
        const fresh = await generateSigningKeyRow(algorithm, this.settings.tokenKeyEncryptionSecret);
        await tx.insert(signingKeys).values(fresh);
        return { kid: fresh.id, algorithm, previousKid: current?.id ?? null };
      },
      (r) => ({ details: { ...r } }),
    );
    this.invalidate();
    return rotated;
  }

  private async load(): Promise<RingState> {
    const rows = await this.ensureCurrentKey();
    const ttlMs = this.settings.accessTokenTtlSeconds * 1000;
    const now = Date.now();
    const keys = new Map<string, SigningKey>();
    let signing: RingState['signing'] | undefined;
    const secret = this.settings.jwtSecret;
    if (secret) {
      const kid = configuredKid(secret);
      const bytes = new TextEncoder().encode(secret);
      const key = await importHs256Key(bytes);
      signing = { kid, alg: 'HS256', key };
      keys.set(kid, {
        kid,
        alg: 'HS256',
        verificationKey: key,
        hmacSecret: createSecretKey(bytes),
        publicJwk: null,
        createdAt: new Date(0),
        retiredAt: null,
        verifyUntil: Infinity,
        acceptsUnlabelled: true,
      });
    }
    for (const row of rows) {
      const verifyUntil = row.retiredAt ? row.retiredAt.getTime() + ttlMs + RETIREMENT_LEEWAY_MS : Infinity;
      if (verifyUntil < now) continue;
      const alg = row.algorithm as AccessTokenAlgorithm;
      const isCurrent = !row.retiredAt && !secret;
      let verificationKey: VerificationKey;
      let hmacSecret: KeyObject | null = null;
      if (alg === 'HS256') {
        let material: string;
        try {
          material = openPrivateKey(row.privateKey, row.id, this.settings.tokenKeyEncryptionSecret);
        } catch (err) {
          if (isCurrent) throw err;
          continue; // A retired HS256 key this instance cannot open: its tokens are refused here.
        }
        const bytes = Buffer.from(material, 'base64url');
        verificationKey = await importHs256Key(bytes);
        hmacSecret = createSecretKey(bytes);
        if (isCurrent) signing = { kid: row.id, alg, key: verificationKey };
      } else {
        verificationKey = (await importJWK(row.publicJwk as JWK, alg)) as VerificationKey;
        if (isCurrent) {
          const privateJwk = JSON.parse(openPrivateKey(row.privateKey, row.id, this.settings.tokenKeyEncryptionSecret)) as JWK;
          signing = { kid: row.id, alg, key: (await importJWK(privateJwk, alg)) as VerificationKey };
        }
      }
      keys.set(row.id, {
        kid: row.id,
        alg,
        verificationKey,
        hmacSecret,
        publicJwk: (row.publicJwk as JWK | null) ?? null,
        createdAt: row.createdAt,
        retiredAt: row.retiredAt,
        verifyUntil,
        acceptsUnlabelled: row.id === LEGACY_KID && !secret,
      });
    }
    if (!signing) throw new Error('no current signing key after making one exist');
    return { signing, keys, loadedAt: Date.now() };
  }

  /**
   * Makes the deployment's current key match the configuration, and returns every key. No current
   * key: the first instance to insert one wins (one current key at most, by a unique index). A
   * current key of another algorithm than ACCESS_TOKEN_ALGORITHM (or any, with JWT_SECRET): it is
   * retired, and verifies until its tokens expire; audited as a rotation by the gateway.
   */
  private async ensureCurrentKey(): Promise<SigningKeyRow[]> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const rows = await allSigningKeys(this.db);
      const current = rows.find((r) => !r.retiredAt);
      const configured = this.settings.jwtSecret ? null : (this.settings.accessTokenAlgorithm ?? current?.algorithm ?? 'EdDSA');
      if (current ? current.algorithm === configured : configured === null) return rows;
      if (!current) {
        const fresh = await generateSigningKeyRow(configured as AccessTokenAlgorithm, this.settings.tokenKeyEncryptionSecret);
        await this.db.insert(signingKeys).values(fresh).onConflictDoNothing();
        continue;
      }
      await this.db.transaction(async (tx) => {
        const retired = await tx
          .update(signingKeys)
          .set({ retiredAt: new Date() })
          .where(and(eq(signingKeys.id, current.id), isNull(signingKeys.retiredAt)))
          .returning({ id: signingKeys.id });
        if (retired.length === 0) return; // Another instance did it first.
        const fresh = configured
          ? await generateSigningKeyRow(configured as AccessTokenAlgorithm, this.settings.tokenKeyEncryptionSecret)
          : null;
        if (fresh) await tx.insert(signingKeys).values(fresh);
        await recordAuditEvent(tx, { type: 'system', name: 'gateway' }, {
          action: 'rotateSigningKey',
          outcome: 'success',
          details: {
            reason: configured ? `ACCESS_TOKEN_ALGORITHM is ${configured}` : 'JWT_SECRET is set',
            kid: fresh?.id ?? null,
            algorithm: configured ?? 'HS256',
            previousKid: current.id,
          },
        });
      });
    }
    throw new Error('the current signing key kept changing while this instance started');
  }
}
