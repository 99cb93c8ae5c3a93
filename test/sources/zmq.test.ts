import { firstValueFrom, take, toArray } from 'rxjs';
import * as zmq from 'zeromq';
import { afterEach, describe, expect, it } from 'vitest';
import { encodePixel, encodeStart, encodeStop } from '../../src/protocol/encode.ts';
import type { ScanEvent } from '../../src/protocol/events.ts';
import { zmqSource } from '../../src/sources/zmq.ts';
import { silentLogger } from '../../src/util/log.ts';
import { loopStart, loopValues } from '../helpers/scan.ts';

const start = loopStart();
const pixel = (seq: number) => encodePixel({ type: 'pixel', scanId: 's1', seq, row: Math.floor(seq / 4), col: seq % 4, t: seq }, loopValues(seq), start);
const cleanups: Array<() => void> = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

describe('ZeroMQ source (real sockets)', () => {
  for (const transport of ['tcp://127.0.0.1:*', `ipc:///tmp/loopstream-test-${process.pid}.sock`]) {
    it(`receives a scan over PULL on ${transport.split(':')[0]}, counts a malformed frame and reports a gap`, async () => {
      const src = zmqSource({ endpoint: transport, mode: 'bind', socket: 'pull', highWaterMark: 1000, pendingLimit: 100, log: silentLogger });
      const all = firstValueFrom(src.events$.pipe(take(12), toArray()));
      const endpoint = await src.ready;
      const push = new zmq.Push({ linger: 0 });
      cleanups.push(() => push.close());
      push.connect(endpoint);
      await push.send(encodeStart(start));
      for (let seq = 0; seq < 12; seq++) {
        if (seq === 5) continue; // forced gap
        if (seq === 7) await push.send([Buffer.from('pixel'), Buffer.from('{not json')]);
        await push.send(pixel(seq));
      }
      await push.send(encodeStop({ type: 'stop', scanId: 's1', status: 'completed', pixelsSent: 12, lastSeq: 11 }));
      const events: ScanEvent[] = await all;
      expect(events.map((e) => e.type)).toEqual(['start', 'pixel', 'pixel', 'pixel', 'pixel', 'pixel', 'gap', 'pixel', 'pixel', 'pixel', 'pixel', 'pixel']);
      expect(events[6]).toEqual({ type: 'gap', scanId: 's1', fromSeq: 5, toSeq: 5 });
      expect(src.rejects.toJSON()).toEqual({ LS_FRAME_JSON: 1 });
    });
  }

  it('receives over SUB from a PUB producer when configured as a monitor', async () => {
    const pub = new zmq.Publisher({ linger: 0 });
    cleanups.push(() => pub.close());
    await pub.bind('tcp://127.0.0.1:*');
    const src = zmqSource({ endpoint: pub.lastEndpoint!, mode: 'connect', socket: 'sub', highWaterMark: 1000, pendingLimit: 100, log: silentLogger });
    const got = firstValueFrom(src.events$.pipe(take(3), toArray()));
    await src.ready;
    // PUB drops until the subscription propagates: resend the start until the first event arrives.
    let seen = false;
    void got.then(() => (seen = true));
    for (let i = 0; i < 50 && !seen; i++) {
      await pub.send(encodeStart(start));
      await pub.send(pixel(0));
      await pub.send(pixel(1));
      await new Promise((r) => setTimeout(r, 50));
    }
    const events = await got;
    expect(events.map((e) => e.type)).toEqual(['start', 'pixel', 'pixel']);
  });
});
