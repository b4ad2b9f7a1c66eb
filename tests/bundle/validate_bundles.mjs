// Exports every example pipeline (examples/*/ and examples/shop/serving) with `lakepipe
// bundle` and validates each databricks.yml against the Databricks Asset Bundle JSON schema
// checked into third_party/databricks-bundle-schema, with ajv (an independent validator)
// and the `yaml` package (an independent YAML reader). Fails when an example does not
// export, a bundle does not validate, a library path is missing from the bundle, or the
// validator accepts a deliberately broken bundle (so a validator that checks nothing fails).
//
//   node tests/bundle/validate_bundles.mjs --bin build/lakepipe [--source .] [--keep DIR]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv2020 from 'ajv/dist/2020.js';
import YAML from 'yaml';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const here = path.dirname(fileURLToPath(import.meta.url));
const source = path.resolve(opt('--source', path.join(here, '..', '..')));
const bin = path.resolve(opt('--bin', path.join(source, 'build', 'lakepipe')));
const keep = opt('--keep', null);
const work = keep ? path.resolve(keep) : fs.mkdtempSync(path.join(os.tmpdir(), 'lakepipe-bundles-'));

const schemaText = fs.readFileSync(path.join(source, 'third_party/databricks-bundle-schema/jsonschema.json'), 'utf8');
const schema = JSON.parse(schemaText);
// strict: false because the schema carries Databricks' own annotation keywords
// (markdownDescription, deprecationMessage, doNotSuggest, x-databricks-preview).
const ajv = new Ajv2020({ strict: false, allErrors: true });
const validate = ajv.compile(schema);

function examples() {
  const root = path.join(source, 'examples');
  const out = fs.readdirSync(root)
    .map((d) => path.join(root, d))
    .filter((d) => fs.existsSync(path.join(d, 'pipeline.yaml')));
  out.push(path.join(root, 'shop', 'serving'));
  return out.sort();
}

let passed = 0;
let failed = 0;
function check(name, ok, detail) {
  if (ok) {
    passed++;
    console.log(`ok   ${name}`);
  } else {
    failed++;
    console.log(`FAIL ${name}: ${detail}`);
  }
}

function schemaErrors(doc) {
  if (validate(doc)) return '';
  // oneOf alternatives make long lists; the deepest paths say where it went wrong.
  const errs = validate.errors.map((e) => `${e.instancePath || '/'} ${e.message}`);
  return [...new Set(errs)].sort((a, b) => b.length - a.length).slice(0, 8).join('; ');
}

// The validator must see a mistake: an unknown pipeline key and a mistyped `continuous`.
{
  const broken = {
    bundle: { name: 'broken' },
    resources: { pipelines: { p: { name: 'p', continuous: 'sometimes', librarie: [] } } },
  };
  check('schema rejects a broken bundle', schemaErrors(broken) !== '', 'the validator accepted it');
}

const folders = examples();
if (folders.length < 9) {
  check('examples found', false, `only ${folders.length} pipeline folders under examples/`);
}
for (const folder of folders) {
  const name = path.relative(path.join(source, 'examples'), folder);
  const out = path.join(work, name.replace(/[\/]/g, '_'));
  fs.rmSync(out, { recursive: true, force: true });
  let printed;
  try {
    printed = execFileSync(bin, ['bundle', folder, '--out', out], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    check(`${name}: export`, false, `exit ${e.status}: ${(e.stderr || '').trim()}`);
    continue;
  }
  check(`${name}: export`, /^bundle /.test(printed), `unexpected output: ${printed}`);
  const ymlPath = path.join(out, 'databricks.yml');
  let doc;
  try {
    doc = YAML.parse(fs.readFileSync(ymlPath, 'utf8'));
  } catch (e) {
    check(`${name}: databricks.yml is YAML`, false, e.message);
    continue;
  }
  const errors = schemaErrors(doc);
  check(`${name}: databricks.yml validates against the bundle schema`, errors === '', errors);
  const pipelines = Object.values(doc?.resources?.pipelines ?? {});
  check(`${name}: one pipeline resource`, pipelines.length === 1, `${pipelines.length} pipelines`);
  const libs = (pipelines[0]?.libraries ?? []).map((l) => l.file?.path);
  const missing = libs.filter((p) => !p || !fs.existsSync(path.join(out, p)));
  check(`${name}: every library is in the bundle`, libs.length > 0 && missing.length === 0,
        `missing ${missing.join(', ') || '(no libraries)'}`);
  for (const job of Object.values(doc?.resources?.jobs ?? {})) {
    const q = job.schedule?.quartz_cron_expression;
    if (q !== undefined) {
      check(`${name}: job ${job.name} has a 6-field Quartz schedule`, q.trim().split(/\s+/).length === 6, q);
    }
  }
  const readme = fs.readFileSync(path.join(out, 'README.md'), 'utf8');
  check(`${name}: README lists what is not carried over`, readme.includes('## Not carried over'), 'no section');
}

if (!keep) fs.rmSync(work, { recursive: true, force: true });
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
