import * as AC from 'adaptivecards';
const json = { type: 'AdaptiveCard', version: '1.5', body: [{ type: 'Input.ChoiceSet', id: 'p', choices: [], 'choices.data': { type: 'Data.Query', dataset: 'graph.microsoft.com/users' } }] };
const card = new AC.AdaptiveCard();
const ctx = new AC.SerializationContext();
card.parse(json, ctx);
for (let i = 0; i < ctx.eventCount; i++) console.log('parse', ctx.getEventAt(i).message);
for (const e of card.validateProperties().validationEvents) console.log('validate', e.message, (e.source as any)?.choicesData, (e.source as any)?.id);
console.log(JSON.stringify(card.toJSON()));
