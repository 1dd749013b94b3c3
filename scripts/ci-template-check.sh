#!/usr/bin/env bash
# The template check: a repository made from this template deletes the example models and adds its
# own. This proves the toolkit still works there: in a fresh clone of this checkout (committed files
# only, as CI sees them) it deletes models/*, writes one other model (real sha256 and size of a file it
# creates) with dev, staging and production deploying it, commits that, and runs
#   validate, the test command, npm run demo
# which must all pass. The toolkit's tests and demo use examples/fleet, never the root registry.
#   bash scripts/ci-template-check.sh [COMMAND...]    (run from the checkout; COMMAND: npm test when absent)
# .ci/run passes `npm test`: the suite runs once, here, which proves both that it passes and that it
# does not depend on the example registry.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD

step() { printf '\n==> template check: %s\n' "$*"; }
fail() {
  printf '\n!! template check failed: %s\n' "$*" >&2
  exit 1
}

[ -d "$src/node_modules" ] || fail "no node_modules in $src (run npm ci first)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/model-gitops-template-check.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
repo=$tmp/repo

step "clone $src into $repo"
git clone --quiet "$src" "$repo" || fail "git clone"
# A copy, not a link: the tests write caches under node_modules, and they stay in the clone.
rm -rf "$repo/node_modules"
mkdir "$repo/node_modules"
cp -a "$src/node_modules/." "$repo/node_modules/" || fail "copy node_modules"
cd "$repo"
# Node 24 from node_modules, as npm scripts get it.
export PATH="$repo/node_modules/.bin:$PATH"
git config user.name 'template check'
git config user.email 'template-check@example.com'

step "replace the example models with one model of our own (sentiment-tagger 0.1.0)"
git rm -rq models
rm -rf models environments
mkdir -p models/sentiment-tagger/versions environments weights/sentiment-tagger/0.1.0
printf '{"architecture":"lookup","labels":["negative","neutral","positive"]}\n' \
  >weights/sentiment-tagger/0.1.0/config.json
weights_sha=$(sha256sum weights/sentiment-tagger/0.1.0/config.json | cut -d' ' -f1)
weights_size=$(wc -c <weights/sentiment-tagger/0.1.0/config.json | tr -d ' ')

cat >models/sentiment-tagger/model.yaml <<'EOF'
# yaml-language-server: $schema=../../schemas/model.schema.json
name: sentiment-tagger
owners: ["@example/ml"]
task: text-classification
description: Tags a support message as negative, neutral or positive.
EOF

cat >models/sentiment-tagger/versions/0.1.0.yaml <<EOF
# yaml-language-server: \$schema=../../../schemas/model-version.schema.json
name: sentiment-tagger
version: 0.1.0
summary: First sentiment tagger.
interface:
  inputs: [{name: text, dtype: string, shape: [batch]}]
  outputs: [{name: label, dtype: string, shape: [batch], labels: [negative, neutral, positive]}]
architecture: {family: lookup, parameters: 3, format: other, dtype: f32}
artifacts:
  - {path: config.json, sha256: $weights_sha, size: $weights_size}
lineage:
  code: {repository: example/sentiment-training, commit: 89abcdef0123456789abcdef0123456789abcdef}
EOF

cat >environments/dev.yaml <<'EOF'
# yaml-language-server: $schema=../schemas/environment.schema.json
description: Every new version lands here first.
models:
  sentiment-tagger: 0.1.0
EOF
cat >environments/staging.yaml <<'EOF'
# yaml-language-server: $schema=../schemas/environment.schema.json
description: Pre-production.
requires: dev
models:
  sentiment-tagger: 0.1.0
EOF
cat >environments/production.yaml <<'EOF'
# yaml-language-server: $schema=../schemas/environment.schema.json
description: Customer traffic.
requires: staging
models:
  sentiment-tagger: 0.1.0
EOF
rm -rf weights
git add -A models environments
git commit --quiet -m 'our own model replaces the examples' || fail "commit"
[ "$(ls models)" = sentiment-tagger ] || fail "models/ holds more than the new model: $(ls models | tr '\n' ' ')"
if [ -n "$(git status --short)" ]; then fail "the clone is not clean after the commit"; fi

step "validate (the registry of the new repository)"
node bin/model-gitops.js validate || fail "validate"

test_command=("$@")
[ ${#test_command[@]} -gt 0 ] || test_command=(npm test)
step "${test_command[*]}"
"${test_command[@]}" || fail "${test_command[*]}"

step "npm run demo"
npm run demo || fail "npm run demo"
[ -z "$(git status --short -- models environments)" ] || fail "the demo or the tests changed models/ or environments/"

step "passed: validate, ${test_command[*]} and npm run demo work with the examples removed and another model added"
