// The panel's TypeScript types, generated from the server's own models: `python -m nndeploy_jupyter.schemas`
// prints their JSON Schema on stdout; this turns it into `src/api/schema.ts` (one named type per definition).
// Run it with `jlpm build:types`; tests/test_panel_types.py fails when the file is out of date.
import { compile } from 'json-schema-to-typescript';

const chunks = [];
for await (const chunk of process.stdin) {
  chunks.push(chunk);
}
const document = JSON.parse(Buffer.concat(chunks).toString('utf8'));
// pydantic titles every field ("Task Id"); the generator would make a type alias of each. A definition is named
// by its key, and nothing else is named.
const untitled = node => {
  if (Array.isArray(node)) {
    return node.map(untitled);
  }
  if (node === null || typeof node !== 'object') {
    return node;
  }
  return Object.fromEntries(Object.entries(node).filter(([key]) => key !== 'title').map(([k, v]) => [k, untitled(v)]));
};
const defs = Object.fromEntries(
  Object.entries(document.$defs).map(([name, schema]) => [name, { ...untitled(schema), title: name }])
);
// The document itself is only a container of definitions.
const root = { $defs: defs, title: 'Vocabulary', type: 'object', additionalProperties: false };
const banner =
  '/* eslint-disable */\n' +
  '/**\n * Generated from the server\'s pydantic models (`python -m nndeploy_jupyter.schemas`) by\n' +
  ' * `jlpm build:types`. Do not edit: change the models, then run it again.\n */';
const types = await compile(root, 'Vocabulary', {
  bannerComment: banner,
  unreachableDefinitions: true,
  additionalProperties: false,
  style: { singleQuote: true, printWidth: 120 }
});
const tidy = types
  .replace(/\nexport interface Vocabulary \{\}\n/, '\n')
  .replace(/ \*\n \* This interface was referenced by `Vocabulary`'s JSON-Schema\n \* via the `definition` "\w+"\.\n/g, '')
  .replace(/ \* This interface was referenced by `Vocabulary`'s JSON-Schema\n \* via the `definition` "\w+"\.\n/g, '')
  .replace(/\/\*\*\n \*\/\n/g, '');
process.stdout.write(tidy);
