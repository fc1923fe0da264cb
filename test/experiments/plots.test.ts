/** The plots of the experiment reports, rendered: integer epoch ticks, dashes in the legend, no blank column. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { barChart, lineChart } from '../../packages/keel-cli/src/experiments/plots.js';
import { toSvg } from '../../packages/keel-cli/src/experiments/node/render.js';

const epochs = [1, 2, 3, 4, 5];
const chart = (width?: number) => lineChart({
  title: 'BN placement: validation accuracy', xTitle: 'epoch', yTitle: 'validation accuracy (fraction)', width,
  series: [
    { name: 'BN after activation (seed)', x: epochs, y: [0.80, 0.83, 0.85, 0.86, 0.87] },
    { name: 'BN before activation (seed-before)', x: epochs, y: [0.79, 0.82, 0.84, 0.85, 0.86] },
    { name: 'no BN (plain)', x: epochs, y: [0.75, 0.79, 0.81, 0.83, 0.84], dashed: true },
  ],
});

/** The text of the labels of the axis whose ARIA label starts with `which` ('X-axis', 'Y-axis'). */
function axisLabels(svg: string, which: string): string[] {
  const start = svg.indexOf(`aria-label="${which}`);
  assert.ok(start >= 0, `no ${which} in the SVG`);
  const end = svg.indexOf('aria-roledescription="axis"', start + 1);
  return [...svg.slice(start, end < 0 ? undefined : end).matchAll(/role-axis-label[\s\S]*?<\/g>/g)]
    .flatMap((m) => [...m[0].matchAll(/>([^<>]+)<\/text>/g)].map((t) => t[1]));
}

test('epochs get integer ticks, not 1.0, 1.2, ...', async () => {
  const labels = axisLabels(await toSvg(chart()), 'X-axis');
  assert.ok(labels.length >= 2, `x labels: ${labels}`);
  for (const label of labels) assert.match(label, /^\d+$/, `x labels: ${labels.join(', ')}`);
});

test('the legend symbols are strokes drawn with each series\' dash', async () => {
  const svg = await toSvg(chart());
  const symbols = [...svg.matchAll(/role-legend-symbol[^>]*>\s*<path [^>]*stroke-dasharray="([^"]+)"/g)].map((m) => m[1]);
  assert.deepEqual(symbols, ['1,0', '1,0', '6,4']);
});

test('the legend goes under the plot: the figure is not much wider than the plot', async () => {
  for (const width of [400, 560, 800]) {
    const svg = await toSvg(chart(width));
    const viewBoxWidth = Number(/viewBox="0 0 ([\d.]+) /.exec(svg)![1]);
    // The y axis with its title and labels takes about 80 px; a legend beside the plot took 300 more.
    assert.ok(viewBoxWidth <= width + 100, `plot ${width} px wide, figure ${viewBoxWidth} px`);
  }
});

test('bars: error bars in black over the bars, and no offset when each group has one series', async () => {
  const bars = barChart({
    title: 't', xTitle: 'model', yTitle: 'µs', bars: [
      { group: 'with BN', series: 'with BN', value: 10, err: 1 },
      { group: 'without BN', series: 'without BN', value: 8, err: 1 },
    ],
  });
  assert.equal((bars.encoding as Record<string, unknown>).xOffset, undefined);
  const grouped = barChart({ title: 't', xTitle: 'x', yTitle: 'y', bars: [{ group: 'a', series: 'BN', value: 1, err: 0.1 }, { group: 'a', series: 'no BN', value: 2, err: 0.2 }] });
  const svg = await toSvg(grouped);
  const strokes = [...svg.matchAll(/<line aria-label="[^"]*" role="graphics-symbol" aria-roledescription="rule mark"[^>]* stroke="([^"]+)"/g)].map((m) => m[1]);
  assert.deepEqual(strokes, ['black', 'black']);
});
