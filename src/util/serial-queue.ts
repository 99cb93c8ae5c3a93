/**
 * A bounded first-in first-out queue drained by one async worker at a time: how a sink turns a synchronous
 * `deliver` into ordered background I/O without ever making the caller wait. Items beyond `capacity` are
 * dropped and counted (the pipeline must not grow memory because a consumer is down).
 */
export class SerialQueue<T> {
  private readonly items: T[] = [];
  private running: Promise<void> | undefined;
  /** items refused because the queue was full */
  dropped = 0;
  /** items the worker finished (successfully or not) */
  done = 0;

  constructor(
    private readonly capacity: number,
    private readonly worker: (item: T) => Promise<void>,
    private readonly onError: (err: unknown, item: T) => void,
  ) {}

  /** Items waiting (not counting the one in flight). */
  get length(): number {
    return this.items.length;
  }

  /** Queue an item; false (and counted) when full. Never waits. */
  push(item: T): boolean {
    if (this.items.length >= this.capacity) {
      this.dropped++;
      return false;
    }
    this.items.push(item);
    this.running ??= this.drain();
    return true;
  }

  /** Resolves when the queue is empty and nothing is in flight. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Forget every waiting item (the one in flight finishes); returns how many were dropped. */
  clear(): number {
    const n = this.items.length;
    this.items.length = 0;
    this.dropped += n;
    return n;
  }

  private async drain(): Promise<void> {
    // start on a later tick so push() returns before any I/O begins
    await Promise.resolve();
    try {
      for (let item = this.items.shift(); item !== undefined; item = this.items.shift()) {
        try {
          await this.worker(item);
        } catch (err) {
          this.onError(err, item);
        }
        this.done++;
      }
    } finally {
      this.running = undefined;
    }
  }
}

/** Wait for `p` at most `timeoutMs`; true when it settled in time. */
export async function settleWithin(p: Promise<unknown>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([p.then(() => true as const, () => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
