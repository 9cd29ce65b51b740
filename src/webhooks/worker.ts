// The delivery worker, one in every instance. Instances coordinate through the database only: each
// claims due deliveries with FOR UPDATE SKIP LOCKED and a lease (repository.ts), POSTs them signed
// per Standard Webhooks, and records the outcome: delivered, a retry after a jittered backoff, or
// failed after the last retry. Deliveries due when an instance starts are sent at once.
//
// It must cost the actions that write events next to nothing (issue 15: disableUser at most 10%
// slower with an endpoint subscribed): it claims a batch in one statement, POSTs a bounded number at
// a time on kept-alive connections, records the batch's answers together in one statement, and
// runs its statements on connections of its own, never taking one a request waits for.
import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
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
/** The longest an answer waits to be recorded while others of its batch are still in flight. */
const RECORD_EVERY_MS = 200;
/** How often the age of the oldest pending delivery (a metric) is measured. */
const METRICS_EVERY_MS = 5_000;

interface SendResult {
  statusCode: number | null;
  error: string | null;
}

/** Cuts a POST in flight when the worker stops: its delivery is given back, not counted as an attempt. */
class StoppingError extends Error {
  constructor() {
    super('stopping');
  }
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
  private readonly inFlight = new Set<ClientRequest>();
  private metricsAt = 0;
  private readonly endpoints = new Map<string, { signer: Webhook; url: URL }>();
  // Kept-alive connections, as many as POSTs may be in flight: no TCP (or TLS) handshake per event.
  private readonly agents: { http: HttpAgent; https: HttpsAgent };

  constructor(
    private readonly db: Database,
    private readonly settings: WebhookSettings,
    private readonly logger: Logger,
    private readonly random: () => number = Math.random,
  ) {
    this.agents = {
      http: new HttpAgent({ keepAlive: true, maxSockets: settings.concurrency }),
      https: new HttpsAgent({ keepAlive: true, maxSockets: settings.concurrency }),
    };
  }

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
    for (const req of this.inFlight) req.destroy(new StoppingError());
    this.wakeUp?.();
    await this.loopDone;
    this.agents.http.destroy();
    this.agents.https.destroy();
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      let claimed = 0;
      try {
        claimed = await this.runOnce();
        if (Date.now() - this.metricsAt >= METRICS_EVERY_MS) {
          this.metricsAt = Date.now();
          metrics.webhookOldestPending.set(await repo.oldestPendingAgeSeconds(this.db));
        }
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

  /**
   * Claims one batch of due deliveries and sends them, `concurrency` at a time; returns how many it
   * claimed. Answers are recorded together: all of them once the batch is done, or those in hand
   * every RECORD_EVERY_MS while some POSTs are slow.
   */
  async runOnce(): Promise<number> {
    const leaseMs = this.settings.timeoutMs + 5_000;
    const claimed = await repo.claimDueDeliveries(this.db, this.settings.batchSize, leaseMs);
    const answers: (repo.AttemptOutcome & { id: string })[] = [];
    const released: string[] = [];
    let recording: Promise<void> = Promise.resolve();
    let recordFailure: unknown = null;
    let timer: NodeJS.Timeout | null = null;
    const record = () => {
      if (timer) clearTimeout(timer);
      timer = null;
      const batch = answers.splice(0);
      if (batch.length === 0) return;
      // In turn, never two at once; a failure is kept for the end (the deliveries are retried when their lease ends).
      recording = recording.then(() => repo.recordAttempts(this.db, batch)).catch((err) => void (recordFailure ??= err));
    };
    let next = 0;
    const sender = async () => {
      while (next < claimed.length) {
        const delivery = claimed[next++]!;
        const result: SendResult = this.stopped ? { statusCode: null, error: 'stopping' } : await this.send(delivery);
        if (this.stopped && result.error === 'stopping') released.push(delivery.id);
        else answers.push({ id: delivery.id, ...this.outcomeOf(delivery, result) });
        timer ??= setTimeout(record, RECORD_EVERY_MS);
      }
    };
    // A claim holds at most one delivery per endpoint and user (the earliest), so sending them side by side keeps each user's order.
    await Promise.all(Array.from({ length: Math.min(this.settings.concurrency, claimed.length) }, sender));
    record();
    await recording;
    await repo.releaseClaims(this.db, released);
    if (recordFailure) throw recordFailure;
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

  /**
   * The signer and parsed URL of a delivery's endpoint, made once per endpoint version rather than
   * per event (opening the secret may decrypt it; the signer decodes it).
   */
  private endpointOf(delivery: repo.ClaimedDelivery): { signer: Webhook; url: URL } {
    const key = `${delivery.url}\n${delivery.secret}`;
    let endpoint = this.endpoints.get(key);
    if (!endpoint) {
      endpoint = { signer: new Webhook(openSecret(delivery.secret, this.settings.secretKey)), url: new URL(delivery.url) };
      // Endpoints are few; an edited one leaves its old entry behind, so the map is emptied now and then.
      if (this.endpoints.size >= 100) this.endpoints.clear();
      this.endpoints.set(key, endpoint);
    }
    return endpoint;
  }

  /** One signed POST; never throws. A kept-alive connection the receiver closed meanwhile is replaced once. */
  private async send(delivery: repo.ClaimedDelivery): Promise<SendResult> {
    const result = await this.sendOnce(delivery);
    if (result.reusedConnectionReset && !this.stopped) return this.sendOnce(delivery);
    return result;
  }

  private async sendOnce(delivery: repo.ClaimedDelivery): Promise<SendResult & { reusedConnectionReset?: boolean }> {
    let endpoint: { signer: Webhook; url: URL };
    try {
      endpoint = this.endpointOf(delivery);
    } catch (err) {
      return { statusCode: null, error: (err as Error).message };
    }
    const { signer, url } = endpoint;
    const host = url.hostname.replace(/^\[|\]$/g, '');
    // An address written in the URL is connected to without a lookup, so it is checked here.
    if (!this.settings.allowPrivate && isIP(host) && isPrivateAddress(host)) {
      return { statusCode: null, error: `refused: ${host} is a private address (WEBHOOK_ALLOW_PRIVATE is off)` };
    }
    const body = JSON.stringify(delivery.payload);
    const timestamp = new Date();
    const signature = signer.sign(delivery.eventId, timestamp, body);
    let sent: ClientRequest | null = null;
    let answered = false;
    let reusedSocket = false;
    try {
      const statusCode = await new Promise<number>((resolve, reject) => {
        const https = url.protocol === 'https:';
        const req: ClientRequest = (https ? httpsRequest : httpRequest)(
          url,
          {
            method: 'POST',
            agent: https ? this.agents.https : this.agents.http,
            headers: {
              'content-type': 'application/json',
              'content-length': Buffer.byteLength(body),
              'user-agent': USER_AGENT,
              'webhook-id': delivery.eventId,
              'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
              'webhook-signature': signature,
            },
            lookup: guardedLookup(this.settings.allowPrivate),
            timeout: this.settings.timeoutMs,
          },
          (res: IncomingMessage) => {
            answered = true;
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
        sent = req;
        this.inFlight.add(req);
        req.on('error', (err) => {
          reusedSocket = req.reusedSocket;
          reject(err);
        });
        req.end(body);
      });
      return { statusCode, error: null };
    } catch (err) {
      if (err instanceof StoppingError) return { statusCode: null, error: 'stopping' };
      const e = err as NodeJS.ErrnoException;
      return {
        statusCode: null,
        error: (e.code ? `${e.code}: ` : '') + (e.message ?? String(err)).slice(0, 300),
        // Node's documented case: a kept-alive socket the server closed just as it was reused.
        reusedConnectionReset: !answered && reusedSocket && e.code === 'ECONNRESET',
      };
    } finally {
      if (sent) this.inFlight.delete(sent);
    }
  }
}
