// Rewrites an ONNX graph to compute in float64: every float32 initializer, graph value, Cast target
// and constant becomes double, so ONNX Runtime's CPU kernels run the model (and its compiled backward
// graph) in double precision. Training-data attribution needs it: influence functions solve with the
// Hessian of a model at an optimum, where float32 gradients are mostly rounding noise.
import { CapabilityError } from '../../core/errors.js';
import { floatValues } from '../../models/onnx/graph/build.js';
import { graphOf, onnx, type ModelProto, type TensorProto } from '../../models/onnx/graph/proto.js';

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const DOUBLE = onnx.TensorProto.DataType.DOUBLE;
const FLOAT16 = onnx.TensorProto.DataType.FLOAT16;
const BFLOAT16 = onnx.TensorProto.DataType.BFLOAT16;

/** A float32 tensor proto as float64 (other element types unchanged). */
function doubleTensor(t: TensorProto): TensorProto {
  if (t.dataType !== FLOAT) return t;
  const values = floatValues(t) ?? new Float32Array(0);
  return onnx.TensorProto.fromObject({
    name: t.name ?? '',
    dims: t.dims ?? [],
    dataType: DOUBLE,
    rawData: new Uint8Array(Float64Array.from(values).buffer),
  });
}

/**
 * A copy of `model` computing in float64. Half-precision tensors are refused (`capability_missing`):
 * they would need a Cast the rewrite does not invent.
 */
export function toFloat64(model: ModelProto): ModelProto {
  const copy = onnx.ModelProto.decode(onnx.ModelProto.encode(model).finish());
  const g = graphOf(copy);
  const half = g.initializer.find((t) => t.dataType === FLOAT16 || t.dataType === BFLOAT16);
  if (half) throw new CapabilityError(`ONNX initializer '${half.name}' is half precision; training-data attribution needs a float32 model`, { tensor: half.name });
  g.initializer.splice(0, g.initializer.length, ...g.initializer.map((t) => onnx.TensorProto.fromObject(doubleTensor(t) as Record<string, unknown>)));
  for (const v of [...g.input, ...g.output, ...g.valueInfo]) {
    const tt = v.type?.tensorType;
    if (tt && tt.elemType === FLOAT) tt.elemType = DOUBLE;
  }
  for (const n of g.node) {
    // ConstantOfShape without a value fills float32 zeros (the gradient of Round, Floor, Sign …)
    if (n.opType === 'ConstantOfShape' && !(n.attribute ?? []).some((a) => a.name === 'value')) {
      (n.attribute ??= []).push(onnx.AttributeProto.fromObject({ name: 'value', type: onnx.AttributeProto.AttributeType.TENSOR, t: { dims: [1], dataType: DOUBLE, rawData: new Uint8Array(8) } }));
    }
    for (const a of n.attribute ?? []) {
      if (n.opType === 'Cast' && a.name === 'to' && Number(a.i) === FLOAT) a.i = DOUBLE;
      if ((n.opType === 'Constant' || n.opType === 'ConstantOfShape') && a.name === 'value' && a.t && a.t.dataType === FLOAT) a.t = onnx.TensorProto.fromObject(doubleTensor(a.t) as Record<string, unknown>);
      if (n.opType === 'Constant' && a.name === 'value_float') {
        a.name = 'value';
        a.type = onnx.AttributeProto.AttributeType.TENSOR;
        a.t = onnx.TensorProto.fromObject({ dims: [], dataType: DOUBLE, rawData: new Uint8Array(Float64Array.of(a.f ?? 0).buffer) });
        a.f = 0;
      }
      if (n.opType === 'Constant' && a.name === 'value_floats') {
        const vs = [...(a.floats ?? [])];
        a.name = 'value';
        a.type = onnx.AttributeProto.AttributeType.TENSOR;
        a.t = onnx.TensorProto.fromObject({ dims: [vs.length], dataType: DOUBLE, rawData: new Uint8Array(Float64Array.from(vs).buffer) });
        a.floats = [];
      }
    }
  }
  return copy;
}
