export * from './messages.ts';
export * from './errors.ts';
export * from './events.ts';
export * from './encode.ts';
export * from './decode.ts';
export * from './scan-tracker.ts';
