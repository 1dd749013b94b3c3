// A stand-in for the `vllm` executable (NOT vLLM): `vllm serve <dir> --served-model-name NAME --host H
// --port P` serves an OpenAI-compatible API for NAME whose answers quote the folder's weights.txt, so a
// test can tell which folder answers. /health is 503 for the first ~200 ms (vLLM loading), then 200.
// Every start is appended to $VLLM_STAND_IN_LOG as one JSON line.
'use strict';
const { createServer } = require('node:http');
const { readFileSync, appendFileSync } = require('node:fs');
const { join } = require('node:path');
const argv = process.argv.slice(2);
const opt = (name) => {
  const i = argv.indexOf(name);
  return i < 0 ? undefined : argv[i + 1];
};
if (argv[0] !== 'serve' || !argv[1]) {
  console.error('usage: vllm serve <model dir> --served-model-name NAME --host H --port P');
  process.exit(2);
}
const dir = argv[1];
let weights;
try {
  weights = readFileSync(join(dir, 'weights.txt'), 'utf8').trim();
} catch (e) {
  console.error(`ValueError: cannot load model from ${dir}: ${e.message}`);
  process.exit(1);
}
const name = opt('--served-model-name') ?? dir;
if (process.env.VLLM_STAND_IN_LOG)
  appendFileSync(process.env.VLLM_STAND_IN_LOG, `${JSON.stringify({ pid: process.pid, argv })}\n`);
const startedAt = Date.now();
const server = createServer((req, res) => {
  let raw = '';
  req.on('data', (c) => (raw += c));
  req.on('end', () => {
    const reply = (status, body) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.url === '/health') return reply(Date.now() - startedAt < 200 ? 503 : 200, {});
    if (req.url === '/v1/models') return reply(200, { object: 'list', data: [{ id: name, object: 'model' }] });
    const body = raw ? JSON.parse(raw) : {};
    if (body.model !== name) return reply(404, { error: { message: `The model \`${body.model}\` does not exist.` } });
    const prompt = req.url === '/v1/chat/completions' ? body.messages.at(-1).content : body.prompt;
    const text = `${weights}: ${prompt}`;
    if (body.stream === true) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (const w of text.split(/(?<= )/))
        res.write(`data: ${JSON.stringify({ id: 'v', object: 'text_completion', model: name, choices: [{ index: 0, text: w, finish_reason: null }] })}\n\n`);
      return res.end('data: [DONE]\n\n');
    }
    return reply(200, { id: 'v', object: 'text_completion', model: name, choices: [{ index: 0, text, finish_reason: 'stop' }] });
  });
});
server.listen(Number(opt('--port')), opt('--host') ?? '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
