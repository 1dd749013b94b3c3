// Child process for the cross-process determinism test: routes the keys given on stdin (JSON) with
// a fresh router and prints the decisions as JSON.
import { createRouter } from '../../src/manifest/routing.ts';

let input = '';
process.stdin.setEncoding('utf8');
for await (const chunk of process.stdin) input += chunk;
const { manifest, environment, seed, model, keys } = JSON.parse(input);
const router = createRouter(manifest, environment, seed === undefined ? {} : { seed });
process.stdout.write(
  JSON.stringify(keys.map((k: string) => [router.bucket(model, k), router.route(model, k).version])),
);
