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

/** A titled line chart with labelled axes and a legend. */
export function lineChart(args: LineChartArgs): VegaLiteSpec {
  const { title, xTitle, yTitle, series, logX = false, logY = false, yDomain, width = 560, height = 320 } = args;
  const values = series.flatMap((s) =>
    s.x.map((x, i) => ({ x, y: s.y[i], series: s.name, dash: s.dashed ? 'dashed' : 'solid' })).filter((p) => Number.isFinite(p.y)));
  const names = series.map((s) => s.name);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: title, fontSize: 15 },
    width,
    height,
    background: 'white',
    config: { font: 'DejaVu Sans, Arial, sans-serif', axis: { labelFontSize: 11, titleFontSize: 12 }, legend: { labelFontSize: 11, titleFontSize: 12, labelLimit: 320 } },
    data: { values },
    mark: { type: 'line', point: values.length <= 200, strokeWidth: 2 },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: xTitle, scale: logX ? { type: 'log' } : { zero: false } },
      y: {
        field: 'y', type: 'quantitative', title: yTitle,
        scale: { ...(logY ? { type: 'log' } : { zero: false }), ...(yDomain ? { domain: yDomain } : {}) },
      },
      color: { field: 'series', type: 'nominal', title: 'run', scale: { domain: names, range: OKABE_ITO.slice(0, names.length).concat(OKABE_ITO).slice(0, names.length) } },
      strokeDash: { field: 'dash', type: 'nominal', legend: null, scale: { domain: ['solid', 'dashed'], range: [[1, 0], [6, 4]] } },
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

/** Grouped bars with ± error bars (mean ± std over seeds). */
export function barChart(args: BarChartArgs): VegaLiteSpec {
  const { title, xTitle, yTitle, bars, yDomain } = args;
  const seriesNames = [...new Set(bars.map((b) => b.series))];
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
      xOffset: { field: 'series', sort: seriesNames },
      color: { field: 'series', type: 'nominal', title: 'run', scale: { domain: seriesNames, range: OKABE_ITO.slice(0, seriesNames.length) } },
    },
    layer: [
      { mark: 'bar', encoding: { y } },
      { mark: { type: 'rule', color: 'black' }, encoding: { y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' } } },
    ],
    width: 560,
    height: 320,
  };
}
