import { ping } from './ping.js';

// Waiting for the app to answer its health URL (Toes' convention: GET /ok) with a 2xx.
export interface HealthOutcome {
  ok: boolean;
  detail: string;
  /** Milliseconds from the start of the wait to the first 2xx. */
  ms: number;
}

/** The first pause between polls; each next one doubles, up to the configured interval. */
const FIRST_PAUSE_MS = 5;

/**
 * The pauses between polls: 5, 10, 20, 40 ms... up to `intervalMs`. A restarted app is
 * usually listening within tens of ms; a fixed 250 ms interval found it not yet up at the
 * first poll and made every restart wait for the second.
 */
export function pauseAfter(attempt: number, intervalMs: number): number {
  return Math.min(intervalMs, FIRST_PAUSE_MS * 2 ** Math.min(attempt, 20));
}

export async function waitHealthy(url: string, timeoutMs: number, intervalMs: number): Promise<HealthOutcome> {
  const t0 = Date.now();
  let last = 'no answer yet';
  for (let attempt = 0; Date.now() - t0 < timeoutMs; attempt++) {
    const left = timeoutMs - (Date.now() - t0);
    try {
      const status = await ping(url, { timeoutMs: Math.max(100, Math.min(left, 5_000)) });
      if (status >= 200 && status < 300) return { ok: true, detail: `${url} answered ${status}`, ms: Date.now() - t0 };
      last = `it answered HTTP ${status}`;
    } catch (err) {
      last = `it did not answer (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
    }
    await new Promise((r) => setTimeout(r, Math.min(pauseAfter(attempt, intervalMs), Math.max(0, timeoutMs - (Date.now() - t0)))));
  }
  const secs = Math.round(timeoutMs / 1000);
  return {
    ok: false,
    detail: `no 2xx from ${url} within ${secs}s (the last time ${last}); if the app is running, check that its \`health.url\` setting is where it answers GET /ok (\`toes config get\` shows it)`,
    ms: Date.now() - t0,
  };
}
