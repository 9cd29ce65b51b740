// bcrypt checks of imported (Supabase) password hashes, on worker threads. bcryptjs is pure
// JavaScript: on the main thread one check at cost 10 holds the event loop for a few hundred
// milliseconds, and every request of the process would wait behind a flood of them. Argon2id and
// scrypt run on libuv's pool for the same reason. The password-hashing queue decides how many run at once
// (passwords.ts); this module only keeps one idle worker per check that ran at the same time, so
// there are never more workers than the queue's concurrency.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

// The worker is plain CommonJS evaluated from this string, so it needs no TypeScript loader (tsx in
// production, vite under tests): it loads bcryptjs's CommonJS build by path.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const bcrypt = require(workerData.bcryptjs);
parentPort.on('message', ({ password, hash }) => {
  try {
    parentPort.postMessage({ matches: bcrypt.compareSync(password, hash) });
  } catch (err) {
    parentPort.postMessage({ error: String(err && err.message || err) });
  }
});
`;

const bcryptjsPath = createRequire(import.meta.url).resolve('bcryptjs');
const idle: Worker[] = [];

function startWorker(): Worker {
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { bcryptjs: bcryptjsPath } });
  // An idle worker does not keep the process alive (the server's shutdown, a CLI's exit); a busy one does.
  worker.unref();
  return worker;
}

/** Whether `password` matches the bcrypt `hash` (well-formed: passwords.ts checks it first). */
export function bcryptCompare(password: string, hash: string): Promise<boolean> {
  const worker = idle.pop() ?? startWorker();
  return new Promise<boolean>((resolve, reject) => {
    const settle = (done: () => void, reuse: boolean) => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
      worker.unref();
      if (reuse) idle.push(worker);
      else void worker.terminate();
      done();
    };
    const onMessage = (answer: { matches?: boolean; error?: string }) =>
      answer.error === undefined
        ? settle(() => resolve(answer.matches === true), true)
        : settle(() => reject(new Error(`bcrypt check failed: ${answer.error}`)), true);
    const onError = (err: Error) => settle(() => reject(err), false);
    const onExit = (code: number) => settle(() => reject(new Error(`bcrypt worker exited with code ${code}`)), false);
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
    worker.ref();
    worker.postMessage({ password, hash });
  });
}
