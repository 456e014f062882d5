export {
  startServiceNowSimulator,
  type FaultSpec,
  type JournalEntry,
  type BatchSettings,
  type RequestRecord,
  type ServiceNowSimulator,
  type SimulatorControl,
  type SimulatorOptions,
} from './server.js';
export {
  DEFAULT_GROUP_NAME,
  DEFAULT_SIMULATOR_CREDENTIALS,
  defaultSeed,
  groupId,
  seedSysId,
  userId,
  type SimRow,
  type SimulatorCredentials,
  type SimulatorSeed,
} from './seed.js';
export { SIM_TABLES, type SimTable } from './schema.js';
export type { RuleSettings } from './rules.js';
