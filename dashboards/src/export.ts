/** Exports: the visible maps as one PNG, a clicked pixel's loops as CSV. */
import type { PixelDetail } from '../../src/server/hub.ts';

/** Trigger a browser download of `blob` as `name`. */
export function download(blob: Blob, name: string): void {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

/** Tile card canvases (each already titled and with its colour bar) into one PNG. */
export async function mapsPng(cards: HTMLCanvasElement[], header: string, perRow = 4): Promise<Blob> {
  const w = Math.max(...cards.map((c) => c.width));
  const h = Math.max(...cards.map((c) => c.height));
  const cols = Math.min(perRow, cards.length);
  const rows = Math.ceil(cards.length / cols);
  const out = document.createElement('canvas');
  out.width = cols * w;
  out.height = rows * h + 24;
  const g = out.getContext('2d')!;
  g.fillStyle = '#111418';
  g.fillRect(0, 0, out.width, out.height);
  g.fillStyle = '#e8e8e8';
  g.font = '13px sans-serif';
  g.fillText(header, 6, 16);
  cards.forEach((c, k) => g.drawImage(c, (k % cols) * w, 24 + Math.floor(k / cols) * h));
  return new Promise((resolve, reject) => out.toBlob((b) => (b ? resolve(b) : reject(new Error('PNG encoding failed'))), 'image/png'));
}

/** CSV of a pixel: one row per voltage step, input and reconstruction per channel (empty where not encoded). */
export function loopsCsv(p: PixelDetail): string {
  // the scan's own bias axis and unit (PixelDetail.voltage), never the model's grid
  const head = ['step', `voltage_${p.voltageUnit ?? 'V'}`];
  for (const ch of p.channels) head.push(`${ch.name}_input_${ch.unit || 'au'}`, `${ch.name}_reconstruction_${ch.unit || 'au'}`);
  const lines = [
    `# loopstream pixel scan=${p.scanId} row=${p.row} col=${p.col} version=${p.version} error=${p.error ?? ''}`,
    `# mu=${p.mu.join(' ')}`,
    head.join(','),
  ];
  for (let k = 0; k < p.voltage.length; k++) {
    const row: Array<string | number> = [k, p.voltage[k]];
    for (const ch of p.channels) row.push(ch.input[k] ?? '', ch.reconstruction ? ch.reconstruction[k] : '');
    lines.push(row.join(','));
  }
  return `${lines.join('\n')}\n`;
}
