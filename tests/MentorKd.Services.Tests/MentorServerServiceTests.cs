using Grpc.Core;
using MentorKd.Distillation.Training;
using MentorKd.MentorServer.Extensions;
using MentorKd.ProtoMapping;
using MentorKd.Trainer.Jobs;
using MentorKd.Modeling.Checkpoints;
using MentorKd.Modeling.Runtime;
using MentorKd.Protos.V1;
using MentorKd.Storage;
using Microsoft.Extensions.DependencyInjection;
using static TorchSharp.torch;

namespace MentorKd.Services.Tests;

public class MentorServerServiceTests
{
    private static Task<TestServiceHost> Start(int queueCapacity = 256) => TestServiceHost.StartAsync(b => b.AddMentorServer(), a => a.MapMentorServer(),
        new Dictionary<string, string?> { ["MentorServer:QueueCapacity"] = queueCapacity.ToString(), ["MentorServer:Threads"] = "2" });

    private static async Task<(TestServiceHost Host, Protos.V1.MentorServer.MentorServerClient Client, string Local)> StartLoaded(int queueCapacity = 256)
    {
        var host = await Start(queueCapacity);
        var local = await ServiceTestData.PutCheckpointAsync(host.Services.GetRequiredService<IObjectStore>(), host.Folder);
        var client = new Protos.V1.MentorServer.MentorServerClient(host.Channel);
        var info = await client.LoadCheckpointAsync(new LoadCheckpointRequest { CheckpointKey = ServiceTestData.CheckpointKey });
        Assert.True(info.Loaded);
        return (host, client, local);
    }

    [Fact]
    public async Task Generate_before_loading_is_failed_precondition_and_an_unknown_checkpoint_is_not_found()
    {
        await using var host = await Start();
        var client = new Protos.V1.MentorServer.MentorServerClient(host.Channel);
        var request = new GenerateRequest { SamplesPerQuestion = 1 };
        request.Questions.Add(ServiceTestData.Questions(1)[0].ToProto());
        var notLoaded = await Assert.ThrowsAsync<RpcException>(() => ReadAll(client.Generate(request)));
        Assert.Equal(StatusCode.FailedPrecondition, notLoaded.StatusCode);

        var missing = await Assert.ThrowsAsync<RpcException>(async () => await client.LoadCheckpointAsync(new LoadCheckpointRequest { CheckpointKey = "models/none/" }));
        Assert.Equal(StatusCode.NotFound, missing.StatusCode);
        var escaping = await Assert.ThrowsAsync<RpcException>(async () => await client.LoadCheckpointAsync(new LoadCheckpointRequest { CheckpointKey = "../etc/" }));
        Assert.Equal(StatusCode.InvalidArgument, escaping.StatusCode);
        Assert.Contains("checkpoint_key", escaping.Status.Detail);
        Assert.False((await client.GetModelInfoAsync(new GetModelInfoRequest())).Loaded);
    }

    [Fact]
    public async Task Generate_streams_n_rationales_per_question_and_concurrent_calls_all_complete()
    {
        var (host, client, _) = await StartLoaded();
        await using var _ = host;
        var questions = ServiceTestData.Questions(4);
        var request = new GenerateRequest { SamplesPerQuestion = 3, Sampling = new SamplingParameters { Temperature = 0.7, TopK = 50, MaxNewTokens = 12, Seed = 1 } };
        request.Questions.AddRange(questions.Select(q => q.ToProto()));

        var responses = await ReadAll(client.Generate(request));
        Assert.Equal(questions.Select(q => q.Id), responses.Select(r => r.QuestionId));
        Assert.All(responses, r => Assert.Equal(3, r.Rationales.Count));
        Assert.All(responses.SelectMany(r => r.Rationales), r => Assert.Equal("mentor", r.Source));

        // Seeded sampling through the service repeats; concurrent callers are served (batched on the model thread).
        var again = await ReadAll(client.Generate(request));
        Assert.Equal(responses.SelectMany(r => r.Rationales).Select(r => r.Text), again.SelectMany(r => r.Rationales).Select(r => r.Text));
        var concurrent = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => ReadAll(client.Generate(request))));
        Assert.All(concurrent, c => Assert.Equal(4, c.Count));
    }

    [Theory]
    [InlineData(0, 0.7, "samples_per_question")]
    [InlineData(2, -1.0, "sampling.temperature")]
    public async Task Bad_generate_requests_name_the_field(int samples, double temperature, string field)
    {
        var (host, client, _) = await StartLoaded();
        await using var _ = host;
        var request = new GenerateRequest { SamplesPerQuestion = samples, Sampling = new SamplingParameters { Temperature = temperature } };
        request.Questions.Add(ServiceTestData.Questions(1)[0].ToProto());
        var error = await Assert.ThrowsAsync<RpcException>(() => ReadAll(client.Generate(request)));
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains(field, error.Status.Detail);
    }

    [Fact]
    public async Task Soft_labels_equal_the_in_process_top_k()
    {
        var (host, client, local) = await StartLoaded();
        await using var _ = host;
        int[] ids = [3, 7, 9, 4, 12, 5, 6];
        var request = new SoftLabelsRequest { TopK = 5, Temperature = 2.0 };
        request.Sequences.Add(new TokenSequence { TokenIds = { ids }, ScoreFrom = 2 });
        var response = await client.GetSoftLabelsAsync(request);

        using var model = GptCheckpoint.LoadModel(local);
        using var guard = no_grad();
        var logProbs = model.forward(tensor(ids.Select(i => (long)i).ToArray()).unsqueeze(0))[0].DividedBy(2.0).log_softmax(-1);
        var (values, indices) = logProbs[2..].topk(5);
        var positions = response.Sequences.Single().Positions;
        Assert.Equal(ids.Length - 2, positions.Count);
        for (int p = 0; p < positions.Count; p++)
        {
            Assert.Equal(indices[p].data<long>().Select(i => (int)i), positions[p].TokenIds);
            for (int j = 0; j < 5; j++) Assert.Equal(values[p, j].item<float>(), positions[p].LogProbs[j], 4);
            Assert.Equal(1 - values[p].exp().sum().item<float>(), positions[p].RemainingMass, 4);
        }
    }

    [Theory]
    [InlineData(KnowledgeDistillationMask.Clean)]
    [InlineData(KnowledgeDistillationMask.Faithful)]
    public async Task A_trainer_using_the_mentor_server_gets_the_in_process_distribution_on_the_top_k(KnowledgeDistillationMask mask)
    {
        var (host, client, local) = await StartLoaded();
        await using var _ = host;
        using var model = GptCheckpoint.LoadModel(local);
        var source = new MentorServerSoftLabels(client, topK: 8, temperature: 2.0, vocabSize: model.Config.VocabSize, mask);
        using var batch = MentorKd.Modeling.Training.LanguageModelBatch.Collate(
            [new([3, 4, 5], [6, 7, 8, 9]), new([3, 4], [10, 11])], padId: 1, maxLength: 96);

        using var guard = no_grad();
        var remote = source.SoftLabels(batch).LogProbabilities!.exp();
        var local_ = model.forward(batch.InputIds).DividedBy(2.0).softmax(-1);
        // Every position the mask scores: the clean mask those that predict a target token, the faithful one every
        // position after the prompt, padding included. There the mentor's 8 most likely tokens carry the same probability.
        int width = (int)batch.InputIds.shape[1];
        foreach (var (row, length) in new[] { (0, 7), (1, 4) })
            for (int p = 0; p < (mask == KnowledgeDistillationMask.Clean ? length - 1 : width); p++)
            {
                var (probabilities, top) = local_[row, p].topk(8);
                Assert.True(remote[row, p].index_select(0, top).allclose(probabilities, rtol: 1e-4, atol: 1e-5), $"row {row} position {p}");
                Assert.Equal(1.0, remote[row, p].sum().item<float>(), 4);
            }
    }

    [Fact]
    public async Task A_store_written_through_the_mentor_server_gives_the_student_the_in_process_distribution_at_every_target_position()
    {
        var (host, client, local) = await StartLoaded();
        await using var _ = host;
        using var model = GptCheckpoint.LoadModel(local);
        var tokenizer = MentorKd.Modeling.Tokenization.TokenizerFiles.Load(local);
        var options = new ReasoningTrainingOptions { KdMode = KnowledgeDistillationMode.Kl, KdMask = KnowledgeDistillationMask.Clean, Temperature = 2.0 };
        MentorKd.Modeling.Training.LanguageModelExample[] examples = [new([3, 4, 5], [6, 7, 8, 9]), new([3, 4], [10, 11]), new([3, 4, 5], [6, 7, 8, 9]), new([3, 4, 5, 6], [7, 8, 9])];
        var mentor = new MentorServerSoftLabels(client, topK: 8, temperature: 2.0, vocabSize: model.Config.VocabSize, KnowledgeDistillationMask.Clean);
        var path = Path.Combine(host.Folder, "soft-labels.safetensors");
        var written = await SoftLabelStoreBuilder.WriteAsync(mentor, examples, tokenizer, 2.0, ServiceTestData.CheckpointKey, "", path, default);
        Assert.Equal(3, written.Sequences); // the repeated example once; the same tokens split elsewhere are another sequence
        Assert.Equal(ServiceTestData.CheckpointKey, SparseSoftLabelStore.Read(path).Info.Mentor);
        var stored = StoredSoftLabels.For(SparseSoftLabelStore.Read(path), tokenizer, options, encoderDecoder: false, "store");
        stored.CheckCovers(examples, "store");
        using var batch = MentorKd.Modeling.Training.LanguageModelBatch.Collate(examples, padId: 1, maxLength: 96);

        using var guard = no_grad();
        var fromStore = stored.SoftLabels(batch).LogProbabilities!.exp();
        var inProcess = model.forward(batch.InputIds).DividedBy(2.0).softmax(-1);
        // Position p predicts token p + 1: from the prompt's last token to the target's last but one. There the mentor's
        // 8 most likely tokens carry the same probability (within the store's fp16), and every row sums to one.
        for (int row = 0; row < examples.Length; row++)
            for (int p = examples[row].Prompt.Length - 1; p < examples[row].Length - 1; p++)
            {
                var (probabilities, top) = inProcess[row, p].topk(8);
                Assert.True(fromStore[row, p].index_select(0, top).allclose(probabilities, rtol: 2e-3, atol: 1e-4), $"row {row} position {p}");
                Assert.Equal(1.0, fromStore[row, p].sum().item<float>(), 2);
            }
    }

    [Theory]
    [InlineData(0, 1.0, 0, "top_k")]
    [InlineData(3, 0.0, 0, "temperature")]
    [InlineData(3, 1.0, 9, "sequences[0].score_from")]
    public async Task Bad_soft_label_requests_name_the_field(int topK, double temperature, int scoreFrom, string field)
    {
        var (host, client, _) = await StartLoaded();
        await using var _ = host;
        var request = new SoftLabelsRequest { TopK = topK, Temperature = temperature };
        request.Sequences.Add(new TokenSequence { TokenIds = { 3, 4, 5 }, ScoreFrom = scoreFrom });
        var error = await Assert.ThrowsAsync<RpcException>(async () => await client.GetSoftLabelsAsync(request));
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains(field, error.Status.Detail);
    }

    [Fact]
    public async Task A_full_model_queue_answers_resource_exhausted()
    {
        var (host, client, _) = await StartLoaded(queueCapacity: 1);
        await using var _ = host;
        var request = new SoftLabelsRequest { TopK = 3, Temperature = 1.0 };
        for (int s = 0; s < 64; s++) request.Sequences.Add(new TokenSequence { TokenIds = { Enumerable.Range(3, 90) }, ScoreFrom = 0 });
        var calls = Enumerable.Range(0, 16).Select(async _ =>
        {
            try { await client.GetSoftLabelsAsync(request); return StatusCode.OK; }
            catch (RpcException e) { return e.StatusCode; }
        });
        var codes = await Task.WhenAll(calls);
        Assert.Contains(StatusCode.ResourceExhausted, codes);
        Assert.Contains(StatusCode.OK, codes);
        Assert.All(codes, c => Assert.True(c is StatusCode.OK or StatusCode.ResourceExhausted, c.ToString()));
    }

    [Fact]
    public async Task Deadlines_and_client_cancellation_are_honoured()
    {
        var (host, client, _) = await StartLoaded();
        await using var _ = host;
        var request = new GenerateRequest { SamplesPerQuestion = 8, Sampling = new SamplingParameters { Temperature = 1, MaxNewTokens = 64, Seed = 1 } };
        request.Questions.AddRange(ServiceTestData.Questions(16).Select(q => q.ToProto()));

        // The call never completes past its deadline. (Over the in-memory test server a deadline that fires while the
        // call is still being set up — a few ms — is now and then reported to the client as Internal; 50 ms lets the call
        // start, and generating 128 samples of 64 tokens takes far longer.)
        var codes = new List<StatusCode>();
        for (int attempt = 0; attempt < 3 && !codes.Contains(StatusCode.DeadlineExceeded); attempt++)
            codes.Add((await Assert.ThrowsAsync<RpcException>(() => ReadAll(client.Generate(request, deadline: DateTime.UtcNow.AddMilliseconds(50))))).StatusCode);
        Assert.Contains(StatusCode.DeadlineExceeded, codes);

        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(5));
        var cancelled = await Assert.ThrowsAsync<RpcException>(() => ReadAll(client.Generate(request, cancellationToken: cancel.Token)));
        Assert.Equal(StatusCode.Cancelled, cancelled.StatusCode);

        // The server is still healthy afterwards.
        Assert.True((await client.GetModelInfoAsync(new GetModelInfoRequest())).Loaded);
    }

    private static async Task<List<GenerateResponse>> ReadAll(AsyncServerStreamingCall<GenerateResponse> call)
    {
        using (call)
        {
            var list = new List<GenerateResponse>();
            await foreach (var response in call.ResponseStream.ReadAllAsync()) list.Add(response);
            return list;
        }
    }
}
