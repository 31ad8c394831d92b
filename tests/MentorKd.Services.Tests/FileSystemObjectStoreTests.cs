using System.Security.Cryptography;
using System.Text;
using MentorKd.Storage;

namespace MentorKd.Services.Tests;

public class FileSystemObjectStoreTests
{
    private static FileSystemObjectStore NewStore() => new(Path.Combine(Path.GetTempPath(), "mentorkd-store-tests", Guid.NewGuid().ToString("N")));

    [Fact]
    public async Task Put_get_stat_list_and_delete()
    {
        var store = NewStore();
        var bytes = Encoding.UTF8.GetBytes("hello objects");
        var info = await store.PutAsync("runs/r1/datasets/a.jsonl", new MemoryStream(bytes));
        await store.PutAsync("runs/r1/datasets/b.jsonl", new MemoryStream([1, 2, 3]));
        await store.PutAsync("runs/r2/datasets/c.jsonl", new MemoryStream([4]));

        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), info.Sha256);
        Assert.Equal(bytes.Length, info.Size);
        var copy = new MemoryStream();
        await store.GetAsync("runs/r1/datasets/a.jsonl", copy);
        Assert.Equal(bytes, copy.ToArray());
        Assert.Equal(info, await store.StatAsync("runs/r1/datasets/a.jsonl"));

        var listed = new List<string>();
        await foreach (var o in store.ListAsync("runs/r1/")) listed.Add(o.Key);
        Assert.Equal(["runs/r1/datasets/a.jsonl", "runs/r1/datasets/b.jsonl"], listed);

        await store.DeleteAsync("runs/r1/datasets/a.jsonl");
        Assert.Null(await store.StatAsync("runs/r1/datasets/a.jsonl"));
        await Assert.ThrowsAsync<ObjectNotFoundException>(() => store.GetAsync("runs/r1/datasets/a.jsonl", new MemoryStream()));
    }

    [Theory]
    [InlineData("../escape")]
    [InlineData("/absolute")]
    [InlineData("runs/./x")]
    [InlineData("runs//x")]
    [InlineData("runs\\x")]
    [InlineData("")]
    public async Task Unsafe_keys_are_rejected(string key)
    {
        var store = NewStore();
        await Assert.ThrowsAnyAsync<ArgumentException>(() => store.PutAsync(key, new MemoryStream([1])));
        Assert.Throws<ArgumentException>(() => ObjectKey.Combine("runs/r1", "../r2/x"));
    }

    [Fact]
    public async Task An_interrupted_write_leaves_no_object_and_keeps_the_previous_one()
    {
        var store = NewStore();
        await store.PutAsync("runs/r1/model.bin", new MemoryStream([9, 9]));
        await Assert.ThrowsAsync<IOException>(() => store.PutAsync("runs/r1/model.bin", new FailingStream()));
        await Assert.ThrowsAsync<IOException>(() => store.PutAsync("runs/r1/other.bin", new FailingStream()));
        var copy = new MemoryStream();
        await store.GetAsync("runs/r1/model.bin", copy);
        Assert.Equal([9, 9], copy.ToArray());
        Assert.Null(await store.StatAsync("runs/r1/other.bin"));
    }

    [Fact]
    public async Task Folders_round_trip_with_the_same_manifest_hash()
    {
        var store = NewStore();
        var local = Path.Combine(Path.GetTempPath(), "mentorkd-store-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path.Combine(local, "sub"));
        File.WriteAllText(Path.Combine(local, "config.json"), "{}");
        File.WriteAllBytes(Path.Combine(local, "sub", "weights.bin"), new byte[300_000]);
        var uploaded = await store.UploadAsync(local, "runs/r1/checkpoints/mentor");
        var downloaded = await store.DownloadAsync("runs/r1/checkpoints/mentor/", local + "-copy");
        Assert.Equal(uploaded.Sha256, downloaded.Sha256);
        Assert.Equal(File.ReadAllBytes(Path.Combine(local, "sub", "weights.bin")), File.ReadAllBytes(Path.Combine(local + "-copy", "sub", "weights.bin")));
        await Assert.ThrowsAsync<ObjectNotFoundException>(() => store.DownloadAsync("runs/none/", local + "-none"));
    }

    /// <summary>Yields some bytes, then fails like a dropped connection.</summary>
    private sealed class FailingStream : Stream
    {
        private int _reads;
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => 0; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count)
        {
            if (_reads++ > 0) throw new IOException("connection dropped");
            buffer[offset] = 1;
            return 1;
        }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
