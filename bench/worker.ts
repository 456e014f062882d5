/**
 * Entry of every benchmark child process (see bench/lib/child.ts): `node dist/bench/worker.js
 * TASK 'JSON args'`. Task modules are loaded on demand, so a child holds only the code its task
 * needs (its RSS is part of what some tasks measure).
 */
import type { ChildMessage, ParentMessage, TaskOutcome } from './lib/child.js';

type Task = (args: never) => Promise<TaskOutcome>;

const TASKS: Record<string, () => Promise<Task>> = {
  'defender-simulator': async () => (await import('./simulatorChild.js')).defenderSimulatorTask,
  'sandbox-defender-simulator': async () => (await import('./simulatorChild.js')).sandboxDefenderSimulatorTask,
  simulators: async () => (await import('./simulatorChild.js')).simulatorsTask,
  'servicenow-simulator': async () => (await import('./simulatorChild.js')).serviceNowSimulatorTask,
  'echo-bot': async () => (await import('./echoBot.js')).echoBotTask,
  'bot-server': async () => (await import('./botChild.js')).botServerTask,
  'sync-pass': async () => (await import('./sync.js')).syncPassTask,
  'raw-fetch': async () => (await import('./sync.js')).rawFetchTask,
  'reminders-plan': async () => (await import('./reminders.js')).remindersPlanTask,
  'rules-plan': async () => (await import('./rules.js')).rulesPlanTask,
  'store-write': async () => (await import('./store.js')).storeWriteTask,
  'store-prepare': async () => (await import('./store.js')).storePrepareTask,
  'store-prepare-postgres': async () => (await import('./store.js')).storePreparePostgresTask,
  'store-engine-prepare': async () => (await import('./storeEngines.js')).storeEnginePrepareTask,
  'store-engine-measure': async () => (await import('./storeEngines.js')).storeEngineMeasureTask,
};

const send = (m: ChildMessage) => process.send?.(m);

async function main(): Promise<void> {
  const [name, rawArgs] = process.argv.slice(2);
  const load = name ? TASKS[name] : undefined;
  if (!load) throw new Error(`unknown bench task ${name ?? '(none)'}; known: ${Object.keys(TASKS).join(', ')}`);
  const task = await load();
  const outcome = await task(JSON.parse(rawArgs ?? 'null') as never);
  if ('result' in outcome) {
    // Exit once the result is out: a task may leave handles open, and --cpu-prof needs a clean exit.
    process.send?.({ type: 'result', value: outcome.result } satisfies ChildMessage, () => process.exit(0));
    return;
  }
  let closing = false;
  const close = async () => {
    if (closing) return;
    closing = true;
    await outcome.close?.();
    // A clean exit, so --cpu-prof writes its profile.
    process.exit(0);
  };
  process.on('message', (m: ParentMessage) => {
    if (m.type === 'close') void close();
    else if (m.type === 'call') {
      const method = outcome.methods?.[m.method];
      if (!method) return send({ type: 'reply', id: m.id, error: `no method ${m.method}` });
      Promise.resolve()
        .then(() => method(m.args as never))
        .then(
          (value) => send({ type: 'reply', id: m.id, value }),
          (err: unknown) => send({ type: 'reply', id: m.id, error: err instanceof Error ? err.message : String(err) }),
        );
    }
  });
  // The parent is gone: nothing is left to serve.
  process.on('disconnect', () => void close());
  send({ type: 'ready', value: outcome.ready });
}

main().catch((err: unknown) => {
  const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
  if (process.send) process.send({ type: 'error', message } satisfies ChildMessage, () => process.exit(1));
  else {
    console.error(message);
    process.exit(1);
  }
});
