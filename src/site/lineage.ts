// A model's lineage as an SVG graph laid out by dagre when the site is built (no script, no network at
// view time): its versions, each one's parent (possibly another model's version), the base a derived
// version runs on, the versions of other models derived from this one (adapters, merges, quantized), and
// the datasets each version was trained on. Nodes have one fixed size, so a layout depends only on the
// graph's shape: layouts are memoised by shape, which keeps a 1,000-model site from paying dagre's cost
// once per model when most lineages are the same chain.
import dagre from '@dagrejs/dagre';
import { type Html, esc, h, raw } from './html.ts';

export type NodeKind = 'version' | 'external' | 'model' | 'dataset';

export interface LineageNode {
  id: string;
  kind: NodeKind;
  label: string;
  /** Site path relative to the page the graph is on. */
  href?: string;
  /** Highlighted (e.g. the version a page is about, or a version running in a final stage). */
  current?: boolean;
}

export interface LineageEdge {
  from: string;
  to: string;
  label?: string;
}

const NODE_W = 150;
const NODE_H = 32;
const MAX_LABEL = 22;

interface Layout {
  width: number;
  height: number;
  nodes: { x: number; y: number }[];
  edges: { x: number; y: number }[][];
}

const layouts = new Map<string, Layout>();

function layout(nodes: LineageNode[], edges: LineageEdge[]): Layout {
  const at = new Map(nodes.map((n, i) => [n.id, i]));
  const shape = `${nodes.map((n) => n.kind[0]).join('')}|${edges.map((e) => `${at.get(e.from)}>${at.get(e.to)}`).join(',')}`;
  const hit = layouts.get(shape);
  if (hit) return hit;
  const g = new dagre.graphlib.Graph({ multigraph: false });
  g.setGraph({ rankdir: 'LR', nodesep: 14, ranksep: 44, marginx: 8, marginy: 8 });
  g.setDefaultEdgeLabel(() => ({}));
  nodes.forEach((_, i) => g.setNode(String(i), { width: NODE_W, height: NODE_H }));
  for (const e of edges) g.setEdge(String(at.get(e.from)), String(at.get(e.to)));
  dagre.layout(g);
  const graph = g.graph();
  const out: Layout = {
    width: Math.ceil(graph.width ?? NODE_W),
    height: Math.ceil(graph.height ?? NODE_H),
    nodes: nodes.map((_, i) => {
      const n = g.node(String(i));
      return { x: n.x, y: n.y };
    }),
    edges: edges.map((e) => g.edge(String(at.get(e.from)), String(at.get(e.to)))?.points ?? []),
  };
  if (layouts.size > 10_000) layouts.clear();
  layouts.set(shape, out);
  return out;
}

const short = (s: string) => (s.length > MAX_LABEL ? `${s.slice(0, MAX_LABEL - 1)}…` : s);
const r1 = (n: number) => Math.round(n * 10) / 10;

/** Nodes must have unique ids; edges naming an unknown node are dropped. */
export function lineageGraph(title: string, nodes: LineageNode[], allEdges: LineageEdge[], id: string): Html {
  const ids = new Set(nodes.map((n) => n.id));
  const seen = new Set<string>();
  const edges = allEdges.filter((e) => {
    const k = `${e.from}\0${e.to}`;
    if (!ids.has(e.from) || !ids.has(e.to) || e.from === e.to || seen.has(k)) return false;
    seen.add(k);
    return true;
  });
  if (nodes.length === 0) return h`<p>No lineage recorded.</p>`;
  const l = layout(nodes, edges);
  const edgeSvg = edges.map((e, i) => {
    const pts = l.edges[i]!;
    const d = pts.map((p, j) => `${j === 0 ? 'M' : 'L'}${r1(p.x)},${r1(p.y)}`).join('');
    const mid = pts[Math.floor(pts.length / 2)];
    const lab =
      e.label && mid
        ? `<text class="edge-label" x="${r1(mid.x)}" y="${r1(mid.y) - 4}" text-anchor="middle">${esc(e.label)}</text>`
        : '';
    return raw(`<path class="edge" d="${d}" marker-end="url(#${id}-arrow)"/>${lab}`);
  });
  const nodeSvg = nodes.map((n, i) => {
    const p = l.nodes[i]!;
    const x = r1(p.x - NODE_W / 2);
    const y = r1(p.y - NODE_H / 2);
    const body = `<rect x="${x}" y="${y}" width="${NODE_W}" height="${NODE_H}" rx="6"/><text x="${r1(p.x)}" y="${r1(p.y) + 4}" text-anchor="middle">${esc(short(n.label))}</text><title>${esc(`${n.kind}: ${n.label}`)}</title>`;
    const cls = `node ${n.kind}${n.current ? ' current' : ''}`;
    return raw(
      n.href
        ? `<a class="${cls}" href="${esc(n.href)}" data-node="${esc(n.id)}" aria-label="${esc(`${n.kind} ${n.label}`)}">${body}</a>`
        : `<g class="${cls}" data-node="${esc(n.id)}">${body}</g>`,
    );
  });
  return h`<figure class="lineage" data-nodes="${nodes.length}" data-edges="${edges.length}" id="${id}">
<figcaption>${title}</figcaption>
<div class="scroll"><svg viewBox="0 0 ${l.width} ${l.height}" width="${l.width}" height="${l.height}" role="${nodes.some((n) => n.href) ? 'group' : 'img'}" aria-labelledby="${id}-t" xmlns="http://www.w3.org/2000/svg">
<title id="${id}-t">${`${title}: ${nodes.length} node(s), ${edges.length} link(s)`}</title>
<defs><marker id="${id}-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z"/></marker></defs>
${edgeSvg}${nodeSvg}
</svg></div>
<p class="legend"><span class="swatch version" aria-hidden="true"></span> version of this model <span class="swatch external" aria-hidden="true"></span> other model <span class="swatch dataset" aria-hidden="true"></span> dataset</p>
</figure>`;
}
