/**
 * Building the wire items of a batch from engine inputs. The items are the
 * engine's output, so they are new objects every tick: the caller may keep
 * them, and they must not carry the input's own fields (`seq` on chat,
 * `bytes`, `count`).
 */
import type { ChatItem, CustomItem, ReliableItem } from '../protocol/index.js';
import type { EngineInput } from './input.js';

/** A reliable item; `id` and `seq` are passed in already checked. */
export function reliableItem(
  input: EngineInput,
  id: string,
  seq: number,
): ReliableItem {
  const item: ReliableItem = { type: input.type, id, seq, ts: input.ts };
  if (input.from !== undefined) {
    item.from = input.from;
  }

  if (input.data !== undefined) {
    item.data = input.data;
  }

  return item;
}

/**
 * A chat item. The engine checks id, from and text when the chat is
 * offered, so the casts only restate that check.
 */
export function chatItem(input: EngineInput): ChatItem {
  return {
    type: 'chat',
    id: input.id as string,
    ts: input.ts,
    from: input.from as NonNullable<EngineInput['from']>,
    text: input.text as string,
  };
}

/** The copy of a dropped chat that goes back to its sender only. */
export function echoItem(input: EngineInput): ChatItem {
  const item = chatItem(input);
  item.echo = true;
  return item;
}

/** A lossy item: chat, or a custom item when `priority` is set. */
export function lossyItem(
  input: EngineInput,
  priority: number | undefined,
): ChatItem | CustomItem {
  if (priority === undefined) {
    return chatItem(input);
  }

  const item: CustomItem = { type: input.type, ts: input.ts };
  if (input.id !== undefined) {
    item.id = input.id;
  }

  if (input.from !== undefined) {
    item.from = input.from;
  }

  if (input.data !== undefined) {
    item.data = input.data;
  }

  return item;
}
