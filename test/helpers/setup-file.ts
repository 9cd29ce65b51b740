// Run before each test file (vitest's setupFiles). New password hashes cost scrypt N=2^10 here,
// about 1 ms of CPU, instead of ours, 2^15 (about 90 ms): the suite hashes hundreds of passwords
// where what is tested is not what a hash costs. A file whose subject is that cost (the hashing
// queue under a flood, the stored form and its rehash) calls setScryptCostForTests() for ours. The
// processes the tests start (the gateway, the CLI) always hash at ours.
import { setScryptCostForTests } from '../../src/users/passwords.js';

setScryptCostForTests(2 ** 10);
