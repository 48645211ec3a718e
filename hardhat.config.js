// Hardhat 2 configuration: a second toolchain and a second EVM for CertLedger's contracts.
//
//   npx hardhat compile                                  compile contracts/ offline
//   npx hardhat node --hostname 127.0.0.1 --port 8546    JSON-RPC node (free gas, chain id 31337)
//
// The compiler settings mirror scripts/build_contracts.mjs (the build that produces
// ledger/artifacts/, which is what the Python package deploys): solc 0.8.28 from npm,
// evmVersion paris, optimizer on with 200 runs, IPFS metadata hash. tests/test_artifacts.py
// checks that both builds give the same ABI and bytecode.
const { subtask } = require("hardhat/config");
const { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } = require("hardhat/builtin-tasks/task-names");

const SOLC_VERSION = "0.8.28";

// Hardhat would download the compiler from binaries.soliditylang.org; this machine reaches only
// npm and PyPI. Use the WebAssembly build that the pinned npm `solc` package ships instead.
subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async (args, hre, runSuper) => {
  if (args.solcVersion !== SOLC_VERSION) return runSuper();
  const solc = require("solc");
  if (!solc.version().startsWith(`${SOLC_VERSION}+`)) {
    throw new Error(`node_modules/solc is ${solc.version()}, expected ${SOLC_VERSION}: run npm ci`);
  }
  return {
    compilerPath: require.resolve("solc/soljson.js"),
    isSolcJs: true,
    version: SOLC_VERSION,
    longVersion: solc.version(),
  };
});

/** @type import('hardhat/config').HardhatUserConfig */
module.exports = {
  solidity: {
    version: SOLC_VERSION,
    settings: {
      evmVersion: "paris", // no PUSH0/MCOPY: runs on the widest range of consortium chains
      optimizer: { enabled: true, runs: 200 },
      metadata: { bytecodeHash: "ipfs" },
    },
  },
  paths: {
    sources: "./contracts",
    artifacts: "./build/hardhat/artifacts",
    cache: "./build/hardhat/cache",
  },
  networks: {
    hardhat: {
      chainId: 31337,
      // Same hardfork as the embedded anvil node (ledger/node.py HARDFORK); Hardhat 2.29
      // would default to osaka.
      hardfork: "prague",
      // Free gas, as on a consortium chain and on our anvil (--base-fee 0 --gas-price 0): with
      // a zero base fee a transaction at gasPrice 0 costs nothing, so keys with no balance can
      // send it (minGasPrice already defaults to 0). This is the one setting free gas needs;
      // without it the base fee starts at 1 gwei and such transactions are refused.
      initialBaseFeePerGas: 0,
      // anvil holds a zero base fee constant; Hardhat applies EIP-1559, which raises it to
      // 1 wei after any block more than half full -- and from then on every gasPrice-0
      // transaction is refused. Automine puts one transaction in each block, so with twice
      // anvil's 30M block gas limit no transaction that fits an anvil block can do that.
      blockGasLimit: 60_000_000,
      gasPrice: 0, // for transactions Hardhat signs itself (eth_sendTransaction, dev accounts)
      // As anvil: a transaction that reverts is mined and answered with its hash (receipt
      // status 0), not turned into an eth_sendRawTransaction error.
      throwOnTransactionFailures: false,
      mining: { auto: true, interval: 0 },
    },
  },
};
