using System.Globalization;
using Microsoft.Azure.Cosmos;
using ServerlessMemory.Core;

namespace ServerlessMemory.Cosmos;

/// <summary>Reports each response's request charge to the store call's span and the turn's RU metric.</summary>
internal sealed class RequestChargeHandler : RequestHandler
{
    public override async Task<ResponseMessage> SendAsync(RequestMessage request, CancellationToken cancellationToken)
    {
        var response = await base.SendAsync(request, cancellationToken);
        if (response.Headers["x-ms-request-charge"] is { Length: > 0 } charge
            && double.TryParse(charge, NumberStyles.Float, CultureInfo.InvariantCulture, out var units))
            MemoryTelemetry.RecordRequestCharge(units);
        return response;
    }
}
