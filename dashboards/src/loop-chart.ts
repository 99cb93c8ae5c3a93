/**
 * Loop plots with Chart.js: curves against the voltage axis (scatter with lines, since the bias sweep goes
 * down and back up and is not monotonic), for a pixel's input and reconstruction and for latent traversals.
 */
import { Chart, Legend, LinearScale, LineElement, PointElement, ScatterController, Title, Tooltip } from 'chart.js';

Chart.register(ScatterController, LineElement, PointElement, LinearScale, Legend, Title, Tooltip);
Chart.defaults.color = '#c8ccd2';
Chart.defaults.borderColor = 'rgba(255,255,255,0.12)';
Chart.defaults.animation = false;

/** One curve: y against x, drawn as a line. */
export interface Curve {
  label: string;
  x: number[];
  y: number[];
  color: string;
  dashed?: boolean;
  points?: boolean;
}

/** A Chart.js scatter chart of curves sharing an x axis (volts) and a y axis (the channel's unit). */
export class LoopChart {
  private chart: Chart<'scatter'>;

  constructor(canvas: HTMLCanvasElement, title: string, yLabel: string, opts: { legend?: boolean } = {}) {
    this.chart = new Chart(canvas, {
      type: 'scatter',
      data: { datasets: [] },
      options: {
        responsive: false,
        plugins: { title: { display: true, text: title }, legend: { display: opts.legend ?? true, labels: { boxWidth: 12 } } },
        scales: {
          x: { type: 'linear', title: { display: true, text: 'DC bias (V)' } },
          y: { type: 'linear', title: { display: true, text: yLabel } },
        },
      },
    });
  }

  /** Replace the curves (and optionally the titles). */
  set(curves: Curve[], title?: string, yLabel?: string, xLabel?: string): void {
    this.chart.data.datasets = curves.map((c) => ({
      label: c.label,
      data: c.x.map((x, k) => ({ x, y: c.y[k] })),
      showLine: true,
      borderColor: c.color,
      backgroundColor: c.color,
      borderWidth: c.dashed ? 2 : 1.5,
      borderDash: c.dashed ? [6, 4] : [],
      pointRadius: c.points ? 2 : 0,
    }));
    const opts = this.chart.options;
    if (title !== undefined && opts.plugins?.title) opts.plugins.title.text = title;
    const y = opts.scales?.y as { title?: { text?: string } } | undefined;
    if (yLabel !== undefined && y?.title) y.title.text = yLabel;
    const x = opts.scales?.x as { title?: { text?: string } } | undefined;
    if (xLabel !== undefined && x?.title) x.title.text = xLabel;
    this.chart.update();
  }

  /** Number of curves drawn (for tests). */
  get curveCount(): number {
    return this.chart.data.datasets.length;
  }
}
