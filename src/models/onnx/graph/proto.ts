// ONNX protobuf IO (onnx-proto: static protobufjs code for onnx.proto, v1.10).
import onnxProto from 'onnx-proto';

export const onnx = onnxProto.onnx;
export type ModelProto = onnxProto.onnx.ModelProto;
export type GraphProto = onnxProto.onnx.IGraphProto;
export type NodeProto = onnxProto.onnx.INodeProto;
export type TensorProto = onnxProto.onnx.ITensorProto;
export type AttributeProto = onnxProto.onnx.IAttributeProto;
/** A decoded graph: every repeated field is an array. */
export type Graph = onnxProto.onnx.GraphProto;
export type Node = onnxProto.onnx.NodeProto;
/** The graph of a decoded model (decoding always fills repeated fields). */
export const graphOf = (m: ModelProto): Graph => m.graph as Graph;
