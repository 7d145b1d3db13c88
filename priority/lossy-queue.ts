/**
 * The lossy items (chat and lossy custom types) a room holds between
 * `offer` and its next tick, and the lists the reliable lane uses the same
 * way.
 *
 * Both are parallel arrays that live as long as the room and are reused
 * every tick, with the count kept beside them, instead of one small object
 * per queued chat and new arrays per tick. Those objects lived from `offer`
 * to the tick, long enough to survive a young-generation collection and be
 * promoted, so at 10,000 rooms they were the engine's main garbage
 * collection cost. `array.length = 0` is not used to empty them: V8 drops
 * the backing store on it, so every tick would allocate again.
 *
 * Emptying writes `undefined` over the used slots, so no input is kept
 * alive after its tick. A list that once held more than
 * `SHRINK_ABOVE_ITEMS` (a flood) is replaced by a fresh one when emptied, so
 * a burst does not pin its memory for the life of the room.
 */
import { Buffer } from 'node:buffer';
import type { EngineInput } from './input.js';

/** Encoded size of a chat item apart from its strings, estimated. */
export const CHAT_OVERHEAD_BYTES = 48;
/** Size assumed for a custom lossy item that does not state `bytes`. */
export const CUSTOM_DEFAULT_BYTES = 128;
/** Capacity past which an emptied list gives its arrays back. */
const SHRINK_ABOVE_ITEMS = 1024;

/** Values in arrival order, each with its position in the room's arrivals. */
export class ArrivalList<T> {
  /** Number of values held. */
  length = 0;
  #values: (T | undefined)[] = [];
  #arrivals: number[] = [];

  push(value: T, arrival: number): void {
    const at = this.length;
    if (at < this.#values.length) {
      this.#values[at] = value;
      this.#arrivals[at] = arrival;
    } else {
      this.#values.push(value);
      this.#arrivals.push(arrival);
    }

    this.length = at + 1;
  }

  /** The value at `index`, which must be below `length`. */
  value(index: number): T {
    return this.#values[index] as T;
  }

  /** Arrival position of the value at `index`, which must be below `length`. */
  arrival(index: number): number {
    return this.#arrivals[index] as number;
  }

  /** Forgets every value, keeping the arrays for the next tick. */
  clear(): void {
    if (this.#values.length > SHRINK_ABOVE_ITEMS) {
      this.#values = [];
      this.#arrivals = [];
    } else {
      for (let i = 0; i < this.length; i++) {
        this.#values[i] = undefined;
      }
    }

    this.length = 0;
  }
}

/**
 * Estimated encoded size of a lossy item, in bytes: the input's `bytes`
 * when given, else 48 bytes plus the UTF-8 length of chat's strings, or 128
 * for a custom item.
 */
export function lossyBytes(
  input: EngineInput,
  priority: number | undefined,
): number {
  if (input.bytes !== undefined) {
    return input.bytes;
  }

  if (priority !== undefined) {
    return CUSTOM_DEFAULT_BYTES;
  }

  return (
    CHAT_OVERHEAD_BYTES +
    (input.id?.length ?? 0) +
    (input.from?.id.length ?? 0) +
    Buffer.byteLength(input.from?.name ?? '') +
    Buffer.byteLength(input.text ?? '')
  );
}

/**
 * The lossy lane's queue: inputs with their arrival position, their size
 * estimate and, for custom types, their priority (undefined for chat), plus
 * the admitted flag the tick's selection sets when the lane is over budget.
 *
 * The size is estimated here, on `offer`, while the input's strings are
 * still in the CPU cache. Every tick needs the sizes of all queued items (to
 * see whether the lane fits its byte budget), and by then, with thousands
 * of rooms in between, reading the strings again costs a cache miss each.
 */
export class LossyQueue {
  /** Number of items queued. */
  length = 0;
  /** How many of them are custom items. */
  customCount = 0;
  #inputs: (EngineInput | undefined)[] = [];
  #arrivals: number[] = [];
  #priorities: (number | undefined)[] = [];
  #bytes: number[] = [];
  #admitted: boolean[] = [];

  push(
    input: EngineInput,
    arrival: number,
    priority: number | undefined,
  ): void {
    const at = this.length;
    if (at < this.#inputs.length) {
      this.#inputs[at] = input;
      this.#arrivals[at] = arrival;
      this.#priorities[at] = priority;
      this.#bytes[at] = lossyBytes(input, priority);
      this.#admitted[at] = false;
    } else {
      this.#inputs.push(input);
      this.#arrivals.push(arrival);
      this.#priorities.push(priority);
      this.#bytes.push(lossyBytes(input, priority));
      this.#admitted.push(false);
    }

    this.length = at + 1;
    if (priority !== undefined) {
      this.customCount++;
    }
  }

  /** The input at `index`, which must be below `length`. */
  input(index: number): EngineInput {
    return this.#inputs[index] as EngineInput;
  }

  arrival(index: number): number {
    return this.#arrivals[index] as number;
  }

  /** A custom item's priority; undefined for chat. */
  priority(index: number): number | undefined {
    return this.#priorities[index];
  }

  /** Whether the selection admitted the item; only set when over budget. */
  admitted(index: number): boolean {
    return this.#admitted[index] === true;
  }

  admit(index: number): void {
    this.#admitted[index] = true;
  }

  /** Estimated encoded size of the item at `index`, in bytes. */
  bytes(index: number): number {
    return this.#bytes[index] as number;
  }

  /** Forgets every item, keeping the arrays for the next tick. */
  clear(): void {
    if (this.#inputs.length > SHRINK_ABOVE_ITEMS) {
      this.#inputs = [];
      this.#arrivals = [];
      this.#priorities = [];
      this.#bytes = [];
      this.#admitted = [];
    } else {
      for (let i = 0; i < this.length; i++) {
        this.#inputs[i] = undefined;
      }
    }

    this.length = 0;
    this.customCount = 0;
  }
}
