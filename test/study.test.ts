import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chooseLearningRate, classSpread, minerOf, COLLAPSE_DISTANCE, readFinishedRun, runFile, runStudy, SELECTION_SEED, type RunRecord, type StudyResult, type TrainRunConfig } from '../src/study/index.js';
import { closeTo, labelLayouts, randomMatrix } from './helpers/setup.js';

const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const directories: string[] = [];

async function temporaryDirectory(): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), 'tripletjs-study-'));
  directories.push(directory);
  return directory;
}

interface RunsFile {
  rawPixels: RunRecord[];
  runs: RunRecord[];
}

async function readRuns(outDir: string): Promise<RunsFile> {
  return JSON.parse(await readFile(join(outDir, 'runs.json'), 'utf8')) as RunsFile;
}

/** The cells of the report's table row that starts with these cells (e.g. loss, sampling). */
function reportRow(report: string, ...first: string[]): string[] {
  const row = report.split('\n').find((line) => line.startsWith(`| ${first.join(' | ')} |`));
  assert.ok(row, `no row ${first.join(' | ')} in\n${report}`);
  return row.split('|').slice(1, -1).map((cell) => cell.trim());
}

after(async () => {
  await Promise.all(directories.map((d) => rm(d, { recursive: true, force: true })));
});

describe('class spread', () => {
  it('matches a brute-force loop over all pairs', () => {
    for (const [name, labels] of Object.entries(labelLayouts(23, 5))) {
      if (name === 'one class' || name === 'all distinct') continue;
      const dims = 6;
      const rows = randomMatrix(labels.length, dims, 9);
      const distance = (i: number, j: number) => Math.hypot(...rows[i]!.map((v, d) => v - rows[j]![d]!));
      const intra = new Map<number, number[]>();
      const inter = new Map<number, number[]>();
      const push = (map: Map<number, number[]>, key: number, value: number) => map.set(key, [...(map.get(key) ?? []), value]);
      const all = { intra: [] as number[], inter: [] as number[] };
      for (let i = 0; i < labels.length; i++) {
        for (let j = i + 1; j < labels.length; j++) {
          const d = distance(i, j);
          if (labels[i] === labels[j]) {
            push(intra, labels[i]!, d);
            all.intra.push(d);
          } else {
            push(inter, labels[i]!, d);
            push(inter, labels[j]!, d);
            all.inter.push(d);
          }
        }
      }
      const mean = (values: number[]) => values.reduce((s, v) => s + v, 0) / values.length;
      const ratios = [...intra.keys()].map((c) => mean(intra.get(c)!) / mean(inter.get(c)!));
      const spread = classSpread(Float32Array.from(rows.flat()), Int32Array.from(labels), dims);
      assert.ok(closeTo(spread.spread, mean(ratios)), `${name}: spread ${spread.spread} vs ${mean(ratios)}`);
      assert.ok(closeTo(spread.meanIntraDistance, mean(all.intra)), `${name}: intra`);
      assert.ok(closeTo(spread.meanInterDistance, mean(all.inter)), `${name}: inter`);
    }
  });

  it('refuses sets without a same-class pair and another class', () => {
    assert.throws(() => classSpread(new Float32Array(4), Int32Array.of(0, 1), 2), /needs a class with two members/);
    assert.throws(() => classSpread(new Float32Array(4), Int32Array.of(3, 3), 2), /needs a class with two members/);
  });
});

describe('learning-rate choice', () => {
  const run = (learningRate: number, status: RunRecord['status'], mapAtR?: number): RunRecord =>
    ({ config: { kind: 'train', purpose: 'select', learningRate }, status, ...(mapAtR !== undefined ? { validation: { mapAtR } } : {}) }) as unknown as RunRecord;

  it('takes the best validation MAP@R, ties to the lower rate, a collapsed run only when nothing else trained', () => {
    assert.equal(chooseLearningRate([run(1e-3, 'ok', 0.5), run(1e-4, 'ok', 0.7), run(3e-3, 'ok', 0.6)]), 1e-4);
    assert.equal(chooseLearningRate([run(3e-3, 'ok', 0.7), run(1e-3, 'ok', 0.7)]), 1e-3);
    assert.equal(chooseLearningRate([run(1e-3, 'collapsed', 0.9), run(1e-4, 'ok', 0.2)]), 1e-4);
    assert.equal(chooseLearningRate([run(1e-3, 'collapsed', 0.5), run(1e-4, 'collapsed', 0.4), run(3e-4, 'diverged')]), 1e-3);
    assert.equal(chooseLearningRate([run(1e-3, 'diverged'), run(1e-4, 'diverged')]), 1e-4);
  });
});

describe('triplet study, end to end on ORL faces', () => {
  const cells = [
    { loss: 'triplet', sampling: 'semi-hard' },
    { loss: 'contrastive', sampling: 'random' },
    { loss: 'triplet-soft', sampling: 'batch-all' },
  ] as const;
  const options = { datasets: ['orl-faces'], cells, seeds: 2, budget: { epochs: 2, learningRates: [1e-3, 3e-3] } };
  let outDir: string;
  let first: StudyResult;

  before(async () => {
    outDir = await temporaryDirectory();
    first = await runStudy({ ...options, outDir, jobs: 2 });
  });

  it('writes runs.json, report.md, chart.svg and chart.png', async () => {
    // The raw-pixel floor, 3 cells × 2 rates to choose from, then 3 cells × 2 seeds at the chosen rates.
    assert.equal(first.executed, 13);
    const { rawPixels, runs } = await readRuns(outDir);
    assert.equal(rawPixels.length, 1);
    assert.equal(runs.length, 12);
    const selection = runs.filter((r) => (r.config as TrainRunConfig).purpose === 'select');
    const finals = runs.filter((r) => (r.config as TrainRunConfig).purpose === 'final');
    for (const run of runs) {
      const config = run.config as TrainRunConfig;
      assert.equal(run.status, 'ok', `${config.loss}/${config.sampling} seed ${config.seed}`);
      // The same budget in every cell: 2 epochs of the 25 training people's batches of 10 × 4.
      assert.equal(run.examplesSeen, 2 * 7 * 40);
      assert.ok(run.validation!.mapAtR > 0 && run.validation!.mapAtR <= 1);
      assert.ok(run.spread!.spread > 0 && run.spread!.spread < 1);
      assert.ok(run.seconds > 0);
    }
    assert.ok(selection.every((r) => r.test === undefined && r.config.kind === 'train' && r.config.seed === SELECTION_SEED), 'choosing runs never see the test');
    assert.ok(finals.every((r) => r.test!.mapAtR > 0));
    assert.deepEqual(finals.map((r) => [(r.config as TrainRunConfig).seed, (r.config as TrainRunConfig).miner]), [
      [0, 'semi-hard'], [0, 'random'], [0, 'all'], [1, 'semi-hard'], [1, 'random'], [1, 'all'],
    ]);
    // Each cell's seeds train at the rate of its best validation run.
    for (const { loss, sampling } of cells) {
      const tried = selection.filter((r) => r.config.kind === 'train' && r.config.loss === loss && r.config.sampling === sampling);
      assert.equal(tried.length, 2);
      const best = tried.reduce((a, b) => (b.validation!.mapAtR > a.validation!.mapAtR ? b : a));
      for (const run of finals.filter((r) => r.config.kind === 'train' && r.config.loss === loss && r.config.sampling === sampling)) {
        assert.equal((run.config as TrainRunConfig).learningRate, (best.config as TrainRunConfig).learningRate, `${loss}/${sampling}`);
      }
    }
    const svg = await readFile(join(outDir, 'chart.svg'), 'utf8');
    assert.match(svg, /^<svg/);
    for (const text of ['orl-faces', 'triplet-soft', 'contrastive', 'semi-hard', 'MAP@R']) assert.ok(svg.includes(text), `chart has ${text}`);
    const png = await readFile(join(outDir, 'chart.png'));
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const report = await readFile(join(outDir, 'report.md'), 'utf8');
    // The engine a run computed on is part of its configuration, and shown.
    const engine = runs[0]!.config.engine;
    assert.match(engine, /TensorFlow\.js backend (wasm|cpu)/);
    assert.ok([...rawPixels, ...runs].every((r) => r.config.engine === engine));
    assert.ok(report.includes(`Engine: ${engine.replace(/^tripletjs: /, '')}.`));
  });

  it('the report has the raw-pixel floor row and mean ± std computed from runs.json', async () => {
    const report = await readFile(join(outDir, 'report.md'), 'utf8');
    const { rawPixels, runs } = await readRuns(outDir);
    const header = report.split('\n').find((line) => line.startsWith('| loss | sampling | miner |'))!.split('|').slice(1, -1).map((c) => c.trim());
    assert.deepEqual(header.slice(3, 8), ['lr', 'MAP@R', 'P@1', 'EER', 'ROC AUC']);
    const floor = reportRow(report, 'raw pixels (floor)', '–');
    assert.equal(floor[4], rawPixels[0]!.test!.mapAtR.toFixed(4));
    assert.equal(floor[6], rawPixels[0]!.test!.eer!.toFixed(4));
    for (const { loss, sampling } of cells) {
      const row = reportRow(report, loss, sampling, minerOf({ loss, sampling }));
      const values = runs.filter((r) => r.config.kind === 'train' && r.config.purpose === 'final' && r.config.loss === loss && r.config.sampling === sampling);
      assert.equal(values.length, 2);
      assert.equal(row[3], String((values[0]!.config as TrainRunConfig).learningRate));
      for (const [column, metric] of [[4, 'mapAtR'], [5, 'precisionAt1'], [6, 'eer'], [7, 'rocAuc']] as const) {
        const [a, b] = values.map((r) => r.test![metric]!);
        const mean = (a! + b!) / 2;
        const std = Math.sqrt(((a! - mean) ** 2 + (b! - mean) ** 2) / (2 - 1));
        assert.equal(row[column], `${mean.toFixed(4)} ± ${std.toFixed(4)}`, `${loss}/${sampling} ${metric}`);
      }
      assert.equal(row[9], '2 ok');
      // The choice, in the learning-rate table: both rates' validation MAP@R, the chosen one in bold.
      const choice = reportRow(report.slice(report.indexOf('### Learning rate')), loss, sampling);
      const bold = choice.filter((cell) => cell.startsWith('**'));
      assert.equal(bold.length, 1, choice.join(' | '));
    }
    assert.match(report, /### Learning rate of each cell, chosen on validation \(orl-faces\)/);
    assert.match(report, /### Class spread on orl-faces \(claim 4\)/);
    // Pooled over the runs that did not collapse (here all 6): mean ± std of the two seeds' spreads.
    const pooled = reportRow(report, 'spread, runs that did not collapse').slice(1);
    const spreads = (loss: string) => runs.filter((r) => r.config.kind === 'train' && r.config.purpose === 'final' && r.config.loss === loss).map((r) => r.spread!.spread);
    for (const [column, loss] of ['triplet', 'triplet-soft', 'contrastive'].entries()) {
      const [a, b] = spreads(loss);
      const mean = (a! + b!) / 2;
      assert.equal(pooled[column], `${mean.toFixed(3)} ± ${(Math.abs(a! - b!) / Math.SQRT2).toFixed(3)}`);
    }
  });

  it('resumes: only a deleted run is done again, with the same numbers, whatever the job count', async () => {
    const before = await readRuns(outDir);
    const index = before.runs.length - 2;
    const removed = before.runs[index]!;
    await rm(runFile(outDir, removed.config));
    const events: string[] = [];
    const again = await runStudy({ ...options, outDir, jobs: 1, onEvent: (e) => e.type === 'run-start' && events.push(JSON.stringify(e.config)) });
    assert.equal(again.executed, 1);
    assert.equal(again.reused, 12);
    assert.deepEqual(events, [JSON.stringify(removed.config)]);
    const after = await readRuns(outDir);
    assert.deepEqual(after.runs[index]!.test, removed.test, 'same seed, same numbers (separate process, 1 job instead of 2)');
    assert.deepEqual(after.runs[index]!.spread, removed.spread);
    assert.equal(after.runs[index]!.finalLoss, removed.finalLoss);
    // A stored run is reused only under the same configuration.
    assert.ok(await readFinishedRun(outDir, removed.config));
    const changed = { ...(removed.config as TrainRunConfig), budget: { ...(removed.config as TrainRunConfig).budget, epochs: 3 } };
    assert.equal(await readFinishedRun(outDir, changed), undefined);
  });

  it('an embedding that collapses to a point is reported as collapsed, not dropped', async () => {
    // Batch-hard at a learning rate of 1 pulls every face onto one point within 3 epochs.
    const out = await temporaryDirectory();
    const result = await runStudy({ outDir: out, datasets: ['orl-faces'], cells: [{ loss: 'triplet', sampling: 'batch-hard' }], seeds: 1, budget: { epochs: 3, learningRates: [1] } });
    const run = result.runs[0]!;
    assert.equal(run.status, 'collapsed');
    assert.ok(run.spread!.meanInterDistance < COLLAPSE_DISTANCE, `inter-class distance ${run.spread!.meanInterDistance}`);
    assert.ok(Math.abs(run.finalLoss! - 0.2) < 0.02, `the hinge loss sits at the margin: ${run.finalLoss}`);
    const row = reportRow(await readFile(result.files.report, 'utf8'), 'triplet', 'batch-hard', 'batch-hard');
    assert.equal(row[4], run.test!.mapAtR.toFixed(4));
    assert.equal(row[9], '1 collapsed');
  });
});

describe('triplet study command', () => {
  const run = (...args: string[]) => spawnSync(process.execPath, [cli, 'study', ...args], { encoding: 'utf8' });

  it('a diverging cell is reported as diverged, with progress lines on stderr', async () => {
    const out = await temporaryDirectory();
    const result = run('--dataset', 'orl-faces', '--cells', 'triplet/semi-hard', '--seeds', '1', '--epochs', '1', '--lr', '1e30', '--out', out, '--json');
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stderr, /study: 2 runs on orl-faces; 2 at a time/);
    assert.match(result.stderr, /run [12]\/2 orl-faces triplet\/semi-hard lr 1e\+30 seed 0: diverged \(\d+ s\); ETA/);
    const summary = JSON.parse(result.stdout) as { summaries: Array<{ statuses: Record<string, number>; metrics: object }> };
    assert.deepEqual(summary.summaries[0]!.statuses, { ok: 0, collapsed: 0, diverged: 1 });
    assert.deepEqual(summary.summaries[0]!.metrics, {});
    const { runs } = await readRuns(out);
    assert.equal(runs[0]!.status, 'diverged');
    assert.match(runs[0]!.message!, /training diverged at epoch 1/);
    const row = reportRow(await readFile(join(out, 'report.md'), 'utf8'), 'triplet', 'semi-hard', 'semi-hard');
    assert.deepEqual([row[4], row[9]], ['–', '1 diverged']);
  });

  it('--help lists the options; bad input is one line and exit code 1', () => {
    const help = run('--help');
    assert.equal(help.status, 0);
    for (const option of ['--dataset', '--cells', '--seeds', '--quick', '--jobs', '--out', '--epochs', '--steps', '--lr', '--json']) assert.ok(help.stdout.includes(option), option);
    const cases: Array<[string[], RegExp]> = [
      [['--dataset', 'imagenet'], /unknown dataset 'imagenet'/],
      [['--cells', 'triplet/hard-pairs'], /hard-pairs sampling is for the contrastive loss/],
      [['--cells', 'hinge/random'], /cell 'hinge\/random' must be loss\/sampling/],
      [['--seeds', '0'], /seeds must be >= 1/],
      [['--jobs', 'two'], /--jobs must be an integer/],
    ];
    for (const [args, message] of cases) {
      const result = run(...args, '--out', join(tmpdir(), 'tripletjs-study-never-written'));
      assert.equal(result.status, 1, args.join(' '));
      assert.match(result.stderr, message);
      assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
    }
  });
});
