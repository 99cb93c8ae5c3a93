/**
 * Building ONNX graphs with onnx-proto (protobufjs message classes for the ONNX schema), not hand-written bytes:
 * the exporter (export-onnx.ts) and the training step (onnx-train-step.ts) both write their graphs with these.
 */
import onnxProto from 'onnx-proto';

export const { onnx } = onnxProto;

/** ONNX opset the graphs use (Unsqueeze takes axes as an input from 13 on). */
export const ONNX_OPSET = 13;

export class GraphBuilder {
  readonly nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  readonly inits: InstanceType<typeof onnx.TensorProto>[] = [];
  private n = 0;

  constructor(readonly prefix: string) {}

  name(hint: string): string {
    return `${hint}_${this.n++}`;
  }

  init(name: string, dims: number[], values: Float32Array | Int32Array | BigInt64Array, type: 'float' | 'int64' = 'float'): string {
    const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    this.inits.push(onnx.TensorProto.create({ name, dims, dataType: type === 'float' ? onnx.TensorProto.DataType.FLOAT : onnx.TensorProto.DataType.INT64, rawData: Uint8Array.from(bytes) }));
    return name;
  }

  ints(name: string, values: number[]): string {
    return this.init(name, [values.length], BigInt64Array.from(values.map((v) => BigInt(v))), 'int64');
  }

  node(op: string, inputs: string[], outputs: string[] | number = 1, attrs: Array<InstanceType<typeof onnx.AttributeProto>> = []): string[] {
    const outs = typeof outputs === 'number' ? Array.from({ length: outputs }, () => this.name(op.toLowerCase())) : outputs;
    this.nodes.push(onnx.NodeProto.create({ opType: op, input: inputs, output: outs, name: this.name(`n_${op}`), attribute: attrs }));
    return outs;
  }

  one(op: string, inputs: string[], attrs: Array<InstanceType<typeof onnx.AttributeProto>> = [], output?: string): string {
    return this.node(op, inputs, output ? [output] : 1, attrs)[0]!;
  }
}

export const intsAttr = (name: string, ints: number[]) => onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INTS, ints });
export const intAttr = (name: string, i: number) => onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i });
export const strAttr = (name: string, s: string) => onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.STRING, s: new TextEncoder().encode(s) });

export function valueInfo(name: string, dims: Array<number | string>) {
  return onnx.ValueInfoProto.create({
    name,
    type: onnx.TypeProto.create({
      tensorType: onnx.TypeProto.Tensor.create({
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: onnx.TensorShapeProto.create({ dim: dims.map((d) => (typeof d === 'number' ? onnx.TensorShapeProto.Dimension.create({ dimValue: d }) : onnx.TensorShapeProto.Dimension.create({ dimParam: d }))) }),
      }),
    }),
  });
}

export function modelBytes(g: GraphBuilder, name: string, inputs: ReturnType<typeof valueInfo>[], outputs: ReturnType<typeof valueInfo>[], doc: string): Uint8Array {
  const graph = onnx.GraphProto.create({ name, node: g.nodes, initializer: g.inits, input: inputs, output: outputs, docString: doc });
  const model = onnx.ModelProto.create({
    irVersion: 7,
    producerName: 'loopstream',
    producerVersion: '0.1.0',
    docString: doc,
    opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: ONNX_OPSET })],
    graph,
  });
  return onnx.ModelProto.encode(model).finish();
}

