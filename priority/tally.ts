/**
 * A running tally of merged inputs (likes or joins) with a sample of recent
 * names. `add` is on the hot path, so the names go into a small ring by
 * overwriting; duplicates are only removed when an aggregate is built, once
 * per tick instead of once per like.
 */

export class Tally {
  /** Inputs merged since the last take. */
  messages = 0;
  /** Units (likes, joins) those inputs carried. */
  units = 0;
  #ring: string[] = [];
  #mask = 0;
  #head = 0;
  #named = 0;

  constructor(recentNames: number) {
    this.resize(recentNames);
  }

  /**
   * Sizes the ring at four times the names wanted, so a few repeat likers
   * do not push every other name out before the sample is taken.
   */
  resize(recentNames: number): void {
    let size = 1;
    while (size < recentNames * 4) {
      size *= 2;
    }

    this.#ring = recentNames === 0 ? [] : new Array<string>(size).fill('');
    this.#mask = recentNames === 0 ? -1 : size - 1;
    this.#head = 0;
    this.#named = 0;
  }

  add(units: number, name: string | undefined): void {
    this.messages++;
    this.units += units;
    if (name !== undefined && this.#mask >= 0) {
      this.#ring[this.#head] = name;
      this.#head = (this.#head + 1) & this.#mask;
      this.#named++;
    }
  }

  /** Up to `limit` distinct names, newest first, from inputs since the last take. */
  names(limit: number): string[] {
    const out: string[] = [];
    const available = Math.min(this.#named, this.#ring.length);
    for (let i = 1; i <= available && out.length < limit; i++) {
      const name = this.#ring[(this.#head - i) & this.#mask] as string;
      if (!out.includes(name)) {
        out.push(name);
      }
    }

    return out;
  }

  /** Forgets everything since the last take. */
  take(): void {
    this.messages = 0;
    this.units = 0;
    this.#named = 0;
  }
}
