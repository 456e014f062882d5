import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { REPO } from './browser.js';

/**
 * What each step of issue 13's target flow does today in a real client, written next to the
 * screenshots (findings.md / findings.json). The tests assert what must hold in every version;
 * a step that does not yet behave as the issue asks is recorded here with what was seen, so the
 * flow keeps running and the list shows what is left.
 */
export interface Finding {
  step: string;
  /** The target behaviour for this step. */
  target: string;
  works: boolean;
  observed: string;
  screenshot?: string;
  /** Issue 13 problem numbers this step is about. */
  problems?: number[];
  /** Seconds since the client was opened, when the step was recorded. */
  at?: number;
}

export class Findings {
  readonly items: Finding[] = [];
  private readonly started = Date.now();

  constructor(
    private readonly client: string,
    private readonly dir: string,
  ) {}

  record(f: Finding): void {
    this.items.push({ ...f, screenshot: f.screenshot ? path.relative(REPO, f.screenshot) : undefined, at: (Date.now() - this.started) / 1000 });
  }

  write(): void {
    const seconds = ((Date.now() - this.started) / 1000).toFixed(1);
    writeFileSync(path.join(this.dir, 'findings.json'), JSON.stringify({ client: this.client, seconds, steps: this.items }, null, 2));
    const lines = [
      `# ${this.client}: issue 13 flow, step by step (${seconds} s)`,
      '',
      '| # | s | step | works today | observed | problems | screenshot |',
      '|---|---|---|---|---|---|---|',
      ...this.items.map(
        (f, i) =>
          `| ${i + 1} | ${f.at?.toFixed(1)} | ${f.step} | ${f.works ? 'yes' : '**no**'} | ${f.observed.replace(/\|/g, '\\|').replace(/\n/g, ' ')} | ${(f.problems ?? []).join(', ')} | ${f.screenshot ?? ''} |`,
      ),
      '',
    ];
    writeFileSync(path.join(this.dir, 'findings.md'), lines.join('\n'));
  }
}
