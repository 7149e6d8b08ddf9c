using ServerlessMemory.Core;

namespace ServerlessMemory.Tests.Stores;

public class StoreSuiteCoverageTests
{
    [Fact]
    public void Every_store_runs_the_contract_suite()
    {
        var stores = Directory.GetFiles(AppContext.BaseDirectory, "ServerlessMemory.*.dll")
            .Select(System.Reflection.Assembly.LoadFrom)
            .SelectMany(a => a.GetTypes())
            .Where(t => t is { IsClass: true, IsAbstract: false } && typeof(IMemoryStore).IsAssignableFrom(t) && !t.Assembly.GetName().Name!.EndsWith("Tests", StringComparison.Ordinal))
            .Select(t => t.Name.Replace("MemoryStore", "", StringComparison.Ordinal));
        var suites = typeof(MemoryStoreContract).Assembly.GetTypes()
            .Where(t => t.IsSubclassOf(typeof(MemoryStoreContract)) && !t.IsAbstract)
            .Select(t => t.Name.Replace("StoreTests", "", StringComparison.Ordinal));

        Assert.NotEmpty(stores);
        Assert.Empty(stores.Except(suites));
    }
}
