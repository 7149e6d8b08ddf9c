// A local Cosmos DB NoSQL server for the Cosmos store's point-operation tests:
// @vercel/cosmosdb-server over HTTPS with the self-signed certificate it ships, on 127.0.0.1.
//
//   node .ci/cosmos/server.js [port]      (port 0 or none: a free one)
//
// Prints "Ready to accept HTTPS connections at 127.0.0.1:<port>" once listening, and stops when its
// standard input closes, so a test fixture that dies never leaves it behind.
//
// One defect is mended first: reading a document that does not exist crashes the package's handler
// (a 500) where Cosmos DB answers 404, which is how the store learns that a user has no core memory.
"use strict";

const readDocument = require("@vercel/cosmosdb-server/lib/handler/read-document");
const read = readDocument.default;
readDocument.default = (account, req, res, params) => {
  try {
    return read(account, req, res, params);
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
    res.statusCode = 404;
    return { code: "NotFound", message: "Entity with the specified id does not exist in the system." };
  }
};

const { createHttpsServer } = require("@vercel/cosmosdb-server");

const port = Number.parseInt(process.argv[2] || "0", 10);
const server = createHttpsServer().listen(port, "127.0.0.1", () => {
  console.log(`Ready to accept HTTPS connections at 127.0.0.1:${server.address().port}`);
});

process.stdin.on("end", () => process.exit(0));
process.stdin.on("error", () => process.exit(0));
process.stdin.resume();
