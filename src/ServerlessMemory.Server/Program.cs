using ServerlessMemory.Api;
using ServerlessMemory.Server;

var builder = WebApplication.CreateBuilder(args);
builder.AddServerlessMemory();
builder.Services.AddHostedService<DecaySweepService>();
builder.WebHost.UseLoopbackUnlessKeyed(builder.Configuration);

var app = builder.Build();
app.UseExceptionHandler();
app.UseStatusCodePages();
app.MapMemoryApi();
app.Run();

public partial class Program;
