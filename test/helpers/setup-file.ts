// Run before each test file (vitest's setupFiles). New password hashes take 1 MiB of Argon2id memory
// here, about 1 ms of CPU, instead of ours, 19 MiB (about 16 ms): the suite hashes hundreds of
// passwords where what is tested is not what a hash costs. A file whose subject is that cost (the
// hashing queue under a flood, the stored form and its rehash) calls setPasswordHashCostForTests()
// for ours. The processes the tests start (the gateway, the CLI) always hash at ours.
import { setPasswordHashCostForTests } from '../../src/users/passwords.js';

setPasswordHashCostForTests(1024);
