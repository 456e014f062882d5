/**
 * `npm run test:soak`: the long suites, outside `npm test`'s time budget. Everything under
 * test/soak/, plus the fuzz suite at 20,000 cases (FUZZ_RUNS overrides).
 */
process.env.FUZZ_RUNS = process.env.FUZZ_RUNS || '20000';

const base = require('./jest.config.js');

/** @type {import('jest').Config} */
module.exports = {
  ...base,
  testMatch: ['<rootDir>/test/soak/**/*.test.ts', '<rootDir>/test/fuzz/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/'],
  testTimeout: 30 * 60 * 1000,
};
