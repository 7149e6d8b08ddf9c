using ServerlessMemory.Core;

namespace ServerlessMemory.Tests;

public class DecayModelTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly DecayModel _model = new(new DecayOptions());

    private static ArchiveItem Memory(string content, MemoryType type, double importance, int accessCount = 0, DateTimeOffset? lastAccess = null) => new()
    {
        Id = LexicalTerms.ContentHash(content),
        Content = content,
        Type = type,
        Importance = importance,
        CreatedAt = T0,
        EnteredAt = T0,
        LastAccessedAt = lastAccess ?? T0,
        AccessCount = accessCount,
    };

    // The seed's worked example.
    private static readonly ArchiveItem Name = Memory("用户名叫小明", MemoryType.Identity, 1.0);
    private static readonly ArchiveItem Concise = Memory("用户偏好简洁的回答", MemoryType.Preference, 0.8);
    private static readonly ArchiveItem Project = Memory("当前项目是客户流失预测", MemoryType.Fact, 0.6);
    private static readonly ArchiveItem Weekend = Memory("上次对话提到了周末计划", MemoryType.Context, 0.3);
    private static readonly ArchiveItem Coffee = Memory("用户今天喝了一杯咖啡", MemoryType.Trivial, 0.1);

    [Fact]
    public void Defaults_are_the_seeds_rates()
    {
        Assert.Equal(0.0, _model.RateOf(MemoryType.Identity));
        Assert.Equal(0.01, _model.RateOf(MemoryType.Preference));
        Assert.Equal(0.05, _model.RateOf(MemoryType.Fact));
        Assert.Equal(0.1, _model.RateOf(MemoryType.Context));
        Assert.Equal(0.3, _model.RateOf(MemoryType.Trivial));
    }

    [Fact]
    public void Score_is_the_seeds_weighted_sum_broken_down()
    {
        var now = T0.AddHours(10);
        var score = _model.Score(Project, relevance: 0.5, now);

        Assert.Equal(Math.Exp(-0.05 * 10), score.Decay, 12);
        Assert.Equal(0, score.AccessBonus);
        Assert.Equal(0.5 * 0.4 + 0.6 * Math.Exp(-0.5) * 0.4, score.Total, 12);
    }

    [Fact]
    public void After_a_day_only_the_trivial_memory_of_the_worked_example_is_forgotten()
    {
        var now = T0.AddHours(24);
        var forgotten = new[] { Name, Concise, Project, Weekend, Coffee }
            .Where(m => _model.Strength(m, now) <= 0.01).Select(m => m.Content);

        Assert.Equal(["用户今天喝了一杯咖啡"], forgotten);
    }

    [Fact]
    public void Identity_is_never_forgotten()
    {
        Assert.Null(_model.ForgetAt(Name));
        Assert.Equal(1.0, _model.Strength(Name, T0.AddYears(50)), 12);
        Assert.Null(_model.ForgetAt(Name with { Importance = 0 }));
    }

    [Fact]
    public void Trivial_memory_read_once_is_still_forgotten()
    {
        // The seed's access bonus never decays: 0.02 > 0.01 would keep this memory for ever.
        var readOnce = _model.Accessed(Coffee, T0.AddHours(1));

        var forgetAt = _model.ForgetAt(readOnce);

        Assert.NotNull(forgetAt);
        Assert.True(_model.Strength(readOnce, forgetAt.Value.AddMinutes(-1)) > 0.01);
        Assert.True(_model.Strength(readOnce, forgetAt.Value.AddMinutes(1)) <= 0.01);
        Assert.True(forgetAt < T0.AddDays(1));
    }

    [Fact]
    public void Forget_at_is_where_strength_crosses_the_threshold()
    {
        foreach (var memory in new[] { Concise, Project, Weekend, Coffee, _model.Accessed(_model.Accessed(Project, T0.AddHours(5)), T0.AddHours(30)) })
        {
            var forgetAt = _model.ForgetAt(memory)!.Value;
            Assert.Equal(0.01, _model.Strength(memory, forgetAt), 9);
        }
        // Trivial at 0.1: 0.1 e^(-0.3 t) = 0.01 at t = ln(10) / 0.3 hours.
        Assert.Equal(Math.Log(10) / 0.3, (_model.ForgetAt(Coffee)!.Value - T0).TotalHours, 6);
    }

    [Fact]
    public void Memories_recalled_often_are_forgotten_later()
    {
        var once = _model.Accessed(Project, T0.AddHours(1));
        var often = Enumerable.Range(1, 10).Aggregate(Project, (m, i) => _model.Accessed(m, T0.AddHours(1)));

        Assert.Equal(10, often.AccessCount);
        Assert.True(_model.ForgetAt(often) > _model.ForgetAt(once));
        Assert.True(_model.ForgetAt(once) > _model.ForgetAt(Project));
    }

    [Fact]
    public void Access_bonus_is_capped_and_fades_since_the_last_access()
    {
        var many = Project with { AccessCount = 50, LastAccessedAt = T0.AddHours(2) };

        Assert.Equal(0.2, _model.AccessBonus(many, T0.AddHours(2)), 12);
        Assert.Equal(0.2 * Math.Exp(-0.05 * 10), _model.AccessBonus(many, T0.AddHours(12)), 12);
    }

    [Fact]
    public void Every_number_is_settable()
    {
        var options = new DecayOptions { Threshold = 0.05, DefaultRate = 1, RelevanceWeight = 1, ImportanceWeight = 0, AccessWeight = 0 };
        options.Rates["trivial"] = 0;
        options.Rates.Remove("fact");
        var model = new DecayModel(options);

        Assert.Null(model.ForgetAt(Coffee));
        Assert.Equal(1, model.RateOf(MemoryType.Fact));
        Assert.Equal(0.7, model.Score(Project, 0.7, T0).Total, 12);
        Assert.Equal(Math.Log(0.6 / 0.05), (model.ForgetAt(Project)!.Value - T0).TotalHours, 6);
    }
}
