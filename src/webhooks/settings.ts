/** How webhooks are delivered; the server reads WEBHOOK_* at start, tests pass shorter delays. */
export interface WebhookSettings {
  /** Endpoints may be on loopback, link-local or private addresses (WEBHOOK_ALLOW_PRIVATE). */
  allowPrivate: boolean;
  /** Encrypts the endpoints' signing secrets at rest (WEBHOOK_SECRET_KEY); null: kept in the clear. */
  secretKey: string | null;
  /** How long one POST may take, connection included. */
  timeoutMs: number;
  /** The wait before each retry; after the last, the delivery is `failed`. Jittered by ±20%. */
  retryDelaysMs: readonly number[];
  /** How often an idle worker looks for due deliveries. */
  pollIntervalMs: number;
  /** Deliveries one worker claims at once (one statement), and whose answers it records together. */
  batchSize: number;
  /** POSTs one worker has in flight at once (and kept-alive connections per receiver). */
  concurrency: number;
  /** Connections of its own the worker uses on PostgreSQL (none taken from the requests' pool). */
  poolSize: number;
  /** Run the delivery worker in this instance (on by default). */
  worker: boolean;
}

const s = 1_000;
const m = 60 * s;
const h = 60 * m;

export const defaultWebhookSettings: WebhookSettings = {
  allowPrivate: false,
  secretKey: null,
  timeoutMs: 10 * s,
  // ~5 s, 30 s, 2 min, then growing: the last retry comes about 24 hours after the first attempt.
  retryDelaysMs: [5 * s, 30 * s, 2 * m, 10 * m, 30 * m, 1 * h, 2 * h, 4 * h, 8 * h, 8 * h],
  pollIntervalMs: 500,
  batchSize: 100,
  concurrency: 10,
  poolSize: 2,
  worker: true,
};
