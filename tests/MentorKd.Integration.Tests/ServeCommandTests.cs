using Grpc.Core;
using Grpc.Net.Client;
using MentorKd.Protos.V1;
using MentorKd.ServiceDefaults.Security;

namespace MentorKd.Integration.Tests;

/// <summary><c>mentorkd serve</c> as a team would use it: a process serving the five services on one port, called
/// through gRPC, stopped by SIGTERM.</summary>
public class ServeCommandTests
{
    [Fact]
    public async Task Serve_answers_every_service_on_one_port_and_stops_cleanly_on_sigterm()
    {
        int port = ServiceProcess.FreePort(), openAiPort = ServiceProcess.FreePort();
        var data = Path.Combine(Path.GetTempPath(), "mentorkd-serve-test", Guid.NewGuid().ToString("N"));
        await using var serve = await ServiceProcess.StartCommandLineAsync(port, "serve", "--port", port.ToString(), "--openai-port", openAiPort.ToString(),
            "--data", data, "--log-level", "Warning");
        // Without --api-key or MENTORKD_API_KEY, serve writes a fresh admin key to <data>/api-key, readable by its owner only.
        var keyFile = Path.Combine(data, "api-key");
        for (int i = 0; i < 100 && !File.Exists(keyFile); i++) await Task.Delay(100);
        if (!OperatingSystem.IsWindows()) Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyFile));
        var key = (await File.ReadAllTextAsync(keyFile)).Trim();
        using var anonymous = GrpcChannel.ForAddress(serve.Address);
        var refused = await Assert.ThrowsAsync<RpcException>(async () => await new Protos.V1.Runs.RunsClient(anonymous).ListRunsAsync(new ListRunsRequest()));
        Assert.Equal(StatusCode.Unauthenticated, refused.StatusCode);
        Assert.Contains("authorization: Bearer", refused.Status.Detail);
        using var channel = GrpcChannel.ForAddress(serve.Address, new GrpcChannelOptions { HttpHandler = new ApiKeyHeaderHandler(key, new SocketsHttpHandler()), DisposeHttpClient = true });

        Assert.Empty((await new Protos.V1.Runs.RunsClient(channel).ListRunsAsync(new ListRunsRequest())).Runs);
        var info = await new Protos.V1.MentorServer.MentorServerClient(channel).GetModelInfoAsync(new GetModelInfoRequest());
        Assert.False(info.Loaded);
        var usage = await new Protos.V1.TeacherGateway.TeacherGatewayClient(channel).GetUsageAsync(new GetUsageRequest());
        Assert.Equal(0, usage.Requests);
        var (usageExit, usageTable) = await ServiceProcess.RunCommandLineAsync("usage", "--address", serve.Address, "--api-key", key);
        Assert.True(usageExit == 0, usageTable);
        Assert.Contains("total", usageTable);
        var (deniedExit, deniedOutput) = await ServiceProcess.RunCommandLineAsync("usage", "--address", serve.Address, "--api-key", new string('x', 32));
        Assert.True(deniedExit == 2 && deniedOutput.Contains("Unauthenticated"), deniedOutput);
        // The mentor-server's OpenAI API on its own HTTP/1.1 port, behind the same key: no model loaded yet, so no models listed.
        using (var http = new HttpClient())
        {
            Assert.Equal(System.Net.HttpStatusCode.Unauthorized, (await http.GetAsync($"http://127.0.0.1:{openAiPort}/v1/models")).StatusCode);
            http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
            Assert.Contains("\"data\":[]", await http.GetStringAsync($"http://127.0.0.1:{openAiPort}/v1/models"));
        }
        var missing = await Assert.ThrowsAsync<RpcException>(async () => await new Protos.V1.Trainer.TrainerClient(channel).GetJobAsync(new GetJobRequest { JobId = "none" }));
        Assert.Equal(StatusCode.NotFound, missing.StatusCode);
        var bad = await Assert.ThrowsAsync<RpcException>(async () => await new Protos.V1.Runs.RunsClient(channel).StartRunAsync(new StartRunRequest { ConfigJson = "{ \"student\": { \"layers\": 0 } }" }));
        Assert.Equal(StatusCode.InvalidArgument, bad.StatusCode);
        Assert.Contains("student.layers", bad.Status.Detail);

        Assert.Equal(0, await serve.TerminateAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("stopping", serve.Output);
        Assert.True(Directory.Exists(Path.Combine(data, "objects")), "the platform keeps its data in the given folder");
    }
}
