/**
 * `npm run bench -- create-assignment`: not built yet. The figures (1 / 10 / 100 / 1,000 tickets
 * at 20 ms simulated ServiceNow latency vs N sequential creates; the submit invoke's p99 at 1 s
 * latency) measure the redesigned creation (work queue, bounded concurrency, owner and caller
 * resolved once per submit, the invoke answered within 2 s). Today's AssignmentService.submit creates the tickets one after another
 * inside the invoke, so the rows would only restate "N × per-ticket latency"; they are listed so
 * the table shows every figure of the issue, and get values when the redesign lands.
 */
import type { Benchmark } from './lib/context.js';
import { missingRow, type Row } from './lib/rows.js';

export const TICKET_COUNTS = [1, 10, 100, 1_000] as const;

export async function runCreateAssignment(): Promise<Row[]> {
  const why = 'not built yet: measures the work-queue creation of the coming redesign';
  return [
    ...TICKET_COUNTS.map((n) =>
      missingRow(
        `create assignment: ${n.toLocaleString('en-US')} ticket${n === 1 ? '' : 's'} at 20 ms latency (vs ${n.toLocaleString('en-US')} sequential creates)`,
        's',
        why,
      ),
    ),
    missingRow('create assignment: submit invoke p99 at 1 s latency', 'ms', why, { atMost: 2_000 }),
  ];
}

export const createAssignmentBenchmark: Benchmark = {
  name: 'create-assignment',
  description: 'not built yet (depends on the work-queue redesign): listed so the table shows the figure',
  inDefaultRun: true,
  run: runCreateAssignment,
};
