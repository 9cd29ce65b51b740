// Endpoint signing secrets. HMAC needs the secret itself, so it cannot be hashed: with
// WEBHOOK_SECRET_KEY it is kept encrypted (AES-256-GCM, a key derived from the variable), without
// it in the clear, marked so. The secret is shown once, when the endpoint is created.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/** A new secret in the Standard Webhooks symmetric form: `whsec_` and 24 random bytes in base64. */
export function generateSigningSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

const keyOf = (secretKey: string) => createHash('sha256').update(`app-users-gateway webhook secrets\0${secretKey}`).digest();

/** The stored form: `aes256gcm:<iv.tag.ciphertext in base64url>` with a key, `plain:<secret>` without. */
export function sealSecret(secret: string, secretKey: string | null): string {
  if (!secretKey) return `plain:${secret}`;
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', keyOf(secretKey), iv);
  const ciphertext = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
  return `aes256gcm:${Buffer.concat([iv, cipher.getAuthTag(), ciphertext]).toString('base64url')}`;
}

export class SecretUnavailableError extends Error {}

/** The secret of a stored form; SecretUnavailableError when it is encrypted and the key is missing or another. */
export function openSecret(stored: string, secretKey: string | null): string {
  if (stored.startsWith('plain:')) return stored.slice('plain:'.length);
  if (!stored.startsWith('aes256gcm:')) throw new SecretUnavailableError('the stored signing secret has an unknown form');
  if (!secretKey) throw new SecretUnavailableError('the signing secret is encrypted and WEBHOOK_SECRET_KEY is not set');
  const raw = Buffer.from(stored.slice('aes256gcm:'.length), 'base64url');
  try {
    const decipher = createDecipheriv('aes-256-gcm', keyOf(secretKey), raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
  } catch {
    throw new SecretUnavailableError('the signing secret cannot be decrypted with this WEBHOOK_SECRET_KEY');
  }
}
