import * as AC from 'adaptivecards';

/**
 * Teams' people picker is an Input.ChoiceSet with `choices.data` (Data.Query over
 * graph.microsoft.com/users) and, as Microsoft's own samples have it, possibly no static choice:
 * the choices come from the directory search. The official renderer's 1.5 validation does not
 * know that and asks for a choice; that one warning is not a problem in Teams.
 */
export function isPeoplePickerWithoutChoices(e: { event: AC.ValidationEvent; source?: unknown }): boolean {
  const source = e.source as { choicesData?: { dataset?: string } } | undefined;
  return e.event === AC.ValidationEvent.CollectionCantBeEmpty && source?.choicesData?.dataset === 'graph.microsoft.com/users';
}

/** Parses a card with the official renderer's object model and returns every warning it raises. */
export function cardProblems(json: object): string[] {
  const card = new AC.AdaptiveCard();
  const ctx = new AC.SerializationContext();
  card.parse(json, ctx);
  const problems: string[] = [];
  for (let i = 0; i < ctx.eventCount; i++) problems.push(ctx.getEventAt(i).message);
  for (const e of card.validateProperties().validationEvents) if (!isPeoplePickerWithoutChoices(e)) problems.push(e.message);
  return problems;
}
