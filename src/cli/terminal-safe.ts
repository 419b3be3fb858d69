/**
 * Makes a guest's console output safe to print on a terminal. A guest is hostile: raw console bytes
 * on the user's tty can retitle the window (OSC `ESC ] 0 ; ... BEL`), move the cursor and rewrite
 * what is already on screen (CSI), hide lines behind carriage returns or backspaces, or feed the
 * terminal's own query-and-answer sequences. So, when stdout is a terminal, `vm logs` drops every
 * escape sequence (7-bit and 8-bit C1 forms) and every control character but newline and tab.
 * Stateful, because a sequence may be split across the chunks of a followed log. `--raw` skips it.
 */

const ESC = 0x1b;
const BEL = 0x07;
/** A string sequence (OSC, DCS, ...) that never ends is dropped up to this many characters, then
 * output shows again: a guest cannot silence the rest of its log with one unterminated sequence. */
const MAX_STRING = 4096;

type State = "text" | "esc" | "escIntermediate" | "csi" | "string" | "stringEsc";

export class TerminalSanitizer {
  private state: State = "text";
  private stringLength = 0;

  write(chunk: string): string {
    let out = "";
    for (const ch of chunk) {
      const c = ch.codePointAt(0)!;
      switch (this.state) {
        case "text":
          if (c === ESC) this.state = "esc";
          else if (c === 0x9b) this.state = "csi";
          else if (c === 0x90 || c === 0x98 || c === 0x9d || c === 0x9e || c === 0x9f) this.enterString();
          else if (c === 0x0a || c === 0x09 || (c >= 0x20 && c !== 0x7f && !(c >= 0x80 && c <= 0x9f)))
            out += ch;
          break;
        case "esc":
          this.afterEsc(c);
          break;
        case "escIntermediate":
          if (c >= 0x30 && c <= 0x7e) this.state = "text";
          else if (c < 0x20 || c > 0x2f) this.state = "text";
          break;
        case "csi":
          // Parameters and intermediates (0x20-0x3F) until a final byte (0x40-0x7E).
          if (c >= 0x40 && c <= 0x7e) this.state = "text";
          else if (c < 0x20 || c > 0x3f) this.state = c === ESC ? "esc" : "text";
          break;
        case "string":
          if (c === BEL || c === 0x9c) this.state = "text";
          else if (c === ESC) this.state = "stringEsc";
          else if (++this.stringLength > MAX_STRING) this.state = "text";
          break;
        case "stringEsc":
          // ESC \ is the string terminator; any other ESC ends the string and starts a sequence.
          if (c === 0x5c) this.state = "text";
          else this.afterEsc(c);
          break;
      }
    }
    return out;
  }

  /** The character after an ESC. */
  private afterEsc(c: number): void {
    if (c === 0x5b) this.state = "csi";
    else if (c === 0x5d || c === 0x50 || c === 0x58 || c === 0x5e || c === 0x5f) this.enterString();
    else if (c >= 0x20 && c <= 0x2f) this.state = "escIntermediate";
    else if (c === ESC) this.state = "esc";
    else this.state = "text"; // ESC plus one final character (e.g. ESC c, a full reset): dropped.
  }

  private enterString(): void {
    this.state = "string";
    this.stringLength = 0;
  }
}

/** What to write for each chunk of console output: sanitized on a terminal unless raw is asked for. */
export function consoleOutput(options: { tty: boolean; raw: boolean }): (chunk: string) => string {
  if (!options.tty || options.raw) return (chunk) => chunk;
  const sanitizer = new TerminalSanitizer();
  return (chunk) => sanitizer.write(chunk);
}
