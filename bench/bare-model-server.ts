// The peer the gateway benchmarks compare with: the same loaded model behind a bare node:http server
// that parses the JSON body, predicts and answers, with no routing, limits, metrics or hot-swap.
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { LoadedModel } from '../src/gateway/index.ts';

/** `extra` may answer a request itself (a bench's side route) and return true. */
export function bareModelServer(
  loaded: LoadedModel,
  extra?: (req: IncomingMessage, res: ServerResponse) => boolean,
): Server {
  return createServer((req, res) => {
    if (extra?.(req, res)) return;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const body = JSON.parse(Buffer.concat(chunks).toString()) as { inputs: unknown };
      const text = JSON.stringify({ outputs: await loaded.predict(body.inputs) });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    });
  });
}
