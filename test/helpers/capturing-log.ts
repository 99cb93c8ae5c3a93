/** A real pino logger whose JSON lines a test can read back (`lines`, one object per line, in order). */
import { Writable } from 'node:stream';
import pino, { type Level } from 'pino';
import type { Logger } from '../../src/util/log.ts';

export function capturingLog(level: Level = 'info'): { log: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n')) if (l.trim()) lines.push(JSON.parse(l));
      done();
    },
  });
  return { log: pino({ level }, stream), lines };
}
