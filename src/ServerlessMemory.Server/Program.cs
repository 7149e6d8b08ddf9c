using ServerlessMemory.Api;
using ServerlessMemory.Server;

var builder = WebApplication.CreateBuilder(args);
builder.AddServerlessMemory();
builder.Services.AddHostedService<DecaySweepService>();
var listen = builder.WebHost.UseLoopbackUnlessKeyed(builder.Configuration);

var app = builder.Build();
app.UseServerlessMemoryErrors();
app.MapMemoryApi();
app.ReportAddresses(listen);
return app.RunServerlessMemory();

public partial class Program;
