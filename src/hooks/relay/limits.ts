// Token buckets for flood control: per instance and per source address. The table of
// buckets is bounded, so a flood from many addresses cannot grow memory without end.
export class RateLimiter {
  private buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    /** Requests per second, sustained. */
    private rate: number,
    /** Requests allowed at once above the rate. */
    private burst: number,
    private maxKeys = 50_000,
  ) {}

  /** True if the request may go ahead; false means 429. */
  take(key: string, now = Date.now()): boolean {
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= this.maxKeys) this.prune(now);
      b = { tokens: this.burst, at: now };
      this.buckets.set(key, b);
    }
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.rate);
    b.at = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /** Gives back one request taken earlier (it turned out not to count). */
  give(key: string): void {
    const b = this.buckets.get(key);
    if (b) b.tokens = Math.min(this.burst, b.tokens + 1);
  }

  /** Seconds until one more request would be allowed, for Retry-After. */
  retryAfter(): number {
    return Math.max(1, Math.ceil(1 / this.rate));
  }

  private prune(now: number): void {
    // Full buckets carry no state worth keeping.
    for (const [k, b] of this.buckets) if (b.tokens + ((now - b.at) / 1000) * this.rate >= this.burst) this.buckets.delete(k);
    if (this.buckets.size >= this.maxKeys) this.buckets.clear();
  }
}

export interface FloodLimits {
  perInstance: RateLimiter;
  perAddress: RateLimiter;
  registrations: RateLimiter;
}

/** Webhooks per second (sustained, bursts of 4x) per instance and per source address; registrations one a second. */
export function floodLimits(instanceRate = 50, addressRate = 100): FloodLimits {
  return {
    perInstance: new RateLimiter(instanceRate, Math.max(10, instanceRate * 4)),
    perAddress: new RateLimiter(addressRate, Math.max(10, addressRate * 4)),
    registrations: new RateLimiter(1, 10),
  };
}
