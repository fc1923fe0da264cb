/** Renders Vega-Lite specs to SVG (vega) and PNG (resvg), in Node. */
import type { VegaLiteSpec } from '../plots.js';

/** SVG text of a Vega-Lite spec. */
export async function toSvg(spec: VegaLiteSpec): Promise<string> {
  const vega = await import('vega');
  const vegaLite = await import('vega-lite');
  const compiled = vegaLite.compile(spec as never).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  return view.toSVG(2);
}

/** PNG bytes of an SVG, 2× for sharp text. */
export async function svgToPng(svg: string): Promise<Uint8Array> {
  const { Resvg } = await import('@resvg/resvg-js');
  const resvg = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: 1 },
    background: 'white',
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' },
  });
  return resvg.render().asPng();
}
