using System.Reflection;
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

    [Fact]
    public void Every_contract_test_is_skipped_by_its_backends_condition_rather_than_failing()
    {
        // A plain [Fact] would run, and fail, where the backend's service is absent.
        var plain = typeof(MemoryStoreContract).GetMethods()
            .Where(m => m.GetCustomAttribute<FactAttribute>() is { } fact && fact is not ConditionalFactAttribute)
            .Select(m => m.Name);

        Assert.Empty(plain);
    }
}
