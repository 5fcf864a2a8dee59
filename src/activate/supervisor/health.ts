import { ping } from './ping.js';

// Waiting for the app to answer its health URL (Toes' convention: GET /ok) with a 2xx.
export interface HealthOutcome {
  ok: boolean;
  detail: string;
  /** Milliseconds from the start of the wait to the first 2xx. */
  ms: number;
  /** A failure's cause alone, without what to check: for a sentence that already says it. */
  cause?: string;
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

export async function waitHealthy(url: string, timeoutMs: number, intervalMs: number, app: string): Promise<HealthOutcome> {
  const t0 = Date.now();
  let last = 'no answer yet';
  for (let attempt = 0; Date.now() - t0 < timeoutMs; attempt++) {
    const left = timeoutMs - (Date.now() - t0);
    try {
      const status = await ping(url, { timeoutMs: Math.max(100, Math.min(left, 5_000)) });
      if (status >= 200 && status < 300) return { ok: true, detail: `${url} answered ${status}`, ms: Date.now() - t0 };
      last = `it answered HTTP ${status}`;
    } catch (err) {
      last = `it did not answer: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
    }
    await new Promise((r) => setTimeout(r, Math.min(pauseAfter(attempt, intervalMs), Math.max(0, timeoutMs - (Date.now() - t0)))));
  }
  const cause = `no 2xx from ${url} within ${Math.round(timeoutMs / 1000)}s (the last time ${last})`;
  return {
    ok: false,
    cause,
    detail: `${cause}; if the app is running, check that its \`health.url\` setting is where it answers GET /ok (\`toes config get ${app} health.url\` shows it)`,
    ms: Date.now() - t0,
  };
}
