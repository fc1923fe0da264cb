/**
 * The drawing area: shows a 28×28 test image at 8× and lets the learner paint over it or draw
 * from scratch (light on dark, as Fashion-MNIST's images are). Its 28×28 input is the mean of
 * each 8×8 block of the canvas.
 */
const SCALE = 8;

export class DrawingArea {
  private readonly context: CanvasRenderingContext2D;
  private drawing = false;

  constructor(private readonly canvas: HTMLCanvasElement, private readonly changed: (pixels: Float32Array) => void) {
    this.context = canvas.getContext('2d', { willReadFrequently: true })!;
    this.clear();
    canvas.addEventListener('pointerdown', (e) => {
      this.drawing = true;
      canvas.setPointerCapture(e.pointerId);
      this.paint(e);
    });
    canvas.addEventListener('pointermove', (e) => this.drawing && this.paint(e));
    const stop = () => {
      if (!this.drawing) return;
      this.drawing = false;
      this.changed(this.pixels());
    };
    canvas.addEventListener('pointerup', stop);
    canvas.addEventListener('pointercancel', stop);
  }

  private paint(e: PointerEvent): void {
    const box = this.canvas.getBoundingClientRect();
    const x = ((e.clientX - box.left) / box.width) * this.canvas.width;
    const y = ((e.clientY - box.top) / box.height) * this.canvas.height;
    const brush = this.context.createRadialGradient(x, y, 0, x, y, 14);
    brush.addColorStop(0, 'rgba(255,255,255,1)');
    brush.addColorStop(1, 'rgba(255,255,255,0)');
    this.context.fillStyle = brush;
    this.context.beginPath();
    this.context.arc(x, y, 14, 0, 2 * Math.PI);
    this.context.fill();
  }

  clear(): void {
    this.context.fillStyle = '#000';
    this.context.fillRect(0, 0, this.canvas.width, this.canvas.height);
  }

  /** Shows 784 values in [0, 1]. */
  show(pixels: Float32Array): void {
    const image = this.context.createImageData(28 * SCALE, 28 * SCALE);
    for (let y = 0; y < 28 * SCALE; y++) {
      for (let x = 0; x < 28 * SCALE; x++) {
        const v = Math.round(pixels[Math.floor(y / SCALE) * 28 + Math.floor(x / SCALE)] * 255);
        const i = (y * 28 * SCALE + x) * 4;
        image.data[i] = image.data[i + 1] = image.data[i + 2] = v;
        image.data[i + 3] = 255;
      }
    }
    this.context.putImageData(image, 0, 0);
  }

  /** The canvas as the network's input: 784 values in [0, 1]. */
  pixels(): Float32Array {
    const { data } = this.context.getImageData(0, 0, 28 * SCALE, 28 * SCALE);
    const out = new Float32Array(784);
    for (let y = 0; y < 28 * SCALE; y++) {
      for (let x = 0; x < 28 * SCALE; x++) out[Math.floor(y / SCALE) * 28 + Math.floor(x / SCALE)] += data[(y * 28 * SCALE + x) * 4];
    }
    for (let i = 0; i < 784; i++) out[i] /= 255 * SCALE * SCALE;
    return out;
  }
}
