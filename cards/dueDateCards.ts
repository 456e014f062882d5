/** Security-admin side of "request more time": the request card posted to the assignment's channel. */
import dueDateRequestTemplate from './dueDateRequest.json';
import { defineCard } from './render.js';

export interface DueDateRequestModel {
  assignmentId: string;
  /** "bob@contoso.com asks for more time on … / vm-1 ([INC0010023](link)): new date …, reason: …" */
  headline: string;
  owner: string;
  recommendation: string;
  resource: string;
  /** "INC0010023" or "not created yet". */
  ticketText: string;
  /** "2026-12-04 · 4 days left" */
  dueText: string;
  /** The requested date (YYYY-MM-DD); Approve carries it so a stale card cannot apply twice. */
  eta: string;
  /** Bounds of the admin's date picker: tomorrow … a year from today. */
  minDate: string;
  maxDate: string;
  adminNote: string;
}

export const dueDateRequestCard = defineCard<DueDateRequestModel>(dueDateRequestTemplate);
