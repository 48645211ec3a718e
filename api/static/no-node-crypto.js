// The page's import map sends the name "crypto" here: @noble/secp256k1 imports Node's crypto
// for random bytes only, which verification never needs (the browser's crypto is used anyway).
export {};
