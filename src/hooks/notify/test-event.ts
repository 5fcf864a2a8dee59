// `toes notify test`: one event sent now, outside the outbox, so the answer can be shown.
import { randomBytes } from 'node:crypto';
import { receiverRequest, type DeployEvent } from './events.js';
import { post, type Attempt } from './post.js';
import type { Receiver } from './receivers.js';

export async function sendTest(r: Receiver, app: string, now = new Date()): Promise<Attempt> {
  const event: DeployEvent = { type: 'notify.test', timestamp: now.toISOString(), data: { app, reason: 'a test from `toes notify test`' } };
  const id = `msg_${randomBytes(12).toString('hex')}`;
  return post(receiverRequest(r, event, JSON.stringify(event), id, Math.floor(now.getTime() / 1000)), [r.secret]);
}
