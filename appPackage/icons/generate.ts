import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { encodePng, type Image } from '../png.js';

/**
 * Draws the app icons: a shield (Defender for Cloud) with a check mark (remediated) and a
 * ServiceNow-style ticket stub. Shapes are defined in unit coordinates and supersampled, so one
 * design yields both sizes. Run: npm run -s build && node dist/appPackage/icons/generate.js
 */

// Bound once: inside jest's vm context every global lookup of `Math` is slow, and this runs millions of times.
const { abs, cos, floor, hypot, max, min, round, PI } = Math;

type RGB = readonly [number, number, number];
export const BRAND: RGB = [0x24, 0x41, 0x8f];
const WHITE: RGB = [255, 255, 255];
const AMBER: RGB = [0xff, 0xb9, 0x00];

/** Heater shield: slightly concave top, straight sides, sides curving to a point. */
export function inShield(u: number, v: number, inset = 0): boolean {
  const halfW = 0.27 - inset;
  const d = abs(u - 0.5);
  if (d > halfW) return false;
  const top = 0.13 + inset + 0.035 * (1 - (d / 0.27) ** 2);
  const shoulder = 0.5;
  const tip = 0.89 - inset * 1.7;
  if (v < top || v > tip) return false;
  if (v <= shoulder) return true;
  const t = (v - shoulder) / (tip - shoulder);
  return d <= halfW * cos((t * PI) / 2) ** 0.85;
}

function distToSegment(px: number, py: number, ax: number, ay: number, bx: number, by: number): number {
  const dx = bx - ax;
  const dy = by - ay;
  const t = max(0, min(1, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)));
  return hypot(px - (ax + t * dx), py - (ay + t * dy));
}

const CHECK: Array<[number, number]> = [
  [0.37, 0.47],
  [0.465, 0.57],
  [0.64, 0.36],
];
export function inCheck(u: number, v: number, halfWidth: number): boolean {
  for (let i = 0; i < CHECK.length - 1; i++) {
    const [a, b] = [CHECK[i]!, CHECK[i + 1]!];
    if (distToSegment(u, v, a[0], a[1], b[0], b[1]) <= halfWidth) return true;
  }
  return false;
}

/** Ticket stub, tilted, with round notches on both sides; `grow` widens it for its border. */
function ticketLocal(u: number, v: number): [number, number] {
  const angle = (-14 * PI) / 180;
  const x = u - 0.72;
  const y = v - 0.74;
  return [x * cos(angle) - y * Math.sin(angle), x * Math.sin(angle) + y * cos(angle)];
}
function inTicket(u: number, v: number, grow: number): boolean {
  const [x, y] = ticketLocal(u, v);
  const hw = 0.17 + grow;
  const hh = 0.095 + grow;
  const r = 0.025 + grow;
  const qx = abs(x) - (hw - r);
  const qy = abs(y) - (hh - r);
  const outside = hypot(max(qx, 0), max(qy, 0)) + min(max(qx, qy), 0) - r;
  if (outside > 0) return false;
  const notch = 0.04 - grow;
  return hypot(abs(x) - (0.17 + 0.0), y) > notch;
}
function onPerforation(u: number, v: number): boolean {
  const [x, y] = ticketLocal(u, v);
  return abs(x - 0.075) < 0.011 && abs(y) < 0.07 && floor((y + 0.07) / 0.028) % 2 === 0;
}

/** Paints one sample; undefined = transparent. */
type Painter = (u: number, v: number) => RGB | undefined;

export const colorPainter: Painter = (u, v) => {
  if (inTicket(u, v, 0)) return onPerforation(u, v) ? BRAND : AMBER;
  if (inTicket(u, v, 0.03)) return BRAND; // gap between ticket and shield
  if (inShield(u, v)) return inCheck(u, v, 0.045) ? BRAND : WHITE;
  return BRAND;
};

/** Outline icon: white strokes only (Teams tints it), transparent elsewhere. */
export const outlinePainter: Painter = (u, v) => {
  if (inCheck(u, v, 0.055)) return WHITE;
  if (inShield(u, v) && !inShield(u, v, 0.085)) return WHITE;
  return undefined;
};

export function draw(size: number, paint: Painter, samples = 8): Image {
  const rgba = new Uint8Array(size * size * 4);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let r = 0;
      let g = 0;
      let b = 0;
      let a = 0;
      for (let sy = 0; sy < samples; sy++) {
        for (let sx = 0; sx < samples; sx++) {
          const c = paint((x + (sx + 0.5) / samples) / size, (y + (sy + 0.5) / samples) / size);
          if (!c) continue;
          r += c[0];
          g += c[1];
          b += c[2];
          a++;
        }
      }
      const i = (y * size + x) * 4;
      if (a === 0) continue;
      // Colour is averaged over covered samples only, so edges fade in alpha, not towards black.
      rgba[i] = round(r / a);
      rgba[i + 1] = round(g / a);
      rgba[i + 2] = round(b / a);
      rgba[i + 3] = round((255 * a) / (samples * samples));
    }
  }
  return { width: size, height: size, rgba };
}

export function generateIcons(outDir: string): { color: string; outline: string } {
  const color = path.join(outDir, 'color.png');
  const outline = path.join(outDir, 'outline.png');
  writeFileSync(color, encodePng(draw(192, colorPainter)));
  writeFileSync(outline, encodePng(draw(32, outlinePainter)));
  return { color, outline };
}

if (require.main === module) {
  const out = process.argv[2] ?? path.resolve(process.cwd(), 'appPackage');
  const files = generateIcons(out);
  console.log(`wrote ${files.color} and ${files.outline}`);
}
