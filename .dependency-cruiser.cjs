/**
 * Layer rules of notes/architecture.md (`npm run lint:layers`, part of `npm test`): each folder
 * imports only the folders below it, and nothing reaches itself. Production code is everything
 * but sandbox/, test/ and bench/ (which may import anything except where a rule says otherwise).
 *
 *   core ← cards ← app ← bot / jobs / cli        connectors, storage → core + app/ports.ts
 *   compose wires them all (for bot/main.ts, bot/index.ts#createApp and cli/)
 */
const PRODUCTION = '^(app|appPackage|bot|cards|cli|compose|connectors|core|jobs|storage|web)/';

/** A regular expression matching exactly these files. */
const exactly = (files) => `^(${files.map((f) => f.replace(/[.]/g, '\\.')).join('|')})$`;

/** The ports are interfaces: implementations (connectors/, storage/) may import them, types and error helpers only. */
const PORTS = exactly(['app/ports.ts']);

/** A folder may import only these production folders (npm packages and node: modules are checked elsewhere). */
function onlyFrom(name, folder, allowed, comment) {
  return { name, severity: 'error', comment, from: { path: `^${folder}/` }, to: { path: PRODUCTION, pathNot: allowed } };
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
      to: { pathNot: '^core/', dependencyTypesNot: ['npm', 'core'] },
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
    onlyFrom('cards-only-core', 'cards', '^(cards|core)/', 'cards/ are presentation: model in, JSON out.'),
    onlyFrom(
      'app-only-core-cards',
      'app',
      '^(app|cards|core)/',
      'app/ holds the use cases: it sees the domain, the cards and its own ports; implementations are injected (compose/).',
    ),
    {
      name: 'app-no-adapter-packages',
      severity: 'error',
      comment: 'app/ reaches the outside only through its ports: no Teams, HTTP, database or scheduler package.',
      from: { path: '^app/' },
      to: { path: '(^|/)node_modules/(botbuilder[^/]*|restify|axios|lowdb|pg|node-cron|@azure/[^/]+|proper-lockfile)/' },
    },
    onlyFrom(
      'bot-not-to-lower-adapters',
      'bot',
      ['^(app|bot|cards|core)/', '^compose/'],
      'bot/ is the Teams adapter: a turn becomes a use-case call (app/) and its answer a card; it does not reach connectors, storage, jobs or the CLI.',
    ),
    {
      name: 'bot-compose-only-from-the-entry',
      severity: 'error',
      comment: 'Only the process entry (bot/main.ts) and createApp (bot/index.ts) are wired by compose/; the rest of bot/ gets its services injected.',
      from: { path: '^bot/', pathNot: exactly(['bot/main.ts', 'bot/index.ts']) },
      to: { path: '^compose/' },
    },
    onlyFrom(
      'jobs-not-to-bot',
      'jobs',
      '^(app|core|jobs)/',
      'jobs/ are schedules: which use case runs when. They reach Teams through the Messenger port, never the adapter.',
    ),
    onlyFrom(
      'cli-not-to-bot',
      'cli',
      '^(app|cli|compose|core)/',
      'cli/ parses arguments and calls the use cases through compose/; it never builds or borrows the Teams adapter.',
    ),
    {
      name: 'cli-never-builds-the-server',
      severity: 'error',
      comment: 'Not even through compose/: the CLI runs use cases without the restify server, the activity handler or createApp.',
      from: { path: '^cli/' },
      to: { path: exactly(['bot/index.ts', 'bot/server.ts', 'bot/teamsBot.ts', 'bot/main.ts']), reachable: true },
    },
    onlyFrom(
      'connectors-not-up',
      'connectors',
      ['^(connectors|core)/', PORTS],
      'connectors/ implement ports for the app; they do not know the use cases, the Teams adapter, the jobs, the CLI or the store.',
    ),
    onlyFrom('storage-not-up', 'storage', ['^(storage|core)/', PORTS], 'storage/ implements the Store port; it knows the domain and the port only.'),
    {
      name: 'compose-not-to-tools',
      severity: 'error',
      comment: 'compose/ wires production code: never the CLI, tests or benches, and the simulators only through the sandbox entry.',
      from: { path: '^compose/' },
      to: { path: '^(cli|test|bench)/' },
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
