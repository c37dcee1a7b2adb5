// attrib studio, in the browser: pick a model and an input, check methods, run them on the server,
// compare the heatmaps side by side.
import { ApiError, get, h, post, TOKEN, upload, withToken } from './client.js';
import { methodPicker, type MethodInfo } from './forms.js';
import { addKindViews } from './kind-views.js';
import { Results, type JobStatus } from './results.js';

interface ModelEntry {
  readonly id: string;
  readonly format: 'tfjs' | 'onnx';
  readonly samples: readonly string[];
}
interface ModelInfo {
  readonly inputShape: readonly (number | null)[];
  readonly capabilities: { readonly gradients: boolean };
  readonly layers?: readonly string[];
  readonly engine?: string;
  readonly samples: readonly string[];
  readonly text?: boolean;
}
type InputRef = { sample: string } | { upload: string } | { text: string };

const enc = encodeURIComponent;
const IMAGE = /\.(png|jpe?g)$/i;

async function start(): Promise<void> {
  const modelSel = h('select', { id: 'model' });
  const modelNote = h('p', { class: 'note', id: 'model-note' });
  const samples = h('div', { class: 'samples', id: 'samples' });
  const fileInput = h('input', { type: 'file', id: 'upload', accept: '.png,.jpg,.jpeg,.json,.npy' });
  const uploadError = h('p', { class: 'error', id: 'upload-error', role: 'alert' });
  const textBox = h('div', { id: 'text-input', hidden: true });
  const textArea = h('textarea', { id: 'text', rows: '3', placeholder: 'a text for the model (its vocabulary is beside it)' });
  const useText = h('button', { type: 'button', id: 'use-text' }, 'Use this text');
  textBox.append(h('label', { for: 'text' }, 'or type a text'), textArea, useText);
  const target = h('input', { type: 'text', id: 'target', value: 'auto', title: 'output index, one per row (comma-separated), or auto' });
  const baseline = h('input', { type: 'text', id: 'baseline', value: 'zeros', title: 'zeros, a number, blur:σ or noise:σ' });
  const metrics = h('input', { type: 'checkbox', id: 'metrics' });
  const inBrowser = h('input', { type: 'checkbox', id: 'in-browser', title: 'compute in this page with TF.js (wasm); the server only sends the model files' });
  const methodsBox = h('div', { id: 'methods' });
  const run = h('button', { class: 'primary', id: 'run', type: 'button' }, 'Explain');
  const runError = h('p', { class: 'error', id: 'run-error', role: 'alert' });
  const row = h('input', { type: 'number', id: 'row', value: '0', min: '0', step: '1' });
  const view = h('select', { id: 'view' }, h('option', { value: 'overlay' }, 'over the input'), h('option', { value: 'heatmap' }, 'heatmap alone'));
  const shared = h('input', { type: 'checkbox', id: 'shared', checked: true });
  const scaleLabel = h('span', { id: 'scale' });
  const resultsBox = h('div', { class: 'results', id: 'results' });
  const results = new Results(resultsBox, scaleLabel);
  const reconfigure = () => results.configure(Math.max(0, Math.floor(Number(row.value) || 0)), view.value === 'heatmap' ? 'heatmap' : 'overlay', shared.checked);
  for (const el of [row, view, shared]) el.addEventListener('change', reconfigure);

  document.body.append(
    h('header', {}, h('h1', {}, 'attrib studio'), h('span', { class: 'sub' }, 'attributions, side by side')),
    h(
      'main',
      {},
      h(
        'aside',
        {},
        h('label', { for: 'model' }, 'Model'),
        modelSel,
        modelNote,
        h('label', {}, 'Input'),
        samples,
        h('label', { for: 'upload' }, 'or upload (PNG, JPEG, tensor .json / .npy)'),
        fileInput,
        uploadError,
        textBox,
        h('label', { for: 'target' }, 'Target'),
        target,
        h('label', { for: 'baseline' }, 'Baseline'),
        baseline,
        h('label', {}, 'Methods'),
        methodsBox,
        h('label', {}, metrics, ' deletion / insertion curves'),
        h('label', {}, inBrowser, ' run in browser'),
        run,
        runError,
      ),
      h('section', { class: 'panel' }, h('div', { class: 'toolbar' }, h('label', {}, 'row ', row), h('label', {}, 'show ', view), h('label', {}, shared, ' one colour scale'), h('span', { class: 'colorbar' }, h('span', { class: 'bar' }), scaleLabel)), resultsBox),
    ),
  );

  await addKindViews(document.querySelector('header')!, document.querySelector('main')!);
  let models: ModelEntry[];
  let methods: MethodInfo[];
  try {
    [{ models }, { methods }] = await Promise.all([get<{ models: ModelEntry[] }>('/api/models'), get<{ methods: MethodInfo[] }>('/api/methods')]);
  } catch (e) {
    modelNote.textContent = message(e);
    run.disabled = true;
    document.body.dataset['ready'] = 'error';
    return;
  }
  let picker: { read(): ReturnType<ReturnType<typeof methodPicker>['read']> } = { read: () => [] };
  let input: InputRef | undefined;
  /** The files uploaded in this page, by upload id (the in-browser engine reads them here). */
  const uploaded = new Map<string, File>();
  let modelId = '';
  const formatOf = (id: string) => models.find((m) => m.id === id)?.format ?? 'tfjs';
  modelSel.append(...models.map((m) => h('option', { value: m.id }, m.id)));

  const choose = (ref: InputRef, button?: HTMLElement) => {
    input = ref;
    samples.querySelectorAll('button').forEach((b) => b.classList.remove('chosen'));
    button?.classList.add('chosen');
  };

  const loadModel = async () => {
    modelId = modelSel.value;
    results.clear();
    modelNote.textContent = 'loading…';
    samples.replaceChildren();
    input = undefined;
    try {
      const info = await get<ModelInfo>(`/api/models/${enc(modelId)}`);
      modelNote.textContent = `input [${info.inputShape.map((d) => d ?? 'batch').join(', ')}]${info.engine ? ` · ${info.engine}` : ''}${info.capabilities.gradients ? '' : ' · no gradients'}`;
      for (const s of info.samples) {
        const b = h('button', { type: 'button', 'data-sample': s, title: s }, IMAGE.test(s) ? h('img', { alt: s, src: withToken(`/api/models/${enc(modelId)}/samples/${enc(s)}`) }) : h('span', { class: 'file' }, s));
        b.addEventListener('click', () => choose({ sample: s }, b));
        samples.append(b);
      }
      // an image sample first, when there is one
      textBox.hidden = info.text !== true;
      const first = samples.querySelector('button[data-sample$=".png"], button[data-sample$=".jpg"]') ?? samples.querySelector('button');
      if (first instanceof HTMLElement) choose({ sample: first.dataset['sample']! }, first);
      picker = methodPicker(methodsBox, methods, { gradients: info.capabilities.gradients, image: info.inputShape.length === 4, layers: info.layers ?? [] });
    } catch (e) {
      modelNote.textContent = message(e);
    }
  };
  modelSel.addEventListener('change', () => void loadModel().then(warm));
  // "run in browser": load the engine, the wasm backend and the model now, not on the first click
  const warm = async () => {
    if (!inBrowser.checked) return;
    delete inBrowser.dataset['ready'];
    try {
      await (await loadLocal()).prepare(modelId, formatOf(modelId), TOKEN);
      inBrowser.dataset['ready'] = modelId;
    } catch (e) {
      runError.textContent = `run in browser: ${message(e)}`;
    }
  };
  inBrowser.addEventListener('change', () => void warm());

  useText.addEventListener('click', () => {
    const text = textArea.value.trim();
    if (!text) return;
    const b = h('button', { type: 'button', 'data-text': '1', title: text }, h('span', { class: 'file' }, text.length > 24 ? `${text.slice(0, 24)}…` : text));
    b.addEventListener('click', () => choose({ text }, b));
    samples.append(b);
    choose({ text }, b);
  });

  fileInput.addEventListener('change', async () => {
    const file = fileInput.files?.[0];
    uploadError.textContent = '';
    if (!file) return;
    try {
      const r = await upload<{ id: string; name: string }>(`/api/models/${enc(modelId)}/inputs?name=${enc(file.name)}`, file);
      uploaded.set(r.id, file);
      const b = h('button', { type: 'button', 'data-upload': r.id, title: r.name }, IMAGE.test(file.name) ? h('img', { alt: r.name, src: URL.createObjectURL(file) }) : h('span', { class: 'file' }, r.name));
      b.addEventListener('click', () => choose({ upload: r.id }, b));
      samples.append(b);
      choose({ upload: r.id }, b);
    } catch (e) {
      uploadError.textContent = message(e);
    } finally {
      fileInput.value = '';
    }
  });

  run.addEventListener('click', async () => {
    runError.textContent = '';
    const chosen = picker.read();
    if (!input) return void (runError.textContent = 'Choose or upload an input first.');
    if (chosen.length === 0) return void (runError.textContent = 'Check at least one method.');
    if (inBrowser.checked) {
      const ref = input;
      for (const c of chosen) {
        const title = `${methods.find((m) => m.id === c.method)?.title ?? c.method}`;
        void results.runInPage(c.method, title, async (signal, onProgress) => {
          if (c.layer || metrics.checked) throw new ApiError(400, 'invalid_argument', 'Layer methods and deletion/insertion curves run on the server only; uncheck "run in browser"');
          const [local, bytes] = await Promise.all([loadLocal(), inputBytes(modelId, ref, uploaded)]);
          return local.runLocal({ model: modelId, format: formatOf(modelId), method: c.method, options: c.options, target: target.value.trim() || 'auto', baseline: baseline.value.trim() || 'zeros', input: bytes }, TOKEN, signal, onProgress);
        });
      }
      return;
    }
    for (const c of chosen) {
      try {
        const job = await post<JobStatus>('/api/jobs', { model: modelId, input, method: c.method, options: c.options, target: target.value.trim() || 'auto', baseline: baseline.value.trim() || 'zeros', metrics: metrics.checked, ...(c.layer ? { layer: c.layer } : {}) });
        void results.follow(job, methods.find((m) => m.id === c.method)?.title ?? c.method).catch((e: unknown) => (runError.textContent = message(e)));
      } catch (e) {
        runError.textContent = `${c.method}: ${message(e)}`;
      }
    }
  });

  if (models.length === 0) modelNote.textContent = 'No models in the folder (model.json or .onnx files).';
  else await loadModel();
  document.body.dataset['ready'] = '1';
}

/** The in-browser engine (/local.js, a bundle of its own: TF.js and the library), loaded on first use. */
let localEngine: Promise<typeof import('./local.js')> | undefined;
const LOCAL_URL = '/local.js';
const loadLocal = (): Promise<typeof import('./local.js')> => (localEngine ??= import(LOCAL_URL) as Promise<typeof import('./local.js')>);

/** The bytes of an input for the in-browser engine: a sample from the studio, or a file uploaded in this page. */
async function inputBytes(model: string, ref: InputRef, uploaded: ReadonlyMap<string, File>): Promise<{ name: string; bytes: Uint8Array }> {
  if ('text' in ref) throw new ApiError(400, 'invalid_argument', 'Typed texts run on the server only; uncheck "run in browser"');
  if ('upload' in ref) {
    const file = uploaded.get(ref.upload);
    if (!file) throw new ApiError(404, 'not_found', 'The uploaded file is gone; upload it again');
    return { name: file.name, bytes: new Uint8Array(await file.arrayBuffer()) };
  }
  const res = await fetch(withToken(`/api/models/${enc(model)}/samples/${enc(ref.sample)}`));
  if (!res.ok) throw new ApiError(res.status, 'not_found', `Sample '${ref.sample}' could not be fetched (${res.status})`);
  return { name: ref.sample, bytes: new Uint8Array(await res.arrayBuffer()) };
}

const message = (e: unknown): string => (e instanceof ApiError ? e.message : String(e));

void start();
