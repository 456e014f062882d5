import { readFileSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const AC_BUNDLE = require.resolve('adaptivecards/dist/adaptivecards.min.js');

/** Teams-like host config: Segoe-ish font, Teams colours, so the screenshot resembles Teams. */
const HOST_CONFIG = {
  fontFamily: 'Segoe UI, Helvetica Neue, sans-serif',
  containerStyles: {
    default: {
      backgroundColor: '#FFFFFF',
      foregroundColors: {
        default: { default: '#242424', subtle: '#616161' },
        attention: { default: '#C4314B' },
        warning: { default: '#835C00' },
        good: { default: '#237B4B' },
        accent: { default: '#5B5FC7' },
      },
    },
    emphasis: { backgroundColor: '#F5F5F5', foregroundColors: { default: { default: '#242424', subtle: '#616161' } } },
    attention: { backgroundColor: '#FCF4F6', foregroundColors: { default: { default: '#242424' } } },
    good: { backgroundColor: '#E7F2DA', foregroundColors: { default: { default: '#242424' } } },
    warning: { backgroundColor: '#FBF6D9', foregroundColors: { default: { default: '#242424' } } },
  },
  actions: { actionsOrientation: 'horizontal', buttonSpacing: 8, maxActions: 6 },
};

export interface RenderedCard {
  warnings: string[];
  png: Buffer;
}

/**
 * Renders a card with the official Adaptive Cards JavaScript renderer in headless Chromium and
 * screenshots it, so we see what a person would see and catch cards a host would refuse.
 */
export async function renderCardsToPng(cards: object[], browser?: Browser): Promise<RenderedCard[]> {
  const own = browser ?? (await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] }));
  try {
    const page = await own.newPage({ viewport: { width: 560, height: 400 }, deviceScaleFactor: 1 });
    await page.setContent(
      `<!doctype html><html><body style="margin:0;background:#f0f0f0;font-family:Segoe UI,Helvetica,sans-serif"><div id="card" style="width:520px;margin:16px;background:#fff;border-radius:6px;box-shadow:0 1px 3px rgba(0,0,0,.2)"></div></body></html>`,
    );
    await page.addScriptTag({ content: readFileSync(AC_BUNDLE, 'utf8') });
    const out: RenderedCard[] = [];
    for (const card of cards) {
      const warnings = await page.evaluate(
        ({ card, hostConfig }) => {
          const AC = (window as any).AdaptiveCards;
          // Teams renders a markdown subset (bold, italics, links); emulate it for the picture.
          AC.AdaptiveCard.onProcessMarkdown = (text: string, result: { outputHtml: string; didProcess: boolean }) => {
            const esc = text.replace(/&/g, '&amp;').replace(/</g, '&lt;');
            result.outputHtml = esc
              .replace(/\*\*([^*]+)\*\*/g, '<b>$1</b>')
              .replace(/(^|\s)_([^_]+)_/g, '$1<i>$2</i>')
              .replace(/\[([^\]]+)\]\(([^)]+)\)/g, '<a href="$2">$1</a>')
              .replace(/\n\n/g, '<br><br>')
              .replace(/\n/g, '<br>');
            result.didProcess = true;
          };
          const ac = new AC.AdaptiveCard();
          ac.hostConfig = new AC.HostConfig(hostConfig);
          const ctx = new AC.SerializationContext();
          ac.parse(card, ctx);
          const msgs: string[] = [];
          for (let i = 0; i < ctx.eventCount; i++) msgs.push(ctx.getEventAt(i).message);
          for (const e of ac.validateProperties().validationEvents) {
            // Teams' people picker may have no static choice (see test/cards/validate.ts).
            const peoplePicker = e.event === AC.ValidationEvent.CollectionCantBeEmpty && e.source?.choicesData?.dataset === 'graph.microsoft.com/users';
            if (!peoplePicker) msgs.push(e.message);
          }
          const el = ac.render();
          const host = document.getElementById('card')!;
          host.innerHTML = '';
          if (el) host.appendChild(el);
          else msgs.push('render() returned nothing');
          return msgs;
        },
        { card, hostConfig: HOST_CONFIG },
      );
      const png = await page.locator('#card').screenshot();
      out.push({ warnings, png });
    }
    return out;
  } finally {
    if (!browser) await own.close();
  }
}
