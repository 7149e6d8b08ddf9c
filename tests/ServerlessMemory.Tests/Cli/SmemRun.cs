using ServerlessMemory.Cli;
using Spectre.Console.Testing;

namespace ServerlessMemory.Tests.Cli;

/// <summary>
/// One run of the <c>smem</c> tool in this process, as a shell would start it: arguments, environment,
/// standard input, and what it wrote to standard output (<see cref="Output"/>: tables, documents) and
/// standard error (<see cref="Status"/>: progress, notes, errors).
/// </summary>
internal sealed class SmemRun
{
    private readonly MemoryStream _stdout = new();

    public TestConsole OutputConsole { get; } = new TestConsole().Width(250);

    public TestConsole StatusConsole { get; } = new TestConsole().Width(250);

    public Dictionary<string, string?> Environment { get; } = new(StringComparer.Ordinal);

    /// <summary>Standard input; null: none redirected (someone at the keyboard, typing into <see cref="StatusConsole"/>).</summary>
    public byte[]? Input { get; set; }

    public int ExitCode { get; private set; }

    public string Output => OutputConsole.Output + System.Text.Encoding.UTF8.GetString(_stdout.ToArray());

    public string Status => StatusConsole.Output;

    public byte[] StandardOutput => _stdout.ToArray();

    public static SmemRun For(Uri service, string? key = null)
    {
        var run = new SmemRun();
        run.Environment[ServiceSettings.UrlVariable] = service.ToString();
        if (key is not null) run.Environment[ServiceSettings.KeyVariable] = key;
        return run;
    }

    public async Task<int> RunAsync(params string[] args) => await RunAsync(CancellationToken.None, args);

    public async Task<int> RunAsync(CancellationToken cancellationToken, params string[] args)
    {
        var console = new SmemConsole(OutputConsole, StatusConsole,
            () => new MemoryStream(Input ?? []), () => new Unclosed(_stdout), name => Environment.GetValueOrDefault(name), Input is not null);
        ExitCode = await Smem.RunAsync(args, console, cancellationToken);
        return ExitCode;
    }

    /// <summary>Standard output stays open after a command disposes its stream, as a process's does.</summary>
    private sealed class Unclosed(Stream inner) : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => inner.Length;
        public override long Position { get => inner.Position; set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);
        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => inner.WriteAsync(buffer, cancellationToken);
    }
}
