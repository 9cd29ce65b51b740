// The delivery worker, one in every instance. Instances coordinate through the database only: each
// claims due deliveries with FOR UPDATE SKIP LOCKED and a lease (repository.ts), POSTs them signed
// per Standard Webhooks, and records the outcome: delivered, a retry after a jittered backoff, or
// failed after the last retry. Deliveries due when an instance starts are sent at once.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { Webhook } from 'standardwebhooks';
import type { Database } from '../db/client.js';
import type { Logger } from '../logger.js';
import * as metrics from '../metrics.js';
import * as repo from './repository.js';
import { openSecret } from './secrets.js';
import type { WebhookSettings } from './settings.js';
import { guardedLookup, isPrivateAddress } from './url-guard.js';

const USER_AGENT = 'app-users-gateway-webhooks/1';

interface SendResult {
  statusCode: number | null;
  error: string | null;
}

/** The wait before retry number `attempt` (1-based), jittered by ±20%; null after the last. */
export function retryDelay(settings: Pick<WebhookSettings, 'retryDelaysMs'>, attempt: number, random: () => number): number | null {
  const base = settings.retryDelaysMs[attempt - 1];
  return base === undefined ? null : Math.round(base * (0.8 + 0.4 * random()));
}

export class WebhookWorker {
  private stopped = false;
  private loopDone: Promise<void> | null = null;
  private wakeUp: (() => void) | null = null;
  private readonly inFlight = new Set<AbortController>();

  constructor(
    private readonly db: Database,
    private readonly settings: WebhookSettings,
    private readonly logger: Logger,
    private readonly random: () => number = Math.random,
  ) {}

  /** Starts looking for due deliveries, at once. */
  start(): void {
    if (this.loopDone || this.stopped) return;
    this.loopDone = this.loop();
  }

  /** Looks for due deliveries now instead of at the next poll. */
  wake(): void {
    this.wakeUp?.();
  }

  /**
   * Stops claiming; requests in flight are cut and their deliveries given back, due at once for
   * another instance (or this one's next start). Resolves when nothing runs any more.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const controller of this.inFlight) controller.abort();
    this.wakeUp?.();
    await this.loopDone;
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      let claimed = 0;
      try {
        claimed = await this.runOnce();
        metrics.webhookOldestPending.set(await repo.oldestPendingAgeSeconds(this.db));
      } catch (err) {
        if (!this.stopped) this.logger.warn({ err }, 'webhook worker: a delivery round failed; trying again');
      }
      if (this.stopped) break;
      if (claimed < this.settings.batchSize) {
        await new Promise<void>((resolve) => {
          // Unref'd: an idle worker never keeps a process alive on its own.
          const timer = setTimeout(resolve, this.settings.pollIntervalMs).unref();
          this.wakeUp = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wakeUp = null;
      }
    }
  }

  /** Claims one batch of due deliveries and sends them; returns how many it claimed. */
  async runOnce(): Promise<number> {
    const leaseMs = this.settings.timeoutMs + 5_000;
    const claimed = await repo.claimDueDeliveries(this.db, this.settings.batchSize, leaseMs);
    const released: string[] = [];
    await Promise.all(
      claimed.map(async (delivery) => {
        const result = await this.send(delivery);
        if (this.stopped && result.error === 'stopping') {
          released.push(delivery.id);
          return;
        }
        await repo.recordAttempt(this.db, delivery.id, this.outcomeOf(delivery, result));
      }),
    );
    await repo.releaseClaims(this.db, released);
    return claimed.length;
  }

  private outcomeOf(delivery: repo.ClaimedDelivery, result: SendResult): repo.AttemptOutcome {
    if (result.error === null && result.statusCode !== null && result.statusCode >= 200 && result.statusCode < 300) {
      metrics.webhookDeliveries.inc({ outcome: 'delivered' });
      return { status: 'delivered', statusCode: result.statusCode, error: null, retryInMs: 0 };
    }
    const error = result.error ?? `HTTP ${result.statusCode}`;
    const delay = retryDelay(this.settings, delivery.attempts + 1, this.random);
    if (delay === null) {
      metrics.webhookDeliveries.inc({ outcome: 'failed' });
      this.logger.warn({ deliveryId: delivery.id, eventId: delivery.eventId, error }, 'webhook delivery failed after its last retry');
      return { status: 'failed', statusCode: result.statusCode, error, retryInMs: 0 };
    }
    metrics.webhookDeliveries.inc({ outcome: 'retry' });
    return { status: 'pending', statusCode: result.statusCode, error, retryInMs: delay };
  }

  /** One signed POST; never throws. */
  private async send(delivery: repo.ClaimedDelivery): Promise<SendResult> {
    let secret: string;
    let url: URL;
    try {
      secret = openSecret(delivery.secret, this.settings.secretKey);
      url = new URL(delivery.url);
    } catch (err) {
      return { statusCode: null, error: (err as Error).message };
    }
    const host = url.hostname.replace(/^\[|\]$/g, '');
    // An address written in the URL is connected to without a lookup, so it is checked here.
    if (!this.settings.allowPrivate && isIP(host) && isPrivateAddress(host)) {
      return { statusCode: null, error: `refused: ${host} is a private address (WEBHOOK_ALLOW_PRIVATE is off)` };
    }
    const body = JSON.stringify(delivery.payload);
    const timestamp = new Date();
    const signature = new Webhook(secret).sign(delivery.eventId, timestamp, body);
    const controller = new AbortController();
    this.inFlight.add(controller);
    try {
      const statusCode = await new Promise<number>((resolve, reject) => {
        const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(
          url,
          {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              'content-length': Buffer.byteLength(body),
              'user-agent': USER_AGENT,
              'webhook-id': delivery.eventId,
              'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
              'webhook-signature': signature,
            },
            lookup: guardedLookup(this.settings.allowPrivate),
            signal: controller.signal,
            timeout: this.settings.timeoutMs,
          },
          (res: IncomingMessage) => {
            // The answer's body is not used: read and dropped, so the connection is freed.
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
            res.on('error', reject);
          },
        );
        const timeout = () => req.destroy(new Error(`no answer within ${this.settings.timeoutMs} ms`));
        req.on('timeout', timeout);
        // The socket's timeout is per idle spell; this one bounds the whole exchange.
        const deadline = setTimeout(timeout, this.settings.timeoutMs);
        req.on('close', () => clearTimeout(deadline));
        req.on('error', reject);
        req.end(body);
      });
      return { statusCode, error: null };
    } catch (err) {
      if (this.stopped && controller.signal.aborted) return { statusCode: null, error: 'stopping' };
      const e = err as NodeJS.ErrnoException;
      return { statusCode: null, error: (e.code ? `${e.code}: ` : '') + (e.message ?? String(err)).slice(0, 300) };
    } finally {
      this.inFlight.delete(controller);
    }
  }
}
