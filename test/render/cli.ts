import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { renderCardsToPng } from './renderCards.js';

/** Dev helper: node dist/test/render/cli.js cards.json outDir — one PNG per card in the JSON array. */
async function main() {
  const [input, outDir] = process.argv.slice(2);
  const cards = JSON.parse(readFileSync(input, 'utf8')) as object[];
  mkdirSync(outDir, { recursive: true });
  const rendered = await renderCardsToPng(cards);
  rendered.forEach((r, i) => {
    writeFileSync(path.join(outDir, `card-${i}.png`), r.png);
    if (r.warnings.length) console.log(`card ${i}:`, r.warnings.join('; '));
  });
  console.log(`${rendered.length} cards rendered to ${outDir}`);
}
void main();
