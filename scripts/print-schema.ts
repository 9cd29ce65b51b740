// `npm run schema`: rewrites schema.graphql from the code. A test fails while the two differ.
import { writeFileSync } from 'node:fs';
import { printContract } from '../src/schema/index.js';

writeFileSync(new URL('../schema.graphql', import.meta.url), printContract());
console.log('schema.graphql written');
