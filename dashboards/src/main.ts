/**
 * The loopstream dashboard page: follows one scan's maps over Socket.IO (snapshot, then deltas it acks once drawn),
 * draws them with perceptually uniform colormaps, outlines alert regions, inspects clicked pixels and decodes
 * latent traversals. Event types come from src/server/events.ts, the wire decoding from src/server/map-wire.ts.
 */
import { io, type Socket } from 'socket.io-client';
import type { AlertJson } from '../../src/alerts/types.ts';
import type { ClientToServerEvents, Reply, ServerToClientEvents } from '../../src/server/events.ts';
import type { ModelInfo, PixelDetail, ScanInfo, TraversalResult } from '../../src/server/hub.ts';
import { applyDelta, fromWireDelta, fromWireSnapshot, type DecodedSnapshot } from '../../src/server/map-wire.ts';
import { cssColor } from './colormap.ts';
import { download, loopsCsv, mapsPng } from './export.ts';
import { LoopChart } from './loop-chart.ts';
import { MapView, fmt, type MapSpec, type Outline } from './map-view.ts';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

const token = new URLSearchParams(location.search).get('token') ?? undefined;
const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io({ auth: token ? { token } : {}, transports: ['websocket'] });

/** Everything the page holds; one object so the tests can read it (window.loopstream). */
const page = {
  maps: undefined as DecodedSnapshot | undefined,
  scans: [] as ScanInfo[],
  model: undefined as ModelInfo | undefined,
  /** alerts of the followed scan (drawn and listed) */
  alerts: [] as AlertJson[],
  /** latest alert list per scan: a list can arrive before the snapshot of a newly selected scan */
  alertsByScan: new Map<string, AlertJson[]>(),
  views: [] as MapView[],
  selected: undefined as { row: number; col: number } | undefined,
  pixel: undefined as PixelDetail | undefined,
  traversal: undefined as TraversalResult | undefined,
  /** scans this page started replays of: their failure is also put on the error line */
  replaysStarted: new Set<string>(),
  /** pixel size the map views were built with (rebuilt when the scan list brings another) */
  axesKey: '{}',
  snapshots: 0,
  deltas: 0,
  connects: 0,
};
(window as unknown as { loopstream: typeof page }).loopstream = page;

const charts = [new LoopChart($<HTMLCanvasElement>('chart-0'), 'piezoresponse', ''), new LoopChart($<HTMLCanvasElement>('chart-1'), 'resonance', '')];
/** per active latent channel, the small traversal chart under its map card */
const cardCharts = new Map<number, { canvas: HTMLCanvasElement; chart: LoopChart }>();

/** Active latent channels, by KL (largest first); all of them when the manifest names none. */
function activeChannels(): number[] {
  const info = page.model;
  if (!info) return [];
  return info.activeCount > 0 ? info.channelsByKl.slice(0, info.activeCount) : info.channelsByKl.slice();
}

const travCharts = [new LoopChart($<HTMLCanvasElement>('trav-0'), 'piezoresponse', ''), new LoopChart($<HTMLCanvasElement>('trav-1'), 'resonance', '')];

function showError(message: string): void {
  $('error-line').textContent = message;
}

// ---- connection ------------------------------------------------------------------------------------------------
socket.on('connect', () => {
  page.connects++;
  $('conn').textContent = 'connected';
  $('conn').className = '';
  document.body.dataset.connects = String(page.connects);
  showError('');
  loadReplayFiles();
});
socket.on('disconnect', (reason) => {
  $('conn').textContent = `disconnected (${reason}) – reconnecting`;
  $('conn').className = 'down';
  // a server-side disconnect is not retried by Socket.IO on its own; the daemon may be back in a moment
  if (reason === 'io server disconnect') setTimeout(() => socket.connect(), 1000);
});
socket.on('connect_error', (err) => {
  $('conn').textContent = `cannot connect: ${err.message}`;
  $('conn').className = 'down';
});
socket.on('server:hello', (hello) => {
  $('replay-start').toggleAttribute('disabled', !hello.replay);
});

// ---- maps ------------------------------------------------------------------------------------------------------
/** Maps shown, in order: state, error, then latent channels by KL (active ones, or all on demand). */
function mapSpecs(m: DecodedSnapshot): MapSpec[] {
  const d = m.latentDim;
  const specs: MapSpec[] = [
    { key: 'state', title: 'scan progress', colormap: 'state', value: () => 0 },
    // values are read from page.maps at draw time: a later snapshot of the same scan replaces it without a rebuild
    { key: 'error', title: 'reconstruction error (log scale)', colormap: 'magma', value: (i) => (page.maps ?? m).error[i], log: true },
  ];
  const order = page.model && page.model.channelsByKl.length === d ? page.model.channelsByKl : Array.from({ length: d }, (_, k) => k);
  const active = page.model && page.model.channelsByKl.length === d ? page.model.activeCount : d;
  const showAll = $<HTMLInputElement>('show-all').checked;
  // a bundle whose manifest names no active channels: show them all, by KL
  order.slice(0, showAll || active === 0 ? d : active).forEach((ch, rank) => {
    const kl = page.model?.klPerLatent[ch];
    const tag = active === 0 ? `#${rank + 1}` : rank < active ? 'active' : 'inactive';
    specs.push({
      key: `mu${ch}`,
      title: `μ${ch} (${tag}${kl !== undefined ? `, KL ${fmt(kl)}` : ''})`,
      colormap: 'viridis',
      value: (i) => (page.maps ?? m).mu[i * d + ch],
    });
  });
  return specs;
}

function buildViews(): void {
  const m = page.maps;
  const box = $('maps');
  box.replaceChildren();
  page.views = [];
  if (!m) return;
  const scale = Math.max(2, Math.floor(220 / Math.max(m.rows, m.cols)));
  const info = page.scans.find((s) => s.id === m.scanId);
  const axes = info?.pixelSize ? { pixelSize: info.pixelSize } : {};
  page.axesKey = JSON.stringify(axes);
  cardCharts.clear();
  const active = new Set(activeChannels());
  for (const spec of mapSpecs(m)) {
    const view = new MapView(spec, m.rows, m.cols, scale, inspect, axes);
    page.views.push(view);
    box.append(view.root);
    const ch = /^mu(\d+)$/.exec(spec.key);
    if (ch && active.has(Number(ch[1]))) {
      // the channel's latent traversal under its map (filled by "each active channel")
      // hidden until decoded, so the map grid stays compact
      const canvas = Object.assign(document.createElement('canvas'), { className: 'trav', width: Math.max(220, view.canvas.width), height: 150, hidden: true });
      view.root.append(canvas);
      cardCharts.set(Number(ch[1]), { canvas, chart: new LoopChart(canvas, `μ${ch[1]} traversal`, '', { legend: false }) });
    }
  }
}

let drawPending = false;
let pendingAcks: Array<() => void> = [];
/** Draw at the next frame and ack what was applied then: a hidden or busy tab acks late, and the server drops to latest. */
function scheduleDraw(ack?: () => void): void {
  if (ack) pendingAcks.push(ack);
  if (drawPending) return;
  drawPending = true;
  const run = () => {
    if (!drawPending) return;
    drawPending = false;
    drawAll();
    const acks = pendingAcks;
    pendingAcks = [];
    for (const a of acks) a();
  };
  requestAnimationFrame(run);
  setTimeout(run, 250); // headless or background tabs may not run animation frames
}

function drawAll(): void {
  const m = page.maps;
  if (!m) return;
  const outlines: Outline[] = page.alerts.filter((a) => a.scanId === m.scanId).map((a) => ({ id: a.id, pixels: a.pixels, closed: a.state === 'closed' }));
  for (const v of page.views) v.draw(m.state, outlines, page.selected);
  const n = m.rows * m.cols;
  $('bar-received').style.width = `${(100 * m.received) / n}%`;
  $('bar-encoded').style.width = `${(100 * m.encoded) / n}%`;
  $('progress-text').textContent =
    `${m.scanId}: ${m.encoded} encoded, ${m.received} received, ${m.missing} missing of ${n} pixels (${m.rows}×${m.cols}), revision ${m.revision}`;
  document.body.dataset.encoded = String(m.encoded);
  document.body.dataset.missing = String(m.missing);
  document.body.dataset.revision = String(m.revision);
}

socket.on('map:snapshot', (wire, ack) => {
  const m = fromWireSnapshot(wire);
  const regrid = !page.maps || page.maps.scanId !== m.scanId || page.maps.rows !== m.rows || page.maps.cols !== m.cols;
  const newScan = page.maps?.scanId !== m.scanId;
  page.maps = m;
  if (newScan) {
    page.selected = undefined;
    showAlerts(page.alertsByScan.get(m.scanId) ?? []);
  }
  page.snapshots++;
  if (regrid || page.views.length === 0) buildViews();
  syncScanSelect();
  scheduleDraw(ack);
});
socket.on('map:delta', (wire, ack) => {
  const m = page.maps;
  if (!m) {
    socket.emit('map:resync');
    ack?.();
    return;
  }
  const delta = fromWireDelta(wire, m.latentDim);
  if (!applyDelta(m, delta)) {
    // not on top of what we hold (a lost message, or another scan): start again from a snapshot
    socket.emit('map:resync');
    ack?.();
    return;
  }
  page.deltas++;
  scheduleDraw(ack);
});

// ---- scans, replays --------------------------------------------------------------------------------------------
function syncScanSelect(): void {
  const sel = $<HTMLSelectElement>('scan-select');
  const current = page.maps?.scanId;
  const options = page.scans.map((s) => {
    const o = document.createElement('option');
    o.value = s.id;
    const n = s.rows * s.cols;
    const state = s.failure ? `failed [${s.failure.code}]` : s.state;
    o.textContent = `${s.id} · ${s.source}${s.file ? ` ${s.file}` : ''} · ${state} · ${Math.round((100 * s.encoded) / n)}%`;
    return o;
  });
  sel.replaceChildren(...options);
  if (current) sel.value = current;
  showScanStatus();
}

/** Banners of the followed scan: why it failed, whether the model fits it, whether alerts run for it. */
function showScanStatus(): void {
  const id = page.maps?.scanId;
  const s = page.scans.find((x) => x.id === id);
  const failure = $('scan-failure');
  failure.hidden = !s?.failure;
  failure.textContent = s?.failure ? `${s.id} failed: [${s.failure.code}] ${s.failure.message}` : '';
  const ood = $('ood-banner');
  ood.hidden = !s?.ood?.flag;
  ood.textContent = s?.ood?.flag
    ? `model does not fit this scan (out of distribution)${s.ood.reasons.length ? `: ${s.ood.reasons.join('; ')}` : ''} — its maps are unreliable until the model is fine-tuned`
    : '';
  // an empty table reads as "no anomalies": when alerts do not run for this scan, say so and hide the table
  const off = s?.alerts && !s.alerts.enabled;
  $('alerts-off').hidden = !off;
  $('alerts-off').textContent = off ? `alerts off: ${s.alerts!.reason ?? 'no reason given'}` : '';
  $('alert-table').hidden = Boolean(off);
  document.body.dataset.alertsOff = off ? '1' : '';
  document.body.dataset.ood = s?.ood?.flag ? '1' : '';
  document.body.dataset.failure = s?.failure?.code ?? '';
}

socket.on('scan:list', (scans) => {
  page.scans = scans;
  for (const s of scans) {
    if (s.failure && page.replaysStarted.delete(s.id)) showError(`replay ${s.id} failed: [${s.failure.code}] ${s.failure.message}`);
  }
  const m = page.maps;
  const info = m && scans.find((s) => s.id === m.scanId);
  if (m && info && JSON.stringify(info.pixelSize ? { pixelSize: info.pixelSize } : {}) !== page.axesKey) {
    buildViews();
    scheduleDraw();
  }
  syncScanSelect();
});
$<HTMLSelectElement>('scan-select').addEventListener('change', (ev) => {
  socket.emit('scan:select', (ev.target as HTMLSelectElement).value);
});

function loadReplayFiles(): void {
  socket.emit('replay:list', (res) => {
    const sel = $<HTMLSelectElement>('replay-file');
    if (!res.ok) {
      sel.replaceChildren();
      sel.disabled = true;
      return;
    }
    sel.disabled = false;
    sel.replaceChildren(...res.value.map((f) => Object.assign(document.createElement('option'), { value: f, textContent: f })));
  });
}
$('replay-start').addEventListener('click', () => {
  const file = $<HTMLSelectElement>('replay-file').value;
  if (!file) return;
  socket.emit('replay:start', { file }, (res) => {
    if (!res.ok) showError(`[${res.code}] ${res.message}`);
    else page.replaysStarted.add(res.value);
  });
});

// ---- model, stats, alerts --------------------------------------------------------------------------------------
socket.on('model:info', (info) => {
  const reorder = !page.model || page.model.channelsByKl.join() !== info.channelsByKl.join() || page.model.activeCount !== info.activeCount;
  page.model = info;
  $('model-version').textContent = `v${info.version} · ${info.name} · ${info.activeCount} of ${info.latentDim} channels active`;
  const pct = info.finetune.progress !== undefined ? ` ${Math.round(info.finetune.progress * 100)}%` : '';
  $('finetune').textContent = `${info.finetune.state}${pct}${info.finetune.text ? ` – ${info.finetune.text}` : ''}`;
  const sel = $<HTMLSelectElement>('trav-latent');
  const keep = sel.value;
  sel.replaceChildren(
    ...info.channelsByKl.map((ch, rank) =>
      Object.assign(document.createElement('option'), { value: String(ch), textContent: `μ${ch}${rank < info.activeCount ? ' (active)' : ''}` }),
    ),
  );
  if (keep) sel.value = keep;
  const act = activeChannels();
  $('trav-count').textContent = `${act.length} active latent channel${act.length === 1 ? '' : 's'} (of ${info.latentDim}): ${act.map((c) => `μ${c}`).join(', ')}`;
  document.body.dataset.activeChannels = String(act.length);
  if (reorder && page.maps) {
    buildViews();
    scheduleDraw();
  }
});
$('show-all').addEventListener('change', () => {
  buildViews();
  scheduleDraw();
});

socket.on('stats:update', (s) => {
  $('stat-rate').textContent = `${s.ingestPxPerSec.toFixed(1)} px/s`;
  $('stat-lag').textContent = `${s.lagSec.toFixed(2)} s`;
  $('stat-queue').textContent = `${s.queueDepth} px`;
  $('stat-batch').textContent = `${s.batchLatencyMs.toFixed(1)} ms`;
  const rej = Object.entries(s.rejectedFrames);
  $('stat-rejected').textContent = rej.length ? rej.map(([c, n]) => `${c} ${n}`).join(', ') : '0';
  $('stat-halted').textContent = s.ingestHalted ?? 'running';
  $('stat-halted').style.color = s.ingestHalted ? '#d33' : '';
});

socket.on('alert:list', (list) => {
  page.alertsByScan.set(list.scanId, list.alerts);
  if (!page.maps || list.scanId === page.maps.scanId) showAlerts(list.alerts);
});

function showAlerts(alerts: AlertJson[]): void {
  page.alerts = alerts;
  const rows = alerts.map((a) => {
    const tr = document.createElement('tr');
    tr.className = a.state;
    tr.dataset.alertId = String(a.id);
    for (const cell of [a.id, a.state, a.reason, a.area, fmt(a.peakScore), `${a.bbox.rowMin}–${a.bbox.rowMax}`, `${a.bbox.colMin}–${a.bbox.colMax}`]) {
      tr.append(Object.assign(document.createElement('td'), { textContent: String(cell) }));
    }
    tr.addEventListener('click', () => inspect(Math.round((a.bbox.rowMin + a.bbox.rowMax) / 2), Math.round((a.bbox.colMin + a.bbox.colMax) / 2)));
    return tr;
  });
  $('alert-list').replaceChildren(...rows);
  document.body.dataset.alerts = String(alerts.length);
  scheduleDraw();
}

// ---- pixel inspection ------------------------------------------------------------------------------------------
const INPUT_COLOR = '#4cc9f0';
const RECON_COLOR = '#ff9f1c';

function inspect(row: number, col: number): void {
  const m = page.maps;
  if (!m) return;
  page.selected = { row, col };
  scheduleDraw();
  $('pixel-info').textContent = `pixel (${row}, ${col}) …`;
  socket.emit('pixel:get', { scanId: m.scanId, row, col }, (res) => {
    if (!res.ok) {
      $('pixel-info').textContent = `pixel (${row}, ${col}): ${res.message}`;
      return;
    }
    const p = res.value;
    page.pixel = p;
    const err = p.error === null ? 'not encoded yet' : `error ${fmt(p.error)}`;
    $('pixel-info').textContent = `pixel (${p.row}, ${p.col}) · ${err} · model v${p.version} · μ = [${p.mu.map(fmt).join(', ')}]`;
    p.channels.slice(0, 2).forEach((ch, k) => {
      const curves = [{ label: 'input', x: p.voltage, y: ch.input, color: INPUT_COLOR, points: true }];
      if (ch.reconstruction) curves.push({ label: 'reconstruction', x: p.voltage, y: ch.reconstruction, color: RECON_COLOR, points: false, dashed: true } as never);
      charts[k].set(curves, `${ch.name} (${p.row}, ${p.col})`, `${ch.name} (${ch.unit})`, `DC bias (${p.voltageUnit ?? 'V'})`);
    });
    $<HTMLButtonElement>('export-csv').disabled = false;
    document.body.dataset.pixel = `${p.row},${p.col}`;
    document.body.dataset.pixelCurves = String(charts[0].curveCount);
  });
}

$('export-csv').addEventListener('click', () => {
  const p = page.pixel;
  if (p) download(new Blob([loopsCsv(p)], { type: 'text/csv' }), `loopstream-${p.scanId}-r${p.row}-c${p.col}.csv`);
});
$('export-png').addEventListener('click', async () => {
  const m = page.maps;
  if (!m || page.views.length === 0) return;
  const blob = await mapsPng(page.views.map((v) => v.composite()), `${m.scanId} · revision ${m.revision} · ${m.encoded}/${m.rows * m.cols} encoded`);
  download(blob, `loopstream-${m.scanId}-rev${m.revision}.png`);
});

// ---- latent traversal ------------------------------------------------------------------------------------------
$('trav-go').addEventListener('click', () => {
  const m = page.maps;
  if (!m) return;
  const latent = Number($<HTMLSelectElement>('trav-latent').value || 0);
  const lo = Number($<HTMLInputElement>('trav-min').value);
  const hi = Number($<HTMLInputElement>('trav-max').value);
  const steps = Math.min(64, Math.max(2, Math.round(Number($<HTMLInputElement>('trav-steps').value))));
  const values = Array.from({ length: steps }, (_, k) => lo + ((hi - lo) * k) / (steps - 1));
  socket.emit('latent:traverse', { scanId: m.scanId, latent, values, base: page.selected }, (res) => {
    if (!res.ok) {
      $('trav-info').textContent = res.message;
      return;
    }
    const t = res.value;
    $('trav-info').textContent = `μ${t.latent} from ${fmt(lo)} to ${fmt(hi)}; others at ${page.selected ? `pixel (${page.selected.row}, ${page.selected.col})` : '0'} · model v${t.version}`;
    t.channels.slice(0, 2).forEach((ch, k) => {
      travCharts[k].set(
        ch.curves.map((y, j) => ({ label: `μ${t.latent}=${fmt(t.values[j])}`, x: t.voltage, y, color: cssColor('cividis', j / Math.max(1, ch.curves.length - 1)) })),
        `${ch.name} along μ${t.latent}`,
        `${ch.name} (${ch.unit})`,
        `DC bias (${t.voltageUnit ?? 'V'})`,
      );
    });
    page.traversal = t;
    document.body.dataset.traversal = String(t.values.length);
  });
});

/** Traversal values from the range inputs. */
function traversalValues(): number[] {
  const lo = Number($<HTMLInputElement>('trav-min').value);
  const hi = Number($<HTMLInputElement>('trav-max').value);
  const steps = Math.min(64, Math.max(2, Math.round(Number($<HTMLInputElement>('trav-steps').value))));
  return Array.from({ length: steps }, (_, k) => lo + ((hi - lo) * k) / (steps - 1));
}

// One traversal per active channel, drawn under that channel's map. One request at a time: the server decodes one
// request per page (LS_SERVER_BUSY otherwise), so they go in sequence.
$('trav-all').addEventListener('click', async () => {
  const m = page.maps;
  if (!m) return;
  const values = traversalValues();
  const channels = activeChannels();
  let done = 0;
  document.body.dataset.travAll = '0';
  for (const latent of channels) {
    const res = await new Promise<Reply<TraversalResult>>((resolve) =>
      socket.emit('latent:traverse', { scanId: m.scanId, latent, values, base: page.selected }, resolve),
    );
    if (!res.ok) {
      $('trav-info').textContent = `μ${latent}: ${res.message}`;
      break;
    }
    const t = res.value;
    const ch = t.channels[0];
    const card = cardCharts.get(latent);
    if (card) card.canvas.hidden = false;
    card?.chart.set(
      ch.curves.map((y, j) => ({ label: `μ${latent}=${fmt(t.values[j])}`, x: t.voltage, y, color: cssColor('cividis', j / Math.max(1, ch.curves.length - 1)) })),
      // small chart: the channel and unit go in the title, no y-axis title
      `μ${latent} ${fmt(values[0])}…${fmt(values[values.length - 1])}: ${ch.name} (${ch.unit})`,
      '',
      `DC bias (${t.voltageUnit ?? 'V'})`,
    );
    done++;
    document.body.dataset.travAll = String(done);
  }
});
