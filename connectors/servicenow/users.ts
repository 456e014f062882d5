/**
 * Who a ticket is assigned to, as an identity the bot and Defender understand (email, else user
 * name). `assigned_to` is a sys_id; the Table API dot-walks references in `sysparm_fields`
 * (`assigned_to.email`), so the tickets and their assignees come back in one read per batch
 * instead of one sys_user lookup per ticket.
 */
import type { TicketRecord, TicketTable } from './client.js';

/** The part of ServiceNowClient used here. */
export interface TicketReader {
  getTickets(table: TicketTable, sysIds: readonly string[], fields?: readonly string[]): Promise<TicketRecord[]>;
}

export const ASSIGNEE_FIELDS = ['assigned_to', 'assigned_to.email', 'assigned_to.user_name', 'sys_updated_on'] as const;

export interface TicketWithAssignee {
  ticket: TicketRecord;
  /** sys_id of assigned_to; empty when unassigned. */
  assigneeSysId: string;
  /** Email of the assignee, or its user name when it has no email; undefined when unassigned. */
  assignee?: string;
}

export function assigneeOf(ticket: TicketRecord): TicketWithAssignee {
  const sysId = ticket.fields['assigned_to'] ?? '';
  const email = (ticket.fields['assigned_to.email'] ?? '').trim();
  const userName = (ticket.fields['assigned_to.user_name'] ?? '').trim();
  return { ticket, assigneeSysId: sysId, ...(sysId ? { assignee: email || userName || undefined } : {}) };
}

/** Tickets with their assignees, in the client's sys_id batches; missing tickets are absent. */
export async function readTicketsWithAssignees(client: TicketReader, table: TicketTable, sysIds: readonly string[]): Promise<TicketWithAssignee[]> {
  const tickets = await client.getTickets(table, sysIds, ASSIGNEE_FIELDS);
  return tickets.map(assigneeOf);
}
