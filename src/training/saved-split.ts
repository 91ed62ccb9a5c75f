import { require } from '../common/errors.js';
import type { Dataset, DatasetSplit } from '../data/dataset.js';
import type { ModelMetadata } from '../models/model-format.js';

/** A saved model's dataset, as `loadDataset` and `Dataset.split` take it. */
export interface SavedSplit {
  readonly name: string;
  /** Load options (folder datasets); `{}` for the built-in ones. */
  readonly options: Readonly<Record<string, unknown>>;
  /** The fold (undefined: the dataset's default). */
  readonly fold: number | undefined;
}

/** The dataset, load options and fold a model was trained with: where it is evaluated unless told otherwise. */
export function savedSplitOf(metadata: ModelMetadata): SavedSplit | undefined {
  const record = metadata.dataset;
  if (record === undefined) return undefined;
  return { name: record.name, options: record.options ?? {}, fold: record.fold ?? undefined };
}

/** The class names of a split part's queries, in label order. */
function classesOf(dataset: Dataset, indices: Int32Array): string[] {
  return [...new Set(Array.from(indices, (i) => dataset.labels[i]!))].sort((a, b) => a - b).map((label) => dataset.classNames[label]!);
}

/**
 * Refuses to test a model on what it learned from: under the unseen-classes protocol, on a class
 * it trained or validated on; under the held-out protocol, on another split of its own dataset
 * (whose test images it may have trained on). A model of another dataset is not checked, nor one
 * saved before models recorded their classes (the returned warning says so).
 */
export function checkTestIsUnseen(metadata: ModelMetadata, dataset: Dataset, split: DatasetSplit): string | undefined {
  const record = metadata.dataset;
  if (record === undefined || record.name !== dataset.name) return undefined;
  if (record.trainClasses === undefined) return `the model does not record the classes it trained on (saved by an older tripletjs): nothing guarantees that ${dataset.name}'s test classes are new to it`;
  if (split.protocol === 'unseen-classes') {
    const seen = new Set([...record.trainClasses, ...(record.validationClasses ?? [])]);
    const overlap = classesOf(dataset, split.test.queries).filter((name) => seen.has(name));
    require(
      overlap.length === 0,
      () =>
        `the model trained or validated on ${overlap.length} of the test classes of this split (${overlap.slice(0, 5).join(', ')}${overlap.length > 5 ? ', …' : ''}): ` +
        `its figures would not be on unseen classes. Evaluate it on its own split (${record.split}), e.g. without --fold`,
    );
  } else {
    require(
      split.description === record.split,
      `the model was trained with another split of ${dataset.name} (${record.split}), so this split's test images may be among its training images: evaluate it on its own split`,
    );
  }
  return undefined;
}
