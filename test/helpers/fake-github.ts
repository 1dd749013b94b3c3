// A stand-in for the GitHub API on 127.0.0.1 (node:http), just enough of the issue-comments API for
// the actions' pull-request comments (list, create, update) and of GraphQL for `viewer { login }`
// (who the token is; comments it creates are written as that login). It records every request, and
// any path under /forbidden/ answers 403 (a read-only token, as on a fork's pull request).
import { type IncomingMessage, type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  url: string;
  auth: string | undefined;
  body: unknown;
}
export interface FakeComment {
  id: number;
  body: string;
  user: { login: string; type?: string };
}

export class FakeGitHub {
  readonly requests: RecordedRequest[] = [];
  comments: FakeComment[] = [];
  /** Base URL for GITHUB_API_URL, set by start(). */
  url = '';
  /** The identity of every token: GraphQL `viewer.login`, and the author of the comments it creates. */
  login = 'github-actions[bot]';
  private server!: Server;
  private nextId = 1000;
  private readonly repo: string;
  private readonly issue: number;

  /** Serves /repos/<repo>/issues/<issue>/comments and /repos/<repo>/issues/comments/<id>. */
  constructor(repo: string, issue: number) {
    this.repo = repo;
    this.issue = issue;
  }

  async start(): Promise<this> {
    this.server = createServer(
      (req, res) =>
        void this.handle(req).then(([status, body]) => {
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(body));
        }),
    );
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage): Promise<[number, unknown]> {
    let raw = '';
    for await (const chunk of req) raw += chunk;
    const body = raw ? (JSON.parse(raw) as { body?: string; query?: string }) : undefined;
    this.requests.push({ method: req.method!, url: req.url!, auth: req.headers.authorization, body });
    const path = new URL(req.url!, this.url).pathname;
    if (path.startsWith('/forbidden/')) return [403, { message: 'Resource not accessible by integration' }];
    if (req.method === 'POST' && path === '/graphql') {
      if (/\bviewer\s*\{\s*login\s*\}/.test(body?.query ?? ''))
        return [200, { data: { viewer: { login: this.login } } }];
      return [200, { errors: [{ message: `unsupported query: ${body?.query}` }] }];
    }
    const issueComments = `/repos/${this.repo}/issues/${this.issue}/comments`;
    if (req.method === 'GET' && path === issueComments) return [200, this.comments];
    if (req.method === 'POST' && path === issueComments) {
      const type = this.login.endsWith('[bot]') ? 'Bot' : 'User';
      const c = { id: this.nextId++, body: body!.body!, user: { login: this.login, type } };
      this.comments.push(c);
      return [201, c];
    }
    const m = new RegExp(`^/repos/${this.repo}/issues/comments/(\\d+)$`).exec(path);
    if (req.method === 'PATCH' && m) {
      const c = this.comments.find((x) => x.id === Number(m[1]));
      if (!c) return [404, { message: 'Not Found' }];
      c.body = body!.body!;
      return [200, c];
    }
    return [404, { message: `no route for ${req.method} ${path}` }];
  }
}
