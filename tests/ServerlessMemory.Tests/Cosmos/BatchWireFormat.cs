using System.Text.Json.Nodes;
using Microsoft.Azure.Cosmos;
using Microsoft.Azure.Cosmos.Serialization.HybridRow;
using Microsoft.Azure.Cosmos.Serialization.HybridRow.IO;
using Microsoft.Azure.Cosmos.Serialization.HybridRow.Layouts;
using Microsoft.Azure.Cosmos.Serialization.HybridRow.RecordIO;
using Microsoft.Azure.Cosmos.Serialization.HybridRow.Schemas;

namespace ServerlessMemory.Tests.Cosmos;

/// <summary>
/// The two forms of a transactional batch on the wire. The .NET SDK sends a batch as RecordIO
/// records of HybridRow rows (binary) and reads the answer in the same form; the REST API also
/// takes it as JSON (an array of operations, answered by an array of results), which is what the
/// local test server understands. The test client's request handler converts between them, with the
/// SDK's own HybridRow library and the batch schema the SDK embeds in its assembly, so that the
/// store's real batches run against the local server unchanged.
/// </summary>
internal static class BatchWireFormat
{
    private const string SchemaResource = "Microsoft.Azure.Cosmos.Batch.HybridRowBatchSchemas.json";

    private static readonly Lazy<(LayoutResolverNamespace Resolver, Layout Operation, Layout Result)> Schema = new(LoadSchema);

    /// <summary>The SDK's operation codes (Microsoft.Azure.Documents.OperationType) as the REST API names them.</summary>
    private static readonly Dictionary<int, string> OperationNames = new()
    {
        [0] = "Create",
        [1] = "Patch",
        [2] = "Read",
        [4] = "Delete",
        [5] = "Replace",
        [20] = "Upsert",
    };

    /// <summary>A batch request body as the SDK sends it, in the REST API's JSON form.</summary>
    public static async Task<JsonArray> ReadRequestAsync(Stream body)
    {
        var operations = new JsonArray();
        var result = await body.ReadRecordIOAsync(
            (ReadOnlyMemory<byte> record) =>
            {
                operations.Add(ReadOperation(record.Span));
                return Result.Success;
            },
            (ReadOnlyMemory<byte> _) => Result.Success,
            new MemorySpanResizer<byte>((int)Math.Max(body.Length, 1024)));
        return result == Result.Success ? operations : throw new InvalidDataException($"The batch request is not RecordIO of HybridRow rows: {result}.");
    }

    /// <summary>A JSON batch answer (an array of results) as the SDK reads it.</summary>
    public static async Task<MemoryStream> WriteResponseAsync(JsonArray results)
    {
        var output = new MemoryStream();
        var written = await output.WriteRecordIOAsync(default, (long index, out ReadOnlyMemory<byte> buffer) =>
        {
            if (index >= results.Count)
            {
                buffer = default;
                return Result.Success;
            }
            var (resolver, _, layout) = Schema.Value;
            var row = new RowBuffer(4096);
            row.InitLayout(HybridRowVersion.V1, layout, resolver);
            var r = RowWriter.WriteBuffer(ref row, results[(int)index]!.AsObject(), WriteResult);
            buffer = r == Result.Success ? row.ToArray() : default;
            return r;
        });
        if (written != Result.Success) throw new InvalidDataException($"The batch answer could not be written as HybridRow: {written}.");
        output.Position = 0;
        return output;
    }

    private static JsonObject ReadOperation(ReadOnlySpan<byte> record)
    {
        var (resolver, _, _) = Schema.Value;
        var row = new RowBuffer(record.Length);
        if (!row.ReadFrom(record, HybridRowVersion.V1, resolver)) throw new InvalidDataException("A batch operation is not a HybridRow row.");
        var reader = new RowReader(ref row);
        var operation = new JsonObject();
        while (reader.Read())
        {
            switch (reader.Path.ToString())
            {
                case "operationType":
                    Check(reader.ReadInt32(out var code));
                    operation["operationType"] = OperationNames.TryGetValue(code, out var name) ? name : code.ToString(System.Globalization.CultureInfo.InvariantCulture);
                    break;
                case "id" or "partitionKey" or "ifMatch" or "ifNoneMatch":
                    var field = reader.Path.ToString();
                    Check(reader.ReadString(out string text));
                    operation[field] = text;
                    break;
                case "resourceBody":
                    Check(reader.ReadBinary(out byte[] body));
                    operation["resourceBody"] = JsonNode.Parse(body);
                    break;
            }
        }
        return operation;
    }

    private static Result WriteResult(ref RowWriter writer, TypeArgument typeArg, JsonObject result)
    {
        var r = writer.WriteInt32("statusCode", (int)result["statusCode"]!);
        if (r == Result.Success && result["eTag"] is { } etag) r = writer.WriteString("eTag", (string)etag!);
        if (r == Result.Success && result["resourceBody"] is { } body) r = writer.WriteBinary("resourceBody", System.Text.Encoding.UTF8.GetBytes(body.ToJsonString()));
        if (r == Result.Success && result["requestCharge"] is { } charge) r = writer.WriteFloat64("requestCharge", (double)charge);
        return r;
    }

    private static void Check(Result result)
    {
        if (result != Result.Success) throw new InvalidDataException($"A batch operation field could not be read: {result}.");
    }

    private static (LayoutResolverNamespace, Layout, Layout) LoadSchema()
    {
        using var stream = typeof(CosmosClient).Assembly.GetManifestResourceStream(SchemaResource)
            ?? throw new InvalidOperationException($"The Cosmos SDK no longer embeds {SchemaResource}; the batch wire format has moved.");
        using var reader = new StreamReader(stream);
        var schemas = Namespace.Parse(reader.ReadToEnd());
        var resolver = new LayoutResolverNamespace(schemas);
        return (resolver,
            resolver.Resolve(schemas.Schemas.Find(s => s.Name == "BatchOperation")!.SchemaId),
            resolver.Resolve(schemas.Schemas.Find(s => s.Name == "BatchResult")!.SchemaId));
    }
}
