import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** The package version, found from either the source tree or dist/. */
export function packageVersion(): string {
  let dir = __dirname;
  for (let i = 0; i < 4; i++) {
    const file = path.join(dir, 'package.json');
    if (existsSync(file)) return (JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version ?? '0.0.0';
    dir = path.dirname(dir);
  }
  return '0.0.0';
}
