// Start-up only: configuration, database, migrations, the startup admin key, listen, signals.
import { ensureStartupKey } from './admin/keys.js';
import { createApp } from './app.js';
import { startRevocationFeed } from './changefeed/feed.js';
import { ConfigError, loadConfig } from './config.js';
import { openDatabase } from './db/client.js';
import { runMigrations } from './db/migrate.js';
import { loadLinkedDataFile } from './linked-data/index.js';
import { createHttpServer } from './http-server.js';
import { createMetricsApp } from './http/metrics-route.js';
import { createLogger } from './logger.js';
import { startMailDelivery } from './mail/delivery-worker.js';
import { createSmtpTransport } from './mail/mailer.js';
import { loadMailTemplates, MailTemplateError } from './mail/templates.js';
import { stopOnSignals } from './shutdown.js';
import { settleConfiguredUserIdFormat } from './users/ids.js';
import { SigningKeyUnreadableError } from './tokens/signing-keys.js';
import { createTokenKeys } from './tokens/tokens.js';

const logger = createLogger();

async function main() {
  const config = loadConfig();
  const database = await openDatabase(config.database, {
    ...config.db,
    onConnectionError: (err, state) => logger.warn({ err, state }, 'a PostgreSQL connection failed'),
  });
  await runMigrations(database);
  await settleConfiguredUserIdFormat(database.db, config.userIdFormat, (message) => logger.warn(message));
  // Before the startup key: a refused start must not create a key whose secret is never printed.
  const linkedData = config.linkedDataFile
    ? await loadLinkedDataFile(database.db, config.linkedDataFile).catch(async (err) => {
        await database.close();
        throw err;
      })
    : [];
  for (const t of linkedData.filter((t) => !t.indexed)) {
    logger.warn(`LINKED_DATA_FILE: no index starts with ${t.name}.${t.column}; counting and purging scan the whole table`);
  }
  // The signing key exists and opens (TOKEN_KEY_ENCRYPTION_SECRET) before any client is answered.
  await createTokenKeys(database.db, config.auth)
    .ready()
    .catch(async (err) => {
      await database.close();
      throw err;
    });
  const mailTemplates = await loadMailTemplates(config.mail.templatesDir).catch(async (err) => {
    await database.close();
    throw err instanceof MailTemplateError ? new ConfigError(err.message) : err;
  });
  const startupKey = await ensureStartupKey(database.db, config.adminApiKey);

  let shutdown: { isStopping: () => boolean } | undefined;
  const operations = { metricsRoute: config.metricsPort === null, isStopping: () => shutdown?.isStopping() ?? false };
  // Token and admin-key checks are cached per instance, kept exact by notifications from the database.
  const revocations = startRevocationFeed(database, logger);
  // Every instance delivers mail; without SMTP_URL, mail is only kept in mail_outbox.
  if (!config.mail.smtpUrl) logger.warn('SMTP_URL is not set: mail (sign-up confirmations, password resets) is kept in mail_outbox and not sent');
  const mailDelivery = startMailDelivery(database, logger, {
    transport: config.mail.smtpUrl ? createSmtpTransport(config.mail.smtpUrl) : null,
    from: config.mail.from,
  });
  const app = createApp({
    database,
    logger,
    mailTemplates,
    production: config.production,
    graphiql: config.graphiql,
    trustProxy: config.trustProxy,
    corsOrigins: config.corsOrigins,
    auth: config.auth,
    limits: config.limits,
    linkedData,
    revocations,
    webhooks: config.webhooks,
    ...operations,
  });
  const server = createHttpServer(app, config.http);
  await new Promise<void>((resolve) => server.listen(config.port, config.host, resolve));
  const metricsServer = config.metricsPort === null ? null : createHttpServer(createMetricsApp(), config.http);
  if (metricsServer) {
    await new Promise<void>((resolve) => metricsServer.listen(config.metricsPort!, config.host, resolve));
    logger.info({ port: config.metricsPort }, 'metrics served on their own port at /metrics');
  }
  shutdown = stopOnSignals({
    servers: metricsServer ? [server, metricsServer] : [server],
    closeDatabase: async () => {
      await app.stopBackgroundWork();
      await mailDelivery.stop();
      await revocations.close();
      await database.close();
    },
    logger,
    drainMs: config.shutdownDrainMs,
    graceMs: config.shutdownGraceMs,
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const shownHost = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  const where =
    config.database.kind === 'embedded' ? `embedded PostgreSQL in ${config.database.dataDir}` : 'PostgreSQL (DATABASE_URL)';
  logger.info({ port, database: config.database.kind }, `gateway listening on ${where}`);
  if (startupKey.kind === 'generated') {
    // Printed once: only its hash is stored.
    process.stdout.write(
      `\nNo admin key was configured, so one was created. It is shown only this once; keep it:\n\n  ${startupKey.secret}\n\n`,
    );
  }
  process.stdout.write(`GraphiQL: http://${shownHost}:${port}/graphql${config.graphiql ? '' : ' (GRAPHIQL=false: the API only)'}\n`);
  process.stdout.write(`Console:  http://${shownHost}:${port}/console\n`);
}

main().catch((err) => {
  if (err instanceof ConfigError || err instanceof SigningKeyUnreadableError) {
    process.stderr.write(`configuration error: ${err.message}\n`);
  } else {
    logger.error({ err }, 'the gateway could not start');
  }
  process.exit(1);
});
