import { tfl } from '../tf.js';
import { require, requireNumber } from '../common/errors.js';
import { L2Normalize } from './l2-normalize-layer.js';
import { Resize } from './resize-layer.js';
import { GraphTrunk, PretrainedGraph } from './graph-trunk-layer.js';

/** The input range a pretrained trunk was trained on: tripletjs's inputs are pixels / 255, in 0–1. */
export type InputRange = '0-1' | '-1-1' | '0-255';

/**
 * A pretrained TensorFlow.js model as the trunk, cut at a layer, partly or wholly frozen, under a
 * small embedding head trained with the metric loss (pytorch-metric-learning's trunk + embedder).
 * A layers model can be fine-tuned; a graph model (a frozen TensorFlow graph) is a fixed feature
 * extractor, cut at a node. The images are brought to the trunk's input (grey repeated into RGB,
 * resized, scaled to its range) inside the model, so the saved model embeds raw images end to end.
 */
export interface BackboneConfig {
  readonly kind: 'backbone';
  /**
   * The trunk's `model.json` (weights beside it), read when the network is built; recorded, not
   * needed afterwards. Absent when the trunk is given in code (`TrainOptions.trunk`).
   */
  readonly path?: string;
  /**
   * The trunk layer (or, in a graph model, the node) whose output is the features (default: the
   * trunk's last layer, or the graph's only output).
   */
  readonly cutAt?: string;
  /**
   * Trunk layers up to and including this one keep their pretrained weights, and their batch
   * normalisation its statistics; the layers above it train. `'all'` (the default) freezes the
   * whole trunk, `'none'` fine-tunes all of it. Nothing above it may read a tensor from below it
   * (freeze at a block boundary). A graph model is always wholly frozen.
   */
  readonly freezeUpTo?: string;
  /**
   * The image size (height, width) a layers trunk runs at (default: its model's input size). A
   * convolutional trunk's weights fit any size: small images (sketches, thumbnails) can run it at a
   * fraction of the cost of its native size. Layers above the cut may depend on the size: they are
   * not used.
   */
  readonly trunkInputSize?: readonly [number, number];
  /** The range the trunk expects its inputs in (default `'0-1'`). */
  readonly inputRange?: InputRange;
  /**
   * Widths of the head's hidden ReLU layers; none (the default) is a linear head. `'none'` is no
   * head: the trunk's features (pooled), L2-normalised, are the embedding, as a pretrained
   * descriptor is used as it is; with the trunk frozen, nothing trains.
   */
  readonly head?: readonly number[] | 'none';
  /** Embedding dimension (default 64; with no head, the trunk's feature size). */
  readonly embeddingDim?: number;
}

const RANGES: Readonly<Record<InputRange, { scale: number; offset: number }>> = {
  '0-1': { scale: 1, offset: 0 },
  '-1-1': { scale: 2, offset: -1 },
  '0-255': { scale: 255, offset: 0 },
};

/** The head's layers are named so, which tells them from the trunk's in a saved model (a trunk learning rate applies to the others). */
export const HEAD_PREFIX = 'head_';

/** Names of the two stages of a model built on a partly or wholly frozen trunk (see {@link trainingStages}). */
export const FROZEN_STAGE = 'frozen_stage';
export const TRAINED_STAGE = 'trained_stage';

/**
 * The embedding network on `trunk` (see {@link BackboneConfig}) from `images` (pixels / 255).
 *
 * With a frozen part, the network is two nested models applied in turn: {@link FROZEN_STAGE}
 * (the input brought to the trunk's, then the trunk up to `freezeUpTo`, nothing trainable) and
 * {@link TRAINED_STAGE} (the trunk from there up to `cutAt`, pooling, the head). The trainer runs
 * the frozen stage outside the gradient tape (its activations are not kept for a backward pass)
 * and can cache its output; the saved model is still one model that embeds raw images. The
 * trunk's layers are shared, not copied: build one network per loaded trunk.
 */
export function backboneNetwork(config: BackboneConfig, trunk: tfl.LayersModel | PretrainedGraph, images: tfl.SymbolicTensor, nextSeed: () => number): tfl.SymbolicTensor {
  const embeddingDim = config.head === 'none' ? 0 : requireNumber('embeddingDim', config.embeddingDim ?? 64, { integer: true, min: 1 });
  const range = RANGES[config.inputRange ?? '0-1'];
  require(range !== undefined, () => `unknown input range '${config.inputRange}' (expected ${Object.keys(RANGES).join(', ')})`);
  const [nativeHeight, nativeWidth, channels] = trunk instanceof PretrainedGraph ? trunk.inputShape : (trunk.inputs[0]!.shape.slice(1) as number[]);
  const [height, width] = config.trunkInputSize ?? [nativeHeight!, nativeWidth!];
  for (const [name, side] of [['height', height], ['width', width]] as const) requireNumber(`trunk input ${name}`, side, { integer: true, min: 1 });
  const resized = height !== nativeHeight || width !== nativeWidth;
  const given = images.shape as number[];
  require(channels === 3 || channels === given[3], () => `the backbone takes ${channels} channels and the images have ${given[3]}`);
  /** The images brought to the trunk's input: grey repeated into RGB, resized, scaled to its range. */
  const toTrunkInput = (x: tfl.SymbolicTensor): tfl.SymbolicTensor => {
    if (given[3] === 1 && channels === 3) x = tfl.layers.concatenate({ axis: -1 }).apply([x, x, x]) as tfl.SymbolicTensor;
    if (height !== given[1] || width !== given[2]) x = new Resize({ height: height!, width: width! }).apply(x) as tfl.SymbolicTensor;
    if (range.scale !== 1 || range.offset !== 0) x = tfl.layers.rescaling({ scale: range.scale, offset: range.offset }).apply(x) as tfl.SymbolicTensor;
    return x;
  };
  /** The head on trunk features: pooled to a vector, hidden ReLU layers, the embedding, normalised. */
  const head = (x: tfl.SymbolicTensor): tfl.SymbolicTensor => {
    if (x.shape.length === 4) x = tfl.layers.globalAveragePooling2d({}).apply(x) as tfl.SymbolicTensor;
    else if (x.shape.length !== 2) x = tfl.layers.flatten().apply(x) as tfl.SymbolicTensor;
    if (config.head === 'none') {
      require(config.embeddingDim === undefined || config.embeddingDim === x.shape[1], () => `with no head the embedding is the trunk's ${x.shape[1]} features: embeddingDim ${config.embeddingDim} cannot be had`);
      return new L2Normalize({}).apply(x) as tfl.SymbolicTensor;
    }
    for (const [i, units] of (config.head ?? []).entries()) {
      requireNumber('head layer width', units, { integer: true, min: 1 });
      x = tfl.layers.dense({ name: `${HEAD_PREFIX}hidden_${i}`, units, activation: 'relu', kernelInitializer: tfl.initializers.heNormal({ seed: nextSeed() }) }).apply(x) as tfl.SymbolicTensor;
    }
    x = tfl.layers.dense({ name: `${HEAD_PREFIX}embedding`, units: embeddingDim, kernelInitializer: tfl.initializers.glorotUniform({ seed: nextSeed() }) }).apply(x) as tfl.SymbolicTensor;
    return new L2Normalize({}).apply(x) as tfl.SymbolicTensor;
  };

  const frozenInput = tfl.input({ shape: given.slice(1) });
  /** The frozen stage (nothing in it trains) from the model's input up to `output`, which it computes from the trunk's input. */
  const frozenStage = (output: (trunkInput: tfl.SymbolicTensor) => tfl.SymbolicTensor): tfl.LayersModel => {
    const frozen = tfl.model({ inputs: frozenInput, outputs: output(toTrunkInput(frozenInput)), name: FROZEN_STAGE });
    frozen.trainable = false;
    return frozen;
  };
  /** The trained stage: from the frozen stage's output, `above` (trunk layers) then the head. */
  const trainedStage = (frozen: tfl.LayersModel, above: (input: tfl.SymbolicTensor) => tfl.SymbolicTensor): tfl.SymbolicTensor => {
    const trainedInput = tfl.input({ shape: frozen.outputs[0]!.shape.slice(1) as number[] });
    const trained = tfl.model({ inputs: trainedInput, outputs: head(above(trainedInput)), name: TRAINED_STAGE });
    return trained.apply(frozen.apply(images)) as tfl.SymbolicTensor;
  };

  if (trunk instanceof PretrainedGraph) {
    require(config.freezeUpTo === undefined || config.freezeUpTo === 'all', () => `the backbone ${trunk.where} is a graph model, a frozen feature extractor: it cannot be fine-tuned (freezeUpTo '${config.freezeUpTo}'); give a layers model to fine-tune`);
    require(!resized, () => `the backbone ${trunk.where} is a graph model: it runs at the size it was converted at (${nativeHeight} × ${nativeWidth}), not ${height} × ${width}`);
    const outputs = trunk.outputNodes;
    require(config.cutAt !== undefined || outputs.length === 1, () => `the graph model ${trunk.where} has ${outputs.length} outputs (${outputs.join(', ')}): choose the features with cutAt (--cut-at)`);
    const features = new GraphTrunk({ graph: trunk, outputNode: config.cutAt ?? outputs[0]!, name: 'graph_trunk' });
    return trainedStage(
      frozenStage((x) => features.apply(x) as tfl.SymbolicTensor),
      (x) => x,
    );
  }

  const names = trunk.layers.map((layer) => layer.name);
  const layerNamed = (name: string, what: string): number => {
    const index = names.indexOf(name);
    require(index >= 0, () => `${what}: the backbone has no layer '${name}' (its layers: ${names.slice(0, 3).join(', ')} … ${names.slice(-3).join(', ')})`);
    return index;
  };
  const cutIndex = config.cutAt === undefined ? names.length - 1 : layerNamed(config.cutAt, 'cutAt');
  const freezeUpTo = config.freezeUpTo ?? 'all';
  const lastFrozen = freezeUpTo === 'all' ? cutIndex : freezeUpTo === 'none' ? -1 : Math.min(cutIndex, layerNamed(freezeUpTo, 'freezeUpTo'));
  const cut = trunk.layers[cutIndex]!;
  // The layers above the cut (the trunk's own classifier) are not used: free their weights.
  for (const layer of trunk.layers.slice(cutIndex + 1)) layer.dispose();

  /** The trunk from its input to `target`, at the size it runs at: its own graph, or its layers applied again to an input of `trunkInputSize` (their weights shared). */
  const trunkUpTo = (target: tfl.SymbolicTensor, name: string): tfl.LayersModel => {
    if (!resized) return tfl.model({ inputs: trunk.inputs, outputs: target, name });
    const input = tfl.input({ shape: [height, width, channels!] });
    return tfl.model({ inputs: input, outputs: reapplyAbove(trunk, trunk.inputs[0]!, target, input), name });
  };
  // The trunk's own tensors (node 0): a resized trunk gives its layers a second node.
  const cutOutput = cut.getOutputAt(0) as tfl.SymbolicTensor;
  if (lastFrozen < 0) {
    const features = trunkUpTo(cutOutput, 'trunk');
    return head(features.apply(toTrunkInput(images)) as tfl.SymbolicTensor);
  }
  const boundaryOutput = trunk.layers[lastFrozen]!.getOutputAt(0) as tfl.SymbolicTensor;
  const prefix = trunkUpTo(boundaryOutput, 'frozen_trunk');
  return trainedStage(
    frozenStage((x) => prefix.apply(x) as tfl.SymbolicTensor),
    (x) => reapplyAbove(trunk, boundaryOutput, cutOutput, x),
  );
}

/**
 * The trunk's layers between `from` and `to` applied again, to `input` in place of `from` (their
 * weights shared): the part of a trunk above its frozen layers. Refused when a layer above reads a
 * tensor from below `from` (a skip connection across it): freeze at a block boundary then.
 */
function reapplyAbove(trunk: tfl.LayersModel, from: tfl.SymbolicTensor, to: tfl.SymbolicTensor, input: tfl.SymbolicTensor): tfl.SymbolicTensor {
  const mapped = new Map<number, tfl.SymbolicTensor>([[from.id, input]]);
  const above = new Set<number>([from.id]);
  for (const layer of trunk.layers) {
    if (mapped.has(to.id)) break;
    // The layer's first node is its place in the trunk's own graph.
    const node = layer.inboundNodes[0]!;
    const reads = node.inputTensors.map((tensor) => above.has(tensor.id));
    if (!reads.some(Boolean) || node.outputTensors.every((tensor) => mapped.has(tensor.id))) continue;
    const across = node.inputTensors.find((_, i) => !reads[i]);
    require(across === undefined, () => `the trunk's layer '${layer.name}' above the frozen part also reads '${across!.name}' from below it: freeze up to a block boundary`);
    const inputs = node.inputTensors.map((tensor) => mapped.get(tensor.id)!);
    const outputs = [layer.apply(inputs.length === 1 ? inputs[0]! : inputs, node.callArgs ?? {})].flat() as tfl.SymbolicTensor[];
    // Each use counts a reference; the trunk's own graph is dropped, so drop its (the weights stay).
    layer.dispose();
    node.outputTensors.forEach((tensor, i) => {
      mapped.set(tensor.id, outputs[i]!);
      above.add(tensor.id);
    });
  }
  const output = mapped.get(to.id);
  require(output !== undefined, 'the cut layer is not above the frozen layers');
  return output;
}

/**
 * The stages of a model to train: a model built on a frozen trunk part has a frozen stage (run
 * outside the gradient tape, its output cacheable) and a trained stage; any other model is one
 * trained stage.
 */
export function trainingStages(model: tfl.LayersModel): { frozen?: tfl.LayersModel; trained: tfl.LayersModel } {
  const names = new Set(model.layers.map((layer) => layer.name));
  if (!names.has(FROZEN_STAGE) || !names.has(TRAINED_STAGE)) return { trained: model };
  return { frozen: model.getLayer(FROZEN_STAGE) as tfl.LayersModel, trained: model.getLayer(TRAINED_STAGE) as tfl.LayersModel };
}

/** Names of the trainable weights of `model` that belong to its trunk (not to the head). */
export function trunkWeightNames(model: tfl.LayersModel): string[] {
  return model.trainableWeights.filter((weight) => !weight.originalName.startsWith(HEAD_PREFIX)).map((weight) => weight.name);
}
