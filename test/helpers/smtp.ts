// A real SMTP server in the test process (the smtp-server package, on 127.0.0.1), for the mail
// delivery tests: it records every mail it accepts, parsed by mailparser, and can be stopped and
// started again on the same port, or made to refuse some recipients for good (550).
import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  to: string;
  parsed: ParsedMail;
  /** The session had been upgraded to TLS (STARTTLS) when the mail was sent. */
  secure: boolean;
}

export interface TestSmtpServer {
  /** The SMTP_URL of this server. */
  url: string;
  received: ReceivedMail[];
  /** Stops listening (connections are refused, as with a server that is down). */
  stop(): Promise<void>;
  /** Listens again, on the same port. */
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function startSmtpServer(
  options: {
    /** Offer STARTTLS (with smtp-server's self-signed certificate); the URL then accepts that certificate. */
    starttls?: boolean;
    /** Recipients answered `550` (a permanent refusal). */
    refuse?: (address: string) => boolean;
    /** How long the server takes to accept each mail. */
    delayMs?: number;
  } = {},
): Promise<TestSmtpServer> {
  const received: ReceivedMail[] = [];
  const make = () =>
    new SMTPServer({
      authOptional: true,
      disabledCommands: options.starttls ? [] : ['STARTTLS'],
      logger: false,
      onRcptTo(address, _session, callback) {
        if (options.refuse?.(address.address)) {
          const err = Object.assign(new Error('5.1.1 No such user here'), { responseCode: 550 });
          return callback(err);
        }
        callback();
      },
      onData(stream, session, callback) {
        simpleParser(stream)
          .then(async (parsed) => {
            if (options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs));
            for (const rcpt of session.envelope.rcptTo) received.push({ to: rcpt.address, parsed, secure: session.secure });
            callback();
          })
          .catch(callback);
      },
    });
  let server = make();
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve((server.server.address() as AddressInfo).port));
    });
  const port = await listen(0);
  let running = true;
  const stop = async () => {
    if (!running) return;
    running = false;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return {
    url: `smtp://127.0.0.1:${port}${options.starttls ? '?tls.rejectUnauthorized=false' : ''}`,
    received,
    stop,
    async start() {
      server = make();
      await listen(port);
      running = true;
    },
    close: stop,
  };
}
