/**
 * Writing Nix values from TypeScript values for the generated flakes. Strings are escaped so that
 * no value can end its string or start an interpolation, whatever it contains; the spec's narrow
 * character sets are a second line of defence, not the only one.
 */

/** A Nix double-quoted string: `"`, `\` and `${` are escaped, as are control characters. */
export function nixString(value: string): string {
  const escaped = value
    .replaceAll("\\", "\\\\")
    .replaceAll('"', '\\"')
    .replaceAll("${", "\\${")
    .replaceAll("\n", "\\n")
    .replaceAll("\r", "\\r")
    .replaceAll("\t", "\\t");
  return `"${escaped}"`;
}

export type NixValue = string | number | boolean | null | NixValue[] | { [key: string]: NixValue } | NixRaw;

/** An expression written as it is (a path such as `./blixard.nix`, `lib.mkForce 2`). */
export class NixRaw {
  constructor(readonly text: string) {}
}

export const raw = (text: string): NixRaw => new NixRaw(text);

/** Attribute names that need no quotes; any other name is written as a string. */
function nixKey(key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_'-]*$/.test(key) ? key : nixString(key);
}

/** Renders a value as Nix, indented by `indent` levels of two spaces. */
export function nixValue(value: NixValue, indent = 0): string {
  const pad = "  ".repeat(indent + 1);
  const end = "  ".repeat(indent);
  if (value instanceof NixRaw) return value.text;
  if (value === null) return "null";
  if (typeof value === "string") return nixString(value);
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "number") {
    if (!Number.isInteger(value)) throw new Error(`Nix integers only: ${value}`);
    return String(value);
  }
  if (Array.isArray(value)) {
    if (value.length === 0) return "[ ]";
    return `[\n${value.map((v) => `${pad}${wrapForList(v, indent + 1)}\n`).join("")}${end}]`;
  }
  const entries = Object.entries(value);
  if (entries.length === 0) return "{ }";
  return `{\n${entries.map(([k, v]) => `${pad}${nixKey(k)} = ${nixValue(v, indent + 1)};\n`).join("")}${end}}`;
}

/** List elements are separated by spaces, so an application such as `lib.mkForce 2` needs parentheses. */
function wrapForList(value: NixValue, indent: number): string {
  const text = nixValue(value, indent);
  return value instanceof NixRaw && /\s/.test(text) && !/^[([{"]/.test(text) ? `(${text})` : text;
}
