#!/usr/bin/env node
// Entry point of the `model-gitops` command. The sources are TypeScript that Node >= 22.18 runs
// directly (type stripping), so there is no build step between a git checkout and a working CLI.
import '../src/cli/main.ts';
