// Files the gateway reads at run time, found from the code's own location. This module runs as
// src/assets.ts (tsx, vitest) or bundled into an entry point directly in dist/ (scripts/build.mjs):
// either way the folder above is the project, so the same paths hold for both.
import { fileURLToPath } from 'node:url';

const projectRoot = new URL('../', import.meta.url);

/** The migrations drizzle-kit generates (migrations/). */
export const migrationsFolder = fileURLToPath(new URL('migrations', projectRoot));

/** The console's static files (src/console/public/). */
export const consolePublicDir = fileURLToPath(new URL('src/console/public/', projectRoot));
