// Each sender's standing with each instance, from the verdicts the instance gives in its
// acks. The relay cannot check a signature (it never holds the apps' secrets), so it learns
// who sends junk from the instance: a source address whose deliveries were refused moves to
// a small shared budget, and after repeated refusals is refused outright; both fade as its
// refusals decay. A source never refused keeps the instance's whole rate, and what junk
// took from that rate before its verdict came back is given back when it does.
import { RateLimiter } from './limits.js';

/** Refusals (and acceptances) count half after this long. */
const HALF_LIFE_MS = 10 * 60_000;
/** Decayed refusals from which a source shares the small budget... */
const SUSPECT = 2;
/** ...and from which it is refused outright, unless the instance also accepted from it lately. */
const BANNED = 8;
/** A table entry holds no state worth keeping once both counts are below this. */
const FORGOTTEN = 0.05;
/** A full table is pruned down to this share of its bound. */
const MAKE_ROOM = 0.9;

export type Standing = 'clean' | 'suspect' | 'banned';

interface Record {
  refused: number;
  accepted: number;
  at: number;
  /** Taken from the instance's own rate and not judged yet: given back if refused. */
  charged: number;
}

export class SenderBudget {
  private table = new Map<string, Record>();
  /** One small bucket per instance, shared by all its suspect sources. */
  private suspects: RateLimiter;

  constructor(
    /** The instance's own rate: clean sources take from it. */
    private perInstance: RateLimiter,
    suspectRate = 1,
    private maxKeys = 100_000,
  ) {
    this.suspects = new RateLimiter(suspectRate, 5, maxKeys);
  }

  /** Counts decayed to `now`; undefined for a source with no verdicts worth remembering. */
  private record(instance: string, src: string, now: number): Record | undefined {
    const r = this.table.get(`${instance} ${src}`);
    if (!r) return undefined;
    const f = 2 ** (-(now - r.at) / HALF_LIFE_MS);
    r.refused *= f;
    r.accepted *= f;
    r.at = now;
    return r;
  }

  standing(instance: string, src: string, now = Date.now()): Standing {
    const r = this.record(instance, src, now);
    if (!r || r.refused < SUSPECT) return 'clean';
    // A source that also delivers real webhooks (a forge's delivery addresses, which an
    // attacker can point at any URL too) is never refused outright, only slowed.
    if (r.accepted * 4 >= r.refused) return 'clean';
    if (r.refused >= BANNED && r.accepted < 1) return 'banned';
    return 'suspect';
  }

  /**
   * Takes one webhook from the budget this source has for the instance; the answer is
   * undefined when it may go ahead, else why not and for how many seconds.
   */
  take(instance: string, src: string, now = Date.now()): { banned: boolean; retryAfter: number } | undefined {
    const standing = this.standing(instance, src, now);
    if (standing === 'banned') return { banned: true, retryAfter: this.banSeconds(instance, src) };
    if (standing === 'suspect') return this.suspects.take(instance, now) ? undefined : { banned: false, retryAfter: this.suspects.retryAfter() };
    if (!this.perInstance.take(instance, now)) return { banned: false, retryAfter: this.perInstance.retryAfter() };
    const r = this.entry(instance, src, now);
    r.charged++;
    return undefined;
  }

  /** The instance judged a webhook from `src`. */
  verdict(instance: string, src: string, accepted: boolean, now = Date.now()): void {
    const r = this.entry(instance, src, now);
    if (accepted) r.accepted++;
    else r.refused++;
    if (r.charged > 0) {
      r.charged--;
      // Junk gives back the rate it took: it never keeps a real sender's place.
      if (!accepted) this.perInstance.give(instance);
    }
  }

  /** Seconds until a banned source's refusals have decayed below the ban. */
  private banSeconds(instance: string, src: string): number {
    const r = this.table.get(`${instance} ${src}`);
    if (!r || r.refused < BANNED) return 1;
    return Math.max(1, Math.ceil((Math.log2(r.refused / BANNED) * HALF_LIFE_MS) / 1000));
  }

  private entry(instance: string, src: string, now: number): Record {
    const key = `${instance} ${src}`;
    let r = this.record(instance, src, now);
    if (!r) {
      if (this.table.size >= this.maxKeys) this.prune(now);
      r = { refused: 0, accepted: 0, at: now, charged: 0 };
      this.table.set(key, r);
    }
    return r;
  }

  /**
   * Bounded, and what an attacker with many addresses fills it with goes first: entries
   * decayed to nothing, then sources the instance never accepted from lately (suspects
   * before banned ones), and only then real senders' credit (which keeps a forge's shared
   * addresses clean when someone points junk at them). Each pass stops at MAKE_ROOM of the
   * bound, so the table is not scanned again for every new source.
   */
  private prune(now: number): void {
    const room = Math.floor(this.maxKeys * MAKE_ROOM);
    const passes: ((refused: number, accepted: number) => boolean)[] = [
      (refused, accepted) => refused < FORGOTTEN && accepted < FORGOTTEN,
      (refused, accepted) => accepted < 1 && refused < BANNED,
      (_, accepted) => accepted < 1,
    ];
    for (const gone of passes) {
      for (const [k, r] of this.table) {
        if (this.table.size <= room) return;
        const f = 2 ** (-(now - r.at) / HALF_LIFE_MS);
        if (gone(r.refused * f, r.accepted * f)) this.table.delete(k);
      }
    }
    // Real senders fill it all: start again rather than scan it for every new source.
    this.table.clear();
  }
}
