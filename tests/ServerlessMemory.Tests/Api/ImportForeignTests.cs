using System.Text.Json;
using System.Text.Json.Nodes;
using ServerlessMemory.Core;
using ServerlessMemory.Tests.Foreign;
using static ServerlessMemory.Tests.Api.HttpAssert;
using static ServerlessMemory.Tests.Api.ImportScenario;

namespace ServerlessMemory.Tests.Api;

/// <summary>Letta agent files and mem0 exports, converted (<see cref="ForeignMemory"/>), go in through the one import route.</summary>
public sealed class ImportForeignTests
{
    [Theory]
    [InlineData(ForeignFormat.Letta, "letta-memgpt-agent-v1.af")]
    [InlineData(ForeignFormat.Letta, "letta-memgpt-agent-v2.af")]
    [InlineData(ForeignFormat.Mem0, "mem0-get-all.json")]
    [InlineData(ForeignFormat.Mem0, "openmemory-memories.json")]
    public async Task A_converted_document_is_imported_whole_and_a_second_time_changes_nothing(ForeignFormat format, string file)
    {
        using var service = new ServiceFactory();
        var http = service.Client();
        using var converted = new MemoryStream();
        ForeignConversion conversion;
        await using (var writer = new Utf8JsonWriter(converted))
            conversion = await new ForeignMemory(new DecayModel(new DecayOptions()), new MemoryLimits())
                .ConvertAsync(format, File.OpenRead(ForeignMemoryTests.FilePath(file)), "sarah", service.Time.GetUtcNow(), writer);
        var document = JsonNode.Parse(converted.ToArray())!.AsObject();

        var report = await Ok(await ImportAsync(http, "sarah", document));
        var again = await Ok(await ImportAsync(http, "sarah", document));

        Assert.True((bool)report["complete"]!);
        Assert.Equal((conversion.ArchiveItems, conversion.Messages), (Tally(report, "archive").Added, Tally(report, "messages").Added));
        Assert.Equal(conversion.Blocks, Tally(report, "core").Added);
        Assert.Equal(0, (int)again["chunks"]!);
        var exported = await ExportAsync(http, "sarah");
        Assert.Equal(conversion.ArchiveItems, exported["archive"]!.AsArray().Count);
        Assert.Equal(document["messages"]!.AsArray().Select(m => (string?)m!["content"]), exported["messages"]!.AsArray().Select(m => (string?)m!["content"]));
    }
}
