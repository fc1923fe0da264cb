/** Keras-style model summary. */
import type { Layer } from '../layers/layer.js';
import type { Graph } from './graph.js';

export interface SummaryRow {
  name: string;
  className: string;
  outputShape: number[];
  params: number;
}

/**
 * Lays out the rows as Keras 2 does: columns end at `positions` (fractions of `lineLength` or
 * absolute), a field longer than its column is cut, and the character before each field is a space.
 */
export function formatSummary(
  modelName: string, rows: SummaryRow[], trainable: number, nonTrainable: number,
  lineLength = 65, positions: number[] = [0.45, 0.85, 1],
): string[] {
  const line = columns(lineLength, positions);
  const out = [`Model: "${modelName}"`, '_'.repeat(lineLength), line(['Layer (type)', 'Output Shape', 'Param #']), '='.repeat(lineLength)];
  rows.forEach((r, i) => {
    out.push(line([`${r.name} (${r.className})`, `(None, ${r.outputShape.join(', ')})`, String(r.params)]));
    out.push(i === rows.length - 1 ? '='.repeat(lineLength) : '_'.repeat(lineLength));
  });
  totals(out, trainable, nonTrainable, lineLength);
  return out;
}

/** A line of fields, each ending at its column's stop (see formatSummary). */
function columns(lineLength: number, positions: number[]): (fields: string[]) => string {
  const stops = positions[positions.length - 1] <= 1 ? positions.map((p) => Math.floor(lineLength * p)) : positions;
  return (fields: string[]) => {
    let s = '';
    fields.forEach((f, i) => {
      if (i > 0) s = s.slice(0, -1) + ' ';
      s = (s + f).slice(0, stops[i]);
      s += ' '.repeat(Math.max(0, stops[i] - s.length));
    });
    return s;
  };
}

function totals(out: string[], trainable: number, nonTrainable: number, lineLength: number): void {
  const n = (v: number) => v.toLocaleString('en-US');
  out.push(`Total params: ${n(trainable + nonTrainable)}`, `Trainable params: ${n(trainable)}`, `Non-trainable params: ${n(nonTrainable)}`);
  out.push('_'.repeat(lineLength));
}

export function summaryRows(layers: Layer[], outputShapes: number[][]): SummaryRow[] {
  return layers.map((l, i) => ({ name: l.name, className: l.getClassName(), outputShape: outputShapes[i], params: l.countParams() }));
}

/** One row of a functional model's summary: also the inputs, as `layer[node][tensor]`. */
export interface GraphSummaryRow {
  name: string;
  className: string;
  /** `[(None, 28, 28, 1)]` for an input, `(None, 10)` otherwise, as Keras prints them. */
  outputShape: string;
  params: number;
  connectedTo: string[];
}

/** Keras 2's summary of a functional model: a fourth column, "Connected to", one input per line. */
export function formatGraphSummary(
  modelName: string, rows: GraphSummaryRow[], trainable: number, nonTrainable: number,
  lineLength = 98, positions: number[] = [0.33, 0.55, 0.67, 1],
): string[] {
  const line = columns(lineLength, positions);
  const out = [`Model: "${modelName}"`, '_'.repeat(lineLength), line(['Layer (type)', 'Output Shape', 'Param #', 'Connected to']), '='.repeat(lineLength)];
  rows.forEach((r, i) => {
    out.push(line([`${r.name} (${r.className})`, r.outputShape, String(r.params), r.connectedTo[0] ?? '']));
    for (const more of r.connectedTo.slice(1)) out.push(line(['', '', '', more]));
    out.push(i === rows.length - 1 ? '='.repeat(lineLength) : '_'.repeat(lineLength));
  });
  totals(out, trainable, nonTrainable, lineLength);
  return out;
}

export function graphSummaryRows(graph: Graph): GraphSummaryRow[] {
  const producer = new Map<number, Layer>();
  graph.inputLayers.forEach((l, i) => producer.set(graph.inputs[i], l));
  const inputsOf = new Map<Layer, number[]>();
  for (const node of graph.nodes) {
    producer.set(node.output, node.layer);
    inputsOf.set(node.layer, node.inputs);
  }
  const outputOf = new Map<Layer, number>([...producer].map(([id, layer]) => [layer, id]));
  return graph.layers.map((layer) => {
    const shape = graph.shapes[outputOf.get(layer)!];
    const isInput = !inputsOf.has(layer);
    const printed = `(None, ${shape.join(', ')})`;
    return {
      name: layer.name, className: layer.getClassName(), params: layer.countParams(),
      outputShape: isInput ? `[${printed}]` : printed,
      // Each layer is applied once (no shared layers): node and tensor index are always 0.
      connectedTo: (inputsOf.get(layer) ?? []).map((id) => `${producer.get(id)!.name}[0][0]`),
    };
  });
}
