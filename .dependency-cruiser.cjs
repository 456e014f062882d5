/**
 * Layer rules of notes/architecture.md for the folders that exist today (`npm run lint:layers`,
 * part of `npm test`). Production code is everything but sandbox/, test/ and bench/.
 *
 * Edges that break a rule today and are removed by a later step of issue 12 are listed by file
 * under `TODO(12-3)`; every other edge against the layout fails the check.
 */
const PRODUCTION = '^(appPackage|bot|cards|cli|connectors|core|jobs|storage|web)/';

/** TODO(12-3): domain types move from storage/schema.ts to core/model.ts (the async-ports branch). */
const SCHEMA_TYPES = '^storage/schema\\.ts$';

/**
 * TODO(12-3): the bot/ modules each CLI file still borrows (config, logger, services, the whole
 * server for `remind`, a Messenger for `sync`). The application layer and compose/ replace every
 * one of these edges; a CLI file not listed here may not import bot/ at all.
 */
const CLI_TO_BOT_TODO = {
  'cli/botProcess.ts': ['bot/config.ts', 'bot/integrations.ts', 'bot/logger.ts'],
  'cli/index.ts': ['bot/integrations.ts'],
  'cli/remind.ts': ['bot/index.ts', 'bot/version.ts'],
  'cli/sync.ts': ['bot/config.ts', 'bot/logger.ts', 'bot/messenger.ts', 'bot/turn.ts'],
};

const exactly = (files) => `^(${files.map((f) => f.replace(/[.]/g, '\\.')).join('|')})$`;

function cliToBotRules() {
  const comment = 'cli/ calls the use cases; it never builds or borrows the Teams adapter.';
  const listed = Object.keys(CLI_TO_BOT_TODO);
  return [
    { name: 'cli-not-to-bot', severity: 'error', comment, from: { path: '^cli/', pathNot: exactly(listed) }, to: { path: '^bot/' } },
    ...Object.entries(CLI_TO_BOT_TODO).map(([file, allowed]) => ({
      name: 'cli-not-to-bot',
      severity: 'error',
      comment: `${comment} TODO(12-3): ${file} may still import ${allowed.join(', ')}.`,
      from: { path: exactly([file]) },
      to: { path: '^bot/', pathNot: exactly(allowed) },
    })),
  ];
}

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Data flows one way: no module may reach itself through its imports (type-only imports count).',
      from: {},
      to: { circular: true },
    },
    {
      name: 'core-is-pure',
      severity: 'error',
      comment: 'core/ is the domain: it imports only core/ and npm packages without I/O.',
      from: { path: '^core/' },
      to: {
        pathNot: ['^core/', SCHEMA_TYPES],
        dependencyTypesNot: ['npm', 'core'],
      },
    },
    {
      name: 'core-no-io-packages',
      severity: 'error',
      comment:
        'core/ may use zod and ipaddr.js, and of Node only crypto (hashing) and net (isIP in core/ipRanges.ts); nothing that reaches the network, the disk or a framework.',
      from: { path: '^core/' },
      to: {
        dependencyTypes: ['npm', 'npm-dev', 'npm-optional', 'npm-peer', 'npm-no-pkg', 'npm-unknown', 'core'],
        pathNot: ['(^|/)node_modules/(zod|ipaddr\\.js)/', '^(crypto|net)$'],
      },
    },
    {
      name: 'no-production-to-sandbox',
      severity: 'error',
      comment: 'Simulators and seed data never load in production: no static (or type) import of sandbox/ from production code.',
      from: { path: PRODUCTION },
      to: { path: '^sandbox/', dependencyTypesNot: ['dynamic-import'] },
    },
    {
      name: 'sandbox-loaded-only-by-the-sandbox-entry',
      severity: 'error',
      comment: 'The only dynamic imports of sandbox/: the process entry and the CLI commands that start a private simulator, each only in sandbox mode.',
      from: { path: PRODUCTION, pathNot: '^(bot/main|cli/sync|cli/remind)\\.ts$' },
      to: { path: '^sandbox/', dependencyTypes: ['dynamic-import'] },
    },
    {
      name: 'no-production-to-test-or-bench',
      severity: 'error',
      from: { path: PRODUCTION },
      to: { path: '^(test|bench)/' },
    },
    {
      name: 'sandbox-independent-of-the-product',
      severity: 'error',
      comment:
        "The simulators bring their own protocol definitions (sandbox/*/protocol.ts) so they catch the clients' mistakes instead of sharing them: from the product they may use only the generic clock and logger.",
      from: { path: '^sandbox/' },
      to: { path: PRODUCTION, pathNot: '^core/(clock|logger)\\.ts$' },
    },
    {
      name: 'connectors-not-up',
      severity: 'error',
      comment: 'connectors/ implement ports for the app; they do not know the Teams adapter, the jobs, the CLI or the store.',
      from: { path: '^connectors/' },
      to: { path: '^(bot|jobs|cli|storage|cards|web)/' },
    },
    {
      name: 'storage-not-up',
      severity: 'error',
      from: { path: '^storage/' },
      to: { path: '^(bot|jobs|cli|connectors|cards|web)/' },
    },
    {
      name: 'cards-only-core',
      severity: 'error',
      comment: 'cards/ are presentation: model in, JSON out.',
      from: { path: '^cards/' },
      to: { path: PRODUCTION, pathNot: ['^(cards|core)/', SCHEMA_TYPES] },
    },
    {
      name: 'jobs-not-to-bot',
      severity: 'error',
      comment: 'jobs/ are schedules; they reach Teams through the Messenger port, not the adapter.',
      from: { path: '^jobs/' },
      to: {
        path: '^(bot|cli)/',
        // TODO(12-3): the Messenger port moves to app/ports.ts.
        pathNot: '^bot/messenger\\.ts$',
      },
    },
    ...cliToBotRules(),
    {
      name: 'bot-not-to-cli',
      severity: 'error',
      from: {
        path: '^bot/',
        // TODO(12-3): BOT_ROLE (the data-folder lock's holder name) moves out of cli/botProcess.ts.
        pathNot: '^bot/main\\.ts$',
      },
      to: { path: '^cli/' },
    },
    {
      name: 'bot-main-to-cli-only-bot-role',
      severity: 'error',
      comment: 'TODO(12-3): bot/main.ts may still import cli/botProcess.ts (BOT_ROLE), nothing else of cli/.',
      from: { path: '^bot/main\\.ts$' },
      to: { path: '^cli/', pathNot: '^cli/botProcess\\.ts$' },
    },
    {
      name: 'core-schema-types-only',
      severity: 'error',
      comment: 'TODO(12-3): core/ and cards/ may still take their domain types from storage/schema.ts, as types only.',
      from: { path: '^(core|cards)/' },
      to: { path: SCHEMA_TYPES, dependencyTypesNot: ['type-only'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^dist/' },
    // Type-only imports are dependencies too: they tie a layer to another's model.
    tsPreCompilationDeps: true,
    // NodeNext specifiers ("./x.js") resolve to the .ts sources through the project's tsconfig.
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['main', 'types'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
