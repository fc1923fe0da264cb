/** The progress bar of `keel train`: Keras's lines, made to fit a terminal. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatLine } from '../../packages/keel-cli/src/progress.js';

const live = { loss: 0.4312, accuracy: 0.8421 };
const final = { loss: 0.4101, accuracy: 0.853, val_loss: 0.372, val_accuracy: 0.8682 };

test('without a width (a pipe or a file), each line is whole, as Keras prints it', () => {
  assert.equal(formatLine(812, 1719, 8.5, live), ' 812/1719 [=============>................] - ETA: 9s - loss: 0.4312 - accuracy: 0.8421');
  assert.equal(
    formatLine(1719, 1719, 18, final),
    '1719/1719 [==============================] - 18s 10ms/step - loss: 0.4101 - accuracy: 0.8530 - val_loss: 0.3720 - val_accuracy: 0.8682',
  );
});

test('in 80 columns the live line keeps the loss and the accuracy, with a narrower bar', () => {
  const line = formatLine(812, 1719, 8.5, live, 80);
  assert.ok(line.length < 80, `${line.length} columns: ${line}`);
  assert.match(line, /^ 812\/1719 \[=+>\.+\] - ETA: 9s - loss: 0\.4312 - accuracy: 0\.8421$/);
});

test('in 80 columns the final line goes on to a second, indented line', () => {
  const lines = formatLine(1719, 1719, 18, final, 80).split('\n');
  assert.deepEqual(lines.map((l) => l.length < 80), lines.map(() => true), lines.join('\n'));
  assert.match(lines[0], /^1719\/1719 \[=+\] - 18s 10ms\/step - loss: 0\.4101 - accuracy: 0\.8530$/);
  assert.deepEqual(lines.slice(1), ['          - val_loss: 0.3720 - val_accuracy: 0.8682']);
});

test('in any width, every line fits; loss and accuracy stay on a live line down to 50 columns', () => {
  for (let columns = 20; columns <= 200; columns++) {
    const liveLine = formatLine(812, 1719, 8.5, live, columns);
    assert.ok(!liveLine.includes('\n') && liveLine.length < columns, `live, ${columns} columns: ${liveLine}`);
    if (columns >= 50) assert.match(liveLine, /loss: 0\.4312 - accuracy: 0\.8421/, `${columns} columns`);
    const finalLines = formatLine(1719, 1719, 18, final, columns).split('\n');
    // Below 34 columns one indented part ("          - val_accuracy: 0.8682") is wider than the terminal: not cut.
    if (columns > 33) for (const l of finalLines) assert.ok(l.length < columns, `final, ${columns} columns: ${l}`);
    for (const metric of ['loss: 0.4101', 'accuracy: 0.8530', 'val_loss: 0.3720', 'val_accuracy: 0.8682']) {
      assert.ok(finalLines.some((l) => l.includes(metric)), `final, ${columns} columns, lacks ${metric}`);
    }
  }
});
