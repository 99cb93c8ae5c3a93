/** Fine-tuning errors: one class, a closed set of LS_FINETUNE_… codes (docs/finetune.md gives each a fix). */
import { CodedError } from '../util/coded-error.ts';

/** Closed set of reasons a fine-tuning round or the version store fails. */
export const FINETUNE_ERROR_CODES = ['LS_FINETUNE_NO_WEIGHTS', 'LS_FINETUNE_WORKER', 'LS_FINETUNE_VERSIONS', 'LS_FINETUNE_SAMPLE'] as const;
export type FinetuneErrorCode = (typeof FINETUNE_ERROR_CODES)[number];

/** A round that cannot run (no tfjs weights, worker died) or a version folder that cannot be read or written. */
export class FinetuneError extends CodedError<FinetuneErrorCode> {
  override readonly name = 'FinetuneError';
}
