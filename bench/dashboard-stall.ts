/**
 * Does a dashboard client that stops reading slow ingest down? Prints ingest px/s in four phases:
 *   1. no client, 2. one healthy client, 3. the same client stalled for 30 s (its process SIGSTOPped: it reads
 *   nothing, the kernel buffers fill, the server's socket stops draining), 4. after it resumes.
 * Two ingest sources, both in the server's process and event loop as in the daemon:
 * - default: a SimReplayHub (simulator + preprocessing + ScanMaps, a DCT stand-in for the model) encodes batches of
 *   256 pixels back to back over a 64×64 scan rewound at its end: the server under the highest update rate;
 * - `--file F --bundle B`: the real daemon (Daemon + PipelineHub, onnxruntime with bundle B) replaying scan file F at
 *   pace max, e.g. after `node bin/loopstream.js simulate --rows 200 --cols 200 --out /tmp/stall.h5`.
 *
 *   node --import tsx bench/dashboard-stall.ts [--stall-s 30] [--phase-s 10] [--file F --bundle B]
 *
 * It prints numbers only; it asserts nothing (test/server/map-feed.test.ts covers the drop-to-latest logic).
 */
import { spawn } from 'node:child_process';
import { setImmediate as yieldLoop } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { DEFAULTS } from '../src/config/schema.ts';
import { startDashboardServer } from '../src/server/index.ts';
import { silentLogger } from '../src/util/log.ts';
import type { DashboardHub } from '../src/server/hub.ts';
import { SimReplayHub } from '../test/server/support/sim-replay-hub.ts';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

/** Child mode: a Socket.IO client that acks every map message and prints what it received. */
async function runClient(url: string): Promise<void> {
  const { io } = await import('socket.io-client');
  const socket = io(url, { transports: ['websocket'] });
  let messages = 0;
  let bytes = 0;
  const count = (w: { mu: ArrayBuffer | Uint8Array }, ack: () => void) => {
    messages++;
    bytes += w.mu.byteLength;
    ack();
  };
  socket.on('map:snapshot', count);
  socket.on('map:delta', count);
  socket.on('connect', () => process.stdout.write('connected\n'));
  setInterval(() => process.stdout.write(`client messages=${messages} muBytes=${bytes}\n`), 1000);
}

function strArg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
}

/** An ingest source the phases measure: pixels encoded so far, and how to stop. */
interface Ingest {
  label: string;
  hub: DashboardHub;
  encoded(): number;
  stop(): Promise<void>;
}

/** The SimReplayHub encoding back to back, yielding to the event loop between batches. */
function simIngest(): Ingest {
  const hub = new SimReplayHub({ rows: 64, cols: 64, seed: 5, anomalies: 2, batch: 256, tickMs: 1000 });
  let running = true;
  const loop = (async () => {
    while (running) {
      hub.step();
      if (hub.encodedTotal % hub.scanMaps.size === 0) hub.rewind();
      await yieldLoop();
    }
  })();
  return {
    label: 'in-process simulated replay (64x64, batches of 256 px, DCT stand-in model)',
    hub,
    encoded: () => hub.encodedTotal,
    async stop() {
      running = false;
      await loop;
    },
  };
}

/** The real daemon replaying `file` at pace max with `bundle`. */
async function daemonIngest(file: string, bundle: string): Promise<Ingest> {
  const { loadConfig } = await import('../src/config/load.ts');
  const { Daemon } = await import('../src/pipeline/daemon.ts');
  const { PipelineHub } = await import('../src/app/hub.ts');
  const { replayFile } = await import('../src/sources/hdf5/index.ts');
  const config = loadConfig(undefined, { 'model.bundle': bundle, 'data.dir': '/tmp/loopstream-stall-bench', 'alerts.enabled': false });
  const daemon = await Daemon.create(config, silentLogger, { source: 'replay', record: false });
  const hub = new PipelineHub(daemon);
  let encoded = 0;
  daemon.events$.subscribe((ev) => {
    if (ev.type === 'batch') encoded += ev.pixels;
  });
  const run = daemon.run(replayFile(file, { pace: { kind: 'max' }, scanId: 'stall-bench' }), { source: 'replay', file, record: false });
  return {
    label: `daemon replaying ${file} at pace max (bundle ${bundle}, batch.maxSize ${config.batch.maxSize})`,
    hub,
    encoded: () => encoded,
    async stop() {
      await daemon.close();
      await run.catch(() => undefined);
    },
  };
}

async function runBench(): Promise<void> {
  const stallS = arg('--stall-s', 30);
  const phaseS = arg('--phase-s', 10);
  const file = strArg('--file');
  const bundle = strArg('--bundle');
  const source = file && bundle ? await daemonIngest(file, bundle) : simIngest();
  const server = await startDashboardServer({ config: { server: { ...DEFAULTS.server, port: 0, maxDeltaHz: 10 } }, hub: source.hub, logger: silentLogger });

  const dropped = async () => (await server.metrics.droppedUpdates.get()).values[0]?.value ?? 0;
  const sent = async () => (await server.metrics.mapMessages.get()).values.reduce((s, v) => s + v.value, 0);
  async function phase(name: string, seconds: number): Promise<void> {
    const n0 = source.encoded();
    const d0 = await dropped();
    const s0 = await sent();
    const t0 = performance.now();
    let maxRss = 0;
    let minClients = server.clientCount();
    while (performance.now() - t0 < seconds * 1000) {
      await new Promise((r) => setTimeout(r, 250));
      maxRss = Math.max(maxRss, process.memoryUsage().rss);
      minClients = Math.min(minClients, server.clientCount());
    }
    const dt = (performance.now() - t0) / 1000;
    const pxps = (source.encoded() - n0) / dt;
    process.stdout.write(
      `${name.padEnd(28)} ingest ${pxps.toFixed(0).padStart(7)} px/s   map messages ${String((await sent()) - s0).padStart(4)}   ` +
        `dropped updates ${String((await dropped()) - d0).padStart(4)}   max RSS ${(maxRss / 2 ** 20).toFixed(0)} MiB   clients ≥ ${minClients}\n`,
    );
  }

  process.stdout.write(`dashboard stall bench: ${source.label}; maxDeltaHz 10, server ${server.url}\n`);
  await phase('no client', phaseS);
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--client', server.url], { stdio: ['ignore', 'pipe', 'inherit'] });
  let lastClientLine = '';
  child.stdout.on('data', (b: Buffer) => {
    lastClientLine = b.toString().trim().split('\n').at(-1) ?? lastClientLine;
  });
  while (server.clientCount() === 0) await new Promise((r) => setTimeout(r, 50));
  await phase('healthy client', phaseS);
  process.kill(child.pid!, 'SIGSTOP');
  await phase(`client stalled (${stallS} s)`, stallS);
  process.kill(child.pid!, 'SIGCONT');
  await phase('client resumed', phaseS);
  process.stdout.write(`${lastClientLine}\n`);
  child.kill('SIGTERM');
  await server.close();
  await source.stop();
}

const clientAt = process.argv.indexOf('--client');
if (clientAt > 0) await runClient(process.argv[clientAt + 1]);
else await runBench();
