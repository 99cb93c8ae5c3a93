/**
 * The status channel on its own: where `auto` binds, and a real PUB → SUB round trip of `[kind][JSON]` messages
 * (zeromq.js on both ends, a real TCP socket).
 */
import * as zmq from 'zeromq';
import { describe, expect, it } from 'vitest';
import { StatusChannel, statusEndpointFor } from '../../src/sources/zmq-status.ts';
import { silentLogger } from '../../src/util/log.ts';

describe('status channel', () => {
  it('binds next to ingest by default, or where configured, or nowhere', () => {
    expect(statusEndpointFor({ endpoint: 'tcp://127.0.0.1:5555', mode: 'bind' })).toBe('tcp://127.0.0.1:5556');
    expect(statusEndpointFor({ endpoint: 'tcp://0.0.0.0:5555', mode: 'bind', statusEndpoint: 'auto' })).toBe('tcp://0.0.0.0:5556');
    expect(statusEndpointFor({ endpoint: 'tcp://127.0.0.1:*', mode: 'bind' })).toBe('tcp://127.0.0.1:*');
    expect(statusEndpointFor({ endpoint: 'tcp://127.0.0.1:65535', mode: 'bind' })).toBe('tcp://127.0.0.1:*');
    expect(statusEndpointFor({ endpoint: 'tcp://instrument-pc:7000', mode: 'connect' })).toBe('tcp://127.0.0.1:7001');
    expect(statusEndpointFor({ endpoint: 'ipc:///run/loopstream/ingest', mode: 'bind' })).toBe('ipc:///run/loopstream/ingest.status');
    expect(statusEndpointFor({ endpoint: 'tcp://127.0.0.1:5555', mode: 'bind', statusEndpoint: 'tcp://127.0.0.1:6000' })).toBe('tcp://127.0.0.1:6000');
    expect(statusEndpointFor({ endpoint: 'tcp://127.0.0.1:5555', mode: 'bind', statusEndpoint: '' })).toBeUndefined();
  });

  it('publishes [kind][JSON] messages a SUB client receives in order', async () => {
    const channel = await StatusChannel.bind('tcp://127.0.0.1:*', silentLogger);
    const sub = new zmq.Subscriber({ linger: 0 });
    sub.connect(channel.endpoint);
    sub.subscribe();
    try {
      const got: Array<[string, Record<string, unknown>]> = [];
      // PUB drops messages until the subscription arrives: publish until the first one is seen.
      const receiving = (async () => {
        for await (const [kind, json] of sub) {
          got.push([kind.toString(), JSON.parse(json.toString()) as Record<string, unknown>]);
          if (got.some(([k]) => k === 'finished')) return;
        }
      })();
      while (got.length === 0) {
        channel.publish('accepted', { scanId: 'probe' });
        await new Promise((r) => setTimeout(r, 50));
      }
      channel.publish('refused', { scanId: 's', seq: 3, code: 'LS_FRAME_ALL_NONFINITE', message: 'm' });
      channel.publish('finished', { scanId: 's', status: 'completed', encoded: 4 });
      await receiving;
      const rest = got.filter(([, m]) => m.scanId === 's');
      expect(rest.map(([k]) => k)).toEqual(['refused', 'finished']);
      expect(rest[0][1]).toMatchObject({ kind: 'refused', scanId: 's', seq: 3, code: 'LS_FRAME_ALL_NONFINITE', message: 'm' });
      expect(typeof rest[0][1].t).toBe('number');
      expect(rest[1][1]).toMatchObject({ kind: 'finished', status: 'completed', encoded: 4 });
    } finally {
      sub.close();
      await channel.close();
    }
  });

  it('refuses to bind an endpoint in use, naming it and the key', async () => {
    const first = await StatusChannel.bind('tcp://127.0.0.1:*', silentLogger);
    try {
      await expect(StatusChannel.bind(first.endpoint, silentLogger)).rejects.toThrow(/cannot bind the ZeroMQ status channel \(PUB\) to tcp:\/\/127\.0\.0\.1:\d+: Address already in use; set ingest\.statusEndpoint/);
    } finally {
      await first.close();
    }
  });
});
