// Replaces one "## " section of a markdown file (docs/BENCHMARKS.md) — the one whose heading
// starts with `headingStart` — up to the next "## " heading, or appends it at the end. For
// the long runs that are not part of `make bench` (make soak, make crash-soak).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

export function replaceSection(mdPath, headingStart, section) {
  const doc = existsSync(mdPath) ? readFileSync(mdPath, 'utf8') : '';
  const at = doc.indexOf(`\n${headingStart}`);
  let out;
  if (at < 0) {
    out = `${doc.replace(/\n*$/, '\n\n')}${section}`;
  } else {
    const next = doc.indexOf('\n## ', at + 1);
    // A blank line before the next heading: after an HTML block (the soak's <details>)
    // markdown would otherwise take the heading into the block.
    out = doc.slice(0, at + 1) + section.replace(/\n*$/, '\n\n') + (next < 0 ? '' : doc.slice(next + 1));
  }
  writeFileSync(mdPath, out.replace(/\n*$/, '\n'));
}
