import { describe, expectTypeOf, it } from 'vitest';
import type { Server } from 'socket.io';
import type { Socket } from 'socket.io-client';
import type { ClientToServerEvents, Reply, ServerToClientEvents, WireDelta, WireSnapshot } from '../../src/server/events.ts';
import type { PixelDetail, TraversalResult } from '../../src/server/hub.ts';

describe('event maps', () => {
  it('type both ends from one definition', () => {
    type DashServer = Server<ClientToServerEvents, ServerToClientEvents>;
    type DashClient = Socket<ServerToClientEvents, ClientToServerEvents>;
    // each end may only emit its own events, with their payloads (tsc fails on an unused @ts-expect-error)
    const misuse = (io: DashServer, page: DashClient) => {
      // @ts-expect-error a client event is not a server event
      io.emit('pixel:get', { scanId: 's', row: 0, col: 0 }, () => {});
      // @ts-expect-error the stats payload is LiveStats
      io.emit('stats:update', { ingest: 1 });
      // @ts-expect-error a server event is not a client event
      page.emit('map:delta');
      // @ts-expect-error scan:select takes a scan id
      page.emit('scan:select', 3);
      io.emit('scan:list', []);
      page.emit('map:resync');
    };
    expectTypeOf(misuse).toBeFunction();
    // map messages carry an ack (absent when broadcast through the Redis adapter); requests answer through a typed reply
    expectTypeOf<Parameters<ServerToClientEvents['map:delta']>>().toEqualTypeOf<[WireDelta, (() => void)?]>();
    expectTypeOf<Parameters<ServerToClientEvents['map:snapshot']>>().toEqualTypeOf<[WireSnapshot, (() => void)?]>();
    expectTypeOf<Parameters<Parameters<ClientToServerEvents['pixel:get']>[1]>[0]>().toEqualTypeOf<Reply<PixelDetail>>();
    expectTypeOf<Parameters<Parameters<ClientToServerEvents['latent:traverse']>[1]>[0]>().toEqualTypeOf<Reply<TraversalResult>>();
    // event names are noun:verb
    expectTypeOf<keyof ServerToClientEvents | keyof ClientToServerEvents>().toMatchTypeOf<`${string}:${string}`>();
  });
});
