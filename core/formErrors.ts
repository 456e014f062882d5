/**
 * Validation problems as a person reads them next to the field they typed in: the field's label
 * (as the form shows it) and a short instruction, e.g. "Justification: write at least 10
 * characters", instead of the input id and the validator's text ("justification: must be at least
 * 10 characters"). Pure: the forms' labels come from the caller.
 */

/** The parts of a zod 4 issue this module reads (zod's own type is wider). */
export interface FormIssue {
  code: string;
  path: ReadonlyArray<PropertyKey>;
  message: string;
  origin?: string;
  minimum?: number | bigint;
  maximum?: number | bigint;
  format?: string;
}

/** Input id → the label the form shows for it. */
export type FieldLabels = Readonly<Record<string, string>>;

/** Our validators' own wording (core/, storage schemas) → what to do about it. */
const PHRASES: Array<[RegExp, string | ((m: RegExpExecArray) => string)]> = [
  [/^is required$/i, 'required'],
  [/^Invalid input: expected \w+, received (undefined|null)$/, 'required'],
  [/^must be after today$/i, 'pick a date after today'],
  [/^must be within a year$/i, 'pick a date within a year from today'],
  [/^is not a real date$/i, 'pick a date that exists'],
  [/^must be a date \(YYYY-MM-DD\)$/i, 'pick a date (YYYY-MM-DD)'],
  [/^must be at least (\d+) characters?$/i, (m) => `write at least ${m[1]} characters`],
  [/^must be at most (\d+) characters?$/i, (m) => `write at most ${m[1]} characters`],
  [/^must be an email \/ UPN or a ServiceNow user name$/i, 'enter an e-mail address (name@contoso.com) or a ServiceNow user name'],
  [/^must be one of (.+)$/is, (m) => `use one of: ${m[1]}`],
];

/** One validator message as an instruction; a message we do not know is kept, as a sentence. */
export function humanSentence(message: string): string {
  const text = message.trim();
  for (const [re, out] of PHRASES) {
    const m = re.exec(text);
    if (m) return typeof out === 'string' ? out : out(m);
  }
  return text;
}

const n = (v: number | bigint | undefined) => (v === undefined ? '' : String(v));

/** What to do about one issue, without the label. */
export function humanIssue(issue: FormIssue): string {
  const stringy = issue.origin === 'string';
  switch (issue.code) {
    case 'invalid_type':
      return /received (undefined|null)/.test(issue.message) ? 'required' : 'has the wrong kind of value';
    case 'too_small':
      if (stringy) return Number(issue.minimum) <= 1 ? 'required' : `write at least ${n(issue.minimum)} characters`;
      if (issue.origin === 'array' || issue.origin === 'set') return Number(issue.minimum) <= 1 ? 'choose at least one' : `choose at least ${n(issue.minimum)}`;
      return `must be at least ${n(issue.minimum)}`;
    case 'too_big':
      if (stringy) return `write at most ${n(issue.maximum)} characters`;
      if (issue.origin === 'array' || issue.origin === 'set') return `choose at most ${n(issue.maximum)}`;
      return `must be at most ${n(issue.maximum)}`;
    case 'invalid_value':
      return 'choose one of the options';
    case 'invalid_format':
      if (issue.format === 'email') return 'enter an e-mail address such as name@contoso.com';
      if (issue.format === 'url') return 'enter a web address starting with https://';
      return humanSentence(issue.message);
    default:
      return humanSentence(issue.message);
  }
}

/** "shortDescription" → "Short description", for an input id the caller gave no label for. */
export function labelOf(field: string, labels: FieldLabels): string {
  if (labels[field]) return labels[field];
  if (!field) return 'This form';
  const words = field
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/[_.-]+/g, ' ')
    .toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** "Label: instruction" with the instruction's first letter kept as written. */
export function labelled(field: string, sentence: string, labels: FieldLabels): string {
  return `${labelOf(field, labels)}: ${sentence}`;
}

/**
 * Per top-level input id (path[0]; '' for the whole form), the first problem as "Label:
 * instruction". Later problems of the same field wait until the first is fixed, as a form does.
 */
export function humanFormErrors(error: { issues: readonly FormIssue[] }, labels: FieldLabels): Record<string, string> {
  const out: Record<string, string> = {};
  for (const issue of error.issues) {
    const field = issue.path.length ? String(issue.path[0]) : '';
    out[field] ??= labelled(field, humanIssue(issue), labels);
  }
  return out;
}

/** Messages keyed by input id without labels (e.g. ServiceNow's answer) → "Label: instruction". */
export function labelledErrors(errors: Readonly<Record<string, string>>, labels: FieldLabels): Record<string, string> {
  return Object.fromEntries(Object.entries(errors).map(([field, message]) => [field, labelled(field, humanSentence(message), labels)]));
}
