/**
 * The page's requests (pixel inspection, latent traversal, replays), validated before they reach the hub and answered
 * with `Reply` values carrying an LS_SERVER_… code. Decoding shares the inference engine with ingest, so a page
 * has at most one pixel or traversal request running at a time.
 */
import type { Socket } from 'socket.io';
import type { Logger } from '../util/log.ts';
import type { ClientToServerEvents, Reply, ServerToClientEvents } from './events.ts';
import type { DashboardHub } from './hub.ts';

function fail<T>(code: string, message: string): Reply<T> {
  return { ok: false, code, message };
}

function busy<T>(): Reply<T> {
  return fail('LS_SERVER_BUSY', 'the previous pixel or traversal request of this page is still decoding; try again when it answers');
}

/**
 * A request handler whose failure is logged and answered, never left as a rejected promise: Socket.IO does not await
 * listeners, so an async listener that throws would be an unhandled rejection, which ends the process.
 */
function guarded<A extends unknown[]>(log: Logger, event: string, code: string, fn: (...args: A) => Promise<void>): (...args: A) => void {
  return (...args: A) => {
    fn(...args).catch((err: unknown) => {
      log.error({ err, event }, 'dashboard request handler failed');
      const reply = args[args.length - 1];
      if (typeof reply === 'function') {
        try {
          (reply as (r: Reply<never>) => void)(fail(code, `${event} failed on the server: ${(err as Error)?.message ?? String(err)}`));
        } catch {
          // the client is gone
        }
      }
    });
  };
}

/** Register the request handlers of one connection; `onReplay` is told the scan a replay started (to follow it). */
export function answerRequests(
  socket: Socket<ClientToServerEvents, ServerToClientEvents>,
  hub: DashboardHub,
  log: Logger,
  hooks: { onReplay: (scanId: string) => void },
): void {
  const state = { decoding: false };
  socket.on('pixel:get', guarded(log, 'pixel:get', 'LS_SERVER_PIXEL', async (req, reply) => {
    if (typeof reply !== 'function') return;
    const { scanId, row, col } = req ?? ({} as never);
    const maps = typeof scanId === 'string' ? hub.maps(scanId) : undefined;
    if (!maps) return reply(fail('LS_SERVER_SCAN', `scan ${String(scanId)} is not known to this daemon`));
    if (!Number.isInteger(row) || !Number.isInteger(col) || row < 0 || col < 0 || row >= maps.rows || col >= maps.cols) {
      return reply(fail('LS_SERVER_PIXEL', `pixel (${String(row)}, ${String(col)}) is outside scan ${scanId}'s ${maps.rows}x${maps.cols} grid`));
    }
    if (state.decoding) return reply(busy());
    state.decoding = true;
    try {
      const detail = await hub.pixel(scanId, row, col);
      reply(detail ? { ok: true, value: detail } : fail('LS_SERVER_PIXEL', `pixel (${row}, ${col}) of scan ${scanId} has not been received yet`));
    } catch (err) {
      log.warn({ err, scanId, row, col }, 'pixel inspection failed');
      reply(fail('LS_SERVER_PIXEL', `pixel (${row}, ${col}) of scan ${scanId}: ${(err as Error).message}`));
    } finally {
      state.decoding = false;
    }
  }));
  socket.on('latent:traverse', guarded(log, 'latent:traverse', 'LS_SERVER_TRAVERSE', async (req, reply) => {
    if (typeof reply !== 'function') return;
    const info = hub.model();
    const values = req?.values;
    if (!Number.isInteger(req?.latent) || req.latent < 0 || req.latent >= info.latentDim) {
      return reply(fail('LS_SERVER_TRAVERSE', `latent ${String(req?.latent)} is not a channel of the ${info.latentDim}-d model`));
    }
    if (!Array.isArray(values) || values.length < 1 || values.length > 64 || !values.every((v) => Number.isFinite(v))) {
      return reply(fail('LS_SERVER_TRAVERSE', `traversal values must be 1 to 64 finite numbers; got ${Array.isArray(values) ? values.length : typeof values}`));
    }
    if (state.decoding) return reply(busy());
    state.decoding = true;
    try {
      reply({ ok: true, value: await hub.traverse(req) });
    } catch (err) {
      log.warn({ err, latent: req.latent }, 'latent traversal failed');
      reply(fail('LS_SERVER_TRAVERSE', `latent ${req.latent} traversal: ${(err as Error).message}`));
    } finally {
      state.decoding = false;
    }
  }));
  socket.on('replay:list', guarded(log, 'replay:list', 'LS_SERVER_REPLAY', async (reply) => {
    if (typeof reply !== 'function') return;
    if (!hub.replayFiles) return reply(fail('LS_SERVER_REPLAY', 'this daemon does not offer replays'));
    try {
      reply({ ok: true, value: await hub.replayFiles() });
    } catch (err) {
      reply(fail('LS_SERVER_REPLAY', (err as Error).message));
    }
  }));
  socket.on('replay:start', guarded(log, 'replay:start', 'LS_SERVER_REPLAY', async (req, reply) => {
    if (typeof reply !== 'function') return;
    if (!hub.replay) return reply(fail('LS_SERVER_REPLAY', 'this daemon does not offer replays'));
    if (typeof req?.file !== 'string' || req.file.length === 0) return reply(fail('LS_SERVER_REPLAY', 'replay:start needs a file name'));
    try {
      const scanId = await hub.replay(req.file);
      log.info({ file: req.file, scanId, client: socket.id }, 'replay started from the dashboard');
      hooks.onReplay(scanId);
      reply({ ok: true, value: scanId });
    } catch (err) {
      const e = err as Error & { code?: string };
      reply(fail(e.code ?? 'LS_SERVER_REPLAY', e.message));
    }
  }));
}
