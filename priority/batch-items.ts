/**
 * Building the wire items of a batch from engine inputs, and putting the
 * reliable and lossy lanes back into one arrival order.
 */
import type {
  BatchItem,
  ChatItem,
  CustomItem,
  ReliableItem,
} from '../protocol/index.js';
import type { EngineInput } from './input.js';
import type { LossyEntry } from './lossy-selection.js';

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

export function lossyItem(entry: LossyEntry): ChatItem | CustomItem {
  const input = entry.input;
  if (entry.priority === undefined) {
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

/** Merges the two lanes by arrival; each is already in arrival order. */
export function interleave(
  reliable: readonly ReliableItem[],
  reliableArrivals: readonly number[],
  lossy: readonly LossyEntry[],
): BatchItem[] {
  const items: BatchItem[] = [];
  let r = 0;
  let l = 0;
  while (r < reliable.length || l < lossy.length) {
    const entry = lossy[l];
    const arrival = reliableArrivals[r];
    if (
      entry === undefined ||
      (arrival !== undefined && arrival < entry.arrival)
    ) {
      items.push(reliable[r] as ReliableItem);
      r++;
    } else {
      items.push(lossyItem(entry));
      l++;
    }
  }

  return items;
}
