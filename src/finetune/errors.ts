/**
 * Fine-tuning errors: one class, a closed set of LS_FINETUNE_… codes (docs/finetune.md gives each a fix). Declared in
 * src/model/errors.ts (the model's train-sample reader raises one too, and model/ sits below finetune/).
 */
export { FINETUNE_ERROR_CODES, FinetuneError, type FinetuneErrorCode } from '../model/errors.ts';
