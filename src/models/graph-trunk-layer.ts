import { loadGraphModel, type GraphModel } from '@tensorflow/tfjs-converter';
import { tf, tfl } from '../tf.js';
import { require, TripletjsInputError } from '../common/errors.js';

/**
 * A TensorFlow.js graph model (a frozen TensorFlow graph, e.g. a face descriptor) read whole: the
 * artifacts as its files hold them, so that a saved tripletjs model can carry them unchanged, and
 * the model they load into.
 */
export class PretrainedGraph {
  private constructor(
    readonly artifacts: tf.io.ModelArtifacts,
    readonly model: GraphModel,
    /** Names the graph in errors (its file or URL). */
    readonly where: string,
  ) {}

  /** Loads the graph from its artifacts; a non-graph, an unloadable graph or non-finite weights are one-line errors naming `where`. */
  static async load(artifacts: tf.io.ModelArtifacts, where: string): Promise<PretrainedGraph> {
    require(artifacts.format === 'graph-model', `${where} is not a TensorFlow.js graph model (format '${String(artifacts.format)}')`);
    let model: GraphModel;
    try {
      model = await loadGraphModel(tf.io.fromMemory(artifacts));
    } catch (error) {
      throw new TripletjsInputError(`the graph model ${where} could not be loaded: ${(error as Error).message.split('\n')[0]}`);
    }
    const finite = Object.values(model.weights).every((tensors) => tensors.every((tensor) => tensor.dtype !== 'float32' || tensor.dataSync().every(Number.isFinite)));
    const problem = !finite
      ? `the weights of the graph model ${where} hold NaN or Infinity: the file is corrupt`
      : model.inputs.length !== 1
        ? `the graph model ${where} takes ${model.inputs.length} inputs; a trunk takes one image batch`
        : undefined;
    if (problem !== undefined) {
      model.dispose();
      throw new TripletjsInputError(problem);
    }
    return new PretrainedGraph(artifacts, model, where);
  }

  /** The graph's input node. */
  get inputNode(): string {
    return this.model.inputs[0]!.name;
  }

  /** Height, width and channels of the images the graph takes. */
  get inputShape(): [number, number, number] {
    const shape = this.model.inputs[0]!.shape ?? [];
    const [, height, width, channels] = shape;
    const fixed = shape.length === 4 && [height, width, channels].every((side) => side !== undefined && side > 0);
    require(fixed, () => `the graph model ${this.where} takes inputs of shape [${shape.join(', ')}]: a trunk needs a fixed image size (batch × height × width × channels)`);
    return [height!, width!, channels!];
  }

  /** The nodes a trunk may be cut at by default: the graph's named outputs. */
  get outputNodes(): string[] {
    return this.model.outputs.map((output) => output.name);
  }
}

/**
 * A text in a layer's saved config. TensorFlow.js changes the case of every string it saves or
 * loads (snake_case ↔ camelCase) except a `name`: node names and paths are kept as `{ name }`.
 */
export type ConfigText = string | { readonly name: string };

/** The text of a {@link ConfigText}. */
export function configText(value: ConfigText): string {
  return typeof value === 'string' ? value : value.name;
}

/** Options of a {@link GraphTrunk} layer. */
export interface GraphTrunkArgs {
  /** The graph (absent when the layer is deserialised: it is then found by `binding`). */
  readonly graph?: PretrainedGraph;
  /** Where a saved model keeps the graph's `model.json`, relative to its own (default {@link GRAPH_TRUNK_FILE}). */
  readonly file?: ConfigText;
  /** The node whose value is the layer's output (the cut). */
  readonly outputNode: ConfigText;
  /** Output shape without the batch axis; measured when absent. */
  readonly outputShape?: readonly number[];
  readonly name?: string;
  /** Set by the loader: which graph (see {@link bindGraph}) this deserialised layer runs. */
  readonly binding?: string;
}

/** Where a saved model keeps its graph trunk's files, relative to its own `model.json`. */
export const GRAPH_TRUNK_FILE = 'trunk/model.json';
const bound = new Map<string, PretrainedGraph>();
let bindings = 0;

/**
 * A frozen graph model as a layer: its input node fed with the layer's input, the value of
 * `outputNode` out. It has no weights of its own to train (a graph's are constants), so a model
 * holding it trains only what lies above. A registered, serialisable layer: a saved model keeps
 * the graph's files beside its own and the loaders give the layer its graph back.
 */
export class GraphTrunk extends tfl.layers.Layer {
  static readonly className = 'GraphTrunk';
  readonly graph: PretrainedGraph;
  readonly file: string;
  readonly outputNode: string;
  readonly featureShape: readonly number[];

  constructor(args: GraphTrunkArgs) {
    super({ name: args.name, trainable: false });
    const graph = args.graph ?? (args.binding === undefined ? undefined : bound.get(args.binding));
    this.file = args.file === undefined ? GRAPH_TRUNK_FILE : configText(args.file);
    require(graph !== undefined, `a GraphTrunk layer needs its graph model (${this.file}): load the model with tripletjs's loadModel or loadModelFromUrl`);
    this.graph = graph;
    this.outputNode = configText(args.outputNode);
    this.featureShape = args.outputShape ?? featureShapeAt(graph, this.outputNode);
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const images = Array.isArray(inputs) ? inputs[0]! : inputs;
    return this.graph.model.execute({ [this.graph.inputNode]: images }, this.outputNode) as tf.Tensor;
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfl.Shape;
    return [shape[0] ?? null, ...this.featureShape];
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), file: { name: this.file }, outputNode: { name: this.outputNode }, outputShape: [...this.featureShape] };
  }

  override dispose(): ReturnType<tfl.layers.Layer['dispose']> {
    const result = super.dispose();
    if (result.refCountAfterDispose === 0) this.graph.model.dispose();
    return result;
  }
}

tf.serialization.registerClass(GraphTrunk);

/** The feature shape at `outputNode` for one image (a graph model records no output shapes: it is run once). */
function featureShapeAt(graph: PretrainedGraph, outputNode: string): number[] {
  const nodes = (graph.model as unknown as { executor?: { graph?: { nodes?: Record<string, unknown> } } }).executor?.graph?.nodes;
  require(nodes === undefined || outputNode.split(':')[0]! in nodes, () => `the graph model ${graph.where} has no node '${outputNode}' (its outputs: ${graph.outputNodes.join(', ')})`);
  const shape = tf.tidy(() => (graph.model.execute(tf.zeros([1, ...graph.inputShape]), outputNode) as tf.Tensor).shape.slice(1));
  require(shape.length > 0, () => `the node '${outputNode}' of ${graph.where} gives one value per batch, not features per image`);
  return shape;
}

/**
 * Makes `graph` the one deserialised GraphTrunk layers configured with the returned binding take;
 * call {@link unbindGraph} when the model is loaded. Concurrent loads get different bindings.
 */
export function bindGraph(graph: PretrainedGraph): string {
  const binding = `graph-${++bindings}`;
  bound.set(binding, graph);
  return binding;
}

/** Forgets a binding made by {@link bindGraph} (the layers built with it keep their graph). */
export function unbindGraph(binding: string): void {
  bound.delete(binding);
}

/** The GraphTrunk layers of `model`, nested models included. */
export function graphTrunks(model: tfl.LayersModel): GraphTrunk[] {
  return model.layers.flatMap((layer) => (layer instanceof GraphTrunk ? [layer] : layer instanceof tfl.LayersModel ? graphTrunks(layer) : []));
}
