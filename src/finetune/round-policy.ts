/**
 * RoundPolicy: *when* a fine-tuning round starts, and when its training pauses (docs/finetune.md §Triggers,
 * §Budget). Pure bookkeeping over counts and a clock, no I/O, so it is tested with a fake clock
 * (test/finetune/round-policy.test.ts); the Finetuner (finetuner.ts) asks it and runs what it decides.
 *
 *   every N new pixels ('pixels'), or N' = minPixels while a scan is flagged as not fitting ('ood')
 *   every T minutes when at least minPixels arrived ('time')
 *   at a replay's end on what the buffer holds, and again while the gate accepts ('end', after `drain`)
 *   never while a round runs, after close, or past maxRounds
 */
import type { Config } from '../config/schema.ts';
import type { RoundTrigger } from './versions.ts';

/** The settings the policy reads (`config.finetune`). */
export type RoundPolicyConfig = Pick<Config['finetune'], 'everyPixels' | 'minPixels' | 'everyMinutes' | 'maxRounds' | 'pauseQueueDepth'>;

/** What the replay buffer holds: pixels added since the last round, and pixels held in all. */
export interface BufferCounts {
  added: number;
  size: number;
}

/** What the drain at a replay's end does: start a round, wait for the running one, or nothing (and why). */
export type DrainDecision = 'start' | 'running' | 'none' | 'none-first';

/** A change to make to a training worker's pause flag at the current queue depth. */
export type LagAction = 'pause' | 'resume' | undefined;

/** The queue-depth rule (docs/finetune.md §Budget): pause above pauseQueueDepth, resume at or below half of it. */
export function lagAction(queueDepth: number, paused: boolean, pauseQueueDepth: number): LagAction {
  if (queueDepth > pauseQueueDepth && !paused) return 'pause';
  if (queueDepth <= pauseQueueDepth / 2 && paused) return 'resume';
  return undefined;
}

export class RoundPolicy {
  /** rounds started (failed ones included) */
  started = 0;
  /** true from `begin` to `end` */
  running = false;
  closed = false;
  /** set by `drain` (replay end): keep running rounds while the gate accepts them */
  private draining = false;
  /** whether the latest finished round was accepted */
  private lastAccepted = false;
  private lastRoundAt: number;
  private lastCollectingAt = Number.NEGATIVE_INFINITY;
  /** scans flagged as not fitting now: while any is, a round needs only minPixels new pixels */
  private readonly notFitting = new Set<string>();

  constructor(
    private readonly c: RoundPolicyConfig,
    private readonly now: () => number = Date.now,
  ) {
    this.lastRoundAt = now();
  }

  /** Pixels a round needs now: everyPixels, or minPixels while a scan does not fit the model. */
  get pixelsNeeded(): number {
    return this.notFitting.size > 0 ? Math.min(this.c.minPixels, this.c.everyPixels) : this.c.everyPixels;
  }

  /** The trigger a new encoded batch brings: 'ood' while a scan does not fit, else 'pixels'. */
  get pixelTrigger(): RoundTrigger {
    return this.notFitting.size > 0 ? 'ood' : 'pixels';
  }

  /** Record the fit check's verdict on a scan; true when the scan is flagged now (a round may start early). */
  setFit(scanId: string, flagged: boolean): boolean {
    if (flagged) this.notFitting.add(scanId);
    else this.notFitting.delete(scanId);
    return flagged;
  }

  /** Whether everyMinutes passed since the last round ended (or since start). */
  timeDue(): boolean {
    return this.now() - this.lastRoundAt >= this.c.everyMinutes * 60_000;
  }

  /** How often the time trigger is worth checking, in ms. */
  get timeCheckMs(): number {
    return Math.min(5000, this.c.everyMinutes * 60_000);
  }

  /** Whether a "collecting" status is due (at most one a second, and none while a round runs). */
  collectingDue(): boolean {
    if (this.running || this.now() - this.lastCollectingAt <= 1000) return false;
    this.lastCollectingAt = this.now();
    return true;
  }

  /**
   * Whether `trigger` starts a round now, given what the buffer holds: the trigger the round runs under (a pixel
   * trigger turns into 'end' while draining), or undefined when it does not start one.
   */
  decide(trigger: RoundTrigger, buf: BufferCounts): RoundTrigger | undefined {
    const c = this.c;
    if (this.closed || this.running) return undefined;
    if (c.maxRounds > 0 && this.started >= c.maxRounds) return undefined;
    if ((trigger === 'pixels' || trigger === 'ood') && buf.added < this.pixelsNeeded) {
      // a new pixel-triggered round waits for its pixels; only a drain goes on on what the buffer holds
      if (!(this.draining && this.lastAccepted)) return undefined;
      trigger = 'end';
    }
    if (trigger === 'time' && buf.added < c.minPixels) return undefined;
    if (trigger === 'end' && !(buf.added >= c.minPixels || (this.lastAccepted && buf.size >= c.minPixels))) return undefined;
    return trigger;
  }

  /** A round starts: its number (1, 2, …). */
  begin(): number {
    this.running = true;
    return ++this.started;
  }

  /** A round ended; `accepted` undefined when it failed outside its own error handling (the last verdict stands). */
  end(accepted: boolean | undefined): void {
    if (accepted !== undefined) this.lastAccepted = accepted;
    this.running = false;
    this.lastRoundAt = this.now();
  }

  /** The end of a replay: from now on rounds continue on the buffered pixels while the gate accepts them. */
  drain(buf: BufferCounts): DrainDecision {
    this.draining = true;
    if (this.running) return 'running'; // the chain continues from the running round's end
    if (buf.added < this.c.minPixels && !this.lastAccepted) return this.started === 0 ? 'none-first' : 'none';
    return 'start';
  }
}
