import cliProgress from 'cli-progress';
import type { TrainingEvent } from '../training/events.js';

/**
 * Shows training progress on stderr: a progress bar over all steps (loss, active tuples,
 * samples/s, ETA) on a terminal, one line per epoch otherwise (logs, CI).
 */
export function progressReporter(): { onEvent: (event: TrainingEvent) => void; stop: () => void } {
  const interactive = process.stderr.isTTY === true;
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: 'epoch {epochLabel} [{bar}] {percentage}% | loss {loss} | active {active} of valid tuples | {speed} samples/s | ETA {eta_formatted}',
      hideCursor: true,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  let done = 0;
  let epochs = 0;
  return {
    onEvent(event) {
      if (event.type === 'warning') {
        process.stderr.write(`warning: ${event.message}\n`);
      } else if (event.type === 'start') {
        epochs = event.epochs;
        process.stderr.write(`batches of P × K = ${event.p} × ${event.k}, ${event.stepsPerEpoch} steps per epoch\n`);
        done = event.startEpoch * event.stepsPerEpoch;
        if (event.resumedFrom) process.stderr.write(`resuming from ${event.resumedFrom}\n`);
        if (interactive) {
          bar.start(event.epochs * event.stepsPerEpoch, done, { epochLabel: `${event.startEpoch + 1}/${epochs}`, loss: '-', active: '-', speed: '-' });
          started = true;
        }
      } else if (event.type === 'step') {
        done++;
        if (started) {
          bar.update(done, {
            epochLabel: `${event.epoch + 1}/${epochs}`,
            loss: event.loss.toFixed(4),
            active: `${(100 * event.activeFraction).toFixed(1)}%`,
            speed: event.samplesPerSecond.toFixed(0),
          });
        }
      } else if (!interactive || event.validation) {
        const { validation } = event;
        const evaluation = validation
          ? ` | validation MAP@R ${validation.mapAtR.toFixed(4)} P@1 ${validation.precisionAt1.toFixed(4)}` +
            (validation.rocAuc !== undefined ? ` AUC ${validation.rocAuc.toFixed(4)} EER ${validation.eer!.toFixed(4)}` : '')
          : '';
        const line = `epoch ${event.epoch + 1}/${epochs}: loss ${event.meanLoss.toFixed(4)}, active ${(100 * event.meanActiveFraction).toFixed(1)}% of valid tuples, ${event.seconds.toFixed(1)} s (waited ${event.dataWaitSeconds.toFixed(1)} s for data)${evaluation}`;
        if (started) bar.stop(), (started = false);
        process.stderr.write(line + '\n');
        if (interactive && event.epoch + 1 < epochs) {
          bar.start(bar.getTotal(), done, { epochLabel: `${event.epoch + 2}/${epochs}`, loss: '-', active: '-', speed: '-' });
          started = true;
        }
      }
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
