import cliProgress from 'cli-progress';
import { runLabel, type RunRecord } from '../study/run.js';
import type { StudyEvent } from '../study/study.js';

/**
 * Shows a study's progress on stderr: a bar over all runs with the runs in progress and the
 * estimated time left on a terminal; one line per finished run otherwise (run i/N, dataset,
 * cell, seed, status, MAP@R and P@1, seconds, time left).
 */
export function studyProgress(stream: NodeJS.WriteStream = process.stderr): { onEvent: (event: StudyEvent) => void; stop: () => void } {
  const interactive = stream.isTTY === true;
  const bar = new cliProgress.SingleBar(
    { stream, format: 'study [{bar}] {value}/{total} runs | {running} | ETA {eta}', hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  const running = new Set<string>();
  let started = false;
  let eta = '–';
  const runningText = (): string => [...running].join(', ') || '–';
  return {
    onEvent(event) {
      if (event.type === 'plan') {
        const reused = event.finished > 0 ? `; ${event.finished} finished before, reused` : '';
        stream.write(`study: ${event.total} runs on ${event.datasets.join(', ')}${reused}; ${event.jobs} at a time\n`);
        if (interactive && event.finished < event.total) {
          bar.start(event.total, event.finished, { running: '–', eta });
          started = true;
        }
      } else if (event.type === 'run-start') {
        running.add(runLabel(event.config));
        if (started) bar.update({ running: runningText() });
      } else {
        running.delete(runLabel(event.record.config));
        eta = event.etaSeconds !== undefined ? formatDuration(event.etaSeconds) : '–';
        if (started) bar.update(event.done, { running: runningText(), eta });
        else stream.write(`run ${event.done}/${event.total} ${runLabel(event.record.config)}: ${outcome(event.record)}; ETA ${eta}\n`);
      }
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

/** `ok, test MAP@R 0.8123, P@1 0.9900 (17 s)`, `ok, validation MAP@R …` or `diverged (3 s)`. */
function outcome(record: RunRecord): string {
  const [part, evaluation] = record.test ? ['test', record.test] : ['validation', record.validation];
  const metrics = evaluation ? `, ${part} MAP@R ${evaluation.mapAtR.toFixed(4)}, P@1 ${evaluation.precisionAt1.toFixed(4)}` : '';
  return `${record.status}${metrics} (${record.seconds.toFixed(0)} s)`;
}

/** `45 s`, `12 min`, `1 h 05 min`. */
function formatDuration(seconds: number): string {
  if (seconds < 90) return `${Math.round(seconds)} s`;
  const minutes = Math.round(seconds / 60);
  return minutes < 60 ? `${minutes} min` : `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')} min`;
}
