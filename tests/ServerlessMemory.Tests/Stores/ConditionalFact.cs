using Xunit.Abstractions;
using Xunit.Sdk;

namespace ServerlessMemory.Tests.Stores;

/// <summary>
/// A condition a test class (or method) carries: when it is not met, each <see cref="ConditionalFactAttribute"/>
/// test of the class is reported skipped with <see cref="SkipReason"/>. As Semantic Kernel's VectorData
/// conformance tests do, so that a suite written once runs on a backend that needs a service from one line.
/// </summary>
public interface ITestCondition
{
    bool IsMet { get; }

    string SkipReason { get; }
}

/// <summary>A fact that is skipped, with the reason, when a condition on its class or method is not met.</summary>
[AttributeUsage(AttributeTargets.Method)]
[XunitTestCaseDiscoverer("ServerlessMemory.Tests.Stores.ConditionalFactDiscoverer", "ServerlessMemory.Tests")]
public sealed class ConditionalFactAttribute : FactAttribute;

/// <summary>Used by name from <see cref="ConditionalFactAttribute"/>: rename both together.</summary>
public sealed class ConditionalFactDiscoverer(IMessageSink diagnosticMessageSink) : FactDiscoverer(diagnosticMessageSink)
{
    protected override IXunitTestCase CreateTestCase(ITestFrameworkDiscoveryOptions discoveryOptions, ITestMethod testMethod, IAttributeInfo factAttribute) =>
        new ConditionalFactTestCase(DiagnosticMessageSink, discoveryOptions.MethodDisplayOrDefault(), discoveryOptions.MethodDisplayOptionsOrDefault(), testMethod);
}

public sealed class ConditionalFactTestCase : XunitTestCase
{
    [Obsolete("For the deserializer only.")]
    public ConditionalFactTestCase()
    {
    }

    public ConditionalFactTestCase(IMessageSink diagnosticMessageSink, TestMethodDisplay display, TestMethodDisplayOptions displayOptions, ITestMethod testMethod)
        : base(diagnosticMessageSink, display, displayOptions, testMethod)
    {
    }

    public override Task<RunSummary> RunAsync(
        IMessageSink diagnosticMessageSink, IMessageBus messageBus, object[] constructorArguments, ExceptionAggregator aggregator, CancellationTokenSource cancellationTokenSource)
    {
        // The class the test runs in (a backend's derived suite), not the one that declares the method.
        var type = TestMethod.TestClass.Class.ToRuntimeType();
        var method = TestMethod.Method.ToRuntimeMethod();
        var unmet = type.GetCustomAttributes(inherit: true).Concat(method.GetCustomAttributes(inherit: true))
            .OfType<ITestCondition>().Where(c => !c.IsMet).Select(c => c.SkipReason).ToList();
        // Skipped as a [Fact(Skip = ...)] is, so the runner reports it with its name and the reason.
        if (unmet.Count > 0) SkipReason = string.Join(Environment.NewLine, unmet);
        return base.RunAsync(diagnosticMessageSink, messageBus, constructorArguments, aggregator, cancellationTokenSource);
    }
}
