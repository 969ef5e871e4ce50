// The npm reference for licensing/merkle.py (run by licensing/tests/test_merkle.py with `node`).
// Reads {"leafEncoding": [...], "values": [[...], ...], "dump": {...}} as JSON on stdin and
// prints, as JSON: the root, every value's proof and leaf hash, and the tree's own dump, built
// by @openzeppelin/merkle-tree from the values; and the root, proofs and verdicts of the given
// dump (ours) loaded by StandardMerkleTree.load.
"use strict";

const path = require("node:path");
const { StandardMerkleTree } = require(
  path.join(__dirname, "..", "..", "node_modules", "@openzeppelin", "merkle-tree"),
);

function describe(tree) {
  const proofs = [];
  const verified = [];
  for (const [i, value] of tree.entries()) {
    const proof = tree.getProof(i);
    proofs.push(proof);
    verified.push(StandardMerkleTree.verify(tree.root, tree.leafEncoding, value, proof));
  }
  return { root: tree.root, proofs, verified };
}

const input = JSON.parse(require("node:fs").readFileSync(0, "utf8"));
const built = StandardMerkleTree.of(input.values, input.leafEncoding);
const out = { built: { ...describe(built), dump: built.dump() } };
if (input.dump) {
  out.loaded = describe(StandardMerkleTree.load(input.dump));
}
process.stdout.write(JSON.stringify(out));
