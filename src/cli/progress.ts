/**
 * Progress for long waits: a live status line on stderr when it is a terminal, nothing otherwise
 * (scripts and pipes get only the final result).
 */
const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

export interface Progress {
  update(text: string): void;
  done(text?: string): void;
}

export function progress(stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!stream.isTTY) return { update() {}, done() {} };
  let text = "";
  let frame = 0;
  const started = Date.now();
  const draw = () => {
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    stream.write(`\r\x1b[2K${FRAMES[frame++ % FRAMES.length]} ${text} (${seconds}s)`);
  };
  const timer = setInterval(draw, 100);
  return {
    update(next) {
      text = next;
      draw();
    },
    done(final) {
      clearInterval(timer);
      stream.write(`\r\x1b[2K${final ? `${final}\n` : ""}`);
    },
  };
}
