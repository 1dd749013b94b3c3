// A stand-in for GitHub's REST API on 127.0.0.1: just enough of issues (list by label, create,
// update), issue comments, pulls (list by head, create) and GraphQL `viewer { login }` for the
// evaluation and experiment steps. Records every request. Not GitHub: a local test double.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

interface Issue {
  number: number;
  id: number;
  title: string;
  body: string;
  labels: { name: string }[];
  state: 'open' | 'closed';
  user: { login: string };
}
interface Comment {
  id: number;
  issue: number;
  body: string;
  user: { login: string };
}
interface Pull {
  number: number;
  head: string;
  base: string;
  title: string;
  body: string;
}

export class GitHubStandIn {
  readonly requests: { method: string; path: string; auth?: string }[] = [];
  issues: Issue[] = [];
  comments: Comment[] = [];
  pulls: Pull[] = [];
  login = 'github-actions[bot]';
  url = '';
  private server!: Server;
  private next = 1;
  readonly repo: string;
  constructor(repo: string) {
    this.repo = repo;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      void this.handle(req).then(([status, body]) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  stop(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }

  private async handle(req: IncomingMessage): Promise<[number, unknown]> {
    let raw = '';
    for await (const c of req) raw += c;
    const body = raw ? JSON.parse(raw) : undefined;
    const u = new URL(req.url!, 'http://x');
    this.requests.push({ method: req.method!, path: u.pathname + u.search, auth: req.headers.authorization });
    if (req.headers.authorization !== 'Bearer test-token') return [401, { message: 'Bad credentials' }];
    if (req.method === 'POST' && u.pathname === '/graphql') return [200, { data: { viewer: { login: this.login } } }];
    const base = `/repos/${this.repo}`;
    if (u.pathname === `${base}/issues` && req.method === 'GET') {
      const label = u.searchParams.get('labels');
      return [200, this.issues.filter((i) => i.state === 'open' && (!label || i.labels.some((l) => l.name === label)))];
    }
    if (u.pathname === `${base}/issues` && req.method === 'POST') {
      const n = this.next++;
      const i: Issue = {
        number: n,
        id: 5000 + n,
        title: body.title,
        body: body.body,
        labels: (body.labels ?? []).map((name: string) => ({ name })),
        state: 'open',
        user: { login: this.login },
      };
      this.issues.push(i);
      return [201, i];
    }
    let m = new RegExp(`^${base}/issues/(\\d+)$`).exec(u.pathname);
    if (m && req.method === 'PATCH') {
      const i = this.issues.find((x) => x.number === Number(m![1]));
      if (!i) return [404, { message: 'Not Found' }];
      Object.assign(i, { title: body.title ?? i.title, body: body.body ?? i.body });
      return [200, i];
    }
    m = new RegExp(`^${base}/issues/(\\d+)/comments$`).exec(u.pathname);
    if (m && req.method === 'GET') return [200, this.comments.filter((c) => c.issue === Number(m![1]))];
    if (m && req.method === 'POST') {
      const c = { id: 9000 + this.next++, issue: Number(m[1]), body: body.body, user: { login: this.login } };
      this.comments.push(c);
      return [201, c];
    }
    m = new RegExp(`^${base}/issues/comments/(\\d+)$`).exec(u.pathname);
    if (m && req.method === 'PATCH') {
      const c = this.comments.find((x) => x.id === Number(m![1]));
      if (!c) return [404, { message: 'Not Found' }];
      c.body = body.body;
      return [200, c];
    }
    if (u.pathname === `${base}/pulls` && req.method === 'GET') {
      const head = u.searchParams.get('head')?.split(':')[1];
      return [200, this.pulls.filter((p) => p.head === head)];
    }
    if (u.pathname === `${base}/pulls` && req.method === 'POST') {
      if (!body.head || !body.base || !body.title) return [422, { message: 'Validation Failed' }];
      const p = { number: this.next++, head: body.head, base: body.base, title: body.title, body: body.body };
      this.pulls.push(p);
      return [201, p];
    }
    return [404, { message: `stand-in has no ${req.method} ${u.pathname}` }];
  }
}
