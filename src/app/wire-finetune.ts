/**
 * Wire background fine-tuning into a daemon: what live.ts and replay-run.ts call when `finetune.enabled` (or
 * `loopstream replay --finetune`) is set. Call it right after `Daemon.create`, before any source runs, so a
 * restarted daemon swaps in its latest accepted version before the first pixel.
 */
import type { Config } from '../config/schema.ts';
import type { Logger } from '../util/log.ts';
import { Finetuner, type FinetuneHost, type FinetuneStatusSink } from '../finetune/finetuner.ts';

/** Start fine-tuning for `daemon` (reporting to `hub`): `settle()`, `summary(ctx)`, `close()` (drops a running round). */
export async function wireFinetune(daemon: FinetuneHost, hub: FinetuneStatusSink, config: Config, log: Logger): Promise<Finetuner> {
  return Finetuner.create(daemon, hub, config, log);
}
