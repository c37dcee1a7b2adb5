import * as ort from 'onnxruntime-node';
import { readFileSync } from 'node:fs';
import { referencePath } from './test/reference.js';
import { compileVjp, decodeModel, encodeModel, probeModel } from './src/models/onnx/grad/compile.js';
import { simplifyForGradients } from './src/models/onnx/grad/simplify.js';
import { graphOf } from './src/models/onnx/graph/proto.js';
const bytes = new Uint8Array(readFileSync(referencePath('image_cnn', 'model.onnx')));
const so = { graphOptimizationLevel: 'all' as const, extra: { session: { intra_op: { allow_spinning: '0' } } } };
for (let rep = 0; rep < 3; rep++) {
let t = performance.now();
const lap = (s: string) => { const n = performance.now(); console.log(s, (n - t).toFixed(1)); t = n; };
const proto = decodeModel(bytes); lap('decode');
const prepared = simplifyForGradients(proto).model; lap('simplify');
const probe = await ort.InferenceSession.create(encodeModel(probeModel(prepared))); lap('probe session');
const input = probe.inputNames[0]!;
const vals = await probe.run({ [input]: new ort.Tensor('float32', new Float32Array(32*32*3), [1, 32, 32, 3]) }); lap('probe run');
const shapes = new Map<string, readonly number[]>();
for (const [n, v] of Object.entries(vals)) shapes.set(n, (v as ort.Tensor).dims);
shapes.set(input, [1, 32, 32, 3]);
for (const init of graphOf(prepared).initializer) shapes.set(init.name ?? '', (init.dims ?? []).map(Number));
const vjp = encodeModel(compileVjp(prepared, input, probe.outputNames[0]!, shapes, { blockedLayout: true })); lap('compile+encode');
const s = await ort.InferenceSession.create(vjp, so); lap('vjp session');
const s2 = await ort.InferenceSession.create(vjp, { ...so, optimizedModelFilePath: '/tmp/eng/opt.onnx' }); lap('vjp session + save');
const opt = new Uint8Array(readFileSync('/tmp/eng/opt.onnx'));
const s3 = await ort.InferenceSession.create(opt, { ...so, graphOptimizationLevel: 'disabled' }); lap('optimized session (disabled)');
const s4 = await ort.InferenceSession.create(opt, so); lap('optimized session (all)');
console.log(vjp.length, opt.length);
}
