/**
 * The lab's charts (uPlot): each holds a uPlot instance in a captioned box, takes plain arrays, and
 * is redrawn at most a few times a second by the page (the Worker posts about 5 times a second).
 */
import uPlot from 'uplot';

export const RUN_COLORS = { a: '#1d4ed8', b: '#c2410c' } as const;
/** Lighter shades of each run's colour, for a chart's secondary series. */
export const RUN_SHADES = {
  a: ['#1d4ed8', '#60a5fa', '#93c5fd', '#1e3a8a', '#3b82f6', '#bfdbfe'],
  b: ['#c2410c', '#fb923c', '#fdba74', '#7c2d12', '#f97316', '#fed7aa'],
} as const;

export interface SeriesSpec {
  label: string;
  color: string;
  width?: number;
  dash?: number[];
  /** Draw points only (sparse series such as validation). */
  points?: boolean;
  /** The y scale: 'y' (left axis, default) or 'y2' (right axis). */
  scale?: 'y' | 'y2';
}

export interface ChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  y2Label?: string;
  log?: boolean;
  /** Fixed y range, e.g. [0, 1] for accuracies. */
  yRange?: [number, number];
  series: SeriesSpec[];
  /** Shade between series i and j (1-based uPlot indices, as [upper, lower]). */
  band?: [number, number, string];
}

export class Chart {
  private plot: uPlot | null = null;
  private readonly holder: HTMLDivElement;
  private readonly note: HTMLParagraphElement;
  private spec: ChartSpec;

  constructor(private readonly box: HTMLElement, spec: ChartSpec) {
    this.spec = spec;
    box.classList.add('chart');
    box.replaceChildren();
    this.holder = document.createElement('div');
    this.note = document.createElement('p');
    this.note.className = 'chart-note';
    box.append(this.holder, this.note);
    this.build();
  }

  private size(): { width: number; height: number } {
    const width = Math.max(200, Math.floor(this.box.clientWidth || 280) - 4);
    return { width, height: Math.max(120, Math.round(width * 0.56)) };
  }

  private build(): void {
    this.plot?.destroy();
    const s = this.spec;
    const opts: uPlot.Options = {
      ...this.size(),
      title: s.title,
      cursor: { drag: { x: false, y: false } },
      legend: { show: true, live: false },
      scales: {
        x: { time: false },
        y: s.log ? { distr: 3 } : s.yRange ? { range: s.yRange } : {},
        ...(s.y2Label ? { y2: {} } : {}),
      },
      axes: [
        { label: s.xLabel, size: 32, labelSize: 16 },
        { label: s.yLabel, size: 46, labelSize: 16 },
        ...(s.y2Label ? [{ label: s.y2Label, scale: 'y2', side: 1 as const, size: 46, labelSize: 16, grid: { show: false } }] : []),
      ],
      series: [
        { label: 'step' },
        ...s.series.map((x): uPlot.Series => ({
          label: x.label, stroke: x.color, width: x.width ?? 1.5, dash: x.dash, scale: x.scale ?? 'y',
          spanGaps: true,
          points: x.points ? { show: true, size: 5, fill: x.color } : { show: false },
          ...(x.points ? { paths: () => null } : {}),
        })),
      ],
      bands: s.band ? [{ series: [s.band[0], s.band[1]], fill: s.band[2] }] : undefined,
    };
    this.plot = new uPlot(opts, [[], ...s.series.map(() => [])], this.holder);
    // A chart is a picture to a screen reader: its title and the caption under it say what it shows.
    const canvas = this.holder.querySelector('canvas');
    canvas?.setAttribute('role', 'img');
    canvas?.setAttribute('aria-label', `chart: ${s.title}`);
  }

  /** Replaces the series (e.g. one per layer) and starts empty. */
  respec(spec: ChartSpec): void {
    this.spec = spec;
    this.build();
  }

  setData(x: number[], ys: (number | null)[][]): void {
    this.plot?.setData([x, ...ys] as uPlot.AlignedData);
  }

  /** A line under the chart, e.g. why it is empty. */
  setNote(text: string): void {
    this.note.textContent = text;
  }

  resize(): void {
    this.plot?.setSize(this.size());
  }
}
