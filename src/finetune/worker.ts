/**
 * The fine-tuning worker thread's entry: receives `prepare` and `train` requests (messages.ts) one at a time and
 * answers `ready`, or progress, epoch, and `trained` or `failed`. TensorFlow.js runs here, so onnxruntime inference keeps the main
 * thread. Started by start-train-worker.ts.
 */
import { parentPort } from 'node:worker_threads';
import { initBackend } from '../model/backend.ts';
import type { FromWorker, ToWorker } from './messages.ts';
import { trainRound } from './train-round.ts';

const port = parentPort;
if (!port) throw new Error('src/finetune/worker.ts is a worker_threads entry; start it with startTrainWorker()');
const post = (m: FromWorker) => port.postMessage(m);
let queue: Promise<void> = Promise.resolve();

port.on('message', (msg: ToWorker) => {
  // Requests run one after another; the controller never sends a round before the previous one answered.
  queue = queue.then(() => {
    if (msg.type === 'prepare') return initBackend(msg.backend).then((backend) => post({ type: 'ready', backend }));
    return trainRound(msg, post).then(post, (err: Error & { code?: string }) =>
      post({ type: 'failed', round: msg.round, message: err.message, ...(err.code ? { code: err.code } : {}) }),
    );
  });
});
