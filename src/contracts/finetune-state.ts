/**
 * States of background fine-tuning (src/finetune), as the dashboard, the /metrics gauge
 * (`loopstream_finetune_state`, one label value each) and the fine-tuner itself name them.
 * Browser-safe: no imports.
 */
export const FINETUNE_STATES = ['disabled', 'idle', 'collecting', 'training', 'gating', 'swapping', 'failed'] as const;
export type FinetuneState = (typeof FINETUNE_STATES)[number];
