/**
 * The fine-tuning worker thread's entry: receives `train` requests (messages.ts) one at a time and answers with
 * progress, epoch, and `trained` or `failed`. TensorFlow.js runs here, so onnxruntime inference keeps the main
 * thread. Started by start-train-worker.ts.
 */
import { parentPort } from 'node:worker_threads';
import type { FromWorker, ToWorker } from './messages.ts';
import { trainRound } from './train-round.ts';

const port = parentPort;
if (!port) throw new Error('src/finetune/worker.ts is a worker_threads entry; start it with startTrainWorker()');
const post = (m: FromWorker) => port.postMessage(m);
let queue: Promise<void> = Promise.resolve();

port.on('message', (msg: ToWorker) => {
  // Rounds run one after another; the controller never sends a second before the first answered.
  queue = queue.then(() =>
    trainRound(msg, post).then(post, (err: Error & { code?: string }) =>
      post({ type: 'failed', round: msg.round, message: err.message, ...(err.code ? { code: err.code } : {}) }),
    ),
  );
});
