// Every SQL statement on gateway_secrets: secrets the gateway generates for itself once.
import { eq } from 'drizzle-orm';
import type { Executor } from '../db/client.js';
import { gatewaySecrets } from '../db/schema.js';

export async function insertGatewaySecretUnlessExists(ex: Executor, name: string, value: string): Promise<void> {
  await ex.insert(gatewaySecrets).values({ name, value }).onConflictDoNothing();
}

export async function findGatewaySecret(ex: Executor, name: string): Promise<string | null> {
  const [row] = await ex.select({ value: gatewaySecrets.value }).from(gatewaySecrets).where(eq(gatewaySecrets.name, name));
  return row?.value ?? null;
}
