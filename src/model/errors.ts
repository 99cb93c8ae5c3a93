/** Model-stage errors: one class per family, each with a fixed name and an LS_… code (docs/model.md lists fixes). */
import { CodedError } from '../util/coded-error.ts';

/** Closed set of reasons a model bundle is refused. */
export const BUNDLE_ERROR_CODES = ['LS_BUNDLE_MISSING', 'LS_BUNDLE_INVALID', 'LS_BUNDLE_MISMATCH'] as const;
export type BundleErrorCode = (typeof BUNDLE_ERROR_CODES)[number];

/** A bundle folder that cannot be used: missing files, bad JSON, or a shape that does not fit the scan. */
export class BundleError extends CodedError<BundleErrorCode> {
  override readonly name = 'BundleError';
  constructor(
    code: BundleErrorCode,
    message: string,
    readonly dir?: string,
  ) {
    super(code, message);
  }
}

/** Closed set of reasons inference cannot run. */
export const ENGINE_ERROR_CODES = ['LS_ENGINE_PROVIDER', 'LS_ENGINE_INPUT', 'LS_ENGINE_CLOSED'] as const;
export type EngineErrorCode = (typeof ENGINE_ERROR_CODES)[number];

/** An inference engine that cannot start or a call with a wrong input. */
export class EngineError extends CodedError<EngineErrorCode> {
  override readonly name = 'EngineError';
}

/**
 * Closed set of reasons a fine-tuning round or the version store fails (src/finetune). Declared here because the
 * model's own train-sample reader (train-sample.ts) raises LS_FINETUNE_SAMPLE too; src/finetune/errors.ts re-exports.
 */
export const FINETUNE_ERROR_CODES = ['LS_FINETUNE_NO_WEIGHTS', 'LS_FINETUNE_WORKER', 'LS_FINETUNE_VERSIONS', 'LS_FINETUNE_SAMPLE'] as const;
export type FinetuneErrorCode = (typeof FINETUNE_ERROR_CODES)[number];

/** A round that cannot run (no tfjs weights, worker died) or a version folder that cannot be read or written. */
export class FinetuneError extends CodedError<FinetuneErrorCode> {
  override readonly name = 'FinetuneError';
}
