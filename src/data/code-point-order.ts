/**
 * Compares strings by Unicode code point (JavaScript's default sort compares UTF-16 code units,
 * which puts characters above U+FFFF before U+E000–U+FFFF). Used for class names, so that label
 * numbers do not depend on locale or platform.
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(i)!;
    if (x !== y) return x - y;
    if (x > 0xffff) i++; // both strings have the same surrogate pair here
  }
  return a.length - b.length;
}
