/**
 * One map card: the map drawn pixel-exact into an offscreen canvas (one pixel per scan pixel), scaled up without
 * smoothing into the visible canvas, alert regions outlined and the selected pixel marked on top, and a colour bar
 * with its value range underneath.
 */
import { colorLimits, colorPosition, type ColorLimits } from './color-limits.ts';
import { cssColor, lut, type ColormapName } from './colormap.ts';

/** Pixel state codes (src/maps/scan-maps.ts PIXEL_*; copied as values so the page bundle stays small). */
export const PENDING = 0;
export const DONE = 1;
export const MISSING = 2;
export const RECEIVED = 3;

/** Colours of pixels without a value. */
const EMPTY_RGB = [30, 30, 36];
const RECEIVED_RGB = [70, 70, 96];
const MISSING_RGB = [230, 36, 94];
const NAN_RGB = [110, 110, 110];
/** Outline colours of open and closed alert regions. */
export const OPEN_OUTLINE = '#ff9f1c';
export const CLOSED_OUTLINE = '#e0e0e0';

/** What a card shows: per-pixel values (NaN = none) or the state map. */
export interface MapSpec {
  key: string;
  title: string;
  colormap: ColormapName | 'state';
  /** value of pixel i */
  value: (i: number) => number;
  /** colour on a log10 scale (values spanning decades, like the reconstruction error) */
  log?: boolean;
}

/** Physical size of one pixel, when the scan gives it (start header `pixelSize`). */
export interface MapAxes {
  pixelSize?: { value: number; unit: string };
}

/** The axis line under a map: pixel indices, and the physical extent when the pixel size is known. */
export function axesText(rows: number, cols: number, axes: MapAxes): string {
  const px = `x: column 0–${cols - 1}, y: row 0–${rows - 1} (origin top left)`;
  const s = axes.pixelSize;
  if (!s || !(s.value > 0)) return px;
  return `${px} · ${fmt(cols * s.value)} × ${fmt(rows * s.value)} ${s.unit} (${fmt(s.value)} ${s.unit}/pixel)`;
}

/** An alert region to outline. */
export interface Outline {
  id: number;
  pixels: ArrayLike<number>;
  closed: boolean;
}

/** One map card in the grid. */
export class MapView {
  readonly root: HTMLElement;
  readonly canvas: HTMLCanvasElement;
  private readonly bar: HTMLCanvasElement;
  private readonly range: HTMLElement;
  private readonly off: HTMLCanvasElement;
  private image: ImageData;
  /** value range of the last draw */
  min = Number.NaN;
  max = Number.NaN;
  /** colour limits of the last draw (robust: 1st–99th percentile) */
  limits: ColorLimits | undefined;
  /** pixels drawn with a value at the last draw */
  filled = 0;

  constructor(
    readonly spec: MapSpec,
    readonly rows: number,
    readonly cols: number,
    scale: number,
    onClick: (row: number, col: number) => void,
    readonly axes: MapAxes = {},
  ) {
    this.root = document.createElement('figure');
    this.root.className = 'map-card';
    this.root.dataset.key = spec.key;
    const caption = document.createElement('figcaption');
    caption.textContent = spec.title;
    this.canvas = document.createElement('canvas');
    this.canvas.width = cols * scale;
    this.canvas.height = rows * scale;
    this.canvas.className = 'map';
    this.canvas.title = `${spec.title}: click a pixel to inspect its loops`;
    this.canvas.addEventListener('click', (ev) => {
      const rect = this.canvas.getBoundingClientRect();
      const col = Math.floor(((ev.clientX - rect.left) / rect.width) * cols);
      const row = Math.floor(((ev.clientY - rect.top) / rect.height) * rows);
      if (row >= 0 && row < rows && col >= 0 && col < cols) onClick(row, col);
    });
    this.bar = document.createElement('canvas');
    this.bar.className = 'colorbar';
    this.bar.width = cols * scale;
    this.bar.height = 10;
    this.canvas.addEventListener('mousemove', (ev) => {
      const rect = this.canvas.getBoundingClientRect();
      const col = Math.floor(((ev.clientX - rect.left) / rect.width) * cols);
      const row = Math.floor(((ev.clientY - rect.top) / rect.height) * rows);
      const s = this.axes.pixelSize;
      const where = s && s.value > 0 ? ` = (${fmt(col * s.value)}, ${fmt(row * s.value)}) ${s.unit}` : '';
      this.canvas.title = `${spec.title}: row ${row}, column ${col}${where}; click to inspect its loops`;
    });
    this.range = document.createElement('div');
    this.range.className = 'range';
    const axisLine = document.createElement('div');
    axisLine.className = 'axes';
    axisLine.textContent = axesText(rows, cols, axes);
    this.root.append(caption, this.canvas, this.bar, this.range, axisLine);
    this.off = document.createElement('canvas');
    this.off.width = cols;
    this.off.height = rows;
    this.image = new ImageData(cols, rows);
    this.drawBar();
  }

  private drawBar(): void {
    const g = this.bar.getContext('2d')!;
    const w = this.bar.width;
    if (this.spec.colormap === 'state') {
      const parts: Array<[string, number[]]> = [['pending', EMPTY_RGB], ['received', RECEIVED_RGB], ['encoded', [68, 170, 110]], ['missing', MISSING_RGB]];
      parts.forEach(([, rgb], k) => {
        g.fillStyle = `rgb(${rgb.join(',')})`;
        g.fillRect((k * w) / parts.length, 0, w / parts.length, this.bar.height);
      });
      return;
    }
    for (let x = 0; x < w; x++) {
      g.fillStyle = cssColor(this.spec.colormap, x / (w - 1));
      g.fillRect(x, 0, 1, this.bar.height);
    }
  }

  /** Redraw from the current state; `outlines` are alert regions, `selected` the inspected pixel. */
  draw(state: Uint8Array, outlines: Outline[], selected: { row: number; col: number } | undefined): void {
    const n = this.rows * this.cols;
    const px = this.image.data;
    const isState = this.spec.colormap === 'state';
    let limits: ColorLimits | undefined;
    if (!isState) {
      const drawn: number[] = [];
      for (let i = 0; i < n; i++) if (state[i] === DONE) drawn.push(this.spec.value(i));
      limits = colorLimits(drawn, { log: this.spec.log });
    }
    const table = isState ? undefined : lut(this.spec.colormap as ColormapName);
    let filled = 0;
    for (let i = 0; i < n; i++) {
      const s = state[i];
      let r: number, g: number, b: number;
      if (s === DONE) {
        filled++;
        if (isState) {
          [r, g, b] = [68, 170, 110];
        } else {
          const t = colorPosition(this.spec.value(i), limits!);
          if (Number.isFinite(t)) {
            const k = Math.round(t * 255) * 3;
            r = table![k];
            g = table![k + 1];
            b = table![k + 2];
          } else {
            [r, g, b] = NAN_RGB;
          }
        }
      } else if (s === MISSING) {
        [r, g, b] = MISSING_RGB;
      } else if (s === RECEIVED) {
        [r, g, b] = RECEIVED_RGB;
      } else {
        [r, g, b] = EMPTY_RGB;
      }
      const o = i * 4;
      px[o] = r;
      px[o + 1] = g;
      px[o + 2] = b;
      px[o + 3] = 255;
    }
    this.filled = filled;
    this.limits = limits;
    this.min = limits && limits.n > 0 ? limits.min : Number.NaN;
    this.max = limits && limits.n > 0 ? limits.max : Number.NaN;
    this.root.dataset.lo = limits ? String(limits.lo) : '';
    this.root.dataset.hi = limits ? String(limits.hi) : '';
    this.off.getContext('2d')!.putImageData(this.image, 0, 0);
    const ctx = this.canvas.getContext('2d')!;
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(this.off, 0, 0, this.canvas.width, this.canvas.height);
    this.drawOutlines(ctx, outlines);
    if (selected) {
      const sx = this.canvas.width / this.cols;
      const sy = this.canvas.height / this.rows;
      ctx.strokeStyle = '#ffffff';
      ctx.lineWidth = 2;
      ctx.strokeRect(selected.col * sx - 1, selected.row * sy - 1, sx + 2, sy + 2);
    }
    this.root.dataset.filled = String(filled);
    this.range.textContent = isState
      ? 'pending · received · encoded · missing'
      : limits && limits.n > 0
        ? `${fmt(limits.lo)} … ${fmt(limits.log ? Math.sqrt(limits.lo * limits.hi) : (limits.lo + limits.hi) / 2)} … ${fmt(limits.hi)}${limits.log ? ' (log)' : ''} · 1–99th pct of ${fmt(limits.min)} … ${fmt(limits.max)}`
        : 'no values yet';
  }

  /** Outline each region along the edges between its pixels and the rest. */
  private drawOutlines(ctx: CanvasRenderingContext2D, outlines: Outline[]): void {
    if (outlines.length === 0) return;
    const sx = this.canvas.width / this.cols;
    const sy = this.canvas.height / this.rows;
    const mask = new Uint8Array(this.rows * this.cols);
    for (const o of outlines) {
      mask.fill(0);
      for (let k = 0; k < o.pixels.length; k++) mask[o.pixels[k]] = 1;
      ctx.beginPath();
      for (let k = 0; k < o.pixels.length; k++) {
        const i = o.pixels[k];
        const r = Math.floor(i / this.cols);
        const c = i % this.cols;
        const x = c * sx;
        const y = r * sy;
        if (r === 0 || !mask[i - this.cols]) (ctx.moveTo(x, y), ctx.lineTo(x + sx, y));
        if (r === this.rows - 1 || !mask[i + this.cols]) (ctx.moveTo(x, y + sy), ctx.lineTo(x + sx, y + sy));
        if (c === 0 || !mask[i - 1]) (ctx.moveTo(x, y), ctx.lineTo(x, y + sy));
        if (c === this.cols - 1 || !mask[i + 1]) (ctx.moveTo(x + sx, y), ctx.lineTo(x + sx, y + sy));
      }
      // solid and opaque, so the outline reads the same over any colormap (and a test can find its colour)
      ctx.strokeStyle = o.closed ? CLOSED_OUTLINE : OPEN_OUTLINE;
      ctx.lineWidth = 2;
      ctx.stroke();
    }
  }

  /** The card (map, colour bar, range) drawn into one canvas for the PNG export. */
  composite(): HTMLCanvasElement {
    const pad = 6;
    const out = document.createElement('canvas');
    out.width = this.canvas.width + 2 * pad;
    out.height = this.canvas.height + this.bar.height + 60;
    const g = out.getContext('2d')!;
    g.fillStyle = '#111418';
    g.fillRect(0, 0, out.width, out.height);
    g.fillStyle = '#e8e8e8';
    g.font = '12px sans-serif';
    g.fillText(this.spec.title, pad, 14);
    g.drawImage(this.canvas, pad, 20);
    g.drawImage(this.bar, pad, 22 + this.canvas.height);
    g.fillText(this.range.textContent ?? '', pad, 44 + this.canvas.height);
    g.fillStyle = '#9aa3ad';
    g.fillText(axesText(this.rows, this.cols, this.axes), pad, 58 + this.canvas.height);
    return out;
  }
}

/** A short number for labels. */
export function fmt(v: number): string {
  if (!Number.isFinite(v)) return '–';
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-2 || a >= 1e4) ? v.toExponential(2) : v.toPrecision(3);
}
