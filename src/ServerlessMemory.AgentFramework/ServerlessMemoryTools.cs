using System.Text.Json;
using Microsoft.Extensions.AI;
using ServerlessMemory.Client;

namespace ServerlessMemory.AgentFramework;

/// <summary>
/// The service's memory tools (<c>search_archive</c>, <c>archive_content</c>, <c>update_core_memory</c>,
/// <c>search_conversation</c>) as Microsoft.Extensions.AI functions, each call a request to the
/// service in one user's scope: give them to any <see cref="IChatClient"/> with function invocation.
/// </summary>
public static class ServerlessMemoryTools
{
    /// <summary>Reads the tools' definitions from the service (<c>GET /api/tools</c>) and binds them to <paramref name="userId"/>.</summary>
    public static async Task<IList<AITool>> GetAIFunctionsAsync(ServerlessMemoryClient client, string userId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        return Create(client, userId, await client.ListToolsAsync(cancellationToken).ConfigureAwait(false));
    }

    /// <summary>Binds tool definitions already read to <paramref name="userId"/>.</summary>
    public static IList<AITool> Create(ServerlessMemoryClient client, string userId, IEnumerable<MemoryTool> definitions)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentException.ThrowIfNullOrEmpty(userId);
        ArgumentNullException.ThrowIfNull(definitions);
        return [.. definitions.Select(d => new MemoryToolFunction(client, userId, d))];
    }

    /// <summary>One memory tool. A call the service refuses (bad arguments, a read-only block) answers the model with the reason.</summary>
    private sealed class MemoryToolFunction(ServerlessMemoryClient client, string userId, MemoryTool tool) : AIFunction
    {
        public override string Name => tool.Name;

        public override string Description => tool.Description;

        public override JsonElement JsonSchema => tool.Parameters;

        protected override async ValueTask<object?> InvokeCoreAsync(AIFunctionArguments arguments, CancellationToken cancellationToken)
        {
            var json = JsonSerializer.SerializeToElement(
                arguments.ToDictionary(a => a.Key, a => a.Value), AIJsonUtilities.DefaultOptions);
            try
            {
                return await client.InvokeToolAsync(userId, tool.Name, json, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is ServerlessMemoryValidationException or ServerlessMemoryNotFoundException)
            {
                // The model can correct its call; the service changed nothing.
                return JsonSerializer.SerializeToElement(new Dictionary<string, string?> { ["error"] = ((ServerlessMemoryException)e).Detail ?? e.Message });
            }
        }
    }
}
