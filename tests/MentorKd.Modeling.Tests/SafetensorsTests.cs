using System.Buffers.Binary;
using System.Text;
using MentorKd.Modeling.Checkpoints;
using static TorchSharp.torch;

namespace MentorKd.Modeling.Tests;

public class SafetensorsTests
{
    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.Float16)]
    [InlineData(ScalarType.BFloat16)]
    public void Round_trip_is_bit_exact(ScalarType dtype)
    {
        var path = Path.Combine(TinyModels.TempDirectory(), "t.safetensors");
        manual_seed(7);
        var tensors = new Dictionary<string, Tensor>
        {
            ["a.weight"] = randn(5, 3).to(dtype),
            ["b.bias"] = randn(7).to(dtype),
            ["scalar"] = tensor(3.5f).to(dtype),
            ["empty"] = zeros(0, 4).to(dtype),
        };
        SafetensorsWriter.Write(path, tensors, new Dictionary<string, string> { ["format"] = "pt" });

        var read = SafetensorsReader.ReadAll(path);
        Assert.Equal(tensors.Keys.Order(), read.Keys.Order());
        foreach (var (name, original) in tensors)
        {
            Assert.Equal(dtype, read[name].dtype);
            Assert.Equal(original.shape, read[name].shape);
            Assert.Equal(original.bytes.ToArray(), read[name].bytes.ToArray());
        }
        var (_, metadata, dataStart) = SafetensorsReader.ReadHeader(path);
        Assert.Equal("pt", metadata["format"]);
        Assert.Equal(0, dataStart % 8);
    }

    [Fact]
    public void Truncated_file_names_the_file_and_tensor()
    {
        var path = WriteSample();
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^10]);
        var error = Assert.Throws<SafetensorsFormatException>(() => SafetensorsReader.ReadAll(path));
        Assert.Contains(path, error.Message);
        Assert.Equal("z.last", error.Tensor);
        Assert.Contains("outside", error.Message);
    }

    [Fact]
    public void Header_longer_than_the_file_is_rejected()
    {
        var path = WriteSample();
        var bytes = File.ReadAllBytes(path);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, 1UL << 40);
        File.WriteAllBytes(path, bytes);
        var error = Assert.Throws<SafetensorsFormatException>(() => SafetensorsReader.ReadAll(path));
        Assert.Contains("header length", error.Message);
    }

    [Theory]
    [InlineData("{\"w\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[0,2]}}", "w", "unknown dtype 'F8_E4M3'")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", "w", "needs 12")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,8]}}", "w", "invalid dimension")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", "w", "data_offsets")]
    [InlineData("{\"w\":{\"dtype\":\"F64\",\"shape\":[2305843009213693952],\"data_offsets\":[0,0]}}", "w", "too large")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"v\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", "v", "overlap")]
    public void Malformed_entries_fail_with_the_tensor_named(string header, string tensorName, string problem)
    {
        var path = WriteRaw(header, new byte[16]);
        var error = Assert.Throws<SafetensorsFormatException>(() => SafetensorsReader.ReadAll(path));
        Assert.Equal(tensorName, error.Tensor);
        Assert.Contains(problem, error.Message);
        Assert.Contains(path, error.Message);
    }

    [Fact]
    public void Header_that_is_not_json_is_rejected()
    {
        var path = WriteRaw("{not json", new byte[8]);
        var error = Assert.Throws<SafetensorsFormatException>(() => SafetensorsReader.ReadAll(path));
        Assert.Contains("not valid JSON", error.Message);
    }

    private static string WriteSample()
    {
        var path = Path.Combine(TinyModels.TempDirectory(), "sample.safetensors");
        SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["a.first"] = ones(4), ["z.last"] = ones(8) });
        return path;
    }

    private static string WriteRaw(string header, byte[] data)
    {
        var path = Path.Combine(TinyModels.TempDirectory(), "raw.safetensors");
        var json = Encoding.UTF8.GetBytes(header);
        using var stream = File.Create(path);
        var length = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)json.Length);
        stream.Write(length);
        stream.Write(json);
        stream.Write(data);
        return path;
    }
}
