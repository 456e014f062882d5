import { randomUUID } from 'node:crypto';
import os from 'node:os';

/**
 * This process's name in job claims (JobRuns holder): host, pid and a random part, so a restarted
 * process with a reused pid does not inherit a tick its predecessor held.
 */
export const replicaId = `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
