using System.CommandLine;
using System.Diagnostics;
using MentorKd.Distillation.Pipeline;
using MentorKd.Modeling.Checkpoints;
using MentorKd.Modeling.Model;
using MentorKd.Modeling.Tokenization;
using MentorKd.Modeling.Training;
using Spectre.Console;
using TorchSharp;
using static TorchSharp.torch;

namespace MentorKd.Cli.Commands;

/// <summary>
/// <c>mentorkd lm train</c>: a text or JSONL file → a model folder. Checkpoints as it goes; run the same command
/// again and it continues from the last checkpoint in the output folder.
/// </summary>
internal static class LmTrainCommand
{
    public static Command Create()
    {
        var data = new Option<string>("--data") { Description = "Text file, or JSONL of {\"text\"} or {\"prompt\",\"completion\"} rows.", Required = true };
        var output = new Option<string>("--out") { Description = "Model folder to write (and resume from).", Required = true };
        var tokenizerKind = new Option<string>("--tokenizer") { Description = "char or word.", DefaultValueFactory = _ => "char" };
        var layers = new Option<int>("--layers") { DefaultValueFactory = _ => 4 };
        var heads = new Option<int>("--heads") { DefaultValueFactory = _ => 4 };
        var embedding = new Option<int>("--embd") { Description = "Embedding width.", DefaultValueFactory = _ => 128 };
        var context = new Option<int>("--context") { Description = "Context length in tokens.", DefaultValueFactory = _ => 128 };
        var dropout = new Option<double>("--dropout") { DefaultValueFactory = _ => 0.0 };
        var steps = new Option<int>("--steps") { DefaultValueFactory = _ => 2000 };
        var batchSize = new Option<int>("--batch-size") { DefaultValueFactory = _ => 32 };
        var learningRate = new Option<double>("--lr") { DefaultValueFactory = _ => 2e-3 };
        var warmup = new Option<int>("--warmup") { DefaultValueFactory = _ => 100 };
        var weightDecay = new Option<double>("--weight-decay") { DefaultValueFactory = _ => 0.01 };
        var seed = new Option<int>("--seed") { DefaultValueFactory = _ => 1 };
        var evalEvery = new Option<int>("--eval-every") { Description = "Steps between validation passes.", DefaultValueFactory = _ => 250 };
        var checkpointEvery = new Option<int>("--checkpoint-every") { Description = "Steps between checkpoints.", DefaultValueFactory = _ => 500 };
        var fresh = new Option<bool>("--fresh") { Description = "Ignore an existing checkpoint in --out and start over." };
        var from = new Option<string?>("--from")
        {
            Description = $"Fine-tune this model folder ({string.Join(", ", ModelCheckpoints.ModelTypes)}; its tokenizer too) instead of training from scratch.",
        };

        var command = new Command("train", "Train a causal language model from scratch, or fine-tune a model folder, on a text or JSONL file.")
        {
            data, output, tokenizerKind, layers, heads, embedding, context, dropout, steps, batchSize, learningRate, warmup, weightDecay, seed, evalEvery, checkpointEvery, fresh, from,
        };
        RuntimeOptions.AddTo(command);
        command.SetAction(result => RuntimeOptions.Guarded(() =>
        {
            var device = RuntimeOptions.Apply(result);
            var outDir = result.GetValue(output)!;
            int totalSteps = Positive(result.GetValue(steps), "steps"), batch = Positive(result.GetValue(batchSize), "batch-size");
            int runSeed = result.GetValue(seed);
            var corpus = TextCorpus.Load(result.GetValue(data)!);
            bool resume = !result.GetValue(fresh) && TrainingCheckpoint.ExistsIn(outDir);

            LanguageModel model;
            ITokenizer tokenizer;
            if (resume)
            {
                tokenizer = TokenizerFiles.Load(outDir);
                model = ModelCheckpoints.LoadModel(outDir, device);
            }
            else if (result.GetValue(from) is { } pretrained)
            {
                manual_seed(runSeed);
                (model, tokenizer) = ModelCheckpoints.Load(pretrained, device);
            }
            else
            {
                tokenizer = result.GetValue(tokenizerKind) switch
                {
                    "char" => CharTokenizer.FromCorpus(corpus.AllText),
                    "word" => WordTokenizer.FromCorpus(corpus.AllText),
                    var other => throw new ArgumentException($"--tokenizer '{other}' is not supported (char or word).", "tokenizer"),
                };
                manual_seed(runSeed);
                model = new GptLanguageModel(GptConfig.Small(tokenizer.VocabSize, result.GetValue(layers), result.GetValue(heads),
                    result.GetValue(embedding), result.GetValue(context), result.GetValue(dropout), tokenizer.EndOfTextId));
                if (device.type != DeviceType.CPU) model.to(device);
            }
            using var _ = model;

            var options = new TrainingOptions
            {
                LearningRate = result.GetValue(learningRate),
                WarmupSteps = result.GetValue(warmup),
                TotalSteps = totalSteps,
                WeightDecay = result.GetValue(weightDecay),
            };
            using var trainer = new LanguageModelTrainer(model, options);
            if (resume) TrainingCheckpoint.RestoreOptimizer(outDir, trainer);

            var examples = corpus.ToExamples(tokenizer, model.ContextLength, validationShare: 0.1);
            var resuming = resume ? $"; resuming at step {trainer.Step}" : "";
            AnsiConsole.MarkupLineInterpolated(
                $"[bold]model[/] {model.ParameterCount:N0} parameters ({ModelCheckpoints.ModelTypeOf(model)}, {tokenizer.Kind} tokenizer, {tokenizer.VocabSize} tokens); [bold]data[/] {examples.TrainingTokens:N0} training tokens{resuming}");

            float loss = float.NaN;
            float? validation = null;
            void Checkpoint() => TrainingCheckpoint.Save(outDir, model, tokenizer, trainer, new TrainingCheckpoint.State(trainer.Step, totalSteps, loss, validation, runSeed));

            void TrainLoop(IPipelineObserver observer)
            {
                observer.StageStarted("training", "training", totalSteps);
                observer.StageProgress("training", trainer.Step, "");
                var clock = Stopwatch.StartNew();
                long tokens = 0;
                while (trainer.Step < totalSteps)
                {
                    using (var tensors = model.Collate(examples.Batch(batch, runSeed, trainer.Step), tokenizer.PadId, device))
                    {
                        loss = trainer.TrainStep(tensors);
                        tokens += tensors.Tokens;
                    }
                    if (examples.HasValidation && (trainer.Step % result.GetValue(evalEvery) == 0 || trainer.Step == totalSteps))
                        validation = Validate(trainer, examples, tokenizer, model, device);
                    if (trainer.Step % result.GetValue(checkpointEvery) == 0 && trainer.Step < totalSteps) Checkpoint();
                    observer.StageProgress("training", trainer.Step, $"step {trainer.Step}/{totalSteps}  loss {loss:F3}" +
                        (validation is null ? "" : $"  val {validation:F3}") + $"  {tokens / clock.Elapsed.TotalSeconds:N0} tok/s");
                }
                observer.StageCompleted("training", $"{totalSteps} steps, loss {loss:F3}");
            }

            // A progress bar in a terminal; a line every tenth of the way in logs.
            if (Console.IsOutputRedirected) TrainLoop(new LineProgressObserver());
            else
                AnsiConsole.Progress()
                    .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                    .Start(context => TrainLoop(new SpectreProgressObserver(context)));
            Checkpoint();
            var validationText = validation is null ? "" : $", validation loss {validation:F3}";
            AnsiConsole.MarkupLineInterpolated($"[green]saved[/] {outDir}: final loss {loss:F3}{validationText}");
            return 0;
        }));
        return command;
    }

    private static float Validate(LanguageModelTrainer trainer, ExampleSource examples, ITokenizer tokenizer, LanguageModel model, Device device)
    {
        var batches = examples.ValidationBatches(32).Take(20)
            .Select(b => model.Collate(b, tokenizer.PadId, device)).ToList();
        try { return trainer.Evaluate(batches); }
        finally { foreach (var b in batches) b.Dispose(); }
    }

    private static int Positive(int value, string option) =>
        value > 0 ? value : throw new ArgumentException($"--{option} must be positive (got {value}).", option);
}
