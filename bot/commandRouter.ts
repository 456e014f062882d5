import type { OutgoingMessage, TurnInfo } from './turn.js';

export interface CommandContext extends TurnInfo {
  /** Text after the command word, trimmed. */
  args: string;
  reply(message: OutgoingMessage): Promise<void>;
}

export interface Command {
  name: string;
  aliases?: string[];
  usage: string;
  description: string;
  handle(ctx: CommandContext): Promise<void>;
}

/** Teams prefixes channel messages with "<at>Bot</at>"; the Emulator sends plain text. */
export function normalizeCommandText(text: string | undefined): string {
  return (text ?? '')
    .replace(/<at>[^<]*<\/at>/gi, ' ')
    .replace(/&nbsp;/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

export function splitCommand(text: string): { word: string; args: string } {
  const normalized = normalizeCommandText(text);
  const space = normalized.indexOf(' ');
  if (space < 0) return { word: normalized.toLowerCase(), args: '' };
  return { word: normalized.slice(0, space).toLowerCase(), args: normalized.slice(space + 1).trim() };
}

export class CommandRouter {
  private readonly byWord = new Map<string, Command>();
  private readonly ordered: Command[] = [];

  register(...commands: Command[]): this {
    for (const c of commands) {
      for (const word of [c.name, ...(c.aliases ?? [])]) {
        if (this.byWord.has(word)) throw new Error(`command word "${word}" registered twice`);
        this.byWord.set(word, c);
      }
      this.ordered.push(c);
    }
    return this;
  }

  list(): readonly Command[] {
    return this.ordered;
  }

  /** Returns false when no command matches, so the caller can answer with a hint. */
  async dispatch(text: string, base: TurnInfo, reply: CommandContext['reply']): Promise<boolean> {
    const { word, args } = splitCommand(text);
    const command = this.byWord.get(word);
    if (!command) return false;
    await command.handle({ ...base, args, reply });
    return true;
  }
}
