/**
 * What the assignment form's owner field holds. Teams' people picker submits the person's Entra
 * object id (a GUID); the typed fallback (Emulator, Web Chat) and a prefilled suggestion submit
 * an e-mail / UPN; a ServiceNow user name is accepted as before.
 */

export type OwnerInput =
  { kind: 'email'; email: string } | { kind: 'objectId'; objectId: string } | { kind: 'userName'; userName: string } | { kind: 'empty' } | { kind: 'invalid' };

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const EMAIL = /^[^\s@]+@[^\s@]+$/;
const USER_NAME = /^[\w.-]+$/;

export function isEntraObjectId(value: string): boolean {
  return GUID.test(value.trim());
}

export function parseOwnerInput(raw: string): OwnerInput {
  const value = raw.trim();
  if (!value) return { kind: 'empty' };
  // Before the user-name rule: a GUID is also made of word characters and dashes.
  if (GUID.test(value)) return { kind: 'objectId', objectId: value.toLowerCase() };
  if (EMAIL.test(value)) return { kind: 'email', email: value.toLowerCase() };
  if (USER_NAME.test(value)) return { kind: 'userName', userName: value };
  return { kind: 'invalid' };
}

/** Shown next to the owner field when a picked person's object id cannot be turned into a UPN. */
export const PERSON_NOT_FOUND = 'could not find this person in the directory; pick them again or type their e-mail address';

/**
 * The form data with a picked person's object id replaced by their UPN, looked up with `upnOf`
 * (Microsoft Graph). Unknown ids, a failed lookup or no lookup leave the id, which the form
 * schema then refuses with PERSON_NOT_FOUND next to the field: nothing is assigned to a GUID.
 */
export async function withOwnerUpn<T extends Record<string, unknown>>(data: T, upnOf?: (objectId: string) => Promise<string | undefined>): Promise<T> {
  const owner = typeof data.assignedTo === 'string' ? parseOwnerInput(data.assignedTo) : undefined;
  if (owner?.kind !== 'objectId' || !upnOf) return data;
  try {
    const upn = await upnOf(owner.objectId);
    return upn ? { ...data, assignedTo: upn } : data;
  } catch {
    return data;
  }
}
