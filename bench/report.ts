/**
 * `node --import tsx bench/report.ts bench/results/<file>.json`: the Markdown tables of docs/performance.md,
 * generated from one results file so the document quotes the run exactly.
 */
import { readFileSync } from 'node:fs';

type Row = Record<string, unknown>;
const r = JSON.parse(readFileSync(process.argv[2] ?? '', 'utf8')) as Record<string, any>;

function md(rows: Row[]): string {
  if (!rows.length) return '(not measured)\n';
  const cols = Object.keys(rows[0]!);
  const cell = (v: unknown) => (v === undefined || v === null ? '–' : typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2)) : String(v));
  return [`| ${cols.join(' | ')} |`, `|${cols.map(() => '---').join('|')}|`, ...rows.map((x) => `| ${cols.map((c) => cell(x[c])).join(' | ')} |`)].join('\n') + '\n';
}

const out: string[] = [];
const m = r.machine;
out.push(`Run ${r.started}${r.quick ? ' (--quick)' : ''}, ${r.seconds} s. Machine: ${m.cpuModel} (family ${m.cpuFamily ?? '?'} model ${m.cpuModelNumber ?? '?'}, ${m.cpuMHz ?? '?'} MHz${m.virtualised ? ', virtual machine' : ''}), ${m.logicalCores} logical cores, ${m.memGiB} GiB, SIMD ${m.simdFlags.join(' ')}${m.hasAvx512f ? '' : ' (no AVX-512)'}; node ${m.node}, onnxruntime-node ${m.onnxruntime}, tfjs ${m.tfjs}. Load average (1/5/15 min) at start ${r.loadAtStart.join(' / ')}, at end ${r.loadAtEnd.join(' / ')}.\n`);
if (r.sgemm) out.push('### SGEMM\n', md(r.sgemm.map((s: any) => ({ shape: s.label ?? 'peak', 'm×n×k': `${s.m ?? s.n}×${s.n}×${s.k ?? s.n}`, threads: s.threads, kernel: s.core, OPENBLAS_CORETYPE: s.coreTypeEnv ?? '(detected)', 'best GFLOP/s': s.gflops, 'mean GFLOP/s': s.meanGflops, rounds: s.reps }))));
if (r.inference) {
  out.push('### Inference\n');
  out.push(md(r.inference.map((x: any) => ({ preset: x.preset, part: x.part, threads: x.threads, batch: x.batch, 'median ms': x.medianMs, 'seq/s': x.seqPerSec, 'GFLOP/s': x.gflops, '% of peak': x.pctPeak, 'CPU ms/call': x.cpuMs, 'seq/CPU-s': x.seqPerCpuSec, 'GFLOP/CPU-s': x.gflopsPerCpuSec, '% of 1-core peak': x.pctPeakCpu, load: x.load1 }))));
}
if (r.peer) {
  out.push('### PyTorch peer\n');
  for (const p of r.peer) out.push(`${p.preset}: PyTorch ${p.torch ?? '?'}, parity with onnxruntime on ${p.check?.n} inputs: max |Δμ| ${p.check?.muMaxAbsDiff?.toExponential(1)}, max |Δx̂| ${p.check?.reconMaxAbsDiff?.toExponential(1)} (tolerance 1e-4)${p.error ? `; ${p.error}` : ''}.\n`);
  out.push(md(r.peer.flatMap((p: any) => p.rows.map((x: any) => ({ preset: p.preset, part: x.part, threads: x.threads, batch: x.batch, 'median ms': x.medianMs, 'seq/s': x.seqPerSec, 'CPU ms/call': x.cpuMs, load: x.load1 })))));
  out.push('\nRatio (onnxruntime at its best thread count ÷ PyTorch at its best):\n\n', md(r.peerRatios));
}
if (r.stages) out.push('### Pipeline stages alone (edge, 2 threads)\n', md(r.stages.map((x: any) => ({ stage: x.stage, batch: x.batch, 'median ms': x.medianMs, 'µs per pixel': x.perPixelUs }))));
if (r.e2e) {
  out.push('### End to end\n');
  out.push(
    md(
      r.e2e.map((x: any) => ({
        scenario: x.scenario.label,
        pixels: x.pixels,
        'wall s': x.wallSeconds,
        'pipeline s': x.runSeconds,
        'px/s': x.pxPerSec,
        'CLI start s': x.startupSeconds,
        'client has all, s': x.clientAllSeconds,
        'latency p50/p99/max ms': x.latencyMs ? `${x.latencyMs.p50} / ${x.latencyMs.p99} / ${x.latencyMs.max}` : undefined,
        'steady p50/p99 ms': x.latencySteadyMs ? `${x.latencySteadyMs.p50} / ${x.latencySteadyMs.p99}` : undefined,
        'send→maps p50/p99 ms': x.latencySplitMs ? `${x.latencySplitMs.sendToMaps.p50} / ${x.latencySplitMs.sendToMaps.p99}` : undefined,
        'maps→client p50/p99 ms': x.latencySplitMs ? `${x.latencySplitMs.mapsToClient.p50} / ${x.latencySplitMs.mapsToClient.p99}` : undefined,
        'RSS MiB start/peak/end': x.rss.peakMiB ? (x.scenario.kind === 'cli' ? `– / ${x.rss.peakMiB} / –` : `${x.rss.startMiB} / ${x.rss.peakMiB} / ${x.rss.endMiB}`) : undefined,
        load: `${x.load1[0]} → ${x.load1[1]}`,
        error: x.error,
      })),
    ),
  );
  const withTenths = r.e2e.filter((x: any) => x.latencyByTenth);
  if (withTenths.length) out.push('\nLatency p50/p99 (ms) per tenth of each live run, in send order:\n\n', md(withTenths.map((x: any) => ({ scenario: x.scenario.label, ...Object.fromEntries(x.latencyByTenth.map((t: [number, number], i: number) => [`${i + 1}`, `${t[0]}/${t[1]}`])) }))));
  const withRss = r.e2e.filter((x: any) => x.rss?.series?.length > 2);
  if (withRss.length) out.push('\nRSS over time ([s, MiB], sampled every 0.5 s):\n\n', withRss.map((x: any) => `- ${x.scenario.label}: ${x.rss.series.map((p: number[]) => `[${p[0]}, ${p[1]}]`).join(' ')}`).join('\n') + '\n');
}
if (r.training) out.push('### Training (tfjs wasm)\n', md(r.training.map((t: any) => ({ preset: t.preset, backend: t.backend, batch: t.batch, samples: t.samples, 'samples/s': t.samplesPerSec, '≈ GFLOP/s': t.approxGflops, 'epoch s': t.epochSeconds, load: t.load1 }))));
if (r.finetuneRound) out.push(`\nFine-tuning round: ${JSON.stringify(r.finetuneRound)}\n`);
if (r.targets) out.push('### Targets\n', md(r.targets.map((t: any) => ({ ...t, met: t.met ? 'yes' : 'no' }))));
process.stdout.write(out.join('\n'));
