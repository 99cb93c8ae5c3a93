/**
 * Wire background fine-tuning into a daemon: what live.ts and replay-run.ts call when `finetune.enabled` (or
 * `loopstream replay --finetune`) is set. Call it right after `Daemon.create`, before any source runs, so a
 * restarted daemon swaps in its latest accepted version before the first pixel. The one place the finetuner
 * subscribes to the daemon's events (encoded batches, the model-fit check).
 */
import type { Config } from '../config/schema.ts';
import type { Logger } from '../util/log.ts';
import type { EncodedListener } from '../pipeline/model-encoder.ts';
import type { ScanContext } from '../pipeline/scan-context.ts';
import { Finetuner, type FinetuneStatusSink, type RoundHost } from '../finetune/finetuner.ts';

/** The parts of the daemon fine-tuning uses (pipeline/daemon.ts `Daemon` has them all). */
export interface FinetuneHost extends RoundHost {
  readonly encoder: { onEncoded(fn: EncodedListener): () => void };
  /** the model-fit check (pipeline/fit-monitor.ts): a scan flagged as not fitting starts a round at minPixels */
  readonly fit?: { onChange(fn: (ctx: ScanContext, status: { flag: boolean }) => void): () => void };
}

/** Start fine-tuning for `daemon` (reporting to `hub`): `settle()`, `summary(ctx)`, `close()` (drops a running round). */
export async function wireFinetune(daemon: FinetuneHost, hub: FinetuneStatusSink, config: Config, log: Logger): Promise<Finetuner> {
  const ft = await Finetuner.create(daemon, hub, config, log);
  const offEncoded = daemon.encoder.onEncoded((ctx, index) => ft.encoded(ctx, index));
  const offFit = daemon.fit?.onChange((ctx, status) => ft.fitChanged(ctx, status.flag));
  ft.onClose(() => {
    offEncoded();
    offFit?.();
  });
  return ft;
}
