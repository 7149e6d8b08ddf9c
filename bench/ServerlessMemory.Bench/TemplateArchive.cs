// One user's archive made from templates, as the outside measurement of issue 18 describes it:
// "Priya Nair from Mumbai has been helping the user with the Falcon project since 2019-06-11" and
// the like (20 people, 23 cities, 31 topics, 5 sentence shapes, a date each), with the questions
// asked of it: one broad question many memories share words with, 200 distinct ones, and questions
// naming a (person, city, topic) triple, whose relevant memories are every memory with that triple.
internal static class TemplateArchive
{
    public static readonly string[] People =
    [
        "Priya Nair", "Hana Sato", "Lukas Meyer", "Amara Okafor", "Diego Alvarez", "Sofia Rossi", "Wei Zhang", "Omar Haddad",
        "Ingrid Larsen", "Mateo Silva", "Aisha Khan", "Tomasz Nowak", "Chloe Martin", "Kofi Mensah", "Yuki Tanaka",
        "Elena Petrova", "Rahul Mehta", "Fatima Zahra", "Jonas Berg", "Lucia Romero",
    ];

    public static readonly string[] Cities =
    [
        "Mumbai", "Oslo", "Lagos", "Lisbon", "Osaka", "Toronto", "Nairobi", "Berlin", "Lima", "Seoul", "Dublin", "Cairo",
        "Hanoi", "Vienna", "Denver", "Manila", "Prague", "Santiago", "Auckland", "Istanbul", "Montreal", "Krakow", "Austin",
    ];

    public static readonly string[] Topics =
    [
        "Falcon", "Orion", "Atlas", "Phoenix", "Nimbus", "Zephyr", "Aurora", "Titan", "Nova", "Helix", "Vega", "Polaris",
        "Quasar", "Cobalt", "Ember", "Glacier", "Horizon", "Juniper", "Kestrel", "Lumen", "Meridian", "Nebula", "Onyx",
        "Pulsar", "Quartz", "Raven", "Sequoia", "Tundra", "Umbra", "Vortex", "Willow",
    ];

    private static readonly string[] Shapes =
    [
        "{0} from {1} has been helping the user with the {2} project since {3}",
        "The user met {0} in {1} on {3} to talk about the {2} launch",
        "{0} called the user from {1} on {3} about the {2} budget",
        "On {3} the user and {0} flew to {1} for the {2} review",
        "{0} recommended a restaurant in {1} after the {2} meeting on {3}",
    ];

    public const string BroadQuestion = "Who is helping me with the Falcon project";

    public sealed record Memory(string Content, int Person, int City, int Topic);

    /// <summary>The <paramref name="count"/> memories of the archive, the same for a seed.</summary>
    public static List<Memory> Memories(int count, int seed = 11)
    {
        var random = new Random(seed);
        var start = new DateOnly(2015, 1, 1);
        var memories = new List<Memory>(count);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        while (memories.Count < count)
        {
            var (p, c, t) = (random.Next(People.Length), random.Next(Cities.Length), random.Next(Topics.Length));
            var date = start.AddDays(random.Next(4_000)).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
            var content = string.Format(System.Globalization.CultureInfo.InvariantCulture, Shapes[random.Next(Shapes.Length)], People[p], Cities[c], Topics[t], date);
            if (seen.Add(content)) memories.Add(new(content, p, c, t));
        }
        return memories;
    }

    /// <summary>200 distinct questions drawn from the same people, cities and topics.</summary>
    public static List<string> DistinctQuestions(int count = 200, int seed = 12)
    {
        string[] forms =
        [
            "When did I meet {0}", "Who called me from {1}", "Who is helping me with the {2} project", "What did {0} recommend in {1}",
            "When did I fly to {1}", "Who did I talk to about the {2} launch", "What do I know about {0}", "Who was at the {2} review in {1}",
        ];
        var random = new Random(seed);
        var questions = new List<string>(count);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        while (questions.Count < count)
        {
            var q = string.Format(System.Globalization.CultureInfo.InvariantCulture, forms[random.Next(forms.Length)],
                People[random.Next(People.Length)], Cities[random.Next(Cities.Length)], Topics[random.Next(Topics.Length)]);
            if (seen.Add(q)) questions.Add(q);
        }
        return questions;
    }

    /// <summary>Questions naming a (person, city, topic) triple the archive holds, each with the memories holding that triple.</summary>
    public static List<(string Question, HashSet<string> Relevant)> TripleQuestions(List<Memory> memories, int count = 40, int seed = 13)
    {
        var byTriple = memories.GroupBy(m => (m.Person, m.City, m.Topic)).ToList();
        var random = new Random(seed);
        return [.. byTriple.OrderBy(_ => random.Next()).Take(count).Select(g =>
            ($"What do I know about {People[g.Key.Person]} from {Cities[g.Key.City]} and the {Topics[g.Key.Topic]} project?",
             g.Select(m => m.Content).ToHashSet(StringComparer.Ordinal)))];
    }
}
