/**
 * TrainControl: the main thread's hold on a training worker, through a few integers in a SharedArrayBuffer.
 * The worker is inside a training loop and reads no messages until it ends, so pause/stop/CPU share are flags it
 * checks between batches; it sleeps with Atomics.wait (a blocking wait is allowed in worker threads and costs
 * no CPU), and the main thread wakes it with Atomics.notify.
 *
 * CPU share: after a batch that took `busy` ms the worker sleeps busy·(1 − share)/share ms, so over a round it
 * computes at most `share` of the time. Wall time is used as busy time because Node 20 has no per-thread CPU
 * clock; when other processes preempt the worker, wall > CPU and the worker sleeps more than it needs to (safe).
 */

const PAUSED = 0;
const STOP = 1;
const SHARE_PERMILLE = 2;
const SLEEP_SLOT = 3; // always 0: the worker waits on it to sleep a fixed time
const WAITING = 4; // 1 while the worker is actually blocked by a pause (worker writes, main reads)

/** Pause/stop/CPU-share flags shared by the main thread and one training worker. */
export class TrainControl {
  readonly buffer: SharedArrayBuffer;
  private readonly flags: Int32Array;
  /** seconds spent asleep for the CPU share (worker side) */
  throttledSeconds = 0;
  /** seconds spent paused (worker side) */
  pausedSeconds = 0;
  /** seconds spent computing batches (worker side) */
  busySeconds = 0;
  private lastWake = performance.now();

  constructor(bufferOrShare: SharedArrayBuffer | number) {
    this.buffer = typeof bufferOrShare === 'number' ? new SharedArrayBuffer(5 * Int32Array.BYTES_PER_ELEMENT) : bufferOrShare;
    this.flags = new Int32Array(this.buffer);
    if (typeof bufferOrShare === 'number') this.setCpuShare(bufferOrShare);
  }

  /** Share of one core the training thread may compute, (0, 1]. */
  setCpuShare(share: number): void {
    if (!(share > 0 && share <= 1)) throw new RangeError(`cpu share must be in (0, 1]; got ${share}`);
    Atomics.store(this.flags, SHARE_PERMILLE, Math.round(share * 1000));
  }

  get cpuShare(): number {
    return Atomics.load(this.flags, SHARE_PERMILLE) / 1000;
  }

  /** Ask the worker to wait after its current batch (ingest is lagging). */
  pause(): void {
    Atomics.store(this.flags, PAUSED, 1);
  }

  /** Let a paused worker go on. */
  resume(): void {
    Atomics.store(this.flags, PAUSED, 0);
    Atomics.notify(this.flags, PAUSED);
  }

  get paused(): boolean {
    return Atomics.load(this.flags, PAUSED) === 1;
  }

  /** Ask the worker to end its round after the current batch (and wake it if paused). */
  stop(): void {
    Atomics.store(this.flags, STOP, 1);
    this.resume();
  }

  get stopped(): boolean {
    return Atomics.load(this.flags, STOP) === 1;
  }

  /** True while the worker is blocked by a pause (not merely asked to pause). */
  get waiting(): boolean {
    return Atomics.load(this.flags, WAITING) === 1;
  }

  /**
   * Worker side, after each batch: sleep to keep to the CPU share, then wait while paused. Blocks the calling
   * thread; never call it on the main thread.
   */
  afterBatch(): void {
    const now = performance.now();
    const busyMs = now - this.lastWake;
    this.busySeconds += busyMs / 1000;
    const share = this.cpuShare;
    if (share < 1 && !this.stopped) {
      const sleepMs = (busyMs * (1 - share)) / share;
      Atomics.wait(this.flags, SLEEP_SLOT, 0, sleepMs);
      this.throttledSeconds += sleepMs / 1000;
    }
    if (this.paused && !this.stopped) {
      const t0 = performance.now();
      Atomics.store(this.flags, WAITING, 1);
      // Wake every 500 ms even without a notify, so a lost notify can never hang the worker.
      while (this.paused && !this.stopped) Atomics.wait(this.flags, PAUSED, 1, 500);
      Atomics.store(this.flags, WAITING, 0);
      this.pausedSeconds += (performance.now() - t0) / 1000;
    }
    this.lastWake = performance.now();
  }

  /** Worker side: start the busy clock (at the start of a round). */
  startClock(): void {
    this.lastWake = performance.now();
  }
}
