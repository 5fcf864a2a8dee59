import { ping } from './ping.js';

// Waiting for the app to answer its health URL (Toes' convention: GET /ok) with a 2xx.
export interface HealthOutcome {
  ok: boolean;
  detail: string;
  /** Milliseconds from the start of the wait to the first 2xx. */
  ms: number;
}

export async function waitHealthy(url: string, timeoutMs: number, intervalMs: number): Promise<HealthOutcome> {
  const t0 = Date.now();
  let last = 'no answer yet';
  while (Date.now() - t0 < timeoutMs) {
    const left = timeoutMs - (Date.now() - t0);
    try {
      const status = await ping(url, { timeoutMs: Math.max(100, Math.min(left, 5_000)) });
      if (status >= 200 && status < 300) return { ok: true, detail: `${url} answered ${status}`, ms: Date.now() - t0 };
      last = `${url} answered HTTP ${status}`;
    } catch (err) {
      last = `${url} did not answer (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
    }
    await new Promise((r) => setTimeout(r, Math.min(intervalMs, Math.max(0, timeoutMs - (Date.now() - t0)))));
  }
  return { ok: false, detail: `${last} within ${Math.round(timeoutMs / 1000)}s`, ms: Date.now() - t0 };
}
