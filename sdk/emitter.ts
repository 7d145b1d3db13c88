/**
 * A typed event emitter small enough for the browser bundle. A listener that
 * throws does not stop the others or the client: its error is rethrown in a
 * microtask, where it reaches the host's unhandled-error reporting.
 */
export type Listener<T> = (payload: T) => void;

type AnyListener = (payload: unknown) => void;

export class Emitter<Events> {
  #listeners = new Map<keyof Events, Set<AnyListener>>();

  /** Adds a listener; returns a function that removes it. */
  on<E extends keyof Events>(
    event: E,
    listener: Listener<Events[E]>,
  ): () => void {
    let set = this.#listeners.get(event);
    if (set === undefined) {
      set = new Set();
      this.#listeners.set(event, set);
    }

    set.add(listener as AnyListener);
    return () => {
      this.off(event, listener);
    };
  }

  /** Adds a listener that runs once. */
  once<E extends keyof Events>(
    event: E,
    listener: Listener<Events[E]>,
  ): () => void {
    const off = this.on(event, (payload) => {
      off();
      listener(payload);
    });
    return off;
  }

  off<E extends keyof Events>(event: E, listener: Listener<Events[E]>): void {
    this.#listeners.get(event)?.delete(listener as AnyListener);
  }

  emit<E extends keyof Events>(event: E, payload: Events[E]): void {
    const set = this.#listeners.get(event);
    if (set === undefined) {
      return;
    }

    for (const listener of [...set]) {
      try {
        listener(payload);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  listenerCount(event: keyof Events): number {
    return this.#listeners.get(event)?.size ?? 0;
  }
}
