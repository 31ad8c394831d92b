using System.Security.Cryptography;
using System.Text.RegularExpressions;
using MentorKd.Storage;
using MentorKd.Tests.Shared;

namespace MentorKd.Integration.Tests;

/// <summary>The MinIO/S3 object store against a real S3 server.</summary>
[Collection(InfrastructureCollection.Name)]
public class S3ObjectStoreTests(Infrastructure infrastructure)
{
    private MinioObjectStore NewStore() => new(infrastructure.NewMinioClient(), Infrastructure.Bucket);
    private static string Prefix() => $"tests/{Guid.NewGuid():N}/";

    [Fact]
    public async Task A_large_checkpoint_goes_up_in_parts_and_comes_back_bit_exact_with_its_hash()
    {
        var store = NewStore();
        var key = Prefix() + "checkpoint/model.safetensors";
        var content = new byte[23 * 1024 * 1024 + 17]; // several 5 MiB parts, and a short last one
        new Random(5).NextBytes(content);

        var info = await store.PutAsync(key, new MemoryStream(content));
        Assert.Equal(content.Length, info.Size);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(content)), info.Sha256);
        var stat = await store.StatAsync(key);
        Assert.Equal(info, stat);

        using var back = new MemoryStream();
        await store.GetAsync(key, back);
        Assert.True(content.AsSpan().SequenceEqual(back.ToArray()), "the object read back differs from what was written");
    }

    [Fact]
    public async Task Calls_wait_out_a_server_that_goes_away_mid_upload_and_mid_download_and_fail_naming_the_key_when_it_stays_away()
    {
        await using var proxy = await OutageProxy.StartAsync(infrastructure.S3Host, infrastructure.S3Port);
        var store = new MinioObjectStore(infrastructure.NewMinioClient(proxy.Endpoint), Infrastructure.Bucket, new ObjectStoreRetry(TimeSpan.FromSeconds(30)));
        var prefix = Prefix();
        var content = new byte[12 * 1024 * 1024 + 3];
        new Random(9).NextBytes(content);
        var sha = Convert.ToHexStringLower(SHA256.HashData(content));

        // The server vanishes partway into the upload (its first part) for 4 s: the upload is sent again and lands whole.
        proxy.GoDownOn(new Regex($@"PUT /{Infrastructure.Bucket}/{Regex.Escape(prefix)}upload\.bin"), occurrence: 1, TimeSpan.FromSeconds(4));
        var put = await store.PutAsync(prefix + "upload.bin", new MemoryStream(content));
        Assert.Equal(sha, put.Sha256);
        var outage = Assert.Single(proxy.Outages);
        Assert.Contains("upload.bin", outage.Request);

        // ... and partway into a download: it starts again and comes back bit-exact.
        proxy.GoDownOn(new Regex($@"GET /{Infrastructure.Bucket}/{Regex.Escape(prefix)}upload\.bin"), occurrence: 1, TimeSpan.FromSeconds(3));
        using var back = new MemoryStream();
        await store.GetAsync(prefix + "upload.bin", back);
        Assert.Equal(2, proxy.Outages.Count);
        Assert.Equal(sha, Convert.ToHexStringLower(SHA256.HashData(back.ToArray())));
        Assert.Equal(put, await store.StatAsync(prefix + "upload.bin"));

        // Gone for longer than the budget: the call fails, naming what it was doing, and leaves no object.
        var impatient = new MinioObjectStore(infrastructure.NewMinioClient(proxy.Endpoint), Infrastructure.Bucket, new ObjectStoreRetry(TimeSpan.FromSeconds(2)));
        var down = proxy.GoDownAsync(TimeSpan.FromSeconds(6));
        var error = await Assert.ThrowsAsync<ObjectStoreUnavailableException>(() => impatient.PutAsync(prefix + "late.bin", new MemoryStream(content)));
        Assert.Contains($"put '{prefix}late.bin'", error.Message);
        await down;
        Assert.Null(await store.StatAsync(prefix + "late.bin"));
    }

    // Writers of different keys: the platform never has two writers on one key (keys carry the run and job ids).
    [Fact]
    public async Task Concurrent_writers_each_get_their_whole_object_with_its_own_hash()
    {
        var store = NewStore();
        var prefix = Prefix();
        var versions = Enumerable.Range(0, 6).Select(i => Enumerable.Repeat((byte)i, 2 * 1024 * 1024 + i).ToArray()).ToList();

        var written = await Task.WhenAll(versions.Select((v, i) => Task.Run(() => store.PutAsync($"{prefix}writer-{i}.bin", new MemoryStream(v)))));

        for (int i = 0; i < versions.Count; i++)
        {
            using var back = new MemoryStream();
            await store.GetAsync($"{prefix}writer-{i}.bin", back);
            Assert.True(versions[i].AsSpan().SequenceEqual(back.ToArray()), $"writer {i}'s object came back different");
            Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(versions[i])), written[i].Sha256);
            Assert.Equal(written[i], await store.StatAsync($"{prefix}writer-{i}.bin"));
        }
    }

    // Readers do race a writer of the same key: clients poll a run's report and a job's record while a service rewrites
    // them. S3 replaces an object atomically; the s3rver image these tests run on is patched to do the same.
    [Fact]
    public async Task An_object_read_while_it_is_rewritten_comes_back_whole_as_one_version_or_the_other()
    {
        var store = NewStore();
        var key = Prefix() + "rounds.json";
        var versions = new[] { (byte)'a', (byte)'b' }.Select(b => Enumerable.Repeat(b, 3 * 1024 * 1024).ToArray()).ToArray();
        await store.PutAsync(key, new MemoryStream(versions[0]));

        using var stop = new CancellationTokenSource();
        var writer = Task.Run(async () =>
        {
            for (int i = 1; !stop.IsCancellationRequested; i++) await store.PutAsync(key, new MemoryStream(versions[i % 2]));
        });
        for (int read = 0; read < 60; read++)
        {
            using var back = new MemoryStream();
            await store.GetAsync(key, back);
            var bytes = back.ToArray();
            Assert.True(versions.Any(v => v.AsSpan().SequenceEqual(bytes)), $"read {read} came back as {bytes.Length} bytes of neither version");
        }
        stop.Cancel();
        await writer;
    }

    [Fact]
    public async Task An_interrupted_upload_leaves_no_object_and_keeps_the_previous_one()
    {
        var store = NewStore();
        var prefix = Prefix();
        var fresh = prefix + "never-written.bin";
        await Assert.ThrowsAsync<IOException>(() => store.PutAsync(fresh, new FailingStream(8 * 1024 * 1024)));
        Assert.Null(await store.StatAsync(fresh));

        var existing = prefix + "kept.bin";
        await store.PutAsync(existing, new MemoryStream("version 1"u8.ToArray()));
        await Assert.ThrowsAsync<IOException>(() => store.PutAsync(existing, new FailingStream(6 * 1024 * 1024)));
        using var back = new MemoryStream();
        await store.GetAsync(existing, back);
        Assert.Equal("version 1"u8.ToArray(), back.ToArray());
    }

    [Fact]
    public async Task Listing_by_prefix_returns_exactly_the_objects_under_it_in_key_order_and_folders_round_trip()
    {
        var store = NewStore();
        var prefix = Prefix();
        foreach (var key in new[] { "a/1.json", "a/2.json", "a/b/3.json", "ab/4.json", "c.json" })
            await store.PutAsync(prefix + key, new MemoryStream(System.Text.Encoding.UTF8.GetBytes(key)));

        var listed = new List<string>();
        await foreach (var info in store.ListAsync(prefix + "a/")) listed.Add(info.Key[prefix.Length..]);
        Assert.Equal(["a/1.json", "a/2.json", "a/b/3.json"], listed);

        var local = Path.Combine(Path.GetTempPath(), "mentorkd-it", Guid.NewGuid().ToString("N"));
        var down = await store.DownloadAsync(prefix + "a/", local);
        var up = await store.UploadAsync(local, prefix + "copy/");
        Assert.Equal(down.Sha256, up.Sha256);
        Assert.Null(await store.StatAsync(prefix + "missing.json"));
        await Assert.ThrowsAsync<ObjectNotFoundException>(() => store.GetAsync(prefix + "missing.json", new MemoryStream()));
    }

    /// <summary>A stream that gives some bytes, then fails, like a connection dropped mid-upload.</summary>
    private sealed class FailingStream(int failAfter) : Stream
    {
        private long _position;
        public override int Read(byte[] buffer, int offset, int count)
        {
            if (_position >= failAfter) throw new IOException("connection reset by the test");
            int n = (int)Math.Min(count, failAfter - _position);
            Array.Fill(buffer, (byte)'x', offset, n);
            _position += n;
            return n;
        }
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _position; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
