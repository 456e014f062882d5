import assignmentFormTemplate from './assignmentForm.json';
import assignmentListTemplate from './assignmentList.json';
import assignmentResultTemplate from './assignmentResult.json';
import confirmTemplate from './confirm.json';
import { defineCard } from './render.js';

export interface AssignmentFormModel {
  recommendationKey: string;
  recommendationName: string;
  severity: string;
  resourceSummary: string;
  resourceIdsCsv: string;
  ticketWord: string;
  integrations: { title: string; value: string }[];
  customized: boolean;
  minDate: string;
  maxDate: string;
  errors: { label: string; message: string }[];
  values: {
    integrationId: string;
    ticketType: string;
    assignedTo: string;
    caller: string;
    shortDescription: string;
    description: string;
    dueDate: string;
    grouping: string;
    gracePeriod: string;
    notifyOwner: string;
    notifyManager: string;
    assignmentGroup: string;
    impact: string;
    urgency: string;
  };
}

export interface AssignmentResultModel {
  title: string;
  color: 'Good' | 'Warning' | 'Attention';
  recommendationKey: string;
  recommendationName: string;
  batchId: string;
  failed: number;
  items: { resourceName: string; ticketNumber: string; ticketLink: string; owner: string; dueDate: string; note: string; error: string }[];
}

export interface AssignmentListModel {
  title: string;
  summary: string;
  more: number;
  rows: {
    recommendation: string;
    resource: string;
    severity: string;
    owner: string;
    dueDate: string;
    dueText: string;
    grace: string;
    status: string;
    color: 'Default' | 'Attention' | 'Good' | 'Warning';
    ticketNumber: string;
    ticketLink: string;
  }[];
}

export const assignmentFormCard = defineCard<AssignmentFormModel>(assignmentFormTemplate);
export const assignmentResultCard = defineCard<AssignmentResultModel>(assignmentResultTemplate);
export const assignmentListCard = defineCard<AssignmentListModel>(assignmentListTemplate);

export interface ConfirmModel {
  title: string;
  text: string;
  confirmTitle: string;
  confirmVerb: string;
  confirmData: Record<string, string>;
  cancelVerb: string;
  cancelData: Record<string, string | number>;
}
export const confirmCard = defineCard<ConfirmModel>(confirmTemplate);
