using NCrontab;

namespace ServerlessMemory.Api;

/// <summary>The sweep's NCRONTAB schedule, read as Azure Functions' timer trigger reads it (six fields, seconds first).</summary>
public static class DecaySchedule
{
    public static CrontabSchedule? TryParse(string expression) =>
        CrontabSchedule.TryParse(expression, new CrontabSchedule.ParseOptions { IncludingSeconds = true });
}
