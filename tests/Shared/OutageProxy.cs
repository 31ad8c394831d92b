using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;

namespace MentorKd.Tests.Shared;

/// <summary>
/// A TCP proxy on loopback in front of a server (here the S3 server), which can take the server away: every open
/// connection is reset and new ones are refused (the port stops listening) for a while, then it listens again on the
/// same port. The outage can start the moment a client sends a request line matching a pattern (HTTP is read as it
/// passes), so it lands in the middle of that request: an upload cut halfway.
/// </summary>
public sealed class OutageProxy : IAsyncDisposable
{
    private readonly IPEndPoint _target;
    private readonly ConcurrentDictionary<Socket, byte> _open = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private readonly List<(DateTime From, DateTime To, string Request)> _outages = [];
    private TcpListener? _listener;
    private (Regex Pattern, int Occurrence, TimeSpan Downtime)? _trigger;
    private int _matches;

    private OutageProxy(IPEndPoint target, int port) => (_target, Port) = (target, port);

    public int Port { get; }
    /// <summary>host:port for clients.</summary>
    public string Endpoint => $"127.0.0.1:{Port}";
    /// <summary>Outages so far, with the request that started each (empty when started by hand).</summary>
    public IReadOnlyList<(DateTime From, DateTime To, string Request)> Outages { get { lock (_gate) return _outages.ToList(); } }

    public static Task<OutageProxy> StartAsync(string host, int port)
    {
        var address = Dns.GetHostAddresses(host).First(a => a.AddressFamily == AddressFamily.InterNetwork);
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var proxy = new OutageProxy(new IPEndPoint(address, port), ((IPEndPoint)probe.LocalEndpoint).Port);
        probe.Stop();
        proxy.Listen();
        return Task.FromResult(proxy);
    }

    /// <summary>The <paramref name="occurrence"/>-th request whose request line matches <paramref name="requestLine"/> starts an
    /// outage of <paramref name="downtime"/> (once).</summary>
    public void GoDownOn(Regex requestLine, int occurrence, TimeSpan downtime)
    {
        lock (_gate) (_trigger, _matches) = ((requestLine, occurrence, downtime), 0);
    }

    /// <summary>Resets every connection and refuses new ones for <paramref name="downtime"/>.</summary>
    public Task GoDownAsync(TimeSpan downtime, string request = "")
    {
        lock (_gate)
        {
            _listener?.Stop();
            _listener = null;
            _outages.Add((DateTime.UtcNow, DateTime.MaxValue, request));
        }
        foreach (var socket in _open.Keys) Reset(socket);
        return Task.Run(async () =>
        {
            await Task.Delay(downtime, _stop.Token);
            lock (_gate) _outages[^1] = _outages[^1] with { To = DateTime.UtcNow };
            Listen();
        });
    }

    private void Listen()
    {
        var listener = new TcpListener(IPAddress.Loopback, Port);
        listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        listener.Start();
        lock (_gate) _listener = listener;
        _ = Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                Socket client;
                try { client = await listener.AcceptSocketAsync(_stop.Token); }
                catch (Exception) { return; } // stopped: an outage or the end
                _ = ServeAsync(client);
            }
        });
    }

    private async Task ServeAsync(Socket client)
    {
        var server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _open[client] = 0;
        _open[server] = 0;
        try
        {
            await server.ConnectAsync(_target, _stop.Token);
            await Task.WhenAny(PumpAsync(client, server, watch: true), PumpAsync(server, client, watch: false));
        }
        catch (Exception) { }
        finally
        {
            foreach (var socket in new[] { client, server })
            {
                _open.TryRemove(socket, out _);
                socket.Dispose();
            }
        }
    }

    private async Task PumpAsync(Socket from, Socket to, bool watch)
    {
        var buffer = new byte[1 << 16];
        try
        {
            while (true)
            {
                int read = await from.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                if (read == 0) { to.Shutdown(SocketShutdown.Send); return; }
                // A client writes a request's head in one piece, so a request line is matched within one chunk.
                if (watch && Fires(Encoding.Latin1.GetString(buffer, 0, read)) is var (request, downtime))
                {
                    // Let the request line and part of what follows through, then cut: the server sees half an upload.
                    await to.SendAsync(buffer.AsMemory(0, read / 2), SocketFlags.None, _stop.Token);
                    _ = GoDownAsync(downtime, request);
                    return;
                }
                await to.SendAsync(buffer.AsMemory(0, read), SocketFlags.None, _stop.Token);
            }
        }
        catch (Exception) { }
    }

    /// <summary>The matching request line and the outage's length, when this chunk makes the trigger fire.</summary>
    private (string Request, TimeSpan Downtime)? Fires(string chunk)
    {
        lock (_gate)
        {
            if (_trigger is not { } trigger) return null;
            foreach (Match match in trigger.Pattern.Matches(chunk))
            {
                if (++_matches < trigger.Occurrence) continue;
                _trigger = null;
                return (match.Value, trigger.Downtime);
            }
            return null;
        }
    }

    private static void Reset(Socket socket)
    {
        try
        {
            socket.LingerState = new LingerOption(true, 0); // close with RST, as a crashed server's host would answer
            socket.Close();
        }
        catch (Exception) { }
    }

    public ValueTask DisposeAsync()
    {
        _stop.Cancel();
        lock (_gate) _listener?.Stop();
        foreach (var socket in _open.Keys) Reset(socket);
        return ValueTask.CompletedTask;
    }
}
