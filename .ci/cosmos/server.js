// A local Cosmos DB NoSQL server for the Cosmos store's tests: @vercel/cosmosdb-server over HTTPS
// with the self-signed certificate it ships, on 127.0.0.1, mended and extended where the store
// needs the service's behaviour and the package falls short.
//
//   node .ci/cosmos/server.js [port]      (port 0 or none: a free one)
//
// Prints "Ready to accept HTTPS connections at 127.0.0.1:<port>" once listening, and stops when its
// standard input closes, so a test fixture that dies never leaves it behind.
//
// What is mended or added, each as the service documents it:
// - reads of a missing document answer 404 (the package's handler crashes with a 500);
// - a conditional patch's `FROM c WHERE ...` keeps its case (the package lowercases it) and is
//   checked against the target document only (the package checks every partition's document of that id);
// - a query sent with a partition key reads that partition only (the package scans every document);
// - query responses say `x-ms-cosmos-query-requiresdistribution: false`, so the .NET SDK's
//   optimistic direct execution (switched on by the tests only) runs a single-partition query
//   as it is instead of asking for a query plan, which this server cannot make;
// - `VectorDistance(a, b[, bruteForce, options])` is cosine similarity, and `ORDER BY
//   VectorDistance(...)` orders most similar first, as the service does for a cosine policy;
// - transactional batches (the REST API's JSON form: an array of operations, header
//   `x-ms-cosmos-batch-atomic`) are atomic: all operations of the partition key are applied or
//   none; per-operation status codes, the failed one with its own (412 on a failed If-Match,
//   409 on a create of what exists, 404 on what is gone), every other one 424; patch included.
//   The .NET SDK sends batches in its binary HybridRow form; the tests' request handler turns
//   them into this JSON form and the answer back (tests/.../Cosmos/BatchWireFormat.cs).
// - request charges: every response has `x-ms-request-charge` (the package sends 1 RU); a batch's
//   is the sum of its operations' charges (1 RU each, 0 when it failed), as its operation results say.
"use strict";

const lib = "@vercel/cosmosdb-server/lib";

// 404 for a missing document.
const readDocument = require(`${lib}/handler/read-document`);
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

// Queries run as sent: no query plan is needed for a single-partition query. A query sent with a
// partition key reads that partition's documents only, as the service does (the package scans the
// whole container for each query, which made a search over a few thousand users take seconds).
const { AsyncLocalStorage } = require("node:async_hooks");
const { parsePartitionKey } = require(`${lib}/utils/get-partition-from-header`);
const queryPartition = new AsyncLocalStorage();
const queryDocuments = require(`${lib}/handler/query-documents`);
const query = queryDocuments.default;
queryDocuments.default = async (account, req, res, params) => {
  res.setHeader("x-ms-cosmos-query-requiresdistribution", "false");
  const header = req.headers["x-ms-documentdb-partitionkey"];
  if (header === undefined) return query(account, req, res, params);
  const partition = parsePartitionKey(Array.isArray(header) ? header[0] : header);
  return queryPartition.run(partition, () => query(account, req, res, params));
};

// VectorDistance: cosine similarity over the stored array, exact.
const builtins = require("@zeit/cosmosdb-query/lib/builtin-functions");
builtins.VECTORDISTANCE = (a, b) => {
  if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length || a.length === 0) return undefined;
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i += 1) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return na === 0 || nb === 0 ? undefined : dot / Math.sqrt(na * nb);
};

// ORDER BY VectorDistance(...): the query library orders by document paths only, so such a query
// runs without its TOP and ORDER BY, and its rows are ordered by the similarity it selects.
const Items = require(`${lib}/account/items`).default;
const unscopedQuery = Items.prototype.query;
// The package's query over the partition the request named (queryPartition), when it named one.
function itemsQuery(params, options) {
  const partition = queryPartition.getStore();
  if (partition === undefined) return unscopedQuery.call(this, params, options);
  const all = this._data;
  this._data = new Map([...all].filter(([, item]) => {
    const document = item.read();
    return document && this._getPartition(document) === partition;
  }));
  try {
    return unscopedQuery.call(this, params, options);
  } finally {
    this._data = all;
  }
}
const vectorOrder = /^\s*SELECT\s+TOP\s+(@\w+|\d+)\s+(.*?)\s+ORDER\s+BY\s+VectorDistance\s*\((.*)\)\s*(DESC)?\s*$/is;
Items.prototype.query = function queryWithVectorOrder(params, options) {
  const match = vectorOrder.exec(params.query);
  if (!match) return itemsQuery.call(this, params, options);
  const [, top, rest, args] = match;
  const alias = new RegExp(`VectorDistance\\s*\\(${escape(args)}\\)\\s+AS\\s+(\\w+)`, "is").exec(rest);
  if (!alias) throw Object.assign(new Error("ORDER BY VectorDistance needs the same VectorDistance in the SELECT list, AS an alias."), { badRequest: true });
  const limit = top.startsWith("@") ? (params.parameters || []).find(p => p.name === top).value : Number(top);
  const all = itemsQuery.call(this, { ...params, query: `SELECT ${rest}` }, {});
  const rows = all.result
    .filter(r => typeof r[alias[1]] === "number")
    .sort((x, y) => y[alias[1]] - x[alias[1]])
    .slice(0, limit);
  return { result: rows, continuation: null };
};

function escape(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

// Conditional patches: the package lowercases a "FROM c WHERE ..." condition, property names and
// string literals included, and checks it against every document of that id in the container, in
// any partition. The condition is checked here, in its own case, against the target document only.
const patchOperations = require(`${lib}/handler/_patch-operations`);
const cosmosQuery = require("@zeit/cosmosdb-query").default;
const patch = patchOperations.patchOperation;
patchOperations.patchOperation = (collection, input) => {
  const clause = /^\s*FROM\s+c\s+WHERE\s+(.*)$/is.exec(input.condition || "");
  if (!clause) return patch(collection, input);
  const target = collection.document(input.id, parsePartitionKey(input.partitionKey, input.id)).read();
  if (target) {
    let holds;
    try {
      holds = cosmosQuery(`SELECT * FROM c WHERE (${clause[1]})`).exec([target]).result.length > 0;
    } catch {
      return { statusCode: 400, body: { code: "BadRequest", message: "Invalid condition in patch request." } };
    }
    if (!holds) {
      return { statusCode: 412, body: { code: "PreconditionFailed", message: "Condition specified in the patch request is not satisfied." } };
    }
  }
  return patch(collection, { ...input, condition: undefined });
};

// Transactional batches, atomic.
const batchDocuments = require(`${lib}/handler/batch-documents`);
const operations = require(`${lib}/handler/_document-operations`);
const patchOperation = (collection, input) => patchOperations.patchOperation(collection, input);
const json = require(`${lib}/json`).default;

function runOperation(collection, input) {
  switch (input.operationType) {
    case "Create": return operations.createOperation(collection, input);
    case "Upsert": return operations.upsertOperation(collection, input);
    case "Read": return operations.readOperation(collection, input);
    case "Delete": return operations.deleteOperation(collection, input);
    case "Replace": return operations.replaceOperation(collection, input);
    case "Patch": {
      const body = input.resourceBody || {};
      return patchOperation(collection, {
        id: input.id,
        partitionKey: input.partitionKey,
        ifMatch: input.ifMatch,
        operations: body.operations,
        condition: body.condition,
      });
    }
    default:
      return { statusCode: 400, body: { message: `Operation type '${input.operationType}' is not supported in a batch.` } };
  }
}

batchDocuments.default = async (account, req, res, { dbId, collId }) => {
  const body = await json(req);
  const collection = account.database(dbId).collection(collId);
  if (!collection.read()) {
    res.statusCode = 404;
    return { message: "The collection does not exist." };
  }
  if (!Array.isArray(body) || body.length === 0 || body.length > 100) {
    res.statusCode = 400;
    return { message: "A batch is an array of 1 to 100 operations." };
  }
  const partitionKey = req.headers["x-ms-documentdb-partitionkey"];
  const atomic = String(req.headers["x-ms-cosmos-batch-atomic"]).toLowerCase() === "true";
  const items = collection.documents;
  const snapshot = { data: new Map(items._data), index: new Map(items._index), rids: items._ridCount };

  const results = [];
  let failed = -1;
  for (let i = 0; i < body.length && !(atomic && failed >= 0); i += 1) {
    const input = { ...body[i], partitionKey: body[i].partitionKey || partitionKey };
    const result = runOperation(collection, input);
    results.push(result);
    if (result.statusCode >= 400 && failed < 0) failed = i;
  }

  if (atomic && failed >= 0) {
    items._data = snapshot.data;
    items._index = snapshot.index;
    items._ridCount = snapshot.rids;
    res.statusCode = results[failed].statusCode;
    chargeOnce(res, 0);
    return body.map((_, i) => ({ statusCode: i === failed ? results[failed].statusCode : 424, requestCharge: 0 }));
  }
  res.statusCode = 200;
  const answers = results.map(r => ({
    statusCode: r.statusCode,
    requestCharge: r.statusCode >= 400 ? 0 : 1,
    eTag: r.body ? r.body._etag : undefined,
    resourceBody: r.statusCode >= 400 ? undefined : r.body,
  }));
  chargeOnce(res, answers.reduce((sum, a) => sum + a.requestCharge, 0));
  return answers;
};

// A response's x-ms-request-charge, which the package's own "1" (set after the handler) must not replace.
function chargeOnce(res, units) {
  const setHeader = res.setHeader.bind(res);
  setHeader("x-ms-request-charge", String(units));
  res.setHeader = (name, value) => (String(name).toLowerCase() === "x-ms-request-charge" ? res : setHeader(name, value));
}

const { createHttpsServer } = require("@vercel/cosmosdb-server");

const port = Number.parseInt(process.argv[2] || "0", 10);
const server = createHttpsServer().listen(port, "127.0.0.1", () => {
  console.log(`Ready to accept HTTPS connections at 127.0.0.1:${server.address().port}`);
});

process.stdin.on("end", () => process.exit(0));
process.stdin.on("error", () => process.exit(0));
process.stdin.resume();
