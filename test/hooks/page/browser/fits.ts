// The page's one layout rule, checked in Chromium: nothing wider than the window, and
// every button, field and link inside it.
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';

export async function fits(page: Page, what: string): Promise<void> {
  const m = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    inner: window.innerWidth,
    outside: [...document.querySelectorAll('button, input, a')]
      .filter((e) => (e as HTMLElement).offsetParent !== null)
      .map((e) => ({ id: e.id || e.className || e.textContent, right: e.getBoundingClientRect().right }))
      .filter((b) => b.right > window.innerWidth + 0.5),
  }));
  assert.ok(m.scroll <= m.inner, `${what}: the page is ${m.scroll} px wide in a ${m.inner} px window`);
  assert.deepEqual(m.outside, [], `${what}: out of reach`);
}
