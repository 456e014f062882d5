export * from './server.js';
export type { AssessmentTarget, NewAssessment, StoredGovernanceAssignment, GovernanceAssignmentPropertiesBody, AssessmentView } from './state.js';
