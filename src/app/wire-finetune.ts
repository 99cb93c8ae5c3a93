/**
 * Wire background fine-tuning into a daemon: what live.ts and replay-run.ts call when `finetune.enabled` (or
 * `loopstream replay --finetune`) is set. Call it right after `Daemon.create`, before any source runs, so a
 * restarted daemon swaps in its latest accepted version before the first pixel. The one place the finetuner
 * subscribes to the daemon's events (encoded batches, the model-fit check).
 */
import type { Config } from '../config/schema.ts';
import type { Logger } from '../util/log.ts';
import { Subscription, type Observable } from 'rxjs';
import { guarded } from '../pipeline/fan-out.ts';
import type { FitVerdict } from '../pipeline/fit-monitor.ts';
import type { Encoded } from '../pipeline/model-encoder.ts';
import { Finetuner, type FinetuneStatusSink, type RoundHost } from '../finetune/finetuner.ts';

/** The parts of the daemon fine-tuning uses (pipeline/daemon.ts `Daemon` has them all). */
export interface FinetuneHost extends RoundHost {
  readonly encoder: { readonly encoded$: Observable<Encoded> };
  /** the model-fit check (pipeline/fit-monitor.ts): a scan flagged as not fitting starts a round at minPixels */
  readonly fit?: { readonly verdicts$: Observable<Pick<FitVerdict, 'ctx'> & { status: { flag: boolean } }> };
}

/** Start fine-tuning for `daemon` (reporting to `hub`): `settle()`, `summary(ctx)`, `close()` (drops a running round). */
export async function wireFinetune(daemon: FinetuneHost, hub: FinetuneStatusSink, config: Config, log: Logger): Promise<Finetuner> {
  const ft = await Finetuner.create(daemon, hub, config, log);
  // one Subscription for both streams, ended when the finetuner closes; a throwing handler is logged, never
  // stops ingest or the other subscribers (pipeline/fan-out.ts)
  const subs = new Subscription();
  subs.add(daemon.encoder.encoded$.subscribe(guarded(log, 'fine-tuning', ({ ctx, index }) => ft.encoded(ctx, index))));
  if (daemon.fit) subs.add(daemon.fit.verdicts$.subscribe(guarded(log, 'fine-tuning', ({ ctx, status }) => ft.fitChanged(ctx, status.flag))));
  ft.onClose(() => subs.unsubscribe());
  return ft;
}
