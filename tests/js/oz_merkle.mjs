// Reference Merkle trees from OpenZeppelin's @openzeppelin/merkle-tree, for tests/test_merkle.py.
//
// stdin:  {"cases": [{"values": ["0x<32 bytes>", ...], "proofs": ["0x<value>", ...]}, ...]}
// stdout: {"cases": [{"root", "tree", "leafOrder", "proofs": [{"value", "proof", "verified"}]}, ...]}
//
// Each tree is StandardMerkleTree.of(values.map(h => [h]), ["bytes32"]); `leafOrder` lists the
// values in ascending leaf order (tree index descending), `tree` is the whole node array.
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = JSON.parse(Buffer.concat(chunks).toString("utf8"));

const cases = input.cases.map(({ values, proofs }) => {
  const tree = StandardMerkleTree.of(values.map((h) => [h]), ["bytes32"]);
  const dump = tree.dump();
  const leafOrder = [...dump.values]
    .sort((a, b) => b.treeIndex - a.treeIndex)
    .map((v) => v.value[0]);
  return {
    root: tree.root,
    tree: dump.tree,
    leafOrder,
    proofs: (proofs ?? []).map((value) => {
      const proof = tree.getProof([value]);
      return { value, proof, verified: StandardMerkleTree.verify(tree.root, ["bytes32"], [value], proof) };
    }),
  };
});

process.stdout.write(JSON.stringify({ cases }));
