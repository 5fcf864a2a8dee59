// The sample Toes app: a Bun web server on $PORT.
//   GET /    -> which version (package.json) and which release (build-info.json) is running
//   GET /ok  -> 200, Toes' health check
import { readFileSync } from 'node:fs';

function readJson(name: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(new URL(`./${name}`, import.meta.url), 'utf8'));
  } catch {
    return {};
  }
}

const { name, version } = readJson('package.json');
const { release, builtAt } = readJson('build-info.json');

// Bun serves a default export that has a `fetch` handler.
export default {
  port: Number(process.env.PORT ?? 3000),
  fetch(req: Request): Response {
    const { pathname } = new URL(req.url);
    if (pathname === '/ok') return new Response('ok\n');
    if (pathname === '/') {
      const body = JSON.stringify({ app: name, version, release: release ?? null, builtAt: builtAt ?? null });
      return new Response(body + '\n', { headers: { 'content-type': 'application/json' } });
    }
    return new Response('not found\n', { status: 404 });
  },
};
