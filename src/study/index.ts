/**
 * The sampling study (`triplet study`): losses × sampling methods × seeds under one budget per
 * dataset, evaluated on classes unseen in training, with class spread and collapse detection,
 * resumable, run in parallel child processes; writes `runs.json`, `report.md` and a chart.
 */
export { runStudy, chooseLearningRate, DEFAULT_STUDY_DATASETS, type StudyOptions, type StudyResult, type StudyEvent } from './study.js';
export { SAMPLINGS, FULL_GRID, QUICK_GRID, minerOf, parseCell, type SamplingName, type StudyCell } from './grid.js';
export { studyBudget, LEARNING_RATES, type StudyBudget, type BudgetOverrides } from './budget.js';
export { classSpread, type ClassSpread } from './spread.js';
export { isCollapsed, COLLAPSE_DISTANCE } from './collapse.js';
export { meanStd, type MeanStd } from './statistics.js';
export { summarizeCells, SUMMARY_METRICS, type CellSummary, type SummaryMetric } from './summary.js';
export { studyReport, formatMeanStd, describeBudget, type ReportInput } from './report.js';
export { studyChart, type StudyChart } from './chart.js';
export { RUN_PROTOCOL, SELECTION_SEED, runLabel, type RunConfig, type TrainRunConfig, type RawRunConfig, type RunRecord, type RunStatus } from './run.js';
export { readFinishedRun, runFile } from './run-store.js';
