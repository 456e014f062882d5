import { z } from 'zod';
/**
 * Calendar days in a time zone. Due dates are plain days (YYYY-MM-DD) in REMINDER_TIMEZONE, so
 * every "today" they are compared with must be that zone's date, never the UTC one: otherwise the
 * form, the cards and the reminders disagree for the hours the two dates differ.
 * Intl only (no Node APIs): the dashboard tab bundles this into the browser too.
 */

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    formatters.set(timeZone, f);
  }
  return f;
}

export function isValidTimeZone(timeZone: string): boolean {
  try {
    formatterFor(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** The wall-clock date (YYYY-MM-DD) and time (HH:mm) of an instant in a time zone. */
export function localTime(now: Date, timeZone: string): { date: string; time: string } {
  const parts: Record<string, string> = {};
  for (const p of formatterFor(timeZone).formatToParts(now)) parts[p.type] = p.value;
  return { date: `${parts.year}-${parts.month}-${parts.day}`, time: `${parts.hour}:${parts.minute}` };
}

/** The calendar day (YYYY-MM-DD) of an instant in a time zone: "today" for due dates. */
export function localDay(now: Date, timeZone: string): string {
  return localTime(now, timeZone).date;
}

const DAY_MS = 86_400_000;
const dayNumber = (day: string) => Date.UTC(Number(day.slice(0, 4)), Number(day.slice(5, 7)) - 1, Number(day.slice(8, 10))) / DAY_MS;

/** Whole days from one calendar day to another (negative when `toDay` is earlier). */
export function daysBetween(fromDay: string, toDay: string): number {
  return dayNumber(toDay) - dayNumber(fromDay);
}

export function addDays(day: string, days: number): string {
  return new Date((dayNumber(day) + days) * DAY_MS).toISOString().slice(0, 10);
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** A calendar date typed by a person: YYYY-MM-DD and a day that exists. */
export const realDaySchema = z
  .string()
  .trim()
  .regex(DAY, 'must be a date (YYYY-MM-DD)')
  .refine((d) => !Number.isNaN(Date.parse(d)) && new Date(`${d}T00:00:00Z`).toISOString().startsWith(d), 'is not a real date');

/** A date that can become a due date or an ETA: after today (as `today()` says) and within a year. */
export function futureDaySchema(today: () => string) {
  return realDaySchema.refine((d) => d > today(), 'must be after today').refine((d) => daysBetween(today(), d) <= 365, 'must be within a year');
}

/**
 * The last second (23:59:59) of a calendar day in a time zone, as an instant. The zone's offset is
 * read at that instant, so a day that starts or ends a daylight-saving period is still right.
 */
export function zonedDayEnd(day: string, timeZone: string): Date {
  const wall = Date.UTC(Number(day.slice(0, 4)), Number(day.slice(5, 7)) - 1, Number(day.slice(8, 10)), 23, 59, 59);
  const offsetAt = (instant: number) => {
    const { date, time } = localTime(new Date(instant), timeZone);
    const local = Date.UTC(
      Number(date.slice(0, 4)),
      Number(date.slice(5, 7)) - 1,
      Number(date.slice(8, 10)),
      Number(time.slice(0, 2)),
      Number(time.slice(3, 5)),
      59,
    );
    return local - instant;
  };
  // Two steps: the offset at the first guess may differ from the one at the answer (DST change).
  let instant = wall - offsetAt(wall);
  instant = wall - offsetAt(instant);
  return new Date(instant);
}
