// Result cards: one per job, with its state and progress, a cancel button, the heatmap (on the
// shared colour scale when asked), facts from the diagnostics, deletion/insertion and exports.
import { colorOf } from '../../../viz/colormap.js';
import { heatmapRgba, normalizeMap, overlayRgba, resizeMapNearest, upscaleRgba } from '../../../viz/heatmap.js';
import { get, h, post, withToken } from './client.js';
import type { LocalOutcome } from './local.js';

/** A job as `GET /api/jobs/:id` returns it. */
export interface JobStatus {
  readonly id: string;
  readonly method: string;
  readonly state: 'queued' | 'running' | 'done' | 'failed' | 'cancelled';
  readonly progress?: { readonly phase: string; readonly done: number; readonly total: number };
  readonly error?: { readonly code: string; readonly message: string };
  readonly wallMs?: number;
  readonly result?: {
    readonly shape: readonly number[];
    readonly data: readonly number[];
    readonly featureNames?: readonly string[];
    /** Text inputs: per row, each position's token and score. */
    readonly tokens?: readonly (readonly { readonly token: string; readonly score: number | null }[])[];
    readonly target?: readonly number[] | null;
    readonly scores?: readonly (number | null)[];
    readonly probabilities?: readonly (number | null)[];
    readonly diagnostics: { readonly evaluations: number; readonly elapsedMs: number; readonly engine?: string; readonly convergenceDelta?: readonly number[] };
  };
  readonly image?: { readonly rows: number; readonly scales: readonly number[]; readonly overlay: boolean };
  readonly metrics?: { readonly deletion: { readonly auc: readonly number[] }; readonly insertion: { readonly auc: readonly number[] } };
}

const FINAL = new Set(['done', 'failed', 'cancelled']);

/** The results area: cards for jobs, a row, a view (heatmap or overlay) and one colour scale for all. */
export class Results {
  private readonly cards = new Map<string, { status: JobStatus; el: HTMLElement; cancel: HTMLButtonElement }>();
  /** Jobs run in the page: their maps and images, drawn here with the server's heatmap code. */
  private readonly local = new Map<string, { outcome: LocalOutcome; json: string }>();
  private localCount = 0;
  private row = 0;
  private view: 'overlay' | 'heatmap' = 'overlay';
  private shared = true;

  constructor(
    private readonly root: HTMLElement,
    private readonly scaleLabel: HTMLElement,
  ) {}

  /** Shows the cards for `row`, as `view`, on one colour scale (`shared`) or each on its own. */
  configure(row: number, view: 'overlay' | 'heatmap', shared: boolean): void {
    [this.row, this.view, this.shared] = [row, view, shared];
    this.refreshAll();
  }

  /** Adds the card of a submitted job and follows it until it finishes. */
  async follow(first: JobStatus, title: string): Promise<void> {
    const el = h('div', { class: 'card', 'data-method': first.method, 'data-job': first.id });
    el.dataset['title'] = title;
    // one button for the card's life (re-rendering it would detach it under the pointer)
    const cancel = h('button', { class: 'cancel', type: 'button' }, 'Cancel');
    cancel.addEventListener('click', () => void post(`/api/jobs/${first.id}/cancel`).catch(() => undefined));
    this.root.prepend(el);
    const card = { status: first, el, cancel };
    this.cards.set(first.id, card);
    this.render(card);
    while (!FINAL.has(card.status.state)) {
      await new Promise((r) => setTimeout(r, 150));
      card.status = await get<JobStatus>(`/api/jobs/${first.id}`);
      if (card.status.state === 'done') this.refreshAll();
      else this.render(card);
    }
  }

  /**
   * Adds the card of a job run in the page (`task`, the in-browser engine) and shows its progress,
   * its cancel button and then its result, on the same colour scale as the server's cards.
   */
  async runInPage(method: string, title: string, task: (signal: AbortSignal, onProgress: (p: { phase: string; done: number; total: number }) => void) => Promise<LocalOutcome>): Promise<void> {
    const id = `local-${++this.localCount}`;
    const abort = new AbortController();
    const el = h('div', { class: 'card', 'data-method': method, 'data-job': id, 'data-engine': 'browser' });
    el.dataset['title'] = `${title} (in the browser)`;
    const cancel = h('button', { class: 'cancel', type: 'button' }, 'Cancel');
    cancel.addEventListener('click', () => abort.abort());
    this.root.prepend(el);
    const card: { status: JobStatus; el: HTMLElement; cancel: HTMLButtonElement } = { status: { id, method, state: 'running' }, el, cancel };
    this.cards.set(id, card);
    this.render(card);
    const t0 = performance.now();
    let shown = 0;
    try {
      const outcome = await task(abort.signal, (p) => {
        card.status = { ...card.status, progress: p };
        // repaint at most every 100 ms
        if (performance.now() - shown > 100) (shown = performance.now()), this.render(card);
      });
      const result = { shape: outcome.shape, data: Array.from(outcome.data), ...(outcome.target ? { target: outcome.target } : {}), diagnostics: outcome.diagnostics };
      this.local.set(id, { outcome, json: JSON.stringify({ method, engine: 'browser', ...result }) });
      card.status = { id, method, state: 'done', wallMs: Math.round(performance.now() - t0), result, ...(outcome.image ? { image: { rows: outcome.image.maps.length, scales: outcome.image.scales, overlay: true } } : {}) };
      if (this.cards.get(id) === card) this.refreshAll();
    } catch (e) {
      const err = e as { code?: string; message?: string };
      card.status = err.code === 'aborted' ? { id, method, state: 'cancelled' } : { id, method, state: 'failed', error: { code: err.code ?? 'error', message: err.message ?? String(e) } };
      this.render(card);
    }
  }

  /** Removes every card (another model: its scales are not comparable). */
  clear(): void {
    this.local.clear();
    this.cards.clear();
    this.root.replaceChildren();
    this.scaleLabel.textContent = '';
  }

  /** The largest display scale of the shown row over the finished cards: one colour scale for all. */
  private sharedScale(): number | undefined {
    let s = 0;
    for (const { status } of this.cards.values()) if (status.state === 'done') s = Math.max(s, ownScale(status, this.row) ?? 0);
    return s > 0 ? s : undefined;
  }

  private refreshAll(): void {
    for (const c of this.cards.values()) this.render(c);
  }

  private render(card: { readonly status: JobStatus; readonly el: HTMLElement; readonly cancel: HTMLButtonElement }): void {
    const { status: s, el } = card;
    const scale = this.shared ? this.sharedScale() : undefined;
    this.scaleLabel.textContent = scale === undefined ? (this.shared ? '' : 'each map on its own scale') : `−${fmt(scale)} … 0 … +${fmt(scale)}`;
    el.className = `card ${s.state}`;
    const head = h('h3', {}, el.dataset['title'] ?? s.method);
    const state = h('div', { class: 'state' }, stateText(s));
    const parts: (Node | undefined)[] = [head, state];
    if (s.state === 'queued' || s.state === 'running') {
      const bar = h('progress', s.progress ? { max: String(s.progress.total), value: String(s.progress.done) } : {});
      parts.push(bar, card.cancel);
    }
    if (s.state === 'failed' && s.error) parts.push(h('p', { class: 'error' }, `${s.error.code}: ${s.error.message}`));
    if (s.state === 'done' && s.result) {
      const row = Math.min(this.row, (s.image?.rows ?? 1) - 1);
      const params = { row, ...(scale ? { scale } : {}), view: s.image?.overlay ? this.view : 'heatmap' };
      const local = this.local.get(s.id);
      if (local?.outcome.image) parts.push(drawLocal(local.outcome.image, row, scale ?? local.outcome.image.scales[row]!, this.view));
      else if (s.image) parts.push(h('img', { class: 'heatmap', alt: `${s.method} heatmap`, src: withToken(`/api/jobs/${s.id}/heatmap.png`, params) }));
      else if (s.result.tokens) parts.push(tokensView(s, row, scale ?? ownScale(s, row) ?? 1));
      else parts.push(barsView(s, row, scale ?? ownScale(s, row) ?? 1));
      parts.push(facts(s, row));
      if (s.metrics) parts.push(h('img', { class: 'curves', alt: 'deletion and insertion curves', src: withToken(`/api/jobs/${s.id}/curves.svg`, { row }) }));
      if (local) parts.push(h('div', { class: 'actions' }, h('a', { href: URL.createObjectURL(new Blob([local.json], { type: 'application/json' })), download: `${s.method}.json` }, 'Export JSON')));
      else parts.push(
        h(
          'div',
          { class: 'actions' },
          h('a', { href: withToken(`/api/jobs/${s.id}/result.json`), download: `${s.method}.json` }, 'Export JSON'),
          s.image ? h('a', { href: withToken(`/api/jobs/${s.id}/heatmap.png`, { ...params, download: 1 }), download: `${s.method}.png` }, 'Export PNG') : undefined,
          h('a', { href: withToken(`/api/jobs/${s.id}/report.html`), download: `${s.method}.html` }, 'Report'),
        ),
      );
    }
    el.replaceChildren(...parts.filter((p): p is Node => p !== undefined));
  }
}

/**
 * A map computed in the page, drawn as the server draws its PNGs (`heatmapPng`, `overlayPng`: the
 * same normalisation, colour map, overlay and enlargement to about 256 px), on a canvas.
 */
function drawLocal(img: NonNullable<LocalOutcome['image']>, row: number, scale: number, view: 'overlay' | 'heatmap'): HTMLCanvasElement {
  const norm = normalizeMap(img.maps[row]!, 99.5, scale);
  const picture = img.images[row];
  const [W, H] = view === 'overlay' && picture ? [picture.width, picture.height] : [img.width, img.height];
  const rgba = view === 'overlay' && picture ? overlayRgba(picture.data, picture.channels, W === img.width && H === img.height ? norm : resizeMapNearest(norm, img.height, img.width, H, W), 'diverging') : heatmapRgba(norm, 'diverging');
  const f = Math.max(1, Math.floor(256 / Math.max(H, W)));
  const canvas = h('canvas', { class: 'heatmap', width: String(W * f), height: String(H * f), 'data-scale': String(scale) });
  canvas.getContext('2d')?.putImageData(new ImageData(new Uint8ClampedArray(upscaleRgba(rgba, W, H, f)), W * f, H * f), 0, 0);
  return canvas;
}

/** A card's own scale for `row`: its image map's robust scale, or the largest |value| of its row. */
function ownScale(s: JobStatus, row: number): number | undefined {
  if (s.image) return s.image.scales[row];
  const v = rowValues(s, row);
  return v ? Math.max(...v.map(Math.abs)) : undefined;
}

function rowValues(s: JobStatus, row: number): number[] | undefined {
  const r = s.result;
  const tokens = r?.tokens?.[row];
  if (tokens) return tokens.map((t) => t.score ?? 0);
  if (!r || r.shape.length === 0) return undefined;
  const per = r.data.length / r.shape[0]!;
  return row < r.shape[0]! ? r.data.slice(row * per, (row + 1) * per) : undefined;
}

/** The most bars shown; beyond, the largest |attributions| (in feature order). */
const MAX_BARS = 32;

/** A row's attribution as signed bars (red positive, blue negative) on `scale`. */
function barsView(s: JobStatus, row: number, scale: number): HTMLElement {
  const v = rowValues(s, row) ?? [];
  let shown = v.map((_, k) => k);
  if (shown.length > MAX_BARS) shown = shown.sort((p, q) => Math.abs(v[q]!) - Math.abs(v[p]!)).slice(0, MAX_BARS).sort((p, q) => p - q);
  const rows = shown.map((k) => {
    const fill = h('span', { class: `fill ${v[k]! >= 0 ? 'pos' : 'neg'}` });
    fill.style.width = `${Math.min(50, (50 * Math.abs(v[k]!)) / scale)}%`;
    return h('div', { class: 'barrow' }, h('span', { class: 'name' }, s.result?.featureNames?.[k] ?? `x${k}`), h('span', { class: 'track' }, fill), h('span', { class: 'num' }, fmt(v[k]!)));
  });
  return h('div', { class: 'bars' }, ...rows, ...(v.length > MAX_BARS ? [h('p', { class: 'note' }, `the ${MAX_BARS} of ${v.length} features with the largest |attribution|`)] : []));
}

/** A text row: each token on the diverging colour of its score (red for, blue against). */
function tokensView(s: JobStatus, row: number, scale: number): HTMLElement {
  const spans = (s.result?.tokens?.[row] ?? []).map((t) => {
    const v = Math.max(-1, Math.min(1, (t.score ?? 0) / scale));
    const [r, g, b] = colorOf('diverging', v);
    const el = h('span', { class: 'tok', title: `${t.token}: ${t.score ?? '–'}` }, t.token);
    el.style.background = `rgb(${r}, ${g}, ${b})`;
    el.style.color = Math.abs(v) > 0.6 ? '#fff' : '#111';
    return el;
  });
  return h('p', { class: 'tokens' }, ...spans.flatMap((e, i) => (i === 0 ? [e] : [' ', e])));
}

function stateText(s: JobStatus): string {
  if (s.state === 'running' && s.progress) return `running: ${s.progress.phase} ${s.progress.done}/${s.progress.total}`;
  if (s.state === 'done') return `done in ${s.wallMs ?? '?'} ms`;
  return s.state;
}

function facts(s: JobStatus, row: number): HTMLElement {
  const d = s.result!.diagnostics;
  const items: [string, string][] = [
    ['evaluations', String(d.evaluations)],
    ['time', `${d.elapsedMs.toFixed(0)} ms${d.engine ? ` on ${d.engine}` : ''}`],
  ];
  const t = s.result!.target?.[row];
  if (t !== undefined) items.push(['target', `${t}${s.result!.probabilities?.[row] != null ? ` (p ${fmt(s.result!.probabilities[row]!)})` : ''}`]);
  if (d.convergenceDelta) items.push(['completeness gap', d.convergenceDelta[row]!.toExponential(1)]);
  if (s.metrics) items.push(['deletion AUC', fmt(s.metrics.deletion.auc[row]!)], ['insertion AUC', fmt(s.metrics.insertion.auc[row]!)]);
  return h('dl', {}, ...items.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

const fmt = (v: number): string => String(Number(v.toPrecision(3)));
