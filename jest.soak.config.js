/**
 * `npm run test:soak`: the long suites, outside `npm test`'s time budget. Everything under
 * test/soak/ (crash and fault suites against the real bot process), plus the fuzz suite at 20,000
 * cases (FUZZ_RUNS overrides). The soak suites' measured figures are printed again at the end.
 */
const os = require('node:os');
const path = require('node:path');

process.env.FUZZ_RUNS = process.env.FUZZ_RUNS || '20000';
process.env.SOAK_FIGURES_FILE = process.env.SOAK_FIGURES_FILE || path.join(os.tmpdir(), `soak-figures-${process.pid}.jsonl`);

const base = require('./jest.config.js');

/** @type {import('jest').Config} */
module.exports = {
  ...base,
  testMatch: ['<rootDir>/test/soak/**/*.test.ts', '<rootDir>/test/fuzz/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/'],
  testTimeout: 30 * 60 * 1000,
  globalSetup: '<rootDir>/test/soak/figures.js',
  globalTeardown: '<rootDir>/test/soak/figures.js',
};
