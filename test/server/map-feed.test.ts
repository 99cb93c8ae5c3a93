import { describe, expect, it } from 'vitest';
import { MapFeed, MapReadCache, type FeedMessage } from '../../src/server/map-feed.ts';
import { applyDelta, fromWireDelta, fromWireSnapshot, toWireDelta, toWireSnapshot, type DecodedSnapshot } from '../../src/server/map-wire.ts';
import { encode, makeMaps } from './support/maps.ts';

/** A client that records what it was sent and acks only when told to (acks: pending callbacks). */
function fakeClient() {
  const sent: FeedMessage[] = [];
  const acks: Array<() => void> = [];
  let backlog = 0;
  return {
    sent,
    acks,
    setBacklog(n: number) {
      backlog = n;
    },
    transport: {
      send(m: FeedMessage, ack: () => void) {
        sent.push(m);
        acks.push(ack);
      },
      backlog: () => backlog,
    },
    ackAll() {
      while (acks.length) acks.shift()!();
    },
  };
}

/** The client's copy, built only from what it was sent (through the wire encoding, as the page does). */
function clientCopy(messages: FeedMessage[], latentDim: number): DecodedSnapshot | undefined {
  let copy: DecodedSnapshot | undefined;
  for (const m of messages) {
    if (m.kind === 'snapshot') copy = fromWireSnapshot(toWireSnapshot(m.snapshot));
    else if (copy) expect(applyDelta(copy, fromWireDelta(toWireDelta(m.delta), latentDim))).toBe(true);
  }
  return copy;
}

describe('MapFeed', () => {
  it('sends a snapshot first, then only the changed pixels, and nothing when nothing changed', () => {
    const maps = makeMaps('s1', 4, 5, 3);
    encode(maps, [0, 1], 1);
    const c = fakeClient();
    const feed = new MapFeed({ maps: () => maps, transport: c.transport, minIntervalMs: 100 });
    feed.select('s1');
    expect(feed.tick(0)).toBe('snapshot');
    const snap = c.sent[0];
    expect(snap.kind === 'snapshot' && snap.snapshot.encoded).toBe(2);
    c.ackAll();
    expect(feed.acknowledgedRevision).toBe(maps.revision);
    expect(feed.tick(1000)).toBe('idle');

    encode(maps, [7], 5);
    expect(feed.tick(1100)).toBe('delta');
    const d = c.sent[1];
    expect(d.kind).toBe('delta');
    if (d.kind !== 'delta') return;
    expect(Array.from(d.delta.index)).toEqual([7]);
    expect(Array.from(d.delta.mu)).toEqual([5, 5.1, 5.2].map(Math.fround));
    expect(d.delta.fromRevision).toBe(2);
    expect(d.delta.revision).toBe(3);
  });

  it('never sends two messages closer than minIntervalMs (≤ maxDeltaHz)', () => {
    const maps = makeMaps('s1', 10, 10, 2);
    const c = fakeClient();
    const feed = new MapFeed({ maps: () => maps, transport: c.transport, minIntervalMs: 100 });
    feed.select('s1');
    const sendTimes: number[] = [];
    // a pixel changes every 10 ms for 2 s and the client acks at once; ticks every 5 ms
    for (let t = 0; t <= 2000; t += 5) {
      if (t % 10 === 0) encode(maps, [(t / 10) % 100], t);
      const before = c.sent.length;
      feed.tick(t);
      if (c.sent.length > before) sendTimes.push(t);
      c.ackAll();
    }
    const gaps = sendTimes.slice(1).map((t, k) => t - sendTimes[k]);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(100);
    expect(sendTimes.length).toBe(21); // t = 0, 100, …, 2000
    // and the client ends with exactly the server's maps
    const copy = clientCopy(c.sent, 2)!;
    expect(copy.revision).toBe(maps.revision);
    expect(Array.from(copy.error)).toEqual(Array.from(maps.error));
  });

  it('drops to latest: a client that stops acking for 30 s gets nothing, is counted as dropping, then gets one delta with the newest values', () => {
    const maps = makeMaps('s1', 10, 10, 2);
    const c = fakeClient();
    let droppedMetric = 0;
    const feed = new MapFeed({ maps: () => maps, transport: c.transport, minIntervalMs: 100, onDropped: () => droppedMetric++ });
    feed.select('s1');
    feed.tick(0);
    c.ackAll(); // holds the empty snapshot
    encode(maps, [0, 1, 2], 1);
    expect(feed.tick(100)).toBe('delta'); // sent, never acked: the client stalls from here
    const stalledAt = c.sent.length;

    // 30 s of ingest: pixel 3 is rewritten every 50 ms (value = time), pixels 4.. fill in
    for (let t = 150; t <= 30_100; t += 50) {
      encode(maps, [3], t);
      if (t % 1000 === 0) encode(maps, [4 + t / 1000], -t);
      feed.tick(t);
    }
    expect(c.sent.length).toBe(stalledAt); // nothing more was sent while it stalled
    expect(feed.dropped).toBe(300); // one per 100 ms interval it could have been updated in, 130 ms … 30 100 ms
    expect(droppedMetric).toBe(feed.dropped);

    // it catches up: the old ack arrives, and the next tick brings it straight to the current state
    c.ackAll();
    expect(feed.tick(30_200)).toBe('delta');
    expect(c.sent.length).toBe(stalledAt + 1);
    const last = c.sent.at(-1)!;
    if (last.kind !== 'delta') throw new Error('expected a delta');
    expect(last.delta.revision).toBe(maps.revision);
    const k3 = Array.from(last.delta.index).indexOf(3);
    expect(last.delta.error[k3]).toBe(30_100); // the newest write of pixel 3, not any of the 600 before it
    expect(last.delta.index.length).toBe(1 + 30); // pixel 3 and pixels 5..34: each pixel once
    c.ackAll();
    const copy = clientCopy(c.sent, 2)!;
    expect(Array.from(copy.mu)).toEqual(Array.from(maps.mu));
    expect(Array.from(copy.state)).toEqual(Array.from(maps.state));
    expect(feed.tick(30_300)).toBe('idle');
  });

  it('treats a connection that is not draining (write backlog) like a missing ack', () => {
    const maps = makeMaps('s1', 4, 4, 2);
    const c = fakeClient();
    const feed = new MapFeed({ maps: () => maps, transport: c.transport, minIntervalMs: 100 });
    feed.select('s1');
    feed.tick(0);
    c.ackAll();
    c.setBacklog(3);
    encode(maps, [5], 2);
    expect(feed.tick(200)).toBe('dropped');
    expect(c.sent.length).toBe(1);
    c.setBacklog(0);
    expect(feed.tick(300)).toBe('delta');
  });

  it('sends a snapshot instead of a delta that touches most of the grid, and on resync', () => {
    const maps = makeMaps('s1', 4, 4, 2);
    const c = fakeClient();
    const feed = new MapFeed({ maps: () => maps, transport: c.transport, minIntervalMs: 100 });
    feed.select('s1');
    feed.tick(0);
    c.ackAll();
    encode(maps, Array.from({ length: 12 }, (_, i) => i), 3);
    expect(feed.tick(100)).toBe('snapshot');
    c.ackAll();
    encode(maps, [13], 4);
    expect(feed.tick(200)).toBe('delta');
    // the client lost track before acking: resync at once (not rate limited), and the late ack is ignored
    feed.resync();
    expect(feed.tick(201)).toBe('snapshot');
    c.acks[0](); // ack of the delta, arriving after the resync
    expect(feed.acknowledgedRevision).toBe(-1);
    c.ackAll();
    expect(feed.acknowledgedRevision).toBe(maps.revision);
  });

  it('switches scans on select and waits for a scan that does not exist yet', () => {
    const a = makeMaps('a', 2, 2, 2);
    const all = new Map([['a', a]]);
    const c = fakeClient();
    const feed = new MapFeed({ maps: (id) => all.get(id), transport: c.transport, minIntervalMs: 100 });
    feed.select('b');
    expect(feed.tick(0)).toBe('idle');
    all.set('b', makeMaps('b', 3, 3, 2));
    expect(feed.tick(10)).toBe('snapshot');
    const m = c.sent[0];
    expect(m.kind === 'snapshot' && m.snapshot.scanId).toBe('b');
    c.ackAll();
    feed.select('a');
    expect(feed.tick(20)).toBe('snapshot');
    expect(c.sent[1].kind === 'snapshot' && c.sent[1].snapshot.scanId).toBe('a');
  });

  it('reads the maps once per revision for clients in step, and again when they change', () => {
    const maps = makeMaps('s1', 6, 6, 2);
    const cache = new MapReadCache();
    const clients = [fakeClient(), fakeClient(), fakeClient()];
    const feeds = clients.map((c) => new MapFeed({ maps: () => maps, transport: c.transport, minIntervalMs: 100, cache }));
    for (const f of feeds) f.select('s1');
    for (const f of feeds) f.tick(0);
    expect(cache.reads).toBe(1); // one snapshot for three clients
    for (const c of clients) c.ackAll();
    encode(maps, [3, 4], 2);
    for (const f of feeds) f.tick(100);
    expect(cache.reads).toBe(2); // one delta for three clients
    const deltas = clients.map((c) => c.sent[1]);
    expect(deltas.every((m) => m.kind === 'delta' && Array.from(m.delta.index).join() === '3,4')).toBe(true);
    // a new revision invalidates the cached delta; a client that acks late but holds the same revision shares it
    clients[0].ackAll();
    clients[1].ackAll();
    encode(maps, [5], 3);
    feeds[0].tick(200);
    feeds[1].tick(200);
    expect(cache.reads).toBe(3);
    clients[2].ackAll();
    feeds[2].tick(250);
    expect(cache.reads).toBe(3);
    expect(clients.map((c) => c.sent.at(-1)!).every((m) => m.kind === 'delta' && Array.from(m.delta.index).join() === '5')).toBe(true);
    // the first client to catch up reads the next delta; the others, acking later from the same revision, reuse it
    clients[0].ackAll();
    encode(maps, [1], 4);
    feeds[0].tick(300);
    expect(cache.reads).toBe(4);
    feeds[1].tick(300); // its rev 3 delta is not acked yet: nothing is sent, nothing read
    expect(cache.reads).toBe(4);
    clients[1].ackAll();
    clients[2].ackAll();
    feeds[2].tick(400);
    expect(cache.reads).toBe(4); // rev 3 → 4: the delta feeds[0] read
    feeds[1].tick(400);
    expect(clients[1].sent.at(-1)!.kind === 'delta' && Array.from((clients[1].sent.at(-1) as { delta: { index: Uint32Array } }).delta.index)).toEqual([1]);
  });
});
