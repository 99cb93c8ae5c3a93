/** `npm start`'s command on a small grid: simulator and daemon in one process, through the full pipeline, to completion. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';

describe('loopstream demo (npm start)', () => {
  it('streams a simulated scan over ZeroMQ into the live daemon and encodes every pixel', { timeout: 180_000 }, async () => {
    const data = mkdtempSync(join(tmpdir(), 'ls-demo-'));
    const cli = runCli(['demo', '--rows', '10', '--cols', '10', '--rate', '400', '--port', '0', '--exit-when-done', '--set', `data.dir=${data}`, '--set', 'ingest.endpoint=tcp://127.0.0.1:*']);
    expect(await cli.exited).toBe(0);
    expect(cli.stdout[0]).toMatch(/^loopstream demo: dashboard at http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(cli.stdout[1]).toBe(`loopstream demo: scan sim-s1-10x10 complete: 100/100 pixels encoded, ${cli.logs.find((l) => l.msg === 'demo scan complete')?.alerts} alert(s), results in ${data}/sim-s1-10x10.results.h5`);
    expect(cli.logs.filter((l) => Number(l.level) >= 50)).toEqual([]);
  });
});
