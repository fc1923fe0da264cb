/**
 * Plot specifications (Vega-Lite), built as plain data so that they can be rendered to SVG/PNG in
 * Node (experiments/node/render.ts) or embedded in a web page. Colours are the Okabe-Ito palette,
 * distinguishable with the common colour-vision deficiencies; BN vs no BN also differs by dash.
 */

export const OKABE_ITO = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#F0E442', '#000000'];

export interface Series {
  /** Legend entry. */
  name: string;
  x: number[];
  y: number[];
  /** Draw dashed (used for "without BN"). */
  dashed?: boolean;
}

export interface LineChartArgs {
  title: string;
  xTitle: string;
  yTitle: string;
  series: Series[];
  logX?: boolean;
  logY?: boolean;
  yDomain?: [number, number];
  /** Plot width and height in pixels. */
  width?: number;
  height?: number;
}

export type VegaLiteSpec = Record<string, unknown>;

/** Dash patterns (stroke, gap) of solid and dashed lines, in the plot and in the legend's symbols. */
const SOLID: number[] = [1, 0];
const DASHED: number[] = [6, 4];

/**
 * The legend under the plot, as many columns as fit in its width: on the right, long labels leave a
 * blank column beside the plot as wide as the longest label.
 */
function legendBelow(names: string[], width: number): Record<string, unknown> {
  const longest = Math.max(1, ...names.map((n) => n.length));
  // Vega sizes the legend's columns by its own estimate of the labels' widths (in Node, without a
  // canvas: 0.8 × font size = 8.8 px per character at 11 px), plus the symbol and the padding.
  const column = longest * 8.8 + 41;
  // The legend may stick out past the plot by a little (60 px), never by a column.
  const fit = Math.max(1, Math.min(names.length, Math.floor((width + 60) / column)));
  // As few rows as that allows, and the entries spread evenly over them (4 entries: 2 + 2, not 3 + 1).
  const columns = Math.ceil(names.length / Math.ceil(names.length / fit));
  return { orient: 'bottom', direction: 'horizontal', columns, labelLimit: width };
}

/**
 * A titled line chart with labelled axes and a legend under it. Integer x values (epochs, layers,
 * steps) get integer ticks; each series' dash is drawn in its legend symbol too.
 */
export function lineChart(args: LineChartArgs): VegaLiteSpec {
  const { title, xTitle, yTitle, series, logX = false, logY = false, yDomain, width = 560, height = 320 } = args;
  const values = series.flatMap((s) =>
    s.x.map((x, i) => ({ x, y: s.y[i], series: s.name })).filter((p) => Number.isFinite(p.y)));
  const names = series.map((s) => s.name);
  const integerX = !logX && values.every((p) => Number.isInteger(p.x));
  // One legend for colour and dash: both channels encode the series, with the same title.
  const legend = { ...legendBelow(names, width), symbolType: 'stroke', symbolStrokeWidth: 2, symbolSize: 600 };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: title, fontSize: 15 },
    width,
    height,
    background: 'white',
    config: { font: 'DejaVu Sans, Arial, sans-serif', axis: { labelFontSize: 11, titleFontSize: 12 }, legend: { labelFontSize: 11, titleFontSize: 12 } },
    data: { values },
    mark: { type: 'line', point: values.length <= 200, strokeWidth: 2 },
    encoding: {
      x: {
        field: 'x', type: 'quantitative', title: xTitle, scale: logX ? { type: 'log' } : { zero: false },
        ...(integerX ? { axis: { tickMinStep: 1, format: 'd' } } : {}),
      },
      y: {
        field: 'y', type: 'quantitative', title: yTitle,
        scale: { ...(logY ? { type: 'log' } : { zero: false }), ...(yDomain ? { domain: yDomain } : {}) },
      },
      color: {
        field: 'series', type: 'nominal', title: 'run', legend,
        scale: { domain: names, range: names.map((_, i) => OKABE_ITO[i % OKABE_ITO.length]) },
      },
      strokeDash: {
        field: 'series', type: 'nominal', title: 'run', legend,
        scale: { domain: names, range: series.map((s) => (s.dashed ? DASHED : SOLID)) },
      },
    },
  };
}

export interface BarChartArgs {
  title: string;
  xTitle: string;
  yTitle: string;
  /** One bar per (group, series) with an optional error bar (± err). */
  bars: { group: string; series: string; value: number; err?: number }[];
  yDomain?: [number, number];
}

/**
 * Grouped bars with ± error bars (mean ± std over seeds), drawn in black over the bars. Bars are
 * offset within a group only when a group holds more than one series.
 */
export function barChart(args: BarChartArgs): VegaLiteSpec {
  const { title, xTitle, yTitle, bars, yDomain } = args;
  const seriesNames = [...new Set(bars.map((b) => b.series))];
  const grouped = new Set(bars.map((b) => b.group)).size < bars.length;
  const values = bars.map((b) => ({ ...b, lo: b.value - (b.err ?? 0), hi: b.value + (b.err ?? 0) }));
  const y = { field: 'value', type: 'quantitative', title: yTitle, ...(yDomain ? { scale: { domain: yDomain } } : {}) };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: title, fontSize: 15 },
    background: 'white',
    config: { font: 'DejaVu Sans, Arial, sans-serif', axis: { labelFontSize: 11, titleFontSize: 12 }, legend: { labelFontSize: 11, titleFontSize: 12 } },
    data: { values },
    encoding: {
      x: { field: 'group', type: 'nominal', title: xTitle, sort: null, axis: { labelAngle: 0 } },
      ...(grouped ? { xOffset: { field: 'series', sort: seriesNames } } : {}),
    },
    layer: [
      {
        mark: 'bar',
        encoding: { y, color: { field: 'series', type: 'nominal', title: 'run', scale: { domain: seriesNames, range: OKABE_ITO.slice(0, seriesNames.length) } } },
      },
      {
        mark: { type: 'rule', color: 'black', strokeWidth: 1.5 },
        encoding: { y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' } },
      },
    ],
    width: 560,
    height: 320,
  };
}
