/**
 * The Defender simulator in its own process for the sync benchmark: a real Resource Graph sits
 * on another machine, so its memory and CPU must not count against the sync pass being measured.
 * Started by bench/sync.ts with fork(); answers { url, tenantId } over IPC and stops on 'close'.
 */
import { z } from 'zod';
import { generateDataset } from '../sandbox/defender/dataset.js';
import { startDefenderSimulator } from '../sandbox/defender/index.js';

const Args = z.object({ recommendations: z.number().int().positive(), assessments: z.number().int().positive(), pageSize: z.number().int().positive() });

async function main(): Promise<void> {
  const args = Args.parse(JSON.parse(process.argv[2] ?? '{}'));
  const dataset = generateDataset({ recommendations: args.recommendations, assessments: args.assessments, unhealthyRatio: 1 });
  const sim = await startDefenderSimulator({ dataset, quota: 'off', pageSize: args.pageSize, httpControl: false });
  const stop = () => void sim.close().finally(() => process.exit(0));
  process.on('message', (m) => {
    if (m === 'close') stop();
  });
  // The parent died or let go: nothing left to serve.
  process.on('disconnect', stop);
  process.send!({ url: sim.url, tenantId: sim.tenantId });
}

main().catch((err: unknown) => {
  console.error(`bench simulator: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
