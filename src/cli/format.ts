import type { EvaluationReport } from '../training/evaluate-split.js';

/** The metrics shown in tables, in order, with their labels. */
const COLUMNS: ReadonlyArray<[keyof EvaluationReport & string, string]> = [
  ['precisionAt1', 'P@1'],
  ['rPrecision', 'R-precision'],
  ['mapAtR', 'MAP@R'],
  ['recallAt4', 'recall@4'],
  ['nmi', 'NMI'],
  ['rocAuc', 'ROC AUC'],
  ['eer', 'EER'],
  ['threshold', 'threshold (chosen on validation: best balanced accuracy)'],
  ['accuracyAtThreshold', 'accuracy at that threshold'],
  ['farAtThreshold', 'FAR at that threshold'],
  ['frrAtThreshold', 'FRR at that threshold'],
  ['bestAccuracy', 'best accuracy (threshold picked on these pairs)'],
  ['tarAtFar1e3', 'TAR@FAR=1e-3'],
  ['tarAtFar1e2', 'TAR@FAR=1e-2'],
];

/** A Markdown table with one column per representation (e.g. raw pixels, learned). */
export function metricsTable(reports: ReadonlyArray<[string, EvaluationReport]>): string {
  const lines = [`| metric | ${reports.map(([name]) => name).join(' | ')} |`, `|---|${reports.map(() => '---:|').join('')}`];
  for (const [key, label] of COLUMNS) {
    const values = reports.map(([, report]) => report[key]);
    if (values.every((v) => v === undefined)) continue;
    lines.push(`| ${label} | ${values.map((v) => (typeof v === 'number' ? v.toFixed(4) : '–')).join(' | ')} |`);
  }
  return lines.join('\n');
}
