// Whether an app accepts webhooks, and its signing secret. One small JSON file per app,
// mode 0600, written under a lock like every other setting. The secret is Standard
// Webhooks' `whsec_<base64>` form: rev.host takes it as is, and GitHub and Forgejo use the
// same string as their HMAC key.
import { randomBytes } from 'node:crypto';
import { readJson, updateJson } from '../../releases/settings/files.js';
import type { Layout } from '../../releases/paths.js';

export interface WebhookState {
  enabled: boolean;
  secret: string;
  createdAt: string;
  updatedAt: string;
}

/** 32 random bytes: above Standard Webhooks' minimum of 24. */
export function newSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

export async function readWebhook(layout: Layout, app: string): Promise<WebhookState | undefined> {
  const v = await readJson(layout.webhookFile(app));
  if (typeof v.secret !== 'string' || !v.secret) return undefined;
  return { enabled: v.enabled === true, secret: v.secret, createdAt: String(v.createdAt ?? ''), updatedAt: String(v.updatedAt ?? '') };
}

/**
 * Turns webhooks on or off. Enabling keeps an existing secret (nothing to paste again)
 * unless `rotate` asks for a new one; disabling keeps it for a later enable.
 */
export async function setWebhook(layout: Layout, app: string, change: { enabled: boolean; rotate?: boolean }, now = new Date()): Promise<WebhookState> {
  const at = now.toISOString();
  const v = await updateJson(layout.webhookFile(app), (cur) => {
    if (typeof cur.secret !== 'string' || !cur.secret || change.rotate) {
      if (!change.enabled && !cur.secret) return; // disabling what never existed: nothing to write
      cur.secret = newSecret();
      cur.createdAt = at;
    }
    cur.enabled = change.enabled;
    cur.updatedAt = at;
  });
  return { enabled: v.enabled === true, secret: String(v.secret ?? ''), createdAt: String(v.createdAt ?? ''), updatedAt: String(v.updatedAt ?? '') };
}
