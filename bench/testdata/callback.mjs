// Figure 14's TypeScript leg: the Copilot SDK's bearerTokenProvider from
// @byokcred/client, called as the runtime calls it. Usage:
//   node callback.mjs CLIENT_DIST_INDEX SOCKET PROVIDER
// Each line "N" on stdin makes N calls, one at a time; the answer is one
// line: a JSON array of each call's wall time in ns.
import { createInterface } from "node:readline";

const [index, socket, provider] = process.argv.slice(2);
const { bearerTokenProvider } = await import(index);
const cb = bearerTokenProvider(provider, { socket });
for await (const line of createInterface({ input: process.stdin })) {
  const n = Number(line);
  const ns = [];
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    const tok = await cb({ providerName: provider, sessionId: "bench" });
    ns.push(Number(process.hrtime.bigint() - t));
    if (!tok) throw new Error("empty token");
  }
  process.stdout.write(JSON.stringify(ns) + "\n");
}
